#include "smpp/smpp_pdu.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <smpp34_heap.h>

/*
 * libsmpp34's allocator, owned here.
 *
 * Unpack allocates one node per TLV and leaks it when a TLV is truncated.
 * Every node it allocates during one decode comes from this arena and the
 * arena is emptied when the decode returns, so nothing leaks whatever the
 * library does. The guard lets through at most one TLV per kept tag, so the
 * arena cannot run out; if it ever did, that is a bug here and we abort.
 */
#define ARENA_SLOTS 32
#define ARENA_SLOT_SIZE 1088

static struct {
    unsigned used;
    _Alignas(16) unsigned char slot[ARENA_SLOTS][ARENA_SLOT_SIZE];
} arena;

static void *
arena_malloc(size_t sz)
{
    if (sz > ARENA_SLOT_SIZE || arena.used >= ARENA_SLOTS) {
        fprintf(stderr, "smpp_pdu: libsmpp34 arena exhausted (%zu bytes, %u used)\n",
                sz, arena.used);
        abort();
    }
    return arena.slot[arena.used++];
}

static void *
arena_realloc(void *ptr, size_t sz)
{
    (void)ptr;
    (void)sz;
    fprintf(stderr, "smpp_pdu: libsmpp34 called realloc\n");
    abort();
}

static void
arena_free(void *ptr)
{
    (void)ptr;          /* reclaimed in bulk by arena_reset() */
}

static void
arena_reset(void)
{
    arena.used = 0;
}

static void
lib_init(void)
{
    static bool done;
    static const struct smpp34_memory_functions mf = {
        .malloc_fun = arena_malloc,
        .realloc_fun = arena_realloc,
        .free_fun = arena_free,
    };

    if (!done) {
        smpp34_set_memory_functions(&mf);
        done = true;
    }
}

/* ------------------------------------------------------------ commands */

bool
smpp_is_resp(uint32_t command_id)
{
    return (command_id & 0x80000000u) != 0;
}

uint32_t
smpp_resp_id(uint32_t command_id)
{
    switch (command_id) {
    case BIND_RECEIVER: case BIND_TRANSMITTER: case QUERY_SM: case SUBMIT_SM:
    case DELIVER_SM: case UNBIND: case REPLACE_SM: case CANCEL_SM:
    case BIND_TRANSCEIVER: case ENQUIRE_LINK: case SUBMIT_MULTI: case DATA_SM:
        return command_id | 0x80000000u;
    default:
        return 0;       /* outbind, alert_notification, resps, unknown */
    }
}

const char *
smpp_command_name(uint32_t id)
{
    switch (id) {
    case GENERIC_NACK: return "generic_nack";
    case BIND_RECEIVER: return "bind_receiver";
    case BIND_RECEIVER_RESP: return "bind_receiver_resp";
    case BIND_TRANSMITTER: return "bind_transmitter";
    case BIND_TRANSMITTER_RESP: return "bind_transmitter_resp";
    case QUERY_SM: return "query_sm";
    case QUERY_SM_RESP: return "query_sm_resp";
    case SUBMIT_SM: return "submit_sm";
    case SUBMIT_SM_RESP: return "submit_sm_resp";
    case DELIVER_SM: return "deliver_sm";
    case DELIVER_SM_RESP: return "deliver_sm_resp";
    case UNBIND: return "unbind";
    case UNBIND_RESP: return "unbind_resp";
    case REPLACE_SM: return "replace_sm";
    case REPLACE_SM_RESP: return "replace_sm_resp";
    case CANCEL_SM: return "cancel_sm";
    case CANCEL_SM_RESP: return "cancel_sm_resp";
    case BIND_TRANSCEIVER: return "bind_transceiver";
    case BIND_TRANSCEIVER_RESP: return "bind_transceiver_resp";
    case OUTBIND: return "outbind";
    case ENQUIRE_LINK: return "enquire_link";
    case ENQUIRE_LINK_RESP: return "enquire_link_resp";
    case SUBMIT_MULTI: return "submit_multi";
    case SUBMIT_MULTI_RESP: return "submit_multi_resp";
    case ALERT_NOTIFICATION: return "alert_notification";
    case DATA_SM: return "data_sm";
    case DATA_SM_RESP: return "data_sm_resp";
    default: return "unknown";
    }
}

