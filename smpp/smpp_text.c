/*
 * smpp_text — see smpp_text.h. Pure functions over caller buffers; the only
 * data are the const tables below.
 */
#include "smpp/smpp_text.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ tables */

/*
 * 3GPP TS 23.038 6.2.1: GSM 7-bit default alphabet, septet -> Unicode.
 * 0x1B is the escape to the extension table and never looked up here.
 */
static const uint16_t gsm_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0x0000, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* 23.038 6.2.1.1: extension table (after 0x1B), code -> Unicode; 0 = none. */
static const uint16_t gsm_ext[128] = {
    [0x0A] = 0x000C, [0x14] = 0x005E, [0x28] = 0x007B, [0x29] = 0x007D,
    [0x2F] = 0x005C, [0x3C] = 0x005B, [0x3D] = 0x007E, [0x3E] = 0x005D,
    [0x40] = 0x007C, [0x65] = 0x20AC,
};

/*
 * Unicode U+0000..U+00FF -> GSM, generated from the two tables above (the
 * unit tests check it against them): 0 = not in GSM, 0x100 | septet = basic
 * table, 0x200 | code = extension table. The high byte is the cost in septets.
 */
#define GSM_BASIC 0x100
#define GSM_EXT   0x200
static const uint16_t gsm_rev_latin[256] = {
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x10A, 0x000, 0x20A, 0x10D, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x120, 0x121, 0x122, 0x123, 0x102, 0x125, 0x126, 0x127,
    0x128, 0x129, 0x12A, 0x12B, 0x12C, 0x12D, 0x12E, 0x12F,
    0x130, 0x131, 0x132, 0x133, 0x134, 0x135, 0x136, 0x137,
    0x138, 0x139, 0x13A, 0x13B, 0x13C, 0x13D, 0x13E, 0x13F,
    0x100, 0x141, 0x142, 0x143, 0x144, 0x145, 0x146, 0x147,
    0x148, 0x149, 0x14A, 0x14B, 0x14C, 0x14D, 0x14E, 0x14F,
    0x150, 0x151, 0x152, 0x153, 0x154, 0x155, 0x156, 0x157,
    0x158, 0x159, 0x15A, 0x23C, 0x22F, 0x23E, 0x214, 0x111,
    0x000, 0x161, 0x162, 0x163, 0x164, 0x165, 0x166, 0x167,
    0x168, 0x169, 0x16A, 0x16B, 0x16C, 0x16D, 0x16E, 0x16F,
    0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177,
    0x178, 0x179, 0x17A, 0x228, 0x240, 0x229, 0x23D, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x140, 0x000, 0x101, 0x124, 0x103, 0x000, 0x15F,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x160,
    0x000, 0x000, 0x000, 0x000, 0x15B, 0x10E, 0x11C, 0x109,
    0x000, 0x11F, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
    0x000, 0x15D, 0x000, 0x000, 0x000, 0x000, 0x15C, 0x000,
    0x10B, 0x000, 0x000, 0x000, 0x15E, 0x000, 0x000, 0x11E,
    0x17F, 0x000, 0x000, 0x000, 0x17B, 0x10F, 0x11D, 0x000,
    0x104, 0x105, 0x000, 0x000, 0x107, 0x000, 0x000, 0x000,
    0x000, 0x17D, 0x108, 0x000, 0x000, 0x000, 0x17C, 0x000,
    0x10C, 0x106, 0x000, 0x000, 0x17E, 0x000, 0x000, 0x000,
};

/* gcc does not inline the per-character helpers on its own; they are the
 * hot path of the segmenter. */
#define HOT static inline __attribute__((always_inline))

/* Non-Latin-1 characters of the basic table (Greek capitals) and the euro. */
static uint16_t
gsm_lookup_high(uint32_t cp)
{
    switch (cp) {
    case 0x0393: return GSM_BASIC | 0x13;   /* Γ */
    case 0x0394: return GSM_BASIC | 0x10;   /* Δ */
    case 0x0398: return GSM_BASIC | 0x19;   /* Θ */
    case 0x039B: return GSM_BASIC | 0x14;   /* Λ */
    case 0x039E: return GSM_BASIC | 0x1A;   /* Ξ */
    case 0x03A0: return GSM_BASIC | 0x16;   /* Π */
    case 0x03A3: return GSM_BASIC | 0x18;   /* Σ */
    case 0x03A6: return GSM_BASIC | 0x12;   /* Φ */
    case 0x03A8: return GSM_BASIC | 0x17;   /* Ψ */
    case 0x03A9: return GSM_BASIC | 0x15;   /* Ω */
    case 0x20AC: return GSM_EXT | 0x65;     /* € */
    default:     return 0;
    }
}

HOT uint16_t
gsm_lookup(uint32_t cp)
{
    return cp < 256 ? gsm_rev_latin[cp] : gsm_lookup_high(cp);
}

unsigned
smpp_text_gsm7_cost(uint32_t cp)
{
    return gsm_lookup(cp) >> 8;
}

/* ------------------------------------------------------------------ errors */

const char *
smpp_text_strerror(int err)
{
    switch (err) {
    case SMPP_TEXT_OK:        return "OK";
    case SMPP_TEXT_E_UTF8:    return "E_UTF8";
    case SMPP_TEXT_E_CHARSET: return "E_CHARSET";
    case SMPP_TEXT_E_SPACE:   return "E_SPACE";
    case SMPP_TEXT_E_DCS:     return "E_DCS";
    case SMPP_TEXT_E_BINARY:  return "E_BINARY";
    case SMPP_TEXT_E_TOOLONG: return "E_TOOLONG";
    case SMPP_TEXT_E_UDH:     return "E_UDH";
    case SMPP_TEXT_E_INVAL:   return "E_INVAL";
    default:                  return "E_UNKNOWN";
    }
}

