/*
 * Lookups are prefix matches on digit strings. Calling codes are a prefix
 * code (no code is the prefix of another), so at most one of the 1-, 2- and
 * 3-digit candidates is in the table; areas and configured ranges are
 * matched longest first by trying each prefix length with bsearch
 * (15 tries at most, no allocation).
 */
#include "router/numplan.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg_group.h"

#define E164_MAX 15

struct np_range {
    char prefix[E164_MAX + 1];
    enum numplan_kind kind;
};

struct numplan {
    struct np_range *ranges;        /* sorted by prefix once sorted is true */
    size_t n, cap;
    bool sorted;
};

static const char *const kind_names[] = { "unknown", "mobile", "landline", "voip", "no_sms" };
static const char *const invalid_names[] = { "ok", "syntax", "unknown_country", "too_short",
                                             "too_long", "format" };

const char *
numplan_kind_name(enum numplan_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

bool
numplan_kind_parse(const char *s, enum numplan_kind *out)
{
    for (unsigned i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum numplan_kind)i;
            return true;
        }
    return false;
}

const char *
numplan_invalid_name(enum numplan_invalid r)
{
    return (unsigned)r < sizeof(invalid_names) / sizeof(invalid_names[0]) ? invalid_names[r]
                                                                           : "?";
}

struct numplan *
numplan_new(void)
{
    struct numplan *np = calloc(1, sizeof(*np));

    if (!np)
        abort();
    np->sorted = true;
    return np;
}

void
numplan_free(struct numplan *np)
{
    if (!np)
        return;
    free(np->ranges);
    free(np);
}

static bool
digits_ok(const char *s, size_t min, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= min && n <= max;
}

static int
range_cmp(const void *a, const void *b)
{
    return strcmp(((const struct np_range *)a)->prefix, ((const struct np_range *)b)->prefix);
}

bool
numplan_add_range(struct numplan *np, const char *prefix, enum numplan_kind kind)
{
    if (!prefix || !digits_ok(prefix, 1, E164_MAX) || kind == NUMPLAN_UNKNOWN ||
        (unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
        return false;
    for (size_t i = 0; i < np->n; i++)
        if (strcmp(np->ranges[i].prefix, prefix) == 0) {
            np->ranges[i].kind = kind;
            return true;
        }
    if (np->n == np->cap) {
        np->cap = np->cap ? np->cap * 2 : 64;
        np->ranges = realloc(np->ranges, np->cap * sizeof(*np->ranges));
        if (!np->ranges)
            abort();
    }
    snprintf(np->ranges[np->n].prefix, sizeof(np->ranges[np->n].prefix), "%s", prefix);
    np->ranges[np->n++].kind = kind;
    /* Sorted here, not lazily in lookup, so lookups never write. */
    qsort(np->ranges, np->n, sizeof(*np->ranges), range_cmp);
    return true;
}

size_t
numplan_range_count(const struct numplan *np)
{
    return np->n;
}

static int
country_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct numplan_country *)elem)->cc);
}

static int
area_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct numplan_area *)elem)->prefix);
}

static int
range_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct np_range *)elem)->prefix);
}

/* Longest prefix of digits (len n) that bsearch finds in base. */
static const void *
longest(const char *digits, size_t n, const void *base, size_t count, size_t size,
        int (*cmp)(const void *, const void *))
{
    char key[E164_MAX + 1];

    for (size_t l = n; l >= 1; l--) {
        memcpy(key, digits, l);
        key[l] = '\0';
        const void *hit = bsearch(key, base, count, size, cmp);
        if (hit)
            return hit;
    }
    return NULL;
}

void
numplan_lookup(const struct numplan *np, const char *number, struct numplan_info *out)
{
    size_t ncountries, nareas;
    const struct numplan_country *countries = numplan_countries(&ncountries);
    const struct numplan_area *areas = numplan_areas(&nareas);
    const char *d = number && number[0] == '+' ? number + 1 : number;
    const struct numplan_country *c = NULL;

    memset(out, 0, sizeof(*out));
    if (!d || !digits_ok(d, 1, E164_MAX) || d[0] == '0') {
        out->why = NUMPLAN_E_SYNTAX;
        return;
    }
    size_t n = strlen(d);
    for (size_t l = 1; l <= 3 && l <= n && !c; l++) {
        char key[4];
        memcpy(key, d, l);
        key[l] = '\0';
        c = bsearch(key, countries, ncountries, sizeof(*countries), country_cmp);
    }
    if (!c) {
        out->why = NUMPLAN_E_COUNTRY;
        return;
    }
    snprintf(out->cc, sizeof(out->cc), "%s", c->cc);
    snprintf(out->iso, sizeof(out->iso), "%s", c->iso);
    out->tz = c->tz;
    out->nsn_len = (unsigned)(n - strlen(c->cc));

    const struct numplan_area *a = longest(d, n, areas, nareas, sizeof(*areas), area_cmp);
    if (a) {
        if (a->iso)
            snprintf(out->iso, sizeof(out->iso), "%s", a->iso);
        out->tz = a->tz;
    }
    const struct np_range *r = np && np->n ? longest(d, n, np->ranges, np->n,
                                                     sizeof(*np->ranges), range_key_cmp)
                                           : NULL;
    if (r) {
        out->kind = r->kind;
        out->range = r->prefix;
    }
    out->sms_capable = out->kind == NUMPLAN_UNKNOWN || out->kind == NUMPLAN_MOBILE;

    if (out->nsn_len < c->min_nsn)
        out->why = NUMPLAN_E_SHORT;
    else if (out->nsn_len > c->max_nsn)
        out->why = NUMPLAN_E_LONG;
    /* NANP: NXX-NXX-XXXX, N = 2..9, for the area code and the exchange;
     * N11 codes (211, 411, 911, ...) are service codes, never area codes. */
    else if (strcmp(c->cc, "1") == 0 &&
             (d[1] < '2' || d[4] < '2' || (d[2] == '1' && d[3] == '1')))
        out->why = NUMPLAN_E_FORMAT;
    else
        out->why = NUMPLAN_OK;
    out->valid = out->why == NUMPLAN_OK;
}

