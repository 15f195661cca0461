/*
 * Tests for core/webhook: a real HTTP server (libevent's evhttp) on a
 * loopback port inside this process, on the same event_base as the
 * webhook. The server records every request it gets (time, path, headers,
 * body) and answers from a script: per request, a status, a delay, a
 * Retry-After, a Location, or no answer at all. The loop is driven until
 * what the test waits for has happened, and the records are checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/log.h"
#include "core/webhook.h"
#include "tests/testlib.h"

/* ------------------------------------------------------------ the server */

#define MAX_STEPS 32
#define MAX_RECS  64

struct step {
    int status;             /* 0: 200 */
    int delay_ms;           /* answer this much later */
    int retry_after;        /* seconds; 0: no header */
    bool hang;              /* never answer */
    const char *location;   /* Location header ("%d" is the server's port) */
};

struct rec {
    uint64_t arrive_ms;
    uint64_t reply_ms;      /* 0 until answered */
    int status;
    bool post;
    char *path;
    char *body;
    size_t len;
    char *ua, *ctype, *event_id, *sig, *expect;
};

struct delayed_reply {
    LIST_ENTRY(delayed_reply) link;
    struct srv *srv;
    struct evhttp_request *req;
    int idx;
    struct event *ev;
};

struct srv {
    struct event_base *base;
    struct evhttp *http;
    int port;
    struct step script[MAX_STEPS];
    int nscript;
    struct rec recs[MAX_RECS];
    int nrecs;
    int open_now, max_open;     /* requests received and not yet answered */
    LIST_HEAD(, delayed_reply) pending;
};

struct fx {
    struct event_base *base;
    struct srv srv;
    struct webhook *w;
    struct webhook_cfg cfg;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *
hdr_dup(struct evhttp_request *req, const char *name)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    return v ? strdup(v) : NULL;
}

static void
srv_reply(struct srv *s, struct evhttp_request *req, int idx)
{
    const struct step *st = idx < s->nscript ? &s->script[idx] : NULL;
    int status = st && st->status ? st->status : 200;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    char buf[256];

    if (st && st->retry_after) {
        snprintf(buf, sizeof(buf), "%d", st->retry_after);
        evhttp_add_header(oh, "Retry-After", buf);
    }
    if (st && st->location) {
        snprintf(buf, sizeof(buf), st->location, s->port);
        evhttp_add_header(oh, "Location", buf);
    }
    s->recs[idx].status = status;
    s->recs[idx].reply_ms = now_ms();
    s->open_now--;
    evhttp_send_reply(req, status, "Scripted", NULL);
}

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct delayed_reply *d = arg;

    (void)fd;
    (void)what;
    LIST_REMOVE(d, link);
    srv_reply(d->srv, d->req, d->idx);
    event_free(d->ev);
    free(d);
}

static void
srv_handler(struct evhttp_request *req, void *arg)
{
    struct srv *s = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    int idx = s->nrecs++;
    struct rec *r;
    const struct step *st;

    assert_true(idx < MAX_RECS);
    r = &s->recs[idx];
    r->arrive_ms = now_ms();
    r->post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
    r->path = strdup(evhttp_request_get_uri(req));
    r->len = evbuffer_get_length(in);
    r->body = calloc(1, r->len + 1);
    evbuffer_copyout(in, r->body, r->len);
    r->ua = hdr_dup(req, "User-Agent");
    r->ctype = hdr_dup(req, "Content-Type");
    r->event_id = hdr_dup(req, "X-Smsgw-Event-Id");
    r->sig = hdr_dup(req, "X-Smsgw-Signature");
    r->expect = hdr_dup(req, "Expect");

    st = idx < s->nscript ? &s->script[idx] : NULL;
    if (st && st->hang)
        return;     /* evhttp frees it when the client gives up and closes */
    if (++s->open_now > s->max_open)
        s->max_open = s->open_now;
    if (st && st->delay_ms) {
        struct delayed_reply *d = calloc(1, sizeof(*d));
        struct timeval tv = { st->delay_ms / 1000, (st->delay_ms % 1000) * 1000 };
        d->srv = s;
        d->req = req;
        d->idx = idx;
        d->ev = evtimer_new(s->base, delayed_cb, d);
        LIST_INSERT_HEAD(&s->pending, d, link);
        evtimer_add(d->ev, &tv);
        return;
    }
    srv_reply(s, req, idx);
}