const char *
smpp_status_name(uint32_t status)
{
    static _Thread_local char buf[16];

    switch (status) {
#define S(x) case x: return #x;
    S(ESME_ROK) S(ESME_RINVMSGLEN) S(ESME_RINVCMDLEN) S(ESME_RINVCMDID)
    S(ESME_RINVBNDSTS) S(ESME_RALYBND) S(ESME_RINVPRTFLG) S(ESME_RINVREGDLVFLG)
    S(ESME_RSYSERR) S(ESME_RINVSRCADR) S(ESME_RINVDSTADR) S(ESME_RINVMSGID)
    S(ESME_RBINDFAIL) S(ESME_RINVPASWD) S(ESME_RINVSYSID) S(ESME_RCANCELFAIL)
    S(ESME_RREPLACEFAIL) S(ESME_RMSGQFUL) S(ESME_RINVSERTYP) S(ESME_RINVNUMDESTS)
    S(ESME_RINVDLNAME) S(ESME_RINVDESTFLAG) S(ESME_RINVSUBREP) S(ESME_RINVESMCLASS)
    S(ESME_RCNTSUBDL) S(ESME_RSUBMITFAIL) S(ESME_RINVSRCTON) S(ESME_RINVSRCNPI)
    S(ESME_RINVDSTTON) S(ESME_RINVDSTNPI) S(ESME_RINVSYSTYP) S(ESME_RINVREPFLAG)
    S(ESME_RINVNUMMSGS) S(ESME_RTHROTTLED) S(ESME_RINVSCHED) S(ESME_RINVEXPIRY)
    S(ESME_RINVDFTMSGID) S(ESME_RX_T_APPN) S(ESME_RX_P_APPN) S(ESME_RX_R_APPN)
    S(ESME_RQUERYFAIL) S(ESME_RINVOPTPARSTREAM) S(ESME_ROPTPARNOTALLWD)
    S(ESME_RINVPARLEN) S(ESME_RMISSINGOPTPARAM) S(ESME_RINVOPTPARAMVAL)
    S(ESME_RDELIVERYFAILURE) S(ESME_RUNKNOWNERR)
#undef S
    default:
        snprintf(buf, sizeof(buf), "0x%08X", status);
        return buf;
    }
}

bool
smpp_status_is_temporary(uint32_t status)
{
    return status == ESME_RSYSERR || status == ESME_RMSGQFUL ||
           status == ESME_RTHROTTLED || status == ESME_RX_T_APPN;
}

/* ---------------------------------------------------------------- header */

static uint32_t
get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

static uint16_t
get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return ntohs(v);
}

