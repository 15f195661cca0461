#include "core/cfg_group.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *
vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

static void
add(struct cfg_errs *e, const char *file, int line, char *msg)
{
    if (e->sink) {
        e->sink(e->sink_arg, file, line, msg);
        free(msg);
        e->n++;
        return;
    }
    char *full = NULL;
    if (asprintf(&full, "%s:%d: %s", file ? file : "(config)", line, msg) < 0)
        abort();
    free(msg);
    char **v = realloc(e->v, (e->n + 1) * sizeof(*v));
    if (!v)
        abort();
    e->v = v;
    e->v[e->n++] = full;
}

void
cfg_errs_add(struct cfg_errs *e, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    const config_setting_t *at = s;
    const char *file = NULL;
    int line = 0;

    while (at && !(line = config_setting_source_line(at)))
        at = config_setting_parent(at);
    if (at)
        file = config_setting_source_file(at);
    va_start(ap, fmt);
    char *msg = vfmt(fmt, ap);
    va_end(ap);
    add(e, file, line, msg);
}

void
cfg_errs_add_at(struct cfg_errs *e, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = vfmt(fmt, ap);
    va_end(ap);
    add(e, file, line, msg);
}

void
cfg_errs_print(const struct cfg_errs *e, FILE *f)
{
    for (size_t i = 0; i < e->n; i++)
        fprintf(f, "%s\n", e->v[i]);
}

bool
cfg_errs_has(const struct cfg_errs *e, const char *needle)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->v[i], needle))
            return true;
    return false;
}

void
cfg_errs_free(struct cfg_errs *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

void
cfg_group_check_keys(struct cfg_errs *e, const config_setting_t *grp, const char *label,
                     const char *const *keys)
{
    int n = config_setting_length(grp);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(m);
        bool known = false;

        for (const char *const *k = keys; *k && !known; k++)
            known = name && strcmp(name, *k) == 0;
        if (!known)
            cfg_errs_add(e, m, "%s: unknown setting \"%s\"", label, name ? name : "?");
    }
}

static const config_setting_t *
member(struct cfg_errs *e, const config_setting_t *grp, const char *label, const char *key,
       bool required)
{
    const config_setting_t *s = config_setting_get_member(grp, key);

    if (!s && required)
        cfg_errs_add(e, grp, "%s: missing required setting \"%s\"", label, key);
    return s;
}

bool
cfg_group_str(struct cfg_errs *e, const config_setting_t *grp, const char *label, const char *key,
              bool required, size_t min_len, size_t max_len, char **out)
{
    const config_setting_t *s = member(e, grp, label, key, required);

    if (!s)
        return false;
    const char *v = config_setting_get_string(s);
    if (!v) {
        cfg_errs_add(e, s, "%s: \"%s\" must be a string", label, key);
        return false;
    }
    size_t len = strlen(v);
    if (len < min_len || len > max_len) {
        cfg_errs_add(e, s, "%s: \"%s\" must be %zu to %zu characters", label, key, min_len,
                     max_len);
        return false;
    }
    free(*out);
    if (!(*out = strdup(v)))
        abort();
    return true;
}

bool
cfg_group_uint(struct cfg_errs *e, const config_setting_t *grp, const char *label,
               const char *key, bool required, unsigned min, unsigned max, unsigned *out)
{
    const config_setting_t *s = member(e, grp, label, key, required);

    if (!s)
        return false;
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        cfg_errs_add(e, s, "%s: \"%s\" must be an integer", label, key);
        return false;
    }
    long long v = config_setting_get_int64(s);
    if (v < (long long)min || v > (long long)max) {
        cfg_errs_add(e, s, "%s: \"%s\" must be %u to %u", label, key, min, max);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

bool
cfg_group_bool(struct cfg_errs *e, const config_setting_t *grp, const char *label,
               const char *key, bool *out)
{
    const config_setting_t *s = member(e, grp, label, key, false);

    if (!s)
        return false;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        cfg_errs_add(e, s, "%s: \"%s\" must be true or false", label, key);
        return false;
    }
    *out = config_setting_get_bool(s);
    return true;
}

bool
cfg_parse_hhmm(const char *s, unsigned *minutes)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *minutes = h * 60 + m;
    return true;
}
