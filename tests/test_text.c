/*
 * Unit tests for smpp/smpp_text: GSM 03.38, Latin-1, IA5, UCS-2, UTF-8
 * validation, automatic choice, segmentation (UDH8/UDH16/SAR/PAYLOAD) and
 * inbound UDH parsing. Expected values are written out independently of the
 * module's tables (packed vectors were computed from the 23.038 6.1.2.1 rule).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_text.h"

#define ESC 0x1B

/* The basic table in septet order, 0x1B left out, as UTF-8. */
static const char basic_utf8[] =
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" /* 0x1B */ "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà";

static const struct {
    const char *utf8;
    uint32_t cp;
    uint8_t code;
} ext_chars[10] = {
    { "\f", 0x000C, 0x0A }, { "^", 0x005E, 0x14 }, { "{", 0x007B, 0x28 },
    { "}", 0x007D, 0x29 },  { "\\", 0x005C, 0x2F }, { "[", 0x005B, 0x3C },
    { "~", 0x007E, 0x3D },  { "]", 0x005D, 0x3E }, { "|", 0x007C, 0x40 },
    { "€", 0x20AC, 0x65 },
};

/* Decode UTF-8 (known valid) to code points; returns the count. */
static size_t
to_cps(const char *s, size_t len, uint32_t *cps, size_t max)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, n = 0;

    while (i < len && n < max) {
        uint32_t c = u[i];
        int k = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
        if (k)
            c &= 0x3F >> k;
        for (int j = 1; j <= k; j++)
            c = c << 6 | (u[i + j] & 0x3F);
        i += 1 + k;
        cps[n++] = c;
    }
    return n;
}

static char *
repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = '\0';
    return s;
}

/* Concatenate up to three strings into a malloc'd one. */
static char *
cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    assert_non_null(s);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* ---------------------------------------------------------------- GSM 03.38 */

static void
test_gsm_basic_table_roundtrip(void **state)
{
    uint8_t septets[127], enc[200];
    char dec[512];
    size_t n = 0, outlen, declen;

    (void)state;
    for (unsigned s = 0; s < 128; s++)
        if (s != ESC)
            septets[n++] = (uint8_t)s;
    assert_int_equal(n, 127);

    assert_int_equal(smpp_text_gsm7_decode(septets, n, dec, sizeof(dec), &declen), 0);
    assert_int_equal(declen, strlen(basic_utf8));
    assert_memory_equal(dec, basic_utf8, declen);
    assert_int_equal(dec[declen], '\0');

    assert_int_equal(smpp_text_gsm7_encode(basic_utf8, strlen(basic_utf8), enc, sizeof(enc),
                                           &outlen, NULL), 0);
    assert_int_equal(outlen, 127);
    assert_memory_equal(enc, septets, 127);

    /* One by one, each costs one septet. */
    uint32_t cps[127];
    assert_int_equal(to_cps(basic_utf8, strlen(basic_utf8), cps, 127), 127);
    for (size_t i = 0; i < 127; i++)
        assert_int_equal(smpp_text_gsm7_cost(cps[i]), 1);
}

static void
test_gsm_specific_codes(void **state)
{
    static const struct { const char *c; uint8_t s; } v[] = {
        { "@", 0x00 }, { "£", 0x01 }, { "$", 0x02 }, { "\n", 0x0A }, { "\r", 0x0D },
        { "Δ", 0x10 }, { "_", 0x11 }, { "Ξ", 0x1A }, { "É", 0x1F }, { " ", 0x20 },
        { "¤", 0x24 }, { "¡", 0x40 }, { "Ä", 0x5B }, { "§", 0x5F }, { "¿", 0x60 },
        { "ä", 0x7B }, { "à", 0x7F }, { "A", 0x41 }, { "z", 0x7A }, { "Ç", 0x09 },
    };
    uint8_t out[4];
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(smpp_text_gsm7_encode(v[i].c, strlen(v[i].c), out, sizeof(out),
                                               &len, NULL), 0);
        assert_int_equal(len, 1);
        assert_int_equal(out[0], v[i].s);
    }
}

static void
test_gsm_ext_chars(void **state)
{
    (void)state;
    for (size_t i = 0; i < 10; i++) {
        uint8_t out[4];
        char dec[8];
        size_t len, dlen;
        const char *c = ext_chars[i].utf8;

        assert_int_equal(smpp_text_gsm7_encode(c, strlen(c), out, sizeof(out), &len, NULL), 0);
        assert_int_equal(len, 2);
        assert_int_equal(out[0], ESC);
        assert_int_equal(out[1], ext_chars[i].code);
        assert_int_equal(smpp_text_gsm7_cost(ext_chars[i].cp), 2);

        assert_int_equal(smpp_text_gsm7_decode(out, 2, dec, sizeof(dec), &dlen), 0);
        assert_int_equal(dlen, strlen(c));
        assert_memory_equal(dec, c, dlen);

        struct smpp_text_info info;
        assert_int_equal(smpp_text_measure(c, strlen(c), SMPP_TEXT_ENC_AUTO,
                                           SMPP_TEXT_CONCAT_UDH8, &info, NULL), 0);
        assert_int_equal(info.enc, SMPP_TEXT_ENC_GSM7);
        assert_int_equal(info.units, 2);
        assert_int_equal(info.chars, 1);
    }
}

/* Exhaustive: exactly the 127 basic and 10 extension characters are GSM. */
static void
test_gsm_reverse_table_exact(void **state)
{
    uint32_t cps[127];
    static uint8_t in_gsm[0x3000];

    (void)state;
    memset(in_gsm, 0, sizeof(in_gsm));
    to_cps(basic_utf8, strlen(basic_utf8), cps, 127);
    for (size_t i = 0; i < 127; i++)
        in_gsm[cps[i]] = 1;
    for (size_t i = 0; i < 10; i++)
        in_gsm[ext_chars[i].cp] = 2;
    for (uint32_t cp = 0; cp < 0x3000; cp++)
        assert_int_equal(smpp_text_gsm7_cost(cp), in_gsm[cp]);
    assert_int_equal(smpp_text_gsm7_cost(0x1F600), 0);
    assert_int_equal(smpp_text_gsm7_cost(0x10FFFF), 0);
}

