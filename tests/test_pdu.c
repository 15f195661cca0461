/*
 * PDU layer: libsmpp34 round trips through our wrapper, and the guard in
 * front of unpack (malformed, hostile and real-world-odd inputs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_pdu.h"
#include "tests/testlib.h"

/* ---------------------------------------------------------- raw builder */

struct raw {
    uint8_t b[70000];
    size_t n;
};

static void
r_init(struct raw *r, uint32_t cmd, uint32_t status, uint32_t seq)
{
    uint32_t v[4] = { 0, htonl(cmd), htonl(status), htonl(seq) };
    memcpy(r->b, v, 16);
    r->n = 16;
}

static void r_u8(struct raw *r, uint8_t v) { r->b[r->n++] = v; }

static void
r_u16(struct raw *r, uint16_t v)
{
    r->b[r->n++] = (uint8_t)(v >> 8);
    r->b[r->n++] = (uint8_t)v;
}

static void
r_str(struct raw *r, const char *s)
{
    size_t l = strlen(s) + 1;
    memcpy(r->b + r->n, s, l);
    r->n += l;
}

static void
r_bytes(struct raw *r, const void *p, size_t l)
{
    memcpy(r->b + r->n, p, l);
    r->n += l;
}

static void
r_tlv(struct raw *r, uint16_t tag, const void *v, uint16_t len)
{
    r_u16(r, tag);
    r_u16(r, len);
    r_bytes(r, v, len);
}

static const uint8_t *
r_done(struct raw *r)
{
    uint32_t l = htonl((uint32_t)r->n);
    memcpy(r->b, &l, 4);
    return r->b;
}

/* deliver_sm mandatory part, as a carrier sends it. */
static void
r_deliver_body(struct raw *r, const char *from, const char *to, uint8_t esm, const char *sm)
{
    r_str(r, "");               /* service_type */
    r_u8(r, 1); r_u8(r, 1); r_str(r, from);
    r_u8(r, 1); r_u8(r, 1); r_str(r, to);
    r_u8(r, esm); r_u8(r, 0); r_u8(r, 0);
    r_str(r, ""); r_str(r, ""); /* schedule, validity */
    r_u8(r, 0); r_u8(r, 0); r_u8(r, 0); r_u8(r, 0);
    r_u8(r, (uint8_t)strlen(sm));
    r_bytes(r, sm, strlen(sm));
}

/* ---------------------------------------------------------- round trips */

