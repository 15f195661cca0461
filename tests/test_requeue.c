/*
 * smsgwctl requeue --cause: the failed index and the bulk requeue, end to
 * end over loopback with a real redis-server and the ASan builds of
 * smsc-sim, smsgwd and smsgwctl.
 *
 *   by_cause     smsc-sim refuses submits with ESME_RINVDSTADR (0x0B), then
 *                gives UNDELIV receipts, then is fixed: a dry run lists
 *                exactly the messages of the cause and time range asked;
 *                the real run requeues them and they are delivered; older
 *                ones and the other cause's stay as they were; a second
 *                run finds nothing; a message requeued by id is not
 *                queued twice by a later run
 *   stale        a failed record gone from Redis is skipped and its index
 *                entry dropped by a real run (kept by a dry run); one whose
 *                sender left the config is listed as skipped, and stays
 *   bad_args     usage errors exit 2, causes and filters the daemon cannot
 *                match exit 1, each with a message that says what to fix
 *   scan_pages   store_failed_scan alone: small pages over entries sharing
 *                one score see every match once, also when matches are
 *                removed between pages (as requeue does); the time range
 *                and the SMSC filter
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
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/config.h"
#include "store/store_failed.h"
#include "store/store_redis.h"
#include "tests/gwfix.h"

#define KEY GWFIX_KEY

/* sender: the one sender's address ("12345" in most tests). */
static void
write_config_sender(struct gwfix *g, const char *sender)
{
    char hash[65];
    config_sha256_hex(KEY, hash);
    gwfix_write_conf(g,
            "instance = \"rq-1\";\n"
            "log_level = \"info\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"r:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "admin = { socket = \"%s\"; };\n"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\"; "
            "password = \"secret\"; reconnect_min_ms = 100; reconnect_max_ms = 300; } );\n"
            "senders = ( { address = \"%s\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( { name = \"default\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"\"]; } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; } );\n",
            g->redis.port, g->http_port, g->sock, g->sim[0].port, sender, hash);
}

static void
write_config(struct gwfix *g)
{
    write_config_sender(g, "12345");
}

static char *
post_to(struct gwfix *g, const char *to)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"%s\",\"text\":\"requeue test\"}",
             to);
    return gwfix_post_ok(g, json);
}

static void
wait_state(struct gwfix *g, const char *id, const char *want)
{
    free(gwfix_wait_state(g, id, want, 10000));
}

/* A command's output and exit status must be want and contain text. */
static void
ctl_expect(struct gwfix *g, int want, const char *text, const char *args)
{
    char *out = NULL;
    int rc = gwfix_ctl(g, &out, "%s", args);
    if (rc != want || !strstr(out, text))
        fail_msg("smsgwctl %s -> %d (want %d) output: %s (want \"%s\")", args, rc, want, out,
                 text);
    free(out);
}

static int
redis_int(struct gwfix *g, const char *args)
{
    char cmd[512], line[64] = "";
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s", g->redis.port, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(line, sizeof(line), p))
        line[0] = 0;
    pclose(p);
    return atoi(line);
}

/* Count of the lines of out that contain s. */
static int
count(const char *out, const char *s)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

/* ------------------------------------------------------------------ tests */