static void
put32(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

void
smpp_pdu_header(const uint8_t *buf, struct smpp_hdr *h)
{
    h->command_length = get32(buf);
    h->command_id = get32(buf + 4);
    h->command_status = get32(buf + 8);
    h->sequence_number = get32(buf + 12);
}

/* ----------------------------------------------------------------- guard */

/*
 * The body layouts libsmpp34 expects (its def_frame files), as a walk the
 * guard can check: each field, its bound, and the status that answers a
 * violation. libsmpp34 is stricter than the wire in places; those fields are
 * normalised on the copy it sees (F_EMPTY, F_IVER) and reported truthfully
 * to the caller.
 */
enum field_kind {
    F_END,
    F_COCTET,   /* C-octet string of at most max bytes including the NUL */
    F_EMPTY,    /* C-octet libsmpp34 only accepts empty: content dropped */
    F_BYTE,
    F_TON,
    F_NPI,
    F_IVER,     /* interface_version: libsmpp34 wants 0x34 on some binds */
    F_SM,       /* sm_length + short_message (<= 254 octets) */
};

struct field {
    unsigned char kind;
    unsigned char max;
    uint32_t err;
};

#define C(n, e)  { F_COCTET, n, e }
#define E(e)     { F_EMPTY, 65, e }
#define B        { F_BYTE, 0, 0 }
#define TON(e)   { F_TON, 0, e }
#define NPI(e)   { F_NPI, 0, e }
#define IVER     { F_IVER, 0, 0 }
#define SM       { F_SM, 0, ESME_RINVMSGLEN }
#define END      { F_END, 0, 0 }

static const struct field f_bind[] = {
    C(16, ESME_RINVSYSID), C(9, ESME_RINVPASWD), C(13, ESME_RINVSYSTYP), IVER,
    TON(ESME_RBINDFAIL), NPI(ESME_RBINDFAIL), C(41, ESME_RBINDFAIL), END
};
static const struct field f_bind_resp[] = { C(16, ESME_RINVSYSID), END };
static const struct field f_outbind[] = { C(16, ESME_RINVSYSID), C(9, ESME_RINVPASWD), END };
static const struct field f_submit[] = {
    C(6, ESME_RINVSERTYP), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(21, ESME_RINVSRCADR),
    TON(ESME_RINVDSTTON), NPI(ESME_RINVDSTNPI), C(21, ESME_RINVDSTADR), B, B, B,
    C(17, ESME_RINVSCHED), C(17, ESME_RINVEXPIRY), B, B, B, B, SM, END
};
static const struct field f_deliver[] = {
    C(6, ESME_RINVSERTYP), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(21, ESME_RINVSRCADR),
    TON(ESME_RINVDSTTON), NPI(ESME_RINVDSTNPI), C(21, ESME_RINVDSTADR), B, B, B,
    E(ESME_RINVSCHED), E(ESME_RINVEXPIRY), B, B, B, B, SM, END
};
static const struct field f_msgid_resp[] = { C(65, ESME_RINVMSGID), END };
static const struct field f_deliver_resp[] = { E(ESME_RINVMSGID), END };
static const struct field f_data[] = {
    C(6, ESME_RINVSERTYP), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(21, ESME_RINVSRCADR),
    TON(ESME_RINVDSTTON), NPI(ESME_RINVDSTNPI), C(65, ESME_RINVDSTADR), B, B, B, END
};
static const struct field f_query[] = {
    C(65, ESME_RINVMSGID), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(21, ESME_RINVSRCADR), END
};
static const struct field f_query_resp[] = {
    C(65, ESME_RINVMSGID), C(17, ESME_RQUERYFAIL), B, B, END
};
static const struct field f_cancel[] = {
    C(6, ESME_RINVSERTYP), C(65, ESME_RINVMSGID), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI),
    C(21, ESME_RINVSRCADR), TON(ESME_RINVDSTTON), NPI(ESME_RINVDSTNPI), C(21, ESME_RINVDSTADR), END
};
static const struct field f_replace[] = {
    C(65, ESME_RINVMSGID), TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(21, ESME_RINVSRCADR),
    C(17, ESME_RINVSCHED), C(17, ESME_RINVEXPIRY), B, B, SM, END
};
static const struct field f_alert[] = {
    TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(65, ESME_RINVSRCADR),
    TON(ESME_RINVSRCTON), NPI(ESME_RINVSRCNPI), C(65, ESME_RINVSRCADR), END
};
static const struct field f_none[] = { END };

#undef C
#undef E
#undef B
#undef TON
#undef NPI
#undef IVER
#undef SM
#undef END

/* A TLV we keep: its tag, its bit, and the length it must have on the wire
 * (exact when fixed, else at most max). */
struct tlv_rule {
    uint16_t tag;
    uint32_t bit;
    uint16_t min, max;
};

#define R(tag, bit, mn, mx) { tag, bit, mn, mx }
/* What the three message PDUs share (libsmpp34 types them alike), and what
 * receipts add. */
#define MESSAGE_TLVS \
    R(TLVID_user_message_reference, SMPP_TLV_USER_MESSAGE_REFERENCE, 2, 2), \
    R(TLVID_source_port, SMPP_TLV_SOURCE_PORT, 2, 2), \
    R(TLVID_destination_port, SMPP_TLV_DESTINATION_PORT, 2, 2), \
    R(TLVID_sar_msg_ref_num, SMPP_TLV_SAR_MSG_REF_NUM, 2, 2), \
    R(TLVID_sar_total_segments, SMPP_TLV_SAR_TOTAL_SEGMENTS, 1, 1), \
    R(TLVID_sar_segment_seqnum, SMPP_TLV_SAR_SEGMENT_SEQNUM, 1, 1), \
    R(TLVID_payload_type, SMPP_TLV_PAYLOAD_TYPE, 1, 1)
