#include "store/store_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_clientq.h"
#include "store/store_msg.h"
#include "store/store_stats.h"

#define SCHED_DUE_MAX 64

/* KEYS: set msg. ARGV: due json id account from to now ttl. The history
 * entry goes in the record, like every other (store/store_msg.h). */
static struct store_script sched_add_lua = { "sched_add",
    "redis.call('HSET', KEYS[2], 'id', ARGV[3], 'account', ARGV[4], 'from', ARGV[5],\n"
    "           'to', ARGV[6], 'state', 'scheduled', 'source', 'smpp', 'created', ARGV[7],\n"
    "           'updated', ARGV[7], 'due', ARGV[1],\n"
    "           'h:' .. ARGV[7] .. ':scheduled', 'due ' .. ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[2], tonumber(ARGV[8]))\n"
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n", "" };

struct add_ctx {
    store_sched_cb cb;
    void *arg;
};

static void
add_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct add_ctx *c = arg;
    (void)r;

    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_event(LOG_ERROR, "redis_error", "op=sched_add error=\"%s\"", reply->str);
    c->cb(c->arg, store_reply_failed(reply) ? -1 : 0);
    free(c);
}

void
store_sched_add(struct store_redis *r, const struct store_sched_new *m, store_sched_cb cb,
                void *arg)
{
    const char *p = store_redis_prefix(r);
    char ks[200], km[200], due[24], now[24], ttl[16];
    struct add_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(ks, sizeof(ks), "%ssmppsched", p);
    snprintf(km, sizeof(km), "%smsg:%s", p, m->id);
    snprintf(due, sizeof(due), "%llu", (unsigned long long)m->due_ms);
    snprintf(ttl, sizeof(ttl), "%u", m->ttl_s);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(now, sizeof(now), "%llu",
             (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000u);
    const char *argv[] = { ks, km, due, m->json, m->id, m->account, m->from, m->to, now, ttl };
    if (store_redis_eval(r, &sched_add_lua, add_reply, c, 2, 8, argv, NULL) != 0) {
        free(c);
        cb(arg, -1);
    }
}

struct due_ctx {
    store_sched_due_cb cb;
    void *arg;
};

static void
due_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct due_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        c->cb(c->arg, -1, NULL, NULL);
    } else {
        const char *items[SCHED_DUE_MAX];
        size_t lens[SCHED_DUE_MAX];
        int n = 0;
        for (size_t i = 0; i < reply->elements && n < SCHED_DUE_MAX; i++) {
            if (reply->element[i]->type != REDIS_REPLY_STRING)
                continue;
            items[n] = reply->element[i]->str;
            lens[n] = reply->element[i]->len;
            n++;
        }
        c->cb(c->arg, n, items, lens);
    }
    free(c);
}

void
store_sched_due(struct store_redis *r, uint64_t now_ms, unsigned max, store_sched_due_cb cb,
                void *arg)
{
    char ks[200];
    struct due_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(ks, sizeof(ks), "%ssmppsched", store_redis_prefix(r));
    if (store_redis_cmd(r, due_reply, c, "ZRANGEBYSCORE %s -inf %llu LIMIT 0 %u", ks,
                        (unsigned long long)now_ms, max > SCHED_DUE_MAX ? SCHED_DUE_MAX : max)
        != 0) {
        free(c);
        cb(arg, -1, NULL, NULL);
    }
}

void
store_sched_remove(struct store_redis *r, const char *item, size_t len)
{
    char ks[200];

    snprintf(ks, sizeof(ks), "%ssmppsched", store_redis_prefix(r));
    const char *argv[] = { "ZREM", ks, item };
    size_t lens[] = { 4, strlen(ks), len };
    store_redis_argv(r, NULL, NULL, 3, argv, lens);
}

/* KEYS: sched. ARGV: now max prefix. A due retry goes back on its route's
 * queue, unless its message was cancelled while it waited; a scheduled or
 * held message becomes queued, and is returned (id callback_url client_ref
 * to segments, five items each) for its status callback. */
static struct store_script promote_lua = { "promote",
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local out = {}\n"
    "for _, m in ipairs(due) do\n"
    "  local j = cjson.decode(m)\n"
    "  local st = j.k and redis.call('HGET', j.k, 'state')\n"
    "  if st ~= 'cancelled' then\n"
    "    local sid = redis.call('XADD', ARGV[3] .. 'q:' .. j.r, '*', unpack(j.f))\n"
    "    if st == 'scheduled' or st == 'held' then\n"
    "      redis.call('HSET', j.k, 'sid', sid, 'state', 'queued', 'updated', ARGV[1],\n"
    "        'h:' .. ARGV[1] .. ':queued', 'released')\n"
    "      local h = redis.call('HMGET', j.k, 'id', 'callback_url', 'client_ref', 'to',\n"
    "        'segments')\n"
    "      for i = 1, 5 do out[#out + 1] = h[i] or '' end\n"
    "    elseif j.k then redis.call('HSET', j.k, 'sid', sid) end\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return out\n", "" };

