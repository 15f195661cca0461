/*
 * Sessions over loopback, both roles in one event loop: our ESME
 * (smpp_client / smpp_session) against our SMSC (smpp_server), plain and
 * TLS, plus raw sockets speaking bad SMPP to the server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/dns.h"
#include "core/log.h"
#include "smpp/smpp_client.h"
#include "smpp/smpp_server.h"
#include "smpp/smpp_tls.h"
#include "tests/testlib.h"

/* ------------------------------------------------------------ fixture */

struct fx {
    struct event_base *base;
    struct smpp_server *srv;
    struct smpp_session_cfg scfg;
    /* server behaviour */
    bool withhold;              /* never answer submit_sm */
    unsigned submits_seen;
    struct smpp_session *last_srv_session;
    /* client observations */
    enum smpp_state client_state;
    char close_reason[160];
    unsigned resp_ok, resp_err, timeouts, lost;
    unsigned window_events;
    unsigned bound_count;
    unsigned closed_count;
    uint32_t last_status;
    char last_msgid[66];
};

static uint32_t
srv_on_bind(struct smpp_session *s, const struct smpp_pdu *b, void *ctx)
{
    (void)s;
    (void)ctx;
    if (strcmp((const char *)b->u.bind_transmitter.system_id, "acme") != 0)
        return ESME_RINVSYSID;
    if (strcmp((const char *)b->u.bind_transmitter.password, "secret") != 0)
        return ESME_RINVPASWD;
    return ESME_ROK;
}

static void
srv_on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct fx *f = ctx;
    static struct smpp_pdu resp;

    f->last_srv_session = s;
    if (req->hdr.command_id != SUBMIT_SM) {
        smpp_session_respond_status(s, &req->hdr, ESME_RSYSERR);
        return;
    }
    f->submits_seen++;
    if (f->withhold)
        return;
    smpp_pdu_init(&resp, SUBMIT_SM_RESP, ESME_ROK, req->hdr.sequence_number);
    snprintf((char *)resp.u.submit_sm_resp.message_id, 65, "%X", 0xA000 + f->submits_seen);
    smpp_session_respond(s, &resp);
}

static void
srv_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to,
             const char *reason, void *ctx)
{
    struct fx *f = ctx;
    (void)from;
    (void)reason;
    if (to == SMPP_BOUND_TRX || to == SMPP_BOUND_TX || to == SMPP_BOUND_RX)
        f->last_srv_session = s;
}

static void
srv_on_closed(struct smpp_session *s, void *ctx)
{
    struct fx *f = ctx;
    if (f->last_srv_session == s)
        f->last_srv_session = NULL;
}

static const struct smpp_session_ops srv_ops = {
    .on_bind = srv_on_bind,
    .on_request = srv_on_request,
    .on_state = srv_on_state,
    .on_closed = srv_on_closed,
};

static void
cli_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to,
             const char *reason, void *ctx)
{
    struct fx *f = ctx;
    (void)s;
    (void)from;
    f->client_state = to;
    if (to == SMPP_BOUND_TRX || to == SMPP_BOUND_TX || to == SMPP_BOUND_RX)
        f->bound_count++;
    if (to == SMPP_CLOSED) {
        f->closed_count++;
        snprintf(f->close_reason, sizeof(f->close_reason), "%s", reason ? reason : "");
    }
}

static void
cli_on_window(struct smpp_session *s, void *ctx)
{
    struct fx *f = ctx;
    (void)s;
    f->window_events++;
}

static const struct smpp_session_ops cli_ops = {
    .on_state = cli_on_state,
    .on_window = cli_on_window,
};

