#include "smpp/smpp_dlr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

const char *
smpp_dlr_strerror(int err)
{
    switch (err) {
    case SMPP_DLR_OK:          return "ok";
    case SMPP_DLR_EINVAL:      return "invalid argument or receipt";
    case SMPP_DLR_EEMPTY:      return "receipt text is empty";
    case SMPP_DLR_ENOTRECEIPT: return "text has no delivery receipt fields";
    case SMPP_DLR_ENOID:       return "receipt has no message id";
    case SMPP_DLR_EBADID:      return "receipt message id is empty or not printable ASCII";
    case SMPP_DLR_EIDLONG:     return "receipt message id is longer than 64 characters";
    case SMPP_DLR_ENOSTAT:     return "receipt has no stat and no message_state";
    case SMPP_DLR_EBADSTAT:    return "receipt stat is not a known state";
    case SMPP_DLR_EBADSTATE:   return "receipt message_state TLV is not 1..8";
    case SMPP_DLR_ENOSOURCE:   return "neither receipt text nor receipt TLVs";
    case SMPP_DLR_ENOSPACE:    return "output buffer too small";
    default:                   return "unknown receipt error";
    }
}

/* ------------------------------------------------------------------- stats */

static const struct {
    const char *name;       /* Appendix B */
    const char *long_name;  /* 5.2.28 message_state */
} stat_names[] = {
    [SMPP_DLR_STAT_ENROUTE] = { "ENROUTE", "ENROUTE" },
    [SMPP_DLR_STAT_DELIVRD] = { "DELIVRD", "DELIVERED" },
    [SMPP_DLR_STAT_EXPIRED] = { "EXPIRED", "EXPIRED" },
    [SMPP_DLR_STAT_DELETED] = { "DELETED", "DELETED" },
    [SMPP_DLR_STAT_UNDELIV] = { "UNDELIV", "UNDELIVERABLE" },
    [SMPP_DLR_STAT_ACCEPTD] = { "ACCEPTD", "ACCEPTED" },
    [SMPP_DLR_STAT_UNKNOWN] = { "UNKNOWN", "UNKNOWN" },
    [SMPP_DLR_STAT_REJECTD] = { "REJECTD", "REJECTED" },
};
#define STAT_LAST SMPP_DLR_STAT_REJECTD

static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* word (len bytes, any case) equals the NUL-terminated s. */
static bool
word_eq(const char *word, size_t len, const char *s)
{
    size_t n = strlen(s);

    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)word[i]) != ascii_lower((unsigned char)s[i]))
            return false;
    return true;
}

const char *
smpp_dlr_stat_name(enum smpp_dlr_stat stat)
{
    if (stat < SMPP_DLR_STAT_ENROUTE || stat > STAT_LAST)
        return NULL;
    return stat_names[stat].name;
}

enum smpp_dlr_stat
smpp_dlr_stat_from_name(const char *word, size_t len)
{
    if (!word)
        return SMPP_DLR_STAT_NONE;
    for (int s = SMPP_DLR_STAT_ENROUTE; s <= STAT_LAST; s++)
        if (word_eq(word, len, stat_names[s].name) ||
            word_eq(word, len, stat_names[s].long_name))
            return (enum smpp_dlr_stat)s;
    /* Seen from SMSCs that spell the state out in past tense. */
    if (word_eq(word, len, "UNDELIVERED"))
        return SMPP_DLR_STAT_UNDELIV;
    return SMPP_DLR_STAT_NONE;
}

enum smpp_dlr_stat
smpp_dlr_stat_from_state(unsigned message_state)
{
    if (message_state < 1 || message_state > 8)
        return SMPP_DLR_STAT_NONE;
    return (enum smpp_dlr_stat)message_state;
}

uint8_t
smpp_dlr_stat_to_state(enum smpp_dlr_stat stat)
{
    if (stat < SMPP_DLR_STAT_ENROUTE || stat > STAT_LAST)
        return 0;
    return (uint8_t)stat;
}

