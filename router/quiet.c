#include "router/quiet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cfg_group.h"
#include "router/numplan.h"

#define SLOT_S      900             /* 15 minutes: tz transitions fall on these */
#define CACHE_SIZE  1024            /* direct-mapped; a miss costs one TZ switch */
#define ZONE_MAX    64
#define MAX_COUNTRY 512

struct tz_cache_ent {
    char zone[ZONE_MAX];
    int64_t slot;
    long off;
    bool used;
};

struct country_window {
    char key[4];                    /* "US" or "44" */
    struct quiet_window w;
};

struct quiet {
    const struct numplan *np;
    struct quiet_window def;
    struct country_window *countries;
    size_t ncountries;
    struct tz_cache_ent cache[CACHE_SIZE];
    unsigned long misses;
};

struct quiet *
quiet_new(const struct numplan *np)
{
    struct quiet *q = calloc(1, sizeof(*q));

    if (!q)
        abort();
    q->np = np;
    q->def = (struct quiet_window){ QUIET_DEFAULT_START, QUIET_DEFAULT_END };
    return q;
}

void
quiet_free(struct quiet *q)
{
    if (!q)
        return;
    free(q->countries);
    free(q);
}

void
quiet_set_default(struct quiet *q, struct quiet_window w)
{
    q->def = w;
}

