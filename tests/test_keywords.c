/* MO compliance keywords: what counts as STOP, START, HELP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "router/router_keywords.h"
#include "smpp/smpp_text.h"

static enum mo_keyword
kw(const char *s)
{
    return mo_keyword_of(s, strlen(s));
}

static void
test_every_keyword_any_case(void **state)
{
    (void)state;
    const char *stop[] = { "STOP", "stop", "Stop", "STOPALL", "unsubscribe", "Cancel", "END",
                           "quit" };
    for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
        assert_int_equal(kw(stop[i]), MO_KW_STOP);
    assert_int_equal(kw("START"), MO_KW_START);
    assert_int_equal(kw("unstop"), MO_KW_START);
    assert_int_equal(kw("Yes"), MO_KW_START);
    assert_int_equal(kw("HELP"), MO_KW_HELP);
    assert_int_equal(kw("info"), MO_KW_HELP);
}

static void
test_spaces_and_punctuation_around(void **state)
{
    (void)state;
    assert_int_equal(kw("  STOP  "), MO_KW_STOP);
    assert_int_equal(kw("Stop."), MO_KW_STOP);
    assert_int_equal(kw("\"stop!!!\"\n"), MO_KW_STOP);
    assert_int_equal(kw("\xC2\xA0STOP\xC2\xA0"), MO_KW_STOP);      /* no-break spaces */
    assert_int_equal(kw("...help?"), MO_KW_HELP);
}

static void
test_not_keywords(void **state)
{
    (void)state;
    assert_int_equal(kw(""), MO_KW_NONE);
    assert_int_equal(kw("   "), MO_KW_NONE);
    assert_int_equal(kw("stop by at 5"), MO_KW_NONE);
    assert_int_equal(kw("STOPP"), MO_KW_NONE);
    assert_int_equal(kw("S T O P"), MO_KW_NONE);
    assert_int_equal(kw("nonstop"), MO_KW_NONE);
    assert_int_equal(kw("yesterday"), MO_KW_NONE);
    assert_int_equal(mo_keyword_of(NULL, 0), MO_KW_NONE);
}

static void
test_replies_fit_one_gsm_segment(void **state)
{
    char buf[256];
    (void)state;
    for (int k = MO_KW_STOP; k <= MO_KW_HELP; k++) {
        struct smpp_text_info info;
        size_t off = 0;
        const char *r = mo_keyword_reply((enum mo_keyword)k, NULL, buf, sizeof(buf));
        assert_true(strlen(r) > 20);
        assert_int_equal(smpp_text_measure(r, strlen(r), SMPP_TEXT_ENC_AUTO, SMPP_TEXT_CONCAT_UDH8,
                                           &info, &off), 0);
        assert_int_equal(info.enc, SMPP_TEXT_ENC_GSM7);
        assert_int_equal(info.segments, 1);
    }
    mo_keyword_reply(MO_KW_HELP, "ACME Pharmacy alerts.", buf, sizeof(buf));
    assert_string_equal(buf, "ACME Pharmacy alerts. Reply STOP to opt out. Msg&data rates may apply.");
    assert_non_null(strstr(mo_keyword_reply(MO_KW_STOP, NULL, buf, sizeof(buf)), "START"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_keyword_any_case),
        cmocka_unit_test(test_spaces_and_punctuation_around),
        cmocka_unit_test(test_not_keywords),
        cmocka_unit_test(test_replies_fit_one_gsm_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