const char *
smpp_text_enc_name(enum smpp_text_enc enc)
{
    switch (enc) {
    case SMPP_TEXT_ENC_AUTO:        return "auto";
    case SMPP_TEXT_ENC_GSM7:        return "gsm7";
    case SMPP_TEXT_ENC_GSM7_PACKED: return "gsm7-packed";
    case SMPP_TEXT_ENC_LATIN1:      return "latin1";
    case SMPP_TEXT_ENC_IA5:         return "ia5";
    case SMPP_TEXT_ENC_UCS2:        return "ucs2";
    case SMPP_TEXT_ENC_BINARY:      return "binary";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ UTF-8 in */

/*
 * Decode one code point at s[*pos] (pos < len). Strict per RFC 3629: no
 * overlong forms, no UTF-16 surrogates, nothing above U+10FFFF, no
 * truncated sequence. -1 leaves *pos at the start of the bad sequence.
 */
static int
utf8_next(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp)
{
    size_t i = *pos, left = len - i;
    uint8_t b0 = s[i];

    if (b0 < 0x80) {
        *cp = b0;
        *pos = i + 1;
        return 0;
    }
    if (b0 < 0xC2)                      /* continuation byte, or overlong C0/C1 */
        return -1;
    if (b0 < 0xE0) {
        if (left < 2 || (s[i + 1] & 0xC0) != 0x80)
            return -1;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[i + 1] & 0x3F);
        *pos = i + 2;
        return 0;
    }
    if (b0 < 0xF0) {
        uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;   /* E0 80..9F is overlong */
        uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;   /* ED A0..BF is a surrogate */
        if (left < 3 || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80)
            return -1;
        *cp = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
              (s[i + 2] & 0x3F);
        *pos = i + 3;
        return 0;
    }
    if (b0 < 0xF5) {
        uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;   /* F0 80..8F is overlong */
        uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;   /* F4 90.. is above U+10FFFF */
        if (left < 4 || s[i + 1] < lo || s[i + 1] > hi || (s[i + 2] & 0xC0) != 0x80 ||
            (s[i + 3] & 0xC0) != 0x80)
            return -1;
        *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
              ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        *pos = i + 4;
        return 0;
    }
    return -1;
}

/* ASCII inline, the rest through utf8_next. */
HOT int
utf8_get(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp)
{
    if (s[*pos] < 0x80) {
        *cp = s[(*pos)++];
        return 0;
    }
    return utf8_next(s, len, pos, cp);
}

static void
set_off(size_t *err_off, size_t off)
{
    if (err_off != NULL)
        *err_off = off;
}

int
smpp_text_utf8_check(const char *s, size_t len, size_t *err_off)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t pos = 0;
    uint32_t cp;

    while (pos < len) {
        if (u[pos] < 0x80) {
            pos++;
            continue;
        }
        if (utf8_next(u, len, &pos, &cp) < 0) {
            set_off(err_off, pos);
            return SMPP_TEXT_E_UTF8;
        }
    }
    return SMPP_TEXT_OK;
}

/* ------------------------------------------------------------------ UTF-8 out */

/* Decoder output: end is one short of the buffer's end, kept for the NUL. */
struct u8out {
    char *p, *end;
    bool full;
};

static inline bool
u8out_init(struct u8out *o, char *out, size_t outsz)
{
    if (out == NULL || outsz == 0)
        return false;
    o->p = out;
    o->end = out + outsz - 1;
    o->full = false;
    return true;
}

static inline void
u8out_cp(struct u8out *o, uint32_t cp)
{
    size_t room = (size_t)(o->end - o->p);

    if (cp < 0x80) {
        if (room < 1)
            goto full;
        *o->p++ = (char)cp;
    } else if (cp < 0x800) {
        if (room < 2)
            goto full;
        *o->p++ = (char)(0xC0 | (cp >> 6));
        *o->p++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        if (room < 3)
            goto full;
        *o->p++ = (char)(0xE0 | (cp >> 12));
        *o->p++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o->p++ = (char)(0x80 | (cp & 0x3F));
    } else {
        if (room < 4)
            goto full;
        *o->p++ = (char)(0xF0 | (cp >> 18));
        *o->p++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o->p++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o->p++ = (char)(0x80 | (cp & 0x3F));
    }
    return;
full:
    o->full = true;
}

static int
u8out_finish(struct u8out *o, char *out, size_t *outlen)
{
    *o->p = '\0';
    if (outlen != NULL)
        *outlen = (size_t)(o->p - out);
    return o->full ? SMPP_TEXT_E_SPACE : SMPP_TEXT_OK;
}

#define REPLACEMENT 0xFFFD

/* ------------------------------------------------------------------ octet sink */

/* buf + size without the undefined NULL + 0 of an empty caller buffer. */
static inline uint8_t *
end_of(uint8_t *buf, size_t size)
{
    return buf != NULL ? buf + size : buf;
}

/*
 * Encoder output: octets, or septets packed LSB first through a bit
 * accumulator. The accumulator only ever emits an octet once all its bits
 * are known, so packing can run in place over unpacked septets: after k+1
 * septets at most k+1 octets have been written (fill < 7).
 */
struct sink {
    uint8_t *p, *end;
    uint32_t acc;
    unsigned nbits;
    size_t septets;
    bool packed, full;
};

static inline void
sink_init(struct sink *k, uint8_t *p, uint8_t *end, bool packed, unsigned fill_bits)
{
    k->p = p;
    k->end = end;
    k->acc = 0;
    k->nbits = packed ? fill_bits : 0;
    k->septets = 0;
    k->packed = packed;
    k->full = false;
}

HOT void
sink_byte(struct sink *k, uint8_t b)
{
    if (k->p < k->end)
        *k->p++ = b;
    else
        k->full = true;
}

