/*
 * The marketing frequency cap on SMPP client submits: an account with
 * smpp_class = "marketing" has its submit_sm counted against its
 * marketing_cap like the API's marketing messages, and a submit over the
 * cap is answered ESME_RX_P_APPN (docs/smpp-server.md). Single submits,
 * concatenated parts (the cap is taken once, when the set is complete) and
 * scheduled submits (taken when accepted); a unit taken for a message that
 * is not stored (opted out) is given back. A real redis-server, smsc-sim
 * and smsgwd; the client is the project's own SMPP session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/config.h"
#include "smpp/smpp_session.h"
#include "tests/gwfix.h"

#define KEY GWFIX_KEY

/* The port of smsgwd's smpp_server, in the fixture's ext. */
static int
smpp_port(struct gwfix *g)
{
    return *(int *)g->ext;
}

static int
setup(void **state)
{
    struct gwfix *g = gwfix_new(0);
    g->ext = calloc(1, sizeof(int));
    *(int *)g->ext = tl_free_port();
    g->sim_dlr_delay_ms = "";
    *state = g;
    return 0;
}

static void
start_all(struct gwfix *g, const char *smpp_class)
{
    char hash[65], pw[CONFIG_SMPP_HASH_MAX];
    gwfix_start_sim(g, 0, NULL);
    config_sha256_hex(KEY, hash);
    assert_int_equal(config_hash_smpp_password("pw-12345", 1000, pw, sizeof(pw)), 0);
    gwfix_write_conf(g,
            "instance = \"caps-1\";\n"
            "log_level = \"debug\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "smpp_server = { listen = \"127.0.0.1\"; port = %d; };\n"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; } );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( { name = \"default\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"\"]; } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"];\n"
            "               smpp_system_id = \"client1\"; smpp_password = \"%s\";\n"
            "               marketing_cap = { count = 2; period = \"day\"; }; %s } );\n",
            g->redis.port, g->http_port, smpp_port(g), g->sim[0].port, hash, pw,
            smpp_class ? smpp_class : "");
    gwfix_start_gw(g);
    if (!tl_wait_port(smpp_port(g), 10000)) {
        tl_dump_tail(g->gwlog);
        fail_msg("smsgwd's SMPP server did not start");
    }
}

struct sm_wait {
    enum smpp_state state;
    bool done;
    uint32_t status;
    char id[80];
};

static void
on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
         void *ctx)
{
    (void)s;
    (void)from;
    (void)reason;
    ((struct sm_wait *)ctx)->state = to;
}

static void
on_resp(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp, void *arg)
{
    struct sm_wait *w = arg;
    (void)s;
    w->done = true;
    w->status = res == SMPP_REQ_RESP ? resp->hdr.command_status : 0xFFFFFFFFu;
    if (res == SMPP_REQ_RESP && resp->has_body)
        snprintf(w->id, sizeof(w->id), "%s", (const char *)resp->u.submit_sm_resp.message_id);
}

struct client {
    struct event_base *base;
    struct smpp_session *s;
    struct sm_wait st;
};

static void
client_bind(struct gwfix *g, struct client *c)
{
    struct smpp_session_cfg sc;
    static const struct smpp_session_ops ops = { .on_state = on_state };
    c->base = event_base_new();
    smpp_session_cfg_defaults(&sc);
    c->s = smpp_session_connect(c->base, "127.0.0.1", smpp_port(g), &sc, NULL, &ops, &c->st);
    struct smpp_bind_params bp = { .mode = SMPP_BIND_TX, .system_id = "client1",
                                   .password = "pw-12345" };
    assert_int_equal(smpp_session_bind(c->s, &bp), 0);
    TL_RUN_UNTIL(c->base, c->st.state == SMPP_BOUND_TX, 5000);
    assert_int_equal(c->st.state, SMPP_BOUND_TX);
}

static void
client_close(struct client *c)
{
    smpp_session_close(c->s, "test over");
    TL_RUN_UNTIL(c->base, 0, 20);
    smpp_session_free(c->s);
    event_base_free(c->base);
}

/* One submit_sm; part_total > 1 adds an 8-bit UDH for part part_seq & 0xFF
 * (its reference: part_seq >> 8). sched:
 * schedule_delivery_time or NULL. Returns the status; the id in *w. */
static uint32_t
submit(struct client *c, const char *to, unsigned part_seq, unsigned part_total,
       const char *sched, struct sm_wait *w)
{
    struct smpp_pdu p;
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    submit_sm_t *b = &p.u.submit_sm;
    snprintf((char *)b->source_addr, sizeof(b->source_addr), "12345");
    snprintf((char *)b->destination_addr, sizeof(b->destination_addr), "%s", to);
    b->dest_addr_ton = 1;
    b->dest_addr_npi = 1;
    if (sched)
        snprintf((char *)b->schedule_delivery_time, sizeof(b->schedule_delivery_time), "%s", sched);
    size_t n = 0;
    if (part_total > 1) {
        const uint8_t udh[] = { 5, 0, 3, (uint8_t)(part_seq >> 8), (uint8_t)part_total,
                                (uint8_t)part_seq };
        memcpy(b->short_message, udh, sizeof(udh));
        n = sizeof(udh);
        b->esm_class = 0x40;
    }
    memcpy(b->short_message + n, "sale", 4);
    b->sm_length = (uint8_t)(n + 4);
    memset(w, 0, sizeof(*w));
    assert_int_equal(smpp_session_send(c->s, &p, on_resp, w, NULL), SMPP_OK);
    TL_RUN_UNTIL(c->base, w->done, 5000);
    assert_true(w->done);
    return w->status;
}

