/*
 * SMPP 3.4 PDUs: header, guarded decode, pack.
 *
 * Every PDU body is packed and unpacked by libsmpp34. libsmpp34 is not safe
 * on hostile input (see docs/ARCHITECTURE.md, "libsmpp34 behind a guard"), so
 * nothing from the wire reaches it before smpp_pdu_decode() has walked the
 * body itself: every mandatory field bounded and typed, every TLV's length
 * checked, and only the TLVs we use (one of each, at their exact sizes)
 * handed on. Unknown, vendor and duplicate TLVs are counted, not unpacked.
 *
 * libsmpp34 keeps global state (a trace buffer, an allocator); this module
 * owns it. Call it from the event-loop thread only.
 */
#ifndef SMPP_PDU_H
#define SMPP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

struct evbuffer;

#define SMPP_HEADER_LEN         16
#define SMPP_SEQ_MAX            0x7FFFFFFFu
/* The largest body libsmpp34 packs or unpacks in message_payload. */
#define SMPP_PAYLOAD_MAX        1024
/* Default cap on command_length for anything read from a peer. */
#define SMPP_DEFAULT_MAX_PDU    65536

struct smpp_hdr {
    uint32_t command_length;
    uint32_t command_id;
    uint32_t command_status;
    uint32_t sequence_number;
};

/* Which TLVs a struct smpp_tlvs holds (bits of .present). */
enum {
    SMPP_TLV_USER_MESSAGE_REFERENCE = 1u << 0,
    SMPP_TLV_SOURCE_PORT            = 1u << 1,
    SMPP_TLV_DESTINATION_PORT       = 1u << 2,
    SMPP_TLV_SAR_MSG_REF_NUM        = 1u << 3,
    SMPP_TLV_SAR_TOTAL_SEGMENTS     = 1u << 4,
    SMPP_TLV_SAR_SEGMENT_SEQNUM     = 1u << 5,
    SMPP_TLV_PAYLOAD_TYPE           = 1u << 6,
    SMPP_TLV_MESSAGE_PAYLOAD        = 1u << 7,
    SMPP_TLV_RECEIPTED_MESSAGE_ID   = 1u << 8,
    SMPP_TLV_MESSAGE_STATE          = 1u << 9,
    SMPP_TLV_NETWORK_ERROR_CODE     = 1u << 10,
    SMPP_TLV_SC_INTERFACE_VERSION   = 1u << 11,
    SMPP_TLV_DELIVERY_FAILURE_REASON= 1u << 12,
    SMPP_TLV_ADDITIONAL_STATUS_TEXT = 1u << 13,
    SMPP_TLV_DPF_RESULT             = 1u << 14,
    SMPP_TLV_MS_AVAILABILITY_STATUS = 1u << 15,
    SMPP_TLV_MORE_MESSAGES_TO_SEND  = 1u << 16,
};

/*
 * The optional parameters smsgw understands, as plain values. On decode it
 * is filled from libsmpp34's list (which is then released); on pack it is
 * turned into libsmpp34's list for the call. Values are host order.
 */
struct smpp_tlvs {
    uint32_t present;
    uint16_t user_message_reference;
    uint16_t source_port;
    uint16_t destination_port;
    uint16_t sar_msg_ref_num;
    uint8_t  sar_total_segments;
    uint8_t  sar_segment_seqnum;
    uint8_t  payload_type;
    uint8_t  message_state;
    uint8_t  sc_interface_version;
    uint8_t  delivery_failure_reason;
    uint8_t  dpf_result;
    uint8_t  ms_availability_status;
    uint8_t  more_messages_to_send;
    uint8_t  network_error_code[3];
    char     receipted_message_id[65];
    char     additional_status_info_text[257];
    uint16_t message_payload_len;
    uint8_t  message_payload[SMPP_PAYLOAD_MAX];
    /* On decode: TLVs on the wire that were not kept (unknown, vendor,
     * not defined for this command, or repeated). */
    unsigned dropped;
};

