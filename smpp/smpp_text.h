/*
 * smpp_text — SMS text codecs and long-message segmentation.
 *
 * GSM 03.38 / 3GPP TS 23.038 default alphabet and extension table, Latin-1,
 * IA5, UCS-2 (big-endian, surrogate pairs), UTF-8 validation, automatic
 * encoding choice, segmentation with UDH (8- and 16-bit reference), SAR TLV
 * values or message_payload, and parsing of inbound UDH concatenation IEs.
 *
 * Ownership: nothing here allocates, does I/O or keeps state. Every function
 * reads the caller's input and writes only the caller's output buffers; the
 * tables are const. All functions are reentrant and thread-safe.
 *
 * Return codes: 0 (SMPP_TEXT_OK) or a negative enum smpp_text_err. On error
 * the output buffers hold unspecified bytes and *outlen is unspecified.
 * An input or output pointer may be NULL only with a zero length (else
 * E_INVAL); outlen may be NULL.
 * Where a function takes `size_t *err_off` (may be NULL), it is set on
 * SMPP_TEXT_E_UTF8 / SMPP_TEXT_E_CHARSET to the byte offset in the UTF-8
 * input of the offending sequence.
 *
 * Decoders accept any bytes: whatever arrives, they produce valid UTF-8
 * (U+FFFD for what cannot be decoded) and fail only for lack of room. Their output is always
 * NUL-terminated (*outlen excludes the NUL) and SMPP_TEXT_DECODE_MAX(inlen)
 * octets are always enough. The output can contain U+0000 when the input
 * encodes it (UCS-2 0x0000, Latin-1/IA5 0x00): trust *outlen, not strlen.
 */
#ifndef SMPP_TEXT_H
#define SMPP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smpp_text_err {
    SMPP_TEXT_OK         = 0,
    SMPP_TEXT_E_UTF8     = -1, /* input is not valid UTF-8 (*err_off) */
    SMPP_TEXT_E_CHARSET  = -2, /* a character has no code in the target charset (*err_off) */
    SMPP_TEXT_E_SPACE    = -3, /* output buffer too small */
    SMPP_TEXT_E_DCS      = -4, /* data_coding not supported (JIS, Cyrillic, compressed, reserved...) */
    SMPP_TEXT_E_BINARY   = -5, /* data_coding is 8-bit data and SMPP_TEXT_DECODE_HEX was not given */
    SMPP_TEXT_E_TOOLONG  = -6, /* needs more parts than allowed, or payload > 1024 octets */
    SMPP_TEXT_E_UDH      = -7, /* UDHI set but the UDH is malformed (lengths do not fit) */
    SMPP_TEXT_E_INVAL    = -8, /* bad argument (unknown enum, fill bits > 6, count beyond input) */
};

/* Static name of an error code, for logs ("E_UTF8"...). */
const char *smpp_text_strerror(int err);

/* Encodings. AUTO is only a request: the chosen encoding is reported back. */
enum smpp_text_enc {
    SMPP_TEXT_ENC_AUTO = 0,     /* GSM7 when every character fits, else UCS2 */
    SMPP_TEXT_ENC_GSM7,         /* GSM 03.38 septets, one per octet (SMPP's usual form) */
    SMPP_TEXT_ENC_GSM7_PACKED,  /* GSM 03.38 septets packed 8 per 7 octets */
    SMPP_TEXT_ENC_LATIN1,       /* ISO-8859-1, data_coding 3 */
    SMPP_TEXT_ENC_IA5,          /* 7-bit ASCII, data_coding 1 */
    SMPP_TEXT_ENC_UCS2,         /* UCS-2/UTF-16 big-endian, data_coding 8 */
    SMPP_TEXT_ENC_BINARY,       /* 8-bit data, data_coding 4 */
};

/* Static name of an encoding for the HTTP API: "gsm7", "ucs2", "latin1"... */
const char *smpp_text_enc_name(enum smpp_text_enc enc);

/* Concatenation methods for messages longer than one segment. */
enum smpp_text_concat {
    SMPP_TEXT_CONCAT_UDH8 = 0,  /* 05 00 03 ref total seq, esm_class |= 0x40 */
    SMPP_TEXT_CONCAT_UDH16,     /* 06 08 04 refHi refLo total seq, esm_class |= 0x40 */
    SMPP_TEXT_CONCAT_SAR,       /* sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs */
    SMPP_TEXT_CONCAT_PAYLOAD,   /* the whole text in one message_payload TLV */
};