HOT void
sink_septet(struct sink *k, uint8_t s)
{
    if (!k->packed) {
        sink_byte(k, s);
        return;
    }
    k->septets++;
    k->acc |= (uint32_t)(s & 0x7F) << k->nbits;
    k->nbits += 7;
    if (k->nbits >= 8) {                /* nbits < 15 here: one octet at most */
        sink_byte(k, (uint8_t)k->acc);
        k->acc >>= 8;
        k->nbits -= 8;
    }
}

static inline void
sink_flush(struct sink *k)
{
    if (!k->packed || k->septets == 0 || k->nbits == 0)
        return;
    /* 7 spare bits would read as a phantom '@': pad with CR (23.038 6.1.2.3.1). */
    if (k->nbits == 1)
        k->acc |= 0x0Du << 1;
    sink_byte(k, (uint8_t)k->acc);
    k->acc = 0;
    k->nbits = 0;
}

/* Write one code point, already known to be representable in enc. */
HOT void
sink_cp(struct sink *k, enum smpp_text_enc enc, uint32_t cp)
{
    switch (enc) {
    case SMPP_TEXT_ENC_GSM7:
    case SMPP_TEXT_ENC_GSM7_PACKED: {
        uint16_t g = gsm_lookup(cp);
        if (g & GSM_EXT)
            sink_septet(k, 0x1B);
        sink_septet(k, (uint8_t)(g & 0x7F));
        break;
    }
    case SMPP_TEXT_ENC_UCS2:
        if (cp > 0xFFFF) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
            sink_byte(k, (uint8_t)(hi >> 8));
            sink_byte(k, (uint8_t)hi);
            sink_byte(k, (uint8_t)(lo >> 8));
            sink_byte(k, (uint8_t)lo);
        } else {
            sink_byte(k, (uint8_t)(cp >> 8));
            sink_byte(k, (uint8_t)cp);
        }
        break;
    default:                            /* Latin-1, IA5, binary: one octet */
        sink_byte(k, (uint8_t)cp);
        break;
    }
}

/*
 * Units a code point costs in enc (septets, UCS-2 units, octets); 0 when
 * enc cannot represent it.
 */
HOT unsigned
cp_cost(enum smpp_text_enc enc, uint32_t cp)
{
    switch (enc) {
    case SMPP_TEXT_ENC_GSM7:
    case SMPP_TEXT_ENC_GSM7_PACKED:
        return smpp_text_gsm7_cost(cp);
    case SMPP_TEXT_ENC_UCS2:
        return cp > 0xFFFF ? 2 : 1;
    case SMPP_TEXT_ENC_LATIN1:
    case SMPP_TEXT_ENC_BINARY:
        return cp <= 0xFF;
    case SMPP_TEXT_ENC_IA5:
        return cp <= 0x7F;
    case SMPP_TEXT_ENC_AUTO:
        break;
    }
    return 0;
}

/* UTF-8 -> one fixed encoding, unsegmented. */
static int
encode_utf8(enum smpp_text_enc enc, const char *in, size_t inlen, uint8_t *out,
            size_t outsz, size_t *outlen, size_t *err_off)
{
    const uint8_t *s = (const uint8_t *)in;
    size_t pos = 0, start;
    uint32_t cp;
    struct sink k;

    if ((out == NULL && outsz != 0) || (in == NULL && inlen != 0))
        return SMPP_TEXT_E_INVAL;
    sink_init(&k, out, end_of(out, outsz), enc == SMPP_TEXT_ENC_GSM7_PACKED, 0);
    while (pos < inlen) {
        start = pos;
        if (utf8_get(s, inlen, &pos, &cp) < 0) {
            set_off(err_off, start);
            return SMPP_TEXT_E_UTF8;
        }
        if (cp_cost(enc, cp) == 0) {
            set_off(err_off, start);
            return SMPP_TEXT_E_CHARSET;
        }
        sink_cp(&k, enc, cp);
    }
    sink_flush(&k);
    if (k.full)
        return SMPP_TEXT_E_SPACE;
    if (outlen != NULL)
        *outlen = (size_t)(k.p - out);
    return SMPP_TEXT_OK;
}

/* ------------------------------------------------------------------ GSM 03.38 */

int
smpp_text_gsm7_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                      size_t *outlen, size_t *err_off)
{
    return encode_utf8(SMPP_TEXT_ENC_GSM7, in, inlen, out, outsz, outlen, err_off);
}

/*
 * Septet i of a packed (or unpacked) stream. Packed: bit fill + 7i, LSB
 * first; the caller guarantees the septet lies wholly inside the input.
 */
static inline unsigned
septet_at(const uint8_t *in, size_t inlen, bool packed, unsigned fill, size_t i)
{
    if (!packed)
        return in[i];
    size_t bit = fill + 7 * i, byte = bit >> 3;
    unsigned sh = bit & 7, v = in[byte] >> sh;
    if (sh > 1 && byte + 1 < inlen)
        v |= (unsigned)in[byte + 1] << (8 - sh);
    return v & 0x7F;
}

/* Septets to GSM text; unpacked octets with the high bit set are U+FFFD. */
static int
gsm_decode(const uint8_t *in, size_t inlen, bool packed, unsigned fill, size_t nsept,
           char *out, size_t outsz, size_t *outlen)
{
    struct u8out o;

    if (!u8out_init(&o, out, outsz))
        return SMPP_TEXT_E_SPACE;
    if (in == NULL && inlen != 0)
        return SMPP_TEXT_E_INVAL;
    for (size_t i = 0; i < nsept && !o.full; i++) {
        unsigned s = septet_at(in, inlen, packed, fill, i);
        if (s >= 0x80) {
            u8out_cp(&o, REPLACEMENT);
        } else if (s != 0x1B) {
            u8out_cp(&o, gsm_basic[s]);
        } else if (i + 1 == nsept) {
            u8out_cp(&o, ' ');          /* trailing escape: 23.038 note 1 */
        } else {
            unsigned e = septet_at(in, inlen, packed, fill, ++i);
            if (e >= 0x80)
                u8out_cp(&o, REPLACEMENT);
            else if (e == 0x1B)
                u8out_cp(&o, ' ');      /* escape to a further table: display a space */
            else if (gsm_ext[e] != 0)
                u8out_cp(&o, gsm_ext[e]);
            else
                u8out_cp(&o, gsm_basic[e]); /* unknown extension: show the basic char */
        }
    }
    return u8out_finish(&o, out, outlen);
}

