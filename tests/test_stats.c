/*
 * Delivery statistics (issue 6, store/store_stats and GET /v1/stats).
 *
 *   - latency buckets and quantiles: every answer inside the bucket that
 *     holds the nearest-rank value
 *   - the shared Lua (STATS_LUA) against a real redis-server: one event
 *     counted per dimension, summed within a script, keys that expire
 *   - store_stats_query: the hour and day windows sum exactly the buckets
 *     they cover, across bucket boundaries, and nothing older
 *   - the receipt script: a held message's receipt time from its release
 *   - end to end: real redis-server, three smsc-sims (one delivers, one
 *     answers UNDELIV, one rejects every submit_sm) and smsgwd; a STOP;
 *     then exact counts, ratios, failure reasons, p50/p95 in the bucket of
 *     the real latency, who may see what, and bad queries answered 400
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "core/config.h"
#include "store/store_msg.h"
#include "store/store_redis.h"
#include "store/store_stats.h"
#include "tests/gwfix.h"

#define KEY   "acme-key-0123"
#define KEY2  "beta-key-4567"
#define TOKEN "stats-tok"

/* ------------------------------------------------------------ buckets */

static void
test_lat_buckets(void **state)
{
    uint64_t lo, hi;
    (void)state;

    assert_int_equal(store_stats_lat_bucket(0), 0);
    assert_int_equal(store_stats_lat_bucket(9), 0);
    assert_int_equal(store_stats_lat_bucket(10), 1);
    assert_int_equal(store_stats_lat_bucket(14), 1);
    assert_int_equal(store_stats_lat_bucket(15), 2);
    assert_int_equal(store_stats_lat_bucket(99999999), STORE_STATS_LAT_BUCKETS - 2);
    assert_int_equal(store_stats_lat_bucket(100000000), STORE_STATS_LAT_BUCKETS - 1);
    assert_int_equal(store_stats_lat_bucket(UINT64_MAX), STORE_STATS_LAT_BUCKETS - 1);
    for (unsigned i = 0; i < STORE_STATS_LAT_BUCKETS; i++) {
        store_stats_lat_range(i, &lo, &hi);
        assert_int_equal(store_stats_lat_bucket(lo), i);
        if (hi != UINT64_MAX)
            assert_int_equal(store_stats_lat_bucket(hi - 1), i);
        assert_true(hi > lo);
    }
}

static void
test_quantiles(void **state)
{
    uint64_t h[STORE_STATS_LAT_BUCKETS] = { 0 }, lo, hi;
    double q;
    (void)state;

    assert_false(store_stats_quantile(h, 0.5, &q));
    /* 10 values: 6 in [200, 300), 3 in [300, 500), 1 in [2000, 3000) */
    h[store_stats_lat_bucket(250)] = 6;
    h[store_stats_lat_bucket(400)] = 3;
    h[store_stats_lat_bucket(2500)] = 1;
    assert_true(store_stats_quantile(h, 0.5, &q));      /* rank 5: 200..300 */
    assert_true(q >= 200 && q <= 300);
    assert_true(store_stats_quantile(h, 0.7, &q));      /* rank 7: 300..500 */
    assert_true(q >= 300 && q <= 500);
    assert_true(store_stats_quantile(h, 0.95, &q));     /* rank 10: 2000..3000 */
    assert_true(q >= 2000 && q <= 3000);
    /* the open last bucket answers its lower bound */
    memset(h, 0, sizeof(h));
    h[STORE_STATS_LAT_BUCKETS - 1] = 2;
    assert_true(store_stats_quantile(h, 0.5, &q));
    store_stats_lat_range(STORE_STATS_LAT_BUCKETS - 1, &lo, &hi);
    assert_true(q == (double)lo);
}

/* ------------------------------------------------------- store level */

struct fx {
    struct tl_redis srv;
    redisContext *c;
    struct event_base *base;
    struct store_redis *r;
};

static int
store_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    tl_redis_start(&f->srv);
    f->c = redisConnect("127.0.0.1", f->srv.port);
    assert_non_null(f->c);
    assert_int_equal(f->c->err, 0);
    f->base = event_base_new();
    struct cfg_redis cfg = { .host = (char *)"127.0.0.1", .port = f->srv.port,
                             .prefix = (char *)"t:", .timeout_ms = 2000 };
    f->r = store_redis_new(f->base, &cfg, "test");
    TL_RUN_UNTIL(f->base, store_redis_ready(f->r), 5000);
    assert_true(store_redis_ready(f->r));
    *state = f;
    return 0;
}