static uint32_t
submit1(struct client *c, const char *to)
{
    struct sm_wait w;
    return submit(c, to, 0, 0, NULL, &w);
}

static void
test_smpp_marketing_cap(void **state)
{
    struct gwfix *g = *state;
    struct client c = { 0 };
    struct sm_wait w;

    start_all(g, "smpp_class = \"marketing\";");
    client_bind(g, &c);

    /* single submits: two per subscriber and day, the third refused */
    assert_int_equal(submit(&c, "447700900123", 0, 0, NULL, &w), ESME_ROK);
    char id[80];
    snprintf(id, sizeof(id), "%s", w.id);
    assert_int_equal(submit1(&c, "447700900123"), ESME_ROK);
    assert_int_equal(submit1(&c, "447700900123"), ESME_RX_P_APPN);
    assert_int_equal(submit1(&c, "447700900123"), ESME_RX_P_APPN);
    assert_true(gwfix_log_count(g, "event=frequency_cap account=acme") >= 2);
    assert_true(gwfix_log_count(g, "status=ESME_RX_P_APPN reason=\"the account's marketing cap") >= 2);
    /* another subscriber has its own count */
    assert_int_equal(submit1(&c, "447700900124"), ESME_ROK);
    /* stored as marketing */
    char path[160], *body = NULL;
    snprintf(path, sizeof(path), "/v1/messages/%s", id);
    assert_int_equal(tl_http(g->http_port, "GET", path, KEY, NULL, &body, NULL), 200);
    assert_non_null(strstr(body, "\"class\":\"marketing\""));
    free(body);

    /* opted out: refused after the unit was taken, so it is given back */
    assert_int_equal(tl_http(g->http_port, "PUT", "/v1/optouts/+447700900125", KEY, NULL, NULL,
                             NULL), 200);
    for (int i = 0; i < 3; i++)
        assert_int_equal(submit1(&c, "447700900125"), ESME_RX_R_APPN);
    assert_int_equal(tl_http(g->http_port, "DELETE", "/v1/optouts/+447700900125", KEY, NULL,
                             NULL, NULL), 200);
    assert_int_equal(submit1(&c, "447700900125"), ESME_ROK);
    assert_int_equal(submit1(&c, "447700900125"), ESME_ROK);
    assert_int_equal(submit1(&c, "447700900125"), ESME_RX_P_APPN);

    /* concatenated parts: one unit per message, taken when the set is complete */
    for (unsigned m = 1; m <= 2; m++) {
        assert_int_equal(submit(&c, "447700900126", m << 8 | 1, 2, NULL, &w), ESME_ROK);
        assert_int_equal(submit(&c, "447700900126", m << 8 | 2, 2, NULL, &w), ESME_ROK);
    }
    assert_int_equal(submit(&c, "447700900126", 3 << 8 | 1, 2, NULL, &w), ESME_ROK); /* kept */
    assert_int_equal(submit(&c, "447700900126", 3 << 8 | 2, 2, NULL, &w), ESME_RX_P_APPN);
    /* a part of the refused set sent again is judged again (not taken for
     * a duplicate of a stored message): refused */
    assert_int_equal(submit(&c, "447700900126", 3 << 8 | 2, 2, NULL, &w), ESME_RX_P_APPN);

    /* scheduled: the unit is taken when the submit is accepted */
    assert_int_equal(submit(&c, "447700900127", 0, 0, "000000000100000R", &w), ESME_ROK);
    assert_int_equal(submit(&c, "447700900127", 0, 0, "000000000100000R", &w), ESME_ROK);
    assert_int_equal(submit(&c, "447700900127", 0, 0, "000000000100000R", &w), ESME_RX_P_APPN);
    client_close(&c);
}

/* Without smpp_class the account's SMPP traffic is transactional: no cap. */
static void
test_smpp_transactional_uncapped(void **state)
{
    struct gwfix *g = *state;
    struct client c = { 0 };

    start_all(g, NULL);
    client_bind(g, &c);
    for (int i = 0; i < 4; i++)
        assert_int_equal(submit1(&c, "447700900123"), ESME_ROK);
    assert_int_equal(gwfix_log_count(g, "event=frequency_cap"), 0);
    client_close(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_smpp_marketing_cap, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_smpp_transactional_uncapped, setup, gwfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