int
smpp_text_gsm7_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                      size_t *outlen)
{
    return gsm_decode(in, inlen, false, 0, inlen, out, outsz, outlen);
}

int
smpp_text_gsm7_pack(const uint8_t *septets, size_t n, unsigned fill_bits, uint8_t *out,
                    size_t outsz, size_t *outlen)
{
    struct sink k;
    size_t need;

    if (fill_bits > 6 || (septets == NULL && n != 0))
        return SMPP_TEXT_E_INVAL;
    for (size_t i = 0; i < n; i++)
        if (septets[i] & 0x80)
            return SMPP_TEXT_E_INVAL;
    need = n == 0 ? 0 : (fill_bits + 7 * n + 7) / 8;
    if (need > outsz)
        return SMPP_TEXT_E_SPACE;
    sink_init(&k, out, end_of(out, need), true, fill_bits);
    for (size_t i = 0; i < n; i++)
        sink_septet(&k, septets[i]);
    sink_flush(&k);
    if (outlen != NULL)
        *outlen = need;
    return SMPP_TEXT_OK;
}

/*
 * Septets in a packed field of inlen octets after fill_bits, with the
 * trailing padding rule of smpp_text_gsm7_unpack() for an unknown count.
 */
static size_t
packed_count(const uint8_t *in, size_t inlen, unsigned fill)
{
    if (inlen == 0 || inlen * 8 <= fill)
        return 0;
    size_t avail = inlen * 8 - fill, n = avail / 7;
    if (n > 0 && avail % 7 == 0) {
        unsigned last = septet_at(in, inlen, true, fill, n - 1);
        if (last == 0x00 || last == 0x0D)
            n--;
    }
    return n;
}

int
smpp_text_gsm7_unpack(const uint8_t *in, size_t inlen, unsigned fill_bits, size_t nseptets,
                      uint8_t *out, size_t outsz, size_t *outlen)
{
    if (fill_bits > 6 || (in == NULL && inlen != 0))
        return SMPP_TEXT_E_INVAL;
    if (nseptets == SIZE_MAX) {
        nseptets = packed_count(in, inlen, fill_bits);
    } else {
        size_t avail = inlen * 8 > fill_bits ? inlen * 8 - fill_bits : 0;
        if (nseptets > avail / 7)
            return SMPP_TEXT_E_INVAL;
    }
    if (nseptets > outsz)
        return SMPP_TEXT_E_SPACE;
    for (size_t i = 0; i < nseptets; i++)
        out[i] = (uint8_t)septet_at(in, inlen, true, fill_bits, i);
    if (outlen != NULL)
        *outlen = nseptets;
    return SMPP_TEXT_OK;
}

/* ------------------------------------------------------------------ other charsets */

int
smpp_text_latin1_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                        size_t *outlen, size_t *err_off)
{
    return encode_utf8(SMPP_TEXT_ENC_LATIN1, in, inlen, out, outsz, outlen, err_off);
}

int
smpp_text_latin1_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                        size_t *outlen)
{
    struct u8out o;

    if (!u8out_init(&o, out, outsz))
        return SMPP_TEXT_E_SPACE;
    if (in == NULL && inlen != 0)
        return SMPP_TEXT_E_INVAL;
    for (size_t i = 0; i < inlen && !o.full; i++)
        u8out_cp(&o, in[i]);
    return u8out_finish(&o, out, outlen);
}

int
smpp_text_ia5_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                     size_t *outlen)
{
    struct u8out o;

    if (!u8out_init(&o, out, outsz))
        return SMPP_TEXT_E_SPACE;
    if (in == NULL && inlen != 0)
        return SMPP_TEXT_E_INVAL;
    for (size_t i = 0; i < inlen && !o.full; i++)
        u8out_cp(&o, in[i] < 0x80 ? in[i] : REPLACEMENT);
    return u8out_finish(&o, out, outlen);
}

int
smpp_text_ucs2_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                      size_t *outlen, size_t *err_off)
{
    return encode_utf8(SMPP_TEXT_ENC_UCS2, in, inlen, out, outsz, outlen, err_off);
}

int
smpp_text_ucs2_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                      size_t *outlen)
{
    struct u8out o;
    size_t i = 0;

    if (!u8out_init(&o, out, outsz))
        return SMPP_TEXT_E_SPACE;
    if (in == NULL && inlen != 0)
        return SMPP_TEXT_E_INVAL;
    while (i + 1 < inlen && !o.full) {
        uint32_t u = (uint32_t)in[i] << 8 | in[i + 1];
        i += 2;
        if (u < 0xD800 || u > 0xDFFF) {
            u8out_cp(&o, u);
        } else if (u <= 0xDBFF && i + 1 < inlen &&
                   ((uint32_t)in[i] << 8 | in[i + 1]) - 0xDC00 < 0x400) {
            uint32_t lo = (uint32_t)in[i] << 8 | in[i + 1];
            i += 2;
            u8out_cp(&o, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
        } else {
            /* Lone high, lone low, or reversed pair: the next unit is
             * looked at again on its own. */
            u8out_cp(&o, REPLACEMENT);
        }
    }
    if (i < inlen && !o.full)           /* odd trailing octet */
        u8out_cp(&o, REPLACEMENT);
    return u8out_finish(&o, out, outlen);
}

static int
hex_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz, size_t *outlen)
{
    static const char digits[] = "0123456789ABCDEF";
    struct u8out o;

    if (!u8out_init(&o, out, outsz))
        return SMPP_TEXT_E_SPACE;
    if (in == NULL && inlen != 0)
        return SMPP_TEXT_E_INVAL;
    for (size_t i = 0; i < inlen && !o.full; i++) {
        u8out_cp(&o, (uint32_t)digits[in[i] >> 4]);
        u8out_cp(&o, (uint32_t)digits[in[i] & 15]);
    }
    return u8out_finish(&o, out, outlen);
}