static void
srv_start(struct srv *s, struct event_base *base)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    memset(s, 0, sizeof(*s));
    s->base = base;
    LIST_INIT(&s->pending);
    s->http = evhttp_new(base);
    assert_non_null(s->http);
    evhttp_set_gencb(s->http, srv_handler, s);
    bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    assert_non_null(bs);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
                                 (struct sockaddr *)&sin, &len), 0);
    s->port = ntohs(sin.sin_port);
}

static void
srv_stop(struct srv *s)
{
    struct delayed_reply *d;

    while ((d = LIST_FIRST(&s->pending))) {
        LIST_REMOVE(d, link);
        event_free(d->ev);
        free(d);
    }
    if (s->http)
        evhttp_free(s->http);
    for (int i = 0; i < s->nrecs; i++) {
        struct rec *r = &s->recs[i];
        free(r->path);
        free(r->body);
        free(r->ua);
        free(r->ctype);
        free(r->event_id);
        free(r->sig);
        free(r->expect);
    }
}

/* ----------------------------------------------------------- fixture */

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->base = event_base_new();
    assert_non_null(f->base);
    srv_start(&f->srv, f->base);
    webhook_cfg_defaults(&f->cfg);
    /* Small and fast, so the whole file runs in seconds. */
    f->cfg.backoff_min_ms = 20;
    f->cfg.backoff_max_ms = 80;
    f->cfg.timeout_ms = 2000;
    f->cfg.max_attempts = 5;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    webhook_free(f->w);
    srv_stop(&f->srv);
    event_base_free(f->base);
    free(f);
    return 0;
}

static void
start(struct fx *f)
{
    f->w = webhook_new(f->base, &f->cfg);
    assert_non_null(f->w);
}

static char *
url(struct fx *f, const char *path)
{
    static char buf[128];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", f->srv.port, path);
    return buf;
}

static struct webhook_stats
stats(struct fx *f)
{
    struct webhook_stats s;

    webhook_stats(f->w, &s);
    return s;
}

static void
run_ms(struct fx *f, int ms)
{
    TL_RUN_UNTIL(f->base, false, ms);
}

static int
post(struct fx *f, const char *path, const char *body, const char *eid, const char *secret)
{
    return webhook_post(f->w, url(f, path), body, strlen(body), eid, secret);
}

static void
hmac_hex(const char *key, const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key),
                         (const unsigned char *)data, len, md, &mdlen));
    assert_int_equal(mdlen, 32);
    for (unsigned i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* ------------------------------------------------------------- tests */

static void
test_status_body(void **state)
{
    struct webhook_status st = {
        .msg_id = "01HV6ZKQ3E4T", .state = "delivered", .ts_ms = 1714564800123ULL,
        .client_ref = "order-\"7\"/x", .error = NULL, .to = "+14155550100", .segments = 2,
    };
    char *body = webhook_status_body(&st);
    struct json_object *o = json_tokener_parse(body), *v;
    char eid[64];

    (void)state;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "id", &v));
    assert_string_equal(json_object_get_string(v), "01HV6ZKQ3E4T");
    assert_true(json_object_object_get_ex(o, "event_id", &v));
    assert_string_equal(json_object_get_string(v), "01HV6ZKQ3E4T:delivered");
    webhook_event_id("01HV6ZKQ3E4T", "delivered", eid, sizeof(eid));
    assert_string_equal(eid, "01HV6ZKQ3E4T:delivered");
    assert_true(json_object_object_get_ex(o, "state", &v));
    assert_string_equal(json_object_get_string(v), "delivered");
    assert_true(json_object_object_get_ex(o, "ts", &v));
    assert_string_equal(json_object_get_string(v), "2024-05-01T12:00:00.123Z");
    assert_true(json_object_object_get_ex(o, "ts_ms", &v));
    assert_true(json_object_get_int64(v) == 1714564800123LL);
    assert_true(json_object_object_get_ex(o, "client_ref", &v));
    assert_string_equal(json_object_get_string(v), "order-\"7\"/x");
    assert_true(json_object_object_get_ex(o, "error", &v));
    assert_null(v);                         /* present, and null */
    assert_true(json_object_object_get_ex(o, "to", &v));
    assert_string_equal(json_object_get_string(v), "+14155550100");
    assert_true(json_object_object_get_ex(o, "segments", &v));
    assert_int_equal(json_object_get_int(v), 2);
    json_object_put(o);
    free(body);

    st.event_id = "custom-1";
    st.error = "SMSC said 0x0b";
    body = webhook_status_body(&st);
    o = json_tokener_parse(body);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "event_id", &v));
    assert_string_equal(json_object_get_string(v), "custom-1");
    assert_true(json_object_object_get_ex(o, "error", &v));
    assert_string_equal(json_object_get_string(v), "SMSC said 0x0b");
    json_object_put(o);
    free(body);
}