static void
on_resp(struct smpp_session *s, enum smpp_req_result r, const struct smpp_pdu *resp, void *arg)
{
    struct fx *f = arg;
    (void)s;
    switch (r) {
    case SMPP_REQ_RESP:
        f->last_status = resp->hdr.command_status;
        if (resp->hdr.command_status == ESME_ROK) {
            f->resp_ok++;
            if (resp->has_body)
                snprintf(f->last_msgid, sizeof(f->last_msgid), "%s",
                         (const char *)resp->u.submit_sm_resp.message_id);
        } else {
            f->resp_err++;
        }
        break;
    case SMPP_REQ_TIMEOUT: f->timeouts++; break;
    case SMPP_REQ_CONN_LOST: f->lost++; break;
    }
}

static void
fx_start_server(struct fx *f, SSL_CTX *ssl)
{
    struct smpp_server_cfg sc = {
        .addr = "127.0.0.1", .port = 0, .ssl_ctx = ssl, .system_id = "TESTSMSC",
    };
    sc.session = f->scfg;
    f->srv = smpp_server_new(f->base, &sc, &srv_ops, f);
    assert_non_null(f->srv);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    smpp_session_cfg_defaults(&f->scfg);
    f->scfg.window = 4;
    f->scfg.resp_timeout_ms = 300;
    f->scfg.bind_timeout_ms = 1000;
    log_set_level(LOG_WARN);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    if (f->srv)
        smpp_server_free(f->srv);
    event_base_loop(f->base, EVLOOP_NONBLOCK);     /* cancelled lookups finish */
    dns_free(f->base);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* Run the loop until cond holds or ms pass. */
#define RUN_UNTIL(f, cond, ms) TL_RUN_UNTIL((f)->base, cond, ms)

static struct smpp_client *
fx_client(struct fx *f, int port, SSL_CTX *ssl, const char *host, const char *password)
{
    struct smpp_client_cfg cc = {
        .name = "test", .host = host, .port = port, .ssl_ctx = ssl,
        .bind = { .mode = SMPP_BIND_TRX, .system_id = "acme", .password = password },
        .backoff_min_ms = 50, .backoff_max_ms = 400,
    };
    cc.session = f->scfg;
    struct smpp_client *c = smpp_client_new(f->base, &cc, &cli_ops, f);
    smpp_client_start(c);
    return c;
}

static void
fill_submit(struct smpp_pdu *p, const char *text)
{
    smpp_pdu_init(p, SUBMIT_SM, 0, 0);
    strcpy((char *)p->u.submit_sm.source_addr, "12345");
    p->u.submit_sm.source_addr_ton = 3;
    strcpy((char *)p->u.submit_sm.destination_addr, "14155550100");
    p->u.submit_sm.dest_addr_ton = 1;
    p->u.submit_sm.dest_addr_npi = 1;
    p->u.submit_sm.sm_length = (uint8_t)strlen(text);
    memcpy(p->u.submit_sm.short_message, text, strlen(text));
}

static void
stop_client(struct fx *f, struct smpp_client *c)
{
    smpp_client_stop(c, NULL, NULL);
    RUN_UNTIL(f, smpp_client_session(c) == NULL && f->client_state == SMPP_CLOSED, 3000);
    smpp_client_free(c);
}

/* ------------------------------------------------------------ tests */

static void
test_bind_submit_unbind(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;

    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "127.0.0.1", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 3000);
    assert_int_equal(f->client_state, SMPP_BOUND_TRX);
    struct smpp_session *s = smpp_client_session(c);
    assert_non_null(s);
    fill_submit(&p, "hello");
    assert_int_equal(smpp_session_send(s, &p, on_resp, f, NULL), SMPP_OK);
    RUN_UNTIL(f, f->resp_ok == 1, 2000);
    assert_int_equal(f->resp_ok, 1);
    assert_string_equal(f->last_msgid, "A001");
    /* A clean unbind: the server answers unbind_resp and we close. */
    smpp_client_stop(c, NULL, NULL);
    RUN_UNTIL(f, f->client_state == SMPP_CLOSED, 3000);
    assert_int_equal(f->client_state, SMPP_CLOSED);
    assert_string_equal(f->close_reason, "unbound");
    RUN_UNTIL(f, smpp_server_sessions(f->srv) == 0, 2000);
    assert_int_equal(smpp_server_sessions(f->srv), 0);
    smpp_client_free(c);
}

