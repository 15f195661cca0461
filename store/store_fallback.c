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
 * resume '1': take over a chain left in state fallback (its instance died,
 * a retry of a step is due, or a provider reported a failure): from its
 * fb_step, attempt fb_attempt, history "WHY step=N [attempt=K]" where WHY
 * is fb_why (retry, provider_failed) or the reason. Either way the message
 * is watched again at resume_due, which each step pushes further. */
static struct store_script claim_lua = { "fb_claim",
    SMS_FINAL_LUA
    "local h = redis.call('HMGET', KEYS[1], 'fallback', 'fb_step', 'email', 'to', 'from',\n"
    "  'text', 'class', 'callback_url', 'client_ref', 'state', 'fb_attempt', 'fb_why')\n"
    "if not h[1] or h[1] == '' then return {0} end\n"
    "local step, attempt = '0', '1'\n"
    "if ARGV[6] == '1' then\n"
    "  if h[10] ~= 'fallback' or not h[2] then return {0} end\n"
    "  step, attempt = h[2], h[11] or '1'\n"
    "  local why = h[12] or ARGV[2]\n"
    "  if attempt ~= '1' then why = why .. ' step=' .. step .. ' attempt=' .. attempt\n"
    "  else why = why .. ' step=' .. step end\n"
    "  redis.call('HDEL', KEYS[1], 'fb_why')\n"
    "  local t = tonumber(ARGV[1])\n"
    "  while redis.call('HEXISTS', KEYS[1], 'h:' .. t .. ':fallback') == 1 do t = t + 1 end\n"
    "  redis.call('HSET', KEYS[1], 'updated', ARGV[1], 'h:' .. t .. ':fallback', why)\n"
    "else\n"
    "  if h[2] or final[h[10]] then return {0} end\n"
    "  if ARGV[3] == '1' and h[10] ~= 'submitted' and h[10] ~= 'queued' and\n"
    "    h[10] ~= 'retrying' then return {0} end\n"
    "  redis.call('HSET', KEYS[1], 'fb_step', '0', 'state', 'fallback', 'updated', ARGV[1],\n"
    "    'h:' .. ARGV[1] .. ':fallback', 'start reason=' .. ARGV[2])\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])\n"
    "return {1, h[1], h[3] or '', h[4] or '', h[5] or '', h[6] or '', h[7] or '',\n"
    "  h[8] or '', h[9] or '', step, attempt}\n", "" };

/* KEYS: msg fbwait [chanid]. ARGV: now step detail final_state retention
 * resume_due id retry_attempt. fb_step is the step to run next: step + 1,
 * or step again when retry_attempt is not '0' (then resume_due is the
 * retry's due time, fb_attempt its attempt). KEYS[3]: the provider's id
 * of an accepted send, mapped to id for its webhooks. */
static struct store_script step_lua = { "fb_step",
    "local t = tonumber(ARGV[1])\n"
    "while redis.call('HEXISTS', KEYS[1], 'h:' .. t .. ':fallback') == 1 do t = t + 1 end\n"
    "redis.call('HSET', KEYS[1], 'h:' .. t .. ':fallback', ARGV[3])\n"
    "if KEYS[3] then redis.call('SET', KEYS[3], ARGV[7], 'EX', ARGV[5]) end\n"
    "if ARGV[8] ~= '0' then\n"
    "  redis.call('HSET', KEYS[1], 'fb_step', ARGV[2], 'fb_attempt', ARGV[8], 'fb_why', 'retry')\n"
    "  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])\n"
    "  return 1\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'fb_step', tonumber(ARGV[2]) + 1)\n"
    "redis.call('HDEL', KEYS[1], 'fb_attempt')\n"
    "if ARGV[4] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'state', ARGV[4], 'updated', t + 1,\n"
    "    'h:' .. (t + 1) .. ':' .. ARGV[4], '')\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[7])\n"
    "else\n"
    "  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])\n"
    "end\n"
    "return 1\n", "" };

/* KEYS: chanid fbwait. ARGV: now prefix type event detail resume_due.
 * A provider's status event for a fallback send (type "ott",
 * "rcs"; event "sent", "delivered", "read", "failed"). Always history
 * "h:MS:EVENT_TYPE" = detail. The state moves forward only, and only
 * while it is this channel's: sent_T -> delivered_T -> read_T. A failure
 * while the state is sent_T fails that step: state fallback, fb_why
 * provider_failed, watched at resume_due, and the caller runs the chain
 * on (a crash before that leaves it to the fbwait poll). Answers {0}
 * unknown id; {1, id, new_state or '', callback_url, client_ref, to};
 * {2, id, ...} the chain goes on. */
