/*
 * libFuzzer target for smpp_dlr: the receipt parser on arbitrary bytes, and
 * the promises the rest of the module makes about what it returns. Any
 * broken promise aborts, so the fuzzer reports it as a crash:
 *
 *   - parse fills a consistent struct (present/invalid disjoint, values in
 *     range, strings terminated), whatever it returns;
 *   - a receipt that parsed (0) formats, and the text parses back to the
 *     same receipt and formats to the same bytes;
 *   - a receipt that did not parse does not format;
 *   - combine with TLVs taken from the input keeps its own rules;
 *   - normalize_id is idempotent, lowercase, and maps a number written in
 *     decimal and in hex (any case, leading zeros) to the same string.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_dlr.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned ALL =
    SMPP_DLR_F_ID | SMPP_DLR_F_SUB | SMPP_DLR_F_DLVRD | SMPP_DLR_F_SUBMIT_DATE |
    SMPP_DLR_F_DONE_DATE | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR | SMPP_DLR_F_TEXT;

static bool
printable_id(const char *s)
{
    size_t n = strnlen(s, SMPP_DLR_ID_MAX + 1);

    if (n == 0 || n > SMPP_DLR_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool
same_time(const struct smpp_dlr_time *a, const struct smpp_dlr_time *b)
{
    return a->year == b->year && a->mon == b->mon && a->mday == b->mday &&
           a->hour == b->hour && a->min == b->min && a->sec == b->sec &&
           a->has_sec == b->has_sec;
}

static void
check_struct(const struct smpp_dlr *r)
{
    CHECK((r->present & r->invalid) == 0);
    CHECK(((r->present | r->invalid) & ~ALL) == 0);
    CHECK(memchr(r->id, '\0', sizeof(r->id)) != NULL);
    CHECK(memchr(r->stat_raw, '\0', sizeof(r->stat_raw)) != NULL);
    CHECK(memchr(r->err_raw, '\0', sizeof(r->err_raw)) != NULL);

    if (r->present & SMPP_DLR_F_ID) {
        CHECK(r->id_error == 0);
        CHECK(printable_id(r->id));
    } else {
        CHECK(r->id_error == SMPP_DLR_ENOID || r->id_error == SMPP_DLR_EBADID ||
              r->id_error == SMPP_DLR_EIDLONG);
        CHECK(r->id[0] == '\0');
    }
    if (r->present & SMPP_DLR_F_STAT) {
        CHECK(r->stat_error == 0);
        CHECK(smpp_dlr_stat_name(r->stat) != NULL);
        CHECK(smpp_dlr_stat_from_state(smpp_dlr_stat_to_state(r->stat)) == r->stat);
    } else {
        CHECK(r->stat_error == SMPP_DLR_ENOSTAT || r->stat_error == SMPP_DLR_EBADSTAT ||
              r->stat_error == SMPP_DLR_EBADSTATE);
        CHECK(r->stat == SMPP_DLR_STAT_NONE);
    }
    CHECK((r->present & SMPP_DLR_F_SUB) ? r->sub >= 0 && r->sub <= SMPP_DLR_NUM_MAX
                                        : r->sub == -1);
    CHECK((r->present & SMPP_DLR_F_DLVRD) ? r->dlvrd >= 0 && r->dlvrd <= SMPP_DLR_NUM_MAX
                                          : r->dlvrd == -1);
    if (r->present & SMPP_DLR_F_SUBMIT_DATE)
        CHECK(smpp_dlr_time_to_utc(&r->submit_date) >= 946684800);
    if (r->present & SMPP_DLR_F_DONE_DATE)
        CHECK(smpp_dlr_time_to_utc(&r->done_date) >= 946684800);
    if (r->present & SMPP_DLR_F_ERR) {
        CHECK(r->err >= -1 && r->err <= SMPP_DLR_NUM_MAX);
        CHECK(r->err >= 0 || r->err_raw[0] != '\0');
    } else {
        CHECK(r->err == -1 && r->err_raw[0] == '\0');
    }
    CHECK(r->text_len <= SMPP_DLR_TEXT_MAX);
    CHECK(r->text[r->text_len] == '\0');
    if (!(r->present & SMPP_DLR_F_TEXT))
        CHECK(r->text_len == 0);
}

/* Text length once the parser has dropped the input's trailing NULs. */
static size_t
text_len_on_reparse(const struct smpp_dlr *r)
{
    size_t n = r->text_len;

    while (n > 0 && r->text[n - 1] == '\0')
        n--;
    return n;
}

