/*
 * smsgwd end to end over loopback: a real redis-server, the ASan builds of
 * smsc-sim and smsgwd (or node-smpp's server as the SMSC), HTTP requests
 * in, submit_sm and receipts out, Redis records checked through the API.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/config.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_session.h"
#include "smpp/smpp_text.h"
#include "tests/gwfix.h"

#define KEY GWFIX_KEY

/* This program's own state, in the fixture's ext. */
struct gx {
    pid_t node, gw2;
    int smpp_port;                  /* non-zero: an smpp_server group on it */
    const char *instance;
    const char *tendlc_extra;       /* extra settings of the 10DLC sender */
    const char *account_extra;      /* extra settings of account acme */
    const char *tail_extra;         /* more accounts: ", { ... }" */
    const char *tail_top;           /* more top-level settings */
    char nodelog[4200];
};

static struct gx *
gx(struct gwfix *g)
{
    return g->ext;
}

static int
setup(void **state)
{
    struct gwfix *g = gwfix_new(GWFIX_AOF);
    struct gx *x = g->ext = calloc(1, sizeof(struct gx));
    snprintf(x->nodelog, sizeof(x->nodelog), "%s/node.log", g->dir);
    *state = g;
    return 0;
}

static int
teardown(void **state)
{
    struct gwfix *g = *state;
    if (gx(g)->gw2 > 0)
        tl_stop(gx(g)->gw2, SIGKILL, 2000);
    if (gx(g)->node > 0)
        tl_stop(gx(g)->node, SIGKILL, 2000);
    gwfix_free(g);
    return 0;
}

static void
start_node_smsc(struct gwfix *g)
{
    char port[16], script[4200];
    snprintf(port, sizeof(port), "%d", g->sim[0].port);
    snprintf(script, sizeof(script), "%s/tests/interop/server.js", tl_top());
    char *argv[] = { "/usr/bin/env", "node", script, port, "acme", "secret", NULL };
    gx(g)->node = tl_spawn(argv, gx(g)->nodelog);
    if (!tl_wait_port(g->sim[0].port, 10000)) {
        tl_dump_file(gx(g)->nodelog);
        fail_msg("node-smpp server did not start");
    }
}

/* Write the config: one SMSC on sim_port, one route with mps, all sender
 * types for account acme. extra is appended to the smsc group. */
static void
write_config(struct gwfix *g, unsigned mps, const char *smsc_extra, const char *route_extra)
{
    struct gx *x = gx(g);
    char hash[65], smpp[128] = "";
    config_sha256_hex(KEY, hash);
    if (x->smpp_port)
        snprintf(smpp, sizeof(smpp), "smpp_server = { listen = \"127.0.0.1\"; port = %d; "
                 "bind_timeout_ms = 2000; };\n", x->smpp_port);
    gwfix_write_conf(g,
            "instance = \"%s\";\n"
            "log_level = \"debug\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "%s"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; window = 64; reconnect_min_ms = 100;\n"
            "           reconnect_max_ms = 500; %s } );\n"
            "senders = (\n"
            "  { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"];\n"
            "    keywords = { JOIN = \"Welcome to ACME alerts! Reply STOP to opt out.\"; }; },\n"
            "  { address = \"+18885550100\"; type = \"tollfree\"; accounts = [\"acme\"]; },\n"
            "  { address = \"+12125550100\"; type = \"10dlc\"; accounts = [\"acme\"]; %s },\n"
            "  { address = \"ACME\"; type = \"alphanumeric\"; accounts = [\"acme\"]; }\n"
            ");\n"
            "routes = ( { name = \"default\"; mps = %u; smsc = [\"sim\"]; prefixes = [\"\"];\n"
            "             retry_attempts = 5; retry_backoff_ms = 200; %s } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; %s } %s );\n"
            "%s\n",
            x->instance ? x->instance : "test-1", g->redis.port, g->http_port, smpp,
            g->sim[0].port, smsc_extra ? smsc_extra : "", x->tendlc_extra ? x->tendlc_extra : "",
            mps, route_extra ? route_extra : "", hash, x->account_extra ? x->account_extra : "",
            x->tail_extra ? x->tail_extra : "", x->tail_top ? x->tail_top : "");
}

/* ------------------------------------------------------------------ tests */

static void
test_mt_end_to_end(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"hello world\"}");
    assert_true(id[0] == 'm');
    char *body = gwfix_wait_state(g, id, "delivered", 10000);
    assert_non_null(strstr(body, "\"state\":\"queued\""));
    assert_non_null(strstr(body, "\"state\":\"submitted\""));
    assert_non_null(strstr(body, "\"state\":\"receipt\""));
    assert_non_null(strstr(body, "stat=DELIVRD"));
    assert_non_null(strstr(body, "\"smsc\":\"sim\""));
    assert_non_null(strstr(body, "\"smsc_message_ids\""));
    assert_string_equal(tl_jstr(body, "to"), "14155550100");
    free(body);
    free(id);
    gwfix_stop_gw_clean(g);
}

/*
 * Receipt timeout end to end: the SMSC takes the message and its receipt
 * would come only after 2 minutes; with receipt_grace_s = 0 and the
 * shortest validity the API takes (60 s), the message ends "unknown" soon
 * after its validity ends, with the history saying why, and never goes
 * back to "submitted" meanwhile. (About a minute of the suite.)
 */
static void
test_receipt_timeout_unknown(void **state)
{
    struct gwfix *g = *state;

    g->sim_dlr_delay_ms = "120000";
    gwfix_start_sim(g, 0, NULL);
    gx(g)->tail_top = "receipt_grace_s = 0;";
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    time_t t0 = time(NULL);
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\","
                                "\"text\":\"no receipt in time\",\"validity\":60}");
    free(gwfix_wait_state(g, id, "submitted", 10000));
    char *body = gwfix_wait_state(g, id, "unknown", 80000);
    time_t took = time(NULL) - t0;
    fprintf(stderr, "receipt timeout: unknown after %lld s (validity 60 s, grace 0)\n",
            (long long)took);
    assert_true(took >= 59);        /* not before the validity ended */
    assert_non_null(strstr(body, "no receipt by the end of the validity period"));
    assert_null(strstr(body, "stat=DELIVRD"));
    free(body);
    free(id);
    gwfix_stop_gw_clean(g);
}

static void
test_idempotent_client_ref(void **state)
{
    struct gwfix *g = *state;
    char *b1 = NULL, *b2 = NULL;

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    const char *m = "{\"from\":\"12345\",\"to\":\"+14155550101\",\"text\":\"once\",\"client_ref\":\"order-77\"}";
    assert_int_equal(gwfix_post(g, m, &b1), 202);
    int st2 = gwfix_post(g, m, &b2);
    assert_true(st2 == 200 || st2 == 202);
    assert_string_equal(tl_jstr(b1, "id"), tl_jstr(b2, "id"));
    char *body = gwfix_wait_state(g, tl_jstr(b1, "id"), "delivered", 10000);
    free(body);
    tl_sleep_ms(300);
    char *stats = tl_ctl(g->sim[0].ctl_port, "stats\n");
    assert_int_equal(tl_jnum(stats, "submit_sm"), 1);
    free(b1);
    free(b2);
    gwfix_stop_gw_clean(g);
}

static void
test_long_gsm_and_ucs2(void **state)
{
    struct gwfix *g = *state;
    char json[4096], text[512];

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    /* 400 GSM characters with extension characters: 3 segments */
    for (int i = 0; i < 400; i++)
        text[i] = i % 50 == 0 ? '{' : (char)('a' + i % 26);
    text[400] = 0;
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+14155550102\",\"text\":\"%s\"}", text);
    char *body = NULL;
    assert_int_equal(gwfix_post(g, json, &body), 202);
    assert_string_equal(tl_jstr(body, "encoding"), "gsm7");
    assert_int_equal(tl_jnum(body, "segments"), 3);
    char *id1 = strdup(tl_jstr(body, "id"));
    free(body);
    /* UCS-2 with an emoji (surrogate pair), 100 characters: 2 segments */
    char u[1024] = "";
    strcat(u, "\xF0\x9F\x98\x80");
    for (int i = 0; i < 99; i++)
        strcat(u, "\xD0\x96");
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+14155550103\",\"text\":\"%s\"}", u);
    assert_int_equal(gwfix_post(g, json, &body), 202);
    assert_string_equal(tl_jstr(body, "encoding"), "ucs2");
    assert_int_equal(tl_jnum(body, "segments"), 2);
    char *id2 = strdup(tl_jstr(body, "id"));
    free(body);
    free(gwfix_wait_state(g, id1, "delivered", 10000));
    free(gwfix_wait_state(g, id2, "delivered", 10000));
    char *stats = tl_ctl(g->sim[0].ctl_port, "stats\n");
    assert_int_equal(tl_jnum(stats, "segments_reassembled"), 2);
    assert_int_equal(tl_jnum(stats, "concatenated_parts"), 5);
    assert_int_equal(tl_jnum(stats, "bad_udh"), 0);
    free(id1);
    free(id2);
    gwfix_stop_gw_clean(g);
}

static void
test_sender_types_ton_npi(void **state)
{
    struct gwfix *g = *state;
    static const struct { const char *from, *wire; int ton, npi; } s[] = {
        { "12345", "12345", 3, 0 },
        { "+18885550100", "18885550100", 1, 1 },
        { "+12125550100", "12125550100", 1, 1 },
        { "ACME", "ACME", 5, 0 },
    };

    start_node_smsc(g);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < 4; i++) {
        char json[256];
        /* alphanumeric senders may not send to +1: use a UK number */
        snprintf(json, sizeof(json), "{\"from\":\"%s\",\"to\":\"%s\",\"text\":\"type %d\"}",
                 s[i].from, i == 3 ? "+447700900123" : "+14155550104", i);
        char *id = gwfix_post_ok(g, json);
        free(gwfix_wait_state(g, id, "delivered", 10000));
        free(id);
    }
    FILE *f = fopen(gx(g)->nodelog, "r");
    char line[2048];
    int seen = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (!strstr(line, "\"event\":\"submit_sm\""))
            continue;
        for (int i = 0; i < 4; i++) {
            char want[128];
            snprintf(want, sizeof(want), "\"from\":\"%s\"", s[i].wire);
            if (!strstr(line, want))
                continue;
            char ton[64], npi[64];
            snprintf(ton, sizeof(ton), "\"source_addr_ton\":%d,", s[i].ton);
            snprintf(npi, sizeof(npi), "\"source_addr_npi\":%d,", s[i].npi);
            if (!strstr(line, ton) || !strstr(line, npi) ||
                !strstr(line, "\"dest_addr_ton\":1,") || !strstr(line, "\"dest_addr_npi\":1,"))
                fail_msg("wrong TON/NPI for %s: %s", s[i].from, line);
            seen++;
        }
    }
    if (f)
        fclose(f);
    assert_int_equal(seen, 4);
    gwfix_stop_gw_clean(g);
}

static void
test_receipts_decimal_ids(void **state)
{
    struct gwfix *g = *state;

    /* the SMSC answers submit_sm with hex ids and writes receipts in decimal,
     * with no receipted_message_id TLV to lean on */
    gwfix_start_sim(g, 0, "--dlr-id-format", "dec", "--no-dlr-tlvs", NULL);
    write_config(g, 100, "message_id_format = \"hex\"; receipt_id_format = \"decimal\";", NULL);
    gwfix_start_gw(g);
    char *ids[5];
    for (int i = 0; i < 5; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415555011%d\",\"text\":\"d%d\"}", i, i);
        ids[i] = gwfix_post_ok(g, json);
    }
    for (int i = 0; i < 5; i++) {
        free(gwfix_wait_state(g, ids[i], "delivered", 10000));
        free(ids[i]);
    }
    gwfix_stop_gw_clean(g);
}

