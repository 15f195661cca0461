/*
 * Operating smsgwd (issue 6), end to end over loopback: a real
 * redis-server, the ASan builds of smsc-sim, smsgwd and smsgwctl.
 *
 *   GET /metrics   present, Prometheus text, and moving under traffic
 *   smsgwctl       every command against a running daemon, exit codes,
 *                  socket mode, TCP token, hash-secret
 *   reload         an SMSC removed and a route added while the kept SMSC
 *                  keeps its connection (smsc-sim's bind count) and no
 *                  queued message is lost; a bad config keeps the old one;
 *                  SIGHUP reloads too; with SMPP clients bound, accounts
 *                  added and reordered (the kept client stays on its
 *                  socket, the new one binds) and removed (its bind is
 *                  unbound, its messages are delivered)
 *   GET /status    the HTML page's tables (delivery figures too) and recent
 *                  errors (headless Chromium's DOM when `chromium` is
 *                  installed, the served HTML otherwise)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "tests/gwfix.h"

#define KEY GWFIX_KEY

/* This program's own state, in the fixture's ext. */
struct ops {
    int admin_port;                 /* smsgwctl's TCP port, when a config sets tcp_port */
    const char *http_extra;         /* more settings of the http group (test_https_api) */
};

static struct ops *
ops(struct gwfix *g)
{
    return g->ext;
}

static int
setup(void **state)
{
    struct gwfix *g = gwfix_new(GWFIX_AOF);
    g->ext = calloc(1, sizeof(struct ops));
    ops(g)->admin_port = tl_free_port();
    ops(g)->http_extra = "";
    *state = g;
    return 0;
}

/*
 * smscs: the smsc list body; routes: the routes list body; top: more
 * top-level settings. Both SMSC definitions the tests use point at the
 * one smsc-sim, so its bind count tells every (re)connection apart.
 */
static void
write_config_ex(struct gwfix *g, const char *smscs, const char *routes, const char *top)
{
    char hash[65];
    config_sha256_hex(KEY, hash);
    gwfix_write_conf(g,
            "instance = \"ops-1\";\n"
            "log_level = \"info\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"o:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; %s };\n"
            "admin = { socket = \"%s\"; %s };\n"
            "smsc = ( %s );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( %s );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; } );\n",
            g->redis.port, g->http_port, ops(g)->http_extra, g->sock, top ? top : "", smscs,
            routes, hash);
}

static char smsc_sim[512], smsc_sim2[512];

static void
smsc_defs(struct gwfix *g)
{
    snprintf(smsc_sim, sizeof(smsc_sim),
             "{ name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\"; "
             "password = \"secret\"; reconnect_min_ms = 100; reconnect_max_ms = 500; }",
             g->sim[0].port);
    snprintf(smsc_sim2, sizeof(smsc_sim2),
             "{ name = \"sim2\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\"; "
             "password = \"secret\"; reconnect_min_ms = 100; reconnect_max_ms = 500; }",
             g->sim[0].port);
}

static void
write_config(struct gwfix *g, const char *top)
{
    smsc_defs(g);
    write_config_ex(g, smsc_sim,
                    "{ name = \"default\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"\"]; }", top);
}

static char *
post_to(struct gwfix *g, const char *to)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"%s\",\"text\":\"ops test\"}", to);
    return gwfix_post_ok(g, json);
}

/* The value of one metric line "name{labels} value"; -1 when absent. */
static double
metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static char *
scrape(struct gwfix *g, char **headers)
{
    char *body = NULL;
    int st = tl_http(g->http_port, "GET", "/metrics", NULL, NULL, &body, headers);
    if (st != 200)
        fail_msg("GET /metrics -> %d %s", st, body ? body : "");
    return body;
}

/* ------------------------------------------------------------------ tests */

