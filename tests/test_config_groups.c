/*
 * The numbering, quiet_hours and channels groups through config_load():
 * their modules parse them, and their errors come out with every other
 * error, sorted, as FILE:LINE lines (what smsgwd -t prints).
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

#include "core/config.h"
#include "router/numplan.h"
#include "router/quiet.h"
#include "tests/testlib.h"

static int
load(const char *dir, const char *text, struct gw_config **out, char *errbuf, size_t errsz)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/smsgw.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    FILE *e = fmemopen(errbuf, errsz, "w");
    int n = config_load(path, out, e);
    fclose(e);
    return n;
}

static void
test_groups_load(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), errs[4096] = "";
    struct gw_config *c = NULL;
    int n = load(dir,
                 "numbering = { no_sms = ( { prefix = \"4420\"; kind = \"landline\"; } ); };\n"
                 "quiet_hours = { default = \"08:00-20:00\";\n"
                 "                countries = ( { country = \"GB\"; window = \"10:00-18:00\"; } ); };\n"
                 "channels = { ott = { base_url = \"https://graph.example.com/v19.0\";\n"
                 "                     phone_number_id = \"1\"; token = \"t\"; }; };\n",
                 &c, errs, sizeof(errs));
    if (n)
        fail_msg("%s", errs);
    struct numplan_info in;
    numplan_lookup(c->numplan, "+442071234567", &in);
    assert_int_equal(in.kind, NUMPLAN_LANDLINE);
    /* 09:30 UTC in January is 09:30 in London: before GB's 10:00. */
    struct tm tm = { .tm_year = 130, .tm_mon = 0, .tm_mday = 15, .tm_hour = 9, .tm_min = 30 };
    time_t t = timegm(&tm);
    assert_int_equal(quiet_release_at(c->quiet, "+447700900123", NULL, t, NULL), t + 30 * 60);
    assert_true(c->channels.has_ott);
    assert_false(c->channels.has_email);
    config_free(c);

    /* Absent groups: defaults, and the objects exist. */
    c = NULL;
    n = load(dir, "log_level = \"info\";\n", &c, errs, sizeof(errs));
    assert_int_equal(n, 0);
    assert_non_null(c->numplan);
    assert_non_null(c->quiet);
    assert_false(c->channels.has_ott || c->channels.has_rcs || c->channels.has_email);
    config_free(c);
    tl_cleanup_dir(dir);
}

static void
test_group_errors_sorted_with_the_rest(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), errs[8192] = "", want[1024];
    struct gw_config *c = NULL;
    int n = load(dir,
                 "channels = { rcs = { base_url = \"gopher://x.example\"; token = \"t\"; }; };\n"
                 "log_levle = \"info\";\n"
                 "quiet_hours = { default = \"9-21\"; };\n"
                 "numbering = { no_sms = ( { prefix = \"44x\"; kind = \"landline\"; } ); };\n",
                 &c, errs, sizeof(errs));
    fprintf(stderr, "%s", errs);
    assert_null(c);
    assert_int_equal(n, 4);
    snprintf(want, sizeof(want),
             "%s/smsgw.conf:1: channels.rcs: \"base_url\" must start with https:// or http://\n"
             "%s/smsgw.conf:2: unknown setting \"log_levle\" (did you mean \"log_level\"?)\n"
             "%s/smsgw.conf:3: quiet_hours.default: must be a window \"HH:MM-HH:MM\" (local time, 00:00 to 24:00)\n"
             "%s/smsgw.conf:4: numbering.no_sms #1: prefix must be 1 to 15 digits (E.164, \"+\" optional)\n",
             dir, dir, dir, dir);
    assert_string_equal(errs, want);
    tl_cleanup_dir(dir);
}

/* The shipped example stays loadable. */
static void
test_shipped_example_loads(void **state)
{
    (void)state;
    char path[1024];
    struct gw_config *c = NULL;
    char errs[4096] = "";

    snprintf(path, sizeof(path), "%s/conf/example-channels.conf", tl_top());
    FILE *e = fmemopen(errs, sizeof(errs), "w");
    int n = config_load(path, &c, e);
    fclose(e);
    if (n)
        fail_msg("%s", errs);
    assert_true(c->channels.has_email && c->channels.email.has_marketing);
    assert_true(c->channels.has_ott && c->channels.has_rcs);
    assert_int_equal(numplan_range_count(c->numplan), 3);
    config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_load),
        cmocka_unit_test(test_group_errors_sorted_with_the_rest),
        cmocka_unit_test(test_shipped_example_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