/* ------------------------------------------------------------------ by data_coding */

int
smpp_text_dc_enc(uint8_t dc, enum smpp_text_enc dc0, enum smpp_text_enc *enc)
{
    enum smpp_text_enc gsm = dc0 == SMPP_TEXT_ENC_GSM7_PACKED ? SMPP_TEXT_ENC_GSM7_PACKED
                                                              : SMPP_TEXT_ENC_GSM7;
    enum smpp_text_enc e;

    switch (dc0) {
    case SMPP_TEXT_ENC_GSM7:
    case SMPP_TEXT_ENC_GSM7_PACKED:
    case SMPP_TEXT_ENC_LATIN1:
    case SMPP_TEXT_ENC_IA5:
        break;
    default:
        return SMPP_TEXT_E_INVAL;
    }

    if (dc < 0x10) {                    /* SMPP 3.4 5.2.19 values */
        switch (dc) {
        case 0x00: e = dc0; break;
        case 0x01: e = SMPP_TEXT_ENC_IA5; break;
        case 0x02:
        case 0x04: e = SMPP_TEXT_ENC_BINARY; break;
        case 0x03: e = SMPP_TEXT_ENC_LATIN1; break;
        case 0x08: e = SMPP_TEXT_ENC_UCS2; break;
        default:   return SMPP_TEXT_E_DCS; /* JIS, Cyrillic, Hebrew, pictogram, KS C... */
        }
    } else if (dc < 0x80) {             /* 23.038 general data coding groups 00xx/01xx */
        if (dc & 0x20)
            return SMPP_TEXT_E_DCS;     /* compressed */
        switch ((dc >> 2) & 3) {
        case 0:  e = gsm; break;
        case 1:  e = SMPP_TEXT_ENC_BINARY; break;
        case 2:  e = SMPP_TEXT_ENC_UCS2; break;
        default: return SMPP_TEXT_E_DCS;
        }
    } else if (dc < 0xC0) {
        return SMPP_TEXT_E_DCS;         /* reserved groups */
    } else if (dc < 0xE0) {
        e = gsm;                        /* message waiting indication, GSM7 */
    } else if (dc < 0xF0) {
        e = SMPP_TEXT_ENC_UCS2;         /* message waiting indication, UCS-2 */
    } else {
        e = (dc & 0x04) ? SMPP_TEXT_ENC_BINARY : gsm; /* class control */
    }
    *enc = e;
    return SMPP_TEXT_OK;
}

int
smpp_text_decode(uint8_t data_coding, enum smpp_text_enc dc0, const uint8_t *sm,
                 size_t smlen, size_t text_off, unsigned flags, char *out, size_t outsz,
                 size_t *outlen)
{
    enum smpp_text_enc enc;
    int rc;

    if ((rc = smpp_text_dc_enc(data_coding, dc0, &enc)) < 0)
        return rc;
    if (text_off > smlen || (sm == NULL && smlen != 0))
        return SMPP_TEXT_E_INVAL;

    const uint8_t *t = sm != NULL ? sm + text_off : sm;
    size_t tlen = smlen - text_off;

    switch (enc) {
    case SMPP_TEXT_ENC_GSM7:
        return gsm_decode(t, tlen, false, 0, tlen, out, outsz, outlen);
    case SMPP_TEXT_ENC_GSM7_PACKED: {
        /* 23.040 9.2.3.24: after a UDH the first septet starts on a septet
         * boundary counted from the start of the user data (the UDHL octet). */
        unsigned fill = (unsigned)((7 - (text_off * 8) % 7) % 7);
        return gsm_decode(t, tlen, true, fill, packed_count(t, tlen, fill), out, outsz,
                          outlen);
    }
    case SMPP_TEXT_ENC_LATIN1:
        return smpp_text_latin1_decode(t, tlen, out, outsz, outlen);
    case SMPP_TEXT_ENC_IA5:
        return smpp_text_ia5_decode(t, tlen, out, outsz, outlen);
    case SMPP_TEXT_ENC_UCS2:
        return smpp_text_ucs2_decode(t, tlen, out, outsz, outlen);
    case SMPP_TEXT_ENC_BINARY:
        if (!(flags & SMPP_TEXT_DECODE_HEX))
            return SMPP_TEXT_E_BINARY;
        return hex_decode(t, tlen, out, outsz, outlen);
    case SMPP_TEXT_ENC_AUTO:
        break;
    }
    abort();                            /* smpp_text_dc_enc never yields AUTO */
}

/* ------------------------------------------------------------------ segmentation */

enum unit_class { CLASS_GSM, CLASS_UCS2, CLASS_OCTET };

/* Units per segment: [class][single, UDH8 or SAR, UDH16]. */
static const unsigned seg_cap[3][3] = {
    [CLASS_GSM]   = { 160, 153, 152 },
    [CLASS_UCS2]  = { 70, 67, 66 },
    [CLASS_OCTET] = { 140, 134, 133 },
};

static enum unit_class
enc_class(enum smpp_text_enc enc)
{
    switch (enc) {
    case SMPP_TEXT_ENC_GSM7:
    case SMPP_TEXT_ENC_GSM7_PACKED: return CLASS_GSM;
    case SMPP_TEXT_ENC_UCS2:        return CLASS_UCS2;
    default:                        return CLASS_OCTET;
    }
}

