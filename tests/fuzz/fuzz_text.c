/*
 * libFuzzer target for smpp/smpp_text: every decoder, the UDH parser, the
 * packer and the encoders/segmenter on arbitrary bytes, with consistency
 * checks that abort on violation.
 *
 * Input: byte 0 selects parameters (max_parts, small output sizes, data
 * coding), the rest is used three ways: as raw short_message bytes for the
 * decoders and the UDH parser, as (probably invalid) UTF-8 for the encoders,
 * and — through a fixed map of byte pairs to interesting code points — as a
 * valid UTF-8 text that drives the segmenter across its boundaries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_text.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static const enum smpp_text_enc dc0s[] = {
    SMPP_TEXT_ENC_GSM7, SMPP_TEXT_ENC_GSM7_PACKED, SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_ENC_IA5,
};

/* ---------------------------------------------------------------- decoders */

/* Decode with a roomy buffer, then with an exact-size small one. */
static void
check_decode(uint8_t dc, enum smpp_text_enc dc0, const uint8_t *sm, size_t len,
             size_t off, unsigned flags, size_t small)
{
    size_t big = SMPP_TEXT_DECODE_MAX(len), olen = 0, slen = 0;
    char *out = xmalloc(big);
    int rc = smpp_text_decode(dc, dc0, sm, len, off, flags, out, big, &olen);

    CHECK(rc == 0 || rc == SMPP_TEXT_E_DCS || rc == SMPP_TEXT_E_BINARY ||
          rc == SMPP_TEXT_E_INVAL);
    CHECK((rc == SMPP_TEXT_E_INVAL) == (off > len));
    if (rc == 0) {
        CHECK(olen < big);
        CHECK(out[olen] == '\0');
        CHECK(smpp_text_utf8_check(out, olen, NULL) == 0);

        char *s = xmalloc(small);
        int rc2 = smpp_text_decode(dc, dc0, sm, len, off, flags, s, small, &slen);
        CHECK(rc2 == 0 || rc2 == SMPP_TEXT_E_SPACE);
        if (small == 0)
            CHECK(rc2 == SMPP_TEXT_E_SPACE);
        if (rc2 == 0) {
            CHECK(slen == olen);
            CHECK(memcmp(s, out, olen + 1) == 0);
        } else {
            CHECK(olen + 1 > small);
        }
        free(s);
    }
    free(out);
}

static void
check_decoders(const uint8_t *d, size_t n, uint8_t sel)
{
    static const uint8_t dcs[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x10, 0x18,
                                   0xC0, 0xE0, 0xF0, 0xF4 };
    struct smpp_text_udh udh;
    size_t off = 0, small = sel & 0x1F;

    if (smpp_text_udh_parse(d, n, 0x40, &udh) == 0) {
        CHECK(udh.text_off >= 1 && udh.text_off <= n);
        CHECK(udh.text_off == (size_t)d[0] + 1);
        if (udh.concat)
            CHECK(udh.total >= 1 && udh.seq >= 1 && udh.seq <= udh.total);
        off = udh.text_off;
    } else {
        CHECK(!udh.concat && udh.text_off == 0);
    }
    CHECK(smpp_text_udh_parse(d, n, 0x00, &udh) == 0 && udh.text_off == 0 && !udh.concat);

    /* dc0 only matters for GSM-ish values: rotate it instead of multiplying. */
    for (size_t i = 0; i < sizeof(dcs); i++) {
        check_decode(dcs[i], dc0s[(i + sel) & 3], d, n, 0, SMPP_TEXT_DECODE_HEX, small);
        check_decode(dcs[i], dc0s[(i + sel + 1) & 3], d, n, off, 0, small);
    }
    for (size_t j = 0; j < 4; j++)
        check_decode(0x00, dc0s[j], d, n, off, 0, small);
    check_decode(sel, dc0s[sel & 3], d, n, off, SMPP_TEXT_DECODE_HEX, small);
    check_decode(0x08, SMPP_TEXT_ENC_GSM7, d, n, n + 1, 0, small);

    /* Latin-1 is a bijection with U+0000..U+00FF. */
    {
        size_t olen, elen;
        char *u = xmalloc(SMPP_TEXT_DECODE_MAX(n));
        uint8_t *back = xmalloc(n);
        CHECK(smpp_text_latin1_decode(d, n, u, SMPP_TEXT_DECODE_MAX(n), &olen) == 0);
        CHECK(smpp_text_latin1_encode(u, olen, back, n, &elen, NULL) == 0);
        CHECK(elen == n && memcmp(back, d, n) == 0);
        free(back);
        free(u);
    }
    /* UCS-2 and GSM: decoding is idempotent through a re-encode. */
    {
        size_t olen, elen, olen2;
        char *u = xmalloc(SMPP_TEXT_DECODE_MAX(n));
        uint8_t *e = xmalloc(2 * SMPP_TEXT_DECODE_MAX(n));
        char *u2 = xmalloc(SMPP_TEXT_DECODE_MAX(2 * SMPP_TEXT_DECODE_MAX(n)));

        CHECK(smpp_text_ucs2_decode(d, n, u, SMPP_TEXT_DECODE_MAX(n), &olen) == 0);
        CHECK(smpp_text_ucs2_encode(u, olen, e, 2 * SMPP_TEXT_DECODE_MAX(n), &elen, NULL) == 0);
        if (n % 2 == 0)
            CHECK(elen <= n);
        CHECK(smpp_text_ucs2_decode(e, elen, u2, SMPP_TEXT_DECODE_MAX(elen), &olen2) == 0);
        CHECK(olen2 == olen && memcmp(u, u2, olen) == 0);

        CHECK(smpp_text_gsm7_decode(d, n, u, SMPP_TEXT_DECODE_MAX(n), &olen) == 0);
        if (smpp_text_gsm7_encode(u, olen, e, 2 * SMPP_TEXT_DECODE_MAX(n), &elen, NULL) == 0) {
            CHECK(smpp_text_gsm7_decode(e, elen, u2, SMPP_TEXT_DECODE_MAX(elen), &olen2) == 0);
            CHECK(olen2 == olen && memcmp(u, u2, olen) == 0);
        }
        free(u2);
        free(e);
        free(u);
    }
}

