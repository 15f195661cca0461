/*
 * Issue 5 in the message flow, end to end over loopback: a real
 * redis-server, the ASan builds of smsc-sim and smsgwd, aiosmtpd for email
 * and tests/channels/provider.py for the OTT and RCS providers.
 *
 *   - number checks at accept (numbering plan, no-SMS ranges)
 *   - send_at (scheduled in Redis, released when due)
 *   - quiet hours for marketing (held, released at the window opening),
 *     with the test-only clock offset SMSGW_TEST_NOW_OFFSET_S
 *   - frequency caps (429 with resets_at, refund when not stored)
 *   - the fallback chain: permanent error → email, UNDELIV → OTT, RCS not
 *     capable → next step, no receipt in time → next channel, a no-SMS
 *     number straight to the chain
 *
 * The fixture is tests/gwfix.h's, with the channel peers of this file's own.
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
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/config.h"
#include "router/quiet.h"
#include "smpp/smpp_session.h"
#include "tests/gwfix.h"

#define KEY GWFIX_KEY
#define PY "/usr/bin/python3"
#define TOKEN "tok-123"

/* This program's own state, in the fixture's ext. */
struct rt {
    pid_t smtp, prov;
    int smtp_port, prov_port;
    const char *route_smsc;         /* the route's smsc setting; NULL: [ "sim" ] (sim2 defined too) */
    const char *account_extra;      /* settings of account acme */
    const char *route_extra;        /* settings of route default */
    const char *top_extra;          /* more top-level settings */
    long clock_offset;              /* SMSGW_TEST_NOW_OFFSET_S for smsgwd */
    char maildir[4200], plog[4200];
};

static struct rt *
rt(struct gwfix *g)
{
    return g->ext;
}

static int
setup(void **state)
{
    struct gwfix *g = gwfix_new(0);
    struct rt *x = g->ext = calloc(1, sizeof(struct rt));
    snprintf(x->maildir, sizeof(x->maildir), "%s/mail", g->dir);
    snprintf(x->plog, sizeof(x->plog), "%s/provider.jsonl", g->dir);
    mkdir(x->maildir, 0700);
    *state = g;
    return 0;
}

static int
teardown(void **state)
{
    struct gwfix *g = *state;
    if (rt(g)->smtp > 0)
        tl_stop(rt(g)->smtp, SIGTERM, 5000);
    if (rt(g)->prov > 0)
        tl_stop(rt(g)->prov, SIGTERM, 5000);
    gwfix_free(g);
    return 0;
}

/* aiosmtpd (plain SMTP) and the OTT/RCS provider stand-in. */
static void
start_channels(struct gwfix *g)
{
    struct rt *x = rt(g);
    char script[4200], log[4200], p[16];

    x->smtp_port = tl_free_port();
    x->prov_port = tl_free_port();
    snprintf(script, sizeof(script), "%s/tests/channels/smtpd.py", tl_top());
    snprintf(log, sizeof(log), "%s/smtpd.log", g->dir);
    snprintf(p, sizeof(p), "%d", x->smtp_port);
    char *a1[] = { PY, script, p, x->maildir, "plain", NULL };
    x->smtp = tl_spawn(a1, log);
    if (!tl_wait_port(x->smtp_port, 15000)) {
        tl_dump_file(log);
        fail_msg("smtpd did not start");
    }
    snprintf(script, sizeof(script), "%s/tests/channels/provider.py", tl_top());
    snprintf(log, sizeof(log), "%s/provider.log", g->dir);
    snprintf(p, sizeof(p), "%d", x->prov_port);
    char *a2[] = { PY, script, p, TOKEN, x->plog, NULL };
    x->prov = tl_spawn(a2, log);
    if (!tl_wait_port(x->prov_port, 15000)) {
        tl_dump_file(log);
        fail_msg("provider did not start");
    }
}

