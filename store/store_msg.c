#include "store/store_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "core/log.h"

/* Keep terminal records this long (seconds). */
#define RETENTION_S (7 * 86400)
#define EXTRA_TTL_S 86400

uint64_t
store_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

void
store_new_id(char out[24])
{
    uint32_t rnd = 0;

    if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
        rnd = (uint32_t)random();
    snprintf(out, 24, "m%012llx%08x", (unsigned long long)store_now_ms(), rnd);
}

static void
key(char *buf, size_t size, struct store_redis *r, const char *kind, const char *a, const char *b)
{
    if (b)
        snprintf(buf, size, "%s%s:%s:%s", store_redis_prefix(r), kind, a, b);
    else if (a)
        snprintf(buf, size, "%s%s:%s", store_redis_prefix(r), kind, a);
    else
        snprintf(buf, size, "%s%s", store_redis_prefix(r), kind);
}

/* ---------------------------------------------------------------- scripts */

/* KEYS: msg hist q idem optnum optacct stats.
 * ARGV: id now idem_ttl has_idem nh h... ns s... then check_optout subscriber */
static struct store_script accept_lua = { "accept",
    "if ARGV[4] == '1' then\n"
    "  local e = redis.call('GET', KEYS[4])\n"
    "  if e then return {1, e} end\n"
    "end\n"
    "if ARGV[#ARGV - 1] == '1' and (redis.call('SISMEMBER', KEYS[5], ARGV[#ARGV]) == 1 or\n"
    "    redis.call('SISMEMBER', KEYS[6], ARGV[#ARGV]) == 1) then\n"
    "  redis.call('HINCRBY', KEYS[7], 'refused_opted_out', 1)\n"
    "  return {2, ''}\n"
    "end\n"
    "local nh = tonumber(ARGV[5])\n"
    "local h = {}\n"
    "for i = 1, nh * 2 do h[i] = ARGV[5 + i] end\n"
    "redis.call('HSET', KEYS[1], unpack(h))\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2] .. ' queued')\n"
    "local off = 6 + nh * 2\n"
    "local ns = tonumber(ARGV[off])\n"
    "local s = {}\n"
    "for i = 1, ns * 2 do s[i] = ARGV[off + i] end\n"
    "redis.call('XADD', KEYS[3], '*', unpack(s))\n"
    "if ARGV[4] == '1' then redis.call('SET', KEYS[4], ARGV[1], 'EX', ARGV[3]) end\n"
    "return {0, ARGV[1]}\n", "" };

/* KEYS: msg hist q. ARGV: stream_id now smsc */
static struct store_script submitted_lua = { "submitted",
    "redis.call('XACK', KEYS[3], 'smsgw', ARGV[1])\n"
    "redis.call('XDEL', KEYS[3], ARGV[1])\n"
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if st == 'queued' or st == 'retrying' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'submitted', 'smsc', ARGV[3], 'updated', ARGV[2])\n"
    "end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2] .. ' submitted smsc=' .. ARGV[3])\n"
    "return 1\n", "" };

/* KEYS: msg hist q sched. ARGV: stream_id now due reason route attempt n f/v... */
static struct store_script retry_lua = { "retry",
    "redis.call('XACK', KEYS[3], 'smsgw', ARGV[1])\n"
    "redis.call('XDEL', KEYS[3], ARGV[1])\n"
    "local n = tonumber(ARGV[7])\n"
    "local f = {}\n"
    "for i = 1, n * 2 do f[i] = ARGV[7 + i] end\n"
    "redis.call('ZADD', KEYS[4], ARGV[3], cjson.encode({r = ARGV[5], f = f}))\n"
    "redis.call('HSET', KEYS[1], 'state', 'retrying', 'attempts', ARGV[6], 'updated', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'claimed')\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2] .. ' retrying ' .. ARGV[4])\n"
    "return 1\n", "" };

/*
 * An SMPP client's receipt for a message that just took its final state:
 * pushed onto P clientq:ACCOUNT when the record says source smpp and its
 * registered_delivery (bits 1-0) asks: 01 always, 10 on failure only.
 * A Lua fragment shared by the final and receipt scripts; expects mk
 * (record key), prefix, state, stat, err, now in scope.
 */
#define CLIENT_RECEIPT_LUA \
    "local c = redis.call('HMGET', mk, 'source', 'registered_delivery', 'account', 'from',\n" \
    "  'to', 'created')\n" \
    "if c[1] == 'smpp' and c[3] then\n" \
    "  local rd = (tonumber(c[2]) or 0) % 4\n" \
    "  if rd == 1 or (rd == 2 and state ~= 'delivered') then\n" \
    "    redis.call('RPUSH', prefix .. 'clientq:' .. c[3], cjson.encode({type = 'receipt',\n" \
    "      id = string.sub(mk, #prefix + 5), state = state, stat = stat, err = err,\n" \
    "      from = c[4] or '', to = c[5] or '', submit_ms = tonumber(c[6]) or 0,\n" \
    "      done_ms = tonumber(now)}))\n" \
    "  end\n" \
    "end\n"

/* KEYS: msg hist q. ARGV: stream_id now state detail retention prefix.
 * A message cancelled (cancel_sm) meanwhile keeps its state: only its queue
 * entry goes. */
static struct store_script final_lua = { "final",
    "redis.call('XACK', KEYS[3], 'smsgw', ARGV[1])\n"
    "redis.call('XDEL', KEYS[3], ARGV[1])\n"
    "if redis.call('HGET', KEYS[1], 'state') == 'cancelled' then return 1 end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[3], 'error', ARGV[4], 'updated', ARGV[2])\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
    "local mk, prefix, state, err, now = KEYS[1], ARGV[6], ARGV[3], '', ARGV[2]\n"
    "local stat = ({rejected = 'REJECTD', expired = 'EXPIRED'})[state] or 'UNDELIV'\n"
    CLIENT_RECEIPT_LUA
    "return 1\n", "" };

