/*
 * store/store_redis.c's batched scripts against a real redis-server: per
 * item answers, rank order within a loop pass, a batch bigger than one
 * EVALSHA, NOSCRIPT after SCRIPT FLUSH, and a failed connection answering
 * every queued item.
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
#include <hiredis/hiredis.h>

#include "core/dns.h"
#include "core/log.h"
#include "store/store_msg.h"
#include "store/store_sched.h"
#include "store/store_redis.h"
#include "tests/testlib.h"

struct fx {
    struct tl_redis srv;
    redisContext *c;
    struct event_base *base;
    struct store_redis *r;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tl_redis_start(&f->srv);
    f->c = redisConnect("127.0.0.1", f->srv.port);
    assert_non_null(f->c);
    assert_int_equal(f->c->err, 0);
    f->base = event_base_new();
    struct cfg_redis cfg = { .host = (char *)"127.0.0.1", .port = f->srv.port, .prefix = (char *)"t:",
                             .timeout_ms = 2000 };
    f->r = store_redis_new(f->base, &cfg, "test");
    TL_RUN_UNTIL(f->base, store_redis_ready(f->r), 5000);
    assert_true(store_redis_ready(f->r));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    store_redis_free(f->r);
    event_base_loop(f->base, EVLOOP_NONBLOCK);     /* cancelled lookups finish */
    dns_free(f->base);
    event_base_free(f->base);
    redisFree(f->c);
    tl_redis_stop(&f->srv);
    free(f);
    return 0;
}

/* Item: list value. RPUSHes value and answers {item's index in the batch,
 * value, the list's length}. */
static struct store_script push_lua = { "push_test",
    "local out, i, k = {}, 1, 0\n"
    "while i <= #ARGV do\n"
    "  k = k + 1\n"
    "  local len = redis.call('RPUSH', ARGV[i + 1], ARGV[i + 2])\n"
    "  out[#out + 1] = {k, ARGV[i + 2], len}\n"
    "  i = i + tonumber(ARGV[i]) + 1\n"
    "end\n"
    "return out\n", "" };

/* The same at a later rank (a different script body). */
static struct store_script push_late_lua = { "push_late_test",
    "local out, i = {}, 1\n"
    "while i <= #ARGV do\n"
    "  redis.call('RPUSH', ARGV[i + 1], 'late:' .. ARGV[i + 2])\n"
    "  out[#out + 1] = 1\n"
    "  i = i + tonumber(ARGV[i]) + 1\n"
    "end\n"
    "return out\n", "" };

struct answer {
    int calls;
    bool null;
    long long index, len;
    char value[32];
};

static void
answer_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    struct answer *a = arg;
    (void)r;
    a->calls++;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        a->null = true;
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3) {
        a->index = reply->element[0]->integer;
        snprintf(a->value, sizeof(a->value), "%s", reply->element[1]->str);
        a->len = reply->element[2]->integer;
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        a->index = reply->integer;
    }
}

static void
add(struct fx *f, struct store_script *s, unsigned rank, const char *list, const char *value,
    struct answer *a)
{
    const char *argv[] = { list, value };
    assert_int_equal(store_redis_batch(f->r, s, rank, answer_cb, a, 2, argv, NULL), 0);
}

static void
test_batch_answers_each_item(void **state)
{
    struct fx *f = *state;
    enum { N = 600 };       /* more than one EVALSHA's worth (256) */
    static struct answer a[N];
    char v[16];

    memset(a, 0, sizeof(a));
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "v%d", i);
        add(f, &push_lua, 0, "t:l", v, &a[i]);
    }
    int done = 0;
    TL_RUN_UNTIL(f->base, (done = a[N - 1].calls) > 0, 5000);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(a[i].calls, 1);
        assert_false(a[i].null);
        assert_string_equal(a[i].value, v);
        assert_int_equal(a[i].len, i + 1);      /* in the order added */
    }
    /* Full batches went early: the index restarts after each 256. */
    assert_int_equal(a[0].index, 1);
    assert_int_equal(a[255].index, 256);
    assert_int_equal(a[256].index, 1);
    redisReply *rep = redisCommand(f->c, "LLEN t:l");
    assert_int_equal(rep->integer, N);
    freeReplyObject(rep);
}