static void
test_metrics_move_under_traffic(void **state)
{
    struct gwfix *g = *state;
    char *hdr = NULL;

    gwfix_start_sim(g, 0, NULL);
    write_config(g, NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);

    char *m0 = scrape(g, &hdr);
    assert_non_null(strstr(hdr, "text/plain; version=0.0.4"));
    assert_non_null(strstr(m0, "# TYPE smsgw_route_submitted_total counter\n"));
    assert_non_null(strstr(m0, "# TYPE smsgw_submit_resp_seconds histogram\n"));
    assert_int_equal((int)metric(m0, "smsgw_smsc_session_up{smsc=\"sim\",session=\"sim#1\"}"), 1);
    assert_int_equal((int)metric(m0, "smsgw_smsc_session_state{smsc=\"sim\",session=\"sim#1\","
                                     "state=\"bound_trx\"}"), 1);
    assert_int_equal((int)metric(m0, "smsgw_route_mps_limit{route=\"default\"}"), 100);
    assert_true(metric(m0, "smsgw_redis_commands_total{conn=\"router\"}") > 0);
    assert_int_equal((int)metric(m0, "smsgw_redis_up{conn=\"main\"}"), 1);
    assert_int_equal((int)metric(m0, "smsgw_redis_up{conn=\"router\"}"), 1);
    assert_int_equal((int)metric(m0, "smsgw_redis_up{conn=\"pacer\"}"), 1);
    double sub0 = metric(m0, "smsgw_route_submitted_total{route=\"default\"}");
    assert_true(sub0 >= 0);

    char *ids[5];
    for (int i = 0; i < 3; i++)
        ids[i] = post_to(g, "+14155550100");
    for (int i = 0; i < 3; i++)
        free(gwfix_wait_state(g, ids[i], "delivered", 10000));
    char *m1 = scrape(g, NULL);
    double sub1 = metric(m1, "smsgw_route_submitted_total{route=\"default\"}");
    assert_true(sub1 >= sub0 + 3);
    assert_true(metric(m1, "smsgw_messages_total{state=\"queued\"}") >= 3);
    assert_true(metric(m1, "smsgw_messages_total{state=\"submitted\"}") >= 3);
    assert_true(metric(m1, "smsgw_messages_total{state=\"delivered\"}") >= 3);
    assert_true(metric(m1, "smsgw_receipts_total{result=\"matched\"}") >= 3);
    assert_true(metric(m1, "smsgw_submit_resp_total{smsc=\"sim\",result=\"ok\"}") >= 3);
    assert_true(metric(m1, "smsgw_submit_resp_seconds_count{smsc=\"sim\"}") >= 3);
    assert_true(metric(m1, "smsgw_submit_resp_seconds_bucket{smsc=\"sim\",le=\"+Inf\"}") >= 3);
    double rtt1 = metric(m1, "smsgw_redis_seconds_count{conn=\"main\"}");
    assert_true(rtt1 > 0);

    for (int i = 3; i < 5; i++)
        ids[i] = post_to(g, "+14155550101");
    for (int i = 3; i < 5; i++)
        free(gwfix_wait_state(g, ids[i], "delivered", 10000));
    char *m2 = scrape(g, NULL);
    assert_true(metric(m2, "smsgw_route_submitted_total{route=\"default\"}") >= sub1 + 2);
    assert_true(metric(m2, "smsgw_receipts_total{result=\"matched\"}") >=
                metric(m1, "smsgw_receipts_total{result=\"matched\"}") + 2);
    assert_true(metric(m2, "smsgw_redis_seconds_count{conn=\"main\"}") > rtt1);
    /* NOSCRIPT and BUSYGROUP happened (first script uses, group exists)
     * but are not errors. */
    assert_int_equal((int)metric(m2, "smsgw_redis_errors_total{conn=\"main\"}"), 0);
    assert_int_equal((int)metric(m2, "smsgw_redis_errors_total{conn=\"router\"}"), 0);
    assert_int_equal((int)metric(m2, "smsgw_redis_failures_total{conn=\"router\"}"), 0);
    /* The queue depth comes from a 1 s poll of XLEN: empty now. */
    double depth = -1;
    for (int i = 0; i < 40 && depth < 0; i++) {
        char *m = scrape(g, NULL);
        depth = metric(m, "smsgw_route_queue_depth{route=\"default\"}");
        free(m);
        if (depth < 0)
            tl_sleep_ms(100);
    }
    assert_int_equal((int)depth, 0);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    free(m0);
    free(m1);
    free(m2);
    free(hdr);
    gwfix_stop_gw_clean(g);
}