static void
write_config(struct gwfix *g)
{
    struct rt *x = rt(g);
    char hash[65], chans[1024] = "";
    config_sha256_hex(KEY, hash);
    if (x->smtp_port)
        snprintf(chans, sizeof(chans),
                 "channels = {\n"
                 "  email = { transactional = { url = \"smtp://127.0.0.1:%d\"; starttls = false;\n"
                 "            from = \"Alerts <alerts@example.com>\"; }; timeout_ms = 5000; };\n"
                 "  ott = { base_url = \"http://127.0.0.1:%d/wa\"; phone_number_id = \"1055\";\n"
                 "          token = \"%s\"; timeout_ms = 5000; };\n"
                 "  rcs = { base_url = \"http://127.0.0.1:%d/rbm\"; token = \"%s\";\n"
                 "          timeout_ms = 5000; };\n"
                 "};\n", x->smtp_port, x->prov_port, TOKEN, x->prov_port, TOKEN);
    gwfix_write_conf(g,
            "instance = \"test-1\";\n"
            "log_level = \"debug\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; window = 64; reconnect_min_ms = 100;\n"
            "           reconnect_max_ms = 500; },\n"
            "         { name = \"sim2\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; window = 64; reconnect_min_ms = 100;\n"
            "           reconnect_max_ms = 500; } );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( { name = \"default\"; mps = 400; smsc = %s; prefixes = [\"\"];\n"
            "             retry_attempts = 2; retry_backoff_ms = 200; %s } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; %s } );\n"
            "numbering = { no_sms = ( { prefix = \"1212555\"; kind = \"landline\"; } ); };\n"
            "%s%s\n",
            g->redis.port, g->http_port, g->sim[0].port, g->sim[1].port,
            x->route_smsc ? x->route_smsc : "[\"sim\"]", x->route_extra ? x->route_extra : "",
            hash, x->account_extra ? x->account_extra : "", chans,
            x->top_extra ? x->top_extra : "");
}

/* smsgwd, with the test clock moved by clock_offset when it is set. */
static void
start_gw(struct gwfix *g)
{
    char off[32];
    snprintf(off, sizeof(off), "%ld", rt(g)->clock_offset);
    if (rt(g)->clock_offset)
        setenv("SMSGW_TEST_NOW_OFFSET_S", off, 1);
    gwfix_start_gw(g);
    unsetenv("SMSGW_TEST_NOW_OFFSET_S");
}

/* The ts of the first history entry with this state (and detail substring). */
static long long
hist_ts(const char *body, const char *state, const char *detail)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"state\":\"%s\"", state);
    const char *h = strstr(body, "\"history\"");
    for (const char *p = h ? strstr(h, pat) : NULL; p; p = strstr(p + 1, pat)) {
        const char *open = p;
        while (open > h && *open != '{')
            open--;
        const char *close = strchr(p, '}');
        if (detail) {
            const char *d = strstr(open, detail);
            if (!d || (close && d > close))
                continue;
        }
        return tl_jnum(open, "ts");
    }
    return -1;
}

/* hist_ts, failing with the record when there is no such entry. */
static long long
hist_must(const char *body, const char *state, const char *detail)
{
    long long ts = hist_ts(body, state, detail);
    if (ts <= 0)
        fail_msg("no history entry %s%s%s in %s", state, detail ? " with " : "",
                 detail ? detail : "", body);
    return ts;
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static char *
wait_file(const char *path, int ms)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        char *s = read_file(path);
        if (s && *s)
            return s;
        tl_sleep_ms(50);
    }
    fail_msg("%s never appeared", path);
    return NULL;
}

/* ---------------------------------------------------------- number checks */

static void
test_number_checks(void **state)
{
    struct gwfix *g = *state;
    char *b;

    gwfix_start_sim(g, 0, NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    /* Too short for the US: 400 with the country's lengths. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12125550\",\"text\":\"x\"}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_to");
    assert_non_null(strstr(b, "too short"));
    assert_non_null(strstr(b, "reason: too_short"));
    assert_non_null(strstr(b, "have 10 digits after the country code, this one has 7"));
    free(b);
    /* NANP area code starting with 1. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+11125550100\",\"text\":\"x\"}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_to");
    assert_non_null(strstr(b, "reason: format"));
    free(b);
    /* Too long for the UK. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+44770090012345\",\"text\":\"x\"}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_to");
    assert_non_null(strstr(b, "reason: too_long"));
    free(b);

    /* A configured landline range: 422, nothing stored, nothing sent. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12125550142\",\"text\":\"x\"}", 422);
    assert_string_equal(tl_jstr(b, "code"), "not_sms_capable");
    assert_non_null(strstr(b, "landline"));
    free(b);
    /* A fallback chain with email but no address cannot carry it either. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12125550142\",\"text\":\"x\","
                       "\"fallback\":[\"email\"]}", 400);
    assert_string_equal(tl_jstr(b, "code"), "missing_field");
    free(b);
    /* An unknown channel in the chain. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"x\","
                       "\"fallback\":[\"fax\"]}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_fallback");
    free(b);

    /* With a chain, the landline number goes straight to it: email. */
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12125550142\",\"text\":\"your code 42\","
                       "\"fallback\":[\"email\"],\"email\":\"ann@example.org\"}", 202);
    assert_string_equal(tl_jstr(b, "status"), "no_sms");
    char *id = strdup(tl_jstr(b, "id"));
    free(b);
    b = gwfix_wait_state(g, id, "sent_email", 10000);
    hist_must(b, "no_sms", NULL);
    hist_must(b, "fallback", "channel=email result=accepted");
    free(b);
    char path[4300];
    snprintf(path, sizeof(path), "%s/mail-1.json", rt(g)->maildir);
    char *mail = wait_file(path, 5000);
    assert_non_null(strstr(mail, "ann@example.org"));
    assert_non_null(strstr(mail, "your code 42"));

    /* A mobile number goes as SMS. */
    char *id2 = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"hi\"}");
    free(gwfix_wait_state(g, id2, "delivered", 10000));
    /* Only that one reached the SMSC. */
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);
    free(id);
    free(id2);
}