static void
test_batch_rank_order(void **state)
{
    struct fx *f = *state;
    struct answer late = { 0 }, early1 = { 0 }, early2 = { 0 };

    /* The later rank's item is added first, in the same loop pass. */
    add(f, &push_late_lua, 5, "t:o", "x", &late);
    add(f, &push_lua, 1, "t:o", "a", &early1);
    add(f, &push_lua, 1, "t:o", "b", &early2);
    TL_RUN_UNTIL(f->base, late.calls && early2.calls, 5000);
    assert_int_equal(late.calls, 1);
    assert_int_equal(early1.len, 1);
    assert_int_equal(early2.len, 2);
    redisReply *rep = redisCommand(f->c, "LRANGE t:o 0 -1");
    assert_int_equal(rep->elements, 3);
    assert_string_equal(rep->element[0]->str, "a");
    assert_string_equal(rep->element[1]->str, "b");
    assert_string_equal(rep->element[2]->str, "late:x");
    freeReplyObject(rep);
}

static void
test_batch_noscript_and_flush(void **state)
{
    struct fx *f = *state;
    struct answer a = { 0 }, b = { 0 };

    add(f, &push_lua, 0, "t:n", "one", &a);
    TL_RUN_UNTIL(f->base, a.calls, 5000);
    assert_int_equal(a.len, 1);
    freeReplyObject(redisCommand(f->c, "SCRIPT FLUSH"));
    add(f, &push_lua, 0, "t:n", "two", &b);
    store_redis_flush(f->r);            /* sent now, not at the pass's end */
    TL_RUN_UNTIL(f->base, b.calls, 5000);
    assert_int_equal(b.calls, 1);
    assert_false(b.null);
    assert_string_equal(b.value, "two");
    assert_int_equal(b.len, 2);
}