static void
test_gsm_decode_escape_edges(void **state)
{
    char out[32];
    size_t len;

    (void)state;
    /* trailing escape -> space */
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"\x41\x1B", 2, out, sizeof(out), &len), 0);
    assert_string_equal(out, "A ");
    /* escape escape -> one space, both consumed */
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"\x1B\x1B\x41", 3, out, sizeof(out), &len), 0);
    assert_string_equal(out, " A");
    /* unknown extension code -> basic character */
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"\x1B\x41\x1B\x00", 4, out, sizeof(out), &len), 0);
    assert_int_equal(len, 2);
    assert_string_equal(out, "A@");
    /* high bit set -> U+FFFD, also as the escaped code */
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"\x80\x1B\xFF", 3, out, sizeof(out), &len), 0);
    assert_string_equal(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
    /* empty */
    assert_int_equal(smpp_text_gsm7_decode(NULL, 0, out, sizeof(out), &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
}

static void
test_gsm_not_representable(void **state)
{
    uint8_t out[16];
    size_t len, off = 99;

    (void)state;
    assert_int_equal(smpp_text_gsm7_encode("a`b", 3, out, sizeof(out), &len, &off),
                     SMPP_TEXT_E_CHARSET);
    assert_int_equal(off, 1);
    off = 99;
    assert_int_equal(smpp_text_gsm7_encode("ab\xC3\xA7", 4, out, sizeof(out), &len, &off),
                     SMPP_TEXT_E_CHARSET); /* ç small: not in GSM (only Ç) */
    assert_int_equal(off, 2);
    assert_int_equal(smpp_text_gsm7_encode("a\0b", 3, out, sizeof(out), &len, &off),
                     SMPP_TEXT_E_CHARSET);
    assert_int_equal(off, 1);
    assert_int_equal(smpp_text_gsm7_encode("\xC2\xA0", 2, out, sizeof(out), &len, &off),
                     SMPP_TEXT_E_CHARSET); /* NBSP is not the escape */
    assert_int_equal(smpp_text_gsm7_encode("abc", 3, out, 2, &len, &off), SMPP_TEXT_E_SPACE);
    assert_int_equal(smpp_text_gsm7_encode("a€", 4, out, 2, &len, &off), SMPP_TEXT_E_SPACE);
}

/* ---------------------------------------------------------------- packing */

static void
test_pack_known_vectors(void **state)
{
    static const uint8_t hh[] = { 0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37 };
    static const uint8_t s7[] = { 0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x1A }; /* CR pad */
    static const uint8_t s8[] = { 0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x70 };
    static const uint8_t hf1[] = { 0xD0, 0x65, 0x36, 0xFB, 0x0D };
    uint8_t out[16], back[16];
    size_t len;

    (void)state;
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"hellohello", 10, 0, out, sizeof(out), &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(out, hh, 9);
    assert_int_equal(smpp_text_gsm7_unpack(hh, 9, 0, 10, back, sizeof(back), &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(back, "hellohello", 10);
    assert_int_equal(smpp_text_gsm7_unpack(hh, 9, 0, SIZE_MAX, back, sizeof(back), &len), 0);
    assert_int_equal(len, 10);

    /* 7 septets: 7 spare bits, padded with CR */
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"1234567", 7, 0, out, sizeof(out), &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(out, s7, 7);
    assert_int_equal(smpp_text_gsm7_unpack(s7, 7, 0, SIZE_MAX, back, sizeof(back), &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(back, "1234567", 7);

    /* 8 septets fill 7 octets exactly */
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"12345678", 8, 0, out, sizeof(out), &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(out, s8, 7);
    assert_int_equal(smpp_text_gsm7_unpack(s8, 7, 0, SIZE_MAX, back, sizeof(back), &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(back, "12345678", 8);

    /* After a 6-octet UDH: one fill bit */
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"hello", 5, 1, out, sizeof(out), &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, hf1, 5);
    assert_int_equal(smpp_text_gsm7_unpack(hf1, 5, 1, 5, back, sizeof(back), &len), 0);
    assert_memory_equal(back, "hello", 5);

    /* one septet, 8th septet boundary */
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"A", 1, 0, out, sizeof(out), &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(out[0], 0x41);
    assert_int_equal(smpp_text_gsm7_pack(NULL, 0, 3, out, sizeof(out), &len), 0);
    assert_int_equal(len, 0);
}

static void
test_pack_padding_ambiguity(void **state)
{
    static const uint8_t zero7[] = { 0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x00 };
    uint8_t back[16];
    size_t len;

    (void)state;
    /* Zero padding (most encoders): the phantom '@' is dropped. */
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 0, SIZE_MAX, back, sizeof(back), &len), 0);
    assert_int_equal(len, 7);
    /* With the count known it is there. */
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 0, 8, back, sizeof(back), &len), 0);
    assert_int_equal(len, 8);
    assert_int_equal(back[7], 0x00);
    /* Asking for more than the bits hold */
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 0, 9, back, sizeof(back), &len),
                     SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 1, 8, back, sizeof(back), &len),
                     SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 7, 1, back, sizeof(back), &len),
                     SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_unpack(zero7, 7, 0, 8, back, 7, &len), SMPP_TEXT_E_SPACE);
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"\x80", 1, 0, back, sizeof(back), &len),
                     SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_pack((const uint8_t *)"12345678", 8, 0, back, 6, &len),
                     SMPP_TEXT_E_SPACE);
}

static void
test_pack_in_place_all_lengths(void **state)
{
    (void)state;
    for (unsigned fill = 0; fill <= 6; fill++) {
        for (size_t n = 0; n <= 40; n++) {
            uint8_t sept[48], buf[48], back[48];
            size_t len, blen;
            for (size_t i = 0; i < n; i++)
                sept[i] = (uint8_t)((i * 37 + fill) & 0x7F);
            memcpy(buf, sept, n);
            assert_int_equal(smpp_text_gsm7_pack(buf, n, fill, buf, sizeof(buf), &len), 0);
            assert_int_equal(len, n ? (fill + 7 * n + 7) / 8 : 0);
            assert_int_equal(smpp_text_gsm7_unpack(buf, len, fill, n, back, sizeof(back), &blen), 0);
            assert_int_equal(blen, n);
            assert_memory_equal(back, sept, n);
        }
    }
}

/* ---------------------------------------------------------------- UCS-2, UTF-8, Latin-1 */

static void
test_ucs2_surrogates(void **state)
{
    static const uint8_t want[] = { 0x00, 0x41, 0xD8, 0x3D, 0xDE, 0x00, 0x04, 0x3F,
                                    0xDB, 0xFF, 0xDF, 0xFF };
    const char *text = "A😀п\xF4\x8F\xBF\xBF"; /* U+10FFFF last */
    uint8_t out[32];
    char dec[32];
    size_t len, dlen;

    (void)state;
    assert_int_equal(smpp_text_ucs2_encode(text, strlen(text), out, sizeof(out), &len, NULL), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(smpp_text_ucs2_decode(out, len, dec, sizeof(dec), &dlen), 0);
    assert_int_equal(dlen, strlen(text));
    assert_memory_equal(dec, text, dlen);
    assert_int_equal(smpp_text_ucs2_encode(text, strlen(text), out, 5, &len, NULL),
                     SMPP_TEXT_E_SPACE);
}

static void
test_ucs2_broken_surrogates(void **state)
{
    static const struct { const char *in; size_t len; const char *want; } v[] = {
        { "\xD8\x00", 2, "\xEF\xBF\xBD" },                        /* lone high at end */
        { "\xDC\x00", 2, "\xEF\xBF\xBD" },                        /* lone low */
        { "\xD8\x3D\x00\x41", 4, "\xEF\xBF\xBD" "A" },            /* high then BMP */
        { "\xDE\x00\xD8\x3D", 4, "\xEF\xBF\xBD\xEF\xBF\xBD" },    /* reversed pair */
        { "\xDC\x00\xDC\x01", 4, "\xEF\xBF\xBD\xEF\xBF\xBD" },    /* low low */
        { "\xD8\x3D\xD8\x3D\xDE\x00", 6, "\xEF\xBF\xBD\xF0\x9F\x98\x80" }, /* high high low */
        { "\x00\x41\x00", 3, "A\xEF\xBF\xBD" },                   /* odd trailing octet */
        { "\x00", 1, "\xEF\xBF\xBD" },
        { "", 0, "" },
    };
    char dec[32];
    size_t dlen;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(smpp_text_ucs2_decode((const uint8_t *)v[i].in, v[i].len, dec,
                                               sizeof(dec), &dlen), 0);
        assert_int_equal(dlen, strlen(v[i].want));
        assert_string_equal(dec, v[i].want);
    }
}