static void
test_ok_headers_signature(void **state)
{
    struct fx *f = *state;
    /* RFC 4231 test case 2: an answer that does not come from our own code. */
    const char *rfc_body = "what do ya want for nothing?";
    struct webhook_status st = { .msg_id = "M1", .state = "delivered", .ts_ms = 1,
                                 .to = "+14155550100", .segments = 1 };
    char *json = webhook_status_body(&st), want[80], hex[65];

    start(f);
    assert_int_equal(post(f, "/cb?token=abc", rfc_body, "M0:delivered", "Jefe"), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb2", json, "M1:delivered", "s3cret"), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb3", json, "M1:delivered", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 3, 3000);
    run_ms(f, 200);     /* nothing more may arrive */

    assert_int_equal(f->srv.nrecs, 3);
    for (int i = 0; i < 3; i++) {
        struct rec *r = NULL;
        for (int k = 0; k < 3; k++)     /* they may arrive in any order */
            if (strcmp(f->srv.recs[k].path, i == 0 ? "/cb?token=abc" : i == 1 ? "/cb2" : "/cb3") == 0)
                r = &f->srv.recs[k];
        assert_non_null(r);
        assert_true(r->post);
        assert_non_null(r->ua);
        assert_string_equal(r->ua, "smsgw/0.1");
        assert_non_null(r->ctype);
        assert_string_equal(r->ctype, "application/json");
        assert_null(r->expect);
        assert_non_null(r->event_id);
        if (i == 0) {
            assert_string_equal(r->event_id, "M0:delivered");
            assert_int_equal(r->len, strlen(rfc_body));
            assert_memory_equal(r->body, rfc_body, r->len);
            assert_non_null(r->sig);
            assert_string_equal(r->sig, "sha256=5bdcc146bf60754e6a042426089575c7"
                                        "5a003f089d2739839dec58b964ec3843");
        } else {
            assert_string_equal(r->event_id, "M1:delivered");
            assert_int_equal(r->len, strlen(json));
            assert_memory_equal(r->body, json, r->len);
            if (i == 1) {
                hmac_hex("s3cret", r->body, r->len, hex);
                snprintf(want, sizeof(want), "sha256=%s", hex);
                assert_non_null(r->sig);
                assert_string_equal(r->sig, want);
            } else {
                assert_null(r->sig);
            }
        }
    }
    struct webhook_stats s = stats(f);
    assert_int_equal(s.sent_ok, 3);
    assert_int_equal(s.retried, 0);
    assert_int_equal(s.failed_permanent, 0);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(s.queued, 0);
    free(json);
}

static void
test_500_then_200(void **state)
{
    struct fx *f = *state;

    f->srv.script[0] = (struct step){ .status = 500 };
    f->srv.script[1] = (struct step){ .status = 200 };
    f->srv.nscript = 2;
    start(f);
    assert_int_equal(post(f, "/cb", "{\"n\":1}", "E1", "k"), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 1, 3000);
    run_ms(f, 300);

    assert_int_equal(f->srv.nrecs, 2);
    assert_string_equal(f->srv.recs[1].body, "{\"n\":1}");
    assert_string_equal(f->srv.recs[1].event_id, "E1");       /* same id: dedupe */
    assert_string_equal(f->srv.recs[1].sig, f->srv.recs[0].sig);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.sent_ok, 1);
    assert_int_equal(s.retried, 1);
    assert_int_equal(s.failed_permanent, 0);
    assert_int_equal(s.delayed, 0);
}

