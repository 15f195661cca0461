/*
 * Unit tests for smpp_dlr: Appendix B receipt text, receipt TLVs, the
 * formatter and message-id normalisation. Every input is parsed with an
 * explicit length from a buffer that is not NUL-terminated at that length
 * where it matters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_dlr.h"

/* Parse a C string literal (without its NUL). */
static int
parse_str(const char *s, struct smpp_dlr *r)
{
    return smpp_dlr_parse(s, strlen(s), r);
}

static void
assert_time(const struct smpp_dlr_time *t, int y, int mo, int d, int h, int mi,
            int s, bool has_sec)
{
    assert_int_equal(t->year, y);
    assert_int_equal(t->mon, mo);
    assert_int_equal(t->mday, d);
    assert_int_equal(t->hour, h);
    assert_int_equal(t->min, mi);
    assert_int_equal(t->sec, s);
    assert_int_equal(t->has_sec, has_sec);
}

static const unsigned ALL_FIELDS =
    SMPP_DLR_F_ID | SMPP_DLR_F_SUB | SMPP_DLR_F_DLVRD | SMPP_DLR_F_SUBMIT_DATE |
    SMPP_DLR_F_DONE_DATE | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR | SMPP_DLR_F_TEXT;

/* ------------------------------------------------------------------ parse */

static void
test_parse_canonical(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "id:0123456789 sub:001 dlvrd:001 submit date:0610190851 "
                    "done date:0610190853 stat:DELIVRD err:000 text:Hello World";

    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(r.present, ALL_FIELDS);
    assert_int_equal(r.invalid, 0);
    assert_int_equal(r.from_tlv, 0);
    assert_int_equal(r.id_error, 0);
    assert_int_equal(r.stat_error, 0);
    assert_string_equal(r.id, "0123456789");
    assert_int_equal(r.sub, 1);
    assert_int_equal(r.dlvrd, 1);
    assert_time(&r.submit_date, 2006, 10, 19, 8, 51, 0, false);
    assert_time(&r.done_date, 2006, 10, 19, 8, 53, 0, false);
    assert_int_equal(smpp_dlr_time_to_utc(&r.submit_date), 1161247860);
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_string_equal(r.stat_raw, "DELIVRD");
    assert_int_equal(r.err, 0);
    assert_string_equal(r.err_raw, "000");
    assert_int_equal(r.err_net_type, -1);
    assert_int_equal(r.text_len, 11);
    assert_memory_equal(r.text, "Hello World", 11);
}

static void
test_parse_smppsim_capital_text(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "id:7 sub:001 dlvrd:001 submit date:2401311200 done date:2401311201 "
                    "stat:UNDELIV err:001 Text:Hello from SMPPSim, longer than twenty";

    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(r.present, ALL_FIELDS);
    assert_string_equal(r.id, "7");
    assert_int_equal(r.stat, SMPP_DLR_STAT_UNDELIV);
    assert_int_equal(r.err, 1);
    assert_int_equal(r.text_len, SMPP_DLR_TEXT_MAX);
    assert_string_equal(r.text, "Hello from SMPPSim, ");
}

static void
test_parse_12_digit_dates(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "id:abc submit date:230115123045 done date:240229235900 stat:DELIVRD";

    assert_int_equal(parse_str(s, &r), 0);
    assert_true(r.present & SMPP_DLR_F_SUBMIT_DATE);
    assert_true(r.present & SMPP_DLR_F_DONE_DATE);
    assert_time(&r.submit_date, 2023, 1, 15, 12, 30, 45, true);
    assert_time(&r.done_date, 2024, 2, 29, 23, 59, 0, true);
    assert_int_equal(smpp_dlr_time_to_utc(&r.submit_date), 1673785845);
    assert_int_equal(smpp_dlr_time_to_utc(&r.done_date), 1709251140);
}

static void
test_time_to_utc_bounds(void **state)
{
    (void)state;
    struct smpp_dlr_time t = { 2000, 1, 1, 0, 0, 0, false };

    assert_int_equal(smpp_dlr_time_to_utc(&t), 946684800);
    t = (struct smpp_dlr_time){ 2099, 12, 31, 23, 59, 59, true };
    assert_int_equal(smpp_dlr_time_to_utc(&t), 4102444799);
    t = (struct smpp_dlr_time){ 2023, 2, 29, 0, 0, 0, false };     /* not a leap year */
    assert_int_equal(smpp_dlr_time_to_utc(&t), -1);
    t = (struct smpp_dlr_time){ 2023, 1, 1, 0, 0, 30, false };     /* seconds w/o has_sec */
    assert_int_equal(smpp_dlr_time_to_utc(&t), -1);
    assert_int_equal(smpp_dlr_time_to_utc(NULL), -1);
}

