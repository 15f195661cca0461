/*
 * Error-rate failover (issue 5, routing):
 *
 *   - router/router_health on a virtual clock: the sliding window,
 *     min_samples, the threshold, which statuses count, suspension, the
 *     cooldown, the probe (success, failure and doubled cooldown, a probe
 *     slot given back), the switch that turns it off;
 *   - the error_rate settings: defaults, and errors at file:line;
 *   - end to end, a real redis-server, two smsc-sim and smsgwd: one SMSC of
 *     a route starts failing every submit (smsc-sim's control command
 *     `reject`), is taken out, its messages go on through the other with no
 *     message lost or sent twice, a probe fails while it is still broken,
 *     and once it is healed a probe brings it back;
 *   - when every SMSC of the route is suspended, the route keeps sending on
 *     the least bad one instead of holding its traffic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "router/router_health.h"
#include "smpp/smpp_pdu.h"
#include "tests/gwfix.h"

/* ------------------------------------------------------------ router_health */

static const struct router_health_cfg hcfg = {
    .enabled = true, .threshold = 0.5, .window_ms = 30000, .min_samples = 20,
    .cooldown_ms = 30000, .cooldown_max_ms = 100000, .probes = 1,
};

static void
test_classify(void **state)
{
    (void)state;
    assert_int_equal(router_health_classify(ESME_ROK), ROUTER_HEALTH_OK);
    /* throttling: the pacer's business */
    assert_int_equal(router_health_classify(ESME_RTHROTTLED), ROUTER_HEALTH_NEUTRAL);
    assert_int_equal(router_health_classify(ESME_RMSGQFUL), ROUTER_HEALTH_NEUTRAL);
    /* the message's own fault */
    assert_int_equal(router_health_classify(ESME_RINVDSTADR), ROUTER_HEALTH_NEUTRAL);
    assert_int_equal(router_health_classify(ESME_RINVSRCADR), ROUTER_HEALTH_NEUTRAL);
    assert_int_equal(router_health_classify(ESME_RINVDSTTON), ROUTER_HEALTH_NEUTRAL);
    assert_int_equal(router_health_classify(ESME_RINVMSGLEN), ROUTER_HEALTH_NEUTRAL);
    assert_int_equal(router_health_classify(ESME_RINVOPTPARAMVAL), ROUTER_HEALTH_NEUTRAL);
    /* the SMSC's */
    assert_int_equal(router_health_classify(ESME_RSYSERR), ROUTER_HEALTH_ERROR);
    assert_int_equal(router_health_classify(ESME_RSUBMITFAIL), ROUTER_HEALTH_ERROR);
    assert_int_equal(router_health_classify(ESME_RX_T_APPN), ROUTER_HEALTH_ERROR);
    assert_int_equal(router_health_classify(ESME_RUNKNOWNERR), ROUTER_HEALTH_ERROR);
    assert_int_equal(router_health_classify(0x400), ROUTER_HEALTH_ERROR);
}

static void
test_window_threshold(void **state)
{
    (void)state;
    struct router_health *h = router_health_new(&hcfg);
    struct router_health_view v;
    uint64_t t = 1000000;

    /* 19 errors: under min_samples, stays in */
    for (int i = 0; i < 19; i++)
        assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_ACTIVE);
    /* throttles and the message's faults do not count at all */
    for (int i = 0; i < 50; i++)
        router_health_record(h, t, ROUTER_HEALTH_NEUTRAL, 0);
    router_health_view(h, t, &v);
    assert_int_equal(v.samples, 19);
    assert_int_equal(v.errors, 19);
    /* 31 s later those 19 have left the window: 19 more are not enough */
    t += 31000;
    for (int i = 0; i < 19; i++)
        assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_NONE);
    router_health_view(h, t, &v);
    assert_int_equal(v.samples, 19);
    /* successes keep the rate under the threshold */
    for (int i = 0; i < 21; i++)
        assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_OK, 0), ROUTER_HEALTH_NONE);
    router_health_view(h, t, &v);
    assert_int_equal(v.samples, 40);
    assert_true(v.error_rate < 0.5);
    /* 19 + 1 errors of 41: still under; 21 of 42 = 0.5: out */
    assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_NONE);
    assert_true(router_health_may_take(h));
    assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_SUSPEND);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_SUSPENDED);
    assert_false(router_health_may_take(h));
    router_health_view(h, t, &v);
    assert_true(v.rate_at_suspend >= 0.5 && v.rate_at_suspend < 0.51);
    assert_int_equal(v.suspensions, 1);
    assert_int_equal(v.samples, 0);         /* the window starts afresh */
    assert_int_equal(v.probe_at, t + 30000);
    router_health_free(h);
}