static void
test_smsgwctl_commands(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, top[400], hash[65];

    gwfix_start_sim(g, 0, NULL);
    config_sha256_hex("tok-123", hash);
    snprintf(top, sizeof(top), "tcp_port = %d; token = \"sha256:%s\";", ops(g)->admin_port, hash);
    write_config(g, top);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);

    struct stat sb;
    assert_int_equal(stat(g->sock, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);

    GWFIX_CTL_OK(g, &out, "status");
    assert_non_null(strstr(out, "ops-1"));
    assert_non_null(strstr(out, "1 of 1 bound"));
    free(out);
    GWFIX_CTL_OK(g, &out, "--json status");
    assert_int_equal(tl_jnum(out, "sessions_bound"), 1);
    assert_string_equal(tl_jstr(out, "instance"), "ops-1");
    free(out);
    GWFIX_CTL_OK(g, &out, "--json binds");
    assert_string_equal(tl_jstr(out, "slot"), "sim#1");
    assert_string_equal(tl_jstr(out, "state"), "bound_trx");
    long session = tl_jnum(out, "session");
    assert_true(session > 0);
    free(out);
    GWFIX_CTL_OK(g, &out, "binds");
    assert_non_null(strstr(out, "sim#1"));
    free(out);
    GWFIX_CTL_OK(g, &out, "routes");
    assert_non_null(strstr(out, "default"));
    assert_non_null(strstr(out, "sending"));
    free(out);

    /* pause: a message stays queued (in Redis) until resume */
    GWFIX_CTL_OK(g, &out, "pause default");
    assert_non_null(strstr(out, "paused"));
    free(out);
    GWFIX_CTL_OK(g, &out, "--json routes");
    assert_string_equal(tl_jstr(out, "state"), "paused");
    free(out);
    char *id = post_to(g, "+14155550100");
    tl_sleep_ms(1500);
    assert_string_equal(gwfix_msg_state(g, id), "queued");
    GWFIX_CTL_OK(g, &out, "--json queue default");
    assert_true(tl_jnum(out, "depth") >= 1);
    assert_non_null(strstr(out, "\"paused\":true"));
    free(out);
    GWFIX_CTL_OK(g, &out, "queue default");
    assert_non_null(strstr(out, "PAUSED"));
    free(out);
    GWFIX_CTL_OK(g, &out, "resume default");
    free(out);
    free(gwfix_wait_state(g, id, "delivered", 10000));

    /* message: the record with its history */
    GWFIX_CTL_OK(g, &out, "--json message %s", id);
    assert_non_null(strstr(out, "\"found\":true"));
    assert_string_equal(tl_jstr(out, "state"), "delivered");
    free(out);
    GWFIX_CTL_OK(g, &out, "message %s", id);
    assert_non_null(strstr(out, "history:"));
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "message m-no-such-id"), 1);
    free(out);

    /* optout: after an opt-out through the API */
    GWFIX_CTL_OK(g, &out, "optout +14155550177");
    assert_non_null(strstr(out, "not opted out"));
    free(out);
    assert_int_equal(tl_http(g->http_port, "PUT", "/v1/optouts/+14155550177", KEY, NULL, NULL,
                             NULL), 200);
    GWFIX_CTL_OK(g, &out, "--json optout +14155550177");
    assert_string_equal(tl_jstr(out, "account"), "acme");
    free(out);

    /* rebind: the SMSC sees a second bind */
    long binds = gwfix_sim_stat(g, 0, "binds");
    GWFIX_CTL_OK(g, &out, "--json rebind sim");
    assert_int_equal(tl_jnum(out, "unbound"), 1);
    free(out);
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "binds") < binds + 1; i++)
        tl_sleep_ms(50);
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), binds + 1);
    gwfix_wait_sim_binds(g, 0, 1);

    /* errors and exit codes */
    assert_int_equal(gwfix_ctl(g, &out, "pause nosuchroute"), 1);
    assert_non_null(strstr(out, "no route \"nosuchroute\""));
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "rebind nosuchsmsc"), 1);
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "frobnicate"), 2);
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "queue"), 2);
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "-s %s/none.sock status", g->dir), 3);
    free(out);

    /* TCP needs the token */
    assert_int_equal(gwfix_ctl(g, &out, "--tcp 127.0.0.1:%d status", ops(g)->admin_port), 1);
    assert_non_null(strstr(out, "token"));
    free(out);
    setenv("SMSGWCTL_TOKEN", "wrong", 1);
    int rc = gwfix_ctl(g, &out, "--tcp 127.0.0.1:%d status", ops(g)->admin_port);
    unsetenv("SMSGWCTL_TOKEN");
    assert_int_equal(rc, 1);
    free(out);
    setenv("SMSGWCTL_TOKEN", "tok-123", 1);
    rc = gwfix_ctl(g, &out, "--tcp 127.0.0.1:%d --json status", ops(g)->admin_port);
    unsetenv("SMSGWCTL_TOKEN");
    assert_int_equal(rc, 0);
    assert_int_equal(tl_jnum(out, "sessions_bound"), 1);
    free(out);

    free(id);
    gwfix_stop_gw_clean(g);
    /* the socket file goes with the daemon */
    assert_int_not_equal(stat(g->sock, &sb), 0);
}

static void
test_hash_secret(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, hash[65], want[80];

    config_sha256_hex("s3cret-pw", hash);
    snprintf(want, sizeof(want), "sha256:%s\n", hash);
    assert_int_equal(gwfix_ctl(g, &out, "hash-secret --iterations 1000 s3cret-pw"), 0);
    assert_memory_equal(out, want, strlen(want));
    char *pb = strstr(out, "pbkdf2-sha256:1000:");
    assert_non_null(pb);
    pb[strcspn(pb, "\n")] = 0;
    /* The pbkdf2 line is a valid smpp_password that verifies. */
    FILE *f = fopen(g->conf, "w");
    fprintf(f, "redis = { };\nsmsc = ( { name = \"s\"; host = \"127.0.0.1\"; port = 1; "
               "system_id = \"x\"; password = \"y\"; } );\n"
               "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"a\"]; } );\n"
               "routes = ( { name = \"r\"; mps = 1; smsc = [\"s\"]; } );\n"
               "accounts = ( { name = \"a\"; api_keys = [\"%s\"]; smpp_system_id = \"a\"; "
               "smpp_password = \"%s\"; } );\n",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000", pb);
    fclose(f);
    struct gw_config *cfg = NULL;
    assert_int_equal(config_load(g->conf, &cfg, stderr), 0);
    assert_true(config_smpp_password_ok(&cfg->accounts[0], "s3cret-pw"));
    assert_false(config_smpp_password_ok(&cfg->accounts[0], "s3cret-pX"));
    config_free(cfg);
    free(out);
    /* from stdin, and a bad iteration count */
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "echo s3cret-pw | %s hash-secret --iterations 1000", tl_bin("smsgwctl"));
    FILE *p = popen(cmd, "r");
    char line[200] = "";
    assert_non_null(fgets(line, sizeof(line), p));
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_string_equal(line, want);
    assert_int_equal(gwfix_ctl(g, &out, "hash-secret --iterations 10 x"), 2);
    free(out);
}