/*
 * A PDU: the header, the body as libsmpp34's struct for its command, and the
 * TLVs. The libsmpp34 structs' own `tlv` pointers are always NULL here.
 */
struct smpp_pdu {
    struct smpp_hdr hdr;
    /* False when only the header could be read: a response with a non-zero
     * status (its body is not unpacked: vendors send bodies libsmpp34
     * rejects), or one whose body did not decode. Requests never reach the
     * caller without a body. */
    bool has_body;
    union {
        bind_transmitter_t        bind_transmitter;
        bind_transmitter_resp_t   bind_transmitter_resp;
        bind_receiver_t           bind_receiver;
        bind_receiver_resp_t      bind_receiver_resp;
        bind_transceiver_t        bind_transceiver;
        bind_transceiver_resp_t   bind_transceiver_resp;
        outbind_t                 outbind;
        unbind_t                  unbind;
        unbind_resp_t             unbind_resp;
        generic_nack_t            generic_nack;
        submit_sm_t               submit_sm;
        submit_sm_resp_t          submit_sm_resp;
        deliver_sm_t              deliver_sm;
        deliver_sm_resp_t         deliver_sm_resp;
        data_sm_t                 data_sm;
        data_sm_resp_t            data_sm_resp;
        query_sm_t                query_sm;
        query_sm_resp_t           query_sm_resp;
        cancel_sm_t               cancel_sm;
        cancel_sm_resp_t          cancel_sm_resp;
        replace_sm_t              replace_sm;
        replace_sm_resp_t         replace_sm_resp;
        enquire_link_t            enquire_link;
        enquire_link_resp_t       enquire_link_resp;
        alert_notification_t      alert_notification;
    } u;
    /* bind_*: the interface_version the peer sent (libsmpp34 insists on
     * 0x34 and sees that; this keeps the truth). */
    uint8_t peer_interface_version;
    struct smpp_tlvs tlv;
};

/* Header of buf (at least 16 bytes), read in network order. */
void smpp_pdu_header(const uint8_t *buf, struct smpp_hdr *h);

/*
 * Decode a whole PDU of len bytes (len == its command_length, >= 16).
 * Returns ESME_ROK when out->has_body is usable, else the command_status to
 * answer a request with (ESME_RINVCMDLEN, ESME_RINVSRCADR, ESME_RINVCMDID,
 * ...). For a response the header in out->hdr is always filled, whatever is
 * returned, so it can be matched to its request.
 */
uint32_t smpp_pdu_decode(const uint8_t *buf, size_t len, struct smpp_pdu *out);

/*
 * Start a PDU to send: zeroes p and sets command_id, command_status,
 * sequence_number. The caller fills p->u.<command> and p->tlv.
 */
void smpp_pdu_init(struct smpp_pdu *p, uint32_t command_id, uint32_t status,
                   uint32_t seq);

/*
 * Pack p through libsmpp34 and append it to out (or to buf of size bytes,
 * setting *len). Returns 0, or -1 when libsmpp34 refuses the PDU (a caller
 * bug such as sm_length 254, an unknown status, sequence_number 0).
 */
int smpp_pdu_pack(struct smpp_pdu *p, struct evbuffer *out);
int smpp_pdu_pack_buf(struct smpp_pdu *p, uint8_t *buf, size_t size, size_t *len);

/* Command helpers. */
bool        smpp_is_resp(uint32_t command_id);
uint32_t    smpp_resp_id(uint32_t command_id);   /* 0 if it has no resp */
const char *smpp_command_name(uint32_t command_id);
const char *smpp_status_name(uint32_t status);   /* "ESME_R..." or "0x..." */

/*
 * True for statuses that, by common practice, mean "try again later"
 * (RSYSERR, RMSGQFUL, RTHROTTLED, RX_T_APPN).
 */
bool smpp_status_is_temporary(uint32_t status);

#endif