#define SMPP_TEXT_ESM_UDHI     0x40
#define SMPP_TEXT_MAX_PARTS    255   /* total and seq are one octet in UDH and SAR */
#define SMPP_TEXT_PAYLOAD_MAX  1024  /* message_payload limit we (and libsmpp34) accept */
/*
 * Largest short_message a part can have: 160 unpacked GSM septets. (On the
 * air every part is <= 140 octets; unpacked septets take one octet each in
 * SMPP, so short_message can be longer than 140 for GSM7.)
 */
#define SMPP_TEXT_SM_MAX       160
/* Buffer that always holds the output of smpp_text_split*() for n parts. */
#define SMPP_TEXT_SPLIT_BUFSZ(n) \
    ((size_t)(n) * SMPP_TEXT_SM_MAX > SMPP_TEXT_PAYLOAD_MAX ? \
     (size_t)(n) * SMPP_TEXT_SM_MAX : (size_t)SMPP_TEXT_PAYLOAD_MAX)
/* Output size that always suffices for any decoder given inlen octets. */
#define SMPP_TEXT_DECODE_MAX(inlen) (4 * (size_t)(inlen) + 1)

/* ------------------------------------------------------------ UTF-8 input */

/* 0 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF),
 * else SMPP_TEXT_E_UTF8 with *err_off at the first bad sequence. */
int smpp_text_utf8_check(const char *s, size_t len, size_t *err_off);

/* ------------------------------------------------------------ GSM 03.38 */

/*
 * UTF-8 -> unpacked septets (one per octet; extension characters as 0x1B xx).
 * E_CHARSET at the first character that has no GSM code (no lossy mapping).
 */
int smpp_text_gsm7_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                          size_t *outlen, size_t *err_off);

/*
 * Unpacked septets -> UTF-8. Octets with the high bit set decode to U+FFFD.
 * 0x1B followed by a code not in the extension table decodes as that code
 * from the basic table (23.038 6.2.1.1); 0x1B 0x1B and a trailing 0x1B
 * decode as a space (23.038 note 1).
 */
int smpp_text_gsm7_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                          size_t *outlen);

/* Septets cost of one code point in GSM7: 1, 2 (extension), 0 = not in GSM. */
unsigned smpp_text_gsm7_cost(uint32_t cp);

/*
 * Pack n septets into octets, LSB first (23.038 6.1.2.1). fill_bits (0..6)
 * zero bits come first: the padding that aligns the text to a septet
 * boundary after a UDH. When the last octet has 7 spare bits they are filled
 * with CR (0x0D), as 23.038 6.1.2.3.1 prescribes where the septet count is
 * not carried — which is SMPP's case: sm_length counts octets.
 * *outlen = ceil((fill_bits + 7n) / 8). out may be septets (packs in place).
 * E_INVAL if a septet has its high bit set.
 */
int smpp_text_gsm7_pack(const uint8_t *septets, size_t n, unsigned fill_bits,
                        uint8_t *out, size_t outsz, size_t *outlen);

/*
 * Unpack septets from in[0..inlen), skipping fill_bits (0..6) leading bits.
 * nseptets: how many to take, or SIZE_MAX when unknown. When unknown, every
 * whole septet is taken, except that a final septet made only of the 7 spare
 * bits of the last octet is dropped if it is 0x00 (zero padding, would read
 * '@') or 0x0D (CR padding). That is the one ambiguity of packed SMPP text:
 * a genuine trailing '@' or CR at such a position is lost. E_INVAL when
 * nseptets needs more bits than the input has.
 */
int smpp_text_gsm7_unpack(const uint8_t *in, size_t inlen, unsigned fill_bits,
                          size_t nseptets, uint8_t *out, size_t outsz, size_t *outlen);

/* ------------------------------------------------------------ other charsets */