static void
retry_after_case(struct fx *f, int status)
{
    f->srv.script[0] = (struct step){ .status = status, .retry_after = 1 };
    f->srv.script[1] = (struct step){ .status = 200 };
    f->srv.nscript = 2;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "E2", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 1, 4000);

    assert_int_equal(f->srv.nrecs, 2);
    assert_int_equal(f->srv.recs[0].status, status);
    /* Not earlier than Retry-After (backoff alone would be 20-80 ms), with
     * 10 ms of slack: libevent may time with CLOCK_MONOTONIC_COARSE. */
    uint64_t gap = f->srv.recs[1].arrive_ms - f->srv.recs[0].reply_ms;
    print_message("retry %" PRIu64 " ms after the %d\n", gap, status);
    assert_true(gap >= 990);
    assert_int_equal(stats(f).retried, 1);
}

static void
test_429_retry_after(void **state)
{
    retry_after_case(*state, 429);
}

static void
test_503_retry_after(void **state)
{
    retry_after_case(*state, 503);
}

static void
test_400_not_retried(void **state)
{
    struct fx *f = *state;

    f->srv.script[0] = (struct step){ .status = 400 };
    f->srv.nscript = 1;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "E3", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).failed_permanent == 1, 3000);
    run_ms(f, 300);     /* ~4 backoffs: a retry would have come */

    assert_int_equal(f->srv.nrecs, 1);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.failed_permanent, 1);
    assert_int_equal(s.retried, 0);
    assert_int_equal(s.sent_ok, 0);
    assert_int_equal(s.inflight + s.queued + s.delayed, 0);
}

static void
test_5xx_gives_up_after_max_attempts(void **state)
{
    struct fx *f = *state;

    for (int i = 0; i < 5; i++)
        f->srv.script[i] = (struct step){ .status = 502 };
    f->srv.nscript = 5;
    f->cfg.max_attempts = 3;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "E4", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).failed_permanent == 1, 3000);
    run_ms(f, 300);

    assert_int_equal(f->srv.nrecs, 3);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.retried, 2);
    assert_int_equal(s.failed_permanent, 1);
    /* The backoff grows: the second gap is not shorter than the first minimum. */
    assert_true(f->srv.recs[1].arrive_ms - f->srv.recs[0].reply_ms >= 15);
    assert_true(f->srv.recs[2].arrive_ms - f->srv.recs[1].reply_ms >= 35);
}

static void
test_connection_refused(void **state)
{
    struct fx *f = *state;
    char u[64];

    f->cfg.max_attempts = 4;
    start(f);
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/cb", tl_free_port());    /* nobody there */
    assert_int_equal(webhook_post(f->w, u, "{}", 2, "E5", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).failed_permanent == 1, 3000);

    struct webhook_stats s = stats(f);
    assert_int_equal(s.failed_permanent, 1);
    assert_int_equal(s.retried, 3);
    assert_int_equal(s.sent_ok, 0);
    assert_int_equal(s.inflight + s.queued + s.delayed, 0);
}

static void
test_timeout_retried(void **state)
{
    struct fx *f = *state;
    uint64_t t0 = now_ms();

    f->srv.script[0] = (struct step){ .hang = true };
    f->srv.script[1] = (struct step){ .status = 204 };
    f->srv.nscript = 2;
    f->cfg.timeout_ms = 300;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "E6", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 1, 3000);

    assert_int_equal(f->srv.nrecs, 2);
    assert_true(f->srv.recs[1].arrive_ms - t0 >= 300);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.retried, 1);
    assert_int_equal(s.sent_ok, 1);
}