static void
test_throttled_smsc_loses_nothing(void **state)
{
    struct gwfix *g = *state;
    enum { N = 60 };
    char *ids[N];

    /* queued first, SMSC second: the route then runs at its 200 mps
     * against an SMSC that takes 20 per second and bind */
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415556%04d\",\"text\":\"t%d\"}", i, i);
        ids[i] = gwfix_post_ok(g, json);
    }
    gwfix_start_sim(g, 0, "--throttle", "20", NULL);
    for (int i = 0; i < N; i++) {
        free(gwfix_wait_state(g, ids[i], "delivered", 30000));
        free(ids[i]);
    }
    char *stats = tl_ctl(g->sim[0].ctl_port, "stats\n");
    assert_true(tl_jnum(stats, "throttled") > 0);     /* the SMSC did push back */
    assert_int_equal(tl_jnum(stats, "accepted"), N);   /* and each went through once */
    gwfix_stop_gw_clean(g);
}

static void
test_smsc_drops_mid_window(void **state)
{
    struct gwfix *g = *state;
    enum { N = 80 };
    char *ids[N];

    gwfix_start_sim(g, 0, "--close-after", "25", "--resp-delay-ms", "50", NULL);
    write_config(g, 1000, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415557%04d\",\"text\":\"c%d\"}", i, i);
        ids[i] = gwfix_post_ok(g, json);
    }
    for (int i = 0; i < N; i++) {
        free(gwfix_wait_state(g, ids[i], "delivered", 30000));
        free(ids[i]);
    }
    gwfix_stop_gw_clean(g);
}

static void
test_redis_down_then_back(void **state)
{
    struct gwfix *g = *state;
    char *body = NULL, *hdr = NULL;

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    char *before = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550120\",\"text\":\"before\"}");
    free(gwfix_wait_state(g, before, "delivered", 10000));
    tl_redis_pause(&g->redis);
    tl_sleep_ms(1500);
    int st = tl_http(g->http_port, "POST", "/v1/messages", KEY,
                     "{\"from\":\"12345\",\"to\":\"+14155550121\",\"text\":\"while down\"}", &body,
                     &hdr);
    assert_int_equal(st, 503);
    assert_non_null(strstr(hdr, "Retry-After"));
    free(body);
    free(hdr);
    tl_redis_start(&g->redis);
    char *after = NULL;
    for (int i = 0; i < 100; i++) {
        int s2 = gwfix_post(g, "{\"from\":\"12345\",\"to\":\"+14155550122\",\"text\":\"after\"}", &body);
        if (s2 == 202) {
            after = strdup(tl_jstr(body, "id"));
            free(body);
            break;
        }
        free(body);
        tl_sleep_ms(100);
    }
    assert_non_null(after);
    free(gwfix_wait_state(g, after, "delivered", 10000));
    /* the message accepted before the outage is still there, delivered */
    free(gwfix_wait_state(g, before, "delivered", 2000));
    free(before);
    free(after);
    gwfix_stop_gw_clean(g);
}

static void
test_kill9_and_restart(void **state)
{
    struct gwfix *g = *state;
    enum { N = 40 };
    char *ids[N];

    gwfix_start_sim(g, 0, "--resp-delay-ms", "200", NULL);
    write_config(g, 50, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415558%04d\",\"text\":\"k%d\"}", i, i);
        ids[i] = gwfix_post_ok(g, json);
    }
    tl_sleep_ms(400);      /* some submitted, some on the wire, most queued */
    tl_stop(g->gw, SIGKILL, 2000);
    g->gw = 0;
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        free(gwfix_wait_state(g, ids[i], "delivered", 30000));
        free(ids[i]);
    }
    gwfix_stop_gw_clean(g);
}

static void
test_check_mode(void **state)
{
    struct gwfix *g = *state;
    char out[4300];

    write_config(g, 100, NULL, NULL);
    char *argv[] = { (char *)tl_bin("smsgwd"), "-t", "-c", g->conf, NULL };
    snprintf(out, sizeof(out), "%s/check.log", g->dir);
    int st = tl_stop(tl_spawn(argv, out), 0, 10000);
    assert_true(tl_exited_ok(st));
    /* a route naming an unknown SMSC fails the check with file:line */
    FILE *f = fopen(g->conf, "a");
    fprintf(f, "\n");
    fclose(f);
    write_config(g, 100, NULL, "smsc_typo = 1;");
    st = tl_stop(tl_spawn(argv, out), 0, 10000);
    assert_false(tl_exited_ok(st));
}

/* Send times (ms) of submit_sm seen by the node-smpp SMSC, in order. */
static size_t
node_submit_times(struct gwfix *g, long long *ms, size_t max, size_t *dups)
{
    FILE *f = fopen(gx(g)->nodelog, "r");
    char line[2048];
    size_t n = 0;
    static char seen[20000];

    memset(seen, 0, sizeof(seen));
    *dups = 0;
    while (f && fgets(line, sizeof(line), f) && n < max) {
        if (!strstr(line, "\"event\":\"submit_sm\""))
            continue;
        const char *p = strstr(line, "\"ms\":");
        const char *t = strstr(line, "\"text\":\"p");
        if (!p)
            continue;
        ms[n++] = atoll(p + 5);
        if (t) {
            int k = atoi(t + 9);
            if (k >= 0 && k < (int)sizeof(seen) && seen[k]++)
                (*dups)++;
        }
    }
    if (f)
        fclose(f);
    return n;
}

/* Send times (ms since the epoch) smsgwd logged for each submit_sm it
 * paced out (debug event submit_sm), appended to ms[] from *n on. */
static void
gw_submit_times(const char *log, long long *ms, size_t max, size_t *n)
{
    FILE *f = fopen(log, "r");
    char line[1024];

    while (f && fgets(line, sizeof(line), f) && *n < max) {
        if (!strstr(line, "event=submit_sm "))
            continue;
        struct tm tm = { 0 };
        int msec = 0;
        if (sscanf(line, "ts=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &msec) != 7)
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        ms[(*n)++] = (long long)timegm(&tm) * 1000 + msec;
    }
    if (f)
        fclose(f);
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static unsigned
max_in_window(const long long *ms, size_t n, long long width)
{
    unsigned best = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        while (ms[i] - ms[j] >= width)
            j++;
        if (i - j + 1 > best)
            best = (unsigned)(i - j + 1);
    }
    return best;
}

static void
post_many(struct gwfix *g, int port, int from, int count)
{
    for (int i = from; i < from + count; i++) {
        char json[160], *body = NULL;
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415559%04d\",\"text\":\"p%d\"}",
                 i % 10000, i);
        int st = tl_http(port, "POST", "/v1/messages", KEY, json, &body, NULL);
        if (st != 202)
            fail_msg("POST %d -> %d %s", i, st, body ? body : "");
        free(body);
    }
}

/*
 * 4,000 messages queued on a 200 mps route, then the SMSC comes up. The
 * hard property is asserted: no sliding second above the limit (measured
 * where the SMSC receives, with millisecond timestamps, so one PDU of
 * loopback jitter is allowed). How close the run stays to 200/s is
 * printed, not asserted: timing on a shared machine is a benchmark's job
 * (bench/pacing.sh, BENCHMARKS.md).
 */
static void
test_pacing_200mps(void **state)
{
    struct gwfix *g = *state;
    enum { N = 4000 };
    static long long ms[N + 100];
    size_t dups;

    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);                 /* the SMSC is down: everything queues */
    post_many(g, g->http_port, 0, N);
    start_node_smsc(g);
    size_t n = 0;
    for (int i = 0; i < 600 && n < N; i++) {
        tl_sleep_ms(100);
        n = node_submit_times(g, ms, N + 100, &dups);
    }
    assert_int_equal(n, N);
    assert_int_equal(dups, 0);
    unsigned r1s = max_in_window(ms, n, 1000);
    /* The limit is the engine's promise: check it where the engine sends. */
    static long long sent[N + 100];
    size_t ns = 0;
    gw_submit_times(g->gwlog, sent, N + 100, &ns);
    assert_int_equal(ns, N);
    qsort(sent, ns, sizeof(sent[0]), cmp_ll);
    unsigned w1s = max_in_window(sent, ns, 1000), w100 = max_in_window(sent, ns, 100);
    double secs = (double)(sent[ns - 1] - sent[0]) / 1000.0;
    print_message("pacing 200 mps: %zu submit_sm in %.2f s (%.1f/s); sent: max %u per 1 s, %u "
                  "per 100 ms; as received by the SMSC: max %u per 1 s\n", ns, secs,
                  (double)(ns - 1) / secs, w1s, w100, r1s);
    assert_true(w1s <= 200);
    assert_true(w100 <= 21);
    gwfix_stop_gw_clean(g);
}

/* Two smsgwd instances on one Redis, one route: each message goes out
 * once, and the two together stay within the route's limit. */
/* The id of the Redis client named name in CLIENT LIST, or -1. */
static long long
redis_client_id(int port, const char *name)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, "CLIENT LIST");
    long long id = -1;
    char want[200];
    snprintf(want, sizeof(want), " name=%s ", name);
    for (char *line = r && r->str ? r->str : NULL; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, want) && strncmp(line, "id=", 3) == 0)
            id = strtoll(line + 3, NULL, 10);
        line = end ? end + 1 : NULL;
    }
    freeReplyObject(r);
    redisFree(c);
    return id;
}

static void
redis_kill_client(int port, long long id)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "CLIENT KILL ID %lld", id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

/*
 * smsgwd's three Redis connections carry their names (CLIENT LIST tells an
 * operator which is which); the pacer's connection dropped mid-run comes
 * back and the route goes on: every message delivered, none twice.
 */
static void
test_pacer_connection_lost(void **state)
{
    struct gwfix *g = *state;
    enum { N = 150 };

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 50, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(gwfix_log_wait(g, "redis_ready conn=pacer", 1, 5000));
    assert_true(redis_client_id(g->redis.port, "smsgwd:test-1:main") > 0);
    assert_true(redis_client_id(g->redis.port, "smsgwd:test-1:router") > 0);
    long long pacer = redis_client_id(g->redis.port, "smsgwd:test-1:pacer");
    assert_true(pacer > 0);

    post_many(g, g->http_port, 0, N);       /* 3 s of the route's work */
    tl_sleep_ms(1000);
    redis_kill_client(g->redis.port, pacer);
    assert_true(gwfix_log_wait(g, "redis_lost conn=pacer", 1, 5000));
    assert_true(gwfix_log_wait(g, "redis_ready conn=pacer", 2, 5000));
    long long again = redis_client_id(g->redis.port, "smsgwd:test-1:pacer");
    assert_true(again > 0 && again != pacer);
    int delivered = 0;
    for (int waited = 0; waited < 20000 && delivered < N; waited += 200) {
        tl_sleep_ms(200);
        delivered = gwfix_log_count(g, "state=delivered");
    }
    assert_int_equal(delivered, N);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), N);
    gwfix_stop_gw_clean(g);
}