static void
test_requeue_by_cause(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, *old[2], *cur[3], *other;

    write_config(g);
    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);

    /* older failures, then a time mark, then the ones to requeue */
    old[0] = post_to(g, "+14155550100");
    old[1] = post_to(g, "+14155550101");
    for (int i = 0; i < 2; i++)
        wait_state(g, old[i], "rejected");
    /* mark is at least 1.1 s after the older ones failed and 2 s before
     * the newer ones, so that an age in whole seconds (below) falls between
     * them even when smsgwctl starts slowly */
    tl_sleep_ms(2100);
    time_t mark = time(NULL);
    tl_sleep_ms(2000);
    for (int i = 0; i < 3; i++) {
        char to[32];
        snprintf(to, sizeof(to), "+1415555020%d", i);
        cur[i] = post_to(g, to);
    }
    for (int i = 0; i < 3; i++)
        wait_state(g, cur[i], "rejected");
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 5);

    /* another cause: the carrier takes it and reports it undeliverable */
    gwfix_stop_sim(g, 0);
    gwfix_start_sim(g, 0, "--dlr-mix", "UNDELIV=100", NULL);
    gwfix_wait_sim_binds(g, 0, 1);
    other = post_to(g, "+14155550300");
    wait_state(g, other, "undelivered");
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 6);

    /* the carrier is fixed */
    gwfix_stop_sim(g, 0);
    gwfix_start_sim(g, 0, NULL);
    gwfix_wait_sim_binds(g, 0, 1);

    /* dry run, since as ISO-8601: exactly the three after the mark */
    char iso[32];
    struct tm tm;
    gmtime_r(&mark, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    GWFIX_CTL_OK(g, &out, "requeue --cause 0x0000000b --since %s --dry-run", iso);
    for (int i = 0; i < 3; i++)
        assert_non_null(strstr(out, cur[i]));
    for (int i = 0; i < 2; i++)
        assert_null(strstr(out, old[i]));
    assert_null(strstr(out, other));
    assert_int_equal(count(out, "would requeue"), 3);
    assert_non_null(strstr(out, "ESME_RINVDSTADR"));
    assert_non_null(strstr(out, "matched 3 requeued 0 skipped 0 (dry run"));
    free(out);
    /* ... and nothing moved */
    for (int i = 0; i < 3; i++)
        assert_string_equal(gwfix_msg_state(g, cur[i]), "rejected");
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 6);

    /* the same by name, an age for since (now - age is in [mark - 1, mark)),
     * as JSON */
    GWFIX_CTL_OK(g, &out, "--json requeue --cause esme_rinvdstadr --since %lds --dry-run",
           (long)(time(NULL) - mark + 1));
    assert_int_equal(tl_jnum(out, "matched"), 3);
    assert_int_equal(tl_jnum(out, "requeued"), 0);
    assert_non_null(strstr(out, "\"dry_run\":true"));
    free(out);

    /* the receipt cause, by stat and by err; the SMSC filter */
    GWFIX_CTL_OK(g, &out, "requeue --cause UNDELIV --dry-run");
    assert_non_null(strstr(out, other));
    assert_non_null(strstr(out, "matched 1 "));
    free(out);
    GWFIX_CTL_OK(g, &out, "requeue --cause 1 --dry-run");
    assert_non_null(strstr(out, other));
    assert_non_null(strstr(out, "matched 1 "));
    free(out);
    GWFIX_CTL_OK(g, &out, "requeue --cause '*' --smsc sim --route default --dry-run --limit 4");
    assert_non_null(strstr(out, "matched 4 "));
    assert_non_null(strstr(out, "limit was reached"));
    free(out);

    /* the real run: the three go back and are delivered */
    GWFIX_CTL_OK(g, &out, "requeue --cause 0x0B --since %ld", (long)mark);
    assert_non_null(strstr(out, "matched 3 requeued 3 skipped 0"));
    free(out);
    for (int i = 0; i < 3; i++)
        wait_state(g, cur[i], "delivered");
    for (int i = 0; i < 2; i++)
        assert_string_equal(gwfix_msg_state(g, old[i]), "rejected");
    assert_string_equal(gwfix_msg_state(g, other), "undelivered");
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 3);

    /* again: nothing left of that cause and range */
    GWFIX_CTL_OK(g, &out, "--json requeue --cause 0x0B --since %ld", (long)mark);
    assert_int_equal(tl_jnum(out, "matched"), 0);
    free(out);

    /* one of the older requeued by id first: the bulk run does not queue
     * it a second time (and a requeue by id of a queued one is refused) */
    GWFIX_CTL_OK(g, &out, "requeue %s", old[0]);
    free(out);
    char args[128];
    snprintf(args, sizeof(args), "requeue %s", old[0]);
    ctl_expect(g, 1, "only failed", args);
    GWFIX_CTL_OK(g, &out, "requeue --cause ESME_RINVDSTADR");
    assert_non_null(strstr(out, "matched 1 requeued 1 skipped 0"));
    free(out);
    for (int i = 0; i < 2; i++)
        wait_state(g, old[i], "delivered");
    assert_string_equal(gwfix_msg_state(g, other), "undelivered");
    assert_int_equal(gwfix_sim_stat(g, 0, "accepted"), 5);   /* 3 + 2, none twice */

    for (int i = 0; i < 3; i++)
        free(cur[i]);
    free(old[0]);
    free(old[1]);
    free(other);
    gwfix_stop_gw_clean(g);
}