static int
store_teardown(void **state)
{
    struct fx *f = *state;
    store_redis_free(f->r);
    event_base_free(f->base);
    redisFree(f->c);
    tl_redis_stop(&f->srv);
    free(f);
    return 0;
}

static long long
hget_ll(struct fx *f, const char *key, const char *field)
{
    redisReply *rep = redisCommand(f->c, "HGET %s %s", key, field);
    assert_non_null(rep);
    long long v = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : -1;
    freeReplyObject(rep);
    return v;
}

static long long
ttl_of(struct fx *f, const char *key)
{
    redisReply *rep = redisCommand(f->c, "TTL %s", key);
    assert_non_null(rep);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* ARGV: prefix now account route from counter reason lat ('' = none), for
 * each of the events, 8 a time. */
static struct store_script events_lua = { "stats_events_test",
    STATS_LUA
    "for i = 1, #ARGV, 8 do\n"
    "  local function opt(v) if v == '' then return nil end return v end\n"
    "  stats_event(ARGV[i], ARGV[i + 1], opt(ARGV[i + 2]), opt(ARGV[i + 3]), opt(ARGV[i + 4]),\n"
    "    ARGV[i + 5], opt(ARGV[i + 6]), tonumber(opt(ARGV[i + 7])))\n"
    "end\n"
    "stats_flush()\n"
    "return 1\n", "" };

static void
done_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)r;
    int *done = arg;
    *done = reply && reply->type == REDIS_REPLY_INTEGER ? 1 : -1;
}

/* The shared Lua: each dimension's hash gets the counter, the reason and
 * the latency bucket; events of one script are summed; '' dimensions are
 * skipped; the hash expires a day and an hour after its bucket. */
static void
test_lua_counts(void **state)
{
    struct fx *f = *state;
    const uint64_t bms = STORE_STATS_BUCKET_S * 1000ull;
    uint64_t b = store_now_ms() / bms, t = b * bms + 1000;
    char now[24], k[128];
    int done = 0;

    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    const char *argv[] = {
        "t:", now, "acme", "good", "12345", "delivered", "", "250",
        "t:", now, "acme", "good", "12345", "delivered", "", "260",
        "t:", now, "acme", "bad", "12345", "undelivered", "UNDELIV:001", "2500",
        "t:", now, "", "", "12345", "optouts", "", "",
    };
    assert_int_equal(store_redis_eval(f->r, &events_lua, done_cb, &done, 0, 32, argv, NULL), 0);
    TL_RUN_UNTIL(f->base, done != 0, 3000);
    assert_int_equal(done, 1);

    snprintf(k, sizeof(k), "t:stats:b:%llu:a:acme", (unsigned long long)b);
    assert_int_equal(hget_ll(f, k, "delivered"), 2);
    assert_int_equal(hget_ll(f, k, "undelivered"), 1);
    assert_int_equal(hget_ll(f, k, "e:UNDELIV:001"), 1);
    char lf[8];
    snprintf(lf, sizeof(lf), "l%u", store_stats_lat_bucket(250));
    assert_int_equal(hget_ll(f, k, lf), 2);
    snprintf(lf, sizeof(lf), "l%u", store_stats_lat_bucket(2500));
    assert_int_equal(hget_ll(f, k, lf), 1);
    assert_int_equal(hget_ll(f, k, "optouts"), -1);
    long long ttl = ttl_of(f, k), want = (long long)((b + 1) * bms - t) / 1000 + STORE_STATS_KEEP_S;
    assert_true(ttl > 0 && ttl <= want && ttl >= want - 5);
    snprintf(k, sizeof(k), "t:stats:b:%llu:r:good", (unsigned long long)b);
    assert_int_equal(hget_ll(f, k, "delivered"), 2);
    assert_int_equal(hget_ll(f, k, "undelivered"), -1);
    snprintf(k, sizeof(k), "t:stats:b:%llu:r:bad", (unsigned long long)b);
    assert_int_equal(hget_ll(f, k, "undelivered"), 1);
    snprintf(k, sizeof(k), "t:stats:b:%llu:s:12345", (unsigned long long)b);
    assert_int_equal(hget_ll(f, k, "delivered"), 2);
    assert_int_equal(hget_ll(f, k, "optouts"), 1);
    assert_true(ttl_of(f, k) > 0);
    /* no hash for an empty account or route */
    snprintf(k, sizeof(k), "t:stats:b:%llu:a:", (unsigned long long)b);
    assert_int_equal(ttl_of(f, k), -2);
}