static void
test_probe_cycle(void **state)
{
    (void)state;
    struct router_health *h = router_health_new(&hcfg);
    struct router_health_view v;
    uint64_t t = 5000;

    for (int i = 0; i < 20; i++)
        router_health_record(h, t, ROUTER_HEALTH_ERROR, 0);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_SUSPENDED);
    /* late resps of what was on the wire say nothing now */
    for (int i = 0; i < 30; i++)
        assert_int_equal(router_health_record(h, t + 10, ROUTER_HEALTH_OK, 0), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_SUSPENDED);
    /* cooldown */
    assert_int_equal(router_health_tick(h, t + 29999), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_tick(h, t + 30000), ROUTER_HEALTH_PROBE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_PROBING);
    assert_true(router_health_may_take(h));
    unsigned g1 = router_health_probe_start(h);
    assert_true(g1 != 0);
    assert_false(router_health_may_take(h));    /* exactly one probe */
    /* an ordinary message's outcome does not end the probe */
    assert_int_equal(router_health_record(h, t + 30001, ROUTER_HEALTH_OK, 0), ROUTER_HEALTH_NONE);
    assert_false(router_health_may_take(h));
    /* the probe was moved elsewhere: the slot is free again */
    router_health_probe_abandon(h, g1);
    assert_true(router_health_may_take(h));
    unsigned g2 = router_health_probe_start(h);
    /* throttled probe: no verdict, slot free */
    assert_int_equal(router_health_record(h, t + 30002, ROUTER_HEALTH_NEUTRAL, g2), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_PROBING);
    assert_true(router_health_may_take(h));
    /* failing probe: suspended again, cooldown doubled */
    unsigned g3 = router_health_probe_start(h);
    t += 30003;
    assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, g3), ROUTER_HEALTH_PROBE_FAILED);
    router_health_view(h, t, &v);
    assert_int_equal(v.state, ROUTER_HEALTH_SUSPENDED);
    assert_int_equal(v.cooldown_ms, 60000);
    assert_int_equal(v.probe_at, t + 60000);
    /* a stale probe generation means nothing in the next probing period */
    assert_int_equal(router_health_tick(h, t + 60000), ROUTER_HEALTH_PROBE);
    assert_int_equal(router_health_record(h, t + 60000, ROUTER_HEALTH_OK, g3), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_PROBING);
    /* fails again: capped at cooldown_max */
    t += 60000;
    unsigned g4 = router_health_probe_start(h);
    assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_ERROR, g4), ROUTER_HEALTH_PROBE_FAILED);
    router_health_view(h, t, &v);
    assert_int_equal(v.cooldown_ms, 100000);
    /* the next probe succeeds: back, with the base cooldown */
    t += 100000;
    assert_int_equal(router_health_tick(h, t), ROUTER_HEALTH_PROBE);
    unsigned g5 = router_health_probe_start(h);
    assert_int_equal(router_health_record(h, t, ROUTER_HEALTH_OK, g5), ROUTER_HEALTH_RESUME);
    router_health_view(h, t, &v);
    assert_int_equal(v.state, ROUTER_HEALTH_ACTIVE);
    assert_int_equal(v.cooldown_ms, 30000);
    assert_int_equal(v.samples, 0);
    assert_int_equal(v.suspensions, 1);     /* failed probes are not new suspensions */
    assert_true(router_health_may_take(h));
    router_health_free(h);
}

