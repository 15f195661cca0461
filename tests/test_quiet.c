/*
 * router/quiet: local sending windows with an injected clock. Expected
 * instants are written as UTC wall times worked out by hand from the zones'
 * rules (US DST 2026: Mar 8 and Nov 1; EU: Mar 29 and Oct 25; Australia/
 * Sydney: Oct 4), never computed with the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg_group.h"
#include "router/numplan.h"
#include "router/quiet.h"
#include "tests/testlib.h"

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    return timegm(&tm);
}

#define NY  "+12125550100"
#define LA  "+14155550100"
#define LON "+447700900123"

static const struct quiet_window def = { 9 * 60, 21 * 60 };

static void
test_late_evening_waits_for_next_morning(void **state)
{
    (void)state;
    struct quiet *q = quiet_new(NULL);
    bool known = false;

    /* 23:00 EST Jan 15 = 04:00 UTC Jan 16 -> 09:00 EST Jan 16 = 14:00 UTC. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 16, 4, 0, 0), &known),
                     utc(2026, 1, 16, 14, 0, 0));
    assert_true(known);
    /* The same instant is 20:00 in San Francisco: inside. */
    assert_int_equal(quiet_release_at(q, LA, NULL, utc(2026, 1, 16, 4, 0, 0), NULL), 0);
    /* 07:00 EST -> 09:00 the same day. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 15, 12, 0, 0), NULL),
                     utc(2026, 1, 15, 14, 0, 0));
    /* Edges: 09:00:00 is open, 20:59:59 is open, 21:00:00 is closed. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 15, 14, 0, 0), NULL), 0);
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 16, 1, 59, 59), NULL), 0);
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 16, 2, 0, 0), NULL),
                     utc(2026, 1, 16, 14, 0, 0));
    /* Transactional traffic is never held; the same message as marketing is. */
    assert_int_equal(quiet_hold_until(q, NY, NULL, true, utc(2026, 1, 16, 4, 0, 0)), 0);
    assert_int_equal(quiet_hold_until(q, NY, NULL, false, utc(2026, 1, 16, 4, 0, 0)),
                     utc(2026, 1, 16, 14, 0, 0));
    /* 00:30 local, after midnight: the same local day's 09:00. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 16, 5, 30, 0), NULL),
                     utc(2026, 1, 16, 14, 0, 0));
    quiet_free(q);
}

static void
test_dst_boundaries(void **state)
{
    (void)state;
    struct quiet *q = quiet_new(NULL);

    /* Spring forward: 23:00 EST Sat Mar 7 (04:00 UTC Mar 8); 09:00 on Mar 8
     * is EDT (-4): 13:00 UTC, not 14:00. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 3, 8, 4, 0, 0), NULL),
                     utc(2026, 3, 8, 13, 0, 0));
    /* Fall back: 23:00 EDT Sat Oct 31 (03:00 UTC Nov 1); 09:00 Nov 1 is EST. */
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 11, 1, 3, 0, 0), NULL),
                     utc(2026, 11, 1, 14, 0, 0));
    /* London, EU rules: 22:30 GMT Sat Mar 28 -> 09:00 BST Mar 29 = 08:00 UTC. */
    assert_int_equal(quiet_release_at(q, LON, NULL, utc(2026, 3, 28, 22, 30, 0), NULL),
                     utc(2026, 3, 29, 8, 0, 0));
    /* Sydney, southern rules: 22:00 AEST Sat Oct 3 (12:00 UTC) -> 09:00 AEDT
     * Oct 4 (+11) = 22:00 UTC Oct 3. */
    assert_int_equal(quiet_release_at(q, "+61212345678", NULL, utc(2026, 10, 3, 12, 0, 0), NULL),
                     utc(2026, 10, 3, 22, 0, 0));
    /* An opening that does not exist locally (02:30 on Mar 8 in New York):
     * released when the gap ends, 03:00 EDT = 07:00 UTC. */
    struct quiet_window early = { 2 * 60 + 30, 5 * 60 };
    assert_int_equal(quiet_release_at(q, NY, &early, utc(2026, 3, 8, 6, 0, 0), NULL),
                     utc(2026, 3, 8, 7, 0, 0));
    quiet_free(q);
}