#define RECEIPT_TLVS \
    R(TLVID_receipted_message_id, SMPP_TLV_RECEIPTED_MESSAGE_ID, 1, 65), \
    R(TLVID_message_state, SMPP_TLV_MESSAGE_STATE, 1, 1), \
    R(TLVID_network_error_code, SMPP_TLV_NETWORK_ERROR_CODE, 3, 3)

static const struct tlv_rule t_sm[] = {           /* submit_sm */
    MESSAGE_TLVS,
    R(TLVID_more_messages_to_send, SMPP_TLV_MORE_MESSAGES_TO_SEND, 1, 1),
    R(TLVID_message_payload, SMPP_TLV_MESSAGE_PAYLOAD, 0, SMPP_PAYLOAD_MAX),
    { 0, 0, 0, 0 }
};
static const struct tlv_rule t_deliver[] = {      /* deliver_sm */
    MESSAGE_TLVS,
    R(TLVID_message_payload, SMPP_TLV_MESSAGE_PAYLOAD, 0, SMPP_PAYLOAD_MAX),
    RECEIPT_TLVS,
    { 0, 0, 0, 0 }
};
static const struct tlv_rule t_data[] = {         /* data_sm */
    MESSAGE_TLVS,
    R(TLVID_more_messages_to_send, SMPP_TLV_MORE_MESSAGES_TO_SEND, 1, 1),
    R(TLVID_message_payload, SMPP_TLV_MESSAGE_PAYLOAD, 0, SMPP_PAYLOAD_MAX),
    RECEIPT_TLVS,
    { 0, 0, 0, 0 }
};
/* libsmpp34's data_sm_resp has no TLV part: its TLVs are walked, checked and
 * dropped. */
static const struct tlv_rule t_data_resp[] = { { 0, 0, 0, 0 } };
static const struct tlv_rule t_bind_resp[] = {
    R(TLVID_sc_interface_version, SMPP_TLV_SC_INTERFACE_VERSION, 1, 1),
    { 0, 0, 0, 0 }
};
static const struct tlv_rule t_alert[] = {
    R(TLVID_ms_availability_status, SMPP_TLV_MS_AVAILABILITY_STATUS, 1, 1),
    { 0, 0, 0, 0 }
};
#undef R
#undef MESSAGE_TLVS
#undef RECEIPT_TLVS

struct layout {
    const struct field *fields;
    const struct tlv_rule *tlvs;        /* NULL: the PDU has no TLV part */
};

static bool
layout_of(uint32_t id, struct layout *l)
{
    l->tlvs = NULL;
    switch (id) {
    case BIND_TRANSMITTER: case BIND_RECEIVER: case BIND_TRANSCEIVER:
        l->fields = f_bind; break;
    case BIND_TRANSMITTER_RESP: case BIND_RECEIVER_RESP: case BIND_TRANSCEIVER_RESP:
        l->fields = f_bind_resp; l->tlvs = t_bind_resp; break;
    case OUTBIND: l->fields = f_outbind; break;
    case SUBMIT_SM: l->fields = f_submit; l->tlvs = t_sm; break;
    case SUBMIT_SM_RESP: case DATA_SM_RESP:
        l->fields = f_msgid_resp;
        if (id == DATA_SM_RESP)
            l->tlvs = t_data_resp;
        break;
    case DELIVER_SM: l->fields = f_deliver; l->tlvs = t_deliver; break;
    case DELIVER_SM_RESP: l->fields = f_deliver_resp; break;
    case DATA_SM: l->fields = f_data; l->tlvs = t_data; break;
    case QUERY_SM: l->fields = f_query; break;
    case QUERY_SM_RESP: l->fields = f_query_resp; break;
    case CANCEL_SM: l->fields = f_cancel; break;
    case REPLACE_SM: l->fields = f_replace; break;
    case ALERT_NOTIFICATION: l->fields = f_alert; l->tlvs = t_alert; break;
    case UNBIND: case UNBIND_RESP: case GENERIC_NACK: case ENQUIRE_LINK:
    case ENQUIRE_LINK_RESP: case CANCEL_SM_RESP: case REPLACE_SM_RESP:
        l->fields = f_none; break;
    default:
        return false;   /* unknown, or submit_multi which smsgw does not take */
    }
    return true;
}