static void
test_utf8_invalid_rejected(void **state)
{
    static const struct { const char *in; size_t len, off; } v[] = {
        { "ab\xC3", 3, 2 },                 /* truncated 2-byte */
        { "\xC0\x80", 2, 0 },               /* overlong NUL */
        { "\xC1\xBF", 2, 0 },               /* overlong */
        { "a\xE0\x80\x80", 4, 1 },          /* overlong 3-byte */
        { "ab\xED\xA0\x80", 5, 2 },         /* UTF-16 surrogate in UTF-8 */
        { "\xF0\x8F\xBF\xBF", 4, 0 },       /* overlong 4-byte */
        { "x\xF4\x90\x80\x80", 5, 1 },      /* above U+10FFFF */
        { "\xF5\x80\x80\x80", 4, 0 },
        { "abc\x80", 4, 3 },                /* stray continuation */
        { "\xE2\x82", 2, 0 },               /* truncated euro */
        { "\xE2\x82\x41", 3, 0 },           /* bad continuation */
        { "ok\xFF", 3, 2 },
    };
    uint8_t out[64], buf[SMPP_TEXT_SPLIT_BUFSZ(2)];
    struct smpp_text_part parts[2];
    struct smpp_text_split res;
    struct smpp_text_info info;
    struct smpp_text_split_opts opt = { SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 2 };
    size_t len, off;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        off = 999;
        assert_int_equal(smpp_text_utf8_check(v[i].in, v[i].len, &off), SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
        off = 999;
        assert_int_equal(smpp_text_ucs2_encode(v[i].in, v[i].len, out, sizeof(out), &len, &off),
                         SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
        off = 999;
        assert_int_equal(smpp_text_gsm7_encode(v[i].in, v[i].len, out, sizeof(out), &len, &off),
                         SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
        off = 999;
        assert_int_equal(smpp_text_latin1_encode(v[i].in, v[i].len, out, sizeof(out), &len, &off),
                         SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
        off = 999;
        assert_int_equal(smpp_text_measure(v[i].in, v[i].len, SMPP_TEXT_ENC_AUTO,
                                           SMPP_TEXT_CONCAT_UDH8, &info, &off), SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
        off = 999;
        assert_int_equal(smpp_text_split(v[i].in, v[i].len, &opt, buf, sizeof(buf), parts, &res,
                                          &off), SMPP_TEXT_E_UTF8);
        assert_int_equal(off, v[i].off);
    }
    /* Valid edge cases pass */
    assert_int_equal(smpp_text_utf8_check("\x7F\xC2\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",
                                          14, NULL), 0);
    assert_int_equal(smpp_text_utf8_check("a\0b", 3, NULL), 0);
}

static void
test_latin1(void **state)
{
    const char *text = "café ÿ\xC2\x80";
    static const uint8_t want[] = { 'c', 'a', 'f', 0xE9, ' ', 0xFF, 0x80 };
    uint8_t out[16];
    char dec[32];
    size_t len, dlen, off;

    (void)state;
    assert_int_equal(smpp_text_latin1_encode(text, strlen(text), out, sizeof(out), &len, NULL), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(smpp_text_latin1_decode(out, len, dec, sizeof(dec), &dlen), 0);
    assert_int_equal(dlen, strlen(text));
    assert_string_equal(dec, text);
    assert_int_equal(smpp_text_latin1_encode("ab€", 5, out, sizeof(out), &len, &off),
                     SMPP_TEXT_E_CHARSET);
    assert_int_equal(off, 2);
}

static void
test_ia5_decode(void **state)
{
    char dec[16];
    size_t dlen;

    (void)state;
    assert_int_equal(smpp_text_ia5_decode((const uint8_t *)"Hi\x80~", 4, dec, sizeof(dec), &dlen), 0);
    assert_int_equal(dlen, 6);
    assert_string_equal(dec, "Hi\xEF\xBF\xBD~");
}

static void
test_decode_output_space(void **state)
{
    size_t dlen;

    (void)state;
    /* Exact-size heap buffers so ASan catches a single byte too far. */
    char *b4 = malloc(4);
    assert_non_null(b4);
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"abc", 3, b4, 4, &dlen), 0);
    assert_string_equal(b4, "abc");
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"abcd", 4, b4, 4, &dlen),
                     SMPP_TEXT_E_SPACE);
    assert_int_equal(b4[3], '\0');
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"ab\x1B\x65", 4, b4, 4, &dlen),
                     SMPP_TEXT_E_SPACE);   /* € needs 3 octets, 1 left */
    assert_int_equal(smpp_text_ucs2_decode((const uint8_t *)"\xD8\x3D\xDE\x00", 4, b4, 4, &dlen),
                     SMPP_TEXT_E_SPACE);
    assert_int_equal(smpp_text_latin1_decode((const uint8_t *)"\xE9\xE9", 2, b4, 4, &dlen),
                     SMPP_TEXT_E_SPACE);
    free(b4);
    assert_int_equal(smpp_text_gsm7_decode((const uint8_t *)"a", 1, NULL, 0, &dlen),
                     SMPP_TEXT_E_SPACE);
    char one[1];
    assert_int_equal(smpp_text_gsm7_decode(NULL, 0, one, 1, &dlen), 0);
    assert_int_equal(dlen, 0);
}

/* ---------------------------------------------------------------- by data_coding */