static void
test_parse_bad_dates_are_invalid_not_fatal(void **state)
{
    (void)state;
    struct smpp_dlr r;

    /* 11 digits, then Feb 30; the receipt is still good. */
    assert_int_equal(parse_str("id:1 submit date:23011512304 done date:2302301200 "
                               "stat:EXPIRED", &r), 0);
    assert_int_equal(r.present, SMPP_DLR_F_ID | SMPP_DLR_F_STAT);
    assert_int_equal(r.invalid, SMPP_DLR_F_SUBMIT_DATE | SMPP_DLR_F_DONE_DATE);
    assert_int_equal(r.submit_date.year, 0);
    assert_int_equal(r.done_date.year, 0);

    assert_int_equal(parse_str("id:1 submit date:2313011200 done date:23011524a0 "
                               "stat:EXPIRED", &r), 0);
    assert_int_equal(r.invalid, SMPP_DLR_F_SUBMIT_DATE | SMPP_DLR_F_DONE_DATE);
}

static void
test_parse_missing_optional_fields(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:abc stat:EXPIRED", &r), 0);
    assert_int_equal(r.present, SMPP_DLR_F_ID | SMPP_DLR_F_STAT);
    assert_int_equal(r.invalid, 0);
    assert_string_equal(r.id, "abc");
    assert_int_equal(r.stat, SMPP_DLR_STAT_EXPIRED);
    assert_int_equal(r.sub, -1);
    assert_int_equal(r.dlvrd, -1);
    assert_int_equal(r.err, -1);
    assert_string_equal(r.err_raw, "");
    assert_int_equal(r.text_len, 0);
    assert_int_equal(smpp_dlr_time_to_utc(&r.submit_date), -1);
}

static void
test_parse_missing_stat_then_tlv_state(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv tlv = { .message_state = 2 };

    assert_int_equal(parse_str("id:9f sub:001 dlvrd:001 err:000 text:x", &r),
                     SMPP_DLR_ENOSTAT);
    assert_string_equal(r.id, "9f");
    assert_int_equal(r.stat_error, SMPP_DLR_ENOSTAT);
    assert_int_equal(r.stat, SMPP_DLR_STAT_NONE);

    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), 0);
    assert_int_equal(f.stat, SMPP_DLR_STAT_DELIVRD);
    assert_string_equal(f.stat_raw, "DELIVRD");
    assert_string_equal(f.id, "9f");
    assert_int_equal(f.from_tlv, SMPP_DLR_F_STAT);
    assert_int_equal(f.conflict, 0);
    assert_int_equal(f.sub, 1);
}

static void
test_parse_missing_id_then_tlv_id(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv tlv = { .receipted_message_id = "5E1A00" };

    assert_int_equal(parse_str("sub:001 dlvrd:001 stat:DELIVRD err:000", &r),
                     SMPP_DLR_ENOID);
    assert_int_equal(r.id_error, SMPP_DLR_ENOID);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), 0);
    assert_string_equal(f.id, "5E1A00");
    assert_int_equal(f.id_error, 0);
    assert_int_equal(f.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(f.from_tlv, SMPP_DLR_F_ID);

    /* No text at all: the TLVs alone make a receipt. */
    tlv.message_state = 5;
    tlv.has_network_error_code = true;
    memcpy(tlv.network_error_code, "\x03\x00\x22", 3);
    assert_int_equal(smpp_dlr_combine(NULL, &tlv, &f), 0);
    assert_string_equal(f.id, "5E1A00");
    assert_int_equal(f.stat, SMPP_DLR_STAT_UNDELIV);
    assert_int_equal(f.err, 34);
    assert_int_equal(f.err_net_type, 3);
    assert_string_equal(f.err_raw, "034");
    assert_int_equal(f.present, SMPP_DLR_F_ID | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR);
}

static void
test_no_text_no_tlv(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv none = { 0 };

    assert_int_equal(smpp_dlr_combine(NULL, NULL, &f), SMPP_DLR_ENOSOURCE);
    assert_int_equal(f.present, 0);
    assert_int_equal(smpp_dlr_combine(NULL, &none, &f), SMPP_DLR_ENOSOURCE);
    assert_int_equal(parse_str("thanks, see you at 5", &r), SMPP_DLR_ENOTRECEIPT);
    assert_int_equal(smpp_dlr_combine(&r, &none, &f), SMPP_DLR_ENOSOURCE);
    assert_int_equal(smpp_dlr_combine(&r, NULL, NULL), SMPP_DLR_EINVAL);

    /* Text with neither id nor stat, no TLVs: the id is what is missing. */
    assert_int_equal(parse_str("sub:001 dlvrd:000", &r), SMPP_DLR_ENOID);
    assert_int_equal(r.stat_error, SMPP_DLR_ENOSTAT);
    assert_int_equal(smpp_dlr_combine(&r, NULL, &f), SMPP_DLR_ENOID);
    /* With the id from the TLV, the stat still is. */
    none.receipted_message_id = "1";
    assert_int_equal(smpp_dlr_combine(&r, &none, &f), SMPP_DLR_ENOSTAT);
}

static void
test_id_64_chars(void **state)
{
    (void)state;
    struct smpp_dlr r;
    char id[65], s[128];

    for (int i = 0; i < 64; i++)
        id[i] = "0123456789ABCDEF"[i % 16];
    id[64] = '\0';
    snprintf(s, sizeof(s), "id:%s stat:DELIVRD", id);
    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(strlen(r.id), 64);
    assert_string_equal(r.id, id);
}

