#include "store/store_clientq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return p;
}

/* ---------------------------------------------------------------- liveness */

struct alive_ctx {
    store_clientq_alive_cb cb;
    void *arg;
};

static void
alive_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct alive_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply)) {
        if (reply)
            log_event(LOG_ERROR, "redis_error", "op=clientq_alive error=\"%s\"", reply->str);
        c->cb(c->arg, -1);
    } else {
        c->cb(c->arg, reply->type == REDIS_REPLY_NIL ? 0 : 1);
    }
    free(c);
}

void
store_clientq_alive(struct store_redis *r, const char *instance, unsigned ttl_ms,
                    store_clientq_alive_cb cb, void *arg)
{
    char k[300];
    struct alive_ctx *c = xmalloc(sizeof(*c));

    c->cb = cb;
    c->arg = arg;
    snprintf(k, sizeof(k), "%salive:%s", store_redis_prefix(r), instance);
    /* SET ... GET (Redis 6.2+): the old value tells a refresh from a lapse. */
    if (store_redis_cmd(r, alive_reply, c, "SET %s 1 PX %u GET", k, ttl_ms) != 0) {
        free(c);
        cb(arg, -1);
    }
}

/* ---------------------------------------------------------------- sweep */

/* KEYS: inflight queue alive. ARGV: force. Nothing when the owner is alive
 * (-1) unless forced (our own list at start). The inflight tail goes first
 * to the queue head, so the order is kept. */
static struct store_script takeover_lua = { "clientq_takeover",
    "if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end\n"
    "local n = 0\n"
    "local v = redis.call('RPOP', KEYS[1])\n"
    "while v do\n"
    "  redis.call('LPUSH', KEYS[2], v)\n"
    "  n = n + 1\n"
    "  v = redis.call('RPOP', KEYS[1])\n"
    "end\n"
    "return n\n", "" };

/* Keys examined per SCAN call: small enough that no call blocks Redis. */
#define SWEEP_SCAN_COUNT "1000"

struct sweep {
    struct store_redis *r;
    char *self;
    bool with_self;
    char pattern[300];
    char cursor[32];
    unsigned waiting;               /* takeover scripts not yet answered */
    bool scan_done, failed;
    unsigned long moved;
    store_clientq_sweep_cb cb;
    void *arg;
};

struct takeover {
    struct sweep *sw;
    char account[200], instance[200];
};

static void sweep_next(struct sweep *sw);

static void
sweep_maybe_end(struct sweep *sw)
{
    if (!sw->scan_done || sw->waiting)
        return;
    sw->cb(sw->arg, sw->failed ? -1 : 0, sw->moved);
    free(sw->self);
    free(sw);
}

static void
takeover_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct takeover *t = arg;
    struct sweep *sw = t->sw;
    (void)r;

    sw->waiting--;
    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=clientq_takeover error=\"%s\"", reply->str);
        sw->failed = true;
    } else if (reply->integer > 0) {
        sw->moved += (unsigned long)reply->integer;
        log_event(LOG_WARN, "clientq_taken_over", "account=%s dead_instance=%s items=%lld "
                  "by=%s%s", t->account, t->instance, reply->integer, sw->self,
                  strcmp(t->instance, sw->self) == 0 ? " (a previous run)" : "");
    }
    free(t);
    sweep_maybe_end(sw);
}

/* "P clientq:ACCOUNT:inflight:INSTANCE" -> account, instance. */
static bool
split_key(const char *prefix, const char *k, struct takeover *t)
{
    size_t pl = strlen(prefix);
    const char *mark;

    if (strncmp(k, prefix, pl) != 0 || strncmp(k + pl, "clientq:", 8) != 0)
        return false;
    k += pl + 8;
    mark = strstr(k, ":inflight:");
    if (!mark || mark == k || (size_t)(mark - k) >= sizeof(t->account) ||
        strlen(mark + 10) == 0 || strlen(mark + 10) >= sizeof(t->instance))
        return false;
    memcpy(t->account, k, (size_t)(mark - k));
    t->account[mark - k] = '\0';
    snprintf(t->instance, sizeof(t->instance), "%s", mark + 10);
    return true;
}

static void
takeover_one(struct sweep *sw, const char *k)
{
    const char *prefix = store_redis_prefix(sw->r);
    struct takeover *t = xmalloc(sizeof(*t));
    char kq[300], ka[300];

    t->sw = sw;
    if (!split_key(prefix, k, t)) {
        free(t);
        return;
    }
    bool own = strcmp(t->instance, sw->self) == 0;
    if (own && !sw->with_self) {
        free(t);
        return;
    }
    snprintf(kq, sizeof(kq), "%sclientq:%s", prefix, t->account);
    snprintf(ka, sizeof(ka), "%salive:%s", prefix, t->instance);
    const char *argv[] = { k, kq, ka, own ? "1" : "0" };
    sw->waiting++;
    if (store_redis_eval(sw->r, &takeover_lua, takeover_reply, t, 3, 1, argv, NULL) != 0) {
        sw->waiting--;
        sw->failed = true;
        free(t);
    }
}

static void
scan_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct sweep *sw = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        sw->failed = true;
        sw->scan_done = true;
        sweep_maybe_end(sw);
        return;
    }
    redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING)
            takeover_one(sw, keys->element[i]->str);
    snprintf(sw->cursor, sizeof(sw->cursor), "%s", reply->element[0]->str);
    if (strcmp(sw->cursor, "0") == 0) {
        sw->scan_done = true;
        sweep_maybe_end(sw);
        return;
    }
    sweep_next(sw);
}

static void
sweep_next(struct sweep *sw)
{
    if (store_redis_cmd(sw->r, scan_reply, sw, "SCAN %s MATCH %s COUNT " SWEEP_SCAN_COUNT,
                        sw->cursor, sw->pattern) != 0) {
        sw->failed = true;
        sw->scan_done = true;
        sweep_maybe_end(sw);
    }
}

void
store_clientq_sweep(struct store_redis *r, const char *self, bool with_self,
                    store_clientq_sweep_cb cb, void *arg)
{
    struct sweep *sw = calloc(1, sizeof(*sw));
    const char *prefix = store_redis_prefix(r);
    size_t n = 0;

    if (!sw)
        abort();
    sw->r = r;
    sw->self = strdup(self);
    if (!sw->self)
        abort();
    sw->with_self = with_self;
    sw->cb = cb;
    sw->arg = arg;
    snprintf(sw->cursor, sizeof(sw->cursor), "0");
    /* The prefix is matched literally: escape the glob characters. */
    for (const char *p = prefix; *p && n < sizeof(sw->pattern) - 32; p++) {
        if (strchr("*?[]\\", *p))
            sw->pattern[n++] = '\\';
        sw->pattern[n++] = *p;
    }
    snprintf(sw->pattern + n, sizeof(sw->pattern) - n, "clientq:*:inflight:*");
    sweep_next(sw);
}