/* ---------------------------------------------------------------- packing */

static void
check_packing(const uint8_t *d, size_t n, uint8_t sel)
{
    unsigned fill = sel % 7;
    uint8_t *sept = xmalloc(n), *packed = xmalloc(n + 1), *inplace = xmalloc(n + 1);
    size_t backsz = n + n / 7 + 2;       /* 8 septets per 7 octets */
    uint8_t *back = xmalloc(backsz);
    size_t plen, plen2, blen;

    for (size_t i = 0; i < n; i++)
        sept[i] = d[i] & 0x7F;
    CHECK(smpp_text_gsm7_pack(sept, n, fill, packed, n + 1, &plen) == 0);
    CHECK(plen == (n ? (fill + 7 * n + 7) / 8 : 0));
    memcpy(inplace, sept, n);
    CHECK(smpp_text_gsm7_pack(inplace, n, fill, inplace, n + 1, &plen2) == 0);
    CHECK(plen2 == plen && memcmp(inplace, packed, plen) == 0);
    CHECK(smpp_text_gsm7_unpack(packed, plen, fill, n, back, backsz, &blen) == 0);
    CHECK(blen == n && memcmp(back, sept, n) == 0);
    /* Unknown count: exact, or one phantom/padding septet less at a 7-bit tail. */
    CHECK(smpp_text_gsm7_unpack(packed, plen, fill, SIZE_MAX, back, backsz, &blen) == 0);
    CHECK(memcmp(back, sept, blen < n ? blen : n) == 0);
    if (blen != n) {
        CHECK(blen + 1 == n);
        CHECK(sept[n - 1] == 0x00 || sept[n - 1] == 0x0D);
    }
    /* Raw bytes as packed data: never more septets than bits allow. */
    CHECK(smpp_text_gsm7_unpack(d, n, fill, SIZE_MAX, back, backsz, &blen) == 0);
    CHECK(blen == 0 || blen * 7 + fill <= n * 8);
    free(back);
    free(inplace);
    free(packed);
    free(sept);
}

/* ---------------------------------------------------------------- encoders */