static void
test_concurrency_limit(void **state)
{
    struct fx *f = *state;
    char eid[16], body[32];
    unsigned long max_inflight_seen = 0;

    for (int i = 0; i < 12; i++)
        f->srv.script[i] = (struct step){ .status = 200, .delay_ms = 100 };
    f->srv.nscript = 12;
    f->cfg.max_inflight = 3;
    start(f);
    for (int i = 0; i < 12; i++) {
        snprintf(eid, sizeof(eid), "C%d", i);
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        assert_int_equal(post(f, "/cb", body, eid, NULL), WEBHOOK_OK);
    }
    for (int i = 0; i < 300 && stats(f).sent_ok < 12; i++) {
        run_ms(f, 10);
        if (stats(f).inflight > max_inflight_seen)
            max_inflight_seen = stats(f).inflight;
    }

    assert_int_equal(stats(f).sent_ok, 12);
    assert_int_equal(f->srv.nrecs, 12);
    print_message("server saw at most %d at once\n", f->srv.max_open);
    assert_true(f->srv.max_open <= 3);
    assert_int_equal(f->srv.max_open, 3);       /* and it did run them in parallel */
    assert_true(max_inflight_seen <= 3);
}

static void
test_queue_bound(void **state)
{
    struct fx *f = *state;
    char eid[16], body[32];

    for (int i = 0; i < 3; i++)
        f->srv.script[i] = (struct step){ .status = 200, .delay_ms = 50 };
    f->srv.nscript = 3;
    f->cfg.max_inflight = 1;
    f->cfg.max_queue = 2;
    start(f);
    for (int i = 0; i < 3; i++) {
        snprintf(eid, sizeof(eid), "Q%d", i);
        snprintf(body, sizeof(body), "{\"n\":%d}", i);
        assert_int_equal(post(f, "/cb", body, eid, NULL), WEBHOOK_OK);
    }
    assert_int_equal(post(f, "/cb", "{\"n\":3}", "Q3", NULL), WEBHOOK_EFULL);
    assert_int_equal(post(f, "/cb", "{\"n\":4}", "Q4", NULL), -1);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.dropped, 2);
    assert_int_equal(s.inflight, 1);
    assert_int_equal(s.queued, 2);

    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 3, 3000);
    run_ms(f, 100);
    assert_int_equal(f->srv.nrecs, 3);
    for (int i = 0; i < 3; i++) {           /* FIFO */
        snprintf(eid, sizeof(eid), "Q%d", i);
        assert_string_equal(f->srv.recs[i].event_id, eid);
    }
    /* Room again. */
    assert_int_equal(post(f, "/cb", "{\"n\":5}", "Q5", NULL), WEBHOOK_OK);
}

static void
test_due_retry_before_new(void **state)
{
    struct fx *f = *state;
    const char *want[] = { "A", "B", "A", "C" };

    f->srv.script[0] = (struct step){ .status = 500 };                  /* A */
    f->srv.script[1] = (struct step){ .status = 200, .delay_ms = 200 }; /* B */
    f->srv.nscript = 2;
    f->cfg.max_inflight = 1;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "A", NULL), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb", "{}", "B", NULL), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb", "{}", "C", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 3, 3000);

    /* A's retry fell due while B was on the wire: it goes before C. */
    assert_int_equal(f->srv.nrecs, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(f->srv.recs[i].event_id, want[i]);
}

static void
test_redirects(void **state)
{
    struct fx *f = *state;

    f->srv.script[0] = (struct step){ .status = 307, .location = "http://127.0.0.1:%d/moved" };
    f->srv.script[1] = (struct step){ .status = 200 };
    f->srv.script[2] = (struct step){ .status = 302, .location = "ftp://127.0.0.1:%d/x" };
    f->srv.script[3] = (struct step){ .status = 200 };
    f->srv.nscript = 4;
    start(f);
    assert_int_equal(post(f, "/cb", "{\"r\":1}", "R1", "k"), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).sent_ok == 1, 3000);
    assert_int_equal(f->srv.nrecs, 2);
    assert_string_equal(f->srv.recs[1].path, "/moved");
    assert_true(f->srv.recs[1].post);
    assert_string_equal(f->srv.recs[1].body, "{\"r\":1}");

    /* To another scheme: not followed, not retried. */
    assert_int_equal(post(f, "/cb", "{\"r\":2}", "R2", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, stats(f).failed_permanent == 1, 3000);
    run_ms(f, 200);
    assert_int_equal(f->srv.nrecs, 3);
    assert_int_equal(stats(f).retried, 0);
}