static void
check_round_trip(const struct smpp_dlr *r)
{
    char out[SMPP_DLR_FORMAT_MAX], again[SMPP_DLR_FORMAT_MAX];
    struct smpp_dlr b;
    size_t tl;
    int n, m;

    n = smpp_dlr_format(r, out, sizeof(out));
    CHECK(n > 0 && n < (int)sizeof(out));
    CHECK(smpp_dlr_parse(out, (size_t)n, &b) == 0);
    check_struct(&b);
    CHECK(b.present == r->present);
    CHECK(strcmp(b.id, r->id) == 0);
    CHECK(b.sub == r->sub && b.dlvrd == r->dlvrd);
    CHECK(same_time(&b.submit_date, &r->submit_date));
    CHECK(same_time(&b.done_date, &r->done_date));
    CHECK(b.stat == r->stat);
    CHECK(b.err == r->err);
    if (r->err < 0)
        CHECK(strcmp(b.err_raw, r->err_raw) == 0);
    tl = text_len_on_reparse(r);
    CHECK(b.text_len == tl);
    CHECK(memcmp(b.text, r->text, tl) == 0);

    m = smpp_dlr_format(&b, again, sizeof(again));
    CHECK(m >= 0);
    if (tl == r->text_len)
        CHECK(m == n && memcmp(again, out, (size_t)n) == 0);

    /* One byte short never fits, exactly enough always does. */
    CHECK(smpp_dlr_format(r, again, (size_t)n) == SMPP_DLR_ENOSPACE);
    CHECK(smpp_dlr_format(r, again, (size_t)n + 1) == n);
}

/* TLVs from the first bytes of the input, so the fuzzer steers them too. */
static void
check_combine(const struct smpp_dlr *r, const uint8_t *data, size_t size)
{
    struct smpp_dlr_tlv tlv = { 0 };
    struct smpp_dlr out;
    char id[80];
    bool have_text = (r->present | r->invalid) != 0;
    bool have_tlv;
    int rc;

    if (size >= 4) {
        uint8_t ctl = data[0];
        if (ctl & 1)
            tlv.message_state = data[1] % 11;
        if (ctl & 2) {
            tlv.has_network_error_code = true;
            memcpy(tlv.network_error_code, data + 1, 3);
        }
        if (ctl & 4) {
            size_t n = (size_t)(data[2] % 70);
            if (n > size - 3)
                n = size - 3;
            memcpy(id, data + 3, n);
            id[n] = '\0';
            tlv.receipted_message_id = id;
        }
    }
    have_tlv = tlv.receipted_message_id || tlv.message_state || tlv.has_network_error_code;

    rc = smpp_dlr_combine(r, &tlv, &out);
    check_struct(&out);
    if (!have_text && !have_tlv) {
        CHECK(rc == SMPP_DLR_ENOSOURCE);
        return;
    }
    CHECK(rc == (out.id_error ? out.id_error : out.stat_error));
    CHECK(rc != 0 || ((out.present & SMPP_DLR_F_ID) && (out.present & SMPP_DLR_F_STAT)));
    if (tlv.message_state) {
        CHECK(out.from_tlv & SMPP_DLR_F_STAT);
        CHECK(out.stat == smpp_dlr_stat_from_state(tlv.message_state));
        CHECK(tlv.message_state <= 8 ? out.stat_error == 0
                                     : out.stat_error == SMPP_DLR_EBADSTATE);
    } else {
        CHECK(out.stat == r->stat && out.stat_error == r->stat_error);
    }
    if (tlv.receipted_message_id) {
        CHECK(out.from_tlv & SMPP_DLR_F_ID);
        if (printable_id(tlv.receipted_message_id))
            CHECK(strcmp(out.id, tlv.receipted_message_id) == 0);
        else
            CHECK(out.id_error != 0);
    } else {
        CHECK(strcmp(out.id, r->id) == 0 && out.id_error == r->id_error);
    }
    if (tlv.has_network_error_code) {
        CHECK(out.err == (tlv.network_error_code[1] << 8 | tlv.network_error_code[2]));
        CHECK(out.err_net_type == tlv.network_error_code[0]);
    }
    /* Fields the TLVs do not carry come from the text untouched. */
    CHECK(out.sub == r->sub && out.dlvrd == r->dlvrd && out.text_len == r->text_len);
    if (rc == 0)
        check_round_trip(&out);
}