static bool
ton_ok(uint8_t v)
{
    return v <= 6;
}

static bool
npi_ok(uint8_t v)
{
    switch (v) {
    case 0: case 1: case 3: case 4: case 6: case 8: case 9: case 10: case 14: case 18:
        return true;
    default:
        return false;
    }
}

/* The guarded copy libsmpp34 sees is never larger than the largest body we
 * keep: mandatory fields (< 600 bytes) plus one of each kept TLV. */
#define GUARD_BUF 4096

/*
 * Walk in[0..len) as command hdr->command_id and write the copy libsmpp34
 * may unpack to out. Returns ESME_ROK or the status to answer with.
 */
static uint32_t
guard(const uint8_t *in, size_t len, const struct layout *l, uint8_t *out,
      size_t *outlen, uint8_t *iver, unsigned *dropped)
{
    size_t i = SMPP_HEADER_LEN, o = SMPP_HEADER_LEN;
    uint32_t seen = 0;

    memcpy(out, in, SMPP_HEADER_LEN);
    for (const struct field *f = l->fields; f->kind != F_END; f++) {
        switch (f->kind) {
        case F_COCTET:
        case F_EMPTY: {
            size_t room = len - i;
            const uint8_t *nul = memchr(in + i, 0, room);
            if (!nul)
                return f->err ? f->err : ESME_RINVCMDLEN;
            size_t n = (size_t)(nul - (in + i)) + 1;
            if (f->kind == F_COCTET && n > f->max)
                return f->err;
            if (f->kind == F_COCTET) {
                memcpy(out + o, in + i, n);
                o += n;
            } else {
                out[o++] = 0;
            }
            i += n;
            break;
        }
        case F_BYTE: case F_TON: case F_NPI: case F_IVER:
            if (i >= len)
                return ESME_RINVCMDLEN;
            if (f->kind == F_TON && !ton_ok(in[i]))
                return f->err;
            if (f->kind == F_NPI && !npi_ok(in[i]))
                return f->err;
            if (f->kind == F_IVER) {
                *iver = in[i];
                out[o++] = 0x34;
            } else {
                out[o++] = in[i];
            }
            i++;
            break;
        case F_SM: {
            if (i >= len)
                return ESME_RINVCMDLEN;
            size_t n = in[i];
            if (n > 254 || n > len - i - 1)
                return ESME_RINVMSGLEN;
            memcpy(out + o, in + i, n + 1);
            o += n + 1;
            i += n + 1;
            break;
        }
        default:
            abort();
        }
    }

    if (!l->tlvs) {
        if (i != len)
            return ESME_RINVCMDLEN;
        *outlen = o;
        put32(out, (uint32_t)o);
        return ESME_ROK;
    }

    while (i < len) {
        if (len - i < 4)
            return ESME_RINVOPTPARSTREAM;
        uint16_t tag = get16(in + i), tl = get16(in + i + 2);
        if (tl > len - i - 4)
            return ESME_RINVOPTPARSTREAM;
        const struct tlv_rule *r = l->tlvs;
        while (r->tag && r->tag != tag)
            r++;
        if (!r->tag || (seen & r->bit)) {
            (*dropped)++;
        } else {
            if (tl < r->min || tl > r->max)
                return ESME_RINVPARLEN;
            seen |= r->bit;
            memcpy(out + o, in + i, 4u + tl);
            o += 4u + tl;
        }
        i += 4u + tl;
    }
    *outlen = o;
    put32(out, (uint32_t)o);
    return ESME_ROK;
}

/* ------------------------------------------------------------ TLV lists */

