/* router/numplan: E.164 validity, country, kind, zone; the numbering config. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cfg_group.h"
#include "router/numplan.h"
#include "tests/testlib.h"

static struct numplan_info
look(const struct numplan *np, const char *n)
{
    struct numplan_info i;
    numplan_lookup(np, n, &i);
    return i;
}

static void
test_valid_numbers_by_country(void **state)
{
    (void)state;
    struct {
        const char *num, *cc, *iso, *tz;
    } ok[] = {
        { "+12125550100", "1", "US", "America/New_York" },
        { "+13125550100", "1", "US", "America/Chicago" },
        { "+14155550100", "1", "US", "America/Los_Angeles" },
        { "+16025550100", "1", "US", "America/Phoenix" },
        { "+14165550100", "1", "CA", "America/Toronto" },
        { "+16045550100", "1", "CA", "America/Vancouver" },
        { "+18765550100", "1", "JM", "America/Jamaica" },
        { "+17875550100", "1", "PR", "America/Puerto_Rico" },
        { "+447700900123", "44", "GB", "Europe/London" },
        { "+4915112345678", "49", "DE", "Europe/Berlin" },
        { "+33612345678", "33", "FR", "Europe/Paris" },
        { "+8613812345678", "86", "CN", "Asia/Shanghai" },
        { "+919812345678", "91", "IN", "Asia/Kolkata" },
        { "+5511912345678", "55", "BR", "America/Sao_Paulo" },
        { "+5592912345678", "55", "BR", "America/Manaus" },
        { "+526641234567", "52", "MX", "America/Tijuana" },
        { "+525512345678", "52", "MX", "America/Mexico_City" },
        { "+61412345678", "61", "AU", "Australia/Sydney" },
        { "+61892345678", "61", "AU", "Australia/Perth" },
        { "+2348031234567", "234", "NG", "Africa/Lagos" },
        { "+254712345678", "254", "KE", "Africa/Nairobi" },
        { "+79161234567", "7", "RU", "Europe/Moscow" },
        { "+77011234567", "7", "KZ", "Asia/Almaty" },
        { "+85291234567", "852", "HK", "Asia/Hong_Kong" },
        { "12125550100", "1", "US", "America/New_York" },   /* no "+" (route prefix form) */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct numplan_info in = look(NULL, ok[i].num);
        if (!in.valid)
            fail_msg("%s: invalid (%s)", ok[i].num, numplan_invalid_name(in.why));
        assert_string_equal(in.cc, ok[i].cc);
        assert_string_equal(in.iso, ok[i].iso);
        assert_string_equal(in.tz, ok[i].tz);
        assert_int_equal(in.kind, NUMPLAN_UNKNOWN);
        assert_true(in.sms_capable);
    }
}

static void
test_invalid_numbers(void **state)
{
    (void)state;
    struct {
        const char *num;
        enum numplan_invalid why;
    } bad[] = {
        { "", NUMPLAN_E_SYNTAX },
        { "+", NUMPLAN_E_SYNTAX },
        { NULL, NUMPLAN_E_SYNTAX },
        { "+0123456789", NUMPLAN_E_SYNTAX },
        { "+1212555010a", NUMPLAN_E_SYNTAX },
        { "+1 2125550100", NUMPLAN_E_SYNTAX },
        { "++12125550100", NUMPLAN_E_SYNTAX },
        { "+1234567890123456", NUMPLAN_E_SYNTAX },   /* 16 digits */
        { "+999123456789", NUMPLAN_E_COUNTRY },      /* 999 unassigned */
        { "+80012345678", NUMPLAN_E_COUNTRY },       /* 800 is not in the table */
        { "+1212555010", NUMPLAN_E_SHORT },
        { "+121255501000", NUMPLAN_E_LONG },
        { "+11125550100", NUMPLAN_E_FORMAT },        /* area code 1xx */
        { "+12120550100", NUMPLAN_E_FORMAT },        /* exchange 0xx */
        { "+19115550100", NUMPLAN_E_FORMAT },        /* N11 is no area code */
        { "+4477009001", NUMPLAN_E_SHORT },          /* GB: 8-digit NSN */
        { "+44770090012345", NUMPLAN_E_LONG },
        { "+3361234567", NUMPLAN_E_SHORT },          /* FR: exactly 9 */
        { "+336123456789", NUMPLAN_E_LONG },
        { "+7", NUMPLAN_E_SHORT },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct numplan_info in = look(NULL, bad[i].num);
        if (in.valid || in.why != bad[i].why)
            fail_msg("%s: got valid=%d why=%s, want %s", bad[i].num ? bad[i].num : "NULL",
                     in.valid, numplan_invalid_name(in.why), numplan_invalid_name(bad[i].why));
    }
    /* Country facts are still filled for a number of the wrong length. */
    struct numplan_info in = look(NULL, "+1212555010");
    assert_string_equal(in.iso, "US");
    assert_string_equal(in.tz, "America/New_York");
    assert_int_equal(in.nsn_len, 9);
}