/* The SMPP front checks numbers the same way (ESME_RINVDSTADR). */
struct sm_wait {
    enum smpp_state state;
    bool done;
    uint32_t status;
};

static void
sm_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
            void *ctx)
{
    (void)s;
    (void)from;
    (void)reason;
    ((struct sm_wait *)ctx)->state = to;
}

static void
sm_resp(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp, void *arg)
{
    struct sm_wait *w = arg;
    (void)s;
    w->done = true;
    w->status = res == SMPP_REQ_RESP ? resp->hdr.command_status : 0xFFFFFFFFu;
}

static uint32_t
sm_submit(struct event_base *base, struct smpp_session *s, const char *to)
{
    struct smpp_pdu p;
    struct sm_wait w = { 0 };
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    snprintf((char *)p.u.submit_sm.source_addr, 21, "12345");
    snprintf((char *)p.u.submit_sm.destination_addr, 21, "%s", to);
    p.u.submit_sm.dest_addr_ton = 1;
    p.u.submit_sm.dest_addr_npi = 1;
    memcpy(p.u.submit_sm.short_message, "hi", 2);
    p.u.submit_sm.sm_length = 2;
    assert_int_equal(smpp_session_send(s, &p, sm_resp, &w, NULL), SMPP_OK);
    TL_RUN_UNTIL(base, w.done, 5000);
    assert_true(w.done);
    return w.status;
}

static void
test_number_checks_smpp(void **state)
{
    struct gwfix *g = *state;
    char extra[512], top[256], hash[CONFIG_SMPP_HASH_MAX];
    int port = tl_free_port();

    assert_int_equal(config_hash_smpp_password("pw-12345", 1000, hash, sizeof(hash)), 0);
    snprintf(extra, sizeof(extra), "smpp_system_id = \"client1\"; smpp_password = \"%s\";",
             hash);
    snprintf(top, sizeof(top), "smpp_server = { listen = \"127.0.0.1\"; port = %d; };\n", port);
    rt(g)->account_extra = extra;
    rt(g)->top_extra = top;
    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);
    assert_true(tl_wait_port(port, 5000));

    struct event_base *base = event_base_new();
    struct sm_wait st = { 0 };
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = sm_on_state };
    smpp_session_cfg_defaults(&sc);
    struct smpp_session *s = smpp_session_connect(base, "127.0.0.1", port, &sc, NULL, &ops, &st);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TX, .system_id = "client1",
                                   .password = "pw-12345" };
    assert_int_equal(smpp_session_bind(s, &bp), 0);
    TL_RUN_UNTIL(base, st.state == SMPP_BOUND_TX, 5000);
    assert_int_equal(st.state, SMPP_BOUND_TX);

    assert_int_equal(sm_submit(base, s, "12125550"), ESME_RINVDSTADR);      /* too short */
    assert_int_equal(sm_submit(base, s, "11125550100"), ESME_RINVDSTADR);   /* NANP format */
    assert_int_equal(sm_submit(base, s, "12125550142"), ESME_RINVDSTADR);   /* landline range */
    assert_int_equal(sm_submit(base, s, "14155550100"), ESME_ROK);

    smpp_session_close(s, "test over");
    TL_RUN_UNTIL(base, 0, 20);
    smpp_session_free(s);
    event_base_free(base);
    /* Only the valid one reached the SMSC. */
    for (int i = 0; i < 100 && gwfix_sim_stat(g, 0, "submit_sm") < 1; i++)
        tl_sleep_ms(50);
    assert_int_equal(gwfix_sim_stat(g, 0, "submit_sm"), 1);
}