static void
test_disabled_and_probes(void **state)
{
    (void)state;
    struct router_health_cfg c = hcfg;
    c.enabled = false;
    struct router_health *h = router_health_new(&c);
    for (int i = 0; i < 100; i++)
        assert_int_equal(router_health_record(h, 1000, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_ACTIVE);
    router_health_free(h);

    c = hcfg;
    c.probes = 2;
    c.min_samples = 1;
    h = router_health_new(&c);
    assert_int_equal(router_health_record(h, 1000, ROUTER_HEALTH_ERROR, 0), ROUTER_HEALTH_SUSPEND);
    assert_int_equal(router_health_tick(h, 31000), ROUTER_HEALTH_PROBE);
    unsigned g = router_health_probe_start(h);
    assert_true(router_health_may_take(h));
    assert_int_equal(router_health_probe_start(h), g);
    assert_false(router_health_may_take(h));
    assert_int_equal(router_health_record(h, 31001, ROUTER_HEALTH_OK, g), ROUTER_HEALTH_RESUME);
    /* the other probe's outcome is an ordinary one now */
    assert_int_equal(router_health_record(h, 31002, ROUTER_HEALTH_OK, g), ROUTER_HEALTH_NONE);
    router_health_free(h);

    /* a reload adopts a probing tracker whose probe is out: the new one
     * may probe at once, and the old probe's outcome means nothing to it */
    c = hcfg;
    c.min_samples = 1;
    struct router_health *old = router_health_new(&c);
    router_health_record(old, 1000, ROUTER_HEALTH_ERROR, 0);
    router_health_tick(old, 31000);
    unsigned og = router_health_probe_start(old);
    assert_false(router_health_may_take(old));
    h = router_health_new(&c);
    router_health_adopt(h, old);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_PROBING);
    assert_true(router_health_may_take(h));
    assert_int_equal(router_health_record(h, 31001, ROUTER_HEALTH_OK, og), ROUTER_HEALTH_NONE);
    assert_int_equal(router_health_state(h), ROUTER_HEALTH_PROBING);
    router_health_free(old);
    router_health_free(h);
}

/* ------------------------------------------------------------ config */

static char *cfgdir;

static int
cfg_load_text(const char *text, struct gw_config **cfg, char *errs, size_t errsz)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/er.conf", cfgdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    FILE *e = fmemopen(errs, errsz, "w");
    assert_non_null(e);
    *cfg = NULL;
    int n = config_load(path, cfg, e);
    fclose(e);
    return n;
}

#define CFG_HEAD \
    "redis = { host = \"127.0.0.1\"; port = 6379; };\n"                                   \
    "http = { listen = \"127.0.0.1\"; port = 8080; };\n"                                  \
    "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"a\"]; } );\n" \
    "routes = ( { name = \"r\"; mps = 10; smsc = [\"s1\", \"s2\"]; } );\n"                \
    "accounts = ( { name = \"a\"; api_keys = [\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]; } );\n"

static void
test_config(void **state)
{
    (void)state;
    char errs[4096] = "";
    struct gw_config *cfg;

    cfgdir = tl_tmpdir();
    int n = cfg_load_text(CFG_HEAD
        "smsc = ( { name = \"s1\"; host = \"h\"; port = 1; system_id = \"x\"; password = \"y\"; },\n"
        "         { name = \"s2\"; host = \"h\"; port = 2; system_id = \"x\"; password = \"y\";\n"
        "           error_rate = { threshold = 0.25; window_s = 60; min_samples = 5;\n"
        "                          cooldown_s = 10; cooldown_max_s = 40; probes = 2; }; } );\n",
        &cfg, errs, sizeof(errs));
    if (n != 0)
        fail_msg("config errors: %s", errs);
    assert_non_null(cfg);
    const struct cfg_error_rate *d = &cfg->smscs[0].error_rate, *x = &cfg->smscs[1].error_rate;
    assert_true(d->enabled);
    assert_true(d->threshold == 0.5);
    assert_int_equal(d->window_s, 30);
    assert_int_equal(d->min_samples, 20);
    assert_int_equal(d->cooldown_s, 30);
    assert_int_equal(d->cooldown_max_s, 300);
    assert_int_equal(d->probes, 1);
    assert_true(x->threshold == 0.25);
    assert_int_equal(x->window_s, 60);
    assert_int_equal(x->min_samples, 5);
    assert_int_equal(x->cooldown_s, 10);
    assert_int_equal(x->cooldown_max_s, 40);
    assert_int_equal(x->probes, 2);
    config_free(cfg);

    /* every error, each at its line (line 6 is the first smsc line) */
    errs[0] = 0;
    n = cfg_load_text(CFG_HEAD
        "smsc = ( { name = \"s1\"; host = \"h\"; port = 1; system_id = \"x\"; password = \"y\";\n"
        "           error_rate = { threshold = 1.5;\n"
        "                          window_s = 0; colour = 1; }; },\n"
        "         { name = \"s2\"; host = \"h\"; port = 2; system_id = \"x\"; password = \"y\";\n"
        "           error_rate = { threshold = \"half\";\n"
        "                          cooldown_s = 100; cooldown_max_s = 50; }; } );\n",
        &cfg, errs, sizeof(errs));
    assert_true(n >= 5);
    assert_null(cfg);
    assert_non_null(strstr(errs, "er.conf:7: error_rate: threshold 1.5 is out of range"));
    assert_non_null(strstr(errs, "er.conf:8: error_rate: window_s 0 is out of range 1..3600"));
    assert_non_null(strstr(errs, "er.conf:8: error_rate: unknown setting \"colour\""));
    assert_non_null(strstr(errs, "er.conf:10: error_rate: threshold must be a number"));
    assert_non_null(strstr(errs, "er.conf:11: smsc \"s2\": error_rate cooldown_s (100) is greater "
                                 "than cooldown_max_s (50)"));
    tl_cleanup_dir(cfgdir);
}