static void
pack_then_decode(struct smpp_pdu *in, struct smpp_pdu *out)
{
    uint8_t buf[8192];
    size_t len = 0;

    assert_int_equal(smpp_pdu_pack_buf(in, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, in->hdr.command_length);
    assert_int_equal(smpp_pdu_decode(buf, len, out), ESME_ROK);
    assert_true(out->has_body);
    assert_int_equal(out->hdr.command_id, in->hdr.command_id);
    assert_int_equal(out->hdr.sequence_number, in->hdr.sequence_number);
    assert_int_equal(out->hdr.command_length, len);
}

static void
test_submit_sm_round_trip_with_tlvs(void **state)
{
    static struct smpp_pdu in, out;
    (void)state;

    smpp_pdu_init(&in, SUBMIT_SM, 0, 42);
    submit_sm_t *b = &in.u.submit_sm;
    strcpy((char *)b->source_addr, "12345");
    b->source_addr_ton = 3;
    strcpy((char *)b->destination_addr, "14155550100");
    b->dest_addr_ton = 1;
    b->dest_addr_npi = 1;
    b->esm_class = 0x40;
    b->registered_delivery = 1;
    b->data_coding = 8;
    b->sm_length = 6;
    memcpy(b->short_message, "\x05\x00\x03\x7f\x02\x01", 6);
    in.tlv.present = SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                     SMPP_TLV_SAR_SEGMENT_SEQNUM | SMPP_TLV_USER_MESSAGE_REFERENCE;
    in.tlv.sar_msg_ref_num = 0xBEEF;
    in.tlv.sar_total_segments = 3;
    in.tlv.sar_segment_seqnum = 2;
    in.tlv.user_message_reference = 513;
    pack_then_decode(&in, &out);
    assert_string_equal((char *)out.u.submit_sm.source_addr, "12345");
    assert_int_equal(out.u.submit_sm.source_addr_ton, 3);
    assert_string_equal((char *)out.u.submit_sm.destination_addr, "14155550100");
    assert_int_equal(out.u.submit_sm.esm_class, 0x40);
    assert_int_equal(out.u.submit_sm.data_coding, 8);
    assert_int_equal(out.u.submit_sm.sm_length, 6);
    assert_memory_equal(out.u.submit_sm.short_message, "\x05\x00\x03\x7f\x02\x01", 6);
    assert_null(out.u.submit_sm.tlv);
    assert_int_equal(out.tlv.present, in.tlv.present);
    assert_int_equal(out.tlv.sar_msg_ref_num, 0xBEEF);
    assert_int_equal(out.tlv.sar_total_segments, 3);
    assert_int_equal(out.tlv.sar_segment_seqnum, 2);
    assert_int_equal(out.tlv.user_message_reference, 513);
    assert_int_equal(out.tlv.dropped, 0);
}

static void
test_message_payload_round_trip(void **state)
{
    static struct smpp_pdu in, out;
    (void)state;

    smpp_pdu_init(&in, SUBMIT_SM, 0, 7);
    strcpy((char *)in.u.submit_sm.destination_addr, "447700900000");
    in.tlv.present = SMPP_TLV_MESSAGE_PAYLOAD;
    in.tlv.message_payload_len = SMPP_PAYLOAD_MAX;
    for (int i = 0; i < SMPP_PAYLOAD_MAX; i++)
        in.tlv.message_payload[i] = (uint8_t)(i * 7);
    pack_then_decode(&in, &out);
    assert_int_equal(out.u.submit_sm.sm_length, 0);
    assert_true(out.tlv.present & SMPP_TLV_MESSAGE_PAYLOAD);
    assert_int_equal(out.tlv.message_payload_len, SMPP_PAYLOAD_MAX);
    assert_memory_equal(out.tlv.message_payload, in.tlv.message_payload, SMPP_PAYLOAD_MAX);
}

static void
test_receipt_tlvs_round_trip(void **state)
{
    static struct smpp_pdu in, out;
    (void)state;

    smpp_pdu_init(&in, DELIVER_SM, 0, 0x7FFFFFFF);
    in.u.deliver_sm.esm_class = 0x04;
    strcpy((char *)in.u.deliver_sm.source_addr, "14155550100");
    const char *txt = "id:1a2b sub:001 dlvrd:001 submit date:2611271200 done date:2611271201 "
                      "stat:DELIVRD err:000 text:hello";
    in.u.deliver_sm.sm_length = (uint8_t)strlen(txt);
    memcpy(in.u.deliver_sm.short_message, txt, strlen(txt));
    in.tlv.present = SMPP_TLV_RECEIPTED_MESSAGE_ID | SMPP_TLV_MESSAGE_STATE |
                     SMPP_TLV_NETWORK_ERROR_CODE;
    strcpy(in.tlv.receipted_message_id, "1a2b");
    in.tlv.message_state = 2;
    memcpy(in.tlv.network_error_code, "\x03\x00\x45", 3);
    pack_then_decode(&in, &out);
    assert_int_equal(out.hdr.sequence_number, 0x7FFFFFFF);
    assert_string_equal(out.tlv.receipted_message_id, "1a2b");
    assert_int_equal(out.tlv.message_state, 2);
    assert_memory_equal(out.tlv.network_error_code, "\x03\x00\x45", 3);
    assert_int_equal(out.u.deliver_sm.sm_length, strlen(txt));
}

static void
test_every_command_round_trips(void **state)
{
    static const uint32_t cmds[] = {
        BIND_TRANSMITTER, BIND_RECEIVER, BIND_TRANSCEIVER, BIND_TRANSMITTER_RESP,
        BIND_RECEIVER_RESP, BIND_TRANSCEIVER_RESP, OUTBIND, UNBIND, UNBIND_RESP,
        GENERIC_NACK, SUBMIT_SM, SUBMIT_SM_RESP, DELIVER_SM, DELIVER_SM_RESP, DATA_SM,
        DATA_SM_RESP, QUERY_SM, QUERY_SM_RESP, CANCEL_SM, CANCEL_SM_RESP, REPLACE_SM,
        REPLACE_SM_RESP, ENQUIRE_LINK, ENQUIRE_LINK_RESP, ALERT_NOTIFICATION,
    };
    static struct smpp_pdu in, out;
    (void)state;

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        smpp_pdu_init(&in, cmds[i], 0, (uint32_t)i + 1);
        switch (cmds[i]) {
        case BIND_TRANSMITTER: case BIND_RECEIVER: case BIND_TRANSCEIVER:
            strcpy((char *)in.u.bind_transmitter.system_id, "acme");
            strcpy((char *)in.u.bind_transmitter.password, "secret");
            in.u.bind_transmitter.interface_version = 0x34;
            break;
        case SUBMIT_SM_RESP:
            strcpy((char *)in.u.submit_sm_resp.message_id, "ABCDEF0123");
            break;
        case QUERY_SM:
            strcpy((char *)in.u.query_sm.message_id, "99");
            break;
        case BIND_TRANSCEIVER_RESP:
            strcpy((char *)in.u.bind_transceiver_resp.system_id, "SMSC");
            in.tlv.present = SMPP_TLV_SC_INTERFACE_VERSION;
            in.tlv.sc_interface_version = 0x34;
            break;
        default:
            break;
        }
        pack_then_decode(&in, &out);
        if (cmds[i] == SUBMIT_SM_RESP)
            assert_string_equal((char *)out.u.submit_sm_resp.message_id, "ABCDEF0123");
        if (cmds[i] == BIND_TRANSCEIVER) {
            assert_string_equal((char *)out.u.bind_transceiver.system_id, "acme");
            assert_string_equal((char *)out.u.bind_transceiver.password, "secret");
        }
        if (cmds[i] == BIND_TRANSCEIVER_RESP)
            assert_int_equal(out.tlv.sc_interface_version, 0x34);
    }
}