/* ---------------------------------------------------------------- send_at */

static void
test_send_at(void **state)
{
    struct gwfix *g = *state;
    char *b, msg[512];

    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);

    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"x\","
                       "\"send_at\":\"tomorrow\"}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_send_at");
    free(b);
    b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"x\","
                       "\"send_at\":\"2020-01-01T00:00:00Z\"}", 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_send_at");
    assert_non_null(strstr(b, "in the future"));
    free(b);
    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"x\","
             "\"validity\":600,\"send_at\":%lld}", (long long)time(NULL) + 3600);
    b = gwfix_post_expect(g, msg, 400);
    assert_string_equal(tl_jstr(b, "code"), "invalid_send_at");
    free(b);

    /* 2 s ahead, as RFC 3339 with an offset. */
    time_t at = time(NULL) + 2;
    struct tm tm;
    time_t local = at - 5 * 3600;
    gmtime_r(&local, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S-05:00", &tm);
    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"later\","
             "\"send_at\":\"%s\"}", ts);
    b = gwfix_post_expect(g, msg, 202);
    assert_string_equal(tl_jstr(b, "status"), "scheduled");
    char *id = strdup(tl_jstr(b, "id"));
    free(b);
    b = gwfix_get_msg(g, id);
    long long release = tl_jnum(b, "release_at");
    assert_int_equal(release, (long long)at * 1000);
    free(b);
    b = gwfix_wait_state(g, id, "delivered", 15000);
    /* Submitted no earlier than its time; released through the queue. */
    long long sub = hist_ts(b, "submitted", NULL);
    hist_must(b, "scheduled", "send_at=");
    assert_true(hist_ts(b, "queued", "released") >= release);
    assert_true(sub >= release);
    free(b);
    free(id);
}

/* ------------------------------------------------------------ quiet hours */

/* The next 09:00 in New York at or after now (UTC seconds). */
static time_t
next_9am_new_york(time_t now)
{
    struct quiet *q = quiet_new(NULL);
    struct quiet_window w = { 9 * 60, 9 * 60 + 1 };
    time_t r = quiet_release_at_zone(q, "America/New_York", w, now);
    if (r == 0)      /* it is 09:00 there right now */
        r = quiet_release_at_zone(q, "America/New_York", w, now + 120);
    quiet_free(q);
    return r;
}

static void
test_quiet_hours_hold(void **state)
{
    struct gwfix *g = *state;
    time_t now = time(NULL), nine = next_9am_new_york(now);

    /* smsgwd's clock says 23:00 the evening before that 09:00. */
    rt(g)->clock_offset = (long)((nine - 10 * 3600) - now);
    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);

    char *b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12127360123\",\"text\":\"sale\","
                             "\"class\":\"marketing\"}", 202);
    assert_string_equal(tl_jstr(b, "status"), "held");
    char *id = strdup(tl_jstr(b, "id"));
    free(b);
    b = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(b, "state"), "held");
    /* Released at 09:00 New York time by smsgwd's clock, in real time. */
    assert_int_equal(tl_jnum(b, "release_at"), (long long)(nine - rt(g)->clock_offset) * 1000);
    hist_must(b, "held", "quiet_hours release=");
    assert_non_null(strstr(b, "zone=America/New_York"));
    free(b);

    /* Transactional traffic is not held. */
    char *id2 = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+12127360123\",\"text\":\"code 1\"}");
    free(gwfix_wait_state(g, id2, "delivered", 10000));
    b = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(b, "state"), "held");
    free(b);
    free(id);
    free(id2);
}

static void
test_quiet_hours_release(void **state)
{
    struct gwfix *g = *state;
    time_t now = time(NULL), nine = next_9am_new_york(now);

    /* 08:59:52 in New York by smsgwd's clock: the window opens in 8 s
     * (time enough for smsgwd to start and take the message first). */
    rt(g)->clock_offset = (long)((nine - 8) - now);
    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);

    char *b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12127360124\",\"text\":\"sale\","
                             "\"class\":\"marketing\"}", 202);
    assert_string_equal(tl_jstr(b, "status"), "held");
    char *id = strdup(tl_jstr(b, "id"));
    free(b);
    b = gwfix_wait_state(g, id, "delivered", 30000);
    long long release = tl_jnum(b, "release_at");
    assert_int_equal(release, (long long)(nine - rt(g)->clock_offset) * 1000);
    assert_true(hist_ts(b, "queued", "released") >= release);
    assert_true(hist_ts(b, "submitted", NULL) >= release);
    free(b);
    free(id);
}