static void
receipt_cb(void *arg, int rc, const struct store_receipt_info *info)
{
    int *done = arg;
    *done = rc == 1 && info && info->state && !strcmp(info->state, "delivered") ? 1 : -1;
}

/* The receipt script counts a held or scheduled message's receipt time
 * from its release, not from its acceptance. */
static void
test_receipt_latency_from_release(void **state)
{
    struct fx *f = *state;
    const uint64_t bms = STORE_STATS_BUCKET_S * 1000ull;
    uint64_t t = store_now_ms();
    int done = 0;

    redisReply *rep = redisCommand(f->c, "HSET t:msg:m1 account acme route good from 12345 "
                                   "created %llu release_at %llu segments 1 state submitted",
                                   (unsigned long long)(t - 100000), (unsigned long long)(t - 240));
    freeReplyObject(rep);
    rep = redisCommand(f->c, "SET t:smscid:sim:abc m1:0");
    freeReplyObject(rep);
    store_receipt(f->r, "sim", "abc", "DELIVRD", "000", receipt_cb, &done);
    TL_RUN_UNTIL(f->base, done != 0, 3000);
    assert_int_equal(done, 1);
    /* the receipt came between t and t2: 240 ms and up to t2 - t more
     * after the release, in whichever time bucket was current */
    uint64_t t2 = store_now_ms();
    char k[128], lf[8];
    long long n = 0;
    for (uint64_t b = t / bms; b <= t2 / bms; b++) {
        snprintf(k, sizeof(k), "t:stats:b:%llu:r:good", (unsigned long long)b);
        for (unsigned l = store_stats_lat_bucket(240); l <= store_stats_lat_bucket(240 + t2 - t);
             l++) {
            snprintf(lf, sizeof(lf), "l%u", l);
            long long v = hget_ll(f, k, lf);
            n += v > 0 ? v : 0;
        }
        assert_true(hget_ll(f, k, "e:DELIVRD") == -1);
    }
    assert_int_equal(n, 1);
}

struct qres {
    int n;                      /* dimension values asked for */
    int calls, rc;
    struct store_stats_agg rows[2 * STORE_STATS_NWIN];
    char reason[2][STORE_STATS_NWIN][64];
};

static void
query_cb(void *arg, int rc, const struct store_stats_agg *rows)
{
    struct qres *q = arg;
    q->calls++;
    q->rc = rc;
    if (rc != 0)
        return;
    for (int i = 0; i < q->n * STORE_STATS_NWIN; i++) {
        q->rows[i] = rows[i];
        q->rows[i].reasons = NULL;
        if (rows[i].nreasons)
            snprintf(q->reason[i / STORE_STATS_NWIN][i % STORE_STATS_NWIN], 64, "%s=%llu",
                     rows[i].reasons[0].code, (unsigned long long)rows[i].reasons[0].n);
    }
}

/* Buckets written straight into Redis at chosen ages: the hour window takes
 * the current bucket and the 12 before it, the day the current and 288. */