static void
test_decode_by_dc(void **state)
{
    char out[64];
    size_t len;
    const uint8_t *hi = (const uint8_t *)"\x00\x48\x00\x69";

    (void)state;
    /* dc 0 follows the SMSC's default alphabet */
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x00\x24", 2, 0, 0,
                                      out, sizeof(out), &len), 0);
    assert_string_equal(out, "@¤");
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_LATIN1, (const uint8_t *)"\xE9\x24", 2, 0, 0,
                                      out, sizeof(out), &len), 0);
    assert_string_equal(out, "é$");
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_IA5, (const uint8_t *)"\x24\xE9", 2, 0, 0,
                                      out, sizeof(out), &len), 0);
    assert_string_equal(out, "$\xEF\xBF\xBD");
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED,
                                      (const uint8_t *)"\xE8\x32\x9B\xFD\x46\x97\xD9\xEC\x37", 9,
                                      0, 0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "hellohello");
    /* fixed meanings */
    assert_int_equal(smpp_text_decode(1, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x24", 1, 0, 0, out,
                                      sizeof(out), &len), 0);
    assert_string_equal(out, "$");
    assert_int_equal(smpp_text_decode(3, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\xA3", 1, 0, 0, out,
                                      sizeof(out), &len), 0);
    assert_string_equal(out, "£");
    assert_int_equal(smpp_text_decode(8, SMPP_TEXT_ENC_GSM7, hi, 4, 0, 0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "Hi");
    assert_int_equal(len, 2);
    /* binary: refused, or hex on request */
    assert_int_equal(smpp_text_decode(4, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x01\xAF", 2, 0, 0,
                                      out, sizeof(out), &len), SMPP_TEXT_E_BINARY);
    assert_int_equal(smpp_text_decode(2, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x01\xAF", 2, 0,
                                      SMPP_TEXT_DECODE_HEX, out, sizeof(out), &len), 0);
    assert_string_equal(out, "01AF");
    assert_int_equal(smpp_text_decode(0xF5, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x01\xAF", 2, 0,
                                      SMPP_TEXT_DECODE_HEX, out, sizeof(out), &len), 0);
    assert_string_equal(out, "01AF");
    /* GSM DCS groups */
    assert_int_equal(smpp_text_decode(0xF0, SMPP_TEXT_ENC_LATIN1, (const uint8_t *)"\x00", 1, 0, 0,
                                      out, sizeof(out), &len), 0);
    assert_string_equal(out, "@");
    assert_int_equal(smpp_text_decode(0x18, SMPP_TEXT_ENC_GSM7, hi, 4, 0, 0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "Hi");
    assert_int_equal(smpp_text_decode(0xE0, SMPP_TEXT_ENC_GSM7, hi, 4, 0, 0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "Hi");
    assert_int_equal(smpp_text_decode(0xC8, SMPP_TEXT_ENC_GSM7, (const uint8_t *)"\x11", 1, 0, 0,
                                      out, sizeof(out), &len), 0);
    assert_string_equal(out, "_");

    enum smpp_text_enc e;
    static const uint8_t refused[] = { 0x05, 0x06, 0x07, 0x09, 0x0A, 0x0D, 0x0E, 0x0F,
                                       0x20, 0x3C, 0x1C, 0x80, 0xBF };
    for (size_t i = 0; i < sizeof(refused); i++)
        assert_int_equal(smpp_text_dc_enc(refused[i], SMPP_TEXT_ENC_GSM7, &e), SMPP_TEXT_E_DCS);
    assert_int_equal(smpp_text_dc_enc(0x11, SMPP_TEXT_ENC_GSM7_PACKED, &e), 0);
    assert_int_equal(e, SMPP_TEXT_ENC_GSM7_PACKED);
    assert_int_equal(smpp_text_dc_enc(0x14, SMPP_TEXT_ENC_GSM7, &e), 0);
    assert_int_equal(e, SMPP_TEXT_ENC_BINARY);
    assert_int_equal(smpp_text_dc_enc(0, SMPP_TEXT_ENC_UCS2, &e), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_dc_enc(0, SMPP_TEXT_ENC_AUTO, &e), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_decode(8, SMPP_TEXT_ENC_GSM7, hi, 4, 5, 0, out, sizeof(out), &len),
                     SMPP_TEXT_E_INVAL);
}

static void
test_decode_packed_after_udh(void **state)
{
    /* UDH8 (6 octets) + "hello" with 1 fill bit */
    static const uint8_t sm8[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x01,
                                   0xD0, 0x65, 0x36, 0xFB, 0x0D };
    /* UDH16 (7 octets) + "hellohello": on a septet boundary, no fill */
    static const uint8_t sm16[] = { 0x06, 0x08, 0x04, 0x00, 0x01, 0x02, 0x01,
                                    0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37 };
    /* 3-octet UDH (UDHL 2, one empty IE) + "abc": 24 bits -> 4 fill bits */
    static const uint8_t sm3[] = { 0x02, 0x70, 0x00, 0x10, 0x16, 0x8F, 0x1B };
    struct smpp_text_udh u;
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(smpp_text_udh_parse(sm8, sizeof(sm8), 0x40, &u), 0);
    assert_int_equal(u.text_off, 6);
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, sm8, sizeof(sm8), u.text_off,
                                      0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "hello");

    assert_int_equal(smpp_text_udh_parse(sm16, sizeof(sm16), 0x40, &u), 0);
    assert_int_equal(u.text_off, 7);
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, sm16, sizeof(sm16), u.text_off,
                                      0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "hellohello");

    assert_int_equal(smpp_text_udh_parse(sm3, sizeof(sm3), 0x40, &u), 0);
    assert_int_equal(u.text_off, 3);
    assert_false(u.concat);
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, sm3, sizeof(sm3), u.text_off,
                                      0, out, sizeof(out), &len), 0);
    assert_string_equal(out, "abc");

    /* Unpacked GSM and UCS-2 after a UDH simply skip it */
    static const uint8_t smu[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00, 0x41 };
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7, smu, sizeof(smu), 6, 0, out,
                                      sizeof(out), &len), 0);
    assert_string_equal(out, "@A");
    assert_int_equal(smpp_text_decode(8, SMPP_TEXT_ENC_GSM7, smu, sizeof(smu), 6, 0, out,
                                      sizeof(out), &len), 0);
    assert_string_equal(out, "A");
}

/* ---------------------------------------------------------------- measure */