static void
test_two_instances_share_route(void **state)
{
    struct gwfix *g = *state;
    enum { N = 1000 };
    static long long ms[N + 100];
    size_t dups;
    char conf2[4200], log2[4300];

    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    pid_t gw1 = g->gw;
    /* the second instance: its own name, HTTP port and log */
    int port1 = g->http_port;
    snprintf(conf2, sizeof(conf2), "%s/smsgw2.conf", g->dir);
    snprintf(log2, sizeof(log2), "%s/smsgwd2.log", g->dir);
    char conf1[4200];
    snprintf(conf1, sizeof(conf1), "%s", g->conf);
    snprintf(g->conf, sizeof(g->conf), "%s", conf2);
    gx(g)->instance = "test-2";
    g->http_port = tl_free_port();
    write_config(g, 100, NULL, NULL);
    char *argv[] = { (char *)tl_bin("smsgwd"), "-c", conf2, NULL };
    pid_t gw2 = gx(g)->gw2 = tl_spawn(argv, log2);
    assert_true(tl_wait_port(g->http_port, 10000));
    post_many(g, port1, 0, N / 2);
    post_many(g, g->http_port, N / 2, N / 2);
    start_node_smsc(g);
    size_t n = 0;
    for (int i = 0; i < 600 && n < N; i++) {
        tl_sleep_ms(100);
        n = node_submit_times(g, ms, N + 100, &dups);
    }
    tl_sleep_ms(500);
    n = node_submit_times(g, ms, N + 100, &dups);
    unsigned r1s = max_in_window(ms, n, 1000);
    static long long sent[N + 100];
    size_t ns = 0, n1;
    gw_submit_times(g->gwlog, sent, N + 100, &ns);
    n1 = ns;
    gw_submit_times(log2, sent, N + 100, &ns);
    qsort(sent, ns, sizeof(sent[0]), cmp_ll);
    unsigned w1s = max_in_window(sent, ns, 1000), w100 = max_in_window(sent, ns, 100);
    print_message("two instances, 100 mps route: %zu submit_sm (%zu and %zu), duplicates %zu; "
                  "sent together: max %u per 1 s, %u per 100 ms; received: max %u per 1 s\n",
                  n, n1, ns - n1, dups, w1s, w100, r1s);
    assert_int_equal(n, N);
    assert_int_equal(dups, 0);
    assert_int_equal(ns, N);
    assert_true(n1 > 0 && ns - n1 > 0);     /* both instances did send */
    assert_true(w1s <= 100);
    assert_true(w100 <= 11);
    int st2 = tl_stop(gw2, SIGTERM, 15000);
    gx(g)->gw2 = 0;
    g->gw = gw1;
    gwfix_stop_gw_clean(g);
    if (!tl_exited_ok(st2)) {
        tl_dump_tail(log2);
        fail_msg("second smsgwd did not exit cleanly");
    }
}

/* Status callbacks: every state change POSTed, a 500 retried. */
static void
test_status_callbacks(void **state)
{
    struct gwfix *g = *state;
    char hooklog[4300], script[4300], port[16], json[512];
    int hp = tl_free_port();

    snprintf(hooklog, sizeof(hooklog), "%s/hook.log", g->dir);
    snprintf(script, sizeof(script), "%s/tests/interop/hook.js", tl_top());
    snprintf(port, sizeof(port), "%d", hp);
    setenv("FAIL_FIRST", "1", 1);
    char *argv[] = { "/usr/bin/env", "node", script, port, NULL };
    pid_t hook = tl_spawn(argv, hooklog);
    unsetenv("FAIL_FIRST");
    assert_true(tl_wait_port(hp, 10000));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+14155550130\",\"text\":\"cb\","
             "\"client_ref\":\"ref-9\",\"callback_url\":\"http://127.0.0.1:%d/status\"}", hp);
    char *id = gwfix_post_ok(g, json);
    free(gwfix_wait_state(g, id, "delivered", 10000));
    /* each of queued, submitted, delivered: a 500 first, then a 200 */
    int ok = 0, failed = 0;
    for (int i = 0; i < 100 && ok < 3; i++) {
        tl_sleep_ms(100);
        FILE *f = fopen(hooklog, "r");
        char line[4096];
        ok = failed = 0;
        while (f && fgets(line, sizeof(line), f)) {
            if (!strstr(line, id))
                continue;
            if (strstr(line, "\"status\":200"))
                ok++;
            else
                failed++;
        }
        if (f)
            fclose(f);
    }
    if (ok != 3 || failed != 3) {
        tl_dump_file(hooklog);
        fail_msg("callbacks: %d delivered, %d failed first tries (want 3 and 3)", ok, failed);
    }
    char ev[200];
    const char *states[] = { "queued", "submitted", "delivered" };
    FILE *f = fopen(hooklog, "r");
    char all[65536];
    size_t n = fread(all, 1, sizeof(all) - 1, f);
    all[n] = 0;
    fclose(f);
    for (int i = 0; i < 3; i++) {
        snprintf(ev, sizeof(ev), "\"event_id\":\"%s:%s\"", id, states[i]);
        assert_non_null(strstr(all, ev));
    }
    assert_non_null(strstr(all, "ref-9"));
    assert_non_null(strstr(all, "\"path\":\"/status\""));
    assert_non_null(strstr(all, "application/json"));
    free(id);
    gwfix_stop_gw_clean(g);
    tl_stop(hook, SIGTERM, 3000);
}

/* A 10DLC campaign's own throughput (20 mps) holds on a faster route. */
static void
test_sender_mps(void **state)
{
    struct gwfix *g = *state;
    enum { N = 100 };
    static long long sent[N + 10];
    size_t ns = 0;

    gx(g)->tendlc_extra = "mps = 20;";
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        char json[160], *body = NULL;
        snprintf(json, sizeof(json), "{\"from\":\"+12125550100\",\"to\":\"+1415554%04d\",\"text\":\"s%d\"}", i, i);
        assert_int_equal(gwfix_post(g, json, &body), 202);
        free(body);
    }
    gwfix_start_sim(g, 0, NULL);
    for (int i = 0; i < 200 && ns < N; i++) {
        tl_sleep_ms(100);
        ns = 0;
        gw_submit_times(g->gwlog, sent, N + 10, &ns);
    }
    assert_int_equal(ns, N);
    qsort(sent, ns, sizeof(sent[0]), cmp_ll);
    unsigned w1s = max_in_window(sent, ns, 1000);
    double secs = (double)(sent[ns - 1] - sent[0]) / 1000.0;
    print_message("sender at 20 mps on a 200 mps route: %zu in %.2f s, max %u per 1 s\n", ns, secs, w1s);
    assert_true(w1s <= 20);
    gwfix_stop_gw_clean(g);
}

/*
 * MO and compliance keywords: an MO reaches the account's webhook (which is
 * down at first: it arrives once it is up); STOP opts the subscriber out of
 * that number with one confirmation, MT from it is then refused (403) while
 * another number still reaches them; START opts back in; HELP answers with
 * the account's help text; a long MO in parts arrives whole.
 */
static void
test_mo_stop_start_help(void **state)
{
    struct gwfix *g = *state;
    char hooklog[4300], script[4300], port[16], extra[256], *body = NULL;
    int hp = tl_free_port();

    snprintf(hooklog, sizeof(hooklog), "%s/hook.log", g->dir);
    snprintf(script, sizeof(script), "%s/tests/interop/hook.js", tl_top());
    snprintf(port, sizeof(port), "%d", hp);
    snprintf(extra, sizeof(extra), "mo_url = \"http://127.0.0.1:%d/mo\"; help_text = \"ACME alerts.\";", hp);
    gx(g)->account_extra = extra;
    /* a second account gets the MO that starts with PIZZA on the same number */
    char beta[400];
    snprintf(beta, sizeof(beta), ", { name = \"beta\"; api_keys = [\"sha256:%064d\"]; "
             "senders = [\"12345\"]; mo_url = \"http://127.0.0.1:%d/beta\"; }", 7, hp);
    gx(g)->tail_extra = beta;
    gx(g)->tail_top = "mo_routes = ( { number = \"12345\"; keyword = \"PIZZA\"; account = \"beta\"; } );";
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    tl_sleep_ms(500);      /* bound */

    /* an MO while the webhook is down */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345 hello there\n"), "OK"));
    tl_sleep_ms(800);
    char *argv[] = { "/usr/bin/env", "node", script, port, NULL };
    pid_t hook = tl_spawn(argv, hooklog);
    assert_true(tl_wait_port(hp, 10000));
    for (int i = 0; i < 100 && !tl_count_lines(hooklog, "hello there", NULL); i++)
        tl_sleep_ms(100);
    if (tl_count_lines(hooklog, "hello there", "handled\\\":false") != 1) {
        tl_dump_file(hooklog);
        tl_dump_tail(g->gwlog);
        fail_msg("the MO did not reach the webhook once it was up");
    }

    /* STOP: confirmation sent, MT from that number refused */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345  Stop.\n"), "OK"));
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 1; i++)
        tl_sleep_ms(100);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);
    for (int i = 0; i < 50 && !tl_count_lines(hooklog, "Stop.", NULL); i++)
        tl_sleep_ms(100);
    assert_int_equal(tl_count_lines(hooklog, "Stop.", "handled\\\":true"), 1);
    int st = gwfix_post(g, "{\"from\":\"12345\",\"to\":\"+14155550199\",\"text\":\"promo\"}", &body);
    if (st != 403 || !strstr(body, "opted_out"))
        fail_msg("MT after STOP: %d %s", st, body ? body : "");
    free(body);
    /* the opt-out was of that number: another of the account's numbers may still send */
    char *id = gwfix_post_ok(g, "{\"from\":\"+18885550100\",\"to\":\"+14155550199\",\"text\":\"other number\"}");
    free(id);

    /* START: opted back in, with a confirmation */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345 START\n"), "OK"));
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 3; i++)
        tl_sleep_ms(100);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 3);
    id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550199\",\"text\":\"welcome back\"}");
    free(id);

    /* HELP: answered with one message */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550198 12345 help\n"), "OK"));
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 5; i++)
        tl_sleep_ms(100);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 5);

    /* the opt-out API: look up, opt out by API, bulk import, opt back in */
    char *hb = NULL;
    assert_int_equal(tl_http(g->http_port, "GET", "/v1/optouts/+14155550199?sender=12345", KEY, NULL, &hb, NULL), 200);
    assert_non_null(strstr(hb, "\"opted_out\":false"));
    free(hb);
    assert_int_equal(tl_http(g->http_port, "PUT", "/v1/optouts/+14155550100", KEY, NULL, &hb, NULL), 200);
    assert_non_null(strstr(hb, "\"opted_out\":true"));
    free(hb);
    st = gwfix_post(g, "{\"from\":\"+18885550100\",\"to\":\"+14155550100\",\"text\":\"x\"}", &body);
    assert_int_equal(st, 403);      /* account-wide: every number of the account */
    free(body);
    assert_int_equal(tl_http(g->http_port, "POST", "/v1/optouts?sender=12345", KEY,
                             "number\n+14155550001\n14155550002\nnot-a-number\n\n", &hb, NULL), 200);
    assert_non_null(strstr(hb, "\"imported\":2"));
    assert_non_null(strstr(hb, "\"invalid\":1"));
    free(hb);
    st = gwfix_post(g, "{\"from\":\"12345\",\"to\":\"+14155550002\",\"text\":\"x\"}", &body);
    assert_int_equal(st, 403);
    free(body);
    assert_int_equal(tl_http(g->http_port, "DELETE", "/v1/optouts/+14155550002?sender=12345", KEY, NULL, &hb, NULL), 200);
    free(hb);
    id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550002\",\"text\":\"x\"}");
    free(id);
    assert_int_equal(tl_http(g->http_port, "GET", "/v1/optouts/12", KEY, NULL, &hb, NULL), 400);
    free(hb);

    /* a configured auto-responder: JOIN gets its welcome text, and the
     * client sees the MO marked handled */
    int replies = gwfix_log_count(g, "reason=keyword_reply");
    assert_int_equal(replies, 3);      /* STOP, START, HELP */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550196 12345 join!\n"), "OK"));
    for (int i = 0; i < 100 && gwfix_log_count(g, "reason=keyword_reply") < 4; i++)
        tl_sleep_ms(100);
    assert_int_equal(gwfix_log_count(g, "reason=keyword_reply"), 4);
    for (int i = 0; i < 50 && !tl_count_lines(hooklog, "join!", NULL); i++)
        tl_sleep_ms(100);
    assert_int_equal(tl_count_lines(hooklog, "join!", "handled\\\":true"), 1);

    /* mo_routes: the first word decides the account */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550195 12345 Pizza tonight?\n"), "OK"));
    for (int i = 0; i < 100 && !tl_count_lines(hooklog, "Pizza tonight", NULL); i++)
        tl_sleep_ms(100);
    assert_int_equal(tl_count_lines(hooklog, "Pizza tonight", "\"path\":\"/beta\""), 1);

    /* a long MO in parts arrives whole */
    char cmd[600] = "mo 14155550197 12345 ";
    for (int i = 0; i < 300; i++)
        strcat(cmd, i % 10 == 9 ? " " : "x");
    strcat(cmd, "END-OF-LONG\n");
    char *reply = tl_ctl(g->sim[0].ctl_port, cmd);
    if (!strstr(reply, "OK parts=") || strstr(reply, "OK parts=1\n"))
        fail_msg("the sim did not split the long MO: %s", reply);
    for (int i = 0; i < 100 && !tl_count_lines(hooklog, "END-OF-LONG", NULL); i++)
        tl_sleep_ms(100);
    if (tl_count_lines(hooklog, "xxxxxxxxx xxxxxxxxx", "END-OF-LONG") != 1) {
        tl_dump_file(hooklog);
        fail_msg("the long MO did not arrive whole");
    }
    gwfix_stop_gw_clean(g);
    tl_stop(hook, SIGTERM, 3000);
}

