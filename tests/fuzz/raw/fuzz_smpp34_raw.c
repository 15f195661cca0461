/*
 * fuzz_smpp34_raw — libsmpp34's smpp34_unpack2() with NO guard in front.
 *
 * This target is EXPECTED TO CRASH. It exists to demonstrate, against an
 * ASan build of Debian's libsmpp34, the library bugs that our inbound PDU
 * guard is there to keep away from the library (see docs and LIBS.md):
 *
 *   - every unpack writes a debug trace into the global
 *     smpp34_strerror[2048]; the trace writer (PUTLOG) subtracts snprintf's
 *     would-be length from the space left, so once the trace is full the
 *     remaining size goes negative and the next snprintf writes past the
 *     end of the array (global-buffer-overflow). A PDU with ~30 small TLVs
 *     is enough;
 *   - a TLV cut short by the end of the PDU makes unpack return -1 after it
 *     has malloc'd the 1040-byte node but before linking it into the list:
 *     the node leaks.
 *
 * It is kept outside the tests/fuzz/fuzz_*.c glob so `make fuzz` does not
 * run it; run it with `sh tests/fuzz/run.sh SECONDS --raw`. Inputs it finds
 * are kept in tests/fuzz/crashers/ as regression inputs for the guard.
 *
 * Input: any bytes. The first 4 bytes are overwritten with the input size
 * (big-endian command_length), so the fuzzer does not waste time on PDUs the
 * library rejects for a length mismatch; sizes below the 16-byte header are
 * skipped and sizes above 64 KiB are cut, like a framed read would do.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#define RAW_MIN_LEN 16u
#define RAW_MAX_LEN 65536u

/* Big enough for any PDU the library may unpack into. */
union any_pdu {
    bind_transmitter_t bind_transmitter;
    bind_transmitter_resp_t bind_transmitter_resp;
    bind_receiver_t bind_receiver;
    bind_receiver_resp_t bind_receiver_resp;
    bind_transceiver_t bind_transceiver;
    bind_transceiver_resp_t bind_transceiver_resp;
    outbind_t outbind;
    unbind_t unbind;
    unbind_resp_t unbind_resp;
    generic_nack_t generic_nack;
    submit_sm_t submit_sm;
    submit_sm_resp_t submit_sm_resp;
    submit_multi_t submit_multi;
    submit_multi_resp_t submit_multi_resp;
    deliver_sm_t deliver_sm;
    deliver_sm_resp_t deliver_sm_resp;
    data_sm_t data_sm;
    data_sm_resp_t data_sm_resp;
    query_sm_t query_sm;
    query_sm_resp_t query_sm_resp;
    cancel_sm_t cancel_sm;
    cancel_sm_resp_t cancel_sm_resp;
    replace_sm_t replace_sm;
    replace_sm_resp_t replace_sm_resp;
    enquire_link_t enquire_link;
    enquire_link_resp_t enquire_link_resp;
    alert_notification_t alert_notification;
};

/*
 * Free what unpack attached to the PDU. The lists are linked as they are
 * parsed, so they are valid even when unpack failed half-way; the list
 * pointer sits at a different offset in each struct, hence the switch on
 * the command_id that unpack2 itself dispatched on.
 */
static void free_lists(union any_pdu *p, uint32_t command_id)
{
    switch (command_id) {
    case BIND_TRANSMITTER_RESP: destroy_tlv(p->bind_transmitter_resp.tlv); break;
    case BIND_RECEIVER_RESP:    destroy_tlv(p->bind_receiver_resp.tlv); break;
    case BIND_TRANSCEIVER_RESP: destroy_tlv(p->bind_transceiver_resp.tlv); break;
    case SUBMIT_SM:             destroy_tlv(p->submit_sm.tlv); break;
    case DELIVER_SM:            destroy_tlv(p->deliver_sm.tlv); break;
    case DATA_SM:               destroy_tlv(p->data_sm.tlv); break;
    case ALERT_NOTIFICATION:    destroy_tlv(p->alert_notification.tlv); break;
    case SUBMIT_MULTI:
        destroy_dad(p->submit_multi.dest_addr_def);
        destroy_tlv(p->submit_multi.tlv);
        break;
    case SUBMIT_MULTI_RESP:
        destroy_udad(p->submit_multi_resp.unsuccess_smes);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static union any_pdu pdu;
    uint8_t *buf;
    uint32_t command_id;

    if (size < RAW_MIN_LEN)
        return 0;
    if (size > RAW_MAX_LEN)
        size = RAW_MAX_LEN;

    /* A heap copy of exactly `size` bytes, so ASan sees any over-read. */
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[0] = (uint8_t)(size >> 24);
    buf[1] = (uint8_t)(size >> 16);
    buf[2] = (uint8_t)(size >> 8);
    buf[3] = (uint8_t)size;
    command_id = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
                 (uint32_t)buf[6] << 8 | (uint32_t)buf[7];

    memset(&pdu, 0, sizeof(pdu));
    (void)smpp34_unpack2(&pdu, buf, (int)size);
    free_lists(&pdu, command_id);

    free(buf);
    return 0;
}