static void
test_auto_choice(void **state)
{
    struct smpp_text_info i;

    (void)state;
    assert_int_equal(smpp_text_measure("hello", 5, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(i.data_coding, 0);
    assert_int_equal(i.units, 5);
    assert_int_equal(i.segments, 1);
    assert_string_equal(smpp_text_enc_name(i.enc), "gsm7");

    assert_int_equal(smpp_text_measure("10€ {ok}", strlen("10€ {ok}"), SMPP_TEXT_ENC_AUTO,
                                       SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(i.chars, 8);
    assert_int_equal(i.units, 11);

    assert_int_equal(smpp_text_measure("привет", strlen("привет"), SMPP_TEXT_ENC_AUTO,
                                       SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_UCS2);
    assert_int_equal(i.data_coding, 8);
    assert_int_equal(i.units, 6);
    assert_int_equal(i.octets, 12);
    assert_string_equal(smpp_text_enc_name(i.enc), "ucs2");

    assert_int_equal(smpp_text_measure("hi 😀", strlen("hi 😀"), SMPP_TEXT_ENC_AUTO,
                                       SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_UCS2);
    assert_int_equal(i.chars, 4);
    assert_int_equal(i.units, 5);

    assert_int_equal(smpp_text_measure("", 0, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(i.units, 0);
    assert_int_equal(i.segments, 1);
    assert_int_equal(i.pdus, 1);

    /* forced encodings */
    size_t off;
    assert_int_equal(smpp_text_measure("ab😀", 6, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH8, &i,
                                       &off), SMPP_TEXT_E_CHARSET);
    assert_int_equal(off, 2);
    assert_int_equal(smpp_text_measure("é", 2, SMPP_TEXT_ENC_IA5, SMPP_TEXT_CONCAT_UDH8, &i, &off),
                     SMPP_TEXT_E_CHARSET);
    assert_int_equal(smpp_text_measure("hello", 5, SMPP_TEXT_ENC_UCS2, SMPP_TEXT_CONCAT_UDH8, &i,
                                       NULL), 0);
    assert_int_equal(i.enc, SMPP_TEXT_ENC_UCS2);
    assert_int_equal(i.octets, 10);
    assert_int_equal(smpp_text_measure("hellohello", 10, SMPP_TEXT_ENC_GSM7_PACKED,
                                       SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
    assert_int_equal(i.octets, 9);
    assert_int_equal(i.data_coding, 0);
    assert_int_equal(smpp_text_measure("x", 1, SMPP_TEXT_ENC_BINARY, SMPP_TEXT_CONCAT_UDH8, &i,
                                       NULL), SMPP_TEXT_E_INVAL);
}

static void
expect_segments(const char *text, enum smpp_text_enc enc, enum smpp_text_concat c,
                size_t units, unsigned segs)
{
    struct smpp_text_info i;
    assert_int_equal(smpp_text_measure(text, strlen(text), enc, c, &i, NULL), 0);
    assert_int_equal(i.units, units);
    assert_int_equal(i.segments, segs);
}

static void
test_segment_boundaries(void **state)
{
    static const struct { size_t n; unsigned udh8, udh16; } gsm[] = {
        { 160, 1, 1 }, { 161, 2, 2 }, { 304, 2, 2 }, { 305, 2, 3 }, { 306, 2, 3 },
        { 307, 3, 3 }, { 459, 3, 4 }, { 460, 4, 4 },
    };
    static const struct { size_t n; unsigned udh8, udh16; } ucs[] = {
        { 70, 1, 1 }, { 71, 2, 2 }, { 132, 2, 2 }, { 133, 2, 3 }, { 134, 2, 3 }, { 135, 3, 3 },
    };

    (void)state;
    for (size_t k = 0; k < sizeof(gsm) / sizeof(gsm[0]); k++) {
        char *s = repeat("a", gsm[k].n);
        expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, gsm[k].n, gsm[k].udh8);
        expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_SAR, gsm[k].n, gsm[k].udh8);
        expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH16, gsm[k].n, gsm[k].udh16);
        free(s);
    }
    for (size_t k = 0; k < sizeof(ucs) / sizeof(ucs[0]); k++) {
        char *s = repeat("ж", ucs[k].n);
        expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, ucs[k].n, ucs[k].udh8);
        expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH16, ucs[k].n, ucs[k].udh16);
        free(s);
    }
    /* 8-bit: 140/141, 134*2/+1, 133 with UDH16 */
    char *s = repeat("a", 140);
    expect_segments(s, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH8, 140, 1);
    free(s);
    s = repeat("a", 141);
    expect_segments(s, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH8, 141, 2);
    free(s);
    s = repeat("a", 268);
    expect_segments(s, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH8, 268, 2);
    expect_segments(s, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH16, 268, 3);
    free(s);
    s = repeat("a", 269);
    expect_segments(s, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_CONCAT_UDH8, 269, 3);
    free(s);
    /* 80 euros = 160 septets: one segment; 81 = 162: two */
    s = repeat("€", 80);
    expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 160, 1);
    free(s);
    /* 81 euros = 162 septets: 76 pairs fit in 153 (152 used), 5 follow */
    s = repeat("€", 81);
    expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 162, 2);
    free(s);
    /* 153 euros = 306 septets: pairs never split -> 76 per part -> 3 parts,
     * although 306 plain septets fit in 2 */
    s = repeat("€", 153);
    expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 306, 3);
    free(s);
    /* 35 emoji = 70 units: one; 36 = 72: two; 67 emoji -> 33 per part -> 3 */
    s = repeat("😀", 35);
    expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 70, 1);
    free(s);
    s = repeat("😀", 67);
    expect_segments(s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 134, 3);
    free(s);
}

/* ---------------------------------------------------------------- split */

struct split_out {
    uint8_t buf[SMPP_TEXT_SPLIT_BUFSZ(SMPP_TEXT_MAX_PARTS)];
    struct smpp_text_part parts[SMPP_TEXT_MAX_PARTS];
    struct smpp_text_split res;
};

static int
do_split(struct split_out *o, const char *text, enum smpp_text_enc enc,
         enum smpp_text_concat c, uint16_t ref, unsigned max_parts)
{
    struct smpp_text_split_opts opt = { .enc = enc, .concat = c, .ref = ref,
                                        .max_parts = max_parts };
    memset(o, 0xEE, sizeof(*o));
    return smpp_text_split(text, strlen(text), &opt, o->buf, sizeof(o->buf), o->parts, &o->res,
                           NULL);
}

static struct split_out *
new_out(void)
{
    struct split_out *o = malloc(sizeof(*o));
    assert_non_null(o);
    return o;
}

static void
test_split_single_part_has_no_udh(void **state)
{
    struct split_out *o = new_out();
    static const enum smpp_text_concat m[] = { SMPP_TEXT_CONCAT_UDH8, SMPP_TEXT_CONCAT_UDH16,
                                               SMPP_TEXT_CONCAT_SAR, SMPP_TEXT_CONCAT_PAYLOAD };
    char *s160 = repeat("a", 160);

    (void)state;
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(do_split(o, s160, SMPP_TEXT_ENC_AUTO, m[k], 7, 1), 0);
        assert_int_equal(o->res.nparts, 1);
        assert_int_equal(o->res.data_coding, 0);
        assert_int_equal(o->parts[0].len, 160);
        assert_int_equal(o->parts[0].units, 160);
        assert_int_equal(o->parts[0].esm_udhi, 0);
        assert_false(o->parts[0].sar);
        assert_false(o->parts[0].payload);
        assert_ptr_equal(o->parts[0].sm, o->buf);
        assert_memory_equal(o->parts[0].sm, s160, 160);
        assert_int_equal(o->res.used, 160);
    }
    assert_int_equal(do_split(o, "", SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 7, 1), 0);
    assert_int_equal(o->res.nparts, 1);
    assert_int_equal(o->parts[0].len, 0);
    free(s160);
    free(o);
}

static void
test_split_udh8_bytes(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("a", 161);
    static const uint8_t h1[] = { 0x05, 0x00, 0x03, 0xAB, 0x02, 0x01 };
    static const uint8_t h2[] = { 0x05, 0x00, 0x03, 0xAB, 0x02, 0x02 };

    (void)state;
    s[0] = '@';  /* 0x00 on the wire */
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 0x12AB, 255), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->res.enc, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(o->parts[0].len, 6 + 153);
    assert_int_equal(o->parts[0].units, 153);
    assert_memory_equal(o->parts[0].sm, h1, 6);
    assert_int_equal(o->parts[0].sm[6], 0x00);
    assert_int_equal(o->parts[0].sm[7], 'a');
    assert_int_equal(o->parts[0].esm_udhi, 0x40);
    assert_false(o->parts[0].sar);
    assert_int_equal(o->parts[1].len, 6 + 8);
    assert_int_equal(o->parts[1].units, 8);
    assert_memory_equal(o->parts[1].sm, h2, 6);
    assert_memory_equal(o->parts[1].sm + 6, "aaaaaaaa", 8);
    assert_int_equal(o->parts[1].esm_udhi, 0x40);
    assert_ptr_equal(o->parts[1].sm, o->parts[0].sm + o->parts[0].len);
    assert_int_equal(o->res.used, 159 + 14);

    /* 306 -> exactly 2 full parts, 307 -> 3rd with one septet */
    free(s);
    s = repeat("b", 307);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 255), 0);
    assert_int_equal(o->res.nparts, 3);
    assert_int_equal(o->parts[0].units, 153);
    assert_int_equal(o->parts[1].units, 153);
    assert_int_equal(o->parts[2].units, 1);
    assert_int_equal(o->parts[2].sm[4], 3);
    assert_int_equal(o->parts[2].sm[5], 3);
    free(s);
    free(o);
}