/* ------------------------------------------------------------ SMPP clients */

#define SMPP_ID "client1"
#define SMPP_PW "pw-12345"

/* Account acme as an SMPP client (window 16), and the listener. */
static void
smpp_setup(struct gwfix *g, char *extra, size_t size)
{
    char hash[CONFIG_SMPP_HASH_MAX];
    assert_int_equal(config_hash_smpp_password(SMPP_PW, 1000, hash, sizeof(hash)), 0);
    snprintf(extra, size, "smpp_system_id = \"" SMPP_ID "\"; smpp_password = \"%s\"; "
             "smpp_allowed_ips = [ \"127.0.0.0/8\" ]; smpp_window = 16;", hash);
    gx(g)->account_extra = extra;
    gx(g)->smpp_port = tl_free_port();
}

/* Run bin/smpp-load (ASan build) against smsgwd's SMPP port as a
 * transceiver until it exits. Returns what it wrote (its JSON line and
 * any errors; malloc'd) and its exit code in *rc. */
static char *run_load_ex(struct gwfix *g, const char *password, const char *from, const char *to,
                         const char *count, const char *window, const char *mode,
                         const char *rd, int *rc);

static char *
run_load(struct gwfix *g, const char *password, const char *from, const char *to,
         const char *count, const char *window, int *rc)
{
    return run_load_ex(g, password, from, to, count, window, "trx", "0", rc);
}

/* The same with a bind mode and registered_delivery (receipts are waited
 * for up to 10 s after the last resp when rd is not 0 and mode not tx). */
static char *
run_load_ex(struct gwfix *g, const char *password, const char *from, const char *to,
            const char *count, const char *window, const char *mode, const char *rd, int *rc)
{
    static int seq;
    char port[16], out[4300];
    int st = 0;
    bool done = false;

    snprintf(port, sizeof(port), "%d", gx(g)->smpp_port);
    snprintf(out, sizeof(out), "%s/load-%d.log", g->dir, seq++);
    char *argv[] = { (char *)tl_bin("smpp-load"), "--host", "127.0.0.1", "--port", port,
                     "--system-id", SMPP_ID, "--password", (char *)password, "--bind-mode",
                     (char *)mode, "--count", (char *)count, "--window", (char *)window,
                     "--from", (char *)from, "--to", (char *)to, "--connect-timeout-ms", "2000",
                     "--timeout-ms", "5000", "--registered-delivery", (char *)rd,
                     "--dlr-wait-ms", "10000", "--json-only", NULL };
    pid_t pid = tl_spawn(argv, out);
    for (int i = 0; i < 600 && !done; i++) {
        done = waitpid(pid, &st, WNOHANG) == pid;
        if (!done)
            tl_sleep_ms(50);
    }
    if (!done) {
        tl_stop(pid, SIGKILL, 2000);
        tl_dump_file(out);
        fail_msg("smpp-load did not finish");
    }
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = 0;
    fclose(f);
    return text;
}

/* A client binds as a transceiver and submits 50 messages, 16 at a time:
 * 50 OK resps with our ids, and the carrier's SMSC gets 50 submit_sm. */
static void
test_smpp_client_submit(void **state)
{
    struct gwfix *g = *state;
    char extra[512];
    int rc;

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    char *out = run_load(g, SMPP_PW, "12345", "14155550150", "50", "16", &rc);
    if (rc != 0 || !strstr(out, "\"messages_ok\":50") || !strstr(out, "\"ESME_ROK\":50")) {
        tl_dump_tail(g->gwlog);
        fail_msg("smpp-load: rc %d: %s", rc, out);
    }
    free(out);
    long n = 0;
    for (int i = 0; i < 100 && (n = gwfix_sim_stat(g, 0, "submit_sm")) < 50; i++)
        tl_sleep_ms(100);
    assert_int_equal(n, 50);
    assert_true(tl_count_lines(g->gwlog, "smpp_client_bound", "account=acme") >= 1);
    assert_int_equal(tl_count_lines(g->gwlog, "msg_state", "source=smpp"), 50);
    gwfix_stop_gw_clean(g);
}

/* A wrong password is refused at bind; a source the account may not use
 * is ESME_RINVSRCADR; an opted-out subscriber is ESME_RX_R_APPN. */
static void
test_smpp_client_refusals(void **state)
{
    struct gwfix *g = *state;
    char extra[512], *body = NULL;
    int rc;

    smpp_setup(g, extra, sizeof(extra));
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));

    char *out = run_load(g, SMPP_PW, "99999", "14155550160", "3", "3", &rc);
    if (rc != 0 || !strstr(out, "\"ESME_RINVSRCADR\":3"))
        fail_msg("unknown source: rc %d: %s", rc, out);
    free(out);
    assert_int_equal(gwfix_log_count(g, "smpp_client_bound"), 1);

    /* (smpp-load retries the bind until its connect timeout; after 5
     * failures they are refused without PBKDF2, and the right password,
     * verified above, still binds from the same address) */
    out = run_load(g, "wrong", "12345", "14155550160", "1", "1", &rc);
    if (rc == 0 || (!strstr(out, "ESME_RINVPASWD") && !strstr(out, "ESME_RBINDFAIL")))
        fail_msg("wrong password: rc %d: %s", rc, out);
    free(out);
    assert_true(tl_count_lines(g->gwlog, "smpp_bind_refused", "status=ESME_RINVPASWD") >= 1);
    assert_int_equal(gwfix_log_count(g, "smpp_client_bound"), 1);

    assert_int_equal(tl_http(g->http_port, "PUT", "/v1/optouts/+14155550177", KEY, NULL, &body,
                             NULL), 200);
    free(body);
    out = run_load(g, SMPP_PW, "12345", "14155550177", "1", "1", &rc);
    if (rc != 0 || !strstr(out, "\"ESME_RX_R_APPN\":1"))
        fail_msg("opted out: rc %d: %s", rc, out);
    free(out);
    /* and a subscriber who did not opt out still gets through */
    out = run_load(g, SMPP_PW, "+18885550100", "14155550178", "2", "2", &rc);
    if (rc != 0 || !strstr(out, "\"ESME_ROK\":2"))
        fail_msg("after refusals: rc %d: %s", rc, out);
    free(out);
    gwfix_stop_gw_clean(g);
}

/* A client asks for receipts (registered_delivery 1) on a transceiver:
 * smsc-sim's receipts come back to it as deliver_sm with our ids. */
static void
test_smpp_client_receipts(void **state)
{
    struct gwfix *g = *state;
    char extra[512];
    int rc;

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    /* as a transceiver, then as a transmitter + receiver pair */
    static const char *const modes[] = { "trx", "txrx" };
    for (int m = 0; m < 2; m++) {
        char *out = run_load_ex(g, SMPP_PW, "12345", "14155550151", "20", "8", modes[m], "1", &rc);
        if (rc != 0 || !strstr(out, "\"ESME_ROK\":20") || !strstr(out, "\"receipts_matched\":20") ||
            !strstr(out, modes[m][1] == 'r' ? "\"bind_mode\":\"trx\"" : "\"bind_mode\":\"txrx\"")) {
            tl_dump_tail(g->gwlog);
            fail_msg("smpp-load --bind-mode %s: rc %d: %s", modes[m], rc, out);
        }
        free(out);
    }
    gwfix_stop_gw_clean(g);
}

/* The output of redis-cli against the test Redis (one line per element). */
static char *
rcli(struct gwfix *g, const char *args)
{
    char cmd[512];
    static char buf[16384];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s", g->redis.port, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = 0;
    pclose(p);
    return buf;
}

/* A receiver bind of our own, collecting the receipts it is sent. */
struct rx {
    enum smpp_state state;
    unsigned n, esm_ok, tlv_ok;
    char ids[16][66];
};

static void
rx_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
            void *ctx)
{
    (void)s;
    (void)from;
    (void)reason;
    ((struct rx *)ctx)->state = to;
}

static void
rx_on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct rx *x = ctx;
    if (req->hdr.command_id == DELIVER_SM && x->n < 16) {
        struct smpp_dlr d;
        smpp_dlr_parse(req->u.deliver_sm.short_message, req->u.deliver_sm.sm_length, &d);
        snprintf(x->ids[x->n], sizeof(x->ids[0]), "%s", d.id);
        if (req->u.deliver_sm.esm_class == 0x04 && d.stat == SMPP_DLR_STAT_DELIVRD)
            x->esm_ok++;
        if ((req->tlv.present & SMPP_TLV_RECEIPTED_MESSAGE_ID) &&
            strcmp(req->tlv.receipted_message_id, d.id) == 0 &&
            req->tlv.message_state == 2)
            x->tlv_ok++;
        x->n++;
    }
    smpp_session_respond_status(s, &req->hdr, ESME_ROK);
}

/* Receipts for a client bound only as a transmitter wait in Redis
 * (P clientq:acme) and arrive, in order, when it binds a receiver. */
static void
test_smpp_client_receipts_queued(void **state)
{
    struct gwfix *g = *state;
    char extra[512];
    int rc;

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    char *out = run_load_ex(g, SMPP_PW, "12345", "14155550152", "5", "1", "tx", "1", &rc);
    if (rc != 0 || !strstr(out, "\"ESME_ROK\":5")) {
        tl_dump_tail(g->gwlog);
        fail_msg("smpp-load: rc %d: %s", rc, out);
    }
    free(out);
    for (int i = 0; i < 100 && atoi(rcli(g, "LLEN t:clientq:acme")) < 5; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme")), 5);
    /* The queue's order, by id. */
    char want[5][66];
    char *list = rcli(g, "LRANGE t:clientq:acme 0 -1");
    for (int i = 0; i < 5; i++) {
        snprintf(want[i], sizeof(want[i]), "%s", tl_jstr(list, "id"));
        assert_true(strstr(list, "\"type\":\"receipt\"") != NULL);
        list = strchr(list, '\n');
        assert_non_null(list);
        list++;
    }

    struct event_base *base = event_base_new();
    struct rx x = { 0 };
    struct smpp_session_cfg sc;
    smpp_session_cfg_defaults(&sc);
    static const struct smpp_session_ops ops = { .on_state = rx_on_state,
                                                 .on_request = rx_on_request };
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, &x);
    assert_non_null(s);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_RX, .system_id = SMPP_ID,
                                   .password = SMPP_PW };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, x.n >= 5, 5000);
    TL_RUN_UNTIL(base, 0, 300);      /* nothing more comes */
    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 50);
    smpp_session_free(s);
    event_base_free(base);
    if (x.n != 5) {
        tl_dump_tail(g->gwlog);
        fail_msg("received %u receipts", x.n);
    }
    for (int i = 0; i < 5; i++)
        assert_string_equal(x.ids[i], want[i]);
    assert_int_equal(x.esm_ok, 5);
    assert_int_equal(x.tlv_ok, 5);
    for (int i = 0; i < 40 && atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")) > 0; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme")), 0);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")), 0);
    gwfix_stop_gw_clean(g);
}