/* An account's own window wins over the default: 09:30 in New York is
 * inside 09:00-21:00 but before this account's 10:00. */
static void
test_quiet_hours_account_window(void **state)
{
    struct gwfix *g = *state;
    time_t now = time(NULL), nine = next_9am_new_york(now);

    rt(g)->clock_offset = (long)((nine + 1800) - now);
    rt(g)->account_extra = "quiet_hours = \"10:00-20:00\";";
    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);

    char *b = gwfix_post_expect(g, "{\"from\":\"12345\",\"to\":\"+12127360125\",\"text\":\"sale\","
                             "\"class\":\"marketing\"}", 202);
    assert_string_equal(tl_jstr(b, "status"), "held");
    char *id = strdup(tl_jstr(b, "id"));
    free(b);
    b = gwfix_get_msg(g, id);
    assert_int_equal(tl_jnum(b, "release_at"), (long long)(nine + 3600 - rt(g)->clock_offset) * 1000);
    free(b);
    free(id);
}

/* --------------------------------------------------------- frequency caps */

static void
test_frequency_cap(void **state)
{
    struct gwfix *g = *state;
    char *b;
    const char *mk = "{\"from\":\"12345\",\"to\":\"+447700900123\",\"text\":\"sale\","
                     "\"class\":\"marketing\"}";

    rt(g)->account_extra = "marketing_cap = { count = 2; period = \"day\"; };";
    gwfix_start_sim(g, 0, NULL);
    write_config(g);
    start_gw(g);

    /* Opted out: refused after the cap unit was taken, so it is given back. */
    assert_int_equal(tl_http(g->http_port, "PUT", "/v1/optouts/+447700900123", KEY, NULL, NULL,
                             NULL), 200);
    for (int i = 0; i < 3; i++) {
        b = gwfix_post_expect(g, mk, 403);
        assert_string_equal(tl_jstr(b, "code"), "opted_out");
        free(b);
    }
    assert_int_equal(tl_http(g->http_port, "DELETE", "/v1/optouts/+447700900123", KEY, NULL,
                             NULL, NULL), 200);

    free(gwfix_post_ok(g, mk));
    free(gwfix_post_ok(g, mk));
    char *hdr = NULL;
    int st = tl_http(g->http_port, "POST", "/v1/messages", KEY, mk, &b, &hdr);
    assert_int_equal(st, 429);
    assert_string_equal(tl_jstr(b, "code"), "frequency_cap");
    /* Tomorrow 00:00 UTC. */
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[32];
    strftime(want, sizeof(want), "%Y-%m-%dT00:00:00Z", &tm);
    assert_string_equal(tl_jstr(b, "resets_at"), want);
    assert_non_null(strstr(hdr, "Retry-After"));
    free(b);
    free(hdr);

    /* Transactional messages and other subscribers are not capped. */
    free(gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+447700900123\",\"text\":\"code\"}"));
    free(gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+447700900124\",\"text\":\"sale\","
                    "\"class\":\"marketing\"}"));
}

/* ----------------------------------------------------------- fallback */

static void
test_fallback_rejected_to_email(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"hello mail\","
                          "\"fallback\":[\"email\"],\"email\":\"bob@example.org\"}");
    char *b = gwfix_wait_state(g, id, "sent_email", 15000);
    hist_must(b, "rejected", NULL);
    hist_must(b, "fallback", "start reason=rejected");
    char pat[160];      /* the Message-ID, which starts with our id */
    snprintf(pat, sizeof(pat), "channel=email result=accepted provider_id=%s.", id);
    hist_must(b, "fallback", pat);
    free(b);
    char path[4300];
    snprintf(path, sizeof(path), "%s/mail-1.json", rt(g)->maildir);
    char *mail = wait_file(path, 5000);
    assert_non_null(strstr(mail, "bob@example.org"));
    assert_non_null(strstr(mail, "hello mail"));
    assert_non_null(strstr(mail, id));          /* X-Smsgw-Id */
    free(id);
}