static bool
is_lower_ascii_id(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return false;
    return true;
}

static void
check_normalize(const uint8_t *data, size_t size)
{
    static const enum smpp_dlr_id_format fmts[] = {
        SMPP_DLR_ID_HEX, SMPP_DLR_ID_DEC, SMPP_DLR_ID_STRING,
    };
    char id[SMPP_DLR_ID_MAX + 2], out[SMPP_DLR_ID_MAX + 1], again[SMPP_DLR_ID_MAX + 1];
    size_t n = size < sizeof(id) - 1 ? size : sizeof(id) - 1;

    memcpy(id, data, n);
    id[n] = '\0';
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        int rc = smpp_dlr_normalize_id(id, fmts[f], out, sizeof(out));
        if (rc < 0) {
            CHECK(rc == SMPP_DLR_EBADID || rc == SMPP_DLR_EIDLONG);
            CHECK(!printable_id(id));
            continue;
        }
        CHECK(printable_id(id));
        CHECK((size_t)rc == strlen(out) && rc > 0);
        CHECK(is_lower_ascii_id(out));
        /* Canonical forms are fixed points of STRING and of HEX. */
        CHECK(smpp_dlr_normalize_id(out, SMPP_DLR_ID_STRING, again, sizeof(again)) == rc);
        CHECK(strcmp(again, out) == 0);
        /* A canonical hex number is a fixed point of HEX. ("00ff" as a
         * STRING keeps its zeros, so only zero-free forms qualify.) */
        if (strspn(out, "0123456789abcdef") == (size_t)rc && (out[0] != '0' || rc == 1)) {
            CHECK(smpp_dlr_normalize_id(out, SMPP_DLR_ID_HEX, again, sizeof(again)) == rc);
            CHECK(strcmp(again, out) == 0);
        }
        /* A decimal id goes to hex; as HEX the same digits mean another number. */
        if (fmts[f] == SMPP_DLR_ID_DEC && strspn(id, "0123456789") == n) {
            CHECK(strspn(out, "0123456789abcdef") == (size_t)rc);
            if (n <= 19) {      /* fits uint64_t: check the long arithmetic */
                char want[24];
                snprintf(want, sizeof(want), "%llx", strtoull(id, NULL, 10));
                CHECK(strcmp(out, want) == 0);
            }
        }
    }

    /* The same 64-bit number, decimal and hex, must meet. */
    if (size >= 9) {
        uint64_t v;
        char dec[48], hex[48], want[24];
        char a[SMPP_DLR_ID_MAX + 1], b[SMPP_DLR_ID_MAX + 1];
        int zeros = data[8] % 8;

        memcpy(&v, data, sizeof(v));
        snprintf(dec, sizeof(dec), "%0*" PRIu64, zeros + 1, v);
        snprintf(hex, sizeof(hex), (data[8] & 8) ? "%0*" PRIX64 : "%0*" PRIx64,
                 zeros + 1, v);
        snprintf(want, sizeof(want), "%" PRIx64, v);
        CHECK(smpp_dlr_normalize_id(dec, SMPP_DLR_ID_DEC, a, sizeof(a)) == (int)strlen(want));
        CHECK(smpp_dlr_normalize_id(hex, SMPP_DLR_ID_HEX, b, sizeof(b)) == (int)strlen(want));
        CHECK(strcmp(a, want) == 0 && strcmp(b, want) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smpp_dlr r;
    char buf[SMPP_DLR_FORMAT_MAX];
    int rc;

    rc = smpp_dlr_parse(data, size, &r);
    CHECK(rc <= 0 && rc >= SMPP_DLR_ENOSPACE);
    CHECK(rc != SMPP_DLR_EINVAL && rc != SMPP_DLR_ENOSOURCE && rc != SMPP_DLR_ENOSPACE &&
          rc != SMPP_DLR_EBADSTATE);
    check_struct(&r);
    CHECK(r.from_tlv == 0 && r.conflict == 0);
    if (rc == 0) {
        check_round_trip(&r);
    } else {
        CHECK(smpp_dlr_format(&r, buf, sizeof(buf)) == SMPP_DLR_EINVAL);
        if (rc == SMPP_DLR_EEMPTY || rc == SMPP_DLR_ENOTRECEIPT)
            CHECK((r.present | r.invalid) == 0);
        else
            CHECK(rc == (r.id_error ? r.id_error : r.stat_error));
    }
    check_combine(&r, data, size);
    check_normalize(data, size);
    return 0;
}