static size_t
put_utf8(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (char)(0xF0 | (cp >> 18));
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Code points that sit on the interesting edges of the encoders. */
static const uint32_t palette[] = {
    'a', 'Z', '0', ' ', '@', '$', '_', '\n', '\r', 0x1B, '`', 0x00, 0x7F,
    0x0C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC,            /* extension */
    0xA3, 0xA5, 0xE8, 0xC7, 0xE7, 0xDF, 0xE0, 0xFF, 0xA0, 0x80,      /* Latin-1 */
    0x394, 0x3A9, 0x3B1, 0x416, 0x5D0, 0x4E2D, 0xFFFD, 0xFEFF, 0xFFFF, /* BMP */
    0x1F600, 0x10000, 0x10FFFF, 0x1F44D,                              /* astral */
};

/* Whole-text checks that do not depend on the concat method. */
static void
check_codecs(const char *t, size_t len)
{
    size_t cap = 4 * len + 8, elen, dlen, off;
    uint8_t *e = xmalloc(cap);
    char *u = xmalloc(SMPP_TEXT_DECODE_MAX(cap));
    int rc;

    CHECK(smpp_text_ucs2_encode(t, len, e, cap, &elen, NULL) == 0);
    CHECK(smpp_text_ucs2_decode(e, elen, u, SMPP_TEXT_DECODE_MAX(elen), &dlen) == 0);
    CHECK(dlen == len && memcmp(u, t, len) == 0);

    rc = smpp_text_latin1_encode(t, len, e, cap, &elen, &off);
    CHECK(rc == 0 || rc == SMPP_TEXT_E_CHARSET);
    if (rc == 0) {
        CHECK(smpp_text_latin1_decode(e, elen, u, SMPP_TEXT_DECODE_MAX(elen), &dlen) == 0);
        CHECK(dlen == len && memcmp(u, t, len) == 0);
    } else {
        CHECK(off < len && (uint8_t)t[off] >= 0xC4);
    }

    rc = smpp_text_gsm7_encode(t, len, e, cap, &elen, &off);
    CHECK(rc == 0 || rc == SMPP_TEXT_E_CHARSET);
    if (rc == 0) {
        CHECK(smpp_text_gsm7_decode(e, elen, u, SMPP_TEXT_DECODE_MAX(elen), &dlen) == 0);
        CHECK(dlen == len && memcmp(u, t, len) == 0);
        /* Packed, decoded by data_coding with the count unknown. */
        uint8_t *p = xmalloc(elen + 1);
        size_t plen;
        CHECK(smpp_text_gsm7_pack(e, elen, 0, p, elen + 1, &plen) == 0);
        CHECK(smpp_text_decode(0, SMPP_TEXT_ENC_GSM7_PACKED, p, plen, 0, 0, u,
                               SMPP_TEXT_DECODE_MAX(plen), &dlen) == 0);
        if (dlen != len) {
            /* the documented ambiguity: a final '@' or CR at 8k septets */
            CHECK(dlen + 1 == len && (t[len - 1] == '@' || t[len - 1] == '\r'));
            CHECK(elen % 8 == 0);
        }
        CHECK(memcmp(u, t, dlen) == 0);
        free(p);
    } else {
        CHECK(off < len);
    }
    free(u);
    free(e);
}

/* Greedy check helper: units the first character of a part's text costs. */
static unsigned
first_cost(enum smpp_text_enc enc, const uint8_t *text, size_t len)
{
    if (len == 0)
        return 0;
    if (enc == SMPP_TEXT_ENC_GSM7)
        return text[0] == 0x1B ? 2 : 1;
    if (enc == SMPP_TEXT_ENC_UCS2)
        return len >= 2 && (text[0] & 0xFC) == 0xD8 ? 2 : 1;
    return 1;
}

static void
check_split(const char *t, size_t len, enum smpp_text_enc enc, enum smpp_text_concat c,
            unsigned max_parts, uint16_t ref)
{
    struct smpp_text_info info;
    struct smpp_text_split_opts opt = { enc, c, ref, max_parts };
    size_t off1 = 0, off2 = 0;
    int mrc = smpp_text_measure(t, len, enc, c, &info, &off1);
    /* The documented bound, but only for as many parts as will be used, so
     * that ASan sees the end of a buffer the splitter might overrun. */
    unsigned need = mrc == 0 && info.segments < max_parts ? info.segments : max_parts;
    size_t bufsz = SMPP_TEXT_SPLIT_BUFSZ(need);
    uint8_t *buf = xmalloc(bufsz);
    struct smpp_text_part *parts = xmalloc(max_parts * sizeof(*parts));
    struct smpp_text_split res;
    int src = smpp_text_split(t, len, &opt, buf, bufsz, parts, &res, &off2);

    CHECK(mrc == 0 || mrc == SMPP_TEXT_E_CHARSET || mrc == SMPP_TEXT_E_TOOLONG);
    if (mrc == SMPP_TEXT_E_CHARSET) {
        CHECK(enc != SMPP_TEXT_ENC_AUTO && enc != SMPP_TEXT_ENC_UCS2);
        CHECK(src == mrc && off1 == off2 && off1 < len);
        goto out;
    }
    CHECK(info.enc != SMPP_TEXT_ENC_AUTO);
    CHECK(info.segments >= 1);
    CHECK(info.pdus == (c == SMPP_TEXT_CONCAT_PAYLOAD ? 1 : info.segments));
    if (enc == SMPP_TEXT_ENC_AUTO)
        CHECK(info.enc == SMPP_TEXT_ENC_GSM7 || info.enc == SMPP_TEXT_ENC_UCS2);
    else
        CHECK(info.enc == enc);
    if (mrc == SMPP_TEXT_E_TOOLONG) {
        CHECK(c == SMPP_TEXT_CONCAT_PAYLOAD && info.octets > SMPP_TEXT_PAYLOAD_MAX);
        CHECK(src == SMPP_TEXT_E_TOOLONG);
        goto out;
    }
    if (c != SMPP_TEXT_CONCAT_PAYLOAD && info.segments > max_parts) {
        CHECK(src == SMPP_TEXT_E_TOOLONG);
        goto out;
    }
    CHECK(src == 0);
    CHECK(res.enc == info.enc && res.data_coding == info.data_coding);
    CHECK(res.used <= bufsz);

    bool gsm = info.enc == SMPP_TEXT_ENC_GSM7 || info.enc == SMPP_TEXT_ENC_GSM7_PACKED;
    bool packed = info.enc == SMPP_TEXT_ENC_GSM7_PACKED;
    unsigned single = gsm ? 160 : info.enc == SMPP_TEXT_ENC_UCS2 ? 70 : 140;
    unsigned udhlen = c == SMPP_TEXT_CONCAT_UDH8 ? 6 : c == SMPP_TEXT_CONCAT_UDH16 ? 7 : 0;
    unsigned cap = c == SMPP_TEXT_CONCAT_UDH16 ? single - (gsm ? 8 : info.enc == SMPP_TEXT_ENC_UCS2 ? 4 : 7)
                                               : single - (gsm ? 7 : info.enc == SMPP_TEXT_ENC_UCS2 ? 3 : 6);
    bool multi = info.segments > 1 && c != SMPP_TEXT_CONCAT_PAYLOAD;
    bool payload = info.segments > 1 && c == SMPP_TEXT_CONCAT_PAYLOAD;

    CHECK(res.nparts == (multi ? info.segments : 1));
    size_t units = 0, dlen, total = 0;
    char *u = xmalloc(SMPP_TEXT_DECODE_MAX(2 * SMPP_TEXT_PAYLOAD_MAX));
    const uint8_t *expect_sm = buf;
    for (unsigned k = 0; k < res.nparts; k++) {
        const struct smpp_text_part *p = &parts[k];
        struct smpp_text_udh udh;

        CHECK(p->sm == expect_sm);       /* contiguous in buf */
        expect_sm += p->len;
        CHECK(p->payload == payload);
        units += p->units;
        if (payload) {
            CHECK(p->len <= SMPP_TEXT_PAYLOAD_MAX && p->esm_udhi == 0 && !p->sar);
        } else {
            CHECK(p->len <= SMPP_TEXT_SM_MAX);
            CHECK(p->units <= (multi ? cap : single));
            /* on the air: at most 140 octets */
            size_t air = gsm && !packed ? (multi ? udhlen : 0) * 8 + 7u * p->units
                                        : 8u * p->len;
            if (gsm && !packed && multi && udhlen == 6)
                air += 1;                /* fill bit */
            CHECK(air <= 140 * 8);
        }
        if (!multi) {
            CHECK(p->esm_udhi == 0 && !p->sar);
            if (!payload)
                CHECK(p->units <= single);
        } else if (udhlen) {
            CHECK(p->esm_udhi == 0x40 && !p->sar);
            CHECK(smpp_text_udh_parse(p->sm, p->len, p->esm_udhi, &udh) == 0);
            CHECK(udh.concat && udh.text_off == udhlen);
            CHECK(udh.ref16 == (c == SMPP_TEXT_CONCAT_UDH16));
            CHECK(udh.ref == (udh.ref16 ? ref : (ref & 0xFF)));
            CHECK(udh.total == res.nparts && udh.seq == k + 1);
        } else {
            CHECK(p->esm_udhi == 0 && p->sar && p->sar_ref == ref);
            CHECK(p->sar_total == res.nparts && p->sar_seq == k + 1);
        }
        size_t toff = multi ? udhlen : 0;
        CHECK(p->len >= toff);
        /* greedy: the next part's first character did not fit here */
        if (multi && k + 1 < res.nparts) {
            const struct smpp_text_part *q = &parts[k + 1];
            CHECK(p->units >= 1);
            if (!packed)
                CHECK(p->units + first_cost(info.enc, q->sm + toff, q->len - toff) > cap);
        }
        /* decode the part and compare with the matching slice of t */
        if (packed) {
            unsigned fill = (unsigned)((7 - (toff * 8) % 7) % 7);
            uint8_t *sept = xmalloc(p->units + 1);
            size_t n;
            CHECK(smpp_text_gsm7_unpack(p->sm + toff, p->len - toff, fill, p->units, sept,
                                        p->units + 1, &n) == 0);
            CHECK(n == p->units);
            CHECK(smpp_text_gsm7_decode(sept, n, u, SMPP_TEXT_DECODE_MAX(n), &dlen) == 0);
            if (multi && k + 1 < res.nparts)
                CHECK(!(n > 0 && sept[n - 1] == 0x1B)); /* escape pair kept whole */
            free(sept);
            /* ... and by data_coding: equal but for the documented tail */
            size_t dlen2;
            char *u2 = xmalloc(SMPP_TEXT_DECODE_MAX(p->len));
            CHECK(smpp_text_decode(res.data_coding, SMPP_TEXT_ENC_GSM7_PACKED, p->sm, p->len,
                                   toff, 0, u2, SMPP_TEXT_DECODE_MAX(p->len), &dlen2) == 0);
            CHECK(dlen2 <= dlen && memcmp(u, u2, dlen2) == 0);
            if (dlen2 != dlen)
                CHECK(dlen2 + 1 == dlen && (u[dlen2] == '@' || u[dlen2] == '\r'));
            free(u2);
        } else {
            enum smpp_text_enc e;
            CHECK(smpp_text_dc_enc(res.data_coding, SMPP_TEXT_ENC_GSM7, &e) == 0);
            if (info.enc == SMPP_TEXT_ENC_IA5)
                CHECK(e == SMPP_TEXT_ENC_IA5);
            CHECK(smpp_text_decode(res.data_coding, SMPP_TEXT_ENC_GSM7, p->sm, p->len, toff, 0, u,
                                   SMPP_TEXT_DECODE_MAX(p->len), &dlen) == 0);
        }
        CHECK(total + dlen <= len && memcmp(u, t + total, dlen) == 0);
        total += dlen;
    }
    CHECK(total == len);
    CHECK(units == info.units);
    CHECK((size_t)(expect_sm - buf) == res.used);
    free(u);

    /* An exact-size buffer gives the same bytes; one octet less, E_SPACE. */
    {
        uint8_t *exact = xmalloc(res.used);
        struct smpp_text_split res2;
        CHECK(smpp_text_split(t, len, &opt, exact, res.used, parts, &res2, NULL) == 0);
        CHECK(res2.used == res.used && res2.nparts == res.nparts);
        CHECK(memcmp(exact, buf, res.used) == 0);
        if (res.used > 0)
            CHECK(smpp_text_split(t, len, &opt, exact, res.used - 1, parts, &res2, NULL) ==
                  SMPP_TEXT_E_SPACE);
        free(exact);
    }
out:
    free(parts);
    free(buf);
}

static void
check_text(const char *t, size_t len, uint8_t sel)
{
    static const enum smpp_text_enc encs[] = {
        SMPP_TEXT_ENC_AUTO, SMPP_TEXT_ENC_GSM7, SMPP_TEXT_ENC_GSM7_PACKED,
        SMPP_TEXT_ENC_LATIN1, SMPP_TEXT_ENC_IA5, SMPP_TEXT_ENC_UCS2,
    };
    unsigned max_parts = 1 + (sel % SMPP_TEXT_MAX_PARTS);
    uint16_t ref = (uint16_t)(sel * 257u + len);

    CHECK(smpp_text_utf8_check(t, len, NULL) == 0);
    check_codecs(t, len);
    for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++)
        for (int c = SMPP_TEXT_CONCAT_UDH8; c <= SMPP_TEXT_CONCAT_PAYLOAD; c++) {
            check_split(t, len, encs[i], (enum smpp_text_concat)c, max_parts, ref);
            check_split(t, len, encs[i], (enum smpp_text_concat)c, SMPP_TEXT_MAX_PARTS, ref);
        }
}