static void
test_odd_offsets_and_zones_by_area(void **state)
{
    (void)state;
    struct quiet *q = quiet_new(NULL);

    /* India +05:30: 22:00 IST = 16:30 UTC -> 09:00 IST = 03:30 UTC next day. */
    assert_int_equal(quiet_release_at(q, "+919812345678", NULL, utc(2026, 6, 1, 16, 30, 0), NULL),
                     utc(2026, 6, 2, 3, 30, 0));
    /* Nepal +05:45. */
    assert_int_equal(quiet_release_at_zone(q, "Asia/Kathmandu", def, utc(2026, 6, 1, 17, 0, 0)),
                     utc(2026, 6, 2, 3, 15, 0));
    /* Arizona has no DST: July 06:00 MST = 13:00 UTC -> 09:00 MST = 16:00 UTC;
     * Denver, same offset in winter, is on MDT in July: 15:00 UTC. */
    assert_int_equal(quiet_release_at(q, "+16025550100", NULL, utc(2026, 7, 1, 13, 0, 0), NULL),
                     utc(2026, 7, 1, 16, 0, 0));
    assert_int_equal(quiet_release_at(q, "+13035550100", NULL, utc(2026, 7, 1, 13, 0, 0), NULL),
                     utc(2026, 7, 1, 15, 0, 0));
    assert_int_equal(quiet_utc_offset(q, "Asia/Kolkata", utc(2026, 1, 1, 0, 0, 0)), 19800);
    quiet_free(q);
}

static void
test_windows_country_account_and_wrap(void **state)
{
    (void)state;
    struct quiet *q = quiet_new(NULL);
    struct quiet_window w;

    /* 09:30 BST, June. */
    time_t t = utc(2026, 6, 1, 8, 30, 0);
    assert_int_equal(quiet_release_at(q, LON, NULL, t, NULL), 0);
    assert_true(quiet_window_parse("10:00-18:00", &w));
    assert_true(quiet_set_country(q, "GB", w));
    assert_int_equal(quiet_release_at(q, LON, NULL, t, NULL), utc(2026, 6, 1, 9, 0, 0));
    /* A calling-code entry does not beat the ISO one... */
    assert_true(quiet_window_parse("11:00-12:00", &w));
    assert_true(quiet_set_country(q, "44", w));
    assert_int_equal(quiet_release_at(q, LON, NULL, t, NULL), utc(2026, 6, 1, 9, 0, 0));
    /* ...and the account's window beats both. */
    struct quiet_window acct = { 8 * 60, 22 * 60 };
    assert_int_equal(quiet_release_at(q, LON, &acct, t, NULL), 0);
    /* Calling code only (Jamaica's ISO is JM, its code 1): NANP "1" applies to it. */
    assert_true(quiet_window_parse("12:00-13:00", &w));
    assert_true(quiet_set_country(q, "1", w));
    assert_int_equal(quiet_release_at(q, "+18765550100", NULL, utc(2026, 6, 1, 15, 0, 0), NULL),
                     utc(2026, 6, 1, 17, 0, 0));      /* Jamaica is -5 all year */
    assert_false(quiet_set_country(q, "gb", w));
    assert_false(quiet_set_country(q, "0044", w));

    /* A window across midnight (night shift): 20:00-08:00. */
    struct quiet_window night = { 20 * 60, 8 * 60 };
    assert_int_equal(quiet_release_at_zone(q, "UTC", night, utc(2026, 6, 1, 23, 0, 0)), 0);
    assert_int_equal(quiet_release_at_zone(q, "UTC", night, utc(2026, 6, 1, 3, 0, 0)), 0);
    assert_int_equal(quiet_release_at_zone(q, "UTC", night, utc(2026, 6, 1, 12, 0, 0)),
                     utc(2026, 6, 1, 20, 0, 0));
    /* start == end: always open. */
    struct quiet_window always = { 0, 0 };
    assert_int_equal(quiet_release_at_zone(q, "UTC", always, utc(2026, 6, 1, 3, 0, 0)), 0);
    /* 00:00-24:00 also. */
    assert_true(quiet_window_parse("00:00-24:00", &w));
    assert_int_equal(quiet_release_at_zone(q, "Europe/Paris", w, utc(2026, 6, 1, 3, 0, 0)), 0);
    quiet_free(q);
}