/* ------------------------------------------------------------ end to end */

#define KEY GWFIX_KEY

/* smsc-sim number n (1 or 2); reject: --reject-pct 100 with ESME_RSYSERR. */
static void
start_sim(struct gwfix *g, int n, bool reject)
{
    if (reject)
        gwfix_start_sim(g, n - 1, "--reject-pct", "100", "--reject-status", "0x08", NULL);
    else
        gwfix_start_sim(g, n - 1, NULL);
}

#define EQUAL_SMSCS "( { name = \"sim\"; priority = 0; }, { name = \"sim2\"; priority = 0; } )"

/* sim2_reconnect_ms: sim2's reconnect_min_ms and _max_ms; 0: 100 and 500 */
static void
write_config_ex(struct gwfix *g, const char *error_rate, unsigned retry_attempts, unsigned mps,
                const char *smscs, unsigned sim2_reconnect_ms)
{
    char hash[65];
    config_sha256_hex(KEY, hash);
    gwfix_write_conf(g,
            "instance = \"fo-1\";\n"
            "log_level = \"debug\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "admin = { socket = \"%s\"; };\n"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; window = 8; reconnect_min_ms = 100;\n"
            "           reconnect_max_ms = 500; error_rate = %s; },\n"
            "         { name = \"sim2\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; window = 8; reconnect_min_ms = %u;\n"
            "           reconnect_max_ms = %u; error_rate = %s; } );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( { name = \"default\"; mps = %u; prefixes = [\"\"];\n"
            "             smsc = %s;\n"
            "             retry_attempts = %u; retry_backoff_ms = 200; retry_backoff_max_ms = 400; } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; } );\n",
            g->redis.port, g->http_port, g->sock, g->sim[0].port, error_rate, g->sim[1].port,
            sim2_reconnect_ms ? sim2_reconnect_ms : 100,
            sim2_reconnect_ms ? sim2_reconnect_ms : 500, error_rate, mps, smscs,
            retry_attempts, hash);
}

static void
write_config(struct gwfix *g, const char *error_rate, unsigned retry_attempts)
{
    write_config_ex(g, error_rate, retry_attempts, 50, EQUAL_SMSCS, 0);
}

static char *
post_nth(struct gwfix *g, int i)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415555%04d\",\"text\":\"m%d\"}",
             100 + i, i);
    return gwfix_post_ok(g, json);
}

/* Every message of ids delivered (receipts on); fails with the first that is not. */
static void
wait_all_delivered(struct gwfix *g, char **ids, int n, int ms)
{
    for (int i = 0; i < n; i++) {
        char *b = NULL;
        for (int waited = 0; waited <= ms; waited += 50) {
            free(b);
            b = gwfix_get_msg(g, ids[i]);
            if (strcmp(tl_jstr(b, "state"), "delivered") == 0)
                break;
            tl_sleep_ms(50);
        }
        if (strcmp(tl_jstr(b, "state"), "delivered") != 0) {
            tl_dump_tail(g->gwlog);
            fail_msg("message %d (%s) not delivered: %s", i, ids[i], b);
        }
        free(b);
    }
}