static bool
country_key_ok(const char *k)
{
    size_t n = strlen(k);

    if (n == 2 && k[0] >= 'A' && k[0] <= 'Z' && k[1] >= 'A' && k[1] <= 'Z')
        return true;
    if (n < 1 || n > 3 || k[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < '0' || k[i] > '9')
            return false;
    return true;
}

bool
quiet_set_country(struct quiet *q, const char *key, struct quiet_window w)
{
    if (!key || !country_key_ok(key) || w.start_min > 1440 || w.end_min > 1440)
        return false;
    for (size_t i = 0; i < q->ncountries; i++)
        if (strcmp(q->countries[i].key, key) == 0) {
            q->countries[i].w = w;
            return true;
        }
    if (q->ncountries == MAX_COUNTRY)
        return false;
    q->countries = realloc(q->countries, (q->ncountries + 1) * sizeof(*q->countries));
    if (!q->countries)
        abort();
    snprintf(q->countries[q->ncountries].key, sizeof(q->countries[0].key), "%s", key);
    q->countries[q->ncountries++].w = w;
    return true;
}

static const struct quiet_window *
country_window(const struct quiet *q, const char *key)
{
    for (size_t i = 0; key && key[0] && i < q->ncountries; i++)
        if (strcmp(q->countries[i].key, key) == 0)
            return &q->countries[i].w;
    return NULL;
}

bool
quiet_zone_exists(const char *zone)
{
    char path[512];
    struct stat st;
    const char *dir = getenv("TZDIR");

    if (!zone || !zone[0] || zone[0] == '/' || strstr(zone, "..") || strlen(zone) >= ZONE_MAX)
        return false;
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------------ offsets */

static long
probe_offset(const char *zone, time_t t)
{
    const char *cur = getenv("TZ");
    char *saved = cur ? strdup(cur) : NULL;
    char tzv[ZONE_MAX + 2];
    struct tm tm;

    if (cur && !saved)
        abort();
    snprintf(tzv, sizeof(tzv), ":%s", zone);
    setenv("TZ", tzv, 1);
    /* localtime_r() need not look at TZ again (glibc's does not): tzset()
     * makes it. */
    tzset();
    long off = localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return off;
}

static int64_t
slot_of(time_t t)
{
    int64_t s = (int64_t)t;
    return s >= 0 ? s / SLOT_S : -((-s + SLOT_S - 1) / SLOT_S);
}

long
quiet_utc_offset(struct quiet *q, const char *zone, time_t t)
{
    int64_t slot = slot_of(t);
    uint64_t h = 1469598103934665603ULL;

    if (!zone || strlen(zone) >= ZONE_MAX)
        return 0;
    for (const char *p = zone; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ (uint64_t)slot) * 1099511628211ULL;
    struct tz_cache_ent *e = &q->cache[h % CACHE_SIZE];
    if (e->used && e->slot == slot && strcmp(e->zone, zone) == 0)
        return e->off;
    q->misses++;
    e->off = probe_offset(zone, (time_t)(slot * SLOT_S));
    e->slot = slot;
    snprintf(e->zone, sizeof(e->zone), "%s", zone);
    e->used = true;
    return e->off;
}

/* ------------------------------------------------------------- windows */

static bool
inside(struct quiet_window w, int64_t sod)
{
    int64_t a = (int64_t)w.start_min * 60, b = (int64_t)w.end_min * 60;

    if (a == b)
        return true;
    return a < b ? sod >= a && sod < b : sod >= a || sod < b;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The UTC instant of local time `local` in zone; in a gap, the end of the gap. */
static time_t
local_to_utc(struct quiet *q, const char *zone, int64_t local, long off_hint)
{
    long oa = quiet_utc_offset(q, zone, (time_t)(local - off_hint));
    int64_t ua = local - oa;
    if (quiet_utc_offset(q, zone, (time_t)ua) == oa)
        return (time_t)ua;
    long ob = quiet_utc_offset(q, zone, (time_t)ua);
    int64_t ub = local - ob;
    if (quiet_utc_offset(q, zone, (time_t)ub) == ob)
        return (time_t)ub;
    /* A gap: neither offset gives back this local time. The transition lies
     * between the two candidates, on a slot boundary; find the first slot
     * with the later offset. */
    int64_t lo = slot_of((time_t)(ua < ub ? ua : ub)), hi = slot_of((time_t)(ua < ub ? ub : ua)) + 1;
    long before = quiet_utc_offset(q, zone, (time_t)(lo * SLOT_S));
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (quiet_utc_offset(q, zone, (time_t)(mid * SLOT_S)) == before)
            lo = mid;
        else
            hi = mid;
    }
    return (time_t)(hi * SLOT_S);
}

time_t
quiet_release_at_zone(struct quiet *q, const char *zone, struct quiet_window w, time_t now)
{
    if (w.start_min == w.end_min)
        return 0;
    long off = quiet_utc_offset(q, zone, now);
    int64_t local = (int64_t)now + off;
    int64_t day = floor_div(local, 86400);
    int64_t sod = local - day * 86400;

    if (inside(w, sod))
        return 0;
    /* Outside: the next start is today if it is still ahead, else tomorrow. */
    int64_t start = (int64_t)w.start_min * 60;
    int64_t target = day * 86400 + start;
    if (sod >= start)
        target += 86400;
    time_t u = local_to_utc(q, zone, target, off);
    /* A day that is 23 or 25 hours long cannot move the opening before now,
     * but a caller's clock exactly on a transition is cheap to guard. */
    return u > now ? u : now + 1;
}

time_t
quiet_release_at(struct quiet *q, const char *number, const struct quiet_window *acct,
                 time_t now, bool *zone_known)
{
    struct numplan_info in;
    const struct quiet_window *w = acct;

    numplan_lookup(q->np, number, &in);
    if (zone_known)
        *zone_known = in.tz != NULL;
    if (!w)
        w = country_window(q, in.iso);
    if (!w)
        w = country_window(q, in.cc);
    if (!w)
        w = &q->def;
    return quiet_release_at_zone(q, in.tz ? in.tz : "UTC", *w, now);
}

time_t
quiet_hold_until(struct quiet *q, const char *number, const struct quiet_window *acct,
                 bool transactional, time_t now)
{
    if (transactional)
        return 0;
    return quiet_release_at(q, number, acct, now, NULL);
}

/* ---------------------------------------------------------------- config */

bool
quiet_window_parse(const char *s, struct quiet_window *out)
{
    char a[6], b[6];

    if (!s || strlen(s) != 11 || s[5] != '-')
        return false;
    memcpy(a, s, 5);
    a[5] = '\0';
    memcpy(b, s + 6, 5);
    b[5] = '\0';
    return cfg_parse_hhmm(a, &out->start_min) && cfg_parse_hhmm(b, &out->end_min);
}

static bool
window_setting(struct cfg_errs *errs, const config_setting_t *s, const char *label,
               struct quiet_window *w)
{
    const char *v = config_setting_get_string(s);

    if (!v || !quiet_window_parse(v, w)) {
        cfg_errs_add(errs, s, "%s: must be a window \"HH:MM-HH:MM\" (local time, 00:00 to 24:00)",
                     label);
        return false;
    }
    return true;
}

void
quiet_config(struct quiet *q, const config_setting_t *grp, struct cfg_errs *errs)
{
    static const char *const keys[] = { "default", "countries", NULL };
    static const char *const ckeys[] = { "country", "window", NULL };
    struct quiet_window w;

    if (!grp)
        return;
    if (!config_setting_is_group(grp)) {
        cfg_errs_add(errs, grp, "quiet_hours: must be a group { ... }");
        return;
    }
    cfg_group_check_keys(errs, grp, "quiet_hours", keys);
    const config_setting_t *d = config_setting_get_member(grp, "default");
    if (d && window_setting(errs, d, "quiet_hours.default", &w))
        quiet_set_default(q, w);
    const config_setting_t *list = config_setting_get_member(grp, "countries");
    if (list && !config_setting_is_list(list)) {
        cfg_errs_add(errs, list, "quiet_hours: \"countries\" must be a list ( { ... }, ... )");
        list = NULL;
    }
    for (int i = 0; list && i < config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char label[64];
        char *key = NULL;

        snprintf(label, sizeof(label), "quiet_hours.countries #%d", i + 1);
        if (!config_setting_is_group(g)) {
            cfg_errs_add(errs, g, "%s: must be a group { country = ...; window = ...; }", label);
            continue;
        }
        cfg_group_check_keys(errs, g, label, ckeys);
        bool ok = cfg_group_str(errs, g, label, "country", true, 1, 3, &key);
        if (ok && !country_key_ok(key)) {
            cfg_errs_add(errs, config_setting_get_member(g, "country"),
                         "%s: country must be an ISO 3166 code (\"US\") or a calling code (\"44\")",
                         label);
            ok = false;
        }
        const config_setting_t *ws = config_setting_get_member(g, "window");
        if (!ws) {
            cfg_errs_add(errs, g, "%s: missing required setting \"window\"", label);
            ok = false;
        } else if (!window_setting(errs, ws, label, &w)) {
            ok = false;
        }
        if (ok) {
            if (country_window(q, key))
                cfg_errs_add(errs, g, "%s: country \"%s\" given twice", label, key);
            else
                quiet_set_country(q, key, w);
        }
        free(key);
    }
}