static void
test_unknown_zone_and_tz_restored(void **state)
{
    (void)state;
    struct quiet *q = quiet_new(NULL);
    bool known = true;

    /* Unknown calling code: checked in UTC, and said so. */
    assert_int_equal(quiet_release_at(q, "+999123456789", NULL, utc(2026, 6, 1, 22, 0, 0), &known),
                     utc(2026, 6, 2, 9, 0, 0));
    assert_false(known);

    /* The process's own TZ is put back after every probe. */
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    (void)quiet_utc_offset(q, "America/Chicago", utc(2030, 1, 1, 0, 0, 0));
    assert_string_equal(getenv("TZ"), "Asia/Tokyo");
    time_t t = utc(2026, 6, 1, 0, 0, 0);
    struct tm tm;
    localtime_r(&t, &tm);
    assert_int_equal(tm.tm_hour, 9);
    unsetenv("TZ");
    tzset();
    (void)quiet_utc_offset(q, "America/Denver", utc(2031, 1, 1, 0, 0, 0));
    assert_null(getenv("TZ"));

    assert_true(quiet_zone_exists("Europe/Berlin"));
    assert_false(quiet_zone_exists("Mars/Olympus_Mons"));
    assert_false(quiet_zone_exists("../../etc/passwd"));
    quiet_free(q);
}

static void
test_config_group(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), path[512];
    struct cfg_errs errs = { 0 };
    config_t c;

    snprintf(path, sizeof(path), "%s/q.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("quiet_hours = {\n"
          "  default = \"08:00-20:00\";\n"
          "  countries = ( { country = \"US\"; window = \"10:00-19:00\"; },\n"
          "                { country = \"us\"; window = \"10:00-19:00\"; },\n"
          "                { country = \"44\"; window = \"9-17\"; },\n"
          "                { country = \"US\"; window = \"10:00-19:00\"; },\n"
          "                { window = \"10:00-19:00\"; when = 1; } );\n"
          "  timezone = \"UTC\";\n"
          "};\n", f);
    fclose(f);
    config_init(&c);
    assert_true(config_read_file(&c, path));
    struct quiet *q = quiet_new(NULL);
    quiet_config(q, config_lookup(&c, "quiet_hours"), &errs);
    cfg_errs_print(&errs, stderr);
    assert_true(cfg_errs_has(&errs, "q.conf:4: quiet_hours.countries #2: country must be"));
    assert_true(cfg_errs_has(&errs, "q.conf:5: quiet_hours.countries #3: must be a window"));
    assert_true(cfg_errs_has(&errs, "q.conf:6: quiet_hours.countries #4: country \"US\" given twice"));
    assert_true(cfg_errs_has(&errs, "q.conf:7: quiet_hours.countries #5: missing required setting \"country\""));
    assert_true(cfg_errs_has(&errs, "q.conf:7: quiet_hours.countries #5: unknown setting \"when\""));
    assert_true(cfg_errs_has(&errs, "q.conf:8: quiet_hours: unknown setting \"timezone\""));
    assert_int_equal(errs.n, 6);
    /* What was valid took effect: default 08:00, US 10:00. */
    assert_int_equal(quiet_release_at(q, LON, NULL, utc(2026, 1, 15, 7, 30, 0), NULL),
                     utc(2026, 1, 15, 8, 0, 0));
    assert_int_equal(quiet_release_at(q, NY, NULL, utc(2026, 1, 15, 14, 30, 0), NULL),
                     utc(2026, 1, 15, 15, 0, 0));
    cfg_errs_free(&errs);
    config_destroy(&c);
    quiet_free(q);
    tl_cleanup_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_evening_waits_for_next_morning),
        cmocka_unit_test(test_dst_boundaries),
        cmocka_unit_test(test_odd_offsets_and_zones_by_area),
        cmocka_unit_test(test_windows_country_account_and_wrap),
        cmocka_unit_test(test_unknown_zone_and_tz_restored),
        cmocka_unit_test(test_config_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
