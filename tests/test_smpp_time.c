/* SMPP 3.4 absolute and relative times (smpp/smpp_time). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "smpp/smpp_time.h"

/* 2026-11-27 15:00:00 UTC */
#define NOW ((time_t)1795791600)

static time_t
at(const char *s)
{
    time_t t = 0;
    assert_int_equal(smpp_time_parse(s, NOW, &t), 1);
    return t;
}

static void
test_absolute(void **state)
{
    (void)state;
    assert_int_equal(at("261127150000000+"), NOW);
    /* local 16:00 one hour (4 quarters) ahead of UTC is 15:00 UTC */
    assert_int_equal(at("261127160000004+"), NOW);
    /* local 10:00 five hours behind UTC is 15:00 UTC */
    assert_int_equal(at("261127100000020-"), NOW);
    /* tenths are ignored */
    assert_int_equal(at("261127150000900+"), NOW);
    assert_int_equal(at("261128150000000+"), NOW + 86400);
    assert_int_equal(at("240229000000000+"), (time_t)1709164800);     /* leap day */
}

static void
test_relative(void **state)
{
    (void)state;
    assert_int_equal(at("000000000100000R"), NOW + 60);
    assert_int_equal(at("000001000000000R"), NOW + 86400);
    assert_int_equal(at("000000013000000R"), NOW + 5400);
    assert_int_equal(at("000000000000000R"), NOW);
    /* a month from 27 November is 27 December */
    assert_int_equal(at("000100000000000R"), NOW + 30 * 86400);
    assert_int_equal(at("010000000000000R"), NOW + 365 * 86400);
}

static void
test_empty_and_malformed(void **state)
{
    (void)state;
    time_t t = 42;
    assert_int_equal(smpp_time_parse("", NOW, &t), 0);
    assert_int_equal(t, 42);
    assert_int_equal(smpp_time_parse(NULL, NOW, &t), 0);
    const char *bad[] = {
        "26112715000000+",      /* 15 characters */
        "2611271500000000+",    /* 17 */
        "261127150000000X",     /* neither + - R */
        "261327150000000+",     /* month 13 */
        "261100150000000+",     /* day 0 */
        "260431150000000+",     /* 31 April */
        "250229150000000+",     /* 29 February 2025 */
        "261127240000000+",     /* hour 24 */
        "261127156000000+",     /* minute 60 */
        "261127150060000+",     /* second 60 */
        "261127150000049+",     /* 49 quarter hours */
        "2611a7150000000+",     /* a letter */
        "00000000010000 R",     /* a space */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (smpp_time_parse(bad[i], NOW, &t) != -1)
            fail_msg("\"%s\" was accepted", bad[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_relative),
        cmocka_unit_test(test_empty_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