/* KEYS: sched. ARGV: now max prefix */
static struct store_script promote_lua = { "promote",
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for _, m in ipairs(due) do\n"
    "  local j = cjson.decode(m)\n"
    "  redis.call('XADD', ARGV[3] .. 'q:' .. j.r, '*', unpack(j.f))\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return #due\n", "" };

/*
 * KEYS: smscid. ARGV: prefix stat err now retention.
 * A part's receipt sets p<part>; when every part has a final one, the
 * message takes its state: delivered when all parts were, else the first
 * part's failure.
 */
static struct store_script dlr_lua = { "receipt",
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('HINCRBY', ARGV[1] .. 'stats', 'receipts_unmatched', 1) return {0} end\n"
    "local id, part = string.match(v, '^(.*):(%d+)$')\n"
    "local mk = ARGV[1] .. 'msg:' .. id\n"
    "local hk = ARGV[1] .. 'hist:' .. id\n"
    "local finals = {DELIVRD='delivered', UNDELIV='undelivered', EXPIRED='expired',\n"
    "  REJECTD='rejected', DELETED='deleted', UNKNOWN='unknown'}\n"
    "if redis.call('HGET', mk, 'p' .. part) == ARGV[2] then return {2, id, ''} end\n"
    "redis.call('HSET', mk, 'p' .. part, ARGV[2])\n"
    "redis.call('RPUSH', hk, ARGV[4] .. ' receipt part=' .. part .. ' stat=' .. ARGV[2] .. ' err=' .. ARGV[3])\n"
    "redis.call('HINCRBY', ARGV[1] .. 'stats', 'receipts_matched', 1)\n"
    "if not finals[ARGV[2]] then return {1, id, ''} end\n"
    "local segs = tonumber(redis.call('HGET', mk, 'segments') or '1')\n"
    "local worst = nil\n"
    "for i = 0, segs - 1 do\n"
    "  local s = redis.call('HGET', mk, 'p' .. i)\n"
    "  if not s or not finals[s] then return {1, id, ''} end\n"
    "  if s ~= 'DELIVRD' and not worst then worst = s end\n"
    "end\n"
    "local state = finals[worst or 'DELIVRD']\n"
    "local cur = redis.call('HGET', mk, 'state')\n"
    "if cur == state then return {1, id, ''} end\n"
    "redis.call('HSET', mk, 'state', state, 'updated', ARGV[4], 'error', ARGV[3])\n"
    "redis.call('RPUSH', hk, ARGV[4] .. ' ' .. state)\n"
    "redis.call('EXPIRE', mk, ARGV[5])\n"
    "redis.call('EXPIRE', hk, ARGV[5])\n"
    "local prefix, stat, err, now = ARGV[1], worst or 'DELIVRD', ARGV[3], ARGV[4]\n"
    CLIENT_RECEIPT_LUA
    "local h = redis.call('HMGET', mk, 'callback_url', 'client_ref')\n"
    "return {1, id, state, h[1] or '', h[2] or ''}\n", "" };

/* ------------------------------------------------------------- accept */

struct accept_ctx {
    store_accept_cb cb;
    void *arg;
};

static void
accept_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct accept_ctx *a = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "store_accept_failed", "error=\"%s\"", reply->str);
        a->cb(a->arg, -1, NULL);
    } else {
        a->cb(a->arg, (int)reply->element[0]->integer, reply->element[1]->str);
    }
    free(a);
}