/* A receiver bind of our own that keeps every MO deliver_sm it is sent. */
#define MO_RX_MAX 128
struct mo_rx {
    enum smpp_state state;
    unsigned n, bad;
    char from[MO_RX_MAX][24], to[MO_RX_MAX][24], text[MO_RX_MAX][1200];
    uint8_t from_ton[MO_RX_MAX];
    bool hold;                      /* keep the resps in hdr[] instead of answering */
    unsigned held;
    struct smpp_hdr hdr[MO_RX_MAX];
};

static void
mo_rx_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to,
               const char *reason, void *ctx)
{
    (void)s;
    (void)from;
    (void)reason;
    ((struct mo_rx *)ctx)->state = to;
}

static void
mo_rx_on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct mo_rx *x = ctx;
    if (req->hdr.command_id == DELIVER_SM && x->n < MO_RX_MAX) {
        const deliver_sm_t *d = &req->u.deliver_sm;
        const uint8_t *sm = d->short_message;
        size_t smlen = d->sm_length, tl = 0;
        if (smlen == 0 && (req->tlv.present & SMPP_TLV_MESSAGE_PAYLOAD)) {
            sm = req->tlv.message_payload;
            smlen = req->tlv.message_payload_len;
        }
        if (d->esm_class != 0 ||
            smpp_text_decode(d->data_coding, SMPP_TEXT_ENC_GSM7, sm, smlen, 0, 0,
                             x->text[x->n], sizeof(x->text[0]) - 1, &tl) != SMPP_TEXT_OK)
            x->bad++;
        x->text[x->n][tl] = 0;
        snprintf(x->from[x->n], sizeof(x->from[0]), "%s", (const char *)d->source_addr);
        snprintf(x->to[x->n], sizeof(x->to[0]), "%s", (const char *)d->destination_addr);
        x->from_ton[x->n] = d->source_addr_ton;
        x->n++;
        if (x->hold) {
            x->hdr[x->held++] = req->hdr;
            return;
        }
    }
    smpp_session_respond_status(s, &req->hdr, ESME_ROK);
}

/* Connect and bind a receiver (mode SMPP_BIND_RX or _TRX) that fills x. */
static struct smpp_session *
mo_rx_bind(struct gwfix *g, struct event_base *base, struct mo_rx *x, enum smpp_bind_mode mode)
{
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = mo_rx_on_state,
                                                 .on_request = mo_rx_on_request };
    smpp_session_cfg_defaults(&sc);
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, x);
    assert_non_null(s);
    struct smpp_bind_params bp = { .mode = mode, .system_id = SMPP_ID, .password = SMPP_PW };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, x->state == SMPP_BOUND_RX || x->state == SMPP_BOUND_TRX, 5000);
    assert_true(x->state == SMPP_BOUND_RX || x->state == SMPP_BOUND_TRX);
    return s;
}

static void
mo_rx_close(struct event_base *base, struct smpp_session *s)
{
    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 50);
    smpp_session_free(s);
}

/*
 * MO to an SMPP client: mo_routes sends number 12345 to acme (an SMPP
 * account without mo_url) and the keyword OTHER to beta. An MO injected at
 * smsc-sim reaches acme's receiver bind as a deliver_sm with the
 * subscriber as source, our number as destination and the text; beta's MO
 * does not. A long MO whose parts smsc-sim sends in reverse order arrives
 * once, whole. MOs sent while the client is away wait in Redis and arrive
 * in their order when it binds again (as a transceiver).
 */
static void
test_smpp_client_gets_mo(void **state)
{
    struct gwfix *g = *state;
    char extra[512];

    smpp_setup(g, extra, sizeof(extra));
    gx(g)->tail_extra = ", { name = \"beta\"; api_keys = [\"sha256:"
                    "0000000000000000000000000000000000000000000000000000000000000007\"]; "
                    "senders = [\"12345\"]; }";
    gx(g)->tail_top = "mo_routes = ( { number = \"12345\"; account = \"acme\"; },\n"
                  "              { number = \"12345\"; keyword = \"OTHER\"; account = \"beta\"; } );";
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "binds_now") < 1; i++)
        tl_sleep_ms(50);

    struct event_base *base = event_base_new();
    struct mo_rx *x = calloc(1, sizeof(*x));
    struct smpp_session *s = mo_rx_bind(g, base, x, SMPP_BIND_RX);

    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345 hello client\n"), "OK"));
    TL_RUN_UNTIL(base, x->n >= 1, 5000);
    if (x->n != 1) {
        tl_dump_tail(g->gwlog);
        fail_msg("the MO did not reach the client (%u deliver_sm)", x->n);
    }
    assert_string_equal(x->from[0], "14155550199");
    assert_int_equal(x->from_ton[0], 1);
    assert_string_equal(x->to[0], "12345");
    assert_string_equal(x->text[0], "hello client");

    /* beta's keyword: stored for beta, not sent to acme's client */
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345 OTHER thing\n"), "OK"));
    for (int i = 0; i < 100 && atoi(rcli(g, "LLEN t:mo:beta")) < 1; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:mo:beta")), 1);

    /* a long MO, parts sent last first */
    char cmd[700] = "mo_parts 3,2,1 14155550197 12345 ", want[600] = "";
    for (int i = 0; i < 330; i++)
        strcat(want, i % 10 == 9 ? " " : "y");
    strcat(want, "END-OF-LONG");
    strcat(cmd, want);
    strcat(cmd, "\n");
    char *reply = tl_ctl(g->sim[0].ctl_port, cmd);
    if (!strstr(reply, "OK parts=3"))
        fail_msg("smsc-sim did not send 3 parts: %s", reply);
    TL_RUN_UNTIL(base, x->n >= 2, 5000);
    TL_RUN_UNTIL(base, 0, 300);         /* nothing more (OTHER, or parts) */
    if (x->n != 2) {
        tl_dump_tail(g->gwlog);
        fail_msg("expected 2 deliver_sm, got %u (last: %s)", x->n, x->text[x->n - 1]);
    }
    assert_string_equal(x->from[1], "14155550197");
    assert_string_equal(x->text[1], want);
    mo_rx_close(base, s);

    /* the client is away: three MOs wait in Redis */
    for (int i = 0; i < 100 && !gwfix_log_count(g, "smpp_client_unbound"); i++)
        tl_sleep_ms(50);
    for (int i = 1; i <= 3; i++) {
        char c[80];
        snprintf(c, sizeof(c), "mo 1415555019%d 12345 away %d\n", i, i);
        assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, c), "OK"));
    }
    for (int i = 0; i < 100 && atoi(rcli(g, "LLEN t:clientq:acme")) < 3; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme")), 3);

    memset(x, 0, sizeof(*x));
    s = mo_rx_bind(g, base, x, SMPP_BIND_TRX);
    TL_RUN_UNTIL(base, x->n >= 3, 5000);
    TL_RUN_UNTIL(base, 0, 300);
    mo_rx_close(base, s);
    event_base_free(base);
    if (x->n != 3) {
        tl_dump_tail(g->gwlog);
        fail_msg("after the rebind: %u deliver_sm", x->n);
    }
    for (int i = 0; i < 3; i++) {
        char t[32], fr[32];
        snprintf(t, sizeof(t), "away %d", i + 1);
        snprintf(fr, sizeof(fr), "1415555019%d", i + 1);
        assert_string_equal(x->text[i], t);
        assert_string_equal(x->from[i], fr);
    }
    assert_int_equal(x->bad, 0);
    free(x);
    for (int i = 0; i < 40 && atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")) > 0; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme")), 0);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")), 0);
    gwfix_stop_gw_clean(g);
}

/*
 * Delivery to a client is bounded by its window, not by a fixed 32: with
 * smpp_window 40, 100 MO items waiting in P clientq:acme reach a receiver
 * that does not answer as exactly 40 deliver_sm; once it answers, the rest
 * follow in order, each removed from Redis after its resp.
 */
static void
test_smpp_client_deliver_window(void **state)
{
    struct gwfix *g = *state;
    char base_extra[512], extra[700], cmd[400];

    smpp_setup(g, base_extra, sizeof(base_extra));
    snprintf(extra, sizeof(extra), "%s", base_extra);
    char *w = strstr(extra, "smpp_window = 16;");
    assert_non_null(w);
    memcpy(w, "smpp_window = 40;", 17);
    gx(g)->account_extra = extra;
    for (int i = 0; i < 100; i++) {
        snprintf(cmd, sizeof(cmd), "RPUSH t:clientq:acme '{\"type\":\"mo\","
                 "\"from\":\"+14155550100\",\"to\":\"12345\",\"text\":\"item %03d\","
                 "\"received\":1}'", i);
        assert_int_equal(atoi(rcli(g, cmd)), i + 1);
    }
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));

    struct event_base *base = event_base_new();
    struct mo_rx *x = calloc(1, sizeof(*x));
    x->hold = true;
    struct smpp_session *s = mo_rx_bind(g, base, x, SMPP_BIND_RX);
    TL_RUN_UNTIL(base, x->n >= 40, 5000);
    TL_RUN_UNTIL(base, 0, 500);         /* no more while none is answered */
    if (x->n != 40) {
        tl_dump_tail(g->gwlog);
        fail_msg("%u deliver_sm in flight, the window is 40", x->n);
    }
    x->hold = false;
    for (unsigned i = 0; i < x->held; i++)
        smpp_session_respond_status(s, &x->hdr[i], ESME_ROK);
    TL_RUN_UNTIL(base, x->n >= 100, 10000);
    TL_RUN_UNTIL(base, 0, 300);
    mo_rx_close(base, s);
    event_base_free(base);
    assert_int_equal(x->n, 100);
    for (int i = 0; i < 100; i++) {
        char want[32];
        snprintf(want, sizeof(want), "item %03d", i);
        assert_string_equal(x->text[i], want);
    }
    assert_int_equal(x->bad, 0);
    free(x);
    for (int i = 0; i < 40 && atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")) > 0; i++)
        tl_sleep_ms(50);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme")), 0);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme:inflight:test-1")), 0);
    gwfix_stop_gw_clean(g);
}

static void
push_mo_item(struct gwfix *g, const char *list, const char *text)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "RPUSH %s '{\"type\":\"mo\",\"from\":\"+14155550100\","
             "\"to\":\"12345\",\"text\":\"%s\",\"received\":1}'", list, text);
    assert_true(atoi(rcli(g, cmd)) > 0);
}

/*
 * Taking over a dead instance's inflight list: Redis holds what instance
 * "dead-1" had in flight to acme's client (3 items, no liveness key) and
 * what the live "live-2" has (its P alive:live-2 is set), what a previous
 * run of test-1 left, plus one item queued. When a client binds to smsgwd
 * (instance test-1) it gets the dead instance's items and its own old one
 * first, each list in its order, then the queued one; live-2's item stays
 * where it is, and test-1 has set its own liveness key.
 */
