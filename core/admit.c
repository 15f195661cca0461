#include "core/admit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "router/numplan.h"
#include "router/quiet.h"

long
admit_clock_offset(void)
{
    static bool read;
    static long off;

    if (!read) {
        const char *s = getenv("SMSGW_TEST_NOW_OFFSET_S");
        off = s ? strtol(s, NULL, 10) : 0;
        read = true;
    }
    return off;
}

static bool
digits_at(const char *s, size_t len, size_t at, size_t n, int *out)
{
    int v = 0;

    if (at + n > len)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return false;
        v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return true;
}

bool
admit_parse_time(const char *s, size_t len, time_t *out)
{
    int Y, M, D, h, m, sec, oh = 0, om = 0;
    size_t i;

    if (len > 0 && len <= 12) {
        long long v = 0;
        for (i = 0; i < len && isdigit((unsigned char)s[i]); i++)
            v = v * 10 + (s[i] - '0');
        if (i == len) {
            *out = (time_t)v;
            return true;
        }
    }
    if (!digits_at(s, len, 0, 4, &Y) || len < 20 || s[4] != '-' || !digits_at(s, len, 5, 2, &M) ||
        s[7] != '-' || !digits_at(s, len, 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !digits_at(s, len, 11, 2, &h) || s[13] != ':' || !digits_at(s, len, 14, 2, &m) ||
        s[16] != ':' || !digits_at(s, len, 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    i = 19;
    if (i < len && s[i] == '.') {
        i++;
        size_t f = i;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
        if (i == f)
            return false;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        if (!digits_at(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' ||
            !digits_at(s, len, i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        oh *= sign;
        om *= sign;
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                     .tm_min = m, .tm_sec = sec > 59 ? 59 : sec };
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse it. */
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != D)
        return false;
    *out = t - (time_t)oh * 3600 - (time_t)om * 60;
    return true;
}

void
admit_format_time(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const struct numplan_country *
country(const char *cc)
{
    size_t n;
    const struct numplan_country *c = numplan_countries(&n);

    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].cc, cc) == 0)
            return &c[i];
    return NULL;
}

int
admit_check_number(const struct gw_config *cfg, const char *digits, bool has_fallback,
                   bool *no_sms, const char **code, char *msg, size_t msgsz)
{
    struct numplan_info in;
    const struct numplan_country *c;

    *no_sms = false;
    if (!cfg->numplan)
        return 0;
    numplan_lookup(cfg->numplan, digits, &in);
    if (!in.valid) {
        *code = "invalid_to";
        c = in.cc[0] ? country(in.cc) : NULL;
        switch (in.why) {
        case NUMPLAN_E_COUNTRY:
            snprintf(msg, msgsz, "`to` +%s does not start with a known country calling code "
                     "(reason: unknown_country); check the number", digits);
            break;
        case NUMPLAN_E_SHORT:
        case NUMPLAN_E_LONG:
        {
            char range[32];
            unsigned lo = c ? c->min_nsn : 0, hi = c ? c->max_nsn : 0;
            if (lo == hi)
                snprintf(range, sizeof(range), "%u", lo);
            else
                snprintf(range, sizeof(range), "%u to %u", lo, hi);
            snprintf(msg, msgsz, "`to` +%s is too %s for %s (+%s): national numbers there have "
                     "%s digits after the country code, this one has %u (reason: %s)",
                     digits, in.why == NUMPLAN_E_SHORT ? "short" : "long",
                     in.iso[0] ? in.iso : "its country", in.cc, range, in.nsn_len,
                     numplan_invalid_name(in.why));
        }
            break;
        case NUMPLAN_E_FORMAT:
            snprintf(msg, msgsz, "`to` +%s breaks %s's numbering rules (reason: format)%s",
                     digits, in.iso[0] ? in.iso : "the country",
                     strcmp(in.cc, "1") == 0 ? ": NANP area codes and exchanges must not "
                     "start with 0 or 1, and N11 is not an area code" : "");
            break;
        default:
            snprintf(msg, msgsz, "`to` +%s is not a valid E.164 number (reason: %s)", digits,
                     numplan_invalid_name(in.why));
            break;
        }
        return 400;
    }
    if (!in.sms_capable) {
        *no_sms = true;
        if (has_fallback)
            return 0;
        *code = "not_sms_capable";
        snprintf(msg, msgsz, "`to` +%s is in a %s range (%s) that cannot receive SMS; send to "
                 "a mobile number, or give a \"fallback\" chain (email, ott, rcs) to carry it",
                 digits, numplan_kind_name(in.kind), in.range ? in.range : "configured");
        return 422;
    }
    return 0;
}

uint64_t
admit_release(const struct gw_config *cfg, const struct cfg_account *acct, const char *digits,
              bool marketing, time_t send_at, const char **hold_state, char *detail,
              size_t detailsz)
{
    time_t now = time(NULL), at = send_at > now ? send_at : now, release = 0;
    long off = admit_clock_offset();
    char when[32];

    *hold_state = NULL;
    detail[0] = '\0';
    if (marketing && cfg->quiet) {
        bool known = true;
        time_t r = quiet_release_at(cfg->quiet, digits, acct && acct->quiet_set ? &acct->quiet : NULL,
                                    at + off, &known);
        if (r)
            release = r - off;
    }
    if (release) {
        struct numplan_info in = { .tz = NULL };
        if (cfg->numplan)
            numplan_lookup(cfg->numplan, digits, &in);
        admit_format_time(release, when);
        *hold_state = "held";
        snprintf(detail, detailsz, "quiet_hours release=%s zone=%s", when,
                 in.tz ? in.tz : "UTC");
        return (uint64_t)release * 1000u;
    }
    if (send_at > now) {
        admit_format_time(send_at, when);
        *hold_state = "scheduled";
        snprintf(detail, detailsz, "send_at=%s", when);
        return (uint64_t)send_at * 1000u;
    }
    return 0;
}
