/*
 * Our ESME session against the real smsc-sim process (its ASan build) over
 * loopback: plain and TLS binds with receipts, wrong password, a sim that
 * freezes (enquire_link timeout), a sim killed mid-window (every request
 * ends exactly once with connection lost), and reconnecting when it is back.
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
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "smpp/smpp_client.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_tls.h"
#include "tests/testlib.h"

struct sx {
    struct event_base *base;
    char *dir;
    char simlog[4200];
    int port;
    pid_t sim;
    enum smpp_state state;
    unsigned bound, closed;
    char reason[160];
    unsigned ok, err, timeouts, lost, receipts, delivered;
    char ids[16][66];
    unsigned nids, matched;
};

#define RUN_UNTIL(x, cond, ms) TL_RUN_UNTIL((x)->base, cond, ms)

static void
on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
         void *ctx)
{
    struct sx *x = ctx;
    (void)s;
    (void)from;
    x->state = to;
    if (to == SMPP_BOUND_TRX || to == SMPP_BOUND_TX)
        x->bound++;
    if (to == SMPP_CLOSED) {
        x->closed++;
        snprintf(x->reason, sizeof(x->reason), "%s", reason ? reason : "");
    }
}

static void
on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct sx *x = ctx;

    if (req->hdr.command_id == DELIVER_SM && (req->u.deliver_sm.esm_class & 0x04)) {
        struct smpp_dlr text, out;
        struct smpp_dlr_tlv tlv = {
            .receipted_message_id = (req->tlv.present & SMPP_TLV_RECEIPTED_MESSAGE_ID)
                                    ? req->tlv.receipted_message_id : NULL,
            .message_state = (req->tlv.present & SMPP_TLV_MESSAGE_STATE)
                             ? req->tlv.message_state : 0,
        };
        smpp_dlr_parse(req->u.deliver_sm.short_message, req->u.deliver_sm.sm_length, &text);
        x->receipts++;
        if (smpp_dlr_combine(&text, &tlv, &out) == SMPP_DLR_OK) {
            if (out.stat == SMPP_DLR_STAT_DELIVRD)
                x->delivered++;
            for (unsigned i = 0; i < x->nids; i++)
                if (strcmp(out.id, x->ids[i]) == 0)
                    x->matched++;
        }
    }
    smpp_session_respond_status(s, &req->hdr, ESME_ROK);
}

static void
on_resp(struct smpp_session *s, enum smpp_req_result r, const struct smpp_pdu *resp, void *arg)
{
    struct sx *x = arg;
    (void)s;
    if (r == SMPP_REQ_TIMEOUT)
        x->timeouts++;
    else if (r == SMPP_REQ_CONN_LOST)
        x->lost++;
    else if (resp->hdr.command_status != ESME_ROK)
        x->err++;
    else {
        x->ok++;
        if (resp->has_body && x->nids < 16)
            snprintf(x->ids[x->nids++], 66, "%s", (const char *)resp->u.submit_sm_resp.message_id);
    }
}

static const struct smpp_session_ops ops = { .on_state = on_state, .on_request = on_request };

static void
start_sim(struct sx *x, const char *extra1, const char *extra2, const char *extra3,
          const char *extra4)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", x->port);
    char *argv[24] = { (char *)tl_bin("smsc-sim"), "--port", portstr, "--system-id", "acme",
                       "--password", "secret", "--stats-interval-ms", "0", "--dlr-delay-ms",
                       "20", "--log-level", "warn" };
    int n = 13;
    const char *extra[] = { extra1, extra2, extra3, extra4 };
    for (int i = 0; i < 4; i++)
        if (extra[i])
            argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    x->sim = tl_spawn(argv, x->simlog);
    if (!tl_wait_port(x->port, 10000)) {
        tl_dump_file(x->simlog);
        fail_msg("smsc-sim did not start");
    }
}

static int
setup(void **state)
{
    struct sx *x = calloc(1, sizeof(*x));
    x->base = event_base_new();
    x->dir = tl_tmpdir();
    snprintf(x->simlog, sizeof(x->simlog), "%s/sim.log", x->dir);
    x->port = tl_free_port();
    log_set_level(LOG_ERROR);
    *state = x;
    return 0;
}

static int
teardown(void **state)
{
    struct sx *x = *state;
    if (x->sim > 0)
        tl_stop(x->sim, SIGKILL, 2000);
    event_base_free(x->base);
    tl_cleanup_dir(x->dir);
    free(x);
    return 0;
}

static struct smpp_client *
client(struct sx *x, SSL_CTX *ssl, const char *host, const char *pw, unsigned resp_ms)
{
    struct smpp_client_cfg cc = {
        .name = "sim", .host = host, .port = x->port, .ssl_ctx = ssl,
        .bind = { .mode = SMPP_BIND_TRX, .system_id = "acme", .password = pw },
        .backoff_min_ms = 100, .backoff_max_ms = 500,
    };
    smpp_session_cfg_defaults(&cc.session);
    cc.session.window = 100;
    cc.session.resp_timeout_ms = resp_ms;
    cc.session.enquire_ms = 300;
    cc.session.dead_ms = 500;
    struct smpp_client *c = smpp_client_new(x->base, &cc, &ops, x);
    smpp_client_start(c);
    return c;
}

static enum smpp_rc
submit(struct sx *x, struct smpp_client *c, int i)
{
    static struct smpp_pdu p;
    smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
    strcpy((char *)p.u.submit_sm.source_addr, "12345");
    p.u.submit_sm.source_addr_ton = 3;
    snprintf((char *)p.u.submit_sm.destination_addr, 21, "14155%06d", i % 1000000);
    p.u.submit_sm.dest_addr_ton = 1;
    p.u.submit_sm.dest_addr_npi = 1;
    p.u.submit_sm.registered_delivery = 1;
    p.u.submit_sm.sm_length = 5;
    memcpy(p.u.submit_sm.short_message, "hello", 5);
    return smpp_session_send(smpp_client_session(c), &p, on_resp, x, NULL);
}

static void
finish(struct sx *x, struct smpp_client *c)
{
    smpp_client_stop(c, NULL, NULL);
    RUN_UNTIL(x, x->state == SMPP_CLOSED, 5000);
    smpp_client_free(c);
    int st = tl_stop(x->sim, SIGTERM, 10000);
    x->sim = 0;
    if (!tl_exited_ok(st)) {
        tl_dump_file(x->simlog);
        fail_msg("smsc-sim did not exit cleanly");
    }
}

static void
test_plain_bind_submit_receipts(void **state)
{
    struct sx *x = *state;

    start_sim(x, NULL, NULL, NULL, NULL);
    struct smpp_client *c = client(x, NULL, "127.0.0.1", "secret", 5000);
    RUN_UNTIL(x, x->state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(x->state, SMPP_BOUND_TRX);
    for (int i = 0; i < 10; i++)
        assert_int_equal(submit(x, c, i), SMPP_OK);
    RUN_UNTIL(x, x->ok == 10 && x->receipts == 10, 5000);
    assert_int_equal(x->ok, 10);
    assert_int_equal(x->receipts, 10);
    assert_int_equal(x->delivered, 10);
    assert_int_equal(x->matched, 10);
    finish(x, c);
}

static void
test_tls_bind_submit(void **state)
{
    struct sx *x = *state;
    char cmd[8192], ca[4300], crt[4300], key[4300], err[256];

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
             "-days 2 -subj /CN=t-ca >/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes "
             "-keyout s.key -out s.csr -subj /CN=localhost >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:localhost\\n' > e.cnf && openssl x509 -req -in s.csr "
             "-CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days 2 -extfile e.cnf "
             ">/dev/null 2>&1", x->dir);
    assert_int_equal(system(cmd), 0);
    snprintf(ca, sizeof(ca), "%s/ca.pem", x->dir);
    snprintf(crt, sizeof(crt), "%s/s.pem", x->dir);
    snprintf(key, sizeof(key), "%s/s.key", x->dir);
    start_sim(x, "--tls-cert", crt, "--tls-key", key);
    struct smpp_tls_client_cfg tc = { .ca_file = ca, .verify = true };
    SSL_CTX *ctx = smpp_tls_client_ctx(&tc, err, sizeof(err));
    assert_non_null(ctx);
    struct smpp_client *c = client(x, ctx, "localhost", "secret", 5000);
    RUN_UNTIL(x, x->state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(x->state, SMPP_BOUND_TRX);
    for (int i = 0; i < 5; i++)
        assert_int_equal(submit(x, c, i), SMPP_OK);
    RUN_UNTIL(x, x->ok == 5 && x->receipts == 5, 5000);
    assert_int_equal(x->ok, 5);
    assert_int_equal(x->matched, 5);
    finish(x, c);
    SSL_CTX_free(ctx);
}

static void
test_wrong_password(void **state)
{
    struct sx *x = *state;

    start_sim(x, NULL, NULL, NULL, NULL);
    struct smpp_client *c = client(x, NULL, "127.0.0.1", "nope", 5000);
    RUN_UNTIL(x, x->closed >= 1, 5000);
    assert_int_equal(x->bound, 0);
    assert_string_equal(x->reason, "bind refused: ESME_RINVPASWD");
    finish(x, c);
}

static void
test_frozen_sim_enquire_link_timeout(void **state)
{
    struct sx *x = *state;

    start_sim(x, NULL, NULL, NULL, NULL);
    struct smpp_client *c = client(x, NULL, "127.0.0.1", "secret", 5000);
    RUN_UNTIL(x, x->state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(x->state, SMPP_BOUND_TRX);
    /* idle for longer than enquire_ms: keepalives are answered, still bound */
    RUN_UNTIL(x, false, 1000);
    assert_int_equal(x->state, SMPP_BOUND_TRX);
    assert_int_equal(x->closed, 0);
    kill(x->sim, SIGSTOP);          /* the peer stops answering, socket open */
    RUN_UNTIL(x, x->closed >= 1, 3000);
    kill(x->sim, SIGCONT);
    assert_int_equal(x->closed, 1);
    assert_non_null(strstr(x->reason, "enquire_link timeout"));
    /* and the slot binds again once the peer answers */
    RUN_UNTIL(x, x->bound >= 2, 5000);
    assert_int_equal(x->bound, 2);
    finish(x, c);
}