static void
test_fallback_undeliv_to_ott(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, "--dlr-mix", "UNDELIV=100", NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550177\",\"text\":\"hello ott\","
                          "\"fallback\":[\"ott\"]}");
    char *b = gwfix_wait_state(g, id, "sent_ott", 15000);
    hist_must(b, "undelivered", NULL);
    hist_must(b, "fallback", "channel=ott result=accepted provider_id=wamid");
    free(b);
    char *log = wait_file(rt(g)->plog, 5000);
    assert_non_null(strstr(log, "\"to\": \"14155550177\""));
    assert_non_null(strstr(log, "hello ott"));
    free(id);
}

static void
test_fallback_rcs_not_capable_then_email(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    /* 0404: the provider says not RCS capable. */
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550404\",\"text\":\"rich\","
                          "\"fallback\":[\"rcs\",\"email\"],\"email\":\"cy@example.org\"}");
    char *b = gwfix_wait_state(g, id, "sent_email", 15000);
    long long rcs = hist_ts(b, "fallback", "channel=rcs result=not_capable");
    long long mail = hist_ts(b, "fallback", "channel=email result=accepted");
    assert_true(rcs > 0);
    assert_true(mail > rcs);
    free(b);
    char *log = wait_file(rt(g)->plog, 5000);
    assert_non_null(strstr(log, "capabilities"));
    assert_null(strstr(log, "agentMessages"));

    /* A chain whose every step fails ends in fallback_failed. */
    char *id2 = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550404\",\"text\":\"rich\","
                           "\"fallback\":[\"rcs\"]}");
    b = gwfix_wait_state(g, id2, "fallback_failed", 15000);
    hist_must(b, "fallback", "channel=rcs result=not_capable");
    free(b);
    free(id);
    free(id2);
}

/* smsgwd dies while a step hangs: another run picks the chain up after
 * fallback_resume_s and goes on from that step. */
static void
test_fallback_resumed_after_crash(void **state)
{
    struct gwfix *g = *state;

    rt(g)->top_extra = "fallback_resume_s = 5;\n";
    gwfix_start_sim(g, 0, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    /* 0408: the OTT provider never answers (the connector times out after 5 s). */
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550408\",\"text\":\"hang\","
                          "\"fallback\":[\"ott\",\"email\"],\"email\":\"dee@example.org\"}");
    free(gwfix_wait_state(g, id, "fallback", 10000));
    tl_stop(g->gw, SIGKILL, 2000);
    g->gw = 0;
    start_gw(g);
    char *b = gwfix_wait_state(g, id, "sent_email", 40000);
    long long resumed = hist_must(b, "fallback", "resume step=0");
    assert_true(hist_must(b, "fallback", "channel=ott result=failed error=timeout") > resumed);
    assert_true(hist_must(b, "fallback", "channel=email result=accepted") > resumed);
    free(b);
    free(id);
}

static void
test_fallback_no_receipt_route_default(void **state)
{
    struct gwfix *g = *state;

    /* Receipts 6 s late; the route gives up after 1 s and uses its own chain. */
    rt(g)->route_extra = "fallback = [\"ott\"]; fallback_receipt_timeout_s = 1;";
    g->sim_dlr_delay_ms = "6000";
    gwfix_start_sim(g, 0, "--dlr-mix", "UNDELIV=100", NULL);
    start_channels(g);
    write_config(g);
    start_gw(g);

    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550188\",\"text\":\"late\"}");
    char *b = gwfix_wait_state(g, id, "sent_ott", 15000);
    hist_must(b, "submitted", NULL);
    long long start = hist_must(b, "fallback", "start reason=no_receipt");
    free(b);
    /* The late receipt is recorded, but the chain's outcome stays the state
     * (and the chain does not run again). */
    char path[128];
    snprintf(path, sizeof(path), "/v1/messages/%s", id);
    b = NULL;
    for (int i = 0; i < 300 && (!b || hist_ts(b, "receipt", NULL) < 0); i++) {
        free(b);
        b = NULL;
        tl_sleep_ms(50);
        assert_int_equal(tl_http(g->http_port, "GET", path, KEY, NULL, &b, NULL), 200);
    }
    assert_true(hist_must(b, "receipt", "stat=UNDELIV") > start);
    assert_string_equal(tl_jstr(b, "state"), "sent_ott");
    assert_null(strstr(b, "start reason=undelivered"));
    free(b);
    free(id);
}