/*
 * 65 characters is an error, not a truncation: a cut id could equal another
 * message's id and close the wrong message.
 */
static void
test_id_65_chars_is_error(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    char id[66], s[128];
    struct smpp_dlr_tlv tlv = { 0 };

    memset(id, '7', 65);
    id[65] = '\0';
    snprintf(s, sizeof(s), "id:%s stat:DELIVRD err:000", id);
    assert_int_equal(parse_str(s, &r), SMPP_DLR_EIDLONG);
    assert_int_equal(r.id_error, SMPP_DLR_EIDLONG);
    assert_string_equal(r.id, "");
    assert_int_equal(r.invalid, SMPP_DLR_F_ID);
    assert_int_equal(r.present, SMPP_DLR_F_STAT | SMPP_DLR_F_ERR);
    assert_int_equal(smpp_dlr_combine(&r, NULL, &f), SMPP_DLR_EIDLONG);

    /* A good TLV id rescues it; an over-long TLV id is itself an error. */
    tlv.receipted_message_id = "77";
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), 0);
    assert_string_equal(f.id, "77");
    tlv.receipted_message_id = id;
    assert_int_equal(parse_str("id:77 stat:DELIVRD", &r), 0);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), SMPP_DLR_EIDLONG);
    assert_string_equal(f.id, "");
    assert_int_equal(f.conflict, SMPP_DLR_F_ID);
}

static void
test_bad_id_bytes(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:ab\x01 stat:DELIVRD", &r), SMPP_DLR_EBADID);
    assert_int_equal(parse_str("id:\xc3\xa9t\xc3\xa9 stat:DELIVRD", &r), SMPP_DLR_EBADID);
    /* "id:" with nothing before the next key is empty, not "sub:001". */
    assert_int_equal(parse_str("id: sub:001 stat:DELIVRD", &r), SMPP_DLR_EBADID);
    assert_int_equal(r.sub, 1);
    assert_int_equal(parse_str("id:", &r), SMPP_DLR_EBADID);
}

static void
test_unknown_stat_word(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv tlv = { .message_state = 8 };

    assert_int_equal(parse_str("id:42 stat:FAILED err:069", &r), SMPP_DLR_EBADSTAT);
    assert_string_equal(r.id, "42");
    assert_int_equal(r.stat, SMPP_DLR_STAT_NONE);
    assert_string_equal(r.stat_raw, "FAILED");
    assert_int_equal(r.invalid, SMPP_DLR_F_STAT);
    assert_int_equal(r.err, 69);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), 0);
    assert_int_equal(f.stat, SMPP_DLR_STAT_REJECTD);
    assert_int_equal(f.invalid, 0);

    /* A long raw word is cut for the log, still unknown. */
    assert_int_equal(parse_str("id:42 stat:ABCDEFGHIJKLMNOPQRSTUVWXYZ", &r),
                     SMPP_DLR_EBADSTAT);
    assert_int_equal(strlen(r.stat_raw), SMPP_DLR_STAT_RAW_MAX);

    /* Spec long names and any case are known words. */
    assert_int_equal(parse_str("id:42 stat:delivered", &r), 0);
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(parse_str("id:42 stat:Undeliverable", &r), 0);
    assert_int_equal(r.stat, SMPP_DLR_STAT_UNDELIV);
    assert_int_equal(parse_str("id:42 stat:undeliv", &r), 0);
    assert_int_equal(r.stat, SMPP_DLR_STAT_UNDELIV);
    /* A prefix of a word is not the word. */
    assert_int_equal(parse_str("id:42 stat:DELIV", &r), SMPP_DLR_EBADSTAT);
    assert_int_equal(parse_str("id:42 stat:", &r), SMPP_DLR_EBADSTAT);
}

static void
test_err_forms(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:1 stat:UNDELIV err:000", &r), 0);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.err_raw, "000");
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:1", &r), 0);
    assert_int_equal(r.err, 1);
    assert_string_equal(r.err_raw, "1");
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:0012", &r), 0);
    assert_int_equal(r.err, 12);
    assert_string_equal(r.err_raw, "0012");
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:000000000000254", &r), 0);
    assert_int_equal(r.err, 254);
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:999999999", &r), 0);
    assert_int_equal(r.err, 999999999);
    /* Ten significant digits do not fit: kept raw only. */
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:1234567890", &r), 0);
    assert_int_equal(r.err, -1);
    assert_string_equal(r.err_raw, "1234567890");
    assert_true(r.present & SMPP_DLR_F_ERR);
    /* Hex-looking err: present, raw only. */
    assert_int_equal(parse_str("id:1 stat:UNDELIV err:0B", &r), 0);
    assert_int_equal(r.err, -1);
    assert_string_equal(r.err_raw, "0B");
    assert_true(r.present & SMPP_DLR_F_ERR);
    /* Over 16 bytes, or empty: invalid, and does not break the rest. */
    assert_int_equal(parse_str("id:1 err:12345678901234567 stat:UNDELIV", &r), 0);
    assert_int_equal(r.err, -1);
    assert_string_equal(r.err_raw, "");
    assert_int_equal(r.invalid, SMPP_DLR_F_ERR);
    assert_int_equal(parse_str("id:1 err: stat:UNDELIV text:", &r), 0);
    assert_int_equal(r.invalid, SMPP_DLR_F_ERR);
    assert_int_equal(r.stat, SMPP_DLR_STAT_UNDELIV);
    assert_true(r.present & SMPP_DLR_F_TEXT);
    assert_int_equal(r.text_len, 0);
}

