/*
 * The PDU reader: arbitrary bytes as a stream from a peer, framed the way
 * the session frames them (command_length bounded first), each PDU through
 * the guard and into libsmpp34 (an ASan build of it, see run.sh). Whatever
 * decodes must pack again and decode to the same header.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smpp_pdu pdu, again;
static uint8_t out[8192];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (size - off >= SMPP_HEADER_LEN) {
        uint32_t len;
        memcpy(&len, data + off, 4);
        len = ntohl(len);
        if (len < SMPP_HEADER_LEN || len > SMPP_DEFAULT_MAX_PDU || len > size - off)
            break;      /* the session answers generic_nack and closes */
        uint32_t st = smpp_pdu_decode(data + off, len, &pdu);
        if (st == ESME_ROK) {
            if (!pdu.has_body)
                abort();
            size_t olen = 0;
            if (smpp_pdu_pack_buf(&pdu, out, sizeof(out), &olen) == 0) {
                if (smpp_pdu_decode(out, olen, &again) != ESME_ROK)
                    abort();
                if (again.hdr.command_id != pdu.hdr.command_id ||
                    again.hdr.sequence_number != pdu.hdr.sequence_number ||
                    again.tlv.present != pdu.tlv.present)
                    abort();
            }
        }
        off += len;
    }
    if (strlen(smpp34_strerror) >= sizeof(smpp34_strerror) - 1)
        abort();
    return 0;
}