static void
test_requeue_stale(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, *gone, *kept, cmd[128];

    write_config(g);
    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);
    gone = post_to(g, "+14155550400");
    kept = post_to(g, "+14155550401");
    wait_state(g, gone, "rejected");
    wait_state(g, kept, "rejected");
    snprintf(cmd, sizeof(cmd), "DEL r:msg:%s", gone);
    assert_int_equal(redis_int(g, cmd), 1);

    /* a dry run neither lists nor drops it */
    GWFIX_CTL_OK(g, &out, "requeue --cause rejected --dry-run");
    assert_null(strstr(out, gone));
    assert_non_null(strstr(out, kept));
    assert_non_null(strstr(out, "matched 1 "));
    free(out);
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 2);

    /* still refused by the carrier: requeued, rejected again, and back in
     * the index; the entry of the record gone is dropped */
    GWFIX_CTL_OK(g, &out, "requeue --cause rejected");
    assert_non_null(strstr(out, "matched 1 requeued 1 skipped 0"));
    free(out);
    for (int i = 0; i < 200 && redis_int(g, "ZCARD r:failed:default") != 1; i++)
        tl_sleep_ms(50);
    wait_state(g, kept, "rejected");
    assert_int_equal(redis_int(g, "ZCARD r:failed:default"), 1);
    snprintf(cmd, sizeof(cmd), "ZSCORE r:failed:default %s", kept);
    assert_true(redis_int(g, cmd) > 0);

    /* its sender gone from the config: listed as skipped, and left as it is */
    write_config_sender(g, "54321");
    GWFIX_CTL_OK(g, &out, "reload");
    free(out);
    GWFIX_CTL_OK(g, &out, "requeue --cause '*' --dry-run");
    assert_non_null(strstr(out, kept));
    assert_non_null(strstr(out, "skipped: its sender 12345 is no longer in the config"));
    assert_non_null(strstr(out, "matched 1 requeued 0 skipped 1"));
    free(out);
    GWFIX_CTL_OK(g, &out, "requeue --cause '*'");
    assert_non_null(strstr(out, "its sender 12345 is no longer in the config"));
    assert_non_null(strstr(out, "matched 1 requeued 0 skipped 1"));
    free(out);
    assert_string_equal(gwfix_msg_state(g, kept), "rejected");
    free(gone);
    free(kept);
    gwfix_stop_gw_clean(g);
}