static void
test_reload_keeps_binds_and_messages(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, smscs[1200];

    gwfix_start_sim(g, 0, NULL);
    smsc_defs(g);
    snprintf(smscs, sizeof(smscs), "%s, %s", smsc_sim, smsc_sim2);
    write_config_ex(g, smscs,
                    "{ name = \"default\"; mps = 200; smsc = [\"sim\"]; prefixes = [\"\"]; },"
                    "{ name = \"old\"; mps = 10; smsc = [\"sim2\"]; prefixes = [\"49\"]; }", NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 2);
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), 2);
    GWFIX_CTL_OK(g, &out, "--json binds");
    /* the first slot listed is sim#1 */
    long session = tl_jnum(out, "session");
    assert_true(session > 0);
    assert_string_equal(tl_jstr(out, "slot"), "sim#1");
    free(out);

    /* Messages in the queue and on the wire while the reload happens. */
    enum { N = 60 };
    char *ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = post_to(g, "+14155550100");

    /* sim2 goes, route old goes, route uk comes (on the kept sim). */
    write_config_ex(g, smsc_sim,
                    "{ name = \"default\"; mps = 200; smsc = [\"sim\"]; prefixes = [\"\"]; },"
                    "{ name = \"uk\"; mps = 50; smsc = [\"sim\"]; prefixes = [\"44\"]; }", NULL);
    GWFIX_CTL_OK(g, &out, "--json reload");
    assert_int_equal(tl_jnum(out, "smscs_kept"), 1);
    assert_int_equal(tl_jnum(out, "smscs_new"), 0);
    assert_int_equal(tl_jnum(out, "smscs_removed"), 1);
    assert_int_equal(tl_jnum(out, "routes_added"), 1);
    assert_int_equal(tl_jnum(out, "routes_removed"), 1);
    free(out);

    for (int i = 0; i < N; i++)
        free(gwfix_wait_state(g, ids[i], "delivered", 20000));
    gwfix_wait_sim_binds(g, 0, 1);
    /* sim was never bound again: still the two binds of the start */
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), 2);
    GWFIX_CTL_OK(g, &out, "--json binds");
    assert_int_equal(tl_jnum(out, "session"), session);
    assert_null(strstr(out, "sim2"));
    free(out);
    GWFIX_CTL_OK(g, &out, "--json routes");
    assert_non_null(strstr(out, "\"route\":\"uk\""));
    assert_null(strstr(out, "\"route\":\"old\""));
    free(out);
    char *uk = post_to(g, "+447700900123");
    char *rec = gwfix_wait_state(g, uk, "delivered", 10000);
    assert_string_equal(tl_jstr(rec, "route"), "uk");
    free(rec);
    free(uk);

    /* A config with an error: refused with file:line, the old one stays. */
    FILE *f = fopen(g->conf, "a");
    fprintf(f, "routes_typo = ( { name = \"x\" } ;\n");
    fclose(f);
    assert_int_equal(gwfix_ctl(g, &out, "reload"), 1);
    char where[4300];
    snprintf(where, sizeof(where), "%s:", g->conf);
    assert_non_null(strstr(out, where));
    free(out);
    GWFIX_CTL_OK(g, &out, "--json routes");
    assert_non_null(strstr(out, "\"route\":\"uk\""));
    free(out);
    char *again = post_to(g, "+447700900124");
    free(gwfix_wait_state(g, again, "delivered", 10000));
    free(again);
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), 2);

    /* SIGHUP reloads too: route fr appears. */
    write_config_ex(g, smsc_sim,
                    "{ name = \"default\"; mps = 200; smsc = [\"sim\"]; prefixes = [\"\"]; },"
                    "{ name = \"uk\"; mps = 50; smsc = [\"sim\"]; prefixes = [\"44\"]; },"
                    "{ name = \"fr\"; mps = 50; smsc = [\"sim\"]; prefixes = [\"33\"]; }", NULL);
    kill(g->gw, SIGHUP);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        GWFIX_CTL_OK(g, &out, "--json routes");
        seen = strstr(out, "\"route\":\"fr\"") != NULL;
        free(out);
        if (!seen)
            tl_sleep_ms(50);
    }
    assert_true(seen);
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), 2);
    char *fr = post_to(g, "+33612345678");
    rec = gwfix_wait_state(g, fr, "delivered", 10000);
    assert_string_equal(tl_jstr(rec, "route"), "fr");
    free(rec);
    free(fr);

    /* Changing the kept SMSC's bind settings binds it again. */
    snprintf(smscs, sizeof(smscs),
             "{ name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\"; "
             "password = \"secret\"; window = 32; reconnect_min_ms = 100; reconnect_max_ms = 500; }",
             g->sim[0].port);
    write_config_ex(g, smscs,
                    "{ name = \"default\"; mps = 200; smsc = [\"sim\"]; prefixes = [\"\"]; }", NULL);
    GWFIX_CTL_OK(g, &out, "--json reload");
    assert_int_equal(tl_jnum(out, "smscs_kept"), 0);
    assert_int_equal(tl_jnum(out, "smscs_new"), 1);
    free(out);
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "binds") < 3; i++)
        tl_sleep_ms(50);
    assert_int_equal(gwfix_sim_stat(g, 0, "binds"), 3);
    gwfix_wait_sim_binds(g, 0, 1);
    char *last = post_to(g, "+14155550100");
    free(gwfix_wait_state(g, last, "delivered", 10000));
    free(last);

    for (int i = 0; i < N; i++)
        free(ids[i]);
    gwfix_stop_gw_clean(g);
}

