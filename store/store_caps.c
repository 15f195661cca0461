#include "store/store_caps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_redis.h"

/* KEYS[1] counter; ARGV limit, n, expire_at (Unix s). Returns {allowed, count}. */
static struct store_script take_lua = { "caps_take",
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local n = tonumber(ARGV[2])\n"
    "if c + n > tonumber(ARGV[1]) then return {0, c} end\n"
    "c = redis.call('INCRBY', KEYS[1], n)\n"
    "redis.call('EXPIREAT', KEYS[1], ARGV[3])\n"
    "return {1, c}\n", "" };

/* KEYS[1] counter; ARGV n. Returns {1, count}. */
static struct store_script refund_lua = { "caps_refund",
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local n = math.min(c, tonumber(ARGV[1]))\n"
    "if n <= 0 then return {1, c} end\n"
    "return {1, redis.call('DECRBY', KEYS[1], n)}\n", "" };

const char *
store_caps_take_lua(void)
{
    return take_lua.source;
}

const char *
store_caps_refund_lua(void)
{
    return refund_lua.source;
}

time_t
store_caps_period_end(enum store_caps_period period, time_t now)
{
    struct tm tm;

    gmtime_r(&now, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (period == STORE_CAPS_DAY) {
        tm.tm_mday += 1;
    } else {
        tm.tm_mday = 1;
        tm.tm_mon += 1;
    }
    return timegm(&tm);     /* normalises day 32, month 12 */
}

void
store_caps_key(char *buf, size_t size, const char *prefix, const char *account,
               const char *subscriber, enum store_caps_period period, time_t now)
{
    struct tm tm;

    gmtime_r(&now, &tm);
    if (period == STORE_CAPS_DAY)
        snprintf(buf, size, "%scap:%s:%s:d%04d%02d%02d", prefix ? prefix : "", account,
                 subscriber, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(buf, size, "%scap:%s:%s:m%04d%02d", prefix ? prefix : "", account, subscriber,
                 tm.tm_year + 1900, tm.tm_mon + 1);
}

struct caps_ctx {
    store_caps_cb cb;
    void *arg;
    time_t resets_at;
    char key[256];
};

static void
caps_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct caps_ctx *c = arg;
    struct store_caps_result res = { .resets_at = c->resets_at };

    (void)r;
    if (!store_reply_failed(reply) && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER &&
        reply->element[1]->type == REDIS_REPLY_INTEGER) {
        res.ok = true;
        res.allowed = reply->element[0]->integer == 1;
        res.count = reply->element[1]->integer;
    } else {
        log_event(LOG_ERROR, "caps_failed", "key=%s error=\"%s\"", c->key,
                  reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
    }
    if (c->cb)
        c->cb(&res, c->arg);
    free(c);
}

static int
run(struct store_redis *r, struct store_script *s, const char *account, const char *subscriber,
    enum store_caps_period period, time_t now, int nargs, const char **args, store_caps_cb cb,
    void *arg)
{
    struct caps_ctx *c = calloc(1, sizeof(*c));
    const char *argv[4];

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    c->resets_at = store_caps_period_end(period, now);
    store_caps_key(c->key, sizeof(c->key), store_redis_prefix(r), account, subscriber, period,
                   now);
    argv[0] = c->key;
    for (int i = 0; i < nargs; i++)
        argv[1 + i] = args[i];
    if (store_redis_eval(r, s, caps_reply, c, 1, nargs, argv, NULL) != 0) {
        free(c);
        return -1;
    }
    return 0;
}

int
store_caps_take(struct store_redis *r, const char *account, const char *subscriber,
                enum store_caps_period period, unsigned limit, unsigned n, time_t now,
                store_caps_cb cb, void *arg)
{
    char slimit[16], sn[16], sexp[24];
    const char *args[3] = { slimit, sn, sexp };

    snprintf(slimit, sizeof(slimit), "%u", limit);
    snprintf(sn, sizeof(sn), "%u", n);
    /* Kept a day past the period: a late refund still finds its counter. */
    snprintf(sexp, sizeof(sexp), "%" PRId64, (int64_t)store_caps_period_end(period, now) + 86400);
    return run(r, &take_lua, account, subscriber, period, now, 3, args, cb, arg);
}

int
store_caps_refund(struct store_redis *r, const char *account, const char *subscriber,
                  enum store_caps_period period, unsigned n, time_t now, store_caps_cb cb,
                  void *arg)
{
    char sn[16];
    const char *args[1] = { sn };

    snprintf(sn, sizeof(sn), "%u", n);
    return run(r, &refund_lua, account, subscriber, period, now, 1, args, cb, arg);
}