static void
test_invalid(void **state)
{
    struct fx *f = *state;

    start(f);
    assert_int_equal(webhook_post(f->w, "ftp://127.0.0.1/x", "{}", 2, "I1", NULL), WEBHOOK_EINVAL);
    assert_int_equal(webhook_post(f->w, "file:///etc/passwd", "{}", 2, "I1", NULL), WEBHOOK_EINVAL);
    assert_int_equal(webhook_post(f->w, "not a url", "{}", 2, "I1", NULL), WEBHOOK_EINVAL);
    assert_int_equal(post(f, "/cb", "{}", "I1\r\nX-Evil: 1", NULL), WEBHOOK_EINVAL);
    assert_int_equal(post(f, "/cb", "{}", "", NULL), WEBHOOK_EINVAL);
    assert_int_equal(post(f, "/cb", "{}", NULL, NULL), WEBHOOK_EINVAL);
    run_ms(f, 100);
    assert_int_equal(f->srv.nrecs, 0);
}

static int drained;

static void
on_drained(void *arg)
{
    (void)arg;
    drained++;
}

static void
test_drain_finishes_inflight(void **state)
{
    struct fx *f = *state;

    f->srv.script[0] = (struct step){ .status = 200, .delay_ms = 200 };
    f->srv.nscript = 1;
    f->cfg.max_inflight = 1;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "D1", NULL), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb", "{}", "D2", NULL), WEBHOOK_OK);
    assert_int_equal(post(f, "/cb", "{}", "D3", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, f->srv.nrecs == 1, 2000);

    drained = 0;
    webhook_drain(f->w, 3000, on_drained, NULL);
    assert_int_equal(drained, 0);       /* never from within webhook_drain */
    assert_int_equal(post(f, "/cb", "{}", "D4", NULL), WEBHOOK_ECLOSED);
    TL_RUN_UNTIL(f->base, drained > 0, 3000);
    run_ms(f, 100);

    assert_int_equal(drained, 1);
    struct webhook_stats s = stats(f);
    assert_int_equal(s.sent_ok, 1);     /* the in-flight one finished */
    assert_int_equal(s.dropped, 3);     /* D2, D3 waiting; D4 refused */
    assert_int_equal(f->srv.nrecs, 1);
}

static void
free_on_drained(void *arg)
{
    struct fx *f = arg;

    drained++;
    webhook_free(f->w);     /* allowed from done */
    f->w = NULL;
}

static void
test_drain_deadline(void **state)
{
    struct fx *f = *state;
    uint64_t t0;

    f->srv.script[0] = (struct step){ .hang = true };
    f->srv.nscript = 1;
    f->cfg.timeout_ms = 10000;
    start(f);
    assert_int_equal(post(f, "/cb", "{}", "D5", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, f->srv.nrecs == 1, 2000);

    drained = 0;
    t0 = now_ms();
    webhook_drain(f->w, 200, free_on_drained, f);
    TL_RUN_UNTIL(f->base, drained > 0, 3000);
    assert_int_equal(drained, 1);
    assert_null(f->w);
    assert_true(now_ms() - t0 >= 190);
    assert_true(now_ms() - t0 < 2000);
    run_ms(f, 50);
}

static void
test_free_with_work(void **state)
{
    struct fx *f = *state;

    f->srv.script[0] = (struct step){ .hang = true };
    f->srv.script[1] = (struct step){ .status = 500 };
    f->srv.nscript = 2;
    start(f);
    assert_int_equal(post(f, "/a", "{}", "F1", NULL), WEBHOOK_OK);
    assert_int_equal(post(f, "/b", "{}", "F2", NULL), WEBHOOK_OK);
    TL_RUN_UNTIL(f->base, f->srv.nrecs == 2 && stats(f).delayed == 1, 2000);
    assert_int_equal(stats(f).inflight, 1);
    webhook_free(f->w);     /* in flight and delayed: aborted, freed (ASan checks) */
    f->w = NULL;
    run_ms(f, 50);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_body),
        cmocka_unit_test_setup_teardown(test_ok_headers_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_then_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_503_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_400_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5xx_gives_up_after_max_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_retry_before_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_finishes_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_work, setup, teardown),
    };

    /* A proxy from the environment would stand between us and loopback. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