static void
test_smpp_client_takeover_dead_inflight(void **state)
{
    struct gwfix *g = *state;
    char extra[512];

    smpp_setup(g, extra, sizeof(extra));
    push_mo_item(g, "t:clientq:acme:inflight:dead-1", "dead 1");
    push_mo_item(g, "t:clientq:acme:inflight:dead-1", "dead 2");
    push_mo_item(g, "t:clientq:acme:inflight:dead-1", "dead 3");
    push_mo_item(g, "t:clientq:acme:inflight:live-2", "live 1");
    push_mo_item(g, "t:clientq:acme:inflight:test-1", "own 1");    /* a previous run's */
    push_mo_item(g, "t:clientq:acme", "queued 1");
    assert_non_null(strstr(rcli(g, "SET t:alive:live-2 1 PX 600000"), "OK"));
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));

    struct event_base *base = event_base_new();
    struct mo_rx *x = calloc(1, sizeof(*x));
    struct smpp_session *s = mo_rx_bind(g, base, x, SMPP_BIND_TRX);
    TL_RUN_UNTIL(base, x->n >= 5, 8000);
    TL_RUN_UNTIL(base, 0, 500);
    mo_rx_close(base, s);
    event_base_free(base);
    if (x->n != 5) {
        tl_dump_tail(g->gwlog);
        fail_msg("%u deliver_sm (want 3 dead items, our previous run's, the queued one)", x->n);
    }
    /* the taken-over lists come first (in SCAN order among themselves),
     * each in its order, then the queue */
    int d1 = -1, d2 = -1, d3 = -1, own = -1;
    for (int i = 0; i < 4; i++) {
        if (!strcmp(x->text[i], "dead 1")) d1 = i;
        if (!strcmp(x->text[i], "dead 2")) d2 = i;
        if (!strcmp(x->text[i], "dead 3")) d3 = i;
        if (!strcmp(x->text[i], "own 1")) own = i;
    }
    assert_true(d1 >= 0 && d2 == d1 + 1 && d3 == d2 + 1 && own >= 0);
    assert_string_equal(x->text[4], "queued 1");
    free(x);
    assert_int_equal(atoi(rcli(g, "EXISTS t:clientq:acme:inflight:dead-1")), 0);
    assert_int_equal(atoi(rcli(g, "LLEN t:clientq:acme:inflight:live-2")), 1);
    assert_true(atoi(rcli(g, "PTTL t:alive:test-1")) > 0);
    assert_int_equal(tl_count_lines(g->gwlog, "clientq_taken_over", "dead_instance=dead-1"), 1);
    gwfix_stop_gw_clean(g);
}

/* One bind attempt of our own; the bind_resp status (0xFFFFFFFF: none). */
struct bind_try {
    enum smpp_state state;
    char reason[128];
};

static void
bt_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
            void *ctx)
{
    struct bind_try *b = ctx;
    (void)s;
    (void)from;
    b->state = to;
    if (reason && !strncmp(reason, "bind_resp ", 10))
        snprintf(b->reason, sizeof(b->reason), "%s", reason + 10);
    else if (reason && !strncmp(reason, "bind refused: ", 14))
        snprintf(b->reason, sizeof(b->reason), "%s", reason + 14);
}

/* "ESME_ROK", "ESME_RINVPASWD", ... as the client saw it. */
static const char *
try_bind(struct gwfix *g, struct event_base *base, const char *password, char *out, size_t size)
{
    struct bind_try b = { 0 };
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = bt_on_state };
    smpp_session_cfg_defaults(&sc);
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, &b);
    assert_non_null(s);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TRX, .system_id = SMPP_ID,
                                   .password = password };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, b.reason[0], 5000);
    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 20);
    smpp_session_free(s);
    snprintf(out, size, "%s", b.reason[0] ? b.reason : "no bind_resp");
    return out;
}

/*
 * Failed binds are cheap to refuse: the client binds once (its password is
 * verified and remembered), then a burst of 8 wrong-password binds from the
 * same address: the first 5 are checked (ESME_RINVPASWD), the rest refused
 * at once (ESME_RBINDFAIL, logged as too many failed binds). The right
 * password still binds, from the cache; a wrong one is still refused.
 */
static void
test_smpp_client_bind_limits(void **state)
{
    struct gwfix *g = *state;
    char extra[512], st[128];

    smpp_setup(g, extra, sizeof(extra));
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    struct event_base *base = event_base_new();

    assert_string_equal(try_bind(g, base, SMPP_PW, st, sizeof(st)), "ESME_ROK");
    unsigned paswd = 0, bindfail = 0;
    for (int i = 0; i < 8; i++) {
        try_bind(g, base, "wrong-pw", st, sizeof(st));
        if (!strcmp(st, "ESME_RINVPASWD"))
            paswd++;
        else if (!strcmp(st, "ESME_RBINDFAIL"))
            bindfail++;
        else
            fail_msg("wrong password bind %d: %s", i, st);
    }
    assert_int_equal(paswd, 5);
    assert_int_equal(bindfail, 3);
    assert_int_equal(tl_count_lines(g->gwlog, "smpp_bind_refused", "too many failed binds"), 3);
    /* the right password, verified before, binds without PBKDF2 */
    assert_string_equal(try_bind(g, base, SMPP_PW, st, sizeof(st)), "ESME_ROK");
    assert_int_equal(tl_count_lines(g->gwlog, "smpp_client_bound", "password=verified"), 1);
    assert_int_equal(tl_count_lines(g->gwlog, "smpp_client_bound", "password=cached"), 1);
    /* a wrong password is still refused, not let through by the cache */
    try_bind(g, base, "pw-12346", st, sizeof(st));
    assert_string_equal(st, "ESME_RBINDFAIL");
    event_base_free(base);
    gwfix_stop_gw_clean(g);
}

/* One request on our own client session, waiting for its resp. */
struct req_wait {
    bool done;
    uint32_t status;
    char id[66], final_date[17];
    uint8_t state;
};

static void
req_resp(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp, void *arg)
{
    struct req_wait *w = arg;
    (void)s;
    w->done = true;
    w->status = res == SMPP_REQ_RESP ? resp->hdr.command_status : 0xFFFFFFFFu;
    if (res != SMPP_REQ_RESP || resp->hdr.command_status != ESME_ROK || !resp->has_body)
        return;
    if (resp->hdr.command_id == SUBMIT_SM_RESP) {
        snprintf(w->id, sizeof(w->id), "%s", (const char *)resp->u.submit_sm_resp.message_id);
    } else if (resp->hdr.command_id == QUERY_SM_RESP) {
        snprintf(w->id, sizeof(w->id), "%s", (const char *)resp->u.query_sm_resp.message_id);
        snprintf(w->final_date, sizeof(w->final_date), "%s",
                 (const char *)resp->u.query_sm_resp.final_date);
        w->state = resp->u.query_sm_resp.message_state;
    }
}

static void
req_run(struct event_base *base, struct smpp_session *s, struct smpp_pdu *p, struct req_wait *w)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(smpp_session_send(s, p, req_resp, w, NULL), SMPP_OK);
    TL_RUN_UNTIL(base, w->done, 5000);
    assert_true(w->done);
}

static void
req_submit(struct event_base *base, struct smpp_session *s, const char *to, struct req_wait *w)
{
    struct smpp_pdu p;
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    snprintf((char *)p.u.submit_sm.source_addr, 21, "12345");
    snprintf((char *)p.u.submit_sm.destination_addr, 21, "%s", to);
    p.u.submit_sm.dest_addr_ton = 1;
    p.u.submit_sm.dest_addr_npi = 1;
    memcpy(p.u.submit_sm.short_message, "cancel me?", 10);
    p.u.submit_sm.sm_length = 10;
    req_run(base, s, &p, w);
    assert_int_equal(w->status, ESME_ROK);
    assert_true(w->id[0] == 'm');
}

static void
req_query(struct event_base *base, struct smpp_session *s, const char *id, struct req_wait *w)
{
    struct smpp_pdu p;
    smpp_pdu_init(&p, QUERY_SM, 0, 0);
    snprintf((char *)p.u.query_sm.message_id, 65, "%s", id);
    snprintf((char *)p.u.query_sm.source_addr, 21, "12345");
    req_run(base, s, &p, w);
}

static void
req_cancel(struct event_base *base, struct smpp_session *s, const char *id, struct req_wait *w)
{
    struct smpp_pdu p;
    smpp_pdu_init(&p, CANCEL_SM, 0, 0);
    snprintf((char *)p.u.cancel_sm.message_id, 65, "%s", id);
    snprintf((char *)p.u.cancel_sm.source_addr, 21, "12345");
    req_run(base, s, &p, w);
}

/* A submit_sm part of a concatenated message: UDH (8-bit reference) when
 * sar is false, else SAR TLVs. */
static void
req_part(struct event_base *base, struct smpp_session *s, bool sar, unsigned ref, unsigned total,
         unsigned seq, const char *text, struct req_wait *w)
{
    struct smpp_pdu p;
    submit_sm_t *b = &p.u.submit_sm;
    size_t n = strlen(text), off = 0;
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    snprintf((char *)b->source_addr, 21, "12345");
    snprintf((char *)b->destination_addr, 21, "14155550170");
    b->dest_addr_ton = 1;
    b->dest_addr_npi = 1;
    b->registered_delivery = 1;
    if (sar) {
        p.tlv.present |= SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                         SMPP_TLV_SAR_SEGMENT_SEQNUM;
        p.tlv.sar_msg_ref_num = (uint16_t)ref;
        p.tlv.sar_total_segments = (uint8_t)total;
        p.tlv.sar_segment_seqnum = (uint8_t)seq;
    } else {
        const uint8_t udh[6] = { 5, 0, 3, (uint8_t)ref, (uint8_t)total, (uint8_t)seq };
        memcpy(b->short_message, udh, 6);
        b->esm_class = 0x40;
        off = 6;
    }
    assert_true(off + n < 254);
    memcpy(b->short_message + off, text, n);
    b->sm_length = (uint8_t)(off + n);
    req_run(base, s, &p, w);
}

/*
 * A client's concatenated submits, to a route whose SMSC wants concat
 * (udh8, sar, payload): three UDH parts sent 3, 1, 2 each get ESME_ROK with
 * one and the same id; so do two SAR parts of another message. Each message
 * is stored whole (the record's text) and reaches smsc-sim once: the long
 * one segmented again the SMSC's way (smsc-sim counts how its parts were
 * marked), the short one as one submit_sm, both delivered. A part sent
 * again afterwards gets the same id and sends nothing more. Parts beyond
 * max_segments are refused.
 */