static void
test_wrong_password(void **state)
{
    struct fx *f = *state;

    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "127.0.0.1", "wrong");
    RUN_UNTIL(f, f->closed_count >= 1, 3000);
    assert_int_equal(f->bound_count, 0);
    assert_string_equal(f->close_reason, "bind refused: ESME_RINVPASWD");
    stop_client(f, c);
}

/* An SMSC given by name: resolved without blocking (core/dns.h),
 * "localhost" from /etc/hosts binds (its IPv4 address: the server listens
 * on 127.0.0.1); a name that does not resolve fails the attempt like a
 * refused connection, with the reason. */
static void
test_connect_by_name(void **state)
{
    struct fx *f = *state;

    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "localhost", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 3000);
    assert_int_equal(f->client_state, SMPP_BOUND_TRX);
    stop_client(f, c);

    f->closed_count = 0;
    f->bound_count = 0;
    c = fx_client(f, smpp_server_port(f->srv), NULL, "smsc.invalid", "secret");
    RUN_UNTIL(f, f->closed_count >= 1, 15000);
    assert_int_equal(f->bound_count, 0);
    if (strncmp(f->close_reason, "cannot resolve smsc.invalid:", 28) != 0)
        fail_msg("close reason: %s", f->close_reason);
    stop_client(f, c);

    /* Stopped while its lookup is out: cancelled, nothing left behind. */
    c = fx_client(f, smpp_server_port(f->srv), NULL, "smsc.invalid", "secret");
    stop_client(f, c);
}

static void
test_window_full_then_drained(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;

    f->withhold = true;
    f->scfg.resp_timeout_ms = 5000;
    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "127.0.0.1", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 3000);
    struct smpp_session *s = smpp_client_session(c);
    assert_non_null(s);
    uint32_t seqs[4];
    for (int i = 0; i < 4; i++) {
        fill_submit(&p, "x");
        assert_int_equal(smpp_session_send(s, &p, on_resp, f, &seqs[i]), SMPP_OK);
    }
    fill_submit(&p, "x");
    assert_int_equal(smpp_session_send(s, &p, on_resp, f, NULL), SMPP_AGAIN);
    assert_int_equal(smpp_session_outstanding(s), 4);
    RUN_UNTIL(f, f->submits_seen == 4, 2000);
    assert_int_equal(f->submits_seen, 4);
    /* Answer one, out of order: the window opens and on_window fires. */
    static struct smpp_pdu resp;
    smpp_pdu_init(&resp, SUBMIT_SM_RESP, ESME_ROK, seqs[2]);
    strcpy((char *)resp.u.submit_sm_resp.message_id, "X3");
    smpp_session_respond(f->last_srv_session, &resp);
    RUN_UNTIL(f, f->window_events == 1, 2000);
    assert_int_equal(f->window_events, 1);
    assert_int_equal(f->resp_ok, 1);
    assert_string_equal(f->last_msgid, "X3");
    assert_int_equal(smpp_session_outstanding(s), 3);
    fill_submit(&p, "y");
    assert_int_equal(smpp_session_send(s, &p, on_resp, f, NULL), SMPP_OK);
    stop_client(f, c);
    /* The four still outstanding ended exactly once each. */
    assert_int_equal(f->resp_ok + f->timeouts + f->lost, 5);
}