static struct store_script event_lua = { "fb_event",
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then return {0} end\n"
    "local mk = ARGV[2] .. 'msg:' .. id\n"
    "local h = redis.call('HMGET', mk, 'state', 'callback_url', 'client_ref', 'to')\n"
    "if not h[1] then return {0} end\n"
    "local ty, ev = ARGV[3], ARGV[4] .. '_' .. ARGV[3]\n"
    "local t = tonumber(ARGV[1])\n"
    "while redis.call('HEXISTS', mk, 'h:' .. t .. ':' .. ev) == 1 do t = t + 1 end\n"
    "redis.call('HSET', mk, 'h:' .. t .. ':' .. ev, ARGV[5])\n"
    "local rank = {['sent_' .. ty] = 1, ['delivered_' .. ty] = 2, ['read_' .. ty] = 3}\n"
    "local cur, new, rc = rank[h[1]], '', 1\n"
    "if cur and rank[ev] and rank[ev] > cur then\n"
    "  new = ev\n"
    "  redis.call('HSET', mk, 'state', new, 'updated', ARGV[1])\n"
    "elseif ARGV[4] == 'failed' and cur == 1 then\n"
    "  new, rc = 'fallback', 2\n"
    "  redis.call('HSET', mk, 'state', new, 'updated', ARGV[1], 'fb_why', 'provider_failed')\n"
    "  redis.call('HDEL', mk, 'fb_attempt')\n"
    "  redis.call('ZADD', KEYS[2], ARGV[6], id)\n"
    "end\n"
    "return {rc, id, new, h[2] or '', h[3] or '', h[4] or ''}\n", "" };

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

/* P chanid:TYPE:PROVIDER_ID -> our id (like P smscid: for receipts). */
static void
chanid_key(struct store_redis *r, const char *type, const char *provider_id, char *buf,
           size_t size)
{
    snprintf(buf, size, "%schanid:%s:%s", store_redis_prefix(r), type, provider_id);
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
                                  .step = (unsigned)strtoul(el(reply, 9), NULL, 10),
                                  .attempt = (unsigned)strtoul(el(reply, 10), NULL, 10) };
        if (m.attempt == 0)
            m.attempt = 1;
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
store_fallback_step(struct store_redis *r, const char *id, const struct store_fb_step *sp,
                    unsigned resume_s, store_fb_done_cb cb, void *arg)
{
    char kmsg[200], kwait[160], kmap[400], now[24], st[12], ret[16], due[24], att[12];
    struct step_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    msg_key(r, id, kmsg, sizeof(kmsg));
    snprintf(kwait, sizeof(kwait), "%sfbwait", store_redis_prefix(r));
    uint64_t t = store_now_ms();
    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    snprintf(due, sizeof(due), "%llu",
             (unsigned long long)(sp->retry_due_ms ? sp->retry_due_ms
                                                   : t + (uint64_t)resume_s * 1000u));
    snprintf(st, sizeof(st), "%u", sp->step);
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    snprintf(att, sizeof(att), "%u", sp->retry_due_ms ? sp->next_attempt : 0u);
    bool map = sp->chan_type && sp->provider_id && sp->provider_id[0];
    if (map)
        chanid_key(r, sp->chan_type, sp->provider_id, kmap, sizeof(kmap));
    const char *argv[] = { kmsg, kwait, kmap, now, st, sp->detail,
                           sp->final_state ? sp->final_state : "", ret, due, id, att };
    const char **av = argv;
    if (!map) {
        /* Two keys: drop KEYS[3] by moving the keys up one. */
        argv[2] = kwait;
        argv[1] = kmsg;
        av = argv + 1;
    }
    if (store_redis_eval(r, &step_lua, step_reply, c, map ? 3 : 2, 8, av, NULL) != 0) {
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

struct event_ctx {
    store_fb_event_cb cb;
    void *arg;
};

static void
event_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct event_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=fallback_event error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL);
    } else if (reply->element[0]->integer == 0 || reply->elements < 6) {
        c->cb(c->arg, 0, NULL);
    } else {
        struct store_fb_event_info info = {
            .id = el(reply, 1), .new_state = el(reply, 2), .callback_url = el(reply, 3),
            .client_ref = el(reply, 4), .to = el(reply, 5),
            .chain_goes_on = reply->element[0]->integer == 2,
        };
        c->cb(c->arg, 1, &info);
    }
    free(c);
}

void
store_fallback_event(struct store_redis *r, const char *chan_type, const char *provider_id,
                     const char *event, const char *detail, unsigned resume_s,
                     store_fb_event_cb cb, void *arg)
{
    char kmap[400], kwait[160], now[24], due[24];
    struct event_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    chanid_key(r, chan_type, provider_id, kmap, sizeof(kmap));
    snprintf(kwait, sizeof(kwait), "%sfbwait", store_redis_prefix(r));
    uint64_t t = store_now_ms();
    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    snprintf(due, sizeof(due), "%llu", (unsigned long long)(t + (uint64_t)resume_s * 1000u));
    const char *argv[] = { kmap, kwait, now, store_redis_prefix(r), chan_type, event, detail,
                           due };
    if (store_redis_eval(r, &event_lua, event_reply, c, 2, 6, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}