static void
test_split_udh16_bytes(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("z", 153);
    char *t = cat3(s, "ABCDEFGH", "");
    static const uint8_t h1[] = { 0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01 };
    static const uint8_t h2[] = { 0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02 };

    (void)state;
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_GSM7, SMPP_TEXT_CONCAT_UDH16, 0x1234, 2), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->parts[0].len, 7 + 152);
    assert_memory_equal(o->parts[0].sm, h1, 7);
    assert_int_equal(o->parts[1].len, 7 + 9);
    assert_memory_equal(o->parts[1].sm, h2, 7);
    assert_memory_equal(o->parts[1].sm + 7, "zABCDEFGH", 9);
    assert_int_equal(o->parts[1].esm_udhi, 0x40);
    free(s);
    free(t);
    free(o);
}

static void
test_split_sar(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("q", 200);

    (void)state;
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_SAR, 0xBEEF, 255), 0);
    assert_int_equal(o->res.nparts, 2);
    for (unsigned k = 0; k < 2; k++) {
        assert_int_equal(o->parts[k].esm_udhi, 0);
        assert_true(o->parts[k].sar);
        assert_false(o->parts[k].payload);
        assert_int_equal(o->parts[k].sar_ref, 0xBEEF);
        assert_int_equal(o->parts[k].sar_total, 2);
        assert_int_equal(o->parts[k].sar_seq, k + 1);
        assert_int_equal(o->parts[k].sm[0], 'q'); /* no UDH */
    }
    assert_int_equal(o->parts[0].len, 153);
    assert_int_equal(o->parts[1].len, 47);
    free(s);
    free(o);
}

static void
test_split_payload(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("p", 1000);

    (void)state;
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_PAYLOAD, 1, 1), 0);
    assert_int_equal(o->res.nparts, 1);
    assert_true(o->parts[0].payload);
    assert_false(o->parts[0].sar);
    assert_int_equal(o->parts[0].esm_udhi, 0);
    assert_int_equal(o->parts[0].len, 1000);
    assert_memory_equal(o->parts[0].sm, s, 1000);
    free(s);

    /* UCS-2: 512 units = 1024 octets fit, 513 do not */
    s = repeat("ж", 512);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_PAYLOAD, 1, 1), 0);
    assert_int_equal(o->parts[0].len, 1024);
    assert_int_equal(o->parts[0].sm[0], 0x04);
    assert_int_equal(o->parts[0].sm[1], 0x36);
    assert_int_equal(o->res.data_coding, 8);
    struct smpp_text_info i;
    assert_int_equal(smpp_text_measure(s, strlen(s), SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_PAYLOAD,
                                       &i, NULL), 0);
    assert_int_equal(i.pdus, 1);
    assert_int_equal(i.segments, 8);   /* 512 / 67 on the air */
    free(s);
    s = repeat("ж", 513);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_PAYLOAD, 1, 1),
                     SMPP_TEXT_E_TOOLONG);
    assert_int_equal(smpp_text_measure(s, strlen(s), SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_PAYLOAD,
                                       &i, NULL), SMPP_TEXT_E_TOOLONG);
    free(s);
    /* packed GSM: 1170 septets = 1024 octets */
    s = repeat("g", 1170);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_GSM7_PACKED, SMPP_TEXT_CONCAT_PAYLOAD, 1, 1), 0);
    assert_int_equal(o->parts[0].len, 1024);
    assert_int_equal(o->parts[0].units, 1170);
    free(s);
    free(o);
}

static void
test_split_escape_pair_moves(void **state)
{
    struct split_out *o = new_out();
    char *a152 = repeat("a", 152);
    char *t = cat3(a152, "€", "bbbbbbbbbb");  /* 152 + 2 + 10 = 164 septets */
    static const uint8_t tail[] = { 0x1B, 0x65, 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b', 'b' };

    (void)state;
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 9, 255), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->parts[0].units, 152);
    assert_int_equal(o->parts[0].len, 6 + 152);
    assert_int_equal(o->parts[0].sm[6 + 151], 'a');
    assert_int_equal(o->parts[1].units, 12);
    assert_memory_equal(o->parts[1].sm + 6, tail, sizeof(tail));

    /* The pair exactly fills the segment when it starts at 151 */
    free(t);
    t = cat3(a152 + 1, "€", "bbbbbbbbbb");   /* 151 + 2 + 10 */
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 9, 255), 0);
    assert_int_equal(o->parts[0].units, 153);
    assert_int_equal(o->parts[0].sm[6 + 151], 0x1B);
    assert_int_equal(o->parts[0].sm[6 + 152], 0x65);
    assert_int_equal(o->parts[1].units, 10);
    free(t);
    free(a152);
    free(o);
}

static void
test_split_surrogate_pair_moves(void **state)
{
    struct split_out *o = new_out();
    char *zh = repeat("ж", 66);
    char *t = cat3(zh, "😀", "xyz");   /* 66 + 2 + 3 = 71 units */
    static const uint8_t tail[] = { 0xD8, 0x3D, 0xDE, 0x00, 0x00, 'x', 0x00, 'y', 0x00, 'z' };

    (void)state;
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 3, 255), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->res.data_coding, 8);
    assert_int_equal(o->parts[0].units, 66);
    assert_int_equal(o->parts[0].len, 6 + 132);
    assert_int_equal(o->parts[1].units, 5);
    assert_int_equal(o->parts[1].len, 6 + 10);
    assert_memory_equal(o->parts[1].sm + 6, tail, sizeof(tail));
    free(t);
    free(zh);
    free(o);
}

static void
test_split_packed_udh(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("a", 158);
    char *t = cat3(s, "hello", "");    /* 153 + 10 */
    static const uint8_t p2[] = { 0x05, 0x00, 0x03, 0x42, 0x02, 0x02,
                                  0xC2, 0xE1, 0x70, 0x38, 0x8C, 0x2E, 0xB3, 0xD9, 0x6F };
    char dec[256];
    size_t dlen;

    (void)state;
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_GSM7_PACKED, SMPP_TEXT_CONCAT_UDH8, 0x42, 255), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->parts[0].units, 153);
    assert_int_equal(o->parts[0].len, 140);        /* 6 + (1 + 153*7)/8 */
    assert_int_equal(o->parts[1].units, 10);
    assert_int_equal(o->parts[1].len, sizeof(p2));
    assert_memory_equal(o->parts[1].sm, p2, sizeof(p2));
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, o->parts[0].sm,
                                      o->parts[0].len, 6, 0, dec, sizeof(dec), &dlen), 0);
    assert_int_equal(dlen, 153);
    assert_memory_equal(dec, t, 153);
    assert_int_equal(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, o->parts[1].sm,
                                      o->parts[1].len, 6, 0, dec, sizeof(dec), &dlen), 0);
    assert_string_equal(dec, "aaaaahello");

    /* UDH16: 152 septets, no fill, 140 octets */
    assert_int_equal(do_split(o, t, SMPP_TEXT_ENC_GSM7_PACKED, SMPP_TEXT_CONCAT_UDH16, 1, 255), 0);
    assert_int_equal(o->parts[0].units, 152);
    assert_int_equal(o->parts[0].len, 140);
    free(s);
    free(t);
    free(o);
}