static void
test_query_windows(void **state)
{
    struct fx *f = *state;
    const uint64_t bms = STORE_STATS_BUCKET_S * 1000ull;
    /* a fixed moment, in the middle of a bucket */
    uint64_t b = 6000000, now = b * bms + bms / 2;
    struct { uint64_t age; const char *field; long long n; } w[] = {
        { 0, "delivered", 1 },          /* hour and day */
        { 12, "delivered", 10 },        /* the oldest bucket of the hour */
        { 13, "delivered", 100 },       /* the day only */
        { 288, "delivered", 1000 },     /* the oldest bucket of the day */
        { 289, "delivered", 10000 },    /* too old for both */
        { 0, "e:UNDELIV:001", 2 },
        { 100, "e:UNDELIV:001", 3 },
        { 1, "l5", 4 },
        { 200, "l9", 5 },
        { 5, "optouts", 6 },
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        redisReply *rep = redisCommand(f->c, "HINCRBY t:stats:b:%llu:a:acme %s %lld",
                                       (unsigned long long)(b - w[i].age), w[i].field, w[i].n);
        assert_non_null(rep);
        freeReplyObject(rep);
    }
    struct qres *q = calloc(1, sizeof(*q));
    struct store_stats_dim dims[] = { { 'a', "acme" }, { 'r', "nothing-here" } };
    q->n = 2;
    store_stats_query(f->r, now, dims, 2, query_cb, q);
    TL_RUN_UNTIL(f->base, q->calls > 0, 3000);
    assert_int_equal(q->calls, 1);
    assert_int_equal(q->rc, 0);
    const struct store_stats_agg *h = &q->rows[STORE_STATS_HOUR], *d = &q->rows[STORE_STATS_DAY];
    assert_int_equal(h->c[STORE_STATS_DELIVERED], 11);
    assert_int_equal(d->c[STORE_STATS_DELIVERED], 1111);
    assert_int_equal(h->c[STORE_STATS_OPTOUTS], 6);
    assert_int_equal(d->c[STORE_STATS_OPTOUTS], 6);
    assert_int_equal(h->lat[5], 4);
    assert_int_equal(h->lat[9], 0);
    assert_int_equal(d->lat[9], 5);
    assert_int_equal(h->nreasons, 1);
    assert_string_equal(q->reason[0][STORE_STATS_HOUR], "UNDELIV:001=2");
    assert_string_equal(q->reason[0][STORE_STATS_DAY], "UNDELIV:001=5");
    assert_int_equal(store_stats_finals(d), 1111);
    /* a dimension value with no hash: zeros */
    for (int i = 2; i < 4; i++) {
        assert_int_equal(store_stats_finals(&q->rows[i]), 0);
        assert_int_equal(q->rows[i].nreasons, 0);
    }
    /* one bucket later, the hour's oldest bucket and the day's oldest drop out */
    memset(q, 0, sizeof(*q));
    q->n = 1;
    store_stats_query(f->r, now + bms, dims, 1, query_cb, q);
    TL_RUN_UNTIL(f->base, q->calls > 0, 3000);
    assert_int_equal(q->rc, 0);
    assert_int_equal(q->rows[STORE_STATS_HOUR].c[STORE_STATS_DELIVERED], 1);
    assert_int_equal(q->rows[STORE_STATS_DAY].c[STORE_STATS_DELIVERED], 111);
    free(q);
}

/* ------------------------------------------------------- end to end */

static int
e2e_setup(void **state)
{
    struct gwfix *g = gwfix_new(0);
    g->key = KEY;
    g->sim_system_id = "gw";
    g->sim_dlr_delay_ms = "";
    *state = g;
    return 0;
}

static void
write_config(struct gwfix *g)
{
    char h1[65], h2[65], ht[65];
    config_sha256_hex(KEY, h1);
    config_sha256_hex(KEY2, h2);
    config_sha256_hex(TOKEN, ht);
    gwfix_write_conf(g,
               "instance = \"stats-1\";\n"
               "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
               "http = { listen = \"127.0.0.1\"; port = %d; };\n"
               "admin = { socket = \"\"; http_token = \"sha256:%s\"; };\n"
               "smsc = (\n"
               "  { name = \"simgood\"; host = \"127.0.0.1\"; port = %d; system_id = \"gw\";\n"
               "    password = \"secret\"; window = 16; reconnect_min_ms = 100;\n"
               "    reconnect_max_ms = 500; },\n"
               "  { name = \"simbad\"; host = \"127.0.0.1\"; port = %d; system_id = \"gw\";\n"
               "    password = \"secret\"; window = 16; reconnect_min_ms = 100;\n"
               "    reconnect_max_ms = 500; },\n"
               "  { name = \"simrej\"; host = \"127.0.0.1\"; port = %d; system_id = \"gw\";\n"
               "    password = \"secret\"; window = 16; reconnect_min_ms = 100;\n"
               "    reconnect_max_ms = 500; }\n"
               ");\n"
               "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; },\n"
               "            { address = \"+18885550100\"; type = \"tollfree\"; accounts = [\"beta\"]; } );\n"
               "routes = (\n"
               "  { name = \"good\"; mps = 100; smsc = [\"simgood\"]; prefixes = [\"1415\"]; },\n"
               "  { name = \"bad\"; mps = 100; smsc = [\"simbad\"]; prefixes = [\"1212\"]; },\n"
               "  { name = \"rej\"; mps = 100; smsc = [\"simrej\"]; prefixes = [\"1646\"];\n"
               "    retry_attempts = 0; } );\n"
               "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; },\n"
               "             { name = \"beta\"; api_keys = [\"sha256:%s\"]; } );\n",
               g->redis.port, g->http_port, ht, g->sim[0].port, g->sim[1].port, g->sim[2].port,
               h1, h2);
}