/* --------------------------------------------------------------- config */

static void
load_ranges_file(struct numplan *np, const config_setting_t *s, const char *path,
                 struct cfg_errs *errs)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int lineno = 0;

    if (!f) {
        cfg_errs_add(errs, s, "numbering: ranges_file \"%s\": %s", path, strerror(errno));
        return;
    }
    /* Errors about the file's contents name the file's own lines. */
    while (fgets(line, sizeof(line), f)) {
        char prefix[64], kind[64], extra[8];
        enum numplan_kind k;

        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int got = sscanf(line, "%63s %63s %7s", prefix, kind, extra);
        if (got <= 0)
            continue;
        const char *msg = NULL;
        if (got != 2)
            msg = "expected \"PREFIX KIND\"";
        else if (prefix[0] == '+' ? !digits_ok(prefix + 1, 1, E164_MAX)
                                  : !digits_ok(prefix, 1, E164_MAX))
            msg = "prefix must be 1 to 15 digits";
        else if (!numplan_kind_parse(kind, &k) || k == NUMPLAN_UNKNOWN)
            msg = "kind must be mobile, landline, voip or no_sms";
        if (msg) {
            cfg_errs_add_at(errs, path, lineno, "%s", msg);
            continue;
        }
        numplan_add_range(np, prefix[0] == '+' ? prefix + 1 : prefix, k);
    }
    fclose(f);
}

void
numplan_config(struct numplan *np, const config_setting_t *grp, struct cfg_errs *errs)
{
    static const char *const keys[] = { "no_sms", "ranges_file", NULL };
    static const char *const rkeys[] = { "prefix", "kind", NULL };

    if (!grp)
        return;
    if (!config_setting_is_group(grp)) {
        cfg_errs_add(errs, grp, "numbering: must be a group { ... }");
        return;
    }
    cfg_group_check_keys(errs, grp, "numbering", keys);
    const config_setting_t *list = config_setting_get_member(grp, "no_sms");
    if (list && !config_setting_is_list(list)) {
        cfg_errs_add(errs, list, "numbering: \"no_sms\" must be a list ( { ... }, ... )");
        list = NULL;
    }
    for (int i = 0; list && i < config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        char label[64], *prefix = NULL, *kind = NULL;
        enum numplan_kind k;

        snprintf(label, sizeof(label), "numbering.no_sms #%d", i + 1);
        if (!config_setting_is_group(g)) {
            cfg_errs_add(errs, g, "%s: must be a group { prefix = ...; kind = ...; }", label);
            continue;
        }
        cfg_group_check_keys(errs, g, label, rkeys);
        bool ok = cfg_group_str(errs, g, label, "prefix", true, 1, E164_MAX + 1, &prefix);
        ok &= cfg_group_str(errs, g, label, "kind", true, 1, 16, &kind);
        if (ok && prefix[0] == '+')
            memmove(prefix, prefix + 1, strlen(prefix));
        if (ok && !digits_ok(prefix, 1, E164_MAX)) {
            cfg_errs_add(errs, config_setting_get_member(g, "prefix"),
                         "%s: prefix must be 1 to 15 digits (E.164, \"+\" optional)", label);
            ok = false;
        }
        if (ok && (!numplan_kind_parse(kind, &k) || k == NUMPLAN_UNKNOWN)) {
            cfg_errs_add(errs, config_setting_get_member(g, "kind"),
                         "%s: kind must be one of: mobile, landline, voip, no_sms", label);
            ok = false;
        }
        if (ok)
            numplan_add_range(np, prefix, k);
        free(prefix);
        free(kind);
    }
    char *path = NULL;
    if (cfg_group_str(errs, grp, "numbering", "ranges_file", false, 1, 4096, &path))
        load_ranges_file(np, config_setting_get_member(grp, "ranges_file"), path, errs);
    free(path);
}