static unsigned
multi_cap(enum unit_class cls, enum smpp_text_concat concat)
{
    /* SAR and PAYLOAD are sized as UDH8: the SMSC adds that UDH on the air. */
    return seg_cap[cls][concat == SMPP_TEXT_CONCAT_UDH16 ? 2 : 1];
}

static uint8_t
enc_dc(enum smpp_text_enc enc)
{
    switch (enc) {
    case SMPP_TEXT_ENC_IA5:    return 0x01;
    case SMPP_TEXT_ENC_LATIN1: return 0x03;
    case SMPP_TEXT_ENC_UCS2:   return 0x08;
    case SMPP_TEXT_ENC_BINARY: return 0x04;
    default:                   return 0x00;
    }
}

/* Octets n units take as one field. */
static size_t
enc_octets(enum smpp_text_enc enc, size_t units)
{
    switch (enc) {
    case SMPP_TEXT_ENC_UCS2:        return 2 * units;
    case SMPP_TEXT_ENC_GSM7_PACKED: return (7 * units + 7) / 8;
    default:                        return units;
    }
}

/*
 * Greedy fill: a character (1 or 2 units) goes whole into the current
 * segment or opens the next one — that is what keeps escape pairs and
 * surrogate pairs together. segs is counted for the multi-part capacity.
 */
struct tally {
    size_t units, segs;
    unsigned used, cap;
};

HOT void
tally_add(struct tally *t, unsigned w)
{
    if (t->used + w > t->cap) {
        t->segs++;
        t->used = 0;
    }
    t->used += w;
    t->units += w;
}

static bool
enc_valid_text(enum smpp_text_enc enc)
{
    return enc >= SMPP_TEXT_ENC_AUTO && enc <= SMPP_TEXT_ENC_UCS2;
}

static bool
concat_valid(enum smpp_text_concat c)
{
    return c >= SMPP_TEXT_CONCAT_UDH8 && c <= SMPP_TEXT_CONCAT_PAYLOAD;
}

/*
 * One pass over UTF-8 for a fixed encoding: validate, count units and the
 * segments a multi-part split needs. E_CHARSET at the first character the
 * encoding lacks.
 */
HOT int
scan_fixed(const uint8_t *s, size_t len, enum smpp_text_enc enc,
           enum smpp_text_concat concat, struct tally *t, size_t *chars, size_t *err_off)
{
    size_t pos = 0, start, n = 0;
    uint32_t cp;

    t->units = 0;
    t->segs = 1;
    t->used = 0;
    t->cap = multi_cap(enc_class(enc), concat);
    while (pos < len) {
        start = pos;
        if (utf8_get(s, len, &pos, &cp) < 0) {
            set_off(err_off, start);
            return SMPP_TEXT_E_UTF8;
        }
        unsigned w = cp_cost(enc, cp);
        if (w == 0) {
            set_off(err_off, start);
            return SMPP_TEXT_E_CHARSET;
        }
        n++;
        tally_add(t, w);
    }
    *chars = n;
    return SMPP_TEXT_OK;
}

/* Called with a constant enc so that the per-character switches fold away. */
static int
scan_enc(const uint8_t *s, size_t len, enum smpp_text_enc enc, enum smpp_text_concat concat,
         struct tally *t, size_t *chars, size_t *err_off)
{
    switch (enc) {
    case SMPP_TEXT_ENC_GSM7:
    case SMPP_TEXT_ENC_GSM7_PACKED:
        return scan_fixed(s, len, SMPP_TEXT_ENC_GSM7, concat, t, chars, err_off);
    case SMPP_TEXT_ENC_UCS2:
        return scan_fixed(s, len, SMPP_TEXT_ENC_UCS2, concat, t, chars, err_off);
    case SMPP_TEXT_ENC_LATIN1:
        return scan_fixed(s, len, SMPP_TEXT_ENC_LATIN1, concat, t, chars, err_off);
    case SMPP_TEXT_ENC_IA5:
        return scan_fixed(s, len, SMPP_TEXT_ENC_IA5, concat, t, chars, err_off);
    default:
        abort();                        /* callers pass text encodings only */
    }
}

/*
 * First pass: validate, choose the encoding, count. AUTO tries GSM and
 * starts over in UCS-2 at the first character GSM lacks: most traffic is
 * GSM, and a UCS-2 text usually shows itself early. Fills info (pdus 0).
 */
static int
scan_text(const uint8_t *s, size_t len, enum smpp_text_enc enc,
          enum smpp_text_concat concat, struct smpp_text_info *info, size_t *err_off)
{
    struct tally t;
    size_t chars = 0;
    int rc;

    if (enc == SMPP_TEXT_ENC_AUTO) {
        rc = scan_enc(s, len, SMPP_TEXT_ENC_GSM7, concat, &t, &chars, err_off);
        if (rc == SMPP_TEXT_E_CHARSET) {
            enc = SMPP_TEXT_ENC_UCS2;
            rc = scan_enc(s, len, enc, concat, &t, &chars, err_off);
        } else {
            enc = SMPP_TEXT_ENC_GSM7;
        }
    } else {
        rc = scan_enc(s, len, enc, concat, &t, &chars, err_off);
    }
    if (rc < 0)
        return rc;

    info->enc = enc;
    info->data_coding = enc_dc(enc);
    info->chars = chars;
    info->units = t.units;
    info->octets = enc_octets(enc, t.units);
    if (t.units <= seg_cap[enc_class(enc)][0])
        t.segs = 1;
    info->segments = t.segs > UINT32_MAX ? UINT32_MAX : (unsigned)t.segs;
    info->pdus = 0;
    return SMPP_TEXT_OK;
}

static void
fill_pdus(struct smpp_text_info *info, enum smpp_text_concat concat)
{
    info->pdus = concat == SMPP_TEXT_CONCAT_PAYLOAD ? 1 : info->segments;
}