static void
tlvs_from_list(const tlv_t *list, struct smpp_tlvs *t)
{
    for (const tlv_t *n = list; n; n = n->next) {
        switch (n->tag) {
        case TLVID_user_message_reference:
            t->present |= SMPP_TLV_USER_MESSAGE_REFERENCE;
            t->user_message_reference = n->value.val16;
            break;
        case TLVID_source_port:
            t->present |= SMPP_TLV_SOURCE_PORT;
            t->source_port = n->value.val16;
            break;
        case TLVID_destination_port:
            t->present |= SMPP_TLV_DESTINATION_PORT;
            t->destination_port = n->value.val16;
            break;
        case TLVID_sar_msg_ref_num:
            t->present |= SMPP_TLV_SAR_MSG_REF_NUM;
            t->sar_msg_ref_num = n->value.val16;
            break;
        case TLVID_sar_total_segments:
            t->present |= SMPP_TLV_SAR_TOTAL_SEGMENTS;
            t->sar_total_segments = n->value.val08;
            break;
        case TLVID_sar_segment_seqnum:
            t->present |= SMPP_TLV_SAR_SEGMENT_SEQNUM;
            t->sar_segment_seqnum = n->value.val08;
            break;
        case TLVID_payload_type:
            t->present |= SMPP_TLV_PAYLOAD_TYPE;
            t->payload_type = n->value.val08;
            break;
        case TLVID_more_messages_to_send:
            t->present |= SMPP_TLV_MORE_MESSAGES_TO_SEND;
            t->more_messages_to_send = n->value.val08;
            break;
        case TLVID_message_payload:
            t->present |= SMPP_TLV_MESSAGE_PAYLOAD;
            t->message_payload_len = n->length;
            memcpy(t->message_payload, n->value.octet, n->length);
            break;
        case TLVID_receipted_message_id: {
            size_t l = n->length < sizeof(t->receipted_message_id) ? n->length
                       : sizeof(t->receipted_message_id) - 1;
            t->present |= SMPP_TLV_RECEIPTED_MESSAGE_ID;
            memcpy(t->receipted_message_id, n->value.octet, l);
            t->receipted_message_id[l] = 0;
            break;
        }
        case TLVID_message_state:
            t->present |= SMPP_TLV_MESSAGE_STATE;
            t->message_state = n->value.val08;
            break;
        case TLVID_network_error_code:
            t->present |= SMPP_TLV_NETWORK_ERROR_CODE;
            memcpy(t->network_error_code, n->value.octet, 3);
            break;
        case TLVID_sc_interface_version:
            t->present |= SMPP_TLV_SC_INTERFACE_VERSION;
            t->sc_interface_version = n->value.val08;
            break;
        case TLVID_delivery_failure_reason:
            t->present |= SMPP_TLV_DELIVERY_FAILURE_REASON;
            t->delivery_failure_reason = n->value.val08;
            break;
        case TLVID_additional_status_info_text: {
            size_t l = n->length < sizeof(t->additional_status_info_text) ? n->length
                       : sizeof(t->additional_status_info_text) - 1;
            t->present |= SMPP_TLV_ADDITIONAL_STATUS_TEXT;
            memcpy(t->additional_status_info_text, n->value.octet, l);
            t->additional_status_info_text[l] = 0;
            break;
        }
        case TLVID_dpf_result:
            t->present |= SMPP_TLV_DPF_RESULT;
            t->dpf_result = n->value.val08;
            break;
        case TLVID_ms_availability_status:
            t->present |= SMPP_TLV_MS_AVAILABILITY_STATUS;
            t->ms_availability_status = n->value.val08;
            break;
        default:
            break;
        }
    }
}

/* The list head inside a body struct, for the commands that carry TLVs. */
static tlv_t **
tlv_head(struct smpp_pdu *p)
{
    switch (p->hdr.command_id) {
    case SUBMIT_SM: return &p->u.submit_sm.tlv;
    case DELIVER_SM: return &p->u.deliver_sm.tlv;
    case DATA_SM: return &p->u.data_sm.tlv;
    case BIND_TRANSMITTER_RESP: return &p->u.bind_transmitter_resp.tlv;
    case BIND_RECEIVER_RESP: return &p->u.bind_receiver_resp.tlv;
    case BIND_TRANSCEIVER_RESP: return &p->u.bind_transceiver_resp.tlv;
    case ALERT_NOTIFICATION: return &p->u.alert_notification.tlv;
    default: return NULL;
    }
}