static void
test_pack_refuses_what_libsmpp34_refuses(void **state)
{
    static struct smpp_pdu p;
    uint8_t buf[4096];
    size_t len;
    (void)state;

    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);     /* sequence 0 */
    assert_int_equal(smpp_pdu_pack_buf(&p, buf, sizeof(buf), &len), -1);
    smpp_pdu_init(&p, SUBMIT_SM, 0, 5);
    p.u.submit_sm.sm_length = 254;
    assert_int_equal(smpp_pdu_pack_buf(&p, buf, sizeof(buf), &len), -1);
    smpp_pdu_init(&p, SUBMIT_SM, 0, 5);
    p.u.submit_sm.sm_length = 253;
    assert_int_equal(smpp_pdu_pack_buf(&p, buf, sizeof(buf), &len), 0);
}

/* ---------------------------------------------------------- guard */

static void
test_header_is_read_even_when_body_is_not(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    /* submit_sm_resp with a vendor status and a 1-byte NUL body: both are
     * seen from real SMSCs; libsmpp34 rejects the body. */
    r_init(&r, SUBMIT_SM_RESP, 0x400, 77);
    r_u8(&r, 0);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), 0x400);
    assert_false(p.has_body);
    assert_int_equal(p.hdr.sequence_number, 77);
    assert_int_equal(p.hdr.command_status, 0x400);
    assert_int_equal(p.hdr.command_id, SUBMIT_SM_RESP);

    /* error resp with no body at all */
    r_init(&r, SUBMIT_SM_RESP, ESME_RTHROTTLED, 78);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RTHROTTLED);
    assert_int_equal(p.hdr.sequence_number, 78);
}

static void
test_guard_rejects_bad_fields(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    /* source_addr without a NUL within 21 bytes */
    r_init(&r, SUBMIT_SM, 0, 1);
    r_str(&r, ""); r_u8(&r, 1); r_u8(&r, 1);
    r_str(&r, "1234567890123456789012345");
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVSRCADR);

    /* TON 7 does not exist */
    r_init(&r, SUBMIT_SM, 0, 1);
    r_str(&r, ""); r_u8(&r, 7); r_u8(&r, 1); r_str(&r, "1");
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVSRCTON);

    /* NPI 2 does not exist */
    r_init(&r, SUBMIT_SM, 0, 1);
    r_str(&r, ""); r_u8(&r, 1); r_u8(&r, 1); r_str(&r, "1");
    r_u8(&r, 1); r_u8(&r, 2); r_str(&r, "2");
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVDSTNPI);

    /* sm_length past the end of the PDU */
    r_init(&r, DELIVER_SM, 0, 1);
    r_deliver_body(&r, "1", "2", 0, "hello");
    r.b[r.n - 6] = 200;
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVMSGLEN);

    /* truncated in the mandatory part */
    r_init(&r, SUBMIT_SM, 0, 1);
    r_str(&r, ""); r_u8(&r, 1);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVCMDLEN);

    /* unknown command id */
    r_init(&r, 0x00000077, 0, 1);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVCMDID);

    /* command_length that lies about the buffer */
    r_init(&r, ENQUIRE_LINK, 0, 1);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, 15, &p), ESME_RINVCMDLEN);
    r.b[3] = 20;
    assert_int_equal(smpp_pdu_decode(r.b, 16, &p), ESME_RINVCMDLEN);

    /* trailing garbage after a body without TLVs */
    r_init(&r, ENQUIRE_LINK, 0, 1);
    r_u8(&r, 0);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVCMDLEN);

    /* sequence number 0 in a request */
    r_init(&r, ENQUIRE_LINK, 0, 0);
    r_done(&r);
    assert_int_not_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_ROK);
}