void
store_msg_accept(struct store_redis *r, const struct store_msg_new *m, store_accept_cb cb,
                 void *arg)
{
    char id[24], now[24], ttl[24], kmsg[160], khist[160], kq[200], kidem[300], seg[16], val[16],
        ton[8], npi[8], ref[16], deadline[24];
    const char *argv[96];
    size_t lens[96];
    int n = 0;
    uint64_t t = store_now_ms();
    uint16_t rref = 0;

    if (m->id)
        snprintf(id, sizeof(id), "%s", m->id);
    else
        store_new_id(id);
    RAND_bytes((unsigned char *)&rref, sizeof(rref));
    snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
    snprintf(ttl, sizeof(ttl), "%u", m->validity_s + EXTRA_TTL_S);
    snprintf(seg, sizeof(seg), "%u", m->segments);
    snprintf(val, sizeof(val), "%u", m->validity_s);
    snprintf(ton, sizeof(ton), "%u", m->ton);
    snprintf(npi, sizeof(npi), "%u", m->npi);
    snprintf(ref, sizeof(ref), "%u", rref);
    snprintf(deadline, sizeof(deadline), "%llu",
             (unsigned long long)(t + (uint64_t)m->validity_s * 1000u));
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    key(khist, sizeof(khist), r, "hist", id, NULL);
    key(kq, sizeof(kq), r, "q", m->route, NULL);
    if (m->client_ref)
        key(kidem, sizeof(kidem), r, "idem", m->account, m->client_ref);
    else
        key(kidem, sizeof(kidem), r, "idem", "-", NULL);
    char koptn[160], kopta[160], kstats[160];
    key(koptn, sizeof(koptn), r, "optout:num", m->from, NULL);
    key(kopta, sizeof(kopta), r, "optout:acct", m->account, NULL);
    key(kstats, sizeof(kstats), r, "stats", NULL, NULL);

#define A(s) do { argv[n] = (s); lens[n] = strlen(argv[n]); n++; } while (0)
#define AL(s, l) do { argv[n] = (s); lens[n] = (l); n++; } while (0)
    A(kmsg); A(khist); A(kq); A(kidem); A(koptn); A(kopta); A(kstats);
    A(id); A(now); A(ttl); A(m->client_ref ? "1" : "0");
    int nh_at = n;
    A("0");
    int h0 = n;
    A("id"); A(id);
    A("account"); A(m->account);
    A("from"); A(m->from);
    A("to"); A(m->to);
    A("text"); AL(m->text, m->text_len);
    A("encoding"); A(m->encoding);
    A("segments"); A(seg);
    A("route"); A(m->route);
    A("class"); A(m->msg_class);
    A("validity"); A(val);
    A("created"); A(now);
    A("updated"); A(now);
    A("state"); A("queued");
    if (m->callback_url) { A("callback_url"); A(m->callback_url); }
    if (m->client_ref) { A("client_ref"); A(m->client_ref); }
    char rd[8];
    if (m->source) {
        snprintf(rd, sizeof(rd), "%u", m->registered_delivery);
        A("source"); A(m->source);
        A("registered_delivery"); A(rd);
    }
    char nh[8];
    snprintf(nh, sizeof(nh), "%d", (n - h0) / 2);
    argv[nh_at] = nh;
    lens[nh_at] = strlen(nh);
    int ns_at = n;
    A("0");
    int s0 = n;
    A("id"); A(id);
    A("acct"); A(m->account);
    A("from"); A(m->from);
    A("ton"); A(ton);
    A("npi"); A(npi);
    A("to"); A(m->to);
    A("enc"); A(m->encoding);
    A("segs"); A(seg);
    A("ref"); A(ref);
    A("deadline"); A(deadline);
    A("attempt"); A("0");
    A("parts"); A("0");
    A("cb"); A(m->callback_url ? m->callback_url : "");
    A("cref"); A(m->client_ref ? m->client_ref : "");
    A("text"); AL(m->text, m->text_len);
    char ns[8];
    snprintf(ns, sizeof(ns), "%d", (n - s0) / 2);
    argv[ns_at] = ns;
    lens[ns_at] = strlen(ns);
    A(m->system ? "0" : "1");
    A(m->to);
#undef A
#undef AL

    struct accept_ctx *a = malloc(sizeof(*a));
    if (!a)
        abort();
    a->cb = cb;
    a->arg = arg;
    if (store_redis_eval(r, &accept_lua, accept_reply, a, 7, n - 7, argv, lens) != 0) {
        free(a);
        cb(arg, -1, NULL);
    }
}

/* ---------------------------------------------------------------- get */

struct get_ctx {
    store_get_cb cb;
    void *arg;
    char account[64];
    json_object *obj;
    bool failed;
    bool missing;
};

static bool
numeric_field(const char *k)
{
    return !strcmp(k, "segments") || !strcmp(k, "validity") || !strcmp(k, "created") ||
           !strcmp(k, "updated") || !strcmp(k, "attempts") ||
           !strcmp(k, "registered_delivery");
}

static void
get_hash_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct get_ctx *g = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        g->failed = true;
        return;
    }
    if (reply->elements == 0) {
        g->missing = true;
        return;
    }
    json_object *o = json_object_new_object(), *parts = json_object_new_object(),
                *sids = json_object_new_object();
    const char *acct = "";
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
        if (!strcmp(k, "account"))
            acct = v;
        if (!strcmp(k, "claimed"))
            continue;               /* the dequeuer's mark (store_jobs_claim) */
        if (k[0] == 'p' && k[1] >= '0' && k[1] <= '9') {
            json_object_object_add(parts, k + 1, json_object_new_string(v));
            continue;
        }
        if (k[0] == 's' && k[1] >= '0' && k[1] <= '9') {
            json_object_object_add(sids, k + 1, json_object_new_string(v));
            continue;
        }
        if (!strcmp(k, "smsc_ids")) {
            json_object *ids = json_object_new_array();
            char buf[2048];
            snprintf(buf, sizeof(buf), "%s", v);
            for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
                json_object_array_add(ids, json_object_new_string(t));
            json_object_object_add(o, "smsc_message_ids", ids);
            continue;
        }
        if (numeric_field(k))
            json_object_object_add(o, k, json_object_new_int64(strtoll(v, NULL, 10)));
        else
            json_object_object_add(o, k, json_object_new_string_len(v, (int)reply->element[i + 1]->len));
    }
    if (strcmp(acct, g->account) != 0) {
        json_object_put(o);
        json_object_put(parts);
        json_object_put(sids);
        g->missing = true;
        return;
    }
    if (json_object_object_length(parts) > 0)
        json_object_object_add(o, "receipts", parts);
    else
        json_object_put(parts);
    if (json_object_object_length(sids) > 0)
        json_object_object_add(o, "smsc_message_ids", sids);
    else
        json_object_put(sids);
    g->obj = o;
}

static void
get_hist_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct get_ctx *g = arg;
    (void)r;

    if (store_reply_failed(reply))
        g->failed = true;
    if (g->failed) {
        g->cb(g->arg, -1, NULL);
    } else if (g->missing || !g->obj) {
        g->cb(g->arg, 1, NULL);
    } else {
        json_object *h = json_object_new_array();
        for (size_t i = 0; i < reply->elements; i++) {
            const char *e = reply->element[i]->str;
            char *sp = strchr(e, ' ');
            json_object *ev = json_object_new_object();
            json_object_object_add(ev, "ts", json_object_new_int64(strtoll(e, NULL, 10)));
            if (sp) {
                char *sp2 = strchr(sp + 1, ' ');
                if (sp2) {
                    json_object_object_add(ev, "state",
                                           json_object_new_string_len(sp + 1, (int)(sp2 - sp - 1)));
                    json_object_object_add(ev, "detail", json_object_new_string(sp2 + 1));
                } else {
                    json_object_object_add(ev, "state", json_object_new_string(sp + 1));
                }
            }
            json_object_array_add(h, ev);
        }
        json_object_object_add(g->obj, "history", h);
        g->cb(g->arg, 0, json_object_to_json_string_ext(g->obj, JSON_C_TO_STRING_PLAIN));
    }
    if (g->obj)
        json_object_put(g->obj);
    free(g);
}