struct promote_ctx {
    store_sched_released_cb cb;
    void *arg;
};

static const char *
str_el(const redisReply *a, size_t i)
{
    return i < a->elements && a->element[i]->type == REDIS_REPLY_STRING ? a->element[i]->str : "";
}

static void
promote_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct promote_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=sched_promote error=\"%s\"", reply->str);
        if (c->cb)
            c->cb(c->arg, -1, NULL);
    } else if (c->cb) {
        size_t n = reply->elements / 5;
        struct store_sched_released *rel = calloc(n + 1, sizeof(*rel));
        if (!rel)
            abort();
        for (size_t i = 0; i < n; i++) {
            rel[i].id = str_el(reply, 5 * i);
            rel[i].callback_url = str_el(reply, 5 * i + 1);
            rel[i].client_ref = str_el(reply, 5 * i + 2);
            rel[i].to = str_el(reply, 5 * i + 3);
            rel[i].segments = (unsigned)strtoul(str_el(reply, 5 * i + 4), NULL, 10);
        }
        c->cb(c->arg, (int)n, rel);
        free(rel);
    }
    free(c);
}

/* Run a "what is due" script (KEYS: P<kind>; ARGV: now max prefix
 * [retention]) whose answer promote_reply turns into released[] for cb. */
static void
run_due(struct store_redis *r, struct store_script *script, const char *kind, unsigned max,
        bool retention, store_sched_released_cb cb, void *arg)
{
    char k[160], now[24], mx[12], ret[16];
    struct promote_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(k, sizeof(k), "%s%s", store_redis_prefix(r), kind);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(mx, sizeof(mx), "%u", max);
    snprintf(ret, sizeof(ret), "%u", STORE_MSG_RETENTION_S);
    const char *argv[] = { k, now, mx, store_redis_prefix(r), ret };
    if (store_redis_eval(r, script, promote_reply, c, 1, retention ? 4 : 3, argv, NULL) != 0) {
        free(c);
        if (cb)
            cb(arg, -1, NULL);
    }
}

void
store_sched_promote(struct store_redis *r, unsigned max, store_sched_released_cb cb, void *arg)
{
    /* After this loop pass's batched writes (a retry's own progress). */
    store_redis_flush(r);
    run_due(r, &promote_lua, "sched", max, false, cb, arg);
}

/* ---------------------------------------------------- receipt timeout */

/*
 * KEYS: P await. ARGV: now max prefix retention. A record that is still
 * "submitted" when its wait is over (validity end + receipt_grace_s, set
 * by store_job_submitted) will not hear from its carrier any more: it takes
 * the final state "unknown", counted in the statistics, with an SMPP
 * client's receipt (stat UNKNOWN) when it asked for one. Any other state
 * (a receipt, a cancel, a fallback chain came first) only leaves the set.
 * Answers id callback_url client_ref to segments per message ended.
 */
static struct store_script await_lua = { "await_sweep",
    STATS_LUA
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local out, prefix, now = {}, ARGV[3], ARGV[1]\n"
    "local state, stat, err = 'unknown', 'UNKNOWN', ''\n"
    "local why = 'no receipt by the end of the validity period'\n"
    "for _, mk in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], mk)\n"
    "  local h = redis.call('HMGET', mk, 'state', 'id', 'callback_url', 'client_ref', 'to',\n"
    "    'segments', 'route')\n"
    "  if h[1] == 'submitted' then\n"
    "    redis.call('HSET', mk, 'state', state, 'error', why, 'updated', now,\n"
    "      'h:' .. now .. ':' .. state, why)\n"
    "    redis.call('EXPIRE', mk, ARGV[4])\n"
    "    local c = redis.call('HMGET', mk, " CLIENT_RECEIPT_FIELDS ")\n"
    "    " CLIENT_RECEIPT_LUA
    "    stats_event(prefix, now, c[3], h[7], c[4], state, 'no_receipt')\n"
    "    for i = 2, 6 do out[#out + 1] = h[i] or '' end\n"
    "  end\n"
    "end\n"
    "stats_flush()\n"
    "return out\n", "" };

void
store_sched_sweep_receipts(struct store_redis *r, unsigned max, store_sched_released_cb cb,
                           void *arg)
{
    run_due(r, &await_lua, "await", max, true, cb, arg);
}