static void
test_guard_rejects_bad_tlvs(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    /* TLV header cut short */
    r_init(&r, DELIVER_SM, 0, 1);
    r_deliver_body(&r, "1", "2", 0, "x");
    r_u16(&r, TLVID_message_state);
    r_u8(&r, 0);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVOPTPARSTREAM);

    /* TLV length past the end */
    r_init(&r, DELIVER_SM, 0, 1);
    r_deliver_body(&r, "1", "2", 0, "x");
    r_u16(&r, TLVID_receipted_message_id);
    r_u16(&r, 40);
    r_str(&r, "abc");
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVOPTPARSTREAM);

    /* a fixed-size TLV with a lying length (libsmpp34 would misparse) */
    r_init(&r, DELIVER_SM, 0, 1);
    r_deliver_body(&r, "1", "2", 0, "x");
    r_tlv(&r, TLVID_message_state, "\x02\x00\x00", 3);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVPARLEN);

    /* message_payload larger than libsmpp34 takes */
    static uint8_t big[2000];
    r_init(&r, SUBMIT_SM, 0, 1);
    r_str(&r, ""); r_u8(&r, 1); r_u8(&r, 1); r_str(&r, "1");
    r_u8(&r, 1); r_u8(&r, 1); r_str(&r, "2");
    r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0); r_str(&r, ""); r_str(&r, "");
    r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0);
    r_tlv(&r, TLVID_message_payload, big, 1025);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_RINVPARLEN);
}

static void
test_vendor_and_duplicate_tlvs_are_dropped(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    r_init(&r, DELIVER_SM, 0, 9);
    r_deliver_body(&r, "14155550100", "12345", 0x04, "id:77 stat:DELIVRD");
    r_tlv(&r, 0x1401, "vendor", 6);                         /* vendor tag */
    r_tlv(&r, TLVID_receipted_message_id, "77", 3);
    r_tlv(&r, TLVID_message_state, "\x02", 1);
    r_tlv(&r, TLVID_message_state, "\x05", 1);              /* repeated */
    r_tlv(&r, 0xFFFF, "", 0);                               /* unknown, empty */
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_ROK);
    assert_int_equal(p.tlv.dropped, 3);
    assert_string_equal(p.tlv.receipted_message_id, "77");
    assert_int_equal(p.tlv.message_state, 2);      /* the first one wins */
}

/* The global trace buffer overflow: ~30 TLVs used to be enough. With the
 * guard, thousands of TLVs decode and the trace stays inside its buffer. */
static void
test_many_tlvs_do_not_reach_libsmpp34(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    r_init(&r, DELIVER_SM, 0, 3);
    r_deliver_body(&r, "1", "2", 0, "x");
    for (int i = 0; i < 2000; i++)
        r_tlv(&r, TLVID_user_response_code, "\x01", 1);
    r_done(&r);
    assert_true(r.n > 10000);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_ROK);
    assert_int_equal(p.tlv.dropped, 2000);
    assert_true(strlen(smpp34_strerror) < sizeof(smpp34_strerror) - 1);
}

/* The worst body the guard lets through: every field at its longest and
 * every kept TLV once at its longest. The trace must still fit. */