static void
test_split_limits(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("a", 307);
    struct smpp_text_split_opts opt = { SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 3 };
    uint8_t small[100];
    struct smpp_text_part parts[3];
    struct smpp_text_split res;
    size_t off;

    (void)state;
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 2),
                     SMPP_TEXT_E_TOOLONG);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 3), 0);
    assert_int_equal(smpp_text_split(s, strlen(s), &opt, small, sizeof(small), parts, &res, NULL),
                     SMPP_TEXT_E_SPACE);
    free(s);
    /* Room for part 1 and half of part 2's UDH; then exactly enough. */
    s = repeat("a", 161);
    uint8_t *exact = malloc(159 + 14);
    assert_non_null(exact);
    assert_int_equal(smpp_text_split(s, 161, &opt, exact, 159 + 3, parts, &res, NULL),
                     SMPP_TEXT_E_SPACE);
    assert_int_equal(smpp_text_split(s, 161, &opt, exact, 159 + 13, parts, &res, NULL),
                     SMPP_TEXT_E_SPACE);
    assert_int_equal(smpp_text_split(s, 161, &opt, exact, 159 + 14, parts, &res, NULL), 0);
    assert_int_equal(res.used, 159 + 14);
    free(exact);
    free(s);
    /* 255 parts is the ceiling */
    s = repeat("a", 153 * 255);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 255), 0);
    assert_int_equal(o->res.nparts, 255);
    assert_int_equal(o->parts[254].sm[4], 255);
    assert_int_equal(o->parts[254].sm[5], 255);
    free(s);
    s = repeat("a", 153 * 255 + 1);
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, 1, 255),
                     SMPP_TEXT_E_TOOLONG);
    free(s);
    /* bad arguments */
    opt.max_parts = 0;
    assert_int_equal(smpp_text_split("a", 1, &opt, small, sizeof(small), parts, &res, NULL),
                     SMPP_TEXT_E_INVAL);
    opt.max_parts = 256;
    assert_int_equal(smpp_text_split("a", 1, &opt, small, sizeof(small), parts, &res, NULL),
                     SMPP_TEXT_E_INVAL);
    opt.max_parts = 1;
    opt.enc = SMPP_TEXT_ENC_BINARY;
    assert_int_equal(smpp_text_split("a", 1, &opt, small, sizeof(small), parts, &res, NULL),
                     SMPP_TEXT_E_INVAL);
    opt.enc = SMPP_TEXT_ENC_GSM7;
    off = 0;
    assert_int_equal(smpp_text_split("ab😀", 6, &opt, small, sizeof(small), parts, &res, &off),
                     SMPP_TEXT_E_CHARSET);
    assert_int_equal(off, 2);
    free(o);
}

static void
test_split_binary(void **state)
{
    struct split_out *o = new_out();
    struct smpp_text_split_opts opt = { SMPP_TEXT_ENC_BINARY, SMPP_TEXT_CONCAT_UDH8, 0x77, 255 };
    uint8_t data[300];

    (void)state;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    assert_int_equal(smpp_text_split_binary(data, 140, &opt, o->buf, sizeof(o->buf), o->parts,
                                            &o->res), 0);
    assert_int_equal(o->res.nparts, 1);
    assert_int_equal(o->res.data_coding, 4);
    assert_int_equal(o->parts[0].len, 140);
    assert_memory_equal(o->parts[0].sm, data, 140);

    assert_int_equal(smpp_text_split_binary(data, 141, &opt, o->buf, sizeof(o->buf), o->parts,
                                            &o->res), 0);
    assert_int_equal(o->res.nparts, 2);
    assert_int_equal(o->parts[0].len, 140);
    assert_int_equal(o->parts[0].sm[3], 0x77);
    assert_memory_equal(o->parts[0].sm + 6, data, 134);
    assert_int_equal(o->parts[1].len, 6 + 7);
    assert_memory_equal(o->parts[1].sm + 6, data + 134, 7);

    opt.concat = SMPP_TEXT_CONCAT_UDH16;
    assert_int_equal(smpp_text_split_binary(data, 267, &opt, o->buf, sizeof(o->buf), o->parts,
                                            &o->res), 0);
    assert_int_equal(o->res.nparts, 3);
    assert_int_equal(o->parts[0].len, 140);
    assert_int_equal(o->parts[1].len, 140);
    assert_int_equal(o->parts[2].len, 7 + 1);
    assert_int_equal(o->parts[2].sm[7], data[266]);
    free(o);
}

/* ---------------------------------------------------------------- UDH parse */

static void
test_udh_parse_valid(void **state)
{
    struct smpp_text_udh u;
    static const uint8_t u8[] = { 0x05, 0x00, 0x03, 0xAA, 0x03, 0x02, 'h', 'i' };
    static const uint8_t u16[] = { 0x06, 0x08, 0x04, 0x12, 0x34, 0x05, 0x05, 'x' };
    /* port addressing IE (0x05, len 4) then concat 8-bit */
    static const uint8_t mixed[] = { 0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,
                                     0x00, 0x03, 0x07, 0x02, 0x01, 'z' };
    /* two concat IEs: the last counts */
    static const uint8_t twice[] = { 0x0B, 0x00, 0x03, 0x01, 0x02, 0x01,
                                     0x08, 0x04, 0xAB, 0xCD, 0x04, 0x03 };

    (void)state;
    assert_int_equal(smpp_text_udh_parse(u8, sizeof(u8), 0x40, &u), 0);
    assert_true(u.concat);
    assert_false(u.ref16);
    assert_int_equal(u.ref, 0xAA);
    assert_int_equal(u.total, 3);
    assert_int_equal(u.seq, 2);
    assert_int_equal(u.text_off, 6);

    assert_int_equal(smpp_text_udh_parse(u16, sizeof(u16), 0x43, &u), 0);
    assert_true(u.concat);
    assert_true(u.ref16);
    assert_int_equal(u.ref, 0x1234);
    assert_int_equal(u.total, 5);
    assert_int_equal(u.seq, 5);
    assert_int_equal(u.text_off, 7);

    assert_int_equal(smpp_text_udh_parse(mixed, sizeof(mixed), 0x40, &u), 0);
    assert_true(u.concat);
    assert_int_equal(u.ref, 7);
    assert_int_equal(u.total, 2);
    assert_int_equal(u.seq, 1);
    assert_int_equal(u.text_off, 12);

    assert_int_equal(smpp_text_udh_parse(twice, sizeof(twice), 0x40, &u), 0);
    assert_true(u.ref16);
    assert_int_equal(u.ref, 0xABCD);
    assert_int_equal(u.seq, 3);
    assert_int_equal(u.text_off, 12);    /* text empty */

    /* no UDHI: the bytes are text */
    assert_int_equal(smpp_text_udh_parse(u8, sizeof(u8), 0x00, &u), 0);
    assert_false(u.concat);
    assert_int_equal(u.text_off, 0);
    assert_int_equal(smpp_text_udh_parse(NULL, 0, 0x00, &u), 0);

    /* empty UDH, and a UDH with no concat IE */
    assert_int_equal(smpp_text_udh_parse((const uint8_t *)"\x00hi", 3, 0x40, &u), 0);
    assert_false(u.concat);
    assert_int_equal(u.text_off, 1);
}

