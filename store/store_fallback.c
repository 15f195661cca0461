#include "store/store_fallback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/log.h"
#include "store/store_msg.h"
#include "store/store_redis.h"

#define RETENTION_S (7 * 86400)

/* States after which SMS is over; a chain is claimed then or on a trigger. */
#define SMS_FINAL_LUA \
    "local final = {delivered = 1, cancelled = 1, sent_email = 1, sent_ott = 1,\n" \
    "  sent_rcs = 1, fallback_failed = 1, fallback = 1}\n"

/* KEYS: msg fbwait. ARGV: now reason only_if_pending resume_due id resume.
 * resume '1': take over a chain left in state fallback (its instance died):
 * from its fb_step, history "resume step=N". Either way the message is
 * watched again at resume_due, which each step pushes further. */
static struct store_script claim_lua = { "fb_claim",
    SMS_FINAL_LUA
    "local h = redis.call('HMGET', KEYS[1], 'fallback', 'fb_step', 'email', 'to', 'from',\n"
    "  'text', 'class', 'callback_url', 'client_ref', 'state')\n"
    "if not h[1] or h[1] == '' then return {0} end\n"
    "local step = '0'\n"
    "if ARGV[6] == '1' then\n"
    "  if h[10] ~= 'fallback' or not h[2] then return {0} end\n"
    "  step = h[2]\n"
    "  redis.call('HSET', KEYS[1], 'updated', ARGV[1],\n"
    "    'h:' .. ARGV[1] .. ':fallback', 'resume step=' .. step)\n"
    "else\n"
    "  if h[2] or final[h[10]] then return {0} end\n"
    "  if ARGV[3] == '1' and h[10] ~= 'submitted' and h[10] ~= 'queued' and\n"
    "    h[10] ~= 'retrying' then return {0} end\n"
    "  redis.call('HSET', KEYS[1], 'fb_step', '0', 'state', 'fallback', 'updated', ARGV[1],\n"
    "    'h:' .. ARGV[1] .. ':fallback', 'start reason=' .. ARGV[2])\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])\n"
    "return {1, h[1], h[3] or '', h[4] or '', h[5] or '', h[6] or '', h[7] or '',\n"
    "  h[8] or '', h[9] or '', step}\n", "" };

/* KEYS: msg fbwait. ARGV: now step detail final_state retention resume_due id.
 * fb_step is the step to run next (step + 1 unless final). */
static struct store_script step_lua = { "fb_step",
    "local t = tonumber(ARGV[1])\n"
    "while redis.call('HEXISTS', KEYS[1], 'h:' .. t .. ':fallback') == 1 do t = t + 1 end\n"
    "redis.call('HSET', KEYS[1], 'fb_step', tonumber(ARGV[2]) + 1,\n"
    "  'h:' .. t .. ':fallback', ARGV[3])\n"
    "if ARGV[4] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'state', ARGV[4], 'updated', t + 1,\n"
    "    'h:' .. (t + 1) .. ':' .. ARGV[4], '')\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[7])\n"
    "else\n"
    "  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])\n"
    "end\n"
    "return 1\n", "" };

/* KEYS: fbwait. ARGV: now max prefix. */
static struct store_script due_lua = { "fb_due",
    SMS_FINAL_LUA
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  local st = redis.call('HGET', ARGV[3] .. 'msg:' .. id, 'state')\n"
    "  if st == 'fallback' then out[#out + 1] = 'r:' .. id\n"
    "  elseif st and not final[st] and st ~= 'undelivered' and st ~= 'rejected' and\n"
    "    st ~= 'expired' and st ~= 'failed' then out[#out + 1] = id end\n"
    "end\n"
    "return out\n", "" };

static void
msg_key(struct store_redis *r, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%smsg:%s", store_redis_prefix(r), id);
}

struct claim_ctx {
    store_fb_claim_cb cb;
    void *arg;
    char id[40];
};

static const char *
el(const redisReply *a, size_t i)
{
    return i < a->elements && a->element[i]->type == REDIS_REPLY_STRING ? a->element[i]->str : "";
}