static void
concat_parts_case(struct gwfix *g, const char *concat)
{
    char extra[512], p1[200], p2[200], p3[40], whole[500], smsc[64];
    struct req_wait w;

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    snprintf(smsc, sizeof(smsc), "concat = \"%s\";", concat);
    write_config(g, 100, smsc, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    memset(p1, 'a', 153);
    p1[153] = 0;
    memset(p2, 'b', 153);
    p2[153] = 0;
    snprintf(p3, sizeof(p3), "the end");
    snprintf(whole, sizeof(whole), "%s%s%s", p1, p2, p3);

    struct event_base *base = event_base_new();
    struct bind_try x = { 0 };
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = bt_on_state };
    smpp_session_cfg_defaults(&sc);
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, &x);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TX, .system_id = SMPP_ID,
                                   .password = SMPP_PW };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, x.state == SMPP_BOUND_TX, 5000);
    assert_int_equal(x.state, SMPP_BOUND_TX);

    char id[3][66];
    req_part(base, s, false, 0x42, 3, 3, p3, &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(id[0], sizeof(id[0]), "%s", w.id);
    req_part(base, s, false, 0x42, 3, 1, p1, &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(id[1], sizeof(id[1]), "%s", w.id);
    req_part(base, s, false, 0x42, 3, 2, p2, &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(id[2], sizeof(id[2]), "%s", w.id);
    assert_true(id[0][0] == 'm');
    assert_string_equal(id[0], id[1]);
    assert_string_equal(id[0], id[2]);

    char sid[2][66];
    req_part(base, s, true, 0x1234, 2, 1, "first half, ", &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(sid[0], sizeof(sid[0]), "%s", w.id);
    req_part(base, s, true, 0x1234, 2, 2, "second half", &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(sid[1], sizeof(sid[1]), "%s", w.id);
    assert_string_equal(sid[0], sid[1]);
    assert_string_not_equal(sid[0], id[0]);

    free(gwfix_wait_state(g, id[0], "delivered", 10000));
    free(gwfix_wait_state(g, sid[0], "delivered", 10000));
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "HGET t:msg:%s text", id[0]);
    char *t = rcli(g, cmd);
    t[strcspn(t, "\n")] = 0;
    assert_string_equal(t, whole);
    snprintf(cmd, sizeof(cmd), "HGET t:msg:%s text", sid[0]);
    t = rcli(g, cmd);
    t[strcspn(t, "\n")] = 0;
    assert_string_equal(t, "first half, second half");
    /* 313 characters: 3 parts of 153 + 153 + 7 again with UDH (the client's
     * own parts), 3 SAR parts, or one message_payload */
    bool payload = !strcmp(concat, "payload"), sar = !strcmp(concat, "sar");
    unsigned pdus = payload ? 2 : 4;
    char *st = tl_ctl(g->sim[0].ctl_port, "stats\n");
    assert_int_equal(tl_jnum(st, "segments_reassembled"), payload ? 0 : 1);
    assert_int_equal(tl_jnum(st, "concatenated_parts"), payload ? 0 : 3);
    assert_int_equal(tl_jnum(st, "concat_parts_sar"), sar ? 3 : 0);
    assert_int_equal(tl_jnum(st, "concat_parts_udh"), sar || payload ? 0 : 3);
    assert_int_equal(tl_jnum(st, "submit_sm") + tl_jnum(st, "data_sm"), pdus);

    /* a part sent again: the same id, nothing new sent */
    req_part(base, s, false, 0x42, 3, 2, p2, &w);
    assert_int_equal(w.status, ESME_ROK);
    assert_string_equal(w.id, id[0]);
    TL_RUN_UNTIL(base, 0, 500);
    st = tl_ctl(g->sim[0].ctl_port, "stats\n");
    assert_int_equal(tl_jnum(st, "submit_sm") + tl_jnum(st, "data_sm"), pdus);

    /* more parts than max_segments (default 10) */
    req_part(base, s, false, 0x43, 11, 1, "x", &w);
    assert_int_equal(w.status, ESME_RINVMSGLEN);

    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 50);
    smpp_session_free(s);
    event_base_free(base);
    gwfix_stop_gw_clean(g);
}

static void
test_smpp_client_concat_parts_sar(void **state)
{
    concat_parts_case(*state, "sar");
}

/* The SMSC takes 8-bit UDH like the client: the same three parts go out. */
static void
test_smpp_client_concat_parts_udh8(void **state)
{
    concat_parts_case(*state, "udh8");
}

static void
test_smpp_client_concat_parts_payload(void **state)
{
    concat_parts_case(*state, "payload");
}

/* A submit_sm with the client's schedule_delivery_time and validity_period. */
static void
req_timed(struct event_base *base, struct smpp_session *s, const char *to, const char *sched,
          const char *validity, struct req_wait *w)
{
    struct smpp_pdu p;
    submit_sm_t *b = &p.u.submit_sm;
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    snprintf((char *)b->source_addr, 21, "12345");
    snprintf((char *)b->destination_addr, 21, "%s", to);
    b->dest_addr_ton = 1;
    b->dest_addr_npi = 1;
    snprintf((char *)b->schedule_delivery_time, sizeof(b->schedule_delivery_time), "%s", sched);
    snprintf((char *)b->validity_period, sizeof(b->validity_period), "%s", validity);
    memcpy(b->short_message, "timed", 5);
    b->sm_length = 5;
    req_run(base, s, &p, w);
}

/* "YYMMDDhhmmss000+" for now + secs, in UTC. */
static void
smpp_abs(int secs, char out[17])
{
    time_t t = time(NULL) + secs;
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    snprintf(buf, sizeof(buf), "%02d%02d%02d%02d%02d%02d000+", tm.tm_year % 100, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, 16);
    out[16] = 0;
}

/*
 * The client's validity_period and schedule_delivery_time, absolute and
 * relative: a relative validity of one minute is the record's validity; a
 * malformed or past one is ESME_RINVEXPIRY. A message scheduled 4 s ahead
 * (relative) and one 5 s ahead (absolute, UTC) are answered at once with
 * their ids, show state "scheduled" and reach smsc-sim only when due, then
 * are delivered; a malformed schedule, one 40 days ahead, and a validity
 * ending before the schedule are refused.
 */
static void
test_smpp_client_validity_schedule(void **state)
{
    struct gwfix *g = *state;
    char extra[512], abs[17], cmd[200];
    struct req_wait w;

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    struct event_base *base = event_base_new();
    struct bind_try x = { 0 };
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = bt_on_state };
    smpp_session_cfg_defaults(&sc);
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, &x);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TX, .system_id = SMPP_ID,
                                   .password = SMPP_PW };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, x.state == SMPP_BOUND_TX, 5000);
    assert_int_equal(x.state, SMPP_BOUND_TX);

    /* validity */
    req_timed(base, s, "14155550181", "", "000000000100000R", &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(cmd, sizeof(cmd), "HGET t:msg:%s validity", w.id);
    assert_int_equal(atoi(rcli(g, cmd)), 60);
    req_timed(base, s, "14155550181", "", "bogus", &w);
    assert_int_equal(w.status, ESME_RINVEXPIRY);
    smpp_abs(-3600, abs);
    req_timed(base, s, "14155550181", "", abs, &w);
    assert_int_equal(w.status, ESME_RINVEXPIRY);
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 1; i++)
        tl_sleep_ms(50);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);

    /* schedule */
    char rel_id[66], abs_id[66];
    req_timed(base, s, "14155550182", "000000000004000R", "", &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(rel_id, sizeof(rel_id), "%s", w.id);
    smpp_abs(5, abs);
    req_timed(base, s, "14155550183", abs, "000001000000000R", &w);
    assert_int_equal(w.status, ESME_ROK);
    snprintf(abs_id, sizeof(abs_id), "%s", w.id);
    char path[128], *body = NULL;
    snprintf(path, sizeof(path), "/v1/messages/%s", abs_id);
    assert_int_equal(tl_http(g->http_port, "GET", path, KEY, NULL, &body, NULL), 200);
    if (strcmp(tl_jstr(body, "state"), "scheduled") != 0)
        fail_msg("a message scheduled 5 s ahead: %s", body);
    free(body);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);    /* not sent yet */
    free(gwfix_wait_state(g, rel_id, "delivered", 15000));
    free(gwfix_wait_state(g, abs_id, "delivered", 15000));
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 3);
    assert_int_equal(atoi(rcli(g, "ZCARD t:smppsched")), 0);
    /* sent no earlier than due: the queued transition comes after "scheduled" */
    snprintf(cmd, sizeof(cmd), "HKEYS t:msg:%s", abs_id);    /* history: h:MS:EVENT */
    char *h = rcli(g, cmd), *save = NULL;
    unsigned long long t_sched = 0, t_queued = 0;
    for (char *line = strtok_r(h, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *ev = NULL;
        unsigned long long ts = strncmp(line, "h:", 2) == 0 ? strtoull(line + 2, &ev, 10) : 0;
        if (!ts || !ev || *ev != ':')
            continue;
        if (strcmp(ev + 1, "scheduled") == 0)
            t_sched = ts;
        else if (strcmp(ev + 1, "queued") == 0)
            t_queued = ts;
    }
    if (!t_sched || !t_queued || t_queued < t_sched + 4000)
        fail_msg("history of %s: scheduled at %llu, queued at %llu", abs_id, t_sched, t_queued);

    /* refusals */
    req_timed(base, s, "14155550184", "tomorrow", "", &w);
    assert_int_equal(w.status, ESME_RINVSCHED);
    req_timed(base, s, "14155550184", "000040000000000R", "", &w);
    assert_int_equal(w.status, ESME_RINVSCHED);
    req_timed(base, s, "14155550184", "000000010000000R", "000000003000000R", &w);
    assert_int_equal(w.status, ESME_RINVEXPIRY);

    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 50);
    smpp_session_free(s);
    event_base_free(base);
    gwfix_stop_gw_clean(g);
}

/* query_sm and cancel_sm: with the carrier's SMSC down both messages stay
 * queued (ENROUTE); one is cancelled (then DELETED, final_date set, not
 * cancellable again). Once the SMSC is up only the other is submitted. */
static void
test_smpp_client_query_cancel(void **state)
{
    struct gwfix *g = *state;
    char extra[512];
    struct req_wait w;

    smpp_setup(g, extra, sizeof(extra));
    write_config(g, 100, NULL, NULL);       /* smsc-sim not started yet */
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));

    struct event_base *base = event_base_new();
    struct rx x = { 0 };
    struct smpp_session_cfg sc;
    smpp_session_cfg_defaults(&sc);
    static const struct smpp_session_ops ops = { .on_state = rx_on_state,
                                                 .on_request = rx_on_request };
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", gx(g)->smpp_port, &sc, NULL,
                                                  &ops, &x);
    assert_non_null(s);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TX, .system_id = SMPP_ID,
                                   .password = SMPP_PW };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, x.state == SMPP_BOUND_TX, 5000);
    assert_int_equal(x.state, SMPP_BOUND_TX);

    char keep[66], drop[66];
    req_submit(base, s, "14155550190", &w);
    snprintf(keep, sizeof(keep), "%s", w.id);
    req_submit(base, s, "14155550191", &w);
    snprintf(drop, sizeof(drop), "%s", w.id);

    req_query(base, s, drop, &w);
    assert_int_equal(w.status, ESME_ROK);
    assert_string_equal(w.id, drop);
    assert_int_equal(w.state, 1);           /* ENROUTE (queued) */
    assert_string_equal(w.final_date, "");

    req_cancel(base, s, drop, &w);
    assert_int_equal(w.status, ESME_ROK);
    req_cancel(base, s, drop, &w);          /* final now: not again */
    assert_int_equal(w.status, ESME_RCANCELFAIL);
    req_query(base, s, drop, &w);
    assert_int_equal(w.status, ESME_ROK);
    assert_int_equal(w.state, 4);           /* DELETED (cancelled) */
    assert_int_equal(strlen(w.final_date), 16);
    assert_int_equal(w.final_date[15], '+');

    /* unknown ids */
    req_query(base, s, "m0000000000000000000000", &w);
    assert_int_equal(w.status, ESME_RQUERYFAIL);
    req_query(base, s, "not-ours", &w);
    assert_int_equal(w.status, ESME_RQUERYFAIL);
    req_cancel(base, s, "m0000000000000000000000", &w);
    assert_int_equal(w.status, ESME_RCANCELFAIL);

    gwfix_start_sim(g, 0, NULL);
    free(gwfix_wait_state(g, keep, "delivered", 10000));
    req_query(base, s, keep, &w);
    assert_int_equal(w.status, ESME_ROK);
    assert_int_equal(w.state, 2);           /* DELIVERED */
    req_cancel(base, s, keep, &w);          /* too late */
    assert_int_equal(w.status, ESME_RCANCELFAIL);
    tl_sleep_ms(500);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);
    char *body = gwfix_wait_state(g, drop, "cancelled", 2000);
    free(body);
    /* The cancelled message's queue entry went with the cancel: the
     * dequeuer never had it. */
    assert_int_equal(tl_count_lines(g->gwlog, "submit_sm", drop), 0);

    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 50);
    smpp_session_free(s);
    event_base_free(base);
    gwfix_stop_gw_clean(g);
}

/* node-smpp's client (tests/interop/client.js) binds as a transceiver to
 * smsgwd with the account's SMPP credentials, submits 3 messages with
 * registered_delivery 1 and gets 3 receipts whose receipted_message_id are
 * the ids of its submit_sm_resp. */