static void
test_requeue_bad_args(void **state)
{
    struct gwfix *g = *state;

    write_config(g);
    gwfix_start_sim(g, 0, NULL);
    gwfix_start_gw(g);

    /* smsgwctl's own checks: exit 2 */
    ctl_expect(g, 2, "needs a message id or --cause", "requeue");
    ctl_expect(g, 2, "--cause needs a value", "requeue --cause");
    ctl_expect(g, 2, "is empty", "requeue --cause ''");
    ctl_expect(g, 2, "not both", "requeue m0123 --cause UNDELIV");
    ctl_expect(g, 2, "not both", "requeue m0123 --dry-run");
    ctl_expect(g, 2, "one message id", "requeue m0123 m0456");
    ctl_expect(g, 2, "unknown option --bogus", "requeue --cause UNDELIV --bogus");
    ctl_expect(g, 2, "--since \"yesterday\" is not a time",
               "requeue --cause UNDELIV --since yesterday");
    ctl_expect(g, 2, "is not a time", "requeue --cause UNDELIV --until 2026-02-31T00:00:00Z");
    ctl_expect(g, 2, "is not a time", "requeue --cause UNDELIV --since 2026-11-27T25:00");
    ctl_expect(g, 2, "is not a time", "requeue --cause UNDELIV --since 5y");
    ctl_expect(g, 2, "--since is after --until", "requeue --cause UNDELIV --since 1h --until 2h");
    ctl_expect(g, 2, "--limit must be 1..1000000", "requeue --cause UNDELIV --limit 0");
    ctl_expect(g, 2, "--limit must be 1..1000000", "requeue --cause UNDELIV --limit 12x");

    /* what only the daemon knows: exit 1 */
    ctl_expect(g, 1, "not an SMPP status name", "requeue --cause ESME_RBOGUS");
    ctl_expect(g, 1, "not an SMPP command_status", "requeue --cause 0xZZ");
    ctl_expect(g, 1, "not an SMPP command_status", "requeue --cause 0x123456789");
    ctl_expect(g, 1, "not a failure the index keeps", "requeue --cause DELIVRD");
    ctl_expect(g, 1, "no route \"nosuch\"", "requeue --cause UNDELIV --route nosuch");
    ctl_expect(g, 1, "no SMSC \"nosuch\"", "requeue --cause UNDELIV --smsc nosuch");

    /* the good forms are taken: ISO with an offset, unix seconds, ages */
    ctl_expect(g, 0, "matched 0 requeued 0 skipped 0",
               "requeue --cause UNDELIV --since 2026-01-01T00:00:00+01:00 --until 4102444800");
    ctl_expect(g, 0, "matched 0", "requeue --cause=UNDELIV --since=1w --until=2026-12-31");
    ctl_expect(g, 0, "\"matched\":0", "requeue --cause '*' --since 90m --json");
    gwfix_stop_gw_clean(g);
}

/* ------------------------------------------------ store_failed_scan */

struct scan_fx {
    struct tl_redis srv;
    redisContext *c;
    struct event_base *base;
    struct store_redis *r;
};

static void
scmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

struct page {
    bool got, done;
    int n;
    char ids[64][40];
};

static void
page_cb(void *arg, int n, const struct store_failed_match *m, bool done)
{
    struct page *p = arg;
    p->got = true;
    p->done = done;
    p->n = n;
    for (int i = 0; i < n && i < 64; i++)
        snprintf(p->ids[i], sizeof(p->ids[i]), "%s", m[i].id);
}

/* Walk the whole range in pages; seen[k] counts id k. With remove, each
 * page's matches leave the index before the next page. Returns matches. */
static int
walk(struct scan_fx *f, const struct store_failed_filter *flt, bool remove, int *seen)
{
    struct store_failed_cursor cur = { "", "" };
    int total = 0;
    for (int guard = 0; guard < 1000; guard++) {
        struct page p = { 0 };
        store_failed_scan(f->r, "rt", flt, &cur, 7, 5, page_cb, &p);
        TL_RUN_UNTIL(f->base, p.got, 5000);
        assert_true(p.got);
        assert_true(p.n >= 0 && p.n <= 5);
        for (int i = 0; i < p.n; i++) {
            seen[atoi(p.ids[i] + 1)]++;
            if (remove)
                scmd(f->c, "ZREM s:failed:rt %s", p.ids[i]);
        }
        total += p.n;
        if (p.done)
            return total;
    }
    fail_msg("the scan never ended");
    return -1;
}