static void
test_sim_killed_mid_window_then_back(void **state)
{
    struct sx *x = *state;

    start_sim(x, "--resp-delay-ms", "3000", NULL, NULL);
    struct smpp_client *c = client(x, NULL, "127.0.0.1", "secret", 10000);
    RUN_UNTIL(x, x->state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(x->state, SMPP_BOUND_TRX);
    for (int i = 0; i < 100; i++)
        assert_int_equal(submit(x, c, i), SMPP_OK);
    assert_int_equal(submit(x, c, 100), SMPP_AGAIN);      /* window of 100 */
    RUN_UNTIL(x, false, 300);
    tl_stop(x->sim, SIGKILL, 2000);
    RUN_UNTIL(x, x->lost == 100, 3000);
    assert_int_equal(x->lost, 100);
    assert_int_equal(x->ok + x->err + x->timeouts, 0);
    /* the sim comes back on the same port: the client rebinds by itself */
    start_sim(x, NULL, NULL, NULL, NULL);
    RUN_UNTIL(x, x->bound >= 2, 8000);
    assert_int_equal(x->bound, 2);
    assert_true(smpp_client_reconnects(c) >= 1);
    assert_int_equal(submit(x, c, 1), SMPP_OK);
    RUN_UNTIL(x, x->ok == 1, 5000);
    assert_int_equal(x->ok, 1);
    assert_int_equal(x->lost, 100);             /* nothing reported twice */
    finish(x, c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_bind_submit_receipts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_bind_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_sim_enquire_link_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_killed_mid_window_then_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