static void
test_batch_connection_lost(void **state)
{
    struct fx *f = *state;
    struct answer a = { 0 }, b = { 0 };

    add(f, &push_lua, 0, "t:x", "one", &a);
    add(f, &push_lua, 0, "t:x", "two", &b);
    tl_redis_stop(&f->srv);             /* before the batch goes out */
    TL_RUN_UNTIL(f->base, a.calls && b.calls, 5000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_true(a.null);
    assert_true(b.null);
    TL_RUN_UNTIL(f->base, !store_redis_ready(f->r), 3000);
    const char *argv[] = { "t:x", "three" };
    assert_int_equal(store_redis_batch(f->r, &push_lua, 0, answer_cb, &a, 2, argv, NULL), -1);
    assert_int_equal(a.calls, 1);       /* not called when refused */
    tl_redis_start(&f->srv);            /* teardown stops it */
}

/* ------------------------------------------------------ a message's life */

struct life {
    int accepts, accept_rc;
    char id[40];
    int reads, nread;
    struct store_job job;
    int done, done_rc;
    int dlrs, dlr_rc;
    char dlr_state[32];
    int gets, get_rc;
    char *json;
};

static void
accepted(void *arg, int rc, const char *id)
{
    struct life *l = arg;
    l->accepts++;
    l->accept_rc = rc;
    snprintf(l->id, sizeof(l->id), "%s", id ? id : "");
}

static void
read_cb(void *arg, int n, struct store_job *jobs)
{
    struct life *l = arg;
    l->reads++;
    l->nread = n;
    if (n > 0)
        l->job = jobs[0];
}

static void
done_cb(void *arg, int rc)
{
    struct life *l = arg;
    l->done++;
    l->done_rc = rc;
}

static void
dlr_cb(void *arg, int rc, const struct store_receipt_info *info)
{
    struct life *l = arg;
    l->dlrs++;
    l->dlr_rc = rc;
    snprintf(l->dlr_state, sizeof(l->dlr_state), "%s", info && info->state ? info->state : "");
}

static void
get_cb(void *arg, int rc, const char *json)
{
    struct life *l = arg;
    l->gets++;
    l->get_rc = rc;
    free(l->json);
    l->json = json ? strdup(json) : NULL;
}

static void
accept_one(struct fx *f, struct life *l, const char *to, const char *text)
{
    struct store_msg_new m = {
        .account = "acme", .from = "12345", .ton = 3, .npi = 0, .to = to, .text = text,
        .text_len = strlen(text), .encoding = "gsm7", .segments = 1, .route = "r1",
        .msg_class = "transactional", .validity_s = 3600,
    };
    l->accepts = 0;
    store_msg_accept(f->r, &m, accepted, l);
    TL_RUN_UNTIL(f->base, l->accepts, 5000);
    assert_int_equal(l->accepts, 1);
    assert_int_equal(l->accept_rc, 0);
}

static void
read_one(struct fx *f, struct life *l)
{
    l->reads = 0;
    store_queue_read(f->r, "r1", "c1", 1, NULL, read_cb, l);
    TL_RUN_UNTIL(f->base, l->reads, 5000);
    assert_int_equal(l->reads, 1);
    assert_int_equal(l->nread, 1);
}

static void
get_one(struct fx *f, struct life *l, const char *id)
{
    l->gets = 0;
    store_msg_get(f->r, "acme", id, get_cb, l);
    TL_RUN_UNTIL(f->base, l->gets, 5000);
    assert_int_equal(l->gets, 1);
}

static int
cancel_rc;
static void
cancel_cb(void *arg, int rc)
{
    (*(int *)arg)++;
    cancel_rc = rc;
}

static int
cancel_one(struct fx *f, const char *id)
{
    int calls = 0;
    store_msg_cancel(f->r, "acme", id, cancel_cb, &calls);
    TL_RUN_UNTIL(f->base, calls, 5000);
    assert_int_equal(calls, 1);
    return cancel_rc;
}

/* accept -> queue entry (packed, text with a comma, colon and newline
 * intact) -> submitted -> receipt -> delivered, with the history in order. */
static void
test_message_life_and_history(void **state)
{
    struct fx *f = *state;
    struct life l = { 0 };
    const char *text = "12:3, four\nfive";

    store_queue_init(f->r, "r1");
    accept_one(f, &l, "14155550100", text);
    read_one(f, &l);
    assert_string_equal(l.job.id, l.id);
    assert_string_equal(l.job.account, "acme");
    assert_string_equal(l.job.from, "12345");
    assert_int_equal(l.job.ton, 3);
    assert_string_equal(l.job.to, "14155550100");
    assert_int_equal(l.job.text_len, strlen(text));
    assert_memory_equal(l.job.text, text, strlen(text));
    assert_true(l.job.deadline_ms > store_now_ms());

    store_part_submitted(f->r, "sim", "abc123", "ABC123", &l.job, 0, 3600);
    store_job_submitted(f->r, "r1", &l.job, "sim", l.job.deadline_ms, done_cb, &l);
    store_receipt(f->r, "sim", "abc123", "DELIVRD", "000", dlr_cb, &l);   /* same pass */
    TL_RUN_UNTIL(f->base, l.done && l.dlrs, 5000);
    assert_int_equal(l.done_rc, 0);
    assert_int_equal(l.dlr_rc, 1);
    assert_string_equal(l.dlr_state, "delivered");

    get_one(f, &l, l.id);
    assert_int_equal(l.get_rc, 0);
    assert_non_null(l.json);
    assert_non_null(strstr(l.json, "\"state\":\"delivered\""));
    assert_non_null(strstr(l.json, "\"smsc_message_ids\":{\"0\":\"ABC123\"}"));
    assert_non_null(strstr(l.json, "\"receipts\":{\"0\":\"DELIVRD\"}"));
    assert_null(strstr(l.json, "\"sid\""));
    const char *q = strstr(l.json, "\"state\":\"queued\"");
    const char *sub = strstr(l.json, "\"state\":\"submitted\",\"detail\":\"smsc=sim\"");
    const char *rc = strstr(l.json, "\"state\":\"receipt\",\"detail\":\"part=0 stat=DELIVRD err=000\"");
    const char *hist = strstr(l.json, "\"history\"");
    assert_non_null(hist);
    assert_non_null(q);
    assert_non_null(sub);
    assert_non_null(rc);
    assert_true(hist < q && q < sub && sub < rc);
    assert_non_null(strstr(rc, "\"state\":\"delivered\""));

    /* Only the record is left: no queue entry, no history key. */
    redisReply *rep = redisCommand(f->c, "XLEN t:q:r1");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    rep = redisCommand(f->c, "KEYS t:hist:*");
    assert_int_equal(rep->elements, 0);
    freeReplyObject(rep);

    /* Another account sees nothing. */
    l.gets = 0;
    store_msg_get(f->r, "other", l.id, get_cb, &l);
    TL_RUN_UNTIL(f->base, l.gets, 5000);
    assert_int_equal(l.get_rc, 1);
    free(l.json);
}

struct swept {
    int calls, n;
    char id[40];
};

static void
swept_cb(void *arg, int n, const struct store_sched_released *m)
{
    struct swept *w = arg;
    w->calls++;
    w->n = n;
    if (n > 0)
        snprintf(w->id, sizeof(w->id), "%s", m[0].id);
}

static void
sweep_once(struct fx *f, struct swept *w)
{
    w->calls = 0;
    store_sched_sweep_receipts(f->r, 100, swept_cb, w);
    TL_RUN_UNTIL(f->base, w->calls, 5000);
    assert_int_equal(w->calls, 1);
}

/*
 * Receipt timeout: a submitted message whose wait is over ends "unknown"
 * (history, statistics); one whose wait is not over, or that had its
 * receipt, is left alone and leaves the set only when done.
 */
static void
test_receipt_timeout_sweep(void **state)
{
    struct fx *f = *state;
    struct life a = { 0 }, b = { 0 }, c = { 0 };
    struct swept w = { 0 };
    uint64_t now = store_now_ms();

    store_queue_init(f->r, "r1");
    accept_one(f, &a, "14155550101", "no receipt ever");
    read_one(f, &a);
    accept_one(f, &b, "14155550102", "still within validity");
    read_one(f, &b);
    accept_one(f, &c, "14155550103", "receipt came");
    read_one(f, &c);
    store_job_submitted(f->r, "r1", &a.job, "sim", now - 1, done_cb, &a);
    store_job_submitted(f->r, "r1", &b.job, "sim", now + 3600000, done_cb, &b);
    store_part_submitted(f->r, "sim", "c1", "C1", &c.job, 0, 3600);
    store_job_submitted(f->r, "r1", &c.job, "sim", now - 1, done_cb, &c);
    store_receipt(f->r, "sim", "c1", "DELIVRD", "000", dlr_cb, &c);
    TL_RUN_UNTIL(f->base, a.done && b.done && c.done && c.dlrs, 5000);
    assert_string_equal(c.dlr_state, "delivered");

    redisReply *rep = redisCommand(f->c, "ZCARD t:await");
    assert_int_equal(rep->integer, 2);          /* a and b; c's receipt took it out */
    freeReplyObject(rep);

    sweep_once(f, &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.id, a.job.id);
    get_one(f, &a, a.job.id);
    assert_non_null(strstr(a.json, "\"state\":\"unknown\""));
    assert_non_null(strstr(a.json, "no receipt by the end of the validity period"));
    free(a.json);
    get_one(f, &b, b.job.id);
    assert_non_null(strstr(b.json, "\"state\":\"submitted\""));
    free(b.json);
    rep = redisCommand(f->c, "ZCARD t:await");
    assert_int_equal(rep->integer, 1);          /* b waits on */
    freeReplyObject(rep);
    rep = redisCommand(f->c, "TTL t:msg:%s", a.job.id);
    assert_true(rep->integer > 0);              /* a final record expires */
    freeReplyObject(rep);

    /* Nothing more is due; a repeat changes nothing. */
    sweep_once(f, &w);
    assert_int_equal(w.n, 0);
}

/* cancel_sm: a queued message nobody has read is cancelled and its queue
 * entry is gone; once a dequeuer has read it, it is too late. */
static void
test_cancel_before_and_after_read(void **state)
{
    struct fx *f = *state;
    struct life a = { 0 }, b = { 0 };

    store_queue_init(f->r, "r1");
    accept_one(f, &a, "14155550101", "first");
    accept_one(f, &b, "14155550102", "second");
    assert_int_equal(cancel_one(f, a.id), 0);
    assert_int_equal(cancel_one(f, a.id), 2);          /* final now */
    read_one(f, &b);                                    /* a's entry was deleted */
    assert_string_equal(b.job.id, b.id);
    assert_int_equal(cancel_one(f, b.id), 2);          /* read: may be on the wire */
    get_one(f, &a, a.id);
    assert_non_null(strstr(a.json, "\"state\":\"cancelled\""));
    assert_non_null(strstr(a.json, "\"detail\":\"cancel_sm\""));
    free(a.json);
    get_one(f, &b, b.id);
    assert_non_null(strstr(b.json, "\"state\":\"queued\""));
    free(b.json);
    assert_int_equal(cancel_one(f, "m000000000000deadbeef"), 1);
}

static void
ping_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)r;
    *(int *)arg = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0
                      ? 1 : -1;
}