static void
test_vendor_extra_fields(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "vendor:acme id:c0ffee sub:001 dlvrd:001 submit date:2401311200 "
                    "done date:2401311205 stat:DELIVRD err:000 mccmnc:310260 "
                    "price:0.0050 substat:x idx:9 status:FAILED text:hi";

    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(r.present, ALL_FIELDS);
    assert_int_equal(r.invalid, 0);
    assert_string_equal(r.id, "c0ffee");
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(r.text_len, 2);
    assert_string_equal(r.text, "hi");
}

static void
test_key_case_and_spelling(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "ID:AB12 Sub:002 DLVRD:001 Submit_Date:2401311200 DONE_DATE:2401311205 "
                    "Stat:delivrd ERR:000 TEXT:ok";

    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(r.present, ALL_FIELDS);
    assert_string_equal(r.id, "AB12");        /* the id's own case is kept */
    assert_int_equal(r.sub, 2);
    assert_int_equal(r.dlvrd, 1);
    assert_time(&r.submit_date, 2024, 1, 31, 12, 0, 0, false);
    assert_time(&r.done_date, 2024, 1, 31, 12, 5, 0, false);
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_string_equal(r.stat_raw, "delivrd");

    assert_int_equal(parse_str("id:1 submitdate:2401311200 stat:ENROUTE", &r), 0);
    assert_true(r.present & SMPP_DLR_F_SUBMIT_DATE);
}

static void
test_extra_spaces(void **state)
{
    (void)state;
    struct smpp_dlr r;
    const char *s = "  id: 00123 \t sub:001   dlvrd :001\r\nsubmit  date:2401311200 "
                    "done \t date: 2401311205   stat:  ACCEPTD  err:000   text: spaced ";

    assert_int_equal(parse_str(s, &r), 0);
    assert_int_equal(r.present, ALL_FIELDS);
    assert_string_equal(r.id, "00123");
    assert_int_equal(r.dlvrd, 1);
    assert_time(&r.done_date, 2024, 1, 31, 12, 5, 0, false);
    assert_int_equal(r.stat, SMPP_DLR_STAT_ACCEPTD);
    /* text is raw from the byte after the colon. */
    assert_int_equal(r.text_len, 8);
    assert_memory_equal(r.text, " spaced ", 8);
}

static void
test_text_with_colons_ends_parsing(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:1 stat:DELIVRD text:a:b id:2 stat:EXPIRED", &r), 0);
    assert_string_equal(r.id, "1");
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(r.text_len, 20);
    assert_string_equal(r.text, "a:b id:2 stat:EXPIRE");
}

static void
test_text_raw_bytes_and_trailing_nuls(void **state)
{
    (void)state;
    struct smpp_dlr r;
    static const char s[] = "id:1 stat:DELIVRD text:a\0b\xff\0\0";   /* + the literal's NUL */

    assert_int_equal(smpp_dlr_parse(s, sizeof(s), &r), 0);
    assert_int_equal(r.text_len, 4);
    assert_memory_equal(r.text, "a\0b\xff", 4);
    assert_int_equal(r.text[4], '\0');
}

static void
test_length_bounds_input(void **state)
{
    (void)state;
    struct smpp_dlr r;
    /* No NUL anywhere: the parser must stop at len. */
    char *buf = malloc(20);

    assert_non_null(buf);
    memcpy(buf, "id:12345 stat:ENROUTE", 20);    /* ...ENROUT */
    assert_int_equal(smpp_dlr_parse(buf, 20, &r), SMPP_DLR_EBADSTAT);
    assert_string_equal(r.stat_raw, "ENROUT");
    assert_int_equal(smpp_dlr_parse(buf, 6, &r), SMPP_DLR_ENOSTAT);
    assert_string_equal(r.id, "123");
    free(buf);
}

static void
test_empty_input(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(smpp_dlr_parse(NULL, 0, &r), SMPP_DLR_EEMPTY);
    assert_int_equal(r.present, 0);
    assert_int_equal(r.id_error, SMPP_DLR_ENOID);
    assert_int_equal(smpp_dlr_parse("", 0, &r), SMPP_DLR_EEMPTY);
    assert_int_equal(smpp_dlr_parse(" \r\n\t", 4, &r), SMPP_DLR_EEMPTY);
    assert_int_equal(smpp_dlr_parse("\0\0\0", 3, &r), SMPP_DLR_EEMPTY);
    assert_int_equal(smpp_dlr_parse(NULL, 5, &r), SMPP_DLR_EINVAL);
    assert_int_equal(smpp_dlr_parse("x", 1, NULL), SMPP_DLR_EINVAL);
    assert_int_equal(parse_str("hello", &r), SMPP_DLR_ENOTRECEIPT);
}