/* smsgwctl's output for args (must exit 0); free it. */
static char *
ctl(struct gwfix *g, const char *args)
{
    char *out = NULL;
    GWFIX_CTL_OK(g, &out, "%s", args);
    return out;
}

static char *
metrics(struct gwfix *g)
{
    char *body = NULL;
    assert_int_equal(tl_http(g->http_port, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
    return body;
}

#define N1 30
#define N3 10

static void
test_failover_and_probe(void **state)
{
    struct gwfix *g = *state;
    char *ids[N1 + 1 + N3];
    int n = 0;

    start_sim(g, 1, false);
    start_sim(g, 2, true);         /* sim2 answers every submit ESME_RSYSERR */
    write_config(g, "{ threshold = 0.5; window_s = 30; min_samples = 4; cooldown_s = 3; "
                    "cooldown_max_s = 12; }", 10);
    gwfix_start_gw(g);

    /* 1. traffic: sim2 fails, is taken out; everything ends delivered via sim */
    for (int i = 0; i < N1; i++)
        ids[n++] = post_nth(g, i);
    wait_all_delivered(g, ids, n, 30000);
    assert_true(gwfix_log_count(g, "event=smsc_suspended smsc=sim2 ") == 1);
    assert_int_equal(gwfix_log_count(g, "event=smsc_suspended smsc=sim "), 0);
    long long rej1 = gwfix_sim_stat(g, 1, "rejected");
    assert_true(rej1 >= 4);
    /* after the 4th error nothing new went to sim2 but what was on the wire */
    assert_true(rej1 <= 4 + 8);
    assert_int_equal(gwfix_sim_stat(g, 1, "accepted"), 0);
    /* each message accepted once: none lost, none sent twice */
    assert_int_equal(gwfix_sim_stat(g, 0, "accepted"), N1);
    /* the record shows the move: failed on sim2, retried, submitted on sim */
    int moved = 0;
    for (int i = 0; i < N1; i++) {
        char *b = gwfix_get_msg(g, ids[i]);
        if (strstr(b, "smsc=sim2 error=ESME_RSYSERR")) {
            assert_non_null(strstr(b, "smsc=sim\""));
            moved++;
        }
        free(b);
    }
    assert_true(moved >= 1);
    char *m = metrics(g);
    assert_non_null(strstr(m, "smsgw_smsc_suspended{smsc=\"sim2\"} 1"));
    assert_non_null(strstr(m, "smsgw_smsc_suspended{smsc=\"sim\"} 0"));
    assert_non_null(strstr(m, "smsgw_smsc_suspensions_total{smsc=\"sim2\"} 1"));
    free(m);
    char *page = NULL;
    assert_int_equal(tl_http(g->http_port, "GET", "/status", NULL, NULL, &page, NULL), 200);
    /* the bind table's health cell (not the recent-errors list) */
    assert_true(strstr(page, "<td class=\"bad\">suspended</td></tr>") ||
                strstr(page, "<td class=\"bad\">probing</td></tr>"));
    assert_non_null(strstr(page, "<th>health</th>"));
    free(page);
    char *out = ctl(g, "binds");
    assert_non_null(strstr(out, "HEALTH"));
    assert_true(strstr(out, "suspended") || strstr(out, "probing"));
    free(out);
    out = ctl(g, "--json binds");
    assert_non_null(strstr(out, "\"smsc_health\":[{\"smsc\":\"sim\",\"health\":\"active\""));
    assert_non_null(strstr(out, "\"rate_at_suspend\":1"));
    free(out);
    out = ctl(g, "--json routes");
    assert_non_null(strstr(out, "\"smscs\":2,\"smscs_suspended\":1"));
    free(out);
    /* a reload keeps the SMSC out: its state goes to the new engine */
    kill(g->gw, SIGHUP);
    gwfix_wait_log(g, "event=config_reloaded", 1, 10000);
    m = metrics(g);
    assert_non_null(strstr(m, "smsgw_smsc_suspended{smsc=\"sim2\"} 1"));
    free(m);

    /* 2. after the cooldown one probe goes to sim2; it fails; the message
     * still ends delivered via sim, and sim2 waits twice as long */
    gwfix_wait_log(g, "event=smsc_probing smsc=sim2", 1, 10000);
    ids[n++] = post_nth(g, N1);
    gwfix_wait_log(g, "event=smsc_probe_failed smsc=sim2", 1, 10000);
    assert_int_equal(gwfix_log_count(g, "event=smsc_probe smsc=sim2"), 1);
    wait_all_delivered(g, ids, n, 10000);
    assert_int_equal(gwfix_sim_stat(g, 1, "rejected"), rej1 + 1);
    assert_non_null(strstr(tl_ctl(g->sim[1].ctl_port, "reject 0\n"), "OK"));     /* healed */
    assert_int_equal(gwfix_sim_stat(g, 0, "accepted"), N1 + 1);
    assert_true(gwfix_log_count(g, "cooldown=6s") >= 1);

    /* 3. the next probe succeeds: sim2 is back and takes its share */
    gwfix_wait_log(g, "event=smsc_probing smsc=sim2", 2, 15000);
    for (int i = 0; i < N3; i++)
        ids[n++] = post_nth(g, N1 + 1 + i);
    wait_all_delivered(g, ids, n, 30000);
    gwfix_wait_log(g, "event=smsc_resumed smsc=sim2", 1, 1000);
    long long acc1 = gwfix_sim_stat(g, 0, "accepted"), acc2 = gwfix_sim_stat(g, 1, "accepted");
    assert_true(acc2 >= 2);         /* the probe and at least one more */
    assert_int_equal(acc1 + acc2, N1 + 1 + N3);
    m = metrics(g);
    assert_non_null(strstr(m, "smsgw_smsc_suspended{smsc=\"sim2\"} 0"));
    free(m);
    for (int i = 0; i < n; i++)
        free(ids[i]);
}

#define N4 10

static void
test_all_suspended_keeps_sending(void **state)
{
    struct gwfix *g = *state;
    char *ids[N4];

    start_sim(g, 1, true);
    start_sim(g, 2, true);
    /* A cooldown far beyond the test: only degraded sending can deliver. */
    write_config(g, "{ threshold = 0.5; window_s = 30; min_samples = 3; cooldown_s = 3600; "
                    "cooldown_max_s = 3600; }", 100);
    gwfix_start_gw(g);
    for (int i = 0; i < N4; i++)
        ids[i] = post_nth(g, i);
    gwfix_wait_log(g, "event=smsc_suspended smsc=sim ", 1, 20000);
    gwfix_wait_log(g, "event=smsc_suspended smsc=sim2 ", 1, 20000);
    gwfix_wait_log(g, "event=route_degraded route=default", 1, 20000);
    /* both out, and still the route sends (retries on the least bad) */
    long long before = gwfix_sim_stat(g, 0, "rejected") + gwfix_sim_stat(g, 1, "rejected");
    for (int i = 0; i < 200 && gwfix_sim_stat(g, 0, "rejected") +
                              gwfix_sim_stat(g, 1, "rejected") < before + 5; i++)
        tl_sleep_ms(50);
    assert_true(gwfix_sim_stat(g, 0, "rejected") + gwfix_sim_stat(g, 1, "rejected") >=
                before + 5);
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject 0\n"), "OK"));
    assert_non_null(strstr(tl_ctl(g->sim[1].ctl_port, "reject 0\n"), "OK"));
    wait_all_delivered(g, ids, N4, 30000);
    assert_int_equal(gwfix_sim_stat(g, 0, "accepted") + gwfix_sim_stat(g, 1, "accepted"), N4);
    for (int i = 0; i < N4; i++)
        free(ids[i]);
}

/*
 * A message read from the queue and waiting for its pacing slot on an SMSC
 * that gets suspended meanwhile moves to the other one before anything of
 * it went out. Weights 1:3 give sim2 the first two messages; at 1 mps the
 * second waits a second for its slot, while the first's error (min_samples
 * 1) suspends sim2 within milliseconds.
 */
static void
test_waiting_job_moves(void **state)
{
    struct gwfix *g = *state;
    char *body = NULL, *ids[2];

    start_sim(g, 1, false);
    start_sim(g, 2, true);
    write_config_ex(g, "{ threshold = 0.5; window_s = 30; min_samples = 1; cooldown_s = 3600; "
                       "cooldown_max_s = 3600; }", 5, 1,
                    "( { name = \"sim\"; weight = 1; }, { name = \"sim2\"; weight = 3; } )", 0);
    gwfix_start_gw(g);
    int st = tl_http(g->http_port, "POST", "/v1/messages/batch", KEY,
                     "{\"messages\":[{\"from\":\"12345\",\"to\":\"+14155550101\",\"text\":\"a\"},"
                     "{\"from\":\"12345\",\"to\":\"+14155550102\",\"text\":\"b\"}]}",
                     &body, NULL);
    assert_int_equal(st, 202);
    const char *p = body;
    for (int i = 0; i < 2; i++) {
        p = strstr(p, "\"id\":\"");
        assert_non_null(p);
        p += 6;
        ids[i] = strndup(p, strcspn(p, "\""));
    }
    free(body);
    wait_all_delivered(g, ids, 2, 20000);
    gwfix_wait_log(g, "event=msg_moved msg_id=", 1, 1000);
    assert_non_null(strstr(tl_ctl(g->sim[1].ctl_port, "stats\n"), "\"rejected\":1,"));
    assert_int_equal(gwfix_sim_stat(g, 1, "submit_sm"), 1);   /* the moved one never went */
    assert_int_equal(gwfix_sim_stat(g, 0, "accepted"), 2);
    free(ids[0]);
    free(ids[1]);
}

/*
 * The same when the SMSC loses its bind instead: sim2 drops the connection
 * after its first submit and binds again only seconds later; the second
 * message, waiting for its slot on sim2, goes to sim instead of holding the
 * route until sim2 is back.
 */
static void
test_waiting_job_moves_off_lost_bind(void **state)
{
    struct gwfix *g = *state;
    char *body = NULL, *ids[2];

    start_sim(g, 1, false);
    gwfix_start_sim(g, 1, "--close-after", "1", NULL);
    write_config_ex(g, "{ enabled = false; }", 5, 1,
                    "( { name = \"sim\"; weight = 1; }, { name = \"sim2\"; weight = 3; } )",
                    4000);
    gwfix_start_gw(g);
    for (int i = 0; i < 200 && gwfix_sim_stat(g, 1, "binds_now") < 1; i++)
        tl_sleep_ms(50);
    int st = tl_http(g->http_port, "POST", "/v1/messages/batch", KEY,
                     "{\"messages\":[{\"from\":\"12345\",\"to\":\"+14155550101\",\"text\":\"a\"},"
                     "{\"from\":\"12345\",\"to\":\"+14155550102\",\"text\":\"b\"}]}",
                     &body, NULL);
    assert_int_equal(st, 202);
    const char *p = body;
    for (int i = 0; i < 2; i++) {
        p = strstr(p, "\"id\":\"");
        assert_non_null(p);
        p += 6;
        ids[i] = strndup(p, strcspn(p, "\""));
    }
    free(body);
    gwfix_wait_log(g, "event=msg_moved msg_id=", 1, 10000);
    assert_int_equal(gwfix_log_count(g, "from_smsc=sim2 reason=binds_down"), 1);
    wait_all_delivered(g, ids + 1, 1, 20000);
    assert_int_equal(gwfix_sim_stat(g, 1, "submit_sm"), 1);
    free(ids[0]);
    free(ids[1]);
}

/* smsc-sim's reject command checks what it is given. */
static void
test_sim_reject_command(void **state)
{
    struct gwfix *g = *state;
    start_sim(g, 1, false);
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject 50 0x45\n"), "OK reject_pct=50.0000 "
                                                                     "reject_status=0x45"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject 101\n"), "ERR usage"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject\n"), "ERR usage"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject 10 0x400\n"), "ERR status 0x400"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "reject 0\n"), "OK reject_pct=0.0000"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_window_threshold),
        cmocka_unit_test(test_probe_cycle),
        cmocka_unit_test(test_disabled_and_probes),
        cmocka_unit_test(test_config),
        cmocka_unit_test_setup_teardown(test_sim_reject_command, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_failover_and_probe, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_all_suspended_keeps_sending, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_job_moves, gwfix_setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_job_moves_off_lost_bind, gwfix_setup, gwfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