int
smpp_text_measure(const char *utf8, size_t len, enum smpp_text_enc enc,
                  enum smpp_text_concat concat, struct smpp_text_info *info,
                  size_t *err_off)
{
    int rc;

    if (!enc_valid_text(enc) || !concat_valid(concat) || info == NULL ||
        (utf8 == NULL && len != 0))
        return SMPP_TEXT_E_INVAL;
    if ((rc = scan_text((const uint8_t *)utf8, len, enc, concat, info, err_off)) < 0)
        return rc;
    fill_pdus(info, concat);
    if (concat == SMPP_TEXT_CONCAT_PAYLOAD && info->segments > 1 &&
        info->octets > SMPP_TEXT_PAYLOAD_MAX)
        return SMPP_TEXT_E_TOOLONG;
    return SMPP_TEXT_OK;
}

enum split_mode { MODE_SINGLE, MODE_UDH8, MODE_UDH16, MODE_SAR, MODE_PAYLOAD };

/* Second pass: write the parts. Input was validated by the first pass. */
struct splitter {
    const struct smpp_text_split_opts *opt;
    enum smpp_text_enc enc;
    enum split_mode mode;
    unsigned nparts, cap, k, used;
    uint8_t *buf, *end, *start;
    struct smpp_text_part *parts;
    struct sink sink;
};

static void
part_begin(struct splitter *sp)
{
    struct smpp_text_part *pt = &sp->parts[sp->k];
    uint8_t seq = (uint8_t)(sp->k + 1), total = (uint8_t)sp->nparts;
    uint8_t *p = sp->start;
    unsigned fill = 0;

    memset(pt, 0, sizeof(*pt));
    pt->sm = p;
    sp->used = 0;
    if (sp->mode == MODE_UDH8 && sp->end - p >= 6) {
        p[0] = 5; p[1] = 0x00; p[2] = 3;
        p[3] = (uint8_t)sp->opt->ref; p[4] = total; p[5] = seq;
        p += 6;
        fill = 1;                       /* 48 bits of UDH: 1 bit to the septet boundary */
        pt->esm_udhi = SMPP_TEXT_ESM_UDHI;
    } else if (sp->mode == MODE_UDH16 && sp->end - p >= 7) {
        p[0] = 6; p[1] = 0x08; p[2] = 4;
        p[3] = (uint8_t)(sp->opt->ref >> 8); p[4] = (uint8_t)sp->opt->ref;
        p[5] = total; p[6] = seq;
        p += 7;                         /* 56 bits: already on a septet boundary */
        pt->esm_udhi = SMPP_TEXT_ESM_UDHI;
    } else if (sp->mode == MODE_UDH8 || sp->mode == MODE_UDH16) {
        p = sp->end;                    /* no room for the UDH */
        sp->sink.full = true;
    } else if (sp->mode == MODE_SAR) {
        pt->sar = true;
        pt->sar_ref = sp->opt->ref;
        pt->sar_total = total;
        pt->sar_seq = seq;
    } else if (sp->mode == MODE_PAYLOAD) {
        pt->payload = true;
    }
    bool was_full = sp->sink.full;
    sink_init(&sp->sink, p, sp->end, sp->enc == SMPP_TEXT_ENC_GSM7_PACKED, fill);
    sp->sink.full = was_full;
}

static void
part_end(struct splitter *sp)
{
    struct smpp_text_part *pt = &sp->parts[sp->k];

    sink_flush(&sp->sink);
    pt->len = (uint16_t)(sp->sink.p - sp->start);
    pt->units = (uint16_t)sp->used;
    sp->start = sp->sink.p;
}

HOT void
split_put(struct splitter *sp, enum smpp_text_enc enc, uint32_t cp, unsigned w)
{
    if (sp->used + w > sp->cap) {
        part_end(sp);
        if (++sp->k >= sp->nparts)
            abort();                    /* the passes disagree: a bug here, not bad input */
        part_begin(sp);
    }
    sink_cp(&sp->sink, enc, cp);
    sp->used += w;
}

/* Second pass over validated UTF-8; enc is a constant at every call. */
HOT void
split_text(struct splitter *sp, const uint8_t *s, size_t len, enum smpp_text_enc enc)
{
    size_t pos = 0;
    uint32_t cp;

    while (pos < len) {
        if (utf8_get(s, len, &pos, &cp) < 0)
            abort();                    /* validated by scan_text */
        split_put(sp, enc, cp, cp_cost(enc, cp));
    }
}

static int
split_setup(struct splitter *sp, const struct smpp_text_split_opts *opt,
            const struct smpp_text_info *info, uint8_t *buf, size_t bufsz,
            struct smpp_text_part *parts)
{
    enum unit_class cls = enc_class(info->enc);

    sp->opt = opt;
    sp->enc = info->enc;
    sp->k = 0;
    sp->buf = sp->start = buf;
    sp->end = end_of(buf, bufsz);
    sp->parts = parts;
    sp->sink.full = false;
    if (info->units <= seg_cap[cls][0]) {
        sp->mode = MODE_SINGLE;
        sp->nparts = 1;
        sp->cap = seg_cap[cls][0];
    } else if (opt->concat == SMPP_TEXT_CONCAT_PAYLOAD) {
        if (info->octets > SMPP_TEXT_PAYLOAD_MAX)
            return SMPP_TEXT_E_TOOLONG;
        sp->mode = MODE_PAYLOAD;
        sp->nparts = 1;
        sp->cap = UINT32_MAX;
    } else {
        if (info->segments > opt->max_parts)
            return SMPP_TEXT_E_TOOLONG;
        sp->mode = opt->concat == SMPP_TEXT_CONCAT_UDH8  ? MODE_UDH8
                 : opt->concat == SMPP_TEXT_CONCAT_UDH16 ? MODE_UDH16
                                                         : MODE_SAR;
        sp->nparts = info->segments;
        sp->cap = multi_cap(cls, opt->concat);
    }
    part_begin(sp);
    return SMPP_TEXT_OK;
}