void
store_msg_get(struct store_redis *r, const char *account, const char *id, store_get_cb cb,
              void *arg)
{
    char kmsg[160], khist[160];
    struct get_ctx *g = calloc(1, sizeof(*g));

    if (!g)
        abort();
    g->cb = cb;
    g->arg = arg;
    snprintf(g->account, sizeof(g->account), "%s", account);
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    key(khist, sizeof(khist), r, "hist", id, NULL);
    /* Both commands go out back to back; replies come in order. */
    if (store_redis_cmd(r, get_hash_reply, g, "HGETALL %s", kmsg) != 0) {
        free(g);
        cb(arg, -1, NULL);
        return;
    }
    if (store_redis_cmd(r, get_hist_reply, g, "LRANGE %s 0 -1", khist) != 0) {
        /* The HGETALL callback will still run (with NULL) and g would leak
         * or be used after free; avoid that by marking and letting a
         * no-op finish: this only happens if the connection dropped
         * between the two calls, which cannot happen synchronously. */
        abort();
    }
}

/* ---------------------------------------------------------------- queue */

static void
ignore_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)r;
    (void)arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        log_event(LOG_WARN, "redis_error", "error=\"%s\"", reply->str);
}

void
store_queue_init(struct store_redis *r, const char *route)
{
    char kq[200];
    key(kq, sizeof(kq), r, "q", route, NULL);
    store_redis_cmd(r, ignore_reply, NULL, "XGROUP CREATE %s smsgw 0 MKSTREAM", kq);
}

void
store_queue_claim(struct store_redis *r, const char *route, const char *consumer,
                  unsigned min_idle_ms)
{
    char kq[200];
    key(kq, sizeof(kq), r, "q", route, NULL);
    store_redis_cmd(r, ignore_reply, NULL, "XAUTOCLAIM %s smsgw %s %u 0-0 COUNT 1000 JUSTID", kq,
                    consumer, min_idle_ms);
}

struct read_ctx {
    store_read_cb cb;
    void *arg;
};

static void
parse_job(const redisReply *e, struct store_job *j)
{
    memset(j, 0, offsetof(struct store_job, text));
    j->text[0] = 0;
    snprintf(j->stream_id, sizeof(j->stream_id), "%s", e->element[0]->str);
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str;
        const redisReply *v = f->element[i + 1];
        if (!strcmp(k, "id")) snprintf(j->id, sizeof(j->id), "%s", v->str);
        else if (!strcmp(k, "acct")) snprintf(j->account, sizeof(j->account), "%s", v->str);
        else if (!strcmp(k, "from")) snprintf(j->from, sizeof(j->from), "%s", v->str);
        else if (!strcmp(k, "to")) snprintf(j->to, sizeof(j->to), "%s", v->str);
        else if (!strcmp(k, "enc")) snprintf(j->encoding, sizeof(j->encoding), "%s", v->str);
        else if (!strcmp(k, "ton")) j->ton = (uint8_t)atoi(v->str);
        else if (!strcmp(k, "npi")) j->npi = (uint8_t)atoi(v->str);
        else if (!strcmp(k, "segs")) j->segments = (unsigned)atoi(v->str);
        else if (!strcmp(k, "ref")) j->ref = (unsigned)atoi(v->str);
        else if (!strcmp(k, "deadline")) j->deadline_ms = strtoull(v->str, NULL, 10);
        else if (!strcmp(k, "attempt")) j->attempt = (unsigned)atoi(v->str);
        else if (!strcmp(k, "parts")) j->parts_mask = (uint32_t)strtoul(v->str, NULL, 10);
        else if (!strcmp(k, "cb")) snprintf(j->callback_url, sizeof(j->callback_url), "%s", v->str);
        else if (!strcmp(k, "cref")) snprintf(j->client_ref, sizeof(j->client_ref), "%s", v->str);
        else if (!strcmp(k, "text")) {
            size_t l = v->len < sizeof(j->text) - 1 ? v->len : sizeof(j->text) - 1;
            memcpy(j->text, v->str, l);
            j->text[l] = 0;
            j->text_len = l;
        }
    }
}

static void
read_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct read_ctx *c = arg;
    static struct store_job jobs[256];
    int n = 0;
    (void)r;

    if (store_reply_failed(reply)) {
        if (reply)
            log_event(LOG_WARN, "redis_error", "op=xreadgroup error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL);
        free(c);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        const redisReply *s = reply->element[0];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
            s->element[1]->type == REDIS_REPLY_ARRAY) {
            const redisReply *es = s->element[1];
            for (size_t i = 0; i < es->elements && n < 256; i++) {
                const redisReply *e = es->element[i];
                if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
                    continue;
                if (e->element[1]->type != REDIS_REPLY_ARRAY) {
                    /* A pending entry deleted meanwhile: ack it away. */
                    continue;
                }
                parse_job(e, &jobs[n++]);
            }
        }
    }
    c->cb(c->arg, n, jobs);
    free(c);
}