static void
test_response_timeout(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;

    f->withhold = true;
    f->scfg.resp_timeout_ms = 200;
    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "127.0.0.1", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 3000);
    struct smpp_session *s = smpp_client_session(c);
    for (int i = 0; i < 3; i++) {
        fill_submit(&p, "t");
        assert_int_equal(smpp_session_send(s, &p, on_resp, f, NULL), SMPP_OK);
    }
    RUN_UNTIL(f, f->timeouts == 3, 3000);
    assert_int_equal(f->timeouts, 3);
    assert_int_equal(smpp_session_outstanding(s), 0);
    /* a late resp for a timed-out request is not reported again */
    RUN_UNTIL(f, false, 300);
    assert_int_equal(f->timeouts + f->resp_ok + f->lost, 3);
    assert_int_equal(f->client_state, SMPP_BOUND_TRX);
    stop_client(f, c);
}

static void
close_all(struct smpp_session *s, void *arg)
{
    (void)arg;
    smpp_session_close(s, "test: server drops the connection");
}

static void
test_peer_drops_mid_window(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;

    f->withhold = true;
    f->scfg.window = 50;
    f->scfg.resp_timeout_ms = 5000;
    fx_start_server(f, NULL);
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), NULL, "127.0.0.1", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 3000);
    struct smpp_session *s = smpp_client_session(c);
    for (int i = 0; i < 50; i++) {
        fill_submit(&p, "m");
        assert_int_equal(smpp_session_send(s, &p, on_resp, f, NULL), SMPP_OK);
    }
    RUN_UNTIL(f, f->submits_seen == 50, 3000);
    smpp_server_foreach(f->srv, close_all, NULL);
    RUN_UNTIL(f, f->lost == 50, 3000);
    assert_int_equal(f->lost, 50);
    assert_int_equal(f->resp_ok + f->timeouts, 0);
    /* and the client comes back by itself */
    RUN_UNTIL(f, f->bound_count == 2, 3000);
    assert_int_equal(f->bound_count, 2);
    assert_int_equal(smpp_client_reconnects(c), 1);
    RUN_UNTIL(f, false, 100);
    assert_int_equal(f->lost, 50);
    stop_client(f, c);
}

static void
test_reconnect_with_backoff(void **state)
{
    struct fx *f = *state;
    int port = tl_free_port();

    /* Nothing listens yet: attempts fail and the delay grows to the cap. */
    struct smpp_client *c = fx_client(f, port, NULL, "127.0.0.1", "secret");
    unsigned delays[8] = { 0 }, n = 0, last_closed = 0;
    for (int i = 0; i < 400 && n < 5; i++) {
        RUN_UNTIL(f, f->closed_count > last_closed, 50);
        if (f->closed_count > last_closed) {
            last_closed = f->closed_count;
            RUN_UNTIL(f, smpp_client_next_delay_ms(c) > 0, 50);
            delays[n++] = smpp_client_next_delay_ms(c);
        }
    }
    assert_true(n >= 5);
    assert_true(strstr(f->close_reason, "connect") != NULL);
    /* min 50 ms, doubling, jitter in [d/2, d], capped at 400 */
    assert_in_range(delays[0], 25, 50);
    assert_in_range(delays[1], 50, 100);
    assert_in_range(delays[2], 100, 200);
    assert_in_range(delays[3], 200, 400);
    assert_in_range(delays[4], 200, 400);
    /* Start the server on that port: the next attempt binds, once. */
    struct smpp_server_cfg sc = { .addr = "127.0.0.1", .port = port, .system_id = "S" };
    sc.session = f->scfg;
    f->srv = smpp_server_new(f->base, &sc, &srv_ops, f);
    assert_non_null(f->srv);
    RUN_UNTIL(f, f->bound_count == 1, 3000);
    assert_int_equal(f->bound_count, 1);
    assert_int_equal(smpp_server_sessions(f->srv), 1);
    assert_int_equal(smpp_client_next_delay_ms(c), 0);
    stop_client(f, c);
}

/* ------------------------------------------------------------ raw peer */