/* ---------------------------------------------------------------- decode */

uint32_t
smpp_pdu_decode(const uint8_t *buf, size_t len, struct smpp_pdu *out)
{
    uint8_t copy[GUARD_BUF];
    size_t clen = 0;
    struct layout l;
    uint32_t st;
    unsigned dropped = 0;
    uint8_t iver = 0x34;

    memset(out, 0, offsetof(struct smpp_pdu, tlv));
    out->tlv.present = 0;
    out->tlv.dropped = 0;
    out->tlv.message_payload_len = 0;
    if (len < SMPP_HEADER_LEN)
        return ESME_RINVCMDLEN;
    smpp_pdu_header(buf, &out->hdr);
    if (out->hdr.command_length != len)
        return ESME_RINVCMDLEN;
    if (!layout_of(out->hdr.command_id, &l))
        return ESME_RINVCMDID;
    /* A response with an error status is matched on its header alone. */
    if (smpp_is_resp(out->hdr.command_id) && out->hdr.command_status != ESME_ROK)
        return out->hdr.command_status;
    /* libsmpp34 refuses sequence number 0 and statuses it does not know;
     * both are protocol errors in a request. */
    if (out->hdr.sequence_number == 0)
        return ESME_RINVCMDLEN;
    if (out->hdr.command_status != ESME_ROK)
        return ESME_RINVCMDLEN;

    st = guard(buf, len, &l, copy, &clen, &iver, &dropped);
    if (st != ESME_ROK)
        return st;

    lib_init();
    arena_reset();
    if (smpp34_unpack2(&out->u, copy, (int)clen) != 0) {
        arena_reset();
        /* The guard should have caught everything libsmpp34 rejects; say
         * so loudly in tests, answer cleanly in production. */
        return ESME_RSYSERR;
    }
    tlv_t **head = tlv_head(out);
    if (head) {
        tlvs_from_list(*head, &out->tlv);
        *head = NULL;
    }
    arena_reset();
    out->tlv.dropped = dropped;
    out->peer_interface_version = iver;
    out->hdr.command_length = (uint32_t)len;    /* the wire's, not the copy's */
    out->has_body = true;
    return ESME_ROK;
}

/* ------------------------------------------------------------------ pack */

void
smpp_pdu_init(struct smpp_pdu *p, uint32_t command_id, uint32_t status, uint32_t seq)
{
    memset(p, 0, offsetof(struct smpp_pdu, tlv));
    p->tlv.present = 0;
    p->tlv.message_payload_len = 0;
    p->tlv.dropped = 0;
    p->hdr.command_id = command_id;
    p->hdr.command_status = status;
    p->hdr.sequence_number = seq;
    /* The first four words of every libsmpp34 body struct are the header. */
    p->u.generic_nack.command_id = command_id;
    p->u.generic_nack.command_status = status;
    p->u.generic_nack.sequence_number = seq;
    p->has_body = true;
}

