/*
 * smsc-sim: SMPP field helpers that need no simulator state: C-octet
 * fields, receipt outcomes and their error codes, MO address kinds, the
 * receipt's text: prefix, and one view over submit_sm and data_sm.
 *
 * Included by tools/smsc-sim.c only; everything is static.
 */
#ifndef SIM_SMPP_H
#define SIM_SMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smpp/smpp_dlr.h"
#include "smpp/smpp_pdu.h"
#include "smpp/smpp_text.h"

/* A C-octet field of a PDU (size bytes, maybe unterminated) into out. */
static void
copy_field(char *out, size_t outsz, const uint8_t *field, size_t size)
{
    size_t n = strnlen((const char *)field, size);

    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, field, n);
    out[n] = '\0';
}

static bool
stat_failed(enum smpp_dlr_stat st)
{
    return st != SMPP_DLR_STAT_DELIVRD && st != SMPP_DLR_STAT_ACCEPTD;
}

/* The GSM MAP-style error a receipt carries for each outcome (err: and
 * network_error_code). */
static uint8_t
stat_err(enum smpp_dlr_stat st)
{
    switch (st) {
    case SMPP_DLR_STAT_UNDELIV: return 1;      /* unknown subscriber */
    case SMPP_DLR_STAT_EXPIRED: return 27;     /* absent subscriber */
    case SMPP_DLR_STAT_REJECTD: return 13;     /* call barred */
    case SMPP_DLR_STAT_UNKNOWN: return 34;     /* system failure */
    default:                    return 0;
    }
}

/* TON/NPI for an MO address: alphanumeric, short code, or E.164. */
static void
addr_kind(const char *a, uint8_t *ton, uint8_t *npi)
{
    size_t n = 0;

    for (; a[n]; n++) {
        if (a[n] < '0' || a[n] > '9') {
            *ton = 5;
            *npi = 0;
            return;
        }
    }
    if (n <= 6) {
        *ton = 3;
        *npi = 0;
    } else {
        *ton = 1;
        *npi = 1;
    }
}

/*
 * Up to SMPP_DLR_TEXT_MAX printable characters of a message's text for the
 * receipt's text: field. UDH skipped; UCS-2 keeps its ASCII characters;
 * 8-bit data gives nothing; anything unprintable becomes '?'.
 */
static uint8_t
text_prefix(const uint8_t *sm, size_t len, uint8_t esm, uint8_t dc, char *out)
{
    size_t off = 0, n = 0;
    enum smpp_text_enc enc;

    if ((esm & SMPP_TEXT_ESM_UDHI) && len > 0) {
        off = (size_t)sm[0] + 1;
        if (off > len)
            off = len;
    }
    if (smpp_text_dc_enc(dc, SMPP_TEXT_ENC_GSM7, &enc) != 0 || enc == SMPP_TEXT_ENC_BINARY)
        return 0;
    if (enc == SMPP_TEXT_ENC_UCS2) {
        for (size_t i = off; i + 1 < len && n < SMPP_DLR_TEXT_MAX; i += 2)
            out[n++] = sm[i] == 0 && sm[i + 1] >= 0x20 && sm[i + 1] < 0x7f ? (char)sm[i + 1] : '?';
    } else {
        for (size_t i = off; i < len && n < SMPP_DLR_TEXT_MAX; i++)
            out[n++] = sm[i] >= 0x20 && sm[i] < 0x7f ? (char)sm[i] : '?';
    }
    return (uint8_t)n;
}

/* The fields of a submit_sm or data_sm the simulator uses. */
struct msg_view {
    bool data;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    const uint8_t *src, *dst;
    size_t src_size, dst_size;
    uint8_t esm, regdel, dc;
    const uint8_t *sm;
    size_t smlen;
};

static void
msg_view(const struct smpp_pdu *req, struct msg_view *v)
{
    const struct smpp_tlvs *t = &req->tlv;

    v->data = req->hdr.command_id == DATA_SM;
    if (v->data) {
        const data_sm_t *d = &req->u.data_sm;
        v->src_ton = d->source_addr_ton;
        v->src_npi = d->source_addr_npi;
        v->src = d->source_addr;
        v->src_size = sizeof(d->source_addr);
        v->dst_ton = d->dest_addr_ton;
        v->dst_npi = d->dest_addr_npi;
        v->dst = d->destination_addr;
        v->dst_size = sizeof(d->destination_addr);
        v->esm = d->esm_class;
        v->regdel = d->registered_delivery;
        v->dc = d->data_coding;
        v->sm = NULL;
        v->smlen = 0;
    } else {
        const submit_sm_t *d = &req->u.submit_sm;
        v->src_ton = d->source_addr_ton;
        v->src_npi = d->source_addr_npi;
        v->src = d->source_addr;
        v->src_size = sizeof(d->source_addr);
        v->dst_ton = d->dest_addr_ton;
        v->dst_npi = d->dest_addr_npi;
        v->dst = d->destination_addr;
        v->dst_size = sizeof(d->destination_addr);
        v->esm = d->esm_class;
        v->regdel = d->registered_delivery;
        v->dc = d->data_coding;
        v->sm = d->short_message;
        v->smlen = d->sm_length;
    }
    if (v->smlen == 0 && (t->present & SMPP_TLV_MESSAGE_PAYLOAD)) {
        v->sm = t->message_payload;
        v->smlen = t->message_payload_len;
    }
}

#endif