/* ------------------------------------------------------------ routing */

static long
submits(struct gwfix *g, int n2)
{
    return (long)gwfix_sim_stat(g, n2, "submit_sm");
}

/* n messages to distinct numbers, in batches of 100. */
static void
post_many(struct gwfix *g, int n, int base)
{
    for (int done = 0; done < n;) {
        static char body[100 * 120 + 64];
        size_t o = (size_t)snprintf(body, sizeof(body), "{\"messages\":[");
        int k;
        for (k = 0; k < 100 && done + k < n; k++)
            o += (size_t)snprintf(body + o, sizeof(body) - o,
                                  "%s{\"from\":\"12345\",\"to\":\"+1415555%04d\",\"text\":\"w\"}",
                                  k ? "," : "", base + done + k);
        snprintf(body + o, sizeof(body) - o, "]}");
        char *resp = NULL;
        int st = tl_http(g->http_port, "POST", "/v1/messages/batch", KEY, body, &resp, NULL);
        if (st != 202) {
            tl_dump_tail(g->gwlog);
            fail_msg("batch -> %d %s", st, resp ? resp : "");
        }
        free(resp);
        done += k;
    }
}

static void
test_weighted_split(void **state)
{
    struct gwfix *g = *state;

    rt(g)->route_smsc = "( { name = \"sim\"; weight = 3; }, { name = \"sim2\"; weight = 1; } )";
    gwfix_start_sim(g, 0, NULL);
    gwfix_start_sim(g, 1, NULL);
    write_config(g);
    start_gw(g);
    /* Both binds up before the traffic (else the first messages all go to one). */
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"a\"}");
    free(gwfix_wait_state(g, id, "delivered", 10000));
    free(id);
    for (int i = 0; i < 100 && (submits(g, 0) == 0 || submits(g, 1) == 0); i++) {
        free(gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"b\"}"));
        tl_sleep_ms(100);
    }
    long a0 = submits(g, 0), b0 = submits(g, 1);
    assert_true(a0 > 0 && b0 > 0);

    post_many(g, 400, 0);
    long a = 0, b = 0;
    for (int i = 0; i < 300; i++) {
        a = submits(g, 0) - a0;
        b = submits(g, 1) - b0;
        if (a + b >= 400)
            break;
        tl_sleep_ms(100);
    }
    assert_int_equal(a + b, 400);
    /* 3:1 → 300 / 100, within 10% of the total. */
    if (a < 260 || a > 340)
        fail_msg("weighted split 3:1 gave %ld / %ld", a, b);
}

static void
test_failover_by_priority(void **state)
{
    struct gwfix *g = *state;

    rt(g)->route_smsc = "( { name = \"sim\"; priority = 0; }, { name = \"sim2\"; priority = 1; } )";
    /* The preferred SMSC is down: the route's queue goes out through the other. */
    gwfix_start_sim(g, 1, NULL);
    write_config(g);
    start_gw(g);
    post_many(g, 20, 100);
    for (int i = 0; i < 200 && submits(g, 1) < 20; i++)
        tl_sleep_ms(50);
    assert_int_equal(submits(g, 1), 20);

    /* It comes back: traffic returns to it. */
    gwfix_start_sim(g, 0, NULL);
    for (int i = 0; i < 100 && submits(g, 0) == 0; i++) {
        free(gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"p\"}"));
        tl_sleep_ms(100);
    }
    long before2 = submits(g, 1);
    post_many(g, 20, 200);
    for (int i = 0; i < 200 && submits(g, 0) < 20; i++)
        tl_sleep_ms(50);
    assert_true(submits(g, 0) >= 20);
    assert_int_equal(submits(g, 1), before2);

    /* And when it goes down again, the queue moves back to the other. */
    tl_stop(g->sim[0].pid, SIGKILL, 2000);
    g->sim[0].pid = 0;
    tl_sleep_ms(300);
    post_many(g, 10, 300);
    for (int i = 0; i < 300 && submits(g, 1) < before2 + 10; i++)
        tl_sleep_ms(50);
    assert_true(submits(g, 1) >= before2 + 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_number_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_checks_smpp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_hours_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_hours_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_hours_account_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frequency_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_rejected_to_email, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_undeliv_to_ott, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_rcs_not_capable_then_email, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_no_receipt_route_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_resumed_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weighted_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_by_priority, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