/* Build libsmpp34's list for t in nodes[] (at most n); returns the head. */
static tlv_t *
tlvs_to_list(const struct smpp_tlvs *t, tlv_t *nodes, size_t n)
{
    tlv_t *head = NULL, **tail = &head;
    size_t k = 0;

#define ADD(bit, tg, len, assign) \
    if ((t->present & (bit)) && k < n) { \
        tlv_t *x = &nodes[k++]; \
        x->tag = (tg); x->length = (uint16_t)(len); x->next = NULL; \
        assign; \
        *tail = x; tail = &x->next; \
    }
    ADD(SMPP_TLV_USER_MESSAGE_REFERENCE, TLVID_user_message_reference, 2,
        x->value.val16 = t->user_message_reference)
    ADD(SMPP_TLV_SOURCE_PORT, TLVID_source_port, 2, x->value.val16 = t->source_port)
    ADD(SMPP_TLV_DESTINATION_PORT, TLVID_destination_port, 2,
        x->value.val16 = t->destination_port)
    ADD(SMPP_TLV_SAR_MSG_REF_NUM, TLVID_sar_msg_ref_num, 2,
        x->value.val16 = t->sar_msg_ref_num)
    ADD(SMPP_TLV_SAR_TOTAL_SEGMENTS, TLVID_sar_total_segments, 1,
        x->value.val08 = t->sar_total_segments)
    ADD(SMPP_TLV_SAR_SEGMENT_SEQNUM, TLVID_sar_segment_seqnum, 1,
        x->value.val08 = t->sar_segment_seqnum)
    ADD(SMPP_TLV_PAYLOAD_TYPE, TLVID_payload_type, 1, x->value.val08 = t->payload_type)
    ADD(SMPP_TLV_MORE_MESSAGES_TO_SEND, TLVID_more_messages_to_send, 1,
        x->value.val08 = t->more_messages_to_send)
    ADD(SMPP_TLV_MESSAGE_PAYLOAD, TLVID_message_payload, t->message_payload_len,
        memcpy(x->value.octet, t->message_payload, t->message_payload_len))
    ADD(SMPP_TLV_RECEIPTED_MESSAGE_ID, TLVID_receipted_message_id,
        strlen(t->receipted_message_id) + 1,
        memcpy(x->value.octet, t->receipted_message_id, strlen(t->receipted_message_id) + 1))
    ADD(SMPP_TLV_MESSAGE_STATE, TLVID_message_state, 1, x->value.val08 = t->message_state)
    ADD(SMPP_TLV_NETWORK_ERROR_CODE, TLVID_network_error_code, 3,
        memcpy(x->value.octet, t->network_error_code, 3))
    ADD(SMPP_TLV_SC_INTERFACE_VERSION, TLVID_sc_interface_version, 1,
        x->value.val08 = t->sc_interface_version)
    ADD(SMPP_TLV_DELIVERY_FAILURE_REASON, TLVID_delivery_failure_reason, 1,
        x->value.val08 = t->delivery_failure_reason)
    ADD(SMPP_TLV_ADDITIONAL_STATUS_TEXT, TLVID_additional_status_info_text,
        strlen(t->additional_status_info_text) + 1,
        memcpy(x->value.octet, t->additional_status_info_text,
               strlen(t->additional_status_info_text) + 1))
    ADD(SMPP_TLV_DPF_RESULT, TLVID_dpf_result, 1, x->value.val08 = t->dpf_result)
    ADD(SMPP_TLV_MS_AVAILABILITY_STATUS, TLVID_ms_availability_status, 1,
        x->value.val08 = t->ms_availability_status)
#undef ADD
    return head;
}

#define MAX_TLV_NODES 17

int
smpp_pdu_pack_buf(struct smpp_pdu *p, uint8_t *buf, size_t size, size_t *len)
{
    tlv_t nodes[MAX_TLV_NODES];
    tlv_t **head = tlv_head(p);
    int n = 0, rc;

    p->u.generic_nack.command_id = p->hdr.command_id;
    p->u.generic_nack.command_status = p->hdr.command_status;
    p->u.generic_nack.sequence_number = p->hdr.sequence_number;
    if (head)
        *head = p->tlv.present ? tlvs_to_list(&p->tlv, nodes, MAX_TLV_NODES) : NULL;
    rc = smpp34_pack2(buf, (int)(size > 0x7FFFFFFF ? 0x7FFFFFFF : size), &n, &p->u);
    if (head)
        *head = NULL;
    if (rc != 0)
        return -1;
    p->hdr.command_length = (uint32_t)n;
    *len = (size_t)n;
    return 0;
}

/* Room for the largest PDU smsgw builds: mandatory fields, a full
 * short_message or message_payload, and the kept TLVs, plus the extra byte
 * libsmpp34 wants. */
#define PACK_RESERVE 4096

int
smpp_pdu_pack(struct smpp_pdu *p, struct evbuffer *out)
{
    struct evbuffer_iovec v;
    size_t len = 0;

    if (evbuffer_reserve_space(out, PACK_RESERVE, &v, 1) < 1)
        return -1;
    if (smpp_pdu_pack_buf(p, v.iov_base, v.iov_len, &len) != 0)
        return -1;
    v.iov_len = len;
    return evbuffer_commit_space(out, &v, 1);
}