static void
test_duplicate_key_first_wins(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:1 id:2 stat:DELIVRD stat:EXPIRED sub:9 sub:8", &r), 0);
    assert_string_equal(r.id, "1");
    assert_int_equal(r.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(r.sub, 9);
    /* An invalid first one still counts as the one. */
    assert_int_equal(parse_str("id:1 stat:NOPE stat:DELIVRD", &r), SMPP_DLR_EBADSTAT);
}

static void
test_numbers(void **state)
{
    (void)state;
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:1 sub:1000 dlvrd:0000000007 stat:DELIVRD", &r), 0);
    assert_int_equal(r.sub, 1000);
    assert_int_equal(r.dlvrd, 7);
    assert_int_equal(parse_str("id:1 sub:-1 dlvrd:1e3 stat:DELIVRD", &r), 0);
    assert_int_equal(r.sub, -1);
    assert_int_equal(r.dlvrd, -1);
    assert_int_equal(r.invalid, SMPP_DLR_F_SUB | SMPP_DLR_F_DLVRD);
    assert_int_equal(parse_str("id:1 sub:1234567890 stat:DELIVRD", &r), 0);
    assert_int_equal(r.sub, -1);
    assert_int_equal(r.invalid, SMPP_DLR_F_SUB);
}

/* ---------------------------------------------------------------- combine */

static void
test_combine_prefers_tlv(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv tlv = {
        .receipted_message_id = "0A1B",
        .message_state = 2,
        .has_network_error_code = true,
        .network_error_code = { 3, 0x00, 0x0B },
    };

    assert_int_equal(parse_str("id:2587 sub:001 dlvrd:001 stat:UNDELIV err:001 text:t", &r), 0);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), 0);
    assert_string_equal(f.id, "0A1B");
    assert_int_equal(f.stat, SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(f.err, 11);
    assert_string_equal(f.err_raw, "011");
    assert_int_equal(f.err_net_type, 3);
    assert_int_equal(f.from_tlv, SMPP_DLR_F_ID | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR);
    assert_int_equal(f.conflict, SMPP_DLR_F_ID | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR);
    assert_int_equal(f.sub, 1);
    assert_int_equal(f.text_len, 1);

    /* Agreement is not a conflict; in place works. */
    assert_int_equal(parse_str("id:0A1B stat:DELIVRD err:011", &r), 0);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &r), 0);
    assert_int_equal(r.conflict, 0);
    assert_int_equal(r.from_tlv, SMPP_DLR_F_ID | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR);
    assert_string_equal(r.id, "0A1B");

    /* Text alone passes through. */
    assert_int_equal(parse_str("id:5 stat:EXPIRED", &r), 0);
    assert_int_equal(smpp_dlr_combine(&r, NULL, &f), 0);
    assert_int_equal(f.present, SMPP_DLR_F_ID | SMPP_DLR_F_STAT);
    assert_int_equal(f.from_tlv, 0);
    assert_string_equal(f.id, "5");
}

static void
test_combine_bad_state_tlv(void **state)
{
    (void)state;
    struct smpp_dlr r, f;
    struct smpp_dlr_tlv tlv = { .message_state = 9 };

    assert_int_equal(parse_str("id:5 stat:EXPIRED", &r), 0);
    assert_int_equal(smpp_dlr_combine(&r, &tlv, &f), SMPP_DLR_EBADSTATE);
    assert_int_equal(f.stat, SMPP_DLR_STAT_NONE);
    assert_string_equal(f.stat_raw, "9");
    assert_int_equal(f.stat_error, SMPP_DLR_EBADSTATE);
    assert_int_equal(f.invalid, SMPP_DLR_F_STAT);
    assert_int_equal(f.conflict, SMPP_DLR_F_STAT);
    tlv.message_state = 0xFF;
    assert_int_equal(smpp_dlr_combine(NULL, &tlv, &f), SMPP_DLR_ENOID);
    assert_int_equal(f.stat_error, SMPP_DLR_EBADSTATE);
}

/* -------------------------------------------------------------- formatter */

static void
full_receipt(struct smpp_dlr *r)
{
    smpp_dlr_init(r);
    strcpy(r->id, "1a2b3c");
    r->sub = 1;
    r->dlvrd = 1;
    r->submit_date = (struct smpp_dlr_time){ 2024, 1, 31, 12, 0, 0, false };
    r->done_date = (struct smpp_dlr_time){ 2024, 1, 31, 12, 5, 0, false };
    r->stat = SMPP_DLR_STAT_DELIVRD;
    r->err = 0;
    memcpy(r->text, "Hello, world! This is long", 20);
    r->text_len = 20;
    r->present = ALL_FIELDS;
}