static void
test_boundary_lengths(void **state)
{
    (void)state;
    /* DE: NSN 6..13 (geographic numbers are short). */
    assert_false(look(NULL, "+4930123").valid);
    assert_true(look(NULL, "+49301234").valid);
    assert_true(look(NULL, "+493012345678901").valid);  /* NSN 13, 15 digits in all */
    assert_int_equal(look(NULL, "+4930123456789012").why, NUMPLAN_E_SYNTAX); /* 16 */
    /* SE: NSN 7..13. */
    assert_int_equal(look(NULL, "+46812345").why, NUMPLAN_E_SHORT);
    assert_true(look(NULL, "+468123456").valid);
    /* E.164's 15 digits: AT allows a 13-digit NSN after "43". */
    assert_true(look(NULL, "+431234567890123").valid);
}

static void
test_configured_ranges_longest_wins(void **state)
{
    (void)state;
    struct numplan *np = numplan_new();

    assert_true(numplan_add_range(np, "4420", NUMPLAN_LANDLINE));
    assert_true(numplan_add_range(np, "442079", NUMPLAN_MOBILE));   /* exception inside */
    assert_true(numplan_add_range(np, "4456", NUMPLAN_VOIP));
    assert_true(numplan_add_range(np, "1900", NUMPLAN_NO_SMS));
    assert_false(numplan_add_range(np, "", NUMPLAN_LANDLINE));
    assert_false(numplan_add_range(np, "+44", NUMPLAN_LANDLINE));
    assert_false(numplan_add_range(np, "1234567890123456", NUMPLAN_LANDLINE));
    assert_false(numplan_add_range(np, "44", NUMPLAN_UNKNOWN));
    assert_int_equal(numplan_range_count(np), 4);

    struct numplan_info in = look(np, "+442071234567");
    assert_true(in.valid);
    assert_int_equal(in.kind, NUMPLAN_LANDLINE);
    assert_false(in.sms_capable);
    assert_string_equal(in.range, "4420");
    in = look(np, "+442079123456");
    assert_int_equal(in.kind, NUMPLAN_MOBILE);
    assert_true(in.sms_capable);
    in = look(np, "+445612345678");
    assert_int_equal(in.kind, NUMPLAN_VOIP);
    assert_false(in.sms_capable);
    in = look(np, "+447700900123");
    assert_int_equal(in.kind, NUMPLAN_UNKNOWN);
    assert_null(in.range);
    /* Re-adding a prefix replaces its kind. */
    assert_true(numplan_add_range(np, "4456", NUMPLAN_MOBILE));
    assert_int_equal(numplan_range_count(np), 4);
    assert_int_equal(look(np, "+445612345678").kind, NUMPLAN_MOBILE);
    numplan_free(np);
}

static void
test_tables_sorted_and_zones_exist(void **state)
{
    (void)state;
    size_t nc, na;
    const struct numplan_country *c = numplan_countries(&nc);
    const struct numplan_area *a = numplan_areas(&na);
    char path[512];
    struct stat st;

    assert_true(nc >= 100);
    for (size_t i = 0; i < nc; i++) {
        if (i)
            assert_true(strcmp(c[i - 1].cc, c[i].cc) < 0);
        assert_true(c[i].min_nsn <= c[i].max_nsn);
        assert_true(strlen(c[i].cc) + c[i].max_nsn <= 15);
        /* Calling codes are a prefix code. */
        for (size_t j = 0; j < nc; j++)
            if (i != j && strncmp(c[i].cc, c[j].cc, strlen(c[i].cc)) == 0)
                fail_msg("calling code %s is a prefix of %s", c[i].cc, c[j].cc);
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", c[i].tz);
        if (stat(path, &st) != 0)
            fail_msg("zone %s (cc %s) not in the tz database", c[i].tz, c[i].cc);
    }
    for (size_t i = 0; i < na; i++) {
        if (i)
            assert_true(strcmp(a[i - 1].prefix, a[i].prefix) < 0);
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", a[i].tz);
        if (stat(path, &st) != 0)
            fail_msg("zone %s (area %s) not in the tz database", a[i].tz, a[i].prefix);
        /* Every area lies inside a known country. */
        struct numplan_info in = look(NULL, a[i].prefix);
        assert_true(in.why != NUMPLAN_E_COUNTRY && in.why != NUMPLAN_E_SYNTAX);
    }
    /* NANP: at least the US and Canada in full. */
    assert_true(na >= 400);
}

