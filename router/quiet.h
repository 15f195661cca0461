/*
 * Quiet hours: may a message go to this number now, and if not, when.
 *
 * The zone comes from the number (router/numplan: calling code, then area
 * code for multi-zone countries). The allowed window is local wall-clock
 * time [start, end) — 09:00–21:00 unless configured per country or given by
 * the caller for an account. A window with start > end spans midnight
 * (e.g. 20:00–08:00). start == end means always allowed.
 *
 * Whether a message is subject to quiet hours at all (transactional traffic
 * is not) is the caller's decision: this module is only about time.
 *
 * Time zone conversions use the C library and the system tz database
 * (tzdata) by switching TZ: setenv("TZ", ":Zone") + tzset() + localtime_r(),
 * then TZ is put back. That touches process-global state, so every call
 * must come from one thread (the event loop); smsgwd formats its own log
 * times with gmtime_r, which TZ does not affect. Offsets are cached per
 * zone and 15-minute UTC slot (every tz transition since 1970 falls on a
 * quarter hour of UTC), so the switch happens only on a cache miss.
 */
#ifndef ROUTER_QUIET_H
#define ROUTER_QUIET_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libconfig.h>

struct cfg_errs;
struct numplan;
struct quiet;

/* Allowed local sending window, minutes after local midnight (0..1440). */
struct quiet_window {
    unsigned start_min, end_min;
};
#define QUIET_DEFAULT_START (9 * 60)
#define QUIET_DEFAULT_END   (21 * 60)

/*
 * A quiet-hours checker using np for zones (np is borrowed: it must outlive
 * q; NULL: compiled-in data only). Default window 09:00–21:00, no country
 * overrides. Free with quiet_free().
 */
struct quiet *quiet_new(const struct numplan *np);
void quiet_free(struct quiet *q);

/* Replace the default window. */
void quiet_set_default(struct quiet *q, struct quiet_window w);
/* Window for one country, by ISO code ("US") or calling code ("44"): an ISO
 * code wins over a calling code. false if key is malformed. */
bool quiet_set_country(struct quiet *q, const char *key, struct quiet_window w);

/*
 * When may a message to number be sent, given now (UTC seconds)?
 * Returns 0 if now is inside the window, else the UTC time (> now) at which
 * the window next opens. The window is acct when not NULL, else the
 * country's, else the default. A number whose zone is unknown (invalid or
 * unknown calling code) is checked against UTC (*zone_known = false when
 * zone_known is not NULL), so the caller can decide to refuse it instead.
 *
 * When the opening time does not exist locally (it falls in a spring-forward
 * gap), the release is the first instant after the gap.
 */
time_t quiet_release_at(struct quiet *q, const char *number, const struct quiet_window *acct,
                        time_t now, bool *zone_known);

/*
 * What the message flow asks: transactional messages (codes, alerts) are
 * never held; everything else as quiet_release_at().
 */
time_t quiet_hold_until(struct quiet *q, const char *number, const struct quiet_window *acct,
                        bool transactional, time_t now);

/* The same, for an explicit IANA zone (tests, accounts with a fixed zone). */
time_t quiet_release_at_zone(struct quiet *q, const char *zone, struct quiet_window w,
                             time_t now);

/* UTC offset of zone at t, seconds east (cached). */
long quiet_utc_offset(struct quiet *q, const char *zone, time_t t);

/* True if the system tz database has zone (a file under /usr/share/zoneinfo,
 * or $TZDIR); glibc silently uses UTC for a zone it cannot find. */
bool quiet_zone_exists(const char *zone);

/*
 * The "quiet_hours" group:
 *   quiet_hours = {
 *     default = "09:00-21:00";
 *     countries = ( { country = "US"; window = "08:00-21:00"; },
 *                   { country = "44"; window = "09:00-20:00"; } );  # ISO or calling code
 *   };
 * Problems go to errs as FILE:LINE lines. grp may be NULL (defaults).
 */
void quiet_config(struct quiet *q, const config_setting_t *grp, struct cfg_errs *errs);

/* "HH:MM-HH:MM" → window; false if malformed. */
bool quiet_window_parse(const char *s, struct quiet_window *out);

#endif