static void
test_format_exact(void **state)
{
    (void)state;
    struct smpp_dlr r;
    char buf[SMPP_DLR_FORMAT_MAX];
    const char *want = "id:1a2b3c sub:001 dlvrd:001 submit date:2401311200 "
                       "done date:2401311205 stat:DELIVRD err:000 text:Hello, world! This i";

    full_receipt(&r);
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);

    /* Seconds only when the date has them; err beyond 3 digits as is. */
    r.done_date = (struct smpp_dlr_time){ 2024, 2, 29, 23, 59, 7, true };
    r.err = 1234;
    r.stat = SMPP_DLR_STAT_UNDELIV;
    r.text_len = 0;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), 101);
    assert_string_equal(buf, "id:1a2b3c sub:001 dlvrd:001 submit date:2401311200 "
                             "done date:240229235907 stat:UNDELIV err:1234 text:");

    /* Absent fields are left out. */
    r.present = SMPP_DLR_F_ID | SMPP_DLR_F_STAT;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), 22);
    assert_string_equal(buf, "id:1a2b3c stat:UNDELIV");

    /* Non-numeric err is written raw. */
    r.present |= SMPP_DLR_F_ERR;
    r.err = -1;
    strcpy(r.err_raw, "0B");
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), 29);
    assert_string_equal(buf, "id:1a2b3c stat:UNDELIV err:0B");
}