static void
test_status_page(void **state)
{
    struct gwfix *g = *state;
    char *body = NULL, *hdr = NULL, *out = NULL, top[600], hash[65], mhash[65];

    gwfix_start_sim(g, 0, NULL);
    config_sha256_hex("tok-123", hash);
    config_sha256_hex("metrics-tok", mhash);
    snprintf(top, sizeof(top), "tcp_port = %d; token = \"sha256:%s\"; http_token = \"sha256:%s\";",
             ops(g)->admin_port, hash, mhash);
    write_config(g, top);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);
    char *id = post_to(g, "+14155550100");
    free(gwfix_wait_state(g, id, "delivered", 10000));
    free(id);
    /* A warning for the page: a TCP admin request without its token. */
    assert_int_equal(gwfix_ctl(g, &out, "--tcp 127.0.0.1:%d status", ops(g)->admin_port), 1);
    free(out);

    /* http_token: nothing without it */
    assert_int_equal(tl_http(g->http_port, "GET", "/status", NULL, NULL, &body, NULL), 401);
    free(body);
    assert_int_equal(tl_http(g->http_port, "GET", "/metrics", "wrong", NULL, &body, NULL), 401);
    free(body);
    assert_int_equal(tl_http(g->http_port, "GET", "/metrics", "metrics-tok", NULL, &body, NULL),
                     200);
    assert_non_null(strstr(body, "smsgw_route_submitted_total{route=\"default\"} "));
    free(body);

    assert_int_equal(tl_http(g->http_port, "GET", "/status", "metrics-tok", NULL, &body, &hdr),
                     200);
    assert_non_null(strstr(hdr, "text/html"));
    assert_non_null(strstr(body, "<table id=\"binds\">"));
    assert_non_null(strstr(body, "<td>sim#1</td><td class=\"ok\">bound_trx</td>"));
    assert_non_null(strstr(body, "<table id=\"routes\">"));
    assert_non_null(strstr(body, "<tr><td>default</td><td class=\"ok\">sending</td>"));
    assert_non_null(strstr(body, "<td>100</td>"));      /* allowed mps */
    assert_non_null(strstr(body, "event=admin_refused"));
    free(body);
    free(hdr);
    /* Delivery (last hour / day): read from Redis while the page is looked
     * at, so it shows at a later view; the delivered message counts once. */
    static const char delivered_row[] = "<td>route</td><td>default</td><td>hour</td>"
        "<td>1</td><td>1</td><td>1</td><td class=\"ok\">100.0</td>";
    bool shown = false;
    for (int i = 0; i < 200 && !shown; i++) {
        assert_int_equal(tl_http(g->http_port, "GET", "/status", "metrics-tok", NULL, &body,
                                 NULL), 200);
        shown = strstr(body, "<table id=\"delivery\">") && strstr(body, delivered_row);
        if (!shown && i == 199)
            fail_msg("no delivery row for route default in %s", body);
        free(body);
        if (!shown)
            tl_sleep_ms(50);
    }

    /* A browser's view of the page, when one is installed. The token is
     * not needed for this part: reload a config without it. */
    if (system("command -v chromium >/dev/null 2>&1") == 0) {
        write_config(g, NULL);
        assert_int_equal(gwfix_ctl(g, &out, "reload"), 0);
        free(out);
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "timeout 90 chromium --headless --no-sandbox --disable-gpu "
                 "--disable-dev-shm-usage --dump-dom http://127.0.0.1:%d/status 2>/dev/null",
                 g->http_port);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char *dom = calloc(1, 1 << 20);
        size_t len = fread(dom, 1, (1 << 20) - 1, p);
        pclose(p);
        dom[len] = 0;
        assert_non_null(strstr(dom, "sim#1"));
        assert_non_null(strstr(dom, "bound_trx"));
        assert_non_null(strstr(dom, "id=\"routes\""));
        assert_non_null(strstr(dom, "id=\"delivery\""));
        if (!strstr(dom, delivered_row))
            fail_msg("the browser shows no delivery row for route default: %s", dom);
        free(dom);
    } else {
        fprintf(stderr, "note: chromium not installed; /status checked as served HTML only\n");
    }
    gwfix_stop_gw_clean(g);
}

/* Accounts with SMPP access: client binds show in binds and /metrics.
 * accounts: the accounts list body (acct_entry() builds entries); senders: the
 * accounts list of sender 12345. */
static void
write_accts_config(struct gwfix *g, int smpp_port, const char *accounts, const char *senders)
{
    smsc_defs(g);
    gwfix_write_conf(g,
            "instance = \"ops-1\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"o:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "smpp_server = { listen = \"127.0.0.1\"; port = %d; };\n"
            "admin = { socket = \"%s\"; };\n"
            "smsc = ( %s );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [%s]; } );\n"
            "routes = ( { name = \"default\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"\"]; } );\n"
            "accounts = ( %s );\n",
            g->redis.port, g->http_port, smpp_port, g->sock, smsc_sim, senders, accounts);
}

/* One account entry: name, its API key, and with system_id an SMPP login
 * (password "clientpw"); extra: more settings. Returns a static buffer
 * (one of 4). */