static int
file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (fp && fgets(line, sizeof(line), fp))
        n += strstr(line, needle) != NULL;
    if (fp)
        fclose(fp);
    return n;
}

/*
 * A Redis host given by name is resolved through evdns (not hiredis's
 * blocking getaddrinfo): "localhost" from /etc/hosts connects (IPv4 first:
 * the server binds 127.0.0.1 only); a name that does not resolve is never
 * ready, is logged as such, and the connection can be freed while its
 * lookup is still out.
 */
static void
test_host_name(void **state)
{
    struct fx *f = *state;
    char *dir = tl_tmpdir(), logpath[600];
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    assert_true(log_open(logpath));

    struct cfg_redis cfg = { .host = (char *)"localhost", .port = f->srv.port,
                             .prefix = (char *)"t:", .timeout_ms = 2000 };
    struct store_redis *r = store_redis_new(f->base, &cfg, "byname");
    TL_RUN_UNTIL(f->base, store_redis_ready(r), 5000);
    assert_true(store_redis_ready(r));
    int pong = 0;
    assert_int_equal(store_redis_cmd(r, ping_cb, &pong, "PING"), 0);
    TL_RUN_UNTIL(f->base, pong != 0, 5000);
    assert_int_equal(pong, 1);
    store_redis_free(r);

    cfg.host = (char *)"redis.invalid";
    r = store_redis_new(f->base, &cfg, "noname");
    TL_RUN_UNTIL(f->base, (log_flush(), file_has(logpath, "cannot resolve redis.invalid") > 0), 15000);
    if (!file_has(logpath, "event=redis_connect_failed conn=noname error=\"cannot resolve redis.invalid: ")) {
        tl_dump_file(logpath);
        fail_msg("no redis_connect_failed for the unresolvable name");
    }
    assert_false(store_redis_ready(r));
    store_redis_free(r);        /* a retry's lookup may be out: cancelled */

    r = store_redis_new(f->base, &cfg, "freed");
    store_redis_free(r);        /* at once, lookup surely out */
    tl_cleanup_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_answers_each_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_rank_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_noscript_and_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_connection_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_life_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_and_after_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_timeout_sweep, setup, teardown),
        /* last: it sends the log to a file */
        cmocka_unit_test_setup_teardown(test_host_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