static config_t *
load(const char *dir, const char *text, const char *extra_name, const char *extra)
{
    char path[512];
    static config_t cfg;

    if (extra_name) {
        snprintf(path, sizeof(path), "%s/%s", dir, extra_name);
        FILE *f = fopen(path, "w");
        fputs(extra, f);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    config_init(&cfg);
    if (!config_read_file(&cfg, path))
        fail_msg("parse: %s:%d %s", config_error_file(&cfg), config_error_line(&cfg),
                 config_error_text(&cfg));
    return &cfg;
}

static void
test_config_group(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), text[1024];
    struct cfg_errs errs = { 0 };
    struct numplan *np = numplan_new();

    snprintf(text, sizeof(text),
             "numbering = {\n"
             "  no_sms = ( { prefix = \"+4420\"; kind = \"landline\"; },\n"
             "             { prefix = \"4456\"; kind = \"voip\"; } );\n"
             "  ranges_file = \"%s/ranges.txt\";\n"
             "};\n", dir);
    config_t *c = load(dir, text, "ranges.txt",
                       "# UK premium\n1900 no_sms\n+3319 landline  # trailing comment\n\n");
    numplan_config(np, config_lookup(c, "numbering"), &errs);
    cfg_errs_print(&errs, stderr);
    assert_int_equal(errs.n, 0);
    assert_int_equal(numplan_range_count(np), 4);
    assert_int_equal(look(np, "+19005550100").kind, NUMPLAN_NO_SMS);
    assert_int_equal(look(np, "+33191234567").kind, NUMPLAN_LANDLINE);
    config_destroy(c);
    numplan_free(np);

    /* Every problem, each at its file:line. */
    np = numplan_new();
    snprintf(text, sizeof(text),
             "numbering = {\n"
             "  no_sms = ( { prefix = \"44x\"; kind = \"landline\"; },\n"
             "             { prefix = \"4456\"; kind = \"fax\"; },\n"
             "             { kind = \"voip\"; sms = 1; } );\n"
             "  ranges_file = \"%s/bad.txt\";\n"
             "  colour = 3;\n"
             "};\n", dir);
    c = load(dir, text, "bad.txt", "4420 landline\n44ab voip\n4421\n4422 pager\n");
    numplan_config(np, config_lookup(c, "numbering"), &errs);
    cfg_errs_print(&errs, stderr);
    char want[600];
    assert_true(cfg_errs_has(&errs, "t.conf:2: numbering.no_sms #1: prefix must be"));
    assert_true(cfg_errs_has(&errs, "t.conf:3: numbering.no_sms #2: kind must be one of"));
    assert_true(cfg_errs_has(&errs, "t.conf:4: numbering.no_sms #3: missing required setting \"prefix\""));
    assert_true(cfg_errs_has(&errs, "t.conf:4: numbering.no_sms #3: unknown setting \"sms\""));
    assert_true(cfg_errs_has(&errs, "t.conf:6: numbering: unknown setting \"colour\""));
    snprintf(want, sizeof(want), "%s/bad.txt:2: prefix must be", dir);
    assert_true(cfg_errs_has(&errs, want));
    snprintf(want, sizeof(want), "%s/bad.txt:3: expected", dir);
    assert_true(cfg_errs_has(&errs, want));
    snprintf(want, sizeof(want), "%s/bad.txt:4: kind must be", dir);
    assert_true(cfg_errs_has(&errs, want));
    assert_int_equal(errs.n, 8);
    assert_int_equal(numplan_range_count(np), 1);     /* the good line still counts */
    cfg_errs_free(&errs);
    config_destroy(c);

    /* A missing ranges file. */
    c = load(dir, "numbering = { ranges_file = \"/nonexistent/x\"; };\n", NULL, NULL);
    numplan_config(np, config_lookup(c, "numbering"), &errs);
    assert_true(cfg_errs_has(&errs, "t.conf:1: numbering: ranges_file \"/nonexistent/x\": No such file"));
    cfg_errs_free(&errs);
    config_destroy(c);
    numplan_free(np);
    tl_cleanup_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_numbers_by_country),
        cmocka_unit_test(test_invalid_numbers),
        cmocka_unit_test(test_boundary_lengths),
        cmocka_unit_test(test_configured_ranges_longest_wins),
        cmocka_unit_test(test_tables_sorted_and_zones_exist),
        cmocka_unit_test(test_config_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