static const char *
acct_entry(const char *name, const char *key, const char *system_id, const char *extra)
{
    static char bufs[4][1024];
    static int next;
    char hash[65], pw[CONFIG_SMPP_HASH_MAX], *b = bufs[next++ % 4];
    config_sha256_hex(key, hash);
    assert_int_equal(config_hash_smpp_password("clientpw", 1000, pw, sizeof(pw)), 0);
    if (system_id)
        snprintf(b, 1024, "{ name = \"%s\"; api_keys = [\"sha256:%s\"]; smpp_system_id = \"%s\";"
                 " smpp_password = \"%s\"; %s }", name, hash, system_id, pw, extra ? extra : "");
    else
        snprintf(b, 1024, "{ name = \"%s\"; api_keys = [\"sha256:%s\"]; %s }", name, hash,
                 extra ? extra : "");
    return b;
}

static void
write_smpp_config(struct gwfix *g, int smpp_port, const char *acme_extra, const char *more)
{
    char accounts[3000];
    snprintf(accounts, sizeof(accounts), "%s %s", acct_entry("acme", KEY, "acmecli", acme_extra),
             more ? more : "");
    write_accts_config(g, smpp_port, accounts, "\"acme\"");
}

/* An smpp-load client of system_id (password clientpw) on port, a
 * transceiver asking for receipts; its JSON line goes to log. */
static pid_t
start_client(struct gwfix *g, int smpp_port, const char *system_id, const char *count,
             const char *rate, const char *log)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", smpp_port);
    char *argv[] = { (char *)tl_bin("smpp-load"), "--host", "127.0.0.1", "--port", port,
                     "--system-id", (char *)system_id, "--password", "clientpw", "--count",
                     (char *)count, "--duration", "30", "--rate", (char *)rate, "--from", "12345",
                     "--to", "14155550100", "--bind-mode", "trx", "--registered-delivery", "1",
                     "--dlr-wait-ms", "0", "--json-only", NULL };
    return tl_spawn(argv, log);
}

/* The client binds of account in `smsgwctl --json binds` (-1: not listed). */
static long
client_binds(struct gwfix *g, const char *account)
{
    char *out = NULL, pat[128];
    GWFIX_CTL_OK(g, &out, "--json binds");
    snprintf(pat, sizeof(pat), "\"account\":\"%s\"", account);
    const char *p = strstr(out, pat);
    long n = p ? tl_jnum(p, "binds") : -1;
    free(out);
    return n;
}

static void
wait_client_binds(struct gwfix *g, const char *account, long want, const char *log)
{
    for (int i = 0; i < 100 && client_binds(g, account) != want; i++)
        tl_sleep_ms(100);
    if (client_binds(g, account) != want) {
        tl_dump_file(log);
        tl_dump_tail(g->gwlog);
        fail_msg("account %s never had %ld client binds (has %ld)", account, want,
                 client_binds(g, account));
    }
}

/*
 * Reloads with SMPP clients bound: a changed account keeps its bind; an
 * account added (and the list reordered) can bind and submit at once while
 * the kept account's bind stays on its socket; an account removed has its
 * bind unbound, and the messages it had submitted are delivered.
 */
