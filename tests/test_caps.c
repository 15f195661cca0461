/*
 * store/store_caps against a real redis-server: the cap holds, periods roll
 * over, refunds give units back, and two takes racing for the last unit
 * cannot both win (one script, pipelined on one connection here; the
 * script is what makes it atomic across instances too).
 *
 * Times are injected and lie in the future (2030): keys expire a day after
 * their period, and EXPIREAT in the past would delete them at once.
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

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/config.h"
#include "store/store_caps.h"
#include "store/store_redis.h"
#include "tests/testlib.h"

struct fx {
    struct tl_redis rs;
    struct event_base *base;
    struct store_redis *r;
    struct cfg_redis cfg;
    redisContext *sync;
};

#define MAXRES 16
static struct store_caps_result results[MAXRES];
static int nres;

static void
collect(const struct store_caps_result *res, void *arg)
{
    (void)arg;
    if (nres < MAXRES)
        results[nres++] = *res;
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    return timegm(&tm);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    tl_redis_start(&f->rs);
    f->base = event_base_new();
    f->cfg = (struct cfg_redis){ .host = "127.0.0.1", .port = f->rs.port, .prefix = "t:",
                                 .timeout_ms = 2000 };
    f->r = store_redis_new(f->base, &f->cfg, "caps");
    TL_RUN_UNTIL(f->base, store_redis_ready(f->r), 5000);
    assert_true(store_redis_ready(f->r));
    f->sync = redisConnect("127.0.0.1", f->rs.port);
    assert_non_null(f->sync);
    nres = 0;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    redisFree(f->sync);
    store_redis_free(f->r);
    event_base_free(f->base);
    if (f->rs.pid)     /* test_redis_down stopped it already */
        tl_redis_stop(&f->rs);
    free(f);
    return 0;
}

static void
wait_results(struct fx *f, int n)
{
    TL_RUN_UNTIL(f->base, nres >= n, 5000);
    assert_int_equal(nres, n);
}

static void
test_monthly_cap_holds_and_rolls_over(void **state)
{
    struct fx *f = *state;
    time_t nov = utc(2030, 11, 27, 15, 0, 0);
    const char *sub = "+14155550100";

    for (int i = 0; i < 4; i++)
        assert_int_equal(store_caps_take(f->r, "acme", sub, STORE_CAPS_MONTH, 3, 1, nov, collect,
                                         NULL), 0);
    wait_results(f, 4);
    for (int i = 0; i < 3; i++) {
        assert_true(results[i].ok);
        assert_true(results[i].allowed);
        assert_int_equal(results[i].count, i + 1);
        assert_int_equal(results[i].resets_at, utc(2030, 12, 1, 0, 0, 0));
    }
    assert_true(results[3].ok);
    assert_false(results[3].allowed);
    assert_int_equal(results[3].count, 3);

    /* In Redis: the key, its value, its expiry a day after the month. */
    redisReply *rep = redisCommand(f->sync, "GET t:cap:acme:+14155550100:m203011");
    assert_string_equal(rep->str, "3");
    freeReplyObject(rep);
    rep = redisCommand(f->sync, "EXPIRETIME t:cap:acme:+14155550100:m203011");
    assert_int_equal(rep->integer, utc(2030, 12, 2, 0, 0, 0));
    freeReplyObject(rep);

    /* Another subscriber, another account: their own counters. */
    nres = 0;
    store_caps_take(f->r, "acme", "+14155550101", STORE_CAPS_MONTH, 3, 1, nov, collect, NULL);
    store_caps_take(f->r, "beta", sub, STORE_CAPS_MONTH, 3, 1, nov, collect, NULL);
    /* December: a new period. Dec 31 23:59:59 still December. */
    store_caps_take(f->r, "acme", sub, STORE_CAPS_MONTH, 3, 1, utc(2030, 12, 31, 23, 59, 59),
                    collect, NULL);
    wait_results(f, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(results[i].allowed);
        assert_int_equal(results[i].count, 1);
    }
    assert_int_equal(results[2].resets_at, utc(2031, 1, 1, 0, 0, 0));
}