static int
raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void
raw_send_pdu(int fd, struct smpp_pdu *p)
{
    uint8_t buf[4096];
    size_t len;
    assert_int_equal(smpp_pdu_pack_buf(p, buf, sizeof(buf), &len), 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* Read one PDU header from fd while running the loop; false on EOF. */
static bool
raw_read_hdr(struct fx *f, int fd, struct smpp_hdr *h)
{
    uint8_t buf[4096];
    size_t have = 0;

    for (int i = 0; i < 400; i++) {
        RUN_UNTIL(f, false, 10);
        ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
        if (n == 0)
            return false;
        if (n > 0)
            have += (size_t)n;
        if (have >= 16) {
            smpp_pdu_header(buf, h);
            if (have >= h->command_length)
                return true;
        }
    }
    fail_msg("no PDU from the server");
    return false;
}

static void
test_server_answers_bad_input(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;
    struct smpp_hdr h;

    fx_start_server(f, NULL);
    int port = smpp_server_port(f->srv);

    /* submit_sm before bind: ESME_RINVBNDSTS, connection stays */
    int fd = raw_connect(port);
    fill_submit(&p, "early");
    p.hdr.sequence_number = 11;
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, SUBMIT_SM_RESP);
    assert_int_equal(h.command_status, ESME_RINVBNDSTS);
    assert_int_equal(h.sequence_number, 11);

    /* unknown command: generic_nack ESME_RINVCMDID */
    uint8_t unk[16] = { 0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 12 };
    assert_int_equal(write(fd, unk, 16), 16);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, GENERIC_NACK);
    assert_int_equal(h.command_status, ESME_RINVCMDID);
    assert_int_equal(h.sequence_number, 12);

    /* command_length over the maximum: generic_nack ESME_RINVCMDLEN, close */
    uint8_t huge[16] = { 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 13 };
    assert_int_equal(write(fd, huge, 16), 16);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, GENERIC_NACK);
    assert_int_equal(h.command_status, ESME_RINVCMDLEN);
    assert_int_equal(h.sequence_number, 13);
    assert_false(raw_read_hdr(f, fd, &h));      /* closed */
    close(fd);

    /* a second bind on a bound session: ESME_RALYBND */
    fd = raw_connect(port);
    smpp_pdu_init(&p, BIND_TRANSCEIVER, 0, 1);
    strcpy((char *)p.u.bind_transceiver.system_id, "acme");
    strcpy((char *)p.u.bind_transceiver.password, "secret");
    p.u.bind_transceiver.interface_version = 0x34;
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, BIND_TRANSCEIVER_RESP);
    assert_int_equal(h.command_status, ESME_ROK);
    p.hdr.sequence_number = 2;
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_status, ESME_RALYBND);
    /* deliver_sm is the SMSC's to send, not ours to receive */
    smpp_pdu_init(&p, DELIVER_SM, 0, 3);
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, DELIVER_SM_RESP);
    assert_int_equal(h.command_status, ESME_RINVBNDSTS);
    /* enquire_link is answered */
    smpp_pdu_init(&p, ENQUIRE_LINK, 0, 4);
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, ENQUIRE_LINK_RESP);
    assert_int_equal(h.command_status, ESME_ROK);
    close(fd);

    /* a connection that never binds is closed after bind_timeout */
    fd = raw_connect(port);
    assert_false(raw_read_hdr(f, fd, &h));
    close(fd);
}

static void
test_peer_flood_is_throttled(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;
    struct smpp_hdr h;

    f->withhold = true;             /* the application never answers */
    f->scfg.peer_window = 3;
    fx_start_server(f, NULL);
    int fd = raw_connect(smpp_server_port(f->srv));
    smpp_pdu_init(&p, BIND_TRANSMITTER, 0, 1);
    strcpy((char *)p.u.bind_transmitter.system_id, "acme");
    strcpy((char *)p.u.bind_transmitter.password, "secret");
    p.u.bind_transmitter.interface_version = 0x34;
    raw_send_pdu(fd, &p);
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_status, ESME_ROK);
    for (uint32_t i = 0; i < 4; i++) {
        fill_submit(&p, "flood");
        p.hdr.sequence_number = 100 + i;
        raw_send_pdu(fd, &p);
    }
    assert_true(raw_read_hdr(f, fd, &h));
    assert_int_equal(h.command_id, SUBMIT_SM_RESP);
    assert_int_equal(h.command_status, ESME_RTHROTTLED);
    assert_int_equal(h.sequence_number, 103);
    assert_int_equal(f->submits_seen, 3);
    close(fd);
}