static void
test_reload_with_smpp_clients(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL, accounts[4000], loadlog[4300], betalog[4300];
    int smpp_port = tl_free_port();

    gwfix_start_sim(g, 0, NULL);
    write_smpp_config(g, smpp_port, NULL, NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);
    if (!tl_wait_port(smpp_port, 10000))
        fail_msg("no SMPP listener");
    /* a client that stays bound for a while, sending two messages a second */
    snprintf(loadlog, sizeof(loadlog), "%s/load.log", g->dir);
    snprintf(betalog, sizeof(betalog), "%s/beta.log", g->dir);
    pid_t load = start_client(g, smpp_port, "acmecli", "0", "2", loadlog);
    wait_client_binds(g, "acme", 1, loadlog);
    char *m = scrape(g, NULL);
    assert_int_equal((int)metric(m, "smsgw_client_binds{account=\"acme\"}"), 1);
    free(m);

    /* A changed account (a cap) applies; the client stays bound. */
    write_smpp_config(g, smpp_port, "mps = 50;", NULL);
    GWFIX_CTL_OK(g, &out, "--json reload");
    assert_int_equal(tl_jnum(out, "smscs_kept"), 1);
    free(out);
    assert_int_equal(client_binds(g, "acme"), 1);

    /* Two accounts added, one with SMPP access, listed before acme. */
    snprintf(accounts, sizeof(accounts), "%s, %s, %s", acct_entry("beta", "beta-key", "betacli", NULL),
             acct_entry("acme", KEY, "acmecli", "mps = 50;"), acct_entry("other", "other-key", NULL, NULL));
    write_accts_config(g, smpp_port, accounts, "\"acme\", \"beta\"");
    GWFIX_CTL_OK(g, &out, "--json reload");
    free(out);
    /* the new API key is known (the sender is not this account's) */
    assert_int_not_equal(tl_http(g->http_port, "POST", "/v1/messages", "other-key",
                                 "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"x\"}",
                                 NULL, NULL), 401);
    pid_t beta = start_client(g, smpp_port, "betacli", "3", "10", betalog);
    tl_stop(beta, 0, 20000);       /* signal 0: wait for it to end on its own */
    FILE *bf = fopen(betalog, "r");
    char line[8192] = "";
    while (bf && fgets(line, sizeof(line), bf))
        if (strstr(line, "\"messages_ok\""))
            break;
    if (bf)
        fclose(bf);
    if (tl_jnum(line, "messages_ok") != 3) {
        tl_dump_file(betalog);
        tl_dump_tail(g->gwlog);
        fail_msg("the new account's client did not submit its 3 messages");
    }
    /* acme's client never left its socket: one bind, and one unbind (beta's) */
    for (int i = 0; i < 50 && gwfix_log_count(g, "event=smpp_client_unbound session=") < 1; i++)
        tl_sleep_ms(100);
    assert_int_equal(client_binds(g, "acme"), 1);
    assert_int_equal(gwfix_log_count(g, "event=smpp_client_bound session="), 2);   /* acme, beta */
    assert_int_equal(gwfix_log_count(g, "event=smpp_client_unbound session="), 1);
    assert_int_equal(gwfix_log_count(g, "account=acme command="), 1);

    /* acme removed: its bind is unbound, what it submitted is delivered */
    snprintf(accounts, sizeof(accounts), "%s", acct_entry("beta", "beta-key", "betacli", NULL));
    write_accts_config(g, smpp_port, accounts, "\"beta\"");
    GWFIX_CTL_OK(g, &out, "--json reload");
    free(out);
    wait_client_binds(g, "acme", -1, loadlog);
    for (int i = 0;
         i < 100 && gwfix_log_count(g, "reason=\"account removed from the config\"") < 2; i++)
        tl_sleep_ms(100);
    assert_true(gwfix_log_count(g, "event=smpp_client_unbound session=") >= 2);
    assert_true(gwfix_log_count(g, "reason=\"account removed from the config\"") >= 2);
    tl_stop(load, SIGKILL, 2000);
    /* every message in Redis reaches delivered (beta's 3, acme's, the
     * refused API one is not stored) */
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d --scan --pattern 'o:msg:*'", g->redis.port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char key[200];
    int n = 0;
    while (fgets(key, sizeof(key), p)) {
        key[strcspn(key, "\n")] = 0;
        char hget[300], state_now[64] = "";
        snprintf(hget, sizeof(hget), "redis-cli -p %d HGET %s state", g->redis.port, key);
        for (int i = 0; i < 100 && strcmp(state_now, "delivered\n") != 0; i++) {
            FILE *q = popen(hget, "r");
            if (!q || !fgets(state_now, sizeof(state_now), q))
                state_now[0] = 0;
            if (q)
                pclose(q);
            if (strcmp(state_now, "delivered\n") != 0)
                tl_sleep_ms(100);
        }
        if (strcmp(state_now, "delivered\n") != 0) {
            tl_dump_tail(g->gwlog);
            fail_msg("%s is %s, not delivered", key, state_now);
        }
        n++;
    }
    pclose(p);
    assert_true(n >= 4);        /* beta's 3, and acme's */
    /* nothing of acme's receipts is left taken by this instance: what was
     * in flight went back to its queue */
    char llen[200];
    snprintf(llen, sizeof(llen), "redis-cli -p %d LLEN o:clientq:acme:inflight:ops-1",
             g->redis.port);
    char got[32] = "";
    for (int i = 0; i < 50 && strcmp(got, "0\n") != 0; i++) {
        FILE *q = popen(llen, "r");
        if (!q || !fgets(got, sizeof(got), q))
            got[0] = 0;
        if (q)
            pclose(q);
        if (strcmp(got, "0\n") != 0)
            tl_sleep_ms(100);
    }
    assert_string_equal(got, "0\n");
    gwfix_stop_gw_clean(g);
}

/* SIGUSR1 turns debug logging on (submit_sm lines appear), SIGUSR2 turns it
 * back to the configured info level (they stop). */
static void
test_log_level_signals(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, NULL);
    write_config(g, NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);
    char *id = post_to(g, "+14155550101");
    free(gwfix_wait_state(g, id, "delivered", 10000));
    free(id);
    assert_int_equal(gwfix_log_count(g, "event=submit_sm "), 0);         /* info level */

    kill(g->gw, SIGUSR1);
    for (int i = 0; i < 100 && gwfix_log_count(g, "event=log_level level=debug") == 0; i++)
        tl_sleep_ms(20);
    assert_int_equal(gwfix_log_count(g, "event=log_level level=debug signal=USR1"), 1);
    id = post_to(g, "+14155550102");
    free(gwfix_wait_state(g, id, "delivered", 10000));
    free(id);
    int debug_lines = gwfix_log_count(g, "event=submit_sm ");
    assert_true(debug_lines >= 1);

    kill(g->gw, SIGUSR2);
    for (int i = 0; i < 100 && gwfix_log_count(g, "event=log_level level=info") == 0; i++)
        tl_sleep_ms(20);
    assert_int_equal(gwfix_log_count(g, "event=log_level level=info signal=USR2"), 1);
    id = post_to(g, "+14155550103");
    free(gwfix_wait_state(g, id, "delivered", 10000));
    free(id);
    tl_sleep_ms(300);                                                  /* the 100 ms flush */
    assert_int_equal(gwfix_log_count(g, "event=submit_sm "), debug_lines);
    gwfix_stop_gw_clean(g);
}

/*
 * HTTPS on the API listener: a curl that trusts the test's self-signed
 * certificate gets its 202; plain HTTP on the same port gets no answer; a
 * half-configured http group is refused at file:line by smsgwd -t.
 */