static void
test_multi_unit_take_is_all_or_nothing_and_refund(void **state)
{
    struct fx *f = *state;
    time_t t = utc(2030, 2, 28, 23, 0, 0);
    const char *sub = "+447700900123";

    store_caps_take(f->r, "acme", sub, STORE_CAPS_DAY, 3, 2, t, collect, NULL);
    store_caps_take(f->r, "acme", sub, STORE_CAPS_DAY, 3, 2, t, collect, NULL);  /* 4 > 3 */
    store_caps_refund(f->r, "acme", sub, STORE_CAPS_DAY, 1, t, collect, NULL);
    store_caps_take(f->r, "acme", sub, STORE_CAPS_DAY, 3, 2, t, collect, NULL);  /* 1+2 = 3 */
    store_caps_refund(f->r, "acme", sub, STORE_CAPS_DAY, 10, t, collect, NULL);  /* floor 0 */
    store_caps_refund(f->r, "acme", "+447700900999", STORE_CAPS_DAY, 1, t, collect, NULL);
    wait_results(f, 6);
    assert_true(results[0].allowed);
    assert_int_equal(results[0].count, 2);
    assert_false(results[1].allowed);
    assert_int_equal(results[1].count, 2);
    assert_int_equal(results[2].count, 1);
    assert_true(results[3].allowed);
    assert_int_equal(results[3].count, 3);
    assert_int_equal(results[4].count, 0);
    assert_int_equal(results[5].count, 0);   /* nothing to refund: stays 0, no key made */
    assert_int_equal(results[0].resets_at, utc(2030, 3, 1, 0, 0, 0));
    redisReply *rep = redisCommand(f->sync, "EXISTS t:cap:acme:+447700900999:d20300228");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
}

static void
test_racing_takes_for_last_unit(void **state)
{
    struct fx *f = *state;
    time_t t = utc(2030, 5, 5, 5, 5, 5);

    /* Ten takes in flight at once for a cap of 1: exactly one wins. */
    for (int i = 0; i < 10; i++)
        store_caps_take(f->r, "acme", "+33612345678", STORE_CAPS_MONTH, 1, 1, t, collect, NULL);
    wait_results(f, 10);
    int won = 0;
    for (int i = 0; i < 10; i++)
        won += results[i].allowed;
    assert_int_equal(won, 1);
}

static void
test_redis_down(void **state)
{
    struct fx *f = *state;

    /* A script error (wrong type at the key) is reported as not ok. */
    redisReply *rep = redisCommand(f->sync, "HSET t:cap:acme:+15005550006:m202605 a b");
    freeReplyObject(rep);
    store_caps_take(f->r, "acme", "+15005550006", STORE_CAPS_MONTH, 5, 1,
                    utc(2026, 5, 1, 0, 0, 0), collect, NULL);
    wait_results(f, 1);
    assert_false(results[0].ok);
    assert_false(results[0].allowed);

    tl_redis_stop(&f->rs);
    TL_RUN_UNTIL(f->base, !store_redis_ready(f->r), 5000);
    assert_int_equal(store_caps_take(f->r, "acme", "+15005550006", STORE_CAPS_MONTH, 5, 1,
                                     utc(2026, 5, 1, 0, 0, 0), collect, NULL), -1);
}

static void
test_keys_and_periods(void **state)
{
    (void)state;
    char k[128];

    store_caps_key(k, sizeof(k), "smsgw:", "acme", "+14155550100", STORE_CAPS_MONTH,
                   utc(2026, 1, 31, 23, 59, 59));
    assert_string_equal(k, "smsgw:cap:acme:+14155550100:m202601");
    store_caps_key(k, sizeof(k), "", "acme", "+14155550100", STORE_CAPS_DAY,
                   utc(2024, 2, 29, 0, 0, 0));
    assert_string_equal(k, "cap:acme:+14155550100:d20240229");
    assert_int_equal(store_caps_period_end(STORE_CAPS_MONTH, utc(2026, 12, 15, 0, 0, 0)),
                     utc(2027, 1, 1, 0, 0, 0));
    assert_int_equal(store_caps_period_end(STORE_CAPS_DAY, utc(2024, 2, 28, 12, 0, 0)),
                     utc(2024, 2, 29, 0, 0, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_monthly_cap_holds_and_rolls_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_unit_take_is_all_or_nothing_and_refund, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_racing_takes_for_last_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down, setup, teardown),
        cmocka_unit_test(test_keys_and_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