void
store_queue_read(struct store_redis *r, const char *route, const char *consumer, unsigned count,
                 bool pending, store_read_cb cb, void *arg)
{
    char kq[200], cnt[16];
    struct read_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    if (count > 256)
        count = 256;
    c->cb = cb;
    c->arg = arg;
    key(kq, sizeof(kq), r, "q", route, NULL);
    snprintf(cnt, sizeof(cnt), "%u", count);
    if (store_redis_cmd(r, read_reply, c, "XREADGROUP GROUP smsgw %s COUNT %s STREAMS %s %s",
                        consumer, cnt, kq, pending ? "0" : ">") != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}

void
store_part_submitted(struct store_redis *r, const char *smsc, const char *normid, const char *raw,
                     const struct store_job *job, unsigned part, unsigned ttl_s)
{
    char k[300], v[64], kmsg[160];

    key(k, sizeof(k), r, "smscid", smsc, normid);
    snprintf(v, sizeof(v), "%s:%u", job->id, part);
    store_redis_cmd(r, ignore_reply, NULL, "SET %s %s EX %u", k, v, ttl_s);
    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    store_redis_cmd(r, ignore_reply, NULL, "HSET %s s%u %s", kmsg, part, raw);
}

struct done_ctx {
    store_done_cb cb;
    void *arg;
};

static void
done_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct done_ctx *d = arg;
    (void)r;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_event(LOG_ERROR, "redis_error", "error=\"%s\"", reply->str);
    if (d->cb)
        d->cb(d->arg, store_reply_failed(reply) ? -1 : 0);
    free(d);
}

static void
run_script(struct store_redis *r, struct store_script *s, int nkeys, int nargs, const char **argv,
           const size_t *lens, store_done_cb cb, void *arg)
{
    struct done_ctx *d = malloc(sizeof(*d));
    if (!d)
        abort();
    d->cb = cb;
    d->arg = arg;
    if (store_redis_eval(r, s, done_reply, d, nkeys, nargs, argv, lens) != 0) {
        free(d);
        if (cb)
            cb(arg, -1);
    }
}