static void
test_https_api(void **state)
{
    struct gwfix *g = *state;
    char cert[4300], key[4300], cmd[13000], extra[9000], *out = NULL;

    snprintf(cert, sizeof(cert), "%s/api.crt", g->dir);
    snprintf(key, sizeof(key), "%s/api.key", g->dir);
    snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' "
             "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);

    /* only one of the two: refused where it is written */
    snprintf(extra, sizeof(extra), "tls_cert_file = \"%s\";", cert);
    ops(g)->http_extra = extra;
    gwfix_start_sim(g, 0, NULL);
    write_config(g, NULL);
    snprintf(cmd, sizeof(cmd), "'%s' -t -c '%s' 2>&1", tl_bin("smsgwd"), g->conf);
    FILE *p = popen(cmd, "r");
    char line[1024], all[4096] = "";
    while (p && fgets(line, sizeof(line), p))
        strncat(all, line, sizeof(all) - strlen(all) - 1);
    assert_int_not_equal(pclose(p), 0);
    if (!strstr(all, "tls_cert_file and tls_key_file go together"))
        fail_msg("smsgwd -t: %s", all);

    snprintf(extra, sizeof(extra), "tls_cert_file = \"%s\"; tls_key_file = \"%s\";", cert, key);
    write_config(g, NULL);
    ops(g)->http_extra = "";
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);

    char outf[4300];
    snprintf(outf, sizeof(outf), "%s/curl.out", g->dir);
    snprintf(cmd, sizeof(cmd), "curl -sS --max-time 10 --cacert '%s' -o '%s' -w '%%{http_code}' "
             "-H 'Authorization: Bearer %s' -d '{\"from\":\"12345\",\"to\":\"+14155550177\","
             "\"text\":\"over tls\"}' https://127.0.0.1:%d/v1/messages", cert, outf, KEY,
             g->http_port);
    p = popen(cmd, "r");
    char code[16] = "";
    if (p && fgets(code, sizeof(code), p) == NULL)
        code[0] = 0;
    pclose(p);
    assert_string_equal(code, "202");
    FILE *f = fopen(outf, "r");
    assert_non_null(f);
    char body[2048] = "";
    size_t n = fread(body, 1, sizeof(body) - 1, f);
    body[n] = 0;
    fclose(f);
    out = tl_jstr(body, "id");
    assert_true(strlen(out) > 5);
    /* delivered (read from Redis: the test's HTTP client speaks no TLS) */
    char state_now[64] = "";
    for (int i = 0; i < 200 && strcmp(state_now, "delivered\n") != 0; i++) {
        snprintf(cmd, sizeof(cmd), "redis-cli -p %d HGET o:msg:%s state", g->redis.port, out);
        p = popen(cmd, "r");
        if (!p || !fgets(state_now, sizeof(state_now), p))
            state_now[0] = 0;
        if (p)
            pclose(p);
        if (strcmp(state_now, "delivered\n") != 0)
            tl_sleep_ms(50);
    }
    assert_string_equal(state_now, "delivered\n");

    /* plain HTTP to the TLS port: no HTTP answer */
    snprintf(cmd, sizeof(cmd), "curl -sS --max-time 5 -o /dev/null -w '%%{http_code}' "
             "http://127.0.0.1:%d/metrics 2>/dev/null", g->http_port);
    p = popen(cmd, "r");
    code[0] = 0;
    if (p && fgets(code, sizeof(code), p) == NULL)
        code[0] = 0;
    pclose(p);
    assert_string_equal(code, "000");
    gwfix_stop_gw_clean(g);
}

/*
 * smsgwctl requeue: a message the carrier rejected (smsc-sim answering
 * ESME_RINVDSTADR) is sent again once the cause is gone (a carrier that
 * accepts it), and is delivered; a delivered or unknown message is refused.
 */
static void
test_requeue_rejected(void **state)
{
    struct gwfix *g = *state;
    char *out = NULL;

    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    write_config(g, NULL);
    gwfix_start_gw(g);
    gwfix_wait_sim_binds(g, 0, 1);
    char *id = post_to(g, "+14155550111");
    char *body = gwfix_wait_state(g, id, "rejected", 10000);
    free(body);

    /* the carrier is fixed: one that accepts */
    gwfix_stop_sim(g, 0);
    gwfix_start_sim(g, 0, NULL);
    gwfix_wait_sim_binds(g, 0, 1);
    GWFIX_CTL_OK(g, &out, "requeue %s", id);
    assert_non_null(strstr(out, "queued again on route default"));
    free(out);
    body = gwfix_wait_state(g, id, "delivered", 10000);
    assert_non_null(strstr(body, "requeued after rejected"));
    free(body);

    /* not a failed message any more, and an unknown one */
    assert_int_equal(gwfix_ctl(g, &out, "requeue %s", id), 1);
    assert_non_null(strstr(out, "is delivered"));
    free(out);
    assert_int_equal(gwfix_ctl(g, &out, "requeue m0000000000000000000000"), 1);
    assert_non_null(strstr(out, "no message"));
    free(out);
    free(id);
    gwfix_stop_gw_clean(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_move_under_traffic, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_smsgwctl_commands, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_hash_secret, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_log_level_signals, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_https_api, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_rejected, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_binds_and_messages, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_reload_with_smpp_clients, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_status_page, setup, gwfix_teardown),
    };
    /* OPS_TEST=test_reload_* runs only the tests that match. */
    if (getenv("OPS_TEST"))
        cmocka_set_test_filter(getenv("OPS_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