static void
claim_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct claim_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=fallback_claim msg_id=%s error=\"%s\"", c->id,
                      reply->str);
        c->cb(c->arg, -1, NULL);
    } else if (reply->element[0]->integer != 1 || reply->elements < 9) {
        c->cb(c->arg, 0, NULL);
    } else {
        struct store_fb_msg m = { .id = c->id, .chain = el(reply, 1), .email = el(reply, 2),
                                  .to = el(reply, 3), .from = el(reply, 4), .text = el(reply, 5),
                                  .msg_class = el(reply, 6), .callback_url = el(reply, 7),
                                  .client_ref = el(reply, 8),
                                  .step = (unsigned)strtoul(el(reply, 9), NULL, 10) };
        c->cb(c->arg, 1, &m);
    }
    free(c);
}

void
store_fallback_claim(struct store_redis *r, const char *id, const char *reason,
                     bool only_if_pending, bool resume, unsigned resume_s, store_fb_claim_cb cb,
                     void *arg)
{
    char kmsg[200], kwait[160], now[24], due[24];
    struct claim_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(c->id, sizeof(c->id), "%s", id);
    msg_key(r, id, kmsg, sizeof(kmsg));
    snprintf(kwait, sizeof(kwait), "%sfbwait", store_redis_prefix(r));
    uint64_t t = store_now_ms();
    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    snprintf(due, sizeof(due), "%llu", (unsigned long long)(t + (uint64_t)resume_s * 1000u));
    const char *argv[] = { kmsg, kwait, now, reason, only_if_pending ? "1" : "0", due, id,
                           resume ? "1" : "0" };
    /* After the batched scripts of this pass (the final state it reacts to). */
    store_redis_flush(r);
    if (store_redis_eval(r, &claim_lua, claim_reply, c, 2, 6, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}

struct step_ctx {
    store_fb_done_cb cb;
    void *arg;
};

static void
step_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct step_ctx *c = arg;
    (void)r;
    int rc = store_reply_failed(reply) || reply->type != REDIS_REPLY_INTEGER ? -1 : 0;
    if (rc < 0 && reply && reply->type == REDIS_REPLY_ERROR)
        log_event(LOG_ERROR, "redis_error", "op=fallback_step error=\"%s\"", reply->str);
    if (c->cb)
        c->cb(c->arg, rc);
    free(c);
}

void
store_fallback_step(struct store_redis *r, const char *id, unsigned step, const char *detail,
                    const char *final_state, unsigned resume_s, store_fb_done_cb cb, void *arg)
{
    char kmsg[200], kwait[160], now[24], st[12], ret[16], due[24];
    struct step_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    msg_key(r, id, kmsg, sizeof(kmsg));
    snprintf(kwait, sizeof(kwait), "%sfbwait", store_redis_prefix(r));
    uint64_t t = store_now_ms();
    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    snprintf(due, sizeof(due), "%llu", (unsigned long long)(t + (uint64_t)resume_s * 1000u));
    snprintf(st, sizeof(st), "%u", step);
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { kmsg, kwait, now, st, detail, final_state ? final_state : "", ret,
                           due, id };
    if (store_redis_eval(r, &step_lua, step_reply, c, 2, 7, argv, NULL) != 0) {
        free(c);
        if (cb)
            cb(arg, -1);
    }
}

static void
ignore(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)r;
    (void)reply;
    (void)arg;
}

void
store_fallback_watch(struct store_redis *r, const char *id, uint64_t due_ms)
{
    char k[160], due[24];
    snprintf(k, sizeof(k), "%sfbwait", store_redis_prefix(r));
    snprintf(due, sizeof(due), "%llu", (unsigned long long)due_ms);
    store_redis_cmd(r, ignore, NULL, "ZADD %s %s %s", k, due, id);
}

struct due_ctx {
    store_fb_due_cb cb;
    void *arg;
};

static void
due_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct due_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        c->cb(c->arg, -1, NULL);
    } else {
        const char **ids = calloc(reply->elements + 1, sizeof(*ids));
        if (!ids)
            abort();
        for (size_t i = 0; i < reply->elements; i++)
            ids[i] = el(reply, i);
        c->cb(c->arg, (int)reply->elements, ids);
        free(ids);
    }
    free(c);
}

void
store_fallback_due(struct store_redis *r, unsigned max, store_fb_due_cb cb, void *arg)
{
    char k[160], now[24], mx[12];
    struct due_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(k, sizeof(k), "%sfbwait", store_redis_prefix(r));
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(mx, sizeof(mx), "%u", max);
    const char *argv[] = { k, now, mx, store_redis_prefix(r) };
    if (store_redis_eval(r, &due_lua, due_reply, c, 1, 3, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}