/* ------------------------------------------------------------------- dates */

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool
time_valid(const struct smpp_dlr_time *t)
{
    return t->year >= 2000 && t->year <= 2099 &&
           t->mon >= 1 && t->mon <= 12 &&
           t->mday >= 1 && t->mday <= days_in_month(t->year, t->mon) &&
           t->hour >= 0 && t->hour <= 23 &&
           t->min >= 0 && t->min <= 59 &&
           t->sec >= 0 && t->sec <= 59 &&
           (t->has_sec || t->sec == 0);
}

/* Leap days in years 1..y (proleptic Gregorian). */
static long
leaps_through(long y)
{
    return y / 4 - y / 100 + y / 400;
}

time_t
smpp_dlr_time_to_utc(const struct smpp_dlr_time *t)
{
    static const int before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
    long days;

    if (!t || !time_valid(t))
        return (time_t)-1;
    days = 365L * (t->year - 1970) + leaps_through(t->year - 1) - leaps_through(1969) +
           before[t->mon - 1] + (t->mon > 2 && is_leap(t->year)) + (t->mday - 1);
    return (time_t)days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

static int
two_digits(const unsigned char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool
all_digits(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static bool
parse_date(const unsigned char *p, size_t n, struct smpp_dlr_time *t)
{
    struct smpp_dlr_time v = { 0 };

    if ((n != 10 && n != 12) || !all_digits(p, n))
        return false;
    v.year = 2000 + two_digits(p);
    v.mon = two_digits(p + 2);
    v.mday = two_digits(p + 4);
    v.hour = two_digits(p + 6);
    v.min = two_digits(p + 8);
    v.has_sec = n == 12;
    v.sec = v.has_sec ? two_digits(p + 10) : 0;
    if (!time_valid(&v))
        return false;
    *t = v;
    return true;
}

/* ------------------------------------------------------------------ values */

/*
 * A decimal of 1..9 significant digits (leading zeros do not count, so
 * "0000000001" is 1): the only numbers that cannot overflow an int.
 */
static bool
parse_num(const unsigned char *p, size_t n, int *out)
{
    size_t i = 0;
    int v = 0;

    if (n == 0 || !all_digits(p, n))
        return false;
    while (i < n - 1 && p[i] == '0')
        i++;
    if (n - i > 9)
        return false;
    for (; i < n; i++)
        v = v * 10 + (p[i] - '0');
    *out = v;
    return true;
}

/* 0, EBADID or EIDLONG for a candidate id of n bytes. */
static int
check_id(const unsigned char *p, size_t n)
{
    if (n == 0)
        return SMPP_DLR_EBADID;
    if (n > SMPP_DLR_ID_MAX)
        return SMPP_DLR_EIDLONG;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return SMPP_DLR_EBADID;
    return 0;
}

static void
time_clear(struct smpp_dlr_time *t)
{
    memset(t, 0, sizeof(*t));
}

void
smpp_dlr_init(struct smpp_dlr *r)
{
    memset(r, 0, sizeof(*r));
    r->id_error = SMPP_DLR_ENOID;
    r->stat_error = SMPP_DLR_ENOSTAT;
    r->sub = -1;
    r->dlvrd = -1;
    r->stat = SMPP_DLR_STAT_NONE;
    r->err = -1;
    r->err_net_type = -1;
    time_clear(&r->submit_date);
    time_clear(&r->done_date);
}

/* ------------------------------------------------------------------ parser */

/*
 * Token separators. NUL is one: a C string embedded in short_message ends a
 * value there, and stray NULs between fields are as good as spaces.
 */
static bool
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f' || c == '\0';
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t';
}

enum key { K_NONE, K_ID, K_SUB, K_DLVRD, K_SUBMIT, K_DONE, K_STAT, K_ERR, K_TEXT };

static const struct {
    const char *word;
    const char *word2;  /* second word, joined by spaces or '_' (or nothing) */
    enum key    key;
    unsigned    field;
} keys[] = {
    { "id",     NULL,   K_ID,     SMPP_DLR_F_ID },
    { "sub",    NULL,   K_SUB,    SMPP_DLR_F_SUB },
    { "dlvrd",  NULL,   K_DLVRD,  SMPP_DLR_F_DLVRD },
    { "submit", "date", K_SUBMIT, SMPP_DLR_F_SUBMIT_DATE },
    { "done",   "date", K_DONE,   SMPP_DLR_F_DONE_DATE },
    { "stat",   NULL,   K_STAT,   SMPP_DLR_F_STAT },
    { "err",    NULL,   K_ERR,    SMPP_DLR_F_ERR },
    { "text",   NULL,   K_TEXT,   SMPP_DLR_F_TEXT },
};

/* p..end starts with w (lowercase) in any case: its length, else 0. */
static size_t
match_word(const unsigned char *p, const unsigned char *end, const char *w)
{
    size_t i;

    for (i = 0; w[i]; i++)
        if (p + i >= end || ascii_lower(p[i]) != w[i])
            return 0;
    return i;
}

/*
 * The key at p: a known name, any case, then optional spaces, then ':'.
 * Sets *value to the byte after the ':' and *field to its SMPP_DLR_F_ bit.
 * "substat:" or "idx:" are not keys: the colon must follow the name.
 */
static enum key
match_key(const unsigned char *p, const unsigned char *end,
          const unsigned char **value, unsigned *field)
{
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const unsigned char *q = p;
        size_t n = match_word(q, end, keys[k].word);

        if (n == 0)
            continue;
        q += n;
        if (keys[k].word2) {
            while (q < end && (is_space(*q) || *q == '_'))
                q++;
            if ((n = match_word(q, end, keys[k].word2)) == 0)
                continue;
            q += n;
        }
        while (q < end && is_space(*q))
            q++;
        if (q < end && *q == ':') {
            *value = q + 1;
            *field = keys[k].field;
            return keys[k].key;
        }
    }
    return K_NONE;
}

static void
set_field(struct smpp_dlr *r, enum key k, unsigned field,
          const unsigned char *v, size_t n)
{
    bool ok = false;
    int rc;

    switch (k) {
    case K_ID:
        rc = check_id(v, n);
        if (rc == 0) {
            memcpy(r->id, v, n);
            r->id[n] = '\0';
            ok = true;
        }
        r->id_error = rc;
        break;
    case K_SUB:
        ok = parse_num(v, n, &r->sub);
        break;
    case K_DLVRD:
        ok = parse_num(v, n, &r->dlvrd);
        break;
    case K_SUBMIT:
        ok = parse_date(v, n, &r->submit_date);
        break;
    case K_DONE:
        ok = parse_date(v, n, &r->done_date);
        break;
    case K_STAT: {
        size_t keep = n < SMPP_DLR_STAT_RAW_MAX ? n : SMPP_DLR_STAT_RAW_MAX;
        memcpy(r->stat_raw, v, keep);
        r->stat_raw[keep] = '\0';
        r->stat = smpp_dlr_stat_from_name((const char *)v, n);
        ok = r->stat != SMPP_DLR_STAT_NONE;
        r->stat_error = ok ? 0 : SMPP_DLR_EBADSTAT;
        break;
    }
    case K_ERR:
        if (n > 0 && n <= SMPP_DLR_ERR_MAX) {
            memcpy(r->err_raw, v, n);
            r->err_raw[n] = '\0';
            if (!parse_num(v, n, &r->err))
                r->err = -1;
            ok = true;
        }
        break;
    case K_TEXT:
    case K_NONE:
    default:
        /* The parser handles text itself and never passes K_NONE. */
        fprintf(stderr, "smpp_dlr: set_field(%d)\n", (int)k);
        abort();
    }
    if (ok)
        r->present |= field;
    else
        r->invalid |= field;
}

int
smpp_dlr_parse(const void *buf, size_t len, struct smpp_dlr *out)
{
    const unsigned char *p = buf, *end;
    unsigned seen = 0;
    bool any = false;

    if (!out)
        return SMPP_DLR_EINVAL;
    smpp_dlr_init(out);
    if (!buf && len > 0)
        return SMPP_DLR_EINVAL;
    if (len == 0)
        return SMPP_DLR_EEMPTY;
    end = p + len;
    while (end > p && end[-1] == '\0')
        end--;

    for (;;) {
        const unsigned char *v, *ve, *next;
        unsigned field;
        enum key k;

        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        any = true;
        k = match_key(p, end, &v, &field);
        if (k == K_NONE) {
            /* A vendor field ("mccmnc:310260") or stray word: skip it. */
            while (p < end && !is_blank(*p))
                p++;
            continue;
        }
        seen |= field;
        if (k == K_TEXT) {
            size_t n = (size_t)(end - v);
            if (n > SMPP_DLR_TEXT_MAX)
                n = SMPP_DLR_TEXT_MAX;
            memcpy(out->text, v, n);
            out->text[n] = '\0';
            out->text_len = n;
            out->present |= SMPP_DLR_F_TEXT;
            break;
        }
        /*
         * "id: 123" is common enough; but "err: stat:DELIVRD" is an empty
         * err, not an err of "stat:DELIVRD".
         */
        if (v < end && is_space(*v)) {
            const unsigned char *q = v, *dv;
            unsigned df;
            while (q < end && is_space(*q))
                q++;
            if (q < end && match_key(q, end, &dv, &df) != K_NONE)
                q = v;
            v = q;
        }
        ve = v;
        while (ve < end && !is_blank(*ve))
            ve++;
        next = ve;
        if ((out->present | out->invalid) & field) {
            p = next;       /* a repeated key: the first one counts */
            continue;
        }
        set_field(out, k, field, v, (size_t)(ve - v));
        p = next;
    }

    if (seen == 0)
        return any ? SMPP_DLR_ENOTRECEIPT : SMPP_DLR_EEMPTY;
    if (out->id_error)
        return out->id_error;
    return out->stat_error;
}

/* ------------------------------------------------------------ with the TLVs */

int
smpp_dlr_combine(const struct smpp_dlr *text, const struct smpp_dlr_tlv *tlv,
                 struct smpp_dlr *out)
{
    struct smpp_dlr r;
    bool have_text = text && (text->present | text->invalid);
    bool have_tlv = tlv && (tlv->receipted_message_id || tlv->message_state ||
                            tlv->has_network_error_code);

    if (!out)
        return SMPP_DLR_EINVAL;
    if (have_text)
        r = *text;
    else
        smpp_dlr_init(&r);
    r.from_tlv = 0;
    r.conflict = 0;

    if (have_tlv && tlv->receipted_message_id) {
        const char *id = tlv->receipted_message_id;
        size_t n = strnlen(id, SMPP_DLR_ID_MAX + 1);
        int rc = check_id((const unsigned char *)id, n);

        if ((r.present & SMPP_DLR_F_ID) && (rc != 0 || strcmp(r.id, id) != 0))
            r.conflict |= SMPP_DLR_F_ID;
        r.from_tlv |= SMPP_DLR_F_ID;
        r.id_error = rc;
        if (rc == 0) {
            memcpy(r.id, id, n + 1);
            r.present |= SMPP_DLR_F_ID;
            r.invalid &= ~(unsigned)SMPP_DLR_F_ID;
        } else {
            r.id[0] = '\0';
            r.present &= ~(unsigned)SMPP_DLR_F_ID;
            r.invalid |= SMPP_DLR_F_ID;
        }
    }

    if (have_tlv && tlv->message_state) {
        enum smpp_dlr_stat st = smpp_dlr_stat_from_state(tlv->message_state);

        if ((r.present & SMPP_DLR_F_STAT) && r.stat != st)
            r.conflict |= SMPP_DLR_F_STAT;
        r.from_tlv |= SMPP_DLR_F_STAT;
        r.stat = st;
        if (st != SMPP_DLR_STAT_NONE) {
            snprintf(r.stat_raw, sizeof(r.stat_raw), "%s", smpp_dlr_stat_name(st));
            r.stat_error = 0;
            r.present |= SMPP_DLR_F_STAT;
            r.invalid &= ~(unsigned)SMPP_DLR_F_STAT;
        } else {
            snprintf(r.stat_raw, sizeof(r.stat_raw), "%u", (unsigned)tlv->message_state);
            r.stat_error = SMPP_DLR_EBADSTATE;
            r.present &= ~(unsigned)SMPP_DLR_F_STAT;
            r.invalid |= SMPP_DLR_F_STAT;
        }
    }

    if (have_tlv && tlv->has_network_error_code) {
        const uint8_t *nec = tlv->network_error_code;
        int err = nec[1] << 8 | nec[2];

        if ((r.present & SMPP_DLR_F_ERR) && r.err != err)
            r.conflict |= SMPP_DLR_F_ERR;
        r.from_tlv |= SMPP_DLR_F_ERR;
        r.err = err;
        r.err_net_type = nec[0];
        snprintf(r.err_raw, sizeof(r.err_raw), "%03d", err);
        r.present |= SMPP_DLR_F_ERR;
        r.invalid &= ~(unsigned)SMPP_DLR_F_ERR;
    }

    *out = r;
    if (!have_text && !have_tlv)
        return SMPP_DLR_ENOSOURCE;
    if (out->id_error)
        return out->id_error;
    return out->stat_error;
}

/* --------------------------------------------------------------- formatter */

struct writer {
    char  *buf;
    size_t size;
    size_t len;     /* what the output needs, even past size */
};

static void
put(struct writer *w, const void *p, size_t n)
{
    if (w->len < w->size) {
        size_t room = w->size - w->len;
        memcpy(w->buf + w->len, p, n < room ? n : room);
    }
    w->len += n;
}

static void
puts_(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void
put_num(struct writer *w, const char *key, int v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%s%03d", key, v);
    put(w, tmp, (size_t)n);
}

static void
put_date(struct writer *w, const char *key, const struct smpp_dlr_time *t)
{
    char tmp[48];
    int n;

    if (t->has_sec)
        n = snprintf(tmp, sizeof(tmp), "%s%02d%02d%02d%02d%02d%02d", key,
                     t->year - 2000, t->mon, t->mday, t->hour, t->min, t->sec);
    else
        n = snprintf(tmp, sizeof(tmp), "%s%02d%02d%02d%02d%02d", key,
                     t->year - 2000, t->mon, t->mday, t->hour, t->min);
    put(w, tmp, (size_t)n);
}

static bool
num_ok(int v)
{
    return v >= 0 && v <= SMPP_DLR_NUM_MAX;
}

/* err_raw can be written as one token and read back unchanged. */
static bool
err_raw_ok(const char *s)
{
    size_t n = strnlen(s, SMPP_DLR_ERR_MAX + 1);

    if (n == 0 || n > SMPP_DLR_ERR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (is_blank((unsigned char)s[i]))
            return false;
    return true;
}

static bool
format_ok(const struct smpp_dlr *r)
{
    unsigned f = r->present;

    if (!(f & SMPP_DLR_F_ID) ||
        check_id((const unsigned char *)r->id, strnlen(r->id, sizeof(r->id))) != 0)
        return false;
    if (!(f & SMPP_DLR_F_STAT) || !smpp_dlr_stat_name(r->stat))
        return false;
    if ((f & SMPP_DLR_F_SUB) && !num_ok(r->sub))
        return false;
    if ((f & SMPP_DLR_F_DLVRD) && !num_ok(r->dlvrd))
        return false;
    if ((f & SMPP_DLR_F_SUBMIT_DATE) && !time_valid(&r->submit_date))
        return false;
    if ((f & SMPP_DLR_F_DONE_DATE) && !time_valid(&r->done_date))
        return false;
    if ((f & SMPP_DLR_F_ERR) && !(r->err >= 0 ? num_ok(r->err) : err_raw_ok(r->err_raw)))
        return false;
    if ((f & SMPP_DLR_F_TEXT) && r->text_len > SMPP_DLR_TEXT_MAX)
        return false;
    return true;
}

int
smpp_dlr_format(const struct smpp_dlr *r, char *buf, size_t bufsz)
{
    struct writer w = { buf, bufsz, 0 };
    unsigned f;

    if (!r || !buf || !format_ok(r))
        return SMPP_DLR_EINVAL;
    f = r->present;
    puts_(&w, "id:");
    puts_(&w, r->id);
    if (f & SMPP_DLR_F_SUB)
        put_num(&w, " sub:", r->sub);
    if (f & SMPP_DLR_F_DLVRD)
        put_num(&w, " dlvrd:", r->dlvrd);
    if (f & SMPP_DLR_F_SUBMIT_DATE)
        put_date(&w, " submit date:", &r->submit_date);
    if (f & SMPP_DLR_F_DONE_DATE)
        put_date(&w, " done date:", &r->done_date);
    puts_(&w, " stat:");
    puts_(&w, smpp_dlr_stat_name(r->stat));
    if (f & SMPP_DLR_F_ERR) {
        if (r->err >= 0) {
            put_num(&w, " err:", r->err);
        } else {
            puts_(&w, " err:");
            puts_(&w, r->err_raw);
        }
    }
    if (f & SMPP_DLR_F_TEXT) {
        puts_(&w, " text:");
        put(&w, r->text, r->text_len);
    }
    if (w.len >= bufsz) {
        if (bufsz > 0)
            buf[0] = '\0';
        return SMPP_DLR_ENOSPACE;
    }
    buf[w.len] = '\0';
    return (int)w.len;
}

/* ------------------------------------------------------------ id matching */

static bool
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Lowercase hex of the n hex digits at s, leading zeros dropped. */
static size_t
canon_hex(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;

    while (i < n - 1 && s[i] == '0')
        i++;
    for (; i < n; i++)
        out[o++] = (char)ascii_lower((unsigned char)s[i]);
    return o;
}

/*
 * The n decimal digits at s as lowercase hex. Ids reach 64 digits (about
 * 213 bits), past any integer type, so this is schoolbook long
 * multiplication on 32-bit limbs: value = value * 10 + digit.
 */
static size_t
dec_to_hex(const char *s, size_t n, char *out)
{
    enum { LIMBS = 8 };     /* 256 bits > 10^64 */
    static const char hex[] = "0123456789abcdef";
    uint32_t limb[LIMBS] = { 0 };
    size_t o = 0;
    int top;

    for (size_t i = 0; i < n; i++) {
        uint64_t carry = (uint64_t)(s[i] - '0');
        for (int l = 0; l < LIMBS; l++) {
            uint64_t v = (uint64_t)limb[l] * 10 + carry;
            limb[l] = (uint32_t)v;
            carry = v >> 32;
        }
    }
    for (top = LIMBS - 1; top > 0 && limb[top] == 0; top--)
        ;
    for (int l = top; l >= 0; l--) {
        for (int shift = 28; shift >= 0; shift -= 4) {
            unsigned nib = (limb[l] >> shift) & 0xf;
            if (o == 0 && nib == 0 && !(l == 0 && shift == 0))
                continue;
            out[o++] = hex[nib];
        }
    }
    return o;
}

static bool
all_of(const char *s, size_t n, bool (*pred)(unsigned char))
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!pred((unsigned char)s[i]))
            return false;
    return true;
}

static bool
is_dec(unsigned char c)
{
    return c >= '0' && c <= '9';
}

int
smpp_dlr_normalize_id(const char *id, enum smpp_dlr_id_format from,
                      char *out, size_t outsz)
{
    char tmp[SMPP_DLR_ID_MAX + 1];
    size_t n, len;
    int rc;

    if (!id || !out)
        return SMPP_DLR_EINVAL;
    n = strnlen(id, SMPP_DLR_ID_MAX + 1);
    if ((rc = check_id((const unsigned char *)id, n)) != 0)
        return rc;

    switch (from) {
    case SMPP_DLR_ID_HEX: {
        const char *h = id;
        size_t hn = n;
        if (hn > 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) {
            h += 2;
            hn -= 2;
        }
        if (all_of(h, hn, is_hex)) {
            len = canon_hex(h, hn, tmp);
            break;
        }
        goto string;
    }
    case SMPP_DLR_ID_DEC:
        if (all_of(id, n, is_dec)) {
            len = dec_to_hex(id, n, tmp);
            break;
        }
        goto string;
    case SMPP_DLR_ID_STRING:
    string:
        for (len = 0; len < n; len++)
            tmp[len] = (char)ascii_lower((unsigned char)id[len]);
        break;
    default:
        return SMPP_DLR_EINVAL;
    }

    if (len >= outsz)
        return SMPP_DLR_ENOSPACE;
    memcpy(out, tmp, len);
    out[len] = '\0';
    return (int)len;
}