void
store_job_submitted(struct store_redis *r, const char *route, const struct store_job *job,
                    const char *smsc, store_done_cb cb, void *arg)
{
    char kmsg[160], khist[160], kq[200], now[24];

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(khist, sizeof(khist), r, "hist", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    const char *argv[] = { kmsg, khist, kq, job->stream_id, now, smsc };
    run_script(r, &submitted_lua, 3, 3, argv, NULL, cb, arg);
}

void
store_job_retry(struct store_redis *r, const char *route, const struct store_job *job,
                uint64_t due_ms, const char *reason, store_done_cb cb, void *arg)
{
    char kmsg[160], khist[160], kq[200], ksched[160], now[24], due[24], ton[8], npi[8], segs[12],
        ref[12], deadline[24], attempt[12], parts[16];
    const char *argv[48];
    size_t lens[48];
    int n = 0;

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(khist, sizeof(khist), r, "hist", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    key(ksched, sizeof(ksched), r, "sched", NULL, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(due, sizeof(due), "%llu", (unsigned long long)due_ms);
    snprintf(ton, sizeof(ton), "%u", job->ton);
    snprintf(npi, sizeof(npi), "%u", job->npi);
    snprintf(segs, sizeof(segs), "%u", job->segments);
    snprintf(ref, sizeof(ref), "%u", job->ref);
    snprintf(deadline, sizeof(deadline), "%llu", (unsigned long long)job->deadline_ms);
    snprintf(attempt, sizeof(attempt), "%u", job->attempt);
    snprintf(parts, sizeof(parts), "%u", job->parts_mask);
#define A(s) do { argv[n] = (s); lens[n] = strlen(argv[n]); n++; } while (0)
    A(kmsg); A(khist); A(kq); A(ksched);
    A(job->stream_id); A(now); A(due); A(reason); A(route); A(attempt); A("15");
    A("id"); A(job->id);
    A("acct"); A(job->account);
    A("from"); A(job->from);
    A("ton"); A(ton);
    A("npi"); A(npi);
    A("to"); A(job->to);
    A("enc"); A(job->encoding);
    A("segs"); A(segs);
    A("ref"); A(ref);
    A("deadline"); A(deadline);
    A("attempt"); A(attempt);
    A("parts"); A(parts);
    A("cb"); A(job->callback_url);
    A("cref"); A(job->client_ref);
    A("text"); argv[n] = job->text; lens[n] = job->text_len; n++;
#undef A
    run_script(r, &retry_lua, 4, n - 4, argv, lens, cb, arg);
}

void
store_job_final(struct store_redis *r, const char *route, const struct store_job *job,
                const char *state, const char *detail, store_done_cb cb, void *arg)
{
    char kmsg[160], khist[160], kq[200], now[24], ret[16];

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(khist, sizeof(khist), r, "hist", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { kmsg, khist, kq, job->stream_id, now, state, detail, ret,
                           store_redis_prefix(r) };
    run_script(r, &final_lua, 3, 6, argv, NULL, cb, arg);
}

void
store_sched_promote(struct store_redis *r, unsigned max)
{
    char ksched[160], now[24], mx[12];

    key(ksched, sizeof(ksched), r, "sched", NULL, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(mx, sizeof(mx), "%u", max);
    const char *argv[] = { ksched, now, mx, store_redis_prefix(r) };
    run_script(r, &promote_lua, 1, 3, argv, NULL, NULL, NULL);
}

struct dlr_ctx {
    store_dlr_cb cb;
    void *arg;
};

static void
dlr_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct dlr_ctx *d = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=receipt error=\"%s\"", reply->str);
        d->cb(d->arg, -1, NULL);
    } else if (reply->element[0]->integer == 0) {
        d->cb(d->arg, 0, NULL);
    } else {
        struct store_receipt_info info = {
            .id = reply->elements > 1 ? reply->element[1]->str : NULL,
            .state = reply->elements > 2 ? reply->element[2]->str : "",
            .callback_url = reply->elements > 3 ? reply->element[3]->str : "",
            .client_ref = reply->elements > 4 ? reply->element[4]->str : "",
        };
        d->cb(d->arg, 1, &info);
    }
    free(d);
}

void
store_receipt(struct store_redis *r, const char *smsc, const char *normid, const char *stat,
              const char *err, store_dlr_cb cb, void *arg)
{
    char k[300], now[24], ret[16];
    struct dlr_ctx *d = malloc(sizeof(*d));

    if (!d)
        abort();
    d->cb = cb;
    d->arg = arg;
    key(k, sizeof(k), r, "smscid", smsc, normid);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { k, store_redis_prefix(r), stat, err ? err : "", now, ret };
    if (store_redis_eval(r, &dlr_lua, dlr_reply, d, 1, 5, argv, NULL) != 0) {
        free(d);
        cb(arg, -1, NULL);
    }
}

/* KEYS: optnum optacct. ARGV: subscriber out(1|0) account_wide(1|0) */
static struct store_script optout_lua = { "optout",
    "if ARGV[2] == '1' then\n"
    "  if ARGV[3] == '1' then redis.call('SADD', KEYS[2], ARGV[1])\n"
    "  else redis.call('SADD', KEYS[1], ARGV[1]) end\n"
    "else\n"
    "  redis.call('SREM', KEYS[1], ARGV[1])\n"
    "  redis.call('SREM', KEYS[2], ARGV[1])\n"
    "end\n"
    "return 1\n", "" };

void
store_optout_set(struct store_redis *r, const char *sender, const char *account,
                 const char *subscriber, bool out, bool account_wide, store_done_cb cb, void *arg)
{
    char kn[160], ka[160];

    key(kn, sizeof(kn), r, "optout:num", sender ? sender : "-", NULL);
    key(ka, sizeof(ka), r, "optout:acct", account ? account : "-", NULL);
    const char *argv[] = { kn, ka, subscriber, out ? "1" : "0", account_wide ? "1" : "0" };
    run_script(r, &optout_lua, 2, 3, argv, NULL, cb, arg);
}

/* ---------------------------------------------------------------- MO */

/* KEYS: parts open. ARGV: seq text total ttl_s deadline_ms */
static struct store_script mo_part_lua = { "mo_part",
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "local total = tonumber(ARGV[3])\n"
    "if redis.call('HLEN', KEYS[1]) < total then\n"
    "  redis.call('ZADD', KEYS[2], 'NX', ARGV[5], KEYS[1])\n"
    "  return {0}\n"
    "end\n"
    "local out = {}\n"
    "for i = 1, total do\n"
    "  local p = redis.call('HGET', KEYS[1], tostring(i))\n"
    "  if not p then return {0} end\n"
    "  out[i] = p\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], KEYS[1])\n"
    "return {1, table.concat(out)}\n", "" };

/* KEYS: open stats. ARGV: now */
static struct store_script mo_expire_lua = { "mo_expire",
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)\n"
    "local out = {}\n"
    "for _, k in ipairs(due) do\n"
    "  out[#out + 1] = k .. ' parts=' .. redis.call('HLEN', k)\n"
    "  redis.call('DEL', k)\n"
    "  redis.call('ZREM', KEYS[1], k)\n"
    "  redis.call('HINCRBY', KEYS[2], 'mo_incomplete_expired', 1)\n"
    "end\n"
    "return out\n", "" };

struct mo_part_ctx {
    store_mo_part_cb cb;
    void *arg;
};

static void
mo_part_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct mo_part_ctx *c = arg;
    (void)r;
    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        c->cb(c->arg, -1, NULL, 0);
    else if (reply->element[0]->integer == 1 && reply->elements > 1)
        c->cb(c->arg, 1, reply->element[1]->str, reply->element[1]->len);
    else
        c->cb(c->arg, 0, NULL, 0);
    free(c);
}

void
store_mo_part(struct store_redis *r, const char *from, const char *to, unsigned ref, unsigned total,
              unsigned seq, const char *text, size_t len, unsigned ttl_s, store_mo_part_cb cb,
              void *arg)
{
    char kp[200], ko[160], refs[16], seqs[16], tots[16], ttl[16], dl[24];
    struct mo_part_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    snprintf(refs, sizeof(refs), "%u", ref);
    key(kp, sizeof(kp), r, "moparts", from, to);
    strncat(kp, ":", sizeof(kp) - strlen(kp) - 1);
    strncat(kp, refs, sizeof(kp) - strlen(kp) - 1);
    key(ko, sizeof(ko), r, "moparts:open", NULL, NULL);
    snprintf(seqs, sizeof(seqs), "%u", seq);
    snprintf(tots, sizeof(tots), "%u", total);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s + 60);
    snprintf(dl, sizeof(dl), "%llu", (unsigned long long)(store_now_ms() + ttl_s * 1000ull));
    const char *argv[] = { kp, ko, seqs, text, tots, ttl, dl };
    size_t lens[] = { strlen(kp), strlen(ko), strlen(seqs), len, strlen(tots), strlen(ttl), strlen(dl) };
    if (store_redis_eval(r, &mo_part_lua, mo_part_reply, c, 2, 5, argv, lens) != 0) {
        free(c);
        cb(arg, -1, NULL, 0);
    }
}

static void
mo_expire_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)r;
    (void)arg;
    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++)
        log_event(LOG_WARN, "mo_incomplete_expired", "set=\"%s\"", reply->element[i]->str);
}