static void
test_udh_parse_malformed(void **state)
{
    static const struct { const uint8_t *sm; size_t len; } bad[] = {
        { (const uint8_t *)"", 0 },                                   /* UDHI but nothing */
        { (const uint8_t *)"\x05\x00\x03\x01\x02", 5 },               /* UDHL past end */
        { (const uint8_t *)"\x05\x00\x03\x01\x02\x01", 5 },           /* truncated by 1 */
        { (const uint8_t *)"\xFF\x00\x03\x01\x02\x01", 6 },           /* UDHL lies */
        { (const uint8_t *)"\x05\x00\x04\x01\x02\x01", 6 },           /* IE runs past UDHL */
        { (const uint8_t *)"\x05\x24\x05\x01\x02\x01\x41\x41", 8 },   /* other IE past UDHL */
        { (const uint8_t *)"\x03\x00\x03\x01", 4 },                   /* concat IE past UDHL and sm */
        { (const uint8_t *)"\x03\x00\x03\x01\x02\x01", 6 },           /* concat IE past UDHL */
        { (const uint8_t *)"\x04\x00\x02\x01\x02hi", 7 },             /* concat IEL 2 != 3 */
        { (const uint8_t *)"\x06\x00\x04\x01\x02\x01\x01", 7 },       /* concat IEL 4 != 3 */
        { (const uint8_t *)"\x05\x08\x03\x00\x01\x02", 6 },           /* 16-bit IEL 3 != 4 */
        { (const uint8_t *)"\x06\x00\x03\x01\x02\x01\x24", 7 },       /* trailing lone IEI */
        { (const uint8_t *)"\x01\x00", 2 },                           /* IE header cut */
        { (const uint8_t *)"\x07\x05\x04\x0B\x84\x23\xF0\x08", 8 },   /* second IE header cut */
    };
    struct smpp_text_udh u;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(smpp_text_udh_parse(bad[i].sm, bad[i].len, 0x40, &u), SMPP_TEXT_E_UDH);

    /* Well formed but meaningless values: IE ignored (23.040) */
    static const uint8_t zero_seq[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x00 };
    static const uint8_t seq_gt[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x03 };
    static const uint8_t zero_tot[] = { 0x06, 0x08, 0x04, 0x01, 0x02, 0x00, 0x00 };
    assert_int_equal(smpp_text_udh_parse(zero_seq, 6, 0x40, &u), 0);
    assert_false(u.concat);
    assert_int_equal(u.text_off, 6);
    assert_int_equal(smpp_text_udh_parse(seq_gt, 6, 0x40, &u), 0);
    assert_false(u.concat);
    assert_int_equal(smpp_text_udh_parse(zero_tot, 7, 0x40, &u), 0);
    assert_false(u.concat);
}

/* Parts produced by split parse back to the right concat values. */
static void
test_split_then_parse(void **state)
{
    struct split_out *o = new_out();
    char *s = repeat("Ω", 400);
    struct smpp_text_udh u;
    char dec[1024];
    size_t dlen, total = 0;

    (void)state;
    assert_int_equal(do_split(o, s, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH16, 0xCAFE, 255), 0);
    assert_int_equal(o->res.nparts, 3);
    for (unsigned k = 0; k < o->res.nparts; k++) {
        assert_int_equal(smpp_text_udh_parse(o->parts[k].sm, o->parts[k].len,
                                             o->parts[k].esm_udhi, &u), 0);
        assert_true(u.concat);
        assert_true(u.ref16);
        assert_int_equal(u.ref, 0xCAFE);
        assert_int_equal(u.total, 3);
        assert_int_equal(u.seq, k + 1);
        assert_int_equal(smpp_text_decode(o->res.data_coding, SMPP_TEXT_ENC_GSM7, o->parts[k].sm,
                                          o->parts[k].len, u.text_off, 0, dec, sizeof(dec), &dlen), 0);
        assert_memory_equal(dec, s + total, dlen);
        total += dlen;
    }
    assert_int_equal(total, strlen(s));
    free(s);
    free(o);
}

static void
test_null_with_length_is_inval(void **state)
{
    uint8_t o8[8];
    char oc[8];
    size_t len;
    struct smpp_text_info i;

    (void)state;
    assert_int_equal(smpp_text_gsm7_encode(NULL, 3, o8, sizeof(o8), &len, NULL), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_encode("abc", 3, NULL, 8, &len, NULL), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_ucs2_decode(NULL, 2, oc, sizeof(oc), &len), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_decode(NULL, 2, oc, sizeof(oc), &len), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_pack(NULL, 2, 0, o8, sizeof(o8), &len), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_gsm7_unpack(NULL, 2, 0, 1, o8, sizeof(o8), &len), SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_measure(NULL, 1, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, &i, NULL),
                     SMPP_TEXT_E_INVAL);
    assert_int_equal(smpp_text_udh_parse(NULL, 1, 0x40, &(struct smpp_text_udh){ 0 }),
                     SMPP_TEXT_E_INVAL);
    /* empty input with NULL is fine */
    assert_int_equal(smpp_text_gsm7_encode(NULL, 0, NULL, 0, &len, NULL), 0);
    assert_int_equal(len, 0);
    assert_int_equal(smpp_text_measure(NULL, 0, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8, &i, NULL), 0);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(smpp_text_strerror(SMPP_TEXT_E_UTF8), "E_UTF8");
    assert_string_equal(smpp_text_strerror(SMPP_TEXT_E_UDH), "E_UDH");
    assert_string_equal(smpp_text_strerror(-100), "E_UNKNOWN");
    assert_string_equal(smpp_text_enc_name(SMPP_TEXT_ENC_LATIN1), "latin1");
    assert_string_equal(smpp_text_enc_name(SMPP_TEXT_ENC_GSM7_PACKED), "gsm7-packed");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gsm_basic_table_roundtrip),
        cmocka_unit_test(test_gsm_specific_codes),
        cmocka_unit_test(test_gsm_ext_chars),
        cmocka_unit_test(test_gsm_reverse_table_exact),
        cmocka_unit_test(test_gsm_decode_escape_edges),
        cmocka_unit_test(test_gsm_not_representable),
        cmocka_unit_test(test_pack_known_vectors),
        cmocka_unit_test(test_pack_padding_ambiguity),
        cmocka_unit_test(test_pack_in_place_all_lengths),
        cmocka_unit_test(test_ucs2_surrogates),
        cmocka_unit_test(test_ucs2_broken_surrogates),
        cmocka_unit_test(test_utf8_invalid_rejected),
        cmocka_unit_test(test_latin1),
        cmocka_unit_test(test_ia5_decode),
        cmocka_unit_test(test_decode_output_space),
        cmocka_unit_test(test_decode_by_dc),
        cmocka_unit_test(test_decode_packed_after_udh),
        cmocka_unit_test(test_auto_choice),
        cmocka_unit_test(test_segment_boundaries),
        cmocka_unit_test(test_split_single_part_has_no_udh),
        cmocka_unit_test(test_split_udh8_bytes),
        cmocka_unit_test(test_split_udh16_bytes),
        cmocka_unit_test(test_split_sar),
        cmocka_unit_test(test_split_payload),
        cmocka_unit_test(test_split_escape_pair_moves),
        cmocka_unit_test(test_split_surrogate_pair_moves),
        cmocka_unit_test(test_split_packed_udh),
        cmocka_unit_test(test_split_limits),
        cmocka_unit_test(test_split_binary),
        cmocka_unit_test(test_udh_parse_valid),
        cmocka_unit_test(test_udh_parse_malformed),
        cmocka_unit_test(test_split_then_parse),
        cmocka_unit_test(test_null_with_length_is_inval),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