static void
test_node_smpp_client_binds_to_smsgwd(void **state)
{
    struct gwfix *g = *state;
    char extra[512], port[16], script[4200], log[4300];

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    snprintf(port, sizeof(port), "%d", gx(g)->smpp_port);
    snprintf(script, sizeof(script), "%s/tests/interop/client.js", tl_top());
    snprintf(log, sizeof(log), "%s/node-gw-client.log", g->dir);
    char *argv[] = { "/usr/bin/env", "node", script, port, SMPP_ID, SMPP_PW, "3", NULL };
    pid_t pid = tl_spawn(argv, log);
    int st = tl_stop(pid, 0, 20000);        /* wait for it to exit */
    (void)st;
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char out[8192];
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = 0;
    fclose(f);
    if (!strstr(out, "\"bound\":true") || !strstr(out, "\"resp_ok\":3") ||
        !strstr(out, "\"receipts\":3") || !strstr(out, "\"unbound\":true")) {
        tl_dump_tail(g->gwlog);
        fail_msg("node-smpp client against smsgwd: %s", out);
    }
    if (!strstr(out, "\"stats\":[\"DELIVRD\",\"DELIVRD\",\"DELIVRD\"]"))
        fail_msg("receipts were not DELIVRD: %s", out);
    /* "ids":["m…","m…","m…"] each in "receipt_ids":[…] */
    char *ids = strstr(out, "\"ids\":["), *rids = strstr(out, "\"receipt_ids\":[");
    assert_non_null(ids);
    assert_non_null(rids);
    char *end = strchr(rids, ']');
    assert_non_null(end);
    *end = 0;
    unsigned matched = 0;
    for (char *p = strchr(ids + 7, '"'); p && p < rids; ) {
        char *q = strchr(p + 1, '"');
        assert_non_null(q);
        char id[66];
        snprintf(id, sizeof(id), "\"%.*s\"", (int)(q - p - 1), p + 1);
        assert_true(id[1] == 'm');
        if (strstr(rids, id))
            matched++;
        p = strchr(q + 1, '"');
        if (p && p > strchr(ids, ']'))
            break;
    }
    if (matched != 3)
        fail_msg("receipts matched %u of 3: %s", matched, out);
    gwfix_stop_gw_clean(g);
}

/* node-smpp (tests/interop/mo_client.js) bound as a receiver gets MO from
 * smsgwd: a GSM text, a Cyrillic one (UCS-2) and a long one (in
 * message_payload), each with the subscriber and our number, as node-smpp
 * decodes them. */
static void
test_node_smpp_client_gets_mo(void **state)
{
    struct gwfix *g = *state;
    char extra[512], port[16], script[4200], log[4300];

    smpp_setup(g, extra, sizeof(extra));
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 100, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "binds_now") < 1; i++)
        tl_sleep_ms(50);
    snprintf(port, sizeof(port), "%d", gx(g)->smpp_port);
    snprintf(script, sizeof(script), "%s/tests/interop/mo_client.js", tl_top());
    snprintf(log, sizeof(log), "%s/node-mo-client.log", g->dir);
    char *argv[] = { "/usr/bin/env", "node", script, port, SMPP_ID, SMPP_PW, "3", NULL };
    pid_t pid = tl_spawn(argv, log);
    for (int i = 0; i < 200 && !tl_count_lines(log, "\"bound\":true", NULL); i++)
        tl_sleep_ms(50);
    if (!tl_count_lines(log, "\"bound\":true", NULL)) {
        tl_dump_file(log);
        fail_msg("node-smpp did not bind as a receiver");
    }
    char longmo[400] = "mo 14155550177 12345 ";
    for (int i = 0; i < 300; i++)
        strcat(longmo, i % 10 == 9 ? " " : "z");
    strcat(longmo, "LONG-END\n");
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550177 12345 hello node\n"), "OK"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, "mo 14155550177 12345 \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n"), "OK"));
    assert_non_null(strstr(tl_ctl(g->sim[0].ctl_port, longmo), "OK"));
    int st = tl_stop(pid, 0, 25000);        /* wait for it to exit */
    (void)st;
    if (tl_count_lines(log, "\"done\":true", "\"received\":3") != 1) {
        tl_dump_file(log);
        tl_dump_tail(g->gwlog);
        fail_msg("node-smpp did not get 3 MO");
    }
    if (tl_count_lines(log, "\"from\":\"14155550177\",\"to\":\"12345\",\"dc\":0,"
                    "\"text\":\"hello node\"", NULL) != 1 ||
        tl_count_lines(log, "\"dc\":8,\"text\":\"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
                    "\xd0\xb5\xd1\x82\"", NULL) != 1 ||
        tl_count_lines(log, "zzzzzzzzz zzzzzzzzz", "LONG-END\"}") != 1) {
        tl_dump_file(log);
        fail_msg("node-smpp's MO are not as sent");
    }
    gwfix_stop_gw_clean(g);
}

/* One client sends garbage (an oversized command_length, then bytes that
 * are no PDU) while another submits: the garbage connection is answered and
 * closed, the other client's messages all go through. Above the account's
 * max binds a bind is refused; above its mps cap submits get
 * ESME_RTHROTTLED, never silence. */
static void
test_smpp_client_misbehaving(void **state)
{
    struct gwfix *g = *state;
    char extra[700], base[512];
    int rc;

    smpp_setup(g, base, sizeof(base));
    snprintf(extra, sizeof(extra), "%s smpp_max_binds = 1; mps = 20;", base);
    gx(g)->account_extra = extra;
    gwfix_start_sim(g, 0, NULL);
    write_config(g, 1000, NULL, NULL);
    gwfix_start_gw(g);
    assert_true(tl_wait_port(gx(g)->smpp_port, 5000));

    /* the garbage client: a raw socket */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)gx(g)->smpp_port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    unsigned char junk[64];
    memset(junk, 0xA5, sizeof(junk));
    junk[0] = 0x7F;     /* command_length ~2 GB: over any max_pdu */
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));

    /* meanwhile a proper client; 60 submits against a 20 mps cap */
    char *out = run_load(g, SMPP_PW, "12345", "14155550180", "60", "8", &rc);
    if (!strstr(out, "\"ESME_ROK\":") || !strstr(out, "\"ESME_RTHROTTLED\":"))
        fail_msg("throttle cap: rc %d: %s", rc, out);
    if (strstr(out, "\"timeouts\":0") == NULL)
        fail_msg("some submits were never answered: %s", out);
    free(out);

    /* the garbage connection got a generic_nack and was closed */
    unsigned char buf[256];
    ssize_t n, total = 0;
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while ((n = read(fd, buf + total, sizeof(buf) - (size_t)total)) > 0)
        total += n;
    close(fd);
    assert_true(total >= 16);
    assert_int_equal(buf[4], 0x80);     /* generic_nack */
    assert_int_equal(buf[11], 0x02);    /* ESME_RINVCMDLEN */
    assert_int_equal(n, 0);             /* then EOF */

    /* max binds 1: a second concurrent bind is refused */
    char port[16], log[4300];
    snprintf(port, sizeof(port), "%d", gx(g)->smpp_port);
    snprintf(log, sizeof(log), "%s/binds.log", g->dir);
    char *argv[] = { (char *)tl_bin("smpp-load"), "--host", "127.0.0.1", "--port", port,
                     "--system-id", SMPP_ID, "--password", SMPP_PW, "--binds", "2",
                     "--count", "4", "--from", "12345", "--to", "14155550181",
                     "--connect-timeout-ms", "1500", "--json-only", NULL };
    int st = tl_stop(tl_spawn(argv, log), 0, 20000);
    (void)st;
    assert_true(tl_count_lines(g->gwlog, "smpp_bind_refused", "smpp_max_binds reached") >= 1);
    gwfix_stop_gw_clean(g);
}

/*
 * At least once, not many times: smsgwd killed with a read-ahead of queued
 * messages in memory, later Redis restarted under load. Every message is
 * sent, and none more than twice (once before a fault, once after). Before
 * the fix, re-reading this consumer's pending entries from the start, and
 * again while the first copies were still unacknowledged, sent some
 * messages 3 to 10 times (bench/soak.sh found it).
 */
static void
test_restarts_send_each_message_at_most_twice(void **state)
{
    struct gwfix *g = *state;
    enum { N = 500 };

    gwfix_start_sim(g, 0, NULL);
    write_config(g, 200, NULL, NULL);
    gwfix_start_gw(g);
    post_many(g, g->http_port, 0, N);
    tl_sleep_ms(600);
    tl_stop(g->gw, SIGKILL, 2000);
    g->gw = 0;
    gwfix_start_gw(g);
    tl_sleep_ms(700);
    tl_redis_pause(&g->redis);
    tl_sleep_ms(300);
    tl_redis_start(&g->redis);
    /* until every message was sent and the queue is empty */
    for (int i = 0; i < 300; i++) {
        if (gwfix_sim_stat(g, 0, "submit_sm") >= N && atoi(rcli(g, "XLEN t:q:default")) == 0)
            break;
        tl_sleep_ms(100);
    }
    tl_sleep_ms(500);
    /* count submit_sm per message in smsgwd's log (both runs, debug level) */
    FILE *f = fopen(g->gwlog, "r");
    assert_non_null(f);
    char line[4096];
    static char ids[4 * N][24];
    static int counts[4 * N];
    int nids = 0, total = 0, worst = 0;
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "event=submit_sm msg_id=");
        if (!p)
            continue;
        char id[24];
        if (sscanf(p + 23, "%23s", id) != 1)
            continue;
        total++;
        int k = 0;
        while (k < nids && strcmp(ids[k], id) != 0)
            k++;
        if (k == nids && nids < 4 * N)
            snprintf(ids[nids++], sizeof(ids[0]), "%s", id);
        if (k < 4 * N && ++counts[k] > worst)
            worst = counts[k];
    }
    fclose(f);
    print_message("restarts: %d messages, %d submit_sm, at most %d per message\n", nids, total,
                  worst);
    assert_int_equal(nids, N);
    assert_true(worst <= 2);
    assert_true(total <= N + 2 * 64);   /* at most a window resent per fault */
    gwfix_stop_gw_clean(g);
}

/*
 * SIGTERM with a full window loses nothing and sends nothing twice: resps
 * take 1.5 s, 64 submit_sm are in flight when smsgwd is told to stop; it
 * waits for them (they are recorded submitted), exits cleanly, and the
 * next start sends the rest. Every message is delivered, each submitted once.
 */
static void
test_sigterm_full_window(void **state)
{
    struct gwfix *g = *state;
    enum { N = 150 };
    char *ids[N];

    gwfix_start_sim(g, 0, "--resp-delay-ms", "1500", NULL);
    write_config(g, 1000, NULL, NULL);
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        char json[160];
        snprintf(json, sizeof(json), "{\"from\":\"12345\",\"to\":\"+1415557%04d\",\"text\":\"t%d\"}",
                 i, i);
        ids[i] = gwfix_post_ok(g, json);
    }
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 64; i++)
        tl_sleep_ms(20);
    long in_flight = gwfix_sim_stat(g, 0, "submit_sm");
    assert_true(in_flight >= 64);           /* the window (64) is full */
    gwfix_stop_gw_clean(g);                        /* SIGTERM: drain, exit 0 */
    long sent_before = gwfix_sim_stat(g, 0, "submit_sm");
    gwfix_start_gw(g);
    for (int i = 0; i < N; i++) {
        free(gwfix_wait_state(g, ids[i], "delivered", 30000));
        free(ids[i]);
    }
    long total = gwfix_sim_stat(g, 0, "submit_sm");
    print_message("sigterm: %ld in flight at the signal, %ld before restart, %ld in all\n",
                  in_flight, sent_before, total);
    assert_int_equal(total, N);             /* none lost, none twice */
    gwfix_stop_gw_clean(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mt_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pacer_connection_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_timeout_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_misbehaving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_receipts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_receipts_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_query_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_gets_mo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_deliver_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_takeover_dead_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_bind_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_concat_parts_sar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_concat_parts_udh8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_concat_parts_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smpp_client_validity_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_smpp_client_binds_to_smsgwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_smpp_client_gets_mo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mo_stop_start_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_client_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_gsm_and_ucs2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_types_ton_npi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipts_decimal_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttled_smsc_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smsc_drops_mid_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_then_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarts_send_each_message_at_most_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_full_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pacing_200mps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_mps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_instances_share_route, setup, teardown),
    };
    /* SMSGWD_TEST=test_smpp_client_* runs only the tests that match. */
    if (getenv("SMSGWD_TEST"))
        cmocka_set_test_filter(getenv("SMSGWD_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