void
store_mo_expire(struct store_redis *r)
{
    char ko[160], ks[160], now[24];

    key(ko, sizeof(ko), r, "moparts:open", NULL, NULL);
    key(ks, sizeof(ks), r, "stats", NULL, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    const char *argv[] = { ko, ks, now };
    store_redis_eval(r, &mo_expire_lua, mo_expire_reply, NULL, 2, 1, argv, NULL);
}

/* KEYS: mo clientq. ARGV: json client_item ('' for none) */
static struct store_script mo_record_lua = { "mo_record",
    "redis.call('RPUSH', KEYS[1], ARGV[1])\n"
    "if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end\n"
    "return 1\n", "" };

void
store_mo_record(struct store_redis *r, const char *account, const char *json,
                const char *client_item, store_done_cb cb, void *arg)
{
    char k[160], ks[160], kc[160];

    key(k, sizeof(k), r, "mo", account ? account : "unrouted", NULL);
    key(ks, sizeof(ks), r, "stats", NULL, NULL);
    key(kc, sizeof(kc), r, "clientq", account ? account : "-", NULL);
    if (!account)
        store_redis_cmd(r, NULL, NULL, "HINCRBY %s mo_unrouted 1", ks);
    const char *argv[] = { k, kc, json, account && client_item ? client_item : "" };
    run_script(r, &mo_record_lua, 2, 2, argv, NULL, cb, arg);
}

/* ---------------------------------------------------------------- client queue */

/* KEYS: queue inflight. ARGV: max */
static struct store_script clientq_take_lua = { "clientq_take",
    "local out = {}\n"
    "for i = 1, tonumber(ARGV[1]) do\n"
    "  local v = redis.call('LPOP', KEYS[1])\n"
    "  if not v then break end\n"
    "  redis.call('RPUSH', KEYS[2], v)\n"
    "  out[#out + 1] = v\n"
    "end\n"
    "return out\n", "" };

/* KEYS: inflight queue. The inflight tail goes first to the queue head, so
 * the order is kept. */
static struct store_script clientq_requeue_lua = { "clientq_requeue",
    "local n = 0\n"
    "local v = redis.call('RPOP', KEYS[1])\n"
    "while v do\n"
    "  redis.call('LPUSH', KEYS[2], v)\n"
    "  n = n + 1\n"
    "  v = redis.call('RPOP', KEYS[1])\n"
    "end\n"
    "return n\n", "" };

static void
clientq_keys(struct store_redis *r, const char *account, const char *instance, char *kq,
             size_t kqsz, char *ki, size_t kisz)
{
    key(kq, kqsz, r, "clientq", account, NULL);
    snprintf(ki, kisz, "%s:inflight:%s", kq, instance);
}

struct take_ctx {
    store_clientq_take_cb cb;
    void *arg;
};

static void
take_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct take_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=clientq_take error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL, NULL);
    } else {
        const char *items[64];
        size_t lens[64];
        int n = 0;
        for (size_t i = 0; i < reply->elements && n < 64; i++) {
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
store_clientq_take(struct store_redis *r, const char *account, const char *instance,
                   unsigned max, store_clientq_take_cb cb, void *arg)
{
    char kq[200], ki[300], mx[12];
    struct take_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    clientq_keys(r, account, instance, kq, sizeof(kq), ki, sizeof(ki));
    snprintf(mx, sizeof(mx), "%u", max > 64 ? 64 : max);
    const char *argv[] = { kq, ki, mx };
    if (store_redis_eval(r, &clientq_take_lua, take_reply, c, 2, 1, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL, NULL);
    }
}

void
store_clientq_ack(struct store_redis *r, const char *account, const char *instance,
                  const char *item, size_t len)
{
    char kq[200], ki[300];

    clientq_keys(r, account, instance, kq, sizeof(kq), ki, sizeof(ki));
    const char *argv[] = { "LREM", ki, "1", item };
    size_t lens[] = { 4, strlen(ki), 1, len };
    store_redis_argv(r, ignore_reply, NULL, 4, argv, lens);
}

void
store_clientq_requeue(struct store_redis *r, const char *account, const char *instance,
                      store_done_cb cb, void *arg)
{
    char kq[200], ki[300];

    clientq_keys(r, account, instance, kq, sizeof(kq), ki, sizeof(ki));
    const char *argv[] = { ki, kq };
    run_script(r, &clientq_requeue_lua, 2, 0, argv, NULL, cb, arg);
}

/* KEYS: target acct. ARGV: op numbers... */
static struct store_script optout_op_lua = { "optout_op",
    "if ARGV[1] == '0' then\n"
    "  local a = redis.call('SISMEMBER', KEYS[1], ARGV[2])\n"
    "  local b = redis.call('SISMEMBER', KEYS[2], ARGV[2])\n"
    "  return {(a == 1 or b == 1) and 1 or 0, 0}\n"
    "end\n"
    "local n = 0\n"
    "for i = 2, #ARGV, 500 do\n"
    "  local chunk = {}\n"
    "  for j = i, math.min(i + 499, #ARGV) do chunk[#chunk + 1] = ARGV[j] end\n"
    "  if ARGV[1] == '1' then n = n + redis.call('SADD', KEYS[1], unpack(chunk))\n"
    "  else n = n + redis.call('SREM', KEYS[1], unpack(chunk)) end\n"
    "end\n"
    "return {ARGV[1] == '1' and 1 or 0, n}\n", "" };

struct optout_ctx {
    store_optout_cb cb;
    void *arg;
};

static void
optout_op_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct optout_ctx *c = arg;
    (void)r;
    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
        c->cb(c->arg, -1, false, 0);
    else
        c->cb(c->arg, 0, reply->element[0]->integer == 1, (unsigned)reply->element[1]->integer);
    free(c);
}

void
store_optout_op(struct store_redis *r, const char *sender, const char *account,
                const char *const *numbers, size_t n, int op, store_optout_cb cb, void *arg)
{
    char kt[160], ka[160], ops[4];
    struct optout_ctx *c = malloc(sizeof(*c));
    const char **argv = calloc(n + 3, sizeof(char *));

    if (!c || !argv)
        abort();
    c->cb = cb;
    c->arg = arg;
    if (sender)
        key(kt, sizeof(kt), r, "optout:num", sender, NULL);
    else
        key(kt, sizeof(kt), r, "optout:acct", account, NULL);
    key(ka, sizeof(ka), r, "optout:acct", account, NULL);
    snprintf(ops, sizeof(ops), "%d", op);
    argv[0] = kt;
    argv[1] = ka;
    argv[2] = ops;
    for (size_t i = 0; i < n; i++)
        argv[3 + i] = numbers[i];
    if (n == 0) {
        free(argv);
        free(c);
        cb(arg, 0, op == 1, 0);
        return;
    }
    if (store_redis_eval(r, &optout_op_lua, optout_op_reply, c, 2, (int)n + 1, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, false, 0);
    }
    free(argv);
}

/* ---------------------------------------------------------------- query, cancel */

struct query_ctx {
    store_query_cb cb;
    void *arg;
    char account[64];
};

static void
query_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct query_ctx *q = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        q->cb(q->arg, -1, NULL, 0);
    } else if (reply->element[0]->type != REDIS_REPLY_STRING ||
               strcmp(reply->element[0]->str, q->account) != 0 ||
               reply->element[1]->type != REDIS_REPLY_STRING) {
        q->cb(q->arg, 1, NULL, 0);
    } else {
        uint64_t upd = reply->element[2]->type == REDIS_REPLY_STRING
                       ? strtoull(reply->element[2]->str, NULL, 10) : 0;
        q->cb(q->arg, 0, reply->element[1]->str, upd);
    }
    free(q);
}