static void
check_raw_utf8(const uint8_t *d, size_t n, uint8_t sel)
{
    size_t off = SIZE_MAX, off2 = SIZE_MAX, elen;
    uint8_t *e = xmalloc(4 * n + 8);
    int rc = smpp_text_utf8_check((const char *)d, n, &off);

    CHECK(rc == 0 || rc == SMPP_TEXT_E_UTF8);
    if (rc == 0) {
        check_text((const char *)d, n, sel);
    } else {
        CHECK(off < n);
        CHECK(smpp_text_utf8_check((const char *)d, off, NULL) == 0);
        CHECK(smpp_text_ucs2_encode((const char *)d, n, e, 4 * n + 8, &elen, &off2) ==
              SMPP_TEXT_E_UTF8);
        CHECK(off2 == off);
        struct smpp_text_info info;
        off2 = SIZE_MAX;
        CHECK(smpp_text_measure((const char *)d, n, SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8,
                                &info, &off2) == SMPP_TEXT_E_UTF8);
        CHECK(off2 == off);
    }
    free(e);
}

/* Byte pairs -> code points from the palette or the whole range. */
static void
check_synth_text(const uint8_t *d, size_t n, uint8_t sel)
{
    char *t = xmalloc(4 * n + 4 * 200 + 1);
    size_t len = 0;
    /* A run of one character first, so long texts reach the boundaries. */
    size_t run = n >= 2 ? (size_t)d[0] % 200 : 0;
    uint32_t runcp = n >= 2 ? palette[d[1] % (sizeof(palette) / sizeof(palette[0]))] : 'a';

    for (size_t i = 0; i < run; i++)
        len += put_utf8(t + len, runcp);
    for (size_t i = 2; i + 1 < n; i += 2) {
        uint32_t cp;
        if (d[i] & 0x80) {
            cp = palette[d[i + 1] % (sizeof(palette) / sizeof(palette[0]))];
        } else {
            cp = ((uint32_t)(d[i] & 0x7F) << 8 | d[i + 1]) * 34u % 0x110000u;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 'x';
        }
        len += put_utf8(t + len, cp);
    }
    check_text(t, len, sel);
    free(t);
}