static void
test_scan_pages(void **state)
{
    (void)state;
    struct scan_fx fx = { 0 }, *f = &fx;
    tl_redis_start(&f->srv);
    f->c = redisConnect("127.0.0.1", f->srv.port);
    assert_non_null(f->c);
    assert_int_equal(f->c->err, 0);
    f->base = event_base_new();
    struct cfg_redis cfg = { .host = (char *)"127.0.0.1", .port = f->srv.port,
                             .prefix = (char *)"s:", .timeout_ms = 2000 };
    f->r = store_redis_new(f->base, &cfg, "test");
    TL_RUN_UNTIL(f->base, store_redis_ready(f->r), 5000);
    assert_true(store_redis_ready(f->r));

    /* 200 entries, the first 120 at one score: even ids refused 0x0B (no
     * smsc), odd ones undelivered by receipt on smsc "b"; every 10th
     * record is gone */
    enum { N = 200 };
    for (int k = 0; k < N; k++) {
        char id[16];
        snprintf(id, sizeof(id), "m%03d", k);
        long long score = k < 120 ? 1000 : 1000 + k;
        scmd(f->c, "ZADD s:failed:rt %lld %s", score, id);
        if (k % 10 == 9)
            continue;
        if (k % 2 == 0)
            scmd(f->c, "HSET s:msg:%s state rejected error ESME_RINVDSTADR from 12345", id);
        else
            scmd(f->c, "HSET s:msg:%s state undelivered error 001 smsc b from 12345", id);
    }
    int seen[N];
    struct store_failed_filter flt = { .mode = 'e', .cause = "esme_rinvdstadr", .since_ms = 0,
                                       .until_ms = 1000000, .dry_run = true };

    /* dry run: each even id once, the index untouched */
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &flt, false, seen), 100);
    for (int k = 0; k < N; k++)
        assert_int_equal(seen[k], k % 2 == 0 ? 1 : 0);
    redisReply *rep = redisCommand(f->c, "ZCARD s:failed:rt");
    assert_int_equal(rep->integer, N);
    freeReplyObject(rep);

    /* the time range: only the entries scored 1150..1199 */
    memset(seen, 0, sizeof(seen));
    flt.since_ms = 1150;
    assert_int_equal(walk(f, &flt, false, seen), 25);
    for (int k = 0; k < N; k++)
        assert_int_equal(seen[k], k >= 150 && k % 2 == 0 ? 1 : 0);
    flt.since_ms = 0;

    /* the SMSC: odd ones name b; the even ones have none and match only
     * when the route uses b */
    struct store_failed_filter any = { .mode = 'a', .smsc = "b", .until_ms = 1000000,
                                       .dry_run = true };
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &any, false, seen), 80);     /* odd, less every 10th */
    any.smsc_on_route = true;
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &any, false, seen), 180);
    any.smsc = "c";
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &any, false, seen), 100);    /* the even ones */

    /* receipt err by number */
    struct store_failed_filter num = { .mode = 'n', .cause = "1", .until_ms = 1000000,
                                       .dry_run = true };
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &num, false, seen), 80);

    /* a real walk removing each page's matches: none missed; the stale
     * entries (records gone) are dropped too */
    flt.dry_run = false;
    memset(seen, 0, sizeof(seen));
    assert_int_equal(walk(f, &flt, true, seen), 100);
    for (int k = 0; k < N; k++)
        assert_int_equal(seen[k], k % 2 == 0 ? 1 : 0);
    rep = redisCommand(f->c, "ZCARD s:failed:rt");
    assert_int_equal(rep->integer, 80);                   /* the odd ones with a record */
    freeReplyObject(rep);

    store_redis_free(f->r);
    event_base_free(f->base);
    redisFree(f->c);
    tl_redis_stop(&f->srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requeue_by_cause, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_stale, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_bad_args, gwfix_setup, gwfix_teardown),
        cmocka_unit_test(test_scan_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
