/*
 * Helpers for self-contained config group parsers (numbering, quiet_hours,
 * channels): modules that own their settings parse their own libconfig
 * group and report problems the way core/config.c does, as
 * "FILE:LINE: message" lines, all of them, never only the first.
 *
 * core/config.c can call such a parser for its top-level key and append the
 * collected lines to its own list; tests call the parsers directly.
 */
#ifndef CORE_CFG_GROUP_H
#define CORE_CFG_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libconfig.h>

/*
 * Collected error lines; zero-initialise. Owns its strings. With sink set,
 * each error goes to sink(sink_arg, file, line, message) instead (how
 * core/config.c merges them into its own sorted list); n still counts.
 */
struct cfg_errs {
    char **v;
    size_t n;
    void (*sink)(void *arg, const char *file, int line, const char *msg);
    void *sink_arg;
};

/* Add "FILE:LINE: message" for setting s (its own line, or its parent's
 * when libconfig has none). */
void cfg_errs_add(struct cfg_errs *e, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at an explicit file and line (files the group names). */
void cfg_errs_add_at(struct cfg_errs *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cfg_errs_print(const struct cfg_errs *e, FILE *f);
/* True if some line contains needle (tests). */
bool cfg_errs_has(const struct cfg_errs *e, const char *needle);
void cfg_errs_free(struct cfg_errs *e);

/*
 * Report every member of group grp whose name is not in keys (a NULL-ended
 * list) as "LABEL: unknown setting "x"". label names the group in
 * messages ("channels.ott").
 */
void cfg_group_check_keys(struct cfg_errs *e, const config_setting_t *grp, const char *label,
                          const char *const *keys);

/*
 * Typed getters. Absent: *out keeps its value (the default) and, when
 * required, "LABEL: missing required setting "key"" is reported on the
 * group's line. Wrong type or out of range: reported, *out unchanged.
 * Return true when the setting was present and valid.
 */
bool cfg_group_str(struct cfg_errs *e, const config_setting_t *grp, const char *label,
                   const char *key, bool required, size_t min_len, size_t max_len, char **out);
bool cfg_group_uint(struct cfg_errs *e, const config_setting_t *grp, const char *label,
                    const char *key, bool required, unsigned min, unsigned max, unsigned *out);
bool cfg_group_bool(struct cfg_errs *e, const config_setting_t *grp, const char *label,
                    const char *key, bool *out);

/* "HH:MM" (00:00..24:00) → minutes after midnight; false if malformed. */
bool cfg_parse_hhmm(const char *s, unsigned *minutes);

#endif