static void
test_worst_case_trace_fits(void **state)
{
    static struct smpp_pdu in, out;
    uint8_t buf[8192];
    size_t len;
    (void)state;

    smpp_pdu_init(&in, DATA_SM, 0, 0x7FFFFFFF);
    memset(in.u.data_sm.service_type, 'S', 5);
    memset(in.u.data_sm.source_addr, '9', 20);
    memset(in.u.data_sm.destination_addr, '8', 64);
    in.tlv.present = 0x1FFFF & ~(SMPP_TLV_SC_INTERFACE_VERSION | SMPP_TLV_DELIVERY_FAILURE_REASON |
                                 SMPP_TLV_ADDITIONAL_STATUS_TEXT | SMPP_TLV_DPF_RESULT |
                                 SMPP_TLV_MS_AVAILABILITY_STATUS);
    in.tlv.message_payload_len = SMPP_PAYLOAD_MAX;
    memset(in.tlv.receipted_message_id, 'R', 64);
    assert_int_equal(smpp_pdu_pack_buf(&in, buf, sizeof(buf), &len), 0);
    assert_true(strlen(smpp34_strerror) < sizeof(smpp34_strerror) - 200);
    assert_int_equal(smpp_pdu_decode(buf, len, &out), ESME_ROK);
    assert_true(strlen(smpp34_strerror) < sizeof(smpp34_strerror) - 200);
    assert_string_equal(out.tlv.receipted_message_id, in.tlv.receipted_message_id);
}

static void
test_deliver_sm_with_times_is_normalised(void **state)
{
    static struct raw r;
    static struct smpp_pdu p;
    (void)state;

    /* Some SMSCs fill schedule/validity in deliver_sm; libsmpp34 only takes
     * them empty. The guard drops their content and keeps the message. */
    r_init(&r, DELIVER_SM, 0, 4);
    r_str(&r, "");
    r_u8(&r, 1); r_u8(&r, 1); r_str(&r, "447700900001");
    r_u8(&r, 1); r_u8(&r, 1); r_str(&r, "447700900002");
    r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0);
    r_str(&r, "261127120000000+"); r_str(&r, "261128120000000+");
    r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0); r_u8(&r, 0);
    r_u8(&r, 2); r_bytes(&r, "hi", 2);
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_ROK);
    assert_memory_equal(p.u.deliver_sm.short_message, "hi", 2);
    assert_string_equal((char *)p.u.deliver_sm.destination_addr, "447700900002");
    assert_int_equal(p.hdr.command_length, r.n);

    /* bind with interface_version 0x33: libsmpp34 wants 0x34 */
    r_init(&r, BIND_TRANSCEIVER, 0, 5);
    r_str(&r, "acme"); r_str(&r, "pw"); r_str(&r, ""); r_u8(&r, 0x33);
    r_u8(&r, 0); r_u8(&r, 0); r_str(&r, "");
    r_done(&r);
    assert_int_equal(smpp_pdu_decode(r.b, r.n, &p), ESME_ROK);
    assert_int_equal(p.peer_interface_version, 0x33);
    assert_string_equal((char *)p.u.bind_transceiver.system_id, "acme");
}

/* Inputs the raw-libsmpp34 fuzzer found crashing the library: the guard
 * must answer them without handing them on unguarded. */
static void
test_known_library_crashers(void **state)
{
    char dir[4096];
    static uint8_t buf[70000];
    static struct smpp_pdu p;
    int seen = 0;
    (void)state;

    snprintf(dir, sizeof(dir), "%s/tests/fuzz/crashers", tl_top());
    for (int i = 0; i < 16; i++) {
        static const char *const names[] = {
            "libsmpp34-global-buffer-overflow.bin", "libsmpp34-leak.bin",
            "libsmpp34-heap-buffer-overflow.bin", "libsmpp34-stack-buffer-overflow.bin",
        };
        if (i >= (int)(sizeof(names) / sizeof(names[0])))
            break;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        seen++;
        if (n < 16)
            continue;
        uint32_t l = htonl((uint32_t)n);
        memcpy(buf, &l, 4);
        (void)smpp_pdu_decode(buf, n, &p);      /* must not crash or leak */
        assert_true(strlen(smpp34_strerror) < sizeof(smpp34_strerror) - 1);
    }
    assert_true(seen >= 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_sm_round_trip_with_tlvs),
        cmocka_unit_test(test_message_payload_round_trip),
        cmocka_unit_test(test_receipt_tlvs_round_trip),
        cmocka_unit_test(test_every_command_round_trips),
        cmocka_unit_test(test_pack_refuses_what_libsmpp34_refuses),
        cmocka_unit_test(test_header_is_read_even_when_body_is_not),
        cmocka_unit_test(test_guard_rejects_bad_fields),
        cmocka_unit_test(test_guard_rejects_bad_tlvs),
        cmocka_unit_test(test_vendor_and_duplicate_tlvs_are_dropped),
        cmocka_unit_test(test_many_tlvs_do_not_reach_libsmpp34),
        cmocka_unit_test(test_worst_case_trace_fits),
        cmocka_unit_test(test_deliver_sm_with_times_is_normalised),
        cmocka_unit_test(test_known_library_crashers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