static void
test_format_round_trip(void **state)
{
    (void)state;
    struct smpp_dlr r, back;
    char buf[SMPP_DLR_FORMAT_MAX], again[SMPP_DLR_FORMAT_MAX];
    int n;

    full_receipt(&r);
    r.text[3] = '\0';           /* raw bytes survive, NUL included */
    r.text[4] = ':';
    n = smpp_dlr_format(&r, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(smpp_dlr_parse(buf, (size_t)n, &back), 0);
    assert_int_equal(back.present, r.present);
    assert_string_equal(back.id, r.id);
    assert_int_equal(back.sub, r.sub);
    assert_int_equal(back.dlvrd, r.dlvrd);
    assert_memory_equal(&back.submit_date, &r.submit_date, sizeof(r.submit_date));
    assert_memory_equal(&back.done_date, &r.done_date, sizeof(r.done_date));
    assert_int_equal(back.stat, r.stat);
    assert_int_equal(back.err, r.err);
    assert_int_equal(back.text_len, r.text_len);
    assert_memory_equal(back.text, r.text, r.text_len);
    assert_int_equal(smpp_dlr_format(&back, again, sizeof(again)), n);
    assert_memory_equal(again, buf, (size_t)n);

    /* And from wire text: parse, format, parse gives the same receipt. */
    assert_int_equal(parse_str("ID:77 Stat:rejected submit_date:240131120001 Text:x", &r), 0);
    n = smpp_dlr_format(&r, buf, sizeof(buf));
    assert_string_equal(buf, "id:77 submit date:240131120001 stat:REJECTD text:x");
    assert_int_equal(smpp_dlr_parse(buf, (size_t)n, &back), 0);
    assert_int_equal(back.stat, SMPP_DLR_STAT_REJECTD);
    assert_int_equal(back.submit_date.sec, 1);
}

static void
test_format_space(void **state)
{
    (void)state;
    struct smpp_dlr r;
    char buf[SMPP_DLR_FORMAT_MAX];
    int n;

    full_receipt(&r);
    n = smpp_dlr_format(&r, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(smpp_dlr_format(&r, buf, (size_t)n + 1), n);
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(smpp_dlr_format(&r, buf, (size_t)n), SMPP_DLR_ENOSPACE);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[n], 'Z');          /* nothing written past bufsz */
    assert_int_equal(smpp_dlr_format(&r, buf, 0), SMPP_DLR_ENOSPACE);

    /* The largest receipt fits SMPP_DLR_FORMAT_MAX, and short_message. */
    memset(r.id, 'f', 64);
    r.id[64] = '\0';
    r.sub = r.dlvrd = SMPP_DLR_NUM_MAX;
    r.submit_date.has_sec = r.done_date.has_sec = true;
    r.err = -1;
    memset(r.err_raw, 'x', SMPP_DLR_ERR_MAX);
    r.err_raw[SMPP_DLR_ERR_MAX] = '\0';
    n = smpp_dlr_format(&r, buf, sizeof(buf));
    assert_int_equal(n, 205);
    assert_true(n < SMPP_DLR_FORMAT_MAX && n <= 254);
}

static void
test_format_invalid(void **state)
{
    (void)state;
    struct smpp_dlr r;
    char buf[SMPP_DLR_FORMAT_MAX];

    full_receipt(&r);
    r.present &= ~SMPP_DLR_F_ID;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.present &= ~SMPP_DLR_F_STAT;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.stat = (enum smpp_dlr_stat)9;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    strcpy(r.id, "has space");
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.sub = -1;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.done_date.mon = 13;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.submit_date.year = 1999;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.err = -1;                     /* and no err_raw */
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    strcpy(r.err_raw, "a b");
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    full_receipt(&r);
    r.text_len = 21;
    assert_int_equal(smpp_dlr_format(&r, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    assert_int_equal(smpp_dlr_format(NULL, buf, sizeof(buf)), SMPP_DLR_EINVAL);
    assert_int_equal(smpp_dlr_format(&r, NULL, 10), SMPP_DLR_EINVAL);
}

/* ---------------------------------------------------------- normalisation */

static void
assert_norm(const char *id, enum smpp_dlr_id_format f, const char *want)
{
    char out[SMPP_DLR_ID_MAX + 1];
    int n = smpp_dlr_normalize_id(id, f, out, sizeof(out));

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void
test_normalize_numeric(void **state)
{
    (void)state;
    assert_norm("255", SMPP_DLR_ID_DEC, "ff");
    assert_norm("FF", SMPP_DLR_ID_HEX, "ff");
    assert_norm("ff", SMPP_DLR_ID_HEX, "ff");
    assert_norm("000000FF", SMPP_DLR_ID_HEX, "ff");
    assert_norm("0xFF", SMPP_DLR_ID_HEX, "ff");
    assert_norm("000255", SMPP_DLR_ID_DEC, "ff");
    assert_norm("0", SMPP_DLR_ID_DEC, "0");
    assert_norm("0000", SMPP_DLR_ID_DEC, "0");
    assert_norm("0000", SMPP_DLR_ID_HEX, "0");
    assert_norm("0x0", SMPP_DLR_ID_HEX, "0");
    /* 64-bit edge and beyond. */
    assert_norm("18446744073709551615", SMPP_DLR_ID_DEC, "ffffffffffffffff");
    assert_norm("FFFFFFFFFFFFFFFF", SMPP_DLR_ID_HEX, "ffffffffffffffff");
    assert_norm("18446744073709551616", SMPP_DLR_ID_DEC, "10000000000000000");
    assert_norm("010000000000000000", SMPP_DLR_ID_HEX, "10000000000000000");
    assert_norm("1000000000000000000000000000000000000000000000000000000000012345",
                SMPP_DLR_ID_DEC, "26e4d30eccc3215dd8f3157d27e23acbdcfe68000000000003039");
    assert_norm("9999999999999999999999999999999999999999999999999999999999999999",
                SMPP_DLR_ID_DEC, "184f03e93ff9f4daa797ed6e38ed64bf6a1f00ffffffffffffffff");
}

/* The bug every gateway has had: resp id in hex, receipt id in decimal. */
static void
test_normalize_resp_matches_receipt(void **state)
{
    (void)state;
    char a[SMPP_DLR_ID_MAX + 1], b[SMPP_DLR_ID_MAX + 1];
    struct smpp_dlr r;

    assert_int_equal(parse_str("id:112394521950 sub:001 dlvrd:001 stat:DELIVRD", &r), 0);
    assert_true(smpp_dlr_normalize_id(r.id, SMPP_DLR_ID_DEC, a, sizeof(a)) > 0);
    assert_true(smpp_dlr_normalize_id("1A2B3C4D5E", SMPP_DLR_ID_HEX, b, sizeof(b)) > 0);
    assert_string_equal(a, b);
    assert_string_equal(a, "1a2b3c4d5e");
    /* and a different number does not match */
    assert_true(smpp_dlr_normalize_id("112394521951", SMPP_DLR_ID_DEC, a, sizeof(a)) > 0);
    assert_string_not_equal(a, b);
    /* leading zeros dropped on one side only */
    assert_true(smpp_dlr_normalize_id("00001a2b3c4d5e", SMPP_DLR_ID_HEX, a, sizeof(a)) > 0);
    assert_string_equal(a, b);
}

static void
test_normalize_string_and_errors(void **state)
{
    (void)state;
    char out[SMPP_DLR_ID_MAX + 1];
    char long_id[SMPP_DLR_ID_MAX + 2];

    assert_norm("AbC-0012", SMPP_DLR_ID_STRING, "abc-0012");
    assert_norm("00FF", SMPP_DLR_ID_STRING, "00ff");
    /* Not a number in the configured base: treated as a string. */
    assert_norm("A1B2", SMPP_DLR_ID_DEC, "a1b2");
    assert_norm("msg-0FF", SMPP_DLR_ID_HEX, "msg-0ff");
    assert_norm("0x", SMPP_DLR_ID_HEX, "0x");
    assert_norm("0xG1", SMPP_DLR_ID_HEX, "0xg1");

    assert_int_equal(smpp_dlr_normalize_id("", SMPP_DLR_ID_STRING, out, sizeof(out)),
                     SMPP_DLR_EBADID);
    assert_int_equal(smpp_dlr_normalize_id("a b", SMPP_DLR_ID_STRING, out, sizeof(out)),
                     SMPP_DLR_EBADID);
    memset(long_id, '1', SMPP_DLR_ID_MAX + 1);
    long_id[SMPP_DLR_ID_MAX + 1] = '\0';
    assert_int_equal(smpp_dlr_normalize_id(long_id, SMPP_DLR_ID_DEC, out, sizeof(out)),
                     SMPP_DLR_EIDLONG);
    assert_int_equal(smpp_dlr_normalize_id("255", SMPP_DLR_ID_DEC, out, 2), SMPP_DLR_ENOSPACE);
    assert_int_equal(smpp_dlr_normalize_id("255", SMPP_DLR_ID_DEC, out, 3), 2);
    assert_int_equal(smpp_dlr_normalize_id("255", (enum smpp_dlr_id_format)7, out, 3),
                     SMPP_DLR_EINVAL);
    assert_int_equal(smpp_dlr_normalize_id(NULL, SMPP_DLR_ID_DEC, out, 3), SMPP_DLR_EINVAL);
}

/* ----------------------------------------------------------------- states */

static void
test_state_mapping(void **state)
{
    (void)state;
    static const struct {
        uint8_t message_state;
        enum smpp_dlr_stat stat;
        const char *word;
    } map[] = {
        { 1, SMPP_DLR_STAT_ENROUTE, "ENROUTE" },
        { 2, SMPP_DLR_STAT_DELIVRD, "DELIVRD" },
        { 3, SMPP_DLR_STAT_EXPIRED, "EXPIRED" },
        { 4, SMPP_DLR_STAT_DELETED, "DELETED" },
        { 5, SMPP_DLR_STAT_UNDELIV, "UNDELIV" },
        { 6, SMPP_DLR_STAT_ACCEPTD, "ACCEPTD" },
        { 7, SMPP_DLR_STAT_UNKNOWN, "UNKNOWN" },
        { 8, SMPP_DLR_STAT_REJECTD, "REJECTD" },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char s[64];
        struct smpp_dlr r;

        assert_int_equal(smpp_dlr_stat_from_state(map[i].message_state), map[i].stat);
        assert_int_equal(smpp_dlr_stat_to_state(map[i].stat), map[i].message_state);
        assert_string_equal(smpp_dlr_stat_name(map[i].stat), map[i].word);
        assert_int_equal(smpp_dlr_stat_from_name(map[i].word, 7), map[i].stat);
        snprintf(s, sizeof(s), "id:1 stat:%s", map[i].word);
        assert_int_equal(parse_str(s, &r), 0);
        assert_int_equal(r.stat, map[i].stat);
    }
    assert_int_equal(smpp_dlr_stat_from_state(0), SMPP_DLR_STAT_NONE);
    assert_int_equal(smpp_dlr_stat_from_state(9), SMPP_DLR_STAT_NONE);
    assert_int_equal(smpp_dlr_stat_from_state(0x102), SMPP_DLR_STAT_NONE);
    assert_int_equal(smpp_dlr_stat_to_state(SMPP_DLR_STAT_NONE), 0);
    assert_int_equal(smpp_dlr_stat_to_state((enum smpp_dlr_stat)9), 0);
    assert_null(smpp_dlr_stat_name(SMPP_DLR_STAT_NONE));
    assert_null(smpp_dlr_stat_name((enum smpp_dlr_stat)-1));
    assert_int_equal(smpp_dlr_stat_from_name("DELIVERED", 9), SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(smpp_dlr_stat_from_name("UNDELIVERED", 11), SMPP_DLR_STAT_UNDELIV);
    assert_int_equal(smpp_dlr_stat_from_name("DELIVRDX", 7), SMPP_DLR_STAT_DELIVRD);
    assert_int_equal(smpp_dlr_stat_from_name("DELIVRDX", 8), SMPP_DLR_STAT_NONE);
    assert_int_equal(smpp_dlr_stat_from_name(NULL, 0), SMPP_DLR_STAT_NONE);
}

static void
test_strerror(void **state)
{
    (void)state;
    for (int e = SMPP_DLR_OK; e >= SMPP_DLR_ENOSPACE; e--) {
        const char *m = smpp_dlr_strerror(e);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown receipt error");
        for (int o = e - 1; o >= SMPP_DLR_ENOSPACE; o--)
            assert_string_not_equal(m, smpp_dlr_strerror(o));
    }
    assert_string_equal(smpp_dlr_strerror(-99), "unknown receipt error");
    assert_string_equal(smpp_dlr_strerror(SMPP_DLR_EIDLONG),
                        "receipt message id is longer than 64 characters");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_canonical),
        cmocka_unit_test(test_parse_smppsim_capital_text),
        cmocka_unit_test(test_parse_12_digit_dates),
        cmocka_unit_test(test_time_to_utc_bounds),
        cmocka_unit_test(test_parse_bad_dates_are_invalid_not_fatal),
        cmocka_unit_test(test_parse_missing_optional_fields),
        cmocka_unit_test(test_parse_missing_stat_then_tlv_state),
        cmocka_unit_test(test_parse_missing_id_then_tlv_id),
        cmocka_unit_test(test_no_text_no_tlv),
        cmocka_unit_test(test_id_64_chars),
        cmocka_unit_test(test_id_65_chars_is_error),
        cmocka_unit_test(test_bad_id_bytes),
        cmocka_unit_test(test_unknown_stat_word),
        cmocka_unit_test(test_err_forms),
        cmocka_unit_test(test_vendor_extra_fields),
        cmocka_unit_test(test_key_case_and_spelling),
        cmocka_unit_test(test_extra_spaces),
        cmocka_unit_test(test_text_with_colons_ends_parsing),
        cmocka_unit_test(test_text_raw_bytes_and_trailing_nuls),
        cmocka_unit_test(test_length_bounds_input),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_duplicate_key_first_wins),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_combine_prefers_tlv),
        cmocka_unit_test(test_combine_bad_state_tlv),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_space),
        cmocka_unit_test(test_format_invalid),
        cmocka_unit_test(test_normalize_numeric),
        cmocka_unit_test(test_normalize_resp_matches_receipt),
        cmocka_unit_test(test_normalize_string_and_errors),
        cmocka_unit_test(test_state_mapping),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