/* UTF-8 -> ISO-8859-1; E_CHARSET for code points above U+00FF. */
int smpp_text_latin1_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                            size_t *outlen, size_t *err_off);
/* ISO-8859-1 -> UTF-8 (0x80-0x9F are C1 controls, as ISO-8859-1 says). */
int smpp_text_latin1_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                            size_t *outlen);
/* IA5/ASCII -> UTF-8; octets >= 0x80 decode to U+FFFD. */
int smpp_text_ia5_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                         size_t *outlen);
/* UTF-8 -> UCS-2 big-endian; characters beyond the BMP become surrogate pairs. */
int smpp_text_ucs2_encode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
                          size_t *outlen, size_t *err_off);
/* UCS-2/UTF-16BE -> UTF-8; a lone or reversed surrogate and an odd trailing
 * octet each decode to U+FFFD. */
int smpp_text_ucs2_decode(const uint8_t *in, size_t inlen, char *out, size_t outsz,
                          size_t *outlen);

/* ------------------------------------------------------------ by data_coding */

#define SMPP_TEXT_DECODE_HEX 0x01u  /* render 8-bit data as uppercase hex instead of E_BINARY */

/*
 * Which encoding a data_coding value carries. dc0 is what data_coding 0
 * (SMSC default alphabet) means for this SMSC: SMPP_TEXT_ENC_GSM7,
 * SMPP_TEXT_ENC_GSM7_PACKED, SMPP_TEXT_ENC_LATIN1 or SMPP_TEXT_ENC_IA5.
 * Supported: 0; 1 IA5; 2 and 4 8-bit; 3 Latin-1; 8 UCS-2; GSM 03.38 DCS
 * groups 0x10-0x7F (general, uncompressed: GSM7 / 8-bit / UCS-2 by bits 3-2),
 * 0xC0-0xDF (message waiting, GSM7), 0xE0-0xEF (message waiting, UCS-2),
 * 0xF0-0xFF (class control: bit 2 clear GSM7, set 8-bit). GSM7 from a DCS
 * group is taken packed only when dc0 is GSM7_PACKED. Anything else E_DCS.
 */
int smpp_text_dc_enc(uint8_t data_coding, enum smpp_text_enc dc0, enum smpp_text_enc *enc);

/*
 * Decode a short_message (or message_payload) to UTF-8.
 *   sm, smlen  the whole field as received, UDH included
 *   text_off   where the text starts: 0, or udh.text_off from
 *              smpp_text_udh_parse(). For packed GSM7 the fill bits that
 *              align the text to a septet boundary after text_off octets of
 *              UDH are skipped, and the septet count is derived as in
 *              smpp_text_gsm7_unpack(nseptets = SIZE_MAX).
 *   flags      SMPP_TEXT_DECODE_HEX or 0
 * E_DCS / E_BINARY / E_INVAL (text_off > smlen, bad dc0) / E_SPACE.
 */
int smpp_text_decode(uint8_t data_coding, enum smpp_text_enc dc0,
                     const uint8_t *sm, size_t smlen, size_t text_off, unsigned flags,
                     char *out, size_t outsz, size_t *outlen);

/* ------------------------------------------------------------ MT segmentation */

/* What a text costs; the HTTP API returns "encoding" and "segments" from it. */
struct smpp_text_info {
    enum smpp_text_enc enc;   /* chosen encoding (never AUTO) */
    uint8_t data_coding;      /* 0 GSM7, 1 IA5, 3 Latin-1, 8 UCS-2, 4 binary */
    size_t chars;             /* code points (octets for binary) */
    size_t units;             /* septets (extensions count 2), UCS-2 units, or octets */
    size_t octets;            /* encoded size as one field (packed size for GSM7_PACKED) */
    unsigned segments;        /* SMS on the air, honouring the no-split rules */
    unsigned pdus;            /* submit_sm PDUs: = segments, or 1 for PAYLOAD */
};

/*
 * Measure UTF-8 text (enc AUTO, GSM7, GSM7_PACKED, LATIN1, IA5 or UCS2) for
 * a concat method. Segment sizes in units: single 160/70/140; UDH8 and SAR
 * 153/67/134; UDH16 152/66/133 (GSM7/UCS2/8-bit). SAR is sized like UDH8
 * because the SMSC adds that UDH on the air. LATIN1 and IA5 are sized as
 * 8-bit (one octet per character in short_message), which is never more
 * than the SMSC can carry whatever it converts them to. PAYLOAD: segments is what the
 * SMSC will send on the air (as UDH8), pdus is 1; E_TOOLONG if the encoded
 * text exceeds 1024 octets (info is still filled in).
 * An empty text is one segment.
 */