static void
check_binary_split(const uint8_t *d, size_t n, uint8_t sel)
{
    struct smpp_text_split_opts opt = { SMPP_TEXT_ENC_BINARY, (enum smpp_text_concat)(sel & 3),
                                        (uint16_t)(sel * 31u), 1 + (sel % SMPP_TEXT_MAX_PARTS) };
    size_t bufsz = SMPP_TEXT_SPLIT_BUFSZ(opt.max_parts), total = 0;
    uint8_t *buf = xmalloc(bufsz);
    struct smpp_text_part *parts = xmalloc(opt.max_parts * sizeof(*parts));
    struct smpp_text_split res;
    int rc = smpp_text_split_binary(d, n, &opt, buf, bufsz, parts, &res);

    CHECK(rc == 0 || rc == SMPP_TEXT_E_TOOLONG);
    if (rc == 0) {
        CHECK(res.data_coding == 4);
        for (unsigned k = 0; k < res.nparts; k++) {
            struct smpp_text_udh udh;
            CHECK(smpp_text_udh_parse(parts[k].sm, parts[k].len, parts[k].esm_udhi, &udh) == 0);
            CHECK(parts[k].payload || parts[k].len <= 140);
            CHECK(parts[k].len - udh.text_off == parts[k].units);
            CHECK(memcmp(parts[k].sm + udh.text_off, d + total, parts[k].units) == 0);
            if (res.nparts > 1 && udh.text_off)
                CHECK(udh.concat && udh.seq == k + 1 && udh.total == res.nparts);
            total += parts[k].units;
        }
        CHECK(total == n);
    } else {
        CHECK(n > 140);
    }
    free(parts);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;

    if (n > 4096)
        return 0;
    /* Copy so ASan sees the exact end of the input. */
    uint8_t *copy = xmalloc(n);
    memcpy(copy, d, n);

    check_decoders(copy, n, sel);
    check_packing(copy, n, sel);
    check_raw_utf8(copy, n, sel);
    check_synth_text(copy, n, sel);
    check_binary_split(copy, n, sel);
    free(copy);
    return 0;
}