/* POST one message as the account of key; its id. */
static char *
send_one(struct gwfix *g, const char *key, const char *from, const char *to)
{
    char json[200];
    snprintf(json, sizeof(json), "{\"from\":\"%s\",\"to\":\"+%s\",\"text\":\"stats test\"}", from, to);
    g->key = key;
    char *id = gwfix_post_ok(g, json);
    g->key = KEY;
    return id;
}

/* Wait for the state of a message of the account of key. */
static void
wait_state(struct gwfix *g, const char *key, const char *id, const char *want)
{
    g->key = key;
    free(gwfix_wait_state(g, id, want, 15000));
    g->key = KEY;
}

/* GET /v1/stats with query qs and bearer; the parsed body (the caller puts it). */
static struct json_object *
stats_get(struct gwfix *g, const char *bearer, const char *qs, int want_status)
{
    char path[300], *body = NULL;
    snprintf(path, sizeof(path), "/v1/stats%s%s", qs ? "?" : "", qs ? qs : "");
    int st = tl_http(g->http_port, "GET", path, bearer, NULL, &body, NULL);
    if (st != want_status)
        fail_msg("GET %s -> %d %s (wanted %d)", path, st, body ? body : "", want_status);
    struct json_object *o = json_tokener_parse(body ? body : "");
    if (!o)
        fail_msg("GET %s: not JSON: %s", path, body ? body : "");
    free(body);
    return o;
}

/* The member at a dotted path ("hour.accounts.acme.delivered"), or NULL. */
static struct json_object *
jget(struct json_object *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = strtok_r(buf, ".", &save); p && o; p = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(o, p, &o))
            return NULL;
    return o;
}