int smpp_text_measure(const char *utf8, size_t len, enum smpp_text_enc enc,
                      enum smpp_text_concat concat, struct smpp_text_info *info,
                      size_t *err_off);

struct smpp_text_split_opts {
    enum smpp_text_enc enc;        /* requested encoding (AUTO picks GSM7 or UCS2) */
    enum smpp_text_concat concat;
    uint16_t ref;                  /* concat reference; UDH8 uses the low 8 bits */
    unsigned max_parts;            /* 1..255: more needed -> E_TOOLONG */
};

/* One submit_sm's worth. sm points into the caller's buf. */
struct smpp_text_part {
    const uint8_t *sm;     /* short_message bytes (UDH first when udhi), or message_payload */
    uint16_t len;          /* octets at sm: <= 160 (<= 140 on the air), or <= 1024 when payload */
    uint16_t units;        /* text units in this part (septets, UCS-2 units, octets) */
    uint8_t esm_udhi;      /* SMPP_TEXT_ESM_UDHI or 0: OR into esm_class */
    bool payload;          /* put sm in message_payload (0x0424) with sm_length 0 */
    bool sar;              /* send the three SAR TLVs below */
    uint16_t sar_ref;      /* sar_msg_ref_num */
    uint8_t sar_total;     /* sar_total_segments */
    uint8_t sar_seq;       /* sar_segment_seqnum, 1-based */
};

struct smpp_text_split {
    enum smpp_text_enc enc;  /* encoding used (never AUTO) */
    uint8_t data_coding;     /* for every part */
    unsigned nparts;         /* parts[0..nparts) are filled */
    size_t used;             /* octets of buf used */
};

/*
 * Encode UTF-8 text and cut it into parts. buf (bufsz octets; 
 * SMPP_TEXT_SPLIT_BUFSZ(max_parts) always suffices) receives the bytes that
 * parts[i].sm point to; parts has room for opt->max_parts entries.
 * A text that fits one segment yields one part without UDH or SAR, whatever
 * the method. With PAYLOAD, a longer text yields one part with payload set.
 * Parts are filled greedily, and neither an extension character's escape
 * pair nor a surrogate pair is ever split across parts.
 * Errors: E_UTF8, E_CHARSET (enc forced and a character does not fit),
 * E_TOOLONG, E_SPACE, E_INVAL (enc BINARY: use smpp_text_split_binary).
 */
int smpp_text_split(const char *utf8, size_t len, const struct smpp_text_split_opts *opt,
                    uint8_t *buf, size_t bufsz, struct smpp_text_part *parts,
                    struct smpp_text_split *res, size_t *err_off);

/* Same for 8-bit data (data_coding 4): 140/134/133 octets per part. */
int smpp_text_split_binary(const uint8_t *data, size_t len,
                           const struct smpp_text_split_opts *opt,
                           uint8_t *buf, size_t bufsz, struct smpp_text_part *parts,
                           struct smpp_text_split *res);

/* ------------------------------------------------------------ MO UDH */

struct smpp_text_udh {
    size_t text_off;     /* where the text starts in short_message: 0 without UDHI, else UDHL + 1 */
    bool concat;         /* a usable concatenation IE was found */
    bool ref16;          /* it was IEI 0x08 (16-bit reference) */
    uint16_t ref;
    uint8_t total;       /* >= 1 */
    uint8_t seq;         /* 1..total */
};

/*
 * Parse the UDH at the start of short_message when esm_class has UDHI.
 * Without UDHI: text_off 0, no concat, returns 0. With UDHI: UDHL must fit
 * in smlen - 1, every IE header and body must fit inside UDHL exactly, and a
 * concat IE must have length 3 (IEI 0x00) or 4 (IEI 0x08) — else E_UDH.
 * Several IEs may precede or follow; if concat IEs repeat, the last one
 * counts (23.040 9.2.3.24). A concat IE with total 0, seq 0 or seq > total
 * is ignored, as 23.040 9.2.3.24.1 says (concat stays false).
 */
int smpp_text_udh_parse(const uint8_t *sm, size_t smlen, uint8_t esm_class,
                        struct smpp_text_udh *udh);

#endif