static int
split_finish(struct splitter *sp, const struct smpp_text_info *info,
             struct smpp_text_split *res)
{
    part_end(sp);
    if (sp->sink.full)
        return SMPP_TEXT_E_SPACE;
    if (sp->k + 1 != sp->nparts)
        abort();                        /* the passes disagree */
    res->enc = info->enc;
    res->data_coding = info->data_coding;
    res->nparts = sp->nparts;
    res->used = (size_t)(sp->start - sp->buf);
    return SMPP_TEXT_OK;
}

static bool
split_args_ok(const struct smpp_text_split_opts *opt, const void *in, size_t len,
              const uint8_t *buf, size_t bufsz, const struct smpp_text_part *parts,
              const struct smpp_text_split *res)
{
    return opt != NULL && concat_valid(opt->concat) && opt->max_parts >= 1 &&
           opt->max_parts <= SMPP_TEXT_MAX_PARTS && (in != NULL || len == 0) &&
           (buf != NULL || bufsz == 0) && parts != NULL && res != NULL;
}

int
smpp_text_split(const char *utf8, size_t len, const struct smpp_text_split_opts *opt,
                uint8_t *buf, size_t bufsz, struct smpp_text_part *parts,
                struct smpp_text_split *res, size_t *err_off)
{
    const uint8_t *s = (const uint8_t *)utf8;
    struct smpp_text_info info;
    struct splitter sp;
    int rc;

    if (!split_args_ok(opt, utf8, len, buf, bufsz, parts, res) || !enc_valid_text(opt->enc))
        return SMPP_TEXT_E_INVAL;
    if ((rc = scan_text(s, len, opt->enc, opt->concat, &info, err_off)) < 0)
        return rc;
    if ((rc = split_setup(&sp, opt, &info, buf, bufsz, parts)) < 0)
        return rc;
    switch (info.enc) {
    case SMPP_TEXT_ENC_GSM7:        split_text(&sp, s, len, SMPP_TEXT_ENC_GSM7); break;
    case SMPP_TEXT_ENC_GSM7_PACKED: split_text(&sp, s, len, SMPP_TEXT_ENC_GSM7_PACKED); break;
    case SMPP_TEXT_ENC_UCS2:        split_text(&sp, s, len, SMPP_TEXT_ENC_UCS2); break;
    case SMPP_TEXT_ENC_LATIN1:      split_text(&sp, s, len, SMPP_TEXT_ENC_LATIN1); break;
    case SMPP_TEXT_ENC_IA5:         split_text(&sp, s, len, SMPP_TEXT_ENC_IA5); break;
    default:                        abort();
    }
    return split_finish(&sp, &info, res);
}

int
smpp_text_split_binary(const uint8_t *data, size_t len,
                       const struct smpp_text_split_opts *opt, uint8_t *buf, size_t bufsz,
                       struct smpp_text_part *parts, struct smpp_text_split *res)
{
    struct smpp_text_info info;
    struct splitter sp;
    int rc;

    if (!split_args_ok(opt, data, len, buf, bufsz, parts, res))
        return SMPP_TEXT_E_INVAL;
    unsigned cap = multi_cap(CLASS_OCTET, opt->concat);
    memset(&info, 0, sizeof(info));
    info.enc = SMPP_TEXT_ENC_BINARY;
    info.data_coding = enc_dc(SMPP_TEXT_ENC_BINARY);
    info.chars = info.units = info.octets = len;
    size_t segs = len <= seg_cap[CLASS_OCTET][0] ? 1 : (len + cap - 1) / cap;
    info.segments = segs > UINT32_MAX ? UINT32_MAX : (unsigned)segs;
    if ((rc = split_setup(&sp, opt, &info, buf, bufsz, parts)) < 0)
        return rc;
    for (size_t i = 0; i < len; i++)
        split_put(&sp, SMPP_TEXT_ENC_BINARY, data[i], 1);
    return split_finish(&sp, &info, res);
}

/* ------------------------------------------------------------------ MO UDH */

int
smpp_text_udh_parse(const uint8_t *sm, size_t smlen, uint8_t esm_class,
                    struct smpp_text_udh *udh)
{
    size_t i, hend;
    bool found = false;
    uint16_t ref = 0;
    uint8_t total = 0, seq = 0;
    bool ref16 = false;

    if (udh == NULL || (sm == NULL && smlen != 0))
        return SMPP_TEXT_E_INVAL;
    memset(udh, 0, sizeof(*udh));
    if (!(esm_class & SMPP_TEXT_ESM_UDHI))
        return SMPP_TEXT_OK;
    if (smlen < 1 || (size_t)sm[0] + 1 > smlen)
        return SMPP_TEXT_E_UDH;
    hend = (size_t)sm[0] + 1;
    for (i = 1; i < hend;) {
        if (hend - i < 2)
            return SMPP_TEXT_E_UDH;     /* IE header cut by UDHL */
        uint8_t iei = sm[i], iel = sm[i + 1];
        i += 2;
        if (iel > hend - i)
            return SMPP_TEXT_E_UDH;     /* IE body runs past UDHL */
        if (iei == 0x00) {
            if (iel != 3)
                return SMPP_TEXT_E_UDH;
            found = true;
            ref16 = false;
            ref = sm[i];
            total = sm[i + 1];
            seq = sm[i + 2];
        } else if (iei == 0x08) {
            if (iel != 4)
                return SMPP_TEXT_E_UDH;
            found = true;
            ref16 = true;
            ref = (uint16_t)(sm[i] << 8 | sm[i + 1]);
            total = sm[i + 2];
            seq = sm[i + 3];
        }
        i += iel;
    }
    udh->text_off = hend;
    if (found && total >= 1 && seq >= 1 && seq <= total) {
        udh->concat = true;
        udh->ref16 = ref16;
        udh->ref = ref;
        udh->total = total;
        udh->seq = seq;
    }
    return SMPP_TEXT_OK;
}