static long long
jint(struct json_object *o, const char *path)
{
    struct json_object *v = jget(o, path);
    if (!v)
        fail_msg("no %s in %s", path, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static double
jdbl(struct json_object *o, const char *path)
{
    struct json_object *v = jget(o, path);
    if (!v || json_object_get_type(v) == json_type_null)
        fail_msg("no %s in %s", path, json_object_to_json_string(o));
    return json_object_get_double(v);
}

static int
cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The route's delivered messages' submit-to-receipt times, from their
 * records in Redis (updated is when the receipt set the state). */
static size_t
latencies(struct gwfix *g, const char *route, long long *out, size_t max)
{
    redisContext *c = redisConnect("127.0.0.1", g->redis.port);
    assert_non_null(c);
    redisReply *keys = redisCommand(c, "KEYS t:msg:*");
    size_t n = 0;
    for (size_t i = 0; i < keys->elements && n < max; i++) {
        redisReply *h = redisCommand(c, "HMGET %s route state created updated",
                                     keys->element[i]->str);
        if (h->elements == 4 && h->element[0]->str && !strcmp(h->element[0]->str, route) &&
            h->element[1]->str && !strcmp(h->element[1]->str, "delivered"))
            out[n++] = strtoll(h->element[3]->str, NULL, 10) - strtoll(h->element[2]->str, NULL, 10);
        freeReplyObject(h);
    }
    freeReplyObject(keys);
    redisFree(c);
    qsort(out, n, sizeof(*out), cmp_ll);
    return n;
}

static void
assert_in_bucket_of(double got, long long real)
{
    uint64_t lo, hi;
    store_stats_lat_range(store_stats_lat_bucket((uint64_t)real), &lo, &hi);
    if (got < (double)lo || got > (double)hi)
        fail_msg("%.0f ms is not in [%llu, %llu], the bucket of the real %lld ms", got,
                 (unsigned long long)lo, (unsigned long long)hi, real);
}

static void
test_api_end_to_end(void **state)
{
    struct gwfix *g = *state;

    gwfix_start_sim(g, 0, "--dlr-delay-ms", "100-600", NULL);
    gwfix_start_sim(g, 1, "--dlr-delay-ms", "50", "--dlr-mix", "UNDELIV=100", NULL);
    gwfix_start_sim(g, 2, "--reject-pct", "100", "--reject-status", "0x0B", NULL);
    write_config(g);
    gwfix_start_gw(g);

    /* acme: 4 delivered, 2 undelivered, 1 rejected; beta: 1 delivered */
    char *ids[8];
    const char *to[] = { "14155550101", "14155550102", "14155550103", "14155550104",
                         "12125550101", "12125550102", "16465550101" };
    for (int i = 0; i < 7; i++)
        ids[i] = send_one(g, KEY, "12345", to[i]);
    ids[7] = send_one(g, KEY2, "+18885550100", "14155550105");
    for (int i = 0; i < 8; i++)
        wait_state(g, i == 7 ? KEY2 : KEY, ids[i],
                   i < 4 || i == 7 ? "delivered" : i < 6 ? "undelivered" : "rejected");
    for (int i = 0; i < 8; i++)
        free(ids[i]);

    /* STOP to acme's number: an opt-out, and its confirmation is one more
     * delivered message on route good */
    char *ans = tl_ctl(g->sim[0].ctl_port, "mo 14155550199 12345 STOP\n");
    assert_non_null(strstr(ans, "OK"));
    struct json_object *all = NULL;
    for (int i = 0; i < 300; i++) {
        json_object_put(all);
        all = stats_get(g, TOKEN, NULL, 200);
        if (jint(all, "hour.routes.good.delivered") == 6 &&
            jint(all, "hour.accounts.acme.optouts") == 1)
            break;
        tl_sleep_ms(50);
    }

    if (getenv("STATS_TEST_DUMP"))
        fprintf(stderr, "%s\n", json_object_to_json_string(all));
    /* the operator's view: every row, both windows */
    for (int w = 0; w < 2; w++) {
        char p[160];
        const char *win = w ? "day" : "hour";
#define AT(path) (snprintf(p, sizeof(p), "%s.%s", win, path), p)
        assert_int_equal(jint(all, AT("accounts.acme.submitted")), 7);
        assert_int_equal(jint(all, AT("accounts.acme.delivered")), 5);
        assert_int_equal(jint(all, AT("accounts.acme.undelivered")), 2);
        assert_int_equal(jint(all, AT("accounts.acme.rejected")), 1);
        assert_int_equal(jint(all, AT("accounts.acme.failed")), 0);
        assert_int_equal(jint(all, AT("accounts.acme.finished")), 8);
        assert_true(fabs(jdbl(all, AT("accounts.acme.delivered_ratio")) - 0.625) < 1e-9);
        assert_int_equal(jint(all, AT("accounts.acme.failure_reasons.UNDELIV:001")), 2);
        assert_int_equal(jint(all, AT("accounts.acme.failure_reasons.ESME_RINVDSTADR")), 1);
        assert_int_equal(json_object_object_length(jget(all, AT("accounts.acme.failure_reasons"))), 2);
        assert_int_equal(jint(all, AT("accounts.acme.submit_to_receipt_ms.receipts")), 7);
        assert_int_equal(jint(all, AT("accounts.acme.optouts")), 1);
        assert_true(fabs(jdbl(all, AT("accounts.acme.optout_rate")) - 0.2) < 1e-9);
        assert_int_equal(jint(all, AT("accounts.beta.submitted")), 1);
        assert_int_equal(jint(all, AT("accounts.beta.delivered")), 1);
        assert_true(jdbl(all, AT("accounts.beta.delivered_ratio")) == 1.0);
        assert_int_equal(jint(all, AT("accounts.beta.optouts")), 0);
        assert_int_equal(jint(all, AT("routes.good.submitted")), 6);
        assert_int_equal(jint(all, AT("routes.good.delivered")), 6);
        assert_int_equal(json_object_object_length(jget(all, AT("routes.good.failure_reasons"))), 0);
        assert_null(jget(all, AT("routes.good.optouts")));
        assert_int_equal(jint(all, AT("routes.bad.submitted")), 2);
        assert_int_equal(jint(all, AT("routes.bad.undelivered")), 2);
        assert_true(jdbl(all, AT("routes.bad.delivered_ratio")) == 0.0);
        assert_int_equal(jint(all, AT("routes.rej.submitted")), 0);
        assert_int_equal(jint(all, AT("routes.rej.rejected")), 1);
        assert_int_equal(jint(all, AT("routes.rej.submit_to_receipt_ms.receipts")), 0);
        assert_true(json_object_get_type(jget(all, AT("routes.rej.submit_to_receipt_ms.p50"))) ==
                    json_type_null);
        assert_int_equal(jint(all, AT("senders.12345.submitted")), 7);
        assert_int_equal(jint(all, AT("senders.12345.optouts")), 1);
        assert_int_equal(jint(all, AT("senders.+18885550100.delivered")), 1);
#undef AT
    }

    /* p50 and p95 of route good: within the bucket of the real nearest-rank
     * values (the records' receipt time minus their creation) */
    long long lat[16];
    size_t n = latencies(g, "good", lat, 16);
    assert_int_equal(n, 6);
    assert_int_equal(jint(all, "hour.routes.good.submit_to_receipt_ms.receipts"), 6);
    assert_in_bucket_of(jdbl(all, "hour.routes.good.submit_to_receipt_ms.p50"), lat[2]);
    assert_in_bucket_of(jdbl(all, "hour.routes.good.submit_to_receipt_ms.p95"), lat[5]);
    json_object_put(all);

    /* an account's key: its own row, nothing else */
    struct json_object *o = stats_get(g, KEY, NULL, 200);
    assert_int_equal(jint(o, "hour.accounts.acme.delivered"), 5);
    assert_null(jget(o, "hour.accounts.beta"));
    assert_null(jget(o, "hour.routes"));
    assert_null(jget(o, "day.senders"));
    json_object_put(o);
    o = stats_get(g, KEY2, "window=day", 200);
    assert_int_equal(jint(o, "day.accounts.beta.delivered"), 1);
    assert_null(jget(o, "day.accounts.acme"));
    assert_null(jget(o, "hour"));
    json_object_put(o);
    o = stats_get(g, KEY2, "account=acme", 403);
    assert_string_equal(json_object_get_string(jget(o, "error.code")), "forbidden");
    assert_non_null(strstr(json_object_get_string(jget(o, "error.message")), "own account"));
    json_object_put(o);
    o = stats_get(g, KEY, "route=good", 403);
    assert_non_null(strstr(json_object_get_string(jget(o, "error.message")), "admin.http_token"));
    json_object_put(o);
    o = stats_get(g, NULL, NULL, 401);
    assert_string_equal(json_object_get_string(jget(o, "error.code")), "unauthorized");
    json_object_put(o);
    o = stats_get(g, "not-a-key", NULL, 401);
    json_object_put(o);

    /* filters (the operator) */
    o = stats_get(g, TOKEN, "window=hour&route=bad&sender=+18885550100", 200);
    assert_int_equal(jint(o, "hour.routes.bad.undelivered"), 2);
    assert_int_equal(jint(o, "hour.senders.+18885550100.delivered"), 1);
    assert_null(jget(o, "hour.routes.good"));
    assert_int_equal(json_object_object_length(jget(o, "hour.accounts")), 0);
    assert_null(jget(o, "day"));
    json_object_put(o);
    o = stats_get(g, TOKEN, "sender=%2B18885550100", 200);
    assert_int_equal(jint(o, "day.senders.+18885550100.delivered"), 1);
    json_object_put(o);

    /* bad queries: 400 saying what to fix */
    o = stats_get(g, TOKEN, "window=week", 400);
    assert_string_equal(json_object_get_string(jget(o, "error.code")), "invalid_window");
    assert_non_null(strstr(json_object_get_string(jget(o, "error.message")), "hour or day"));
    json_object_put(o);
    o = stats_get(g, KEY, "colour=red", 400);
    assert_string_equal(json_object_get_string(jget(o, "error.code")), "unknown_parameter");
    assert_non_null(strstr(json_object_get_string(jget(o, "error.message")), "window, account"));
    json_object_put(o);
    o = stats_get(g, TOKEN, "account=", 400);
    assert_string_equal(json_object_get_string(jget(o, "error.code")), "invalid_name");
    json_object_put(o);
    char *body = NULL;
    assert_int_equal(tl_http(g->http_port, "POST", "/v1/stats", KEY, "{}", &body, NULL), 405);
    free(body);

    /* the counts live in Redis: a restarted smsgwd shows the same */
    assert_true(tl_exited_ok(tl_stop(g->gw, SIGTERM, 10000)));
    g->gw = 0;
    gwfix_start_gw(g);
    o = stats_get(g, KEY, "window=hour", 200);
    assert_int_equal(jint(o, "hour.accounts.acme.delivered"), 5);
    assert_int_equal(jint(o, "hour.accounts.acme.rejected"), 1);
    json_object_put(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lat_buckets),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test_setup_teardown(test_lua_counts, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_query_windows, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_latency_from_release, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_api_end_to_end, e2e_setup, gwfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
