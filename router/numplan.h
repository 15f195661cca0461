/*
 * Numbering plan: is a destination a valid E.164 number, which country is
 * it in, what kind of line is it, and which IANA time zone does it imply.
 *
 * Two tables:
 *  - compiled in (router/numplan_data.c): country calling codes with the
 *    national significant number (NSN) length range and ISO 3166 code, and
 *    finer prefixes (NANP area codes, Australian, Brazilian, Mexican and
 *    Russian areas) that name the country (NANP shares +1) and time zone;
 *  - configured: ranges known not to take SMS (landline, VoIP, other) or
 *    known to be mobile, by E.164 digit prefix, longest prefix wins
 *    ("numbering" group, docs/numbering.md).
 *
 * Pure lookups: no I/O, no clock, no allocation after construction.
 * Single-threaded like everything on the event loop (lookups on a table
 * nobody modifies may run on any thread).
 */
#ifndef ROUTER_NUMPLAN_H
#define ROUTER_NUMPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

struct cfg_errs;
struct numplan;

enum numplan_kind {
    NUMPLAN_UNKNOWN = 0,   /* no configured range: assumed to take SMS */
    NUMPLAN_MOBILE,        /* a configured mobile range */
    NUMPLAN_LANDLINE,      /* configured: does not take SMS */
    NUMPLAN_VOIP,          /* configured: does not take SMS */
    NUMPLAN_NO_SMS,        /* configured, other reason (premium, pager, ...) */
};
/* "unknown" "mobile" "landline" "voip" "no_sms" */
const char *numplan_kind_name(enum numplan_kind k);
bool numplan_kind_parse(const char *s, enum numplan_kind *out);

/* Why a number is not valid. */
enum numplan_invalid {
    NUMPLAN_OK = 0,
    NUMPLAN_E_SYNTAX,      /* not "+" then 1..15 digits, or leading 0 */
    NUMPLAN_E_COUNTRY,     /* no known calling code */
    NUMPLAN_E_SHORT,       /* national number shorter than the country's minimum */
    NUMPLAN_E_LONG,        /* longer than its maximum */
    NUMPLAN_E_FORMAT,      /* country rule broken (NANP: area/exchange starting 0/1) */
};
const char *numplan_invalid_name(enum numplan_invalid r);

struct numplan_info {
    bool valid;
    enum numplan_invalid why;       /* NUMPLAN_OK when valid */
    char cc[4];                     /* calling code digits ("1", "44", "852") */
    char iso[3];                    /* "US", "CA", "JM", "GB"; "" if no code */
    const char *tz;                 /* IANA zone ("America/Chicago"); NULL if no code.
                                       Static storage: valid for the program's life. */
    enum numplan_kind kind;
    bool sms_capable;               /* kind is UNKNOWN or MOBILE; false when the
                                       syntax is bad or the calling code unknown */
    unsigned nsn_len;               /* digits after the calling code */
    const char *range;              /* the configured prefix that matched, or NULL
                                       (points into the numplan) */
};

/* An empty configured table (compiled-in data only). Free with numplan_free(). */
struct numplan *numplan_new(void);
void numplan_free(struct numplan *np);

/*
 * Add a configured range: prefix is E.164 digits without "+" (1..15). A
 * prefix added twice keeps the last kind. Returns false for a bad prefix.
 */
bool numplan_add_range(struct numplan *np, const char *prefix, enum numplan_kind kind);
size_t numplan_range_count(const struct numplan *np);

/*
 * Look a number up. Accepts "+E164" (also without "+", as stored in route
 * prefixes). Always fills *out; out->valid says whether it is a number we
 * can send to. Kind and time zone are filled as far as the code is known
 * even when the length is wrong.
 */
void numplan_lookup(const struct numplan *np, const char *number, struct numplan_info *out);

/*
 * The "numbering" group:
 *   numbering = {
 *     no_sms = ( { prefix = "4420"; kind = "landline"; }, ... );
 *     ranges_file = "/etc/smsgw/no-sms.txt";   # lines "PREFIX KIND", # comments
 *   };
 * Adds every range to np; problems go to errs as FILE:LINE lines (the
 * ranges file's own lines for its problems). grp may be NULL (nothing).
 */
void numplan_config(struct numplan *np, const config_setting_t *grp, struct cfg_errs *errs);

/* Compiled-in data, for tests and tools. */
struct numplan_country {
    const char *cc, *iso;
    unsigned char min_nsn, max_nsn;
    const char *tz;                 /* the zone when no area entry matches */
};
struct numplan_area {
    const char *prefix;             /* full E.164 digits: "1212", "5511" */
    const char *iso;                /* NULL: the country's */
    const char *tz;
};
const struct numplan_country *numplan_countries(size_t *n);
const struct numplan_area *numplan_areas(size_t *n);

#endif