void
store_msg_query(struct store_redis *r, const char *account, const char *id, store_query_cb cb,
                void *arg)
{
    char kmsg[160];
    struct query_ctx *q = calloc(1, sizeof(*q));

    if (!q)
        abort();
    q->cb = cb;
    q->arg = arg;
    snprintf(q->account, sizeof(q->account), "%s", account);
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    if (store_redis_cmd(r, query_reply, q, "HMGET %s account state updated", kmsg) != 0) {
        free(q);
        cb(arg, -1, NULL, 0);
    }
}

/*
 * KEYS: msg hist. ARGV: account now retention.
 * Only a message not yet with the carrier: queued or retrying, and not
 * claimed by a dequeuer about to send it (store_jobs_claim).
 */
static struct store_script cancel_lua = { "cancel",
    "local h = redis.call('HMGET', KEYS[1], 'account', 'state', 'claimed')\n"
    "if h[1] ~= ARGV[1] then return 1 end\n"
    "if (h[2] ~= 'queued' and h[2] ~= 'retrying') or h[3] then return 2 end\n"
    "redis.call('HSET', KEYS[1], 'state', 'cancelled', 'updated', ARGV[2])\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2] .. ' cancelled cancel_sm')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "return 0\n", "" };

struct cancel_ctx {
    store_done_cb cb;
    void *arg;
};

static void
cancel_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct cancel_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=cancel error=\"%s\"", reply->str);
        c->cb(c->arg, -1);
    } else {
        c->cb(c->arg, (int)reply->integer);
    }
    free(c);
}

void
store_msg_cancel(struct store_redis *r, const char *account, const char *id, store_done_cb cb,
                 void *arg)
{
    char kmsg[160], khist[160], now[24], ret[16];
    struct cancel_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    key(khist, sizeof(khist), r, "hist", id, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { kmsg, khist, account, now, ret };
    if (store_redis_eval(r, &cancel_lua, cancel_reply, c, 2, 3, argv, NULL) != 0) {
        free(c);
        cb(arg, -1);
    }
}

/* ARGV: prefix id... Per id: 1 cancelled, else 0 and the record marked
 * claimed (cancel_sm refuses it from now on). */
static struct store_script claim_lua = { "claim",
    "local out = {}\n"
    "for i = 2, #ARGV do\n"
    "  local k = ARGV[1] .. 'msg:' .. ARGV[i]\n"
    "  local st = redis.call('HGET', k, 'state')\n"
    "  if st == 'cancelled' then\n"
    "    out[#out + 1] = 1\n"
    "  else\n"
    "    if st then redis.call('HSET', k, 'claimed', '1') end\n"
    "    out[#out + 1] = 0\n"
    "  end\n"
    "end\n"
    "return out\n", "" };

struct claim_ctx {
    store_claim_cb cb;
    void *arg;
    unsigned n;
};

static void
claim_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct claim_ctx *c = arg;
    bool cancelled[256];
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != c->n) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=claim error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL);
    } else {
        for (unsigned i = 0; i < c->n; i++)
            cancelled[i] = reply->element[i]->integer == 1;
        c->cb(c->arg, 0, cancelled);
    }
    free(c);
}

void
store_jobs_claim(struct store_redis *r, const char *const *ids, unsigned n, store_claim_cb cb,
                 void *arg)
{
    const char *argv[257];
    struct claim_ctx *c = malloc(sizeof(*c));

    if (!c || n > 256)
        abort();
    c->cb = cb;
    c->arg = arg;
    c->n = n;
    argv[0] = store_redis_prefix(r);
    for (unsigned i = 0; i < n; i++)
        argv[1 + i] = ids[i];
    if (store_redis_eval(r, &claim_lua, claim_reply, c, 0, (int)n + 1, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}
