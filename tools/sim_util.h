/*
 * smsc-sim helpers that know nothing of SMPP: a PRNG, clocks, message id
 * text, and strict number parsing for flags and files.
 *
 * Included by tools/smsc-sim.c only (every .c file in tools/ is a program, so
 * helpers live in headers); everything is static.
 */
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "No index" in the index-linked lists. */
#define SIM_NIL UINT32_MAX

/* ------------------------------------------------------------ PRNG */

/*
 * xorshift64*: a few cycles per draw, which matters when every submit_sm
 * may take one for --withhold-pct, one for --reject-pct, one for the
 * receipt outcome and one for the delay. Not for anything secret.
 */
static inline uint64_t
sim_rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n) for n >= 1 (multiply-shift: no division, bias < 2^-32). */
static inline uint32_t
sim_rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((sim_rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* A seed that is never zero (xorshift's one fixed point). */
static inline uint64_t
sim_rng_seed(uint64_t seed)
{
    /* splitmix64 finaliser, so that seeds 1, 2, 3 start far apart. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------------------ clocks */

/* Monotonic milliseconds: schedules and throttle windows must not jump
 * with the wall clock. */
static inline uint64_t
sim_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ message ids */

enum sim_id_format {
    SIM_ID_HEX,         /* lowercase hexadecimal, no leading zeros */
    SIM_ID_HEX_UPPER,   /* uppercase hexadecimal */
    SIM_ID_DEC,         /* decimal */
};

/* Write id into out (at least 21 bytes); returns its length. */
static inline size_t
sim_id_format(uint64_t id, enum sim_id_format f, char *out)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    char tmp[24];
    size_t n = 0, i;

    if (f == SIM_ID_DEC) {
        do {
            tmp[n++] = (char)('0' + id % 10);
            id /= 10;
        } while (id);
    } else {
        const char *digits = f == SIM_ID_HEX ? lower : upper;
        do {
            tmp[n++] = digits[id & 15];
            id >>= 4;
        } while (id);
    }
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

/*
 * Parse an id as the simulator wrote it in this format (hex in either
 * case, with an optional 0x; decimal digits). False for anything else: an
 * id from another format names no message here.
 */
static inline bool
sim_id_parse(const char *s, enum sim_id_format f, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;

    if (f == SIM_ID_DEC) {
        for (; s[n]; n++) {
            unsigned d = (unsigned char)s[n] - '0';
            if (d > 9 || v > (UINT64_MAX - d) / 10)
                return false;
            v = v * 10 + d;
        }
    } else {
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
            s += 2;
        for (; s[n]; n++) {
            unsigned char c = (unsigned char)s[n];
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a') + 10u
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A') + 10u : 99u;
            if (d > 15 || n >= 16)
                return false;
            v = (v << 4) | d;
        }
    }
    if (n == 0)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------ parsing */

/* A whole string as an unsigned number (decimal, or 0x hex) in [min, max]. */
static inline bool
sim_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static inline bool
sim_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;

    if (!sim_parse_u64(s, min, max, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

/*
 * A percentage 0..100 with up to four decimals ("2", "0.5", "99.99"), as
 * parts per million so that the hot path compares integers.
 */
static inline bool
sim_parse_pct(const char *s, size_t len, uint32_t *ppm)
{
    uint64_t whole = 0, frac = 0, scale = 10000;
    size_t i = 0;
    bool digits = false;

    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        digits = true;
        if (whole > 100)
            return false;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale == 1)
                return false;   /* more than four decimals */
            scale /= 10;
            frac += (uint64_t)(s[i] - '0') * scale;
            digits = true;
        }
    }
    if (!digits || i != len)
        return false;
    uint64_t v = whole * 10000 + frac;
    if (v > 1000000)
        return false;
    *ppm = (uint32_t)v;
    return true;
}

#endif