/* ------------------------------------------------------------ TLS */

static char *tls_dir;

static void
make_certs(const char *dir, const char *cn)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=smsgw-test-ca >/dev/null 2>&1 && "
             "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
             "-subj /CN=%s >/dev/null 2>&1 && "
             "printf 'subjectAltName=DNS:%s\\n' > ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile ext.cnf >/dev/null 2>&1",
             dir, cn, cn);
    assert_int_equal(system(cmd), 0);
}

static void
test_tls_bind_verified(void **state)
{
    struct fx *f = *state;
    static struct smpp_pdu p;
    char err[256], ca[4200], crt[4200], key[4200];

    tls_dir = tl_tmpdir();
    make_certs(tls_dir, "localhost");
    snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
    snprintf(crt, sizeof(crt), "%s/srv.pem", tls_dir);
    snprintf(key, sizeof(key), "%s/srv.key", tls_dir);
    struct smpp_tls_server_cfg stc = { .cert_file = crt, .key_file = key };
    SSL_CTX *sctx = smpp_tls_server_ctx(&stc, err, sizeof(err));
    assert_non_null(sctx);
    struct smpp_tls_client_cfg ctc = { .ca_file = ca, .verify = true };
    SSL_CTX *cctx = smpp_tls_client_ctx(&ctc, err, sizeof(err));
    assert_non_null(cctx);
    fx_start_server(f, sctx);

    /* by name, verified against our CA */
    struct smpp_client *c = fx_client(f, smpp_server_port(f->srv), cctx, "localhost", "secret");
    RUN_UNTIL(f, f->client_state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(f->client_state, SMPP_BOUND_TRX);
    fill_submit(&p, "over tls");
    assert_int_equal(smpp_session_send(smpp_client_session(c), &p, on_resp, f, NULL), SMPP_OK);
    RUN_UNTIL(f, f->resp_ok == 1, 3000);
    assert_int_equal(f->resp_ok, 1);
    stop_client(f, c);

    /* the same server with the system's trust store: verification fails */
    f->closed_count = 0;
    f->bound_count = 0;
    struct smpp_tls_client_cfg sys = { .verify = true };
    SSL_CTX *sysctx = smpp_tls_client_ctx(&sys, err, sizeof(err));
    assert_non_null(sysctx);
    c = fx_client(f, smpp_server_port(f->srv), sysctx, "localhost", "secret");
    RUN_UNTIL(f, f->closed_count >= 1, 5000);
    assert_int_equal(f->bound_count, 0);
    assert_non_null(strstr(f->close_reason, "certificate verify failed"));
    stop_client(f, c);

    /* our CA, but not the name in the certificate (it names localhost, we
     * dial 127.0.0.1): host verification fails */
    f->closed_count = 0;
    c = fx_client(f, smpp_server_port(f->srv), cctx, "127.0.0.1", "secret");
    RUN_UNTIL(f, f->closed_count >= 1, 5000);
    assert_int_equal(f->bound_count, 0);
    if (!strstr(f->close_reason, "tls error"))
        fail_msg("close reason: %s", f->close_reason);
    stop_client(f, c);

    smpp_server_free(f->srv);
    f->srv = NULL;
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sysctx);
    tl_cleanup_dir(tls_dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_submit_unbind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_full_then_drained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_drops_mid_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_answers_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_flood_is_throttled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_bind_verified, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
