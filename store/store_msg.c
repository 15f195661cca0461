#include "store/store_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "store/store_stats.h"
#include "store/store_failed.h"
#include "store/store_clientq.h"

/* Keep terminal records this long (seconds). */
#define RETENTION_S STORE_MSG_RETENTION_S
#define EXTRA_TTL_S 86400
_Static_assert(RETENTION_S == STORE_FAILED_KEEP_S, "the failed index keeps what the records keep");

uint64_t
store_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* Ids and concatenation references need to differ, not to be secret (a
 * record is only shown to its own account): a xorshift64* stream seeded
 * once from OpenSSL instead of RAND_bytes per message. */
static uint64_t
next_rand(void)
{
    static uint64_t x;

    if (!x) {
        if (RAND_bytes((unsigned char *)&x, sizeof(x)) != 1 || !x)
            x = (uint64_t)store_now_ms() ^ ((uint64_t)random() << 20) ^ 0x9E3779B97F4A7C15ull;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1Dull;
}

void
store_new_id(char out[24])
{
    snprintf(out, 24, "m%012llx%08x", (unsigned long long)store_now_ms(),
             (unsigned)(next_rand() >> 32));
}

static size_t pack_pairs(char *buf, size_t size, const char *const *kv, const size_t *lens,
                         int n);

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

/*
 * Batched scripts (store_redis_batch): ARGV is "n a1..an n b1..bn ...";
 * the loop hands each item's base offset to its function, which reads its
 * k-th argument as ARGV[b + k]. Ranks: accepts, then submit progress, then
 * receipts, so a receipt never reaches Redis before the SMSC id it needs.
 */
#define BATCH_LOOP(fn) \
    "local out, i = {}, 1\n" \
    "while i <= #ARGV do\n" \
    "  out[#out + 1] = " fn "(i)\n" \
    "  i = i + tonumber(ARGV[i]) + 1\n" \
    "end\n"

enum { RANK_ACCEPT = 0, RANK_PROGRESS = 1, RANK_RECEIPT = 2 };

/*
 * A record's history lives in its hash: field "h:TS:EVENT" (TS epoch ms,
 * EVENT the state or "receipt:PART"), value the detail. Writing it costs
 * no command of its own (it rides on the HSET that changes the state) and
 * no key; GET sorts the fields back into a list.
 */

/* Item: msg q idem optnum optacct stats id now idem_ttl has_idem
 * nh h... ns s... fbwait watch route due sched check_optout subscriber
 * (watch not "0": ZADD fbwait watch id). The record (h
 * pairs, plus its queue entry's id as sid, for cancel_sm) and the queue
 * entry (s pairs); with due not "0", the entry waits in sched instead
 * (as a retry does) and the record gets release_at.
 * Answers {0, id} stored, {1, first_id} for a client_ref seen before,
 * {2, ''} opted out. */
static struct store_script accept_lua = { "accept",
    "local function accept(b)\n"
    "  local n = tonumber(ARGV[b])\n"
    "  if ARGV[b + 10] == '1' then\n"
    "    local e = redis.call('GET', ARGV[b + 3])\n"
    "    if e then return {1, e} end\n"
    "  end\n"
    "  if ARGV[b + n - 1] == '1' and (redis.call('SISMEMBER', ARGV[b + 4], ARGV[b + n]) == 1 or\n"
    "      redis.call('SISMEMBER', ARGV[b + 5], ARGV[b + n]) == 1) then\n"
    "    redis.call('HINCRBY', ARGV[b + 6], 'refused_opted_out', 1)\n"
    "    return {2, ''}\n"
    "  end\n"
    "  local nh = tonumber(ARGV[b + 11])\n"
    "  local off = b + 12 + nh * 2\n"
    "  local ns = tonumber(ARGV[off])\n"
    "  local f = {}\n"
    "  for k = 1, ns * 2 do f[k] = ARGV[off + k] end\n"
    "  local h = {}\n"
    "  if ARGV[b + n - 3] == '-1' then\n"
    "    h = {'no_sms', '1'}\n"
    "  elseif ARGV[b + n - 3] ~= '0' then\n"
    "    redis.call('ZADD', ARGV[b + n - 2], ARGV[b + n - 3],\n"
    "      cjson.encode({r = ARGV[b + n - 4], f = f, k = ARGV[b + 1]}))\n"
    "    h = {'release_at', ARGV[b + n - 3]}\n"
    "  else\n"
    "    h = {'sid', redis.call('XADD', ARGV[b + 2], '*', unpack(f))}\n"
    "  end\n"
    "  if ARGV[b + n - 5] ~= '0' then\n"
    "    redis.call('ZADD', ARGV[b + n - 6], ARGV[b + n - 5], ARGV[b + 7])\n"
    "  end\n"
    "  for k = 1, nh * 2 do h[k + 2] = ARGV[b + 11 + k] end\n"
    "  redis.call('HSET', ARGV[b + 1], unpack(h))\n"
    "  if ARGV[b + 10] == '1' then redis.call('SET', ARGV[b + 3], ARGV[b + 7], 'EX', ARGV[b + 9]) end\n"
    "  return {0, ARGV[b + 7]}\n"
    "end\n"
    BATCH_LOOP("accept")
    "return out\n", "" };

/*
 * Submit progress, two kinds of item:
 *   p smscid value ttl msg field raw   a part's submit_sm_resp: the SMSC id
 *                                      maps to "id:part" for its receipt
 *   j msg q stream_id now smsc prefix await
 *                                      every part submitted: the stream
 *                                      entry goes, the state follows
 *                                      (counted in the delivery statistics),
 *                                      and the record waits in P await until
 *                                      its final receipt or time await (ms;
 *                                      "0": no wait), when the receipt-
 *                                      timeout sweep ends it (store_sched.h)
 * A record's fields from all the items of a batch go in one HSET; the
 * stream entries are acknowledged and deleted per stream in one XACK and
 * one XDEL.
 */
static struct store_script progress_lua = { "progress",
    STATS_LUA
    "local acks, sets, order = {}, {}, {}\n"
    "local function put(mk, ...)\n"
    "  local t = sets[mk]\n"
    "  if not t then t = {} sets[mk] = t order[#order + 1] = mk end\n"
    "  for _, v in ipairs({...}) do t[#t + 1] = v end\n"
    "end\n"
    "local function progress(b)\n"
    "  if ARGV[b + 1] == 'p' then\n"
    "    redis.call('SET', ARGV[b + 2], ARGV[b + 3], 'EX', ARGV[b + 4])\n"
    "    put(ARGV[b + 5], ARGV[b + 6], ARGV[b + 7])\n"
    "    return 1\n"
    "  end\n"
    "  local mk, q, now, smsc = ARGV[b + 2], ARGV[b + 3], ARGV[b + 5], ARGV[b + 6]\n"
    "  acks[q] = acks[q] or {}\n"
    "  table.insert(acks[q], ARGV[b + 4])\n"
    "  local h = redis.call('HMGET', mk, 'state', 'account', 'route', 'from')\n"
    "  local st = h[1]\n"
    "  if st == 'queued' or st == 'retrying' then\n"
    "    put(mk, 'state', 'submitted', 'smsc', smsc, 'updated', now)\n"
    "    stats_event(ARGV[b + 7], now, h[2], h[3], h[4], 'submitted')\n"
    "    if ARGV[b + 8] ~= '0' then redis.call('ZADD', ARGV[b + 7] .. 'await', ARGV[b + 8], mk) end\n"
    "  end\n"
    "  put(mk, 'h:' .. now .. ':submitted', 'smsc=' .. smsc)\n"
    "  return 1\n"
    "end\n"
    BATCH_LOOP("progress")
    "for _, mk in ipairs(order) do redis.call('HSET', mk, unpack(sets[mk])) end\n"
    "stats_flush()\n"
    "for q, ids in pairs(acks) do\n"
    "  redis.call('XACK', q, 'smsgw', unpack(ids))\n"
    "  redis.call('XDEL', q, unpack(ids))\n"
    "end\n"
    "return out\n", "" };

/* KEYS: msg q sched. ARGV: stream_id now due reason route attempt n f/v...
 * The sched entry names the record (k) so that promote can skip a message
 * cancelled meanwhile and note its new queue entry. */
static struct store_script retry_lua = { "retry",
    "redis.call('XACK', KEYS[2], 'smsgw', ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "local n = tonumber(ARGV[7])\n"
    "local f = {}\n"
    "for i = 1, n * 2 do f[i] = ARGV[7 + i] end\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], cjson.encode({r = ARGV[5], f = f, k = KEYS[1]}))\n"
    "redis.call('HSET', KEYS[1], 'state', 'retrying', 'attempts', ARGV[6], 'updated', ARGV[2],\n"
    "  'h:' .. ARGV[2] .. ':retrying', ARGV[4])\n"
    "return 1\n", "" };

/* KEYS: msg q. ARGV: stream_id now state detail retention prefix.
 * A message cancelled (cancel_sm) meanwhile keeps its state: only its queue
 * entry goes. The outcome (with detail as its reason) is counted in the
 * delivery statistics (store/store_stats.h). */
static struct store_script final_lua = { "final",
    STATS_LUA
    "redis.call('XACK', KEYS[2], 'smsgw', ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "if redis.call('HGET', KEYS[1], 'state') == 'cancelled' then return 1 end\n"
    "redis.call('HSET', KEYS[1], 'state', ARGV[3], 'error', ARGV[4], 'updated', ARGV[2],\n"
    "  'h:' .. ARGV[2] .. ':' .. ARGV[3], ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "local mk, prefix, state, err, now = KEYS[1], ARGV[6], ARGV[3], '', ARGV[2]\n"
    "redis.call('ZREM', prefix .. 'await', mk)\n"
    "local stat = ({rejected = 'REJECTD', expired = 'EXPIRED'})[state] or 'UNDELIV'\n"
    "local c = redis.call('HMGET', mk, " CLIENT_RECEIPT_FIELDS ", 'route')\n"
    CLIENT_RECEIPT_LUA
    "stats_event(prefix, now, c[3], c[7], c[4], state, ARGV[4] ~= '' and ARGV[4] or nil)\n"
    "stats_flush()\n"
    FAILED_INDEX_LUA
    "return 1\n", "" };

/*
 * Receipts, batched. Item: smscid prefix stat err now retention.
 * A part's receipt sets p<part>; when every part has a final one, the
 * message takes its state: delivered when all parts were, else the first
 * failed part's (not when a fallback chain has taken the message over: then
 * the receipt is only recorded). A new final state is counted in the
 * delivery statistics, with its submit-to-receipt time (from created, or
 * release_at for a held message) and, unless delivered, "STAT:err" as its
 * reason. Answers {0} unknown SMSC id, {2, id, ''} a repeat,
 * {1, id, ''} recorded, {1, id, state, callback_url, client_ref} when the
 * message took a new final state.
 */
static struct store_script dlr_lua = { "receipt",
    STATS_LUA
    "local finals = {DELIVRD='delivered', UNDELIV='undelivered', EXPIRED='expired',\n"
    "  REJECTD='rejected', DELETED='deleted', UNKNOWN='unknown'}\n"
    /* A late receipt after the fallback chain took over is history only:
     * the state stays the chain's (router/fallback). */
    "local fbstates = {fallback = 1, sent_email = 1, sent_ott = 1, sent_rcs = 1,\n"
    "  fallback_failed = 1}\n"
    "local matched, unmatched, prefix = 0, 0, ARGV[3]\n"
    "local function receipt(b)\n"
    "  local v = redis.call('GET', ARGV[b + 1])\n"
    "  if not v then unmatched = unmatched + 1 return {0} end\n"
    "  local id, part = string.match(v, '^(.*):(%d+)$')\n"
    "  local mk = prefix .. 'msg:' .. id\n"
    "  local stat, err, now = ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]\n"
    "  local pf = 'p' .. part\n"
    "  local m = redis.call('HMGET', mk, pf, 'segments', 'state', 'callback_url', 'client_ref',\n"
    "    " CLIENT_RECEIPT_FIELDS ", 'route', 'release_at')\n"
    "  if m[1] == stat then return {2, id, ''} end\n"
    "  matched = matched + 1\n"
    "  local hf, hv = 'h:' .. now .. ':receipt:' .. part, 'stat=' .. stat .. ' err=' .. err\n"
    "  local state, worst = nil, nil\n"
    "  if finals[stat] then\n"
    "    local segs = tonumber(m[2] or '1')\n"
    "    local ps = {stat}\n"
    "    if segs > 1 then\n"
    "      local names = {}\n"
    "      for k = 0, segs - 1 do names[k + 1] = 'p' .. k end\n"
    "      ps = redis.call('HMGET', mk, unpack(names))\n"
    "      ps[tonumber(part) + 1] = stat\n"
    "    end\n"
    "    state = 'x'\n"
    "    for k = 1, segs do\n"
    "      local s = ps[k]\n"
    "      if not s or not finals[s] then state = nil break end\n"
    "      if s ~= 'DELIVRD' and not worst then worst = s end\n"
    "    end\n"
    "    if state then state = finals[worst or 'DELIVRD'] end\n"
    "  end\n"
    "  if not state or state == m[3] or fbstates[m[3]] then\n"
    "    redis.call('HSET', mk, pf, stat, hf, hv)\n"
    "    return {1, id, ''}\n"
    "  end\n"
    "  redis.call('HSET', mk, pf, stat, hf, hv, 'state', state, 'updated', now, 'error', err,\n"
    "    'h:' .. now .. ':' .. state, '')\n"
    "  redis.call('EXPIRE', mk, ARGV[b + 6])\n"
    "  redis.call('ZREM', prefix .. 'await', mk)\n"
    "  stat = worst or 'DELIVRD'\n"
    "  local c = {m[6], m[7], m[8], m[9], m[10], m[11]}\n"
    "  " CLIENT_RECEIPT_LUA
    "  local t0 = math.max(tonumber(m[11]) or 0, tonumber(m[13]) or 0)\n"
    "  stats_event(prefix, now, m[8], m[12], m[9], state,\n"
    "    state ~= 'delivered' and (err ~= '' and stat .. ':' .. err or stat) or nil,\n"
    "    t0 > 0 and math.max(tonumber(now) - t0, 0) or nil)\n"
    FAILED_INDEX_LUA
    "  return {1, id, state, m[4] or '', m[5] or ''}\n"
    "end\n"
    BATCH_LOOP("receipt")
    "stats_flush()\n"
    "if matched > 0 then redis.call('HINCRBY', prefix .. 'stats', 'receipts_matched', matched) end\n"
    "if unmatched > 0 then redis.call('HINCRBY', prefix .. 'stats', 'receipts_unmatched', unmatched) end\n"
    "return out\n", "" };

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

void *
store_msg_new_copy(struct store_msg_new *m)
{
    const char **f[] = { &m->account, &m->from, &m->to, &m->encoding, &m->route, &m->msg_class,
                         &m->callback_url, &m->client_ref, &m->source, &m->id, &m->hold_state,
                         &m->hold_detail, &m->fallback, &m->email };
    /* (watch_ms and due_ms are numbers: copied with the struct) */
    size_t n = sizeof(f) / sizeof(f[0]), size = m->text_len + 1;

    for (size_t i = 0; i < n; i++)
        size += *f[i] ? strlen(*f[i]) + 1 : 0;
    char *blk = malloc(size), *p = blk;
    if (!blk)
        abort();
    memcpy(p, m->text, m->text_len);
    p[m->text_len] = '\0';
    m->text = p;
    p += m->text_len + 1;
    for (size_t i = 0; i < n; i++) {
        if (!*f[i])
            continue;
        size_t l = strlen(*f[i]) + 1;
        memcpy(p, *f[i], l);
        *f[i] = p;
        p += l;
    }
    return blk;
}

void
store_msg_accept(struct store_redis *r, const struct store_msg_new *m, store_accept_cb cb,
                 void *arg)
{
    char id[24], now[24], ttl[24], kmsg[160], kq[200], kidem[300], seg[16], val[16], hq[48],
        ton[8], npi[8], ref[16], deadline[24];
    const char *argv[96];
    size_t lens[96];
    int n = 0;
    uint64_t t = store_now_ms();
    uint16_t rref = (uint16_t)(next_rand() >> 48);

    if (m->id)
        snprintf(id, sizeof(id), "%s", m->id);
    else
        store_new_id(id);
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
    A(kmsg); A(kq); A(kidem); A(koptn); A(kopta); A(kstats);
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
    const char *st0 = m->due_ms ? (m->hold_state ? m->hold_state : "scheduled") : "queued";
    A("state"); A(st0);
    snprintf(hq, sizeof(hq), "h:%s:%s", now, st0);
    A(hq); A(m->due_ms && m->hold_detail ? m->hold_detail : "");
    if (m->fallback) { A("fallback"); A(m->fallback); }
    if (m->email) { A("email"); A(m->email); }
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
    /* The queue entry: the job's pairs packed into one field. */
    const char *kv[30];
    size_t kvl[30];
    int nk = 0;
#define P(s) do { kv[nk] = (s); kvl[nk] = strlen(kv[nk]); nk++; } while (0)
    P("id"); P(id);
    P("acct"); P(m->account);
    P("from"); P(m->from);
    P("ton"); P(ton);
    P("npi"); P(npi);
    P("to"); P(m->to);
    P("enc"); P(m->encoding);
    P("segs"); P(seg);
    P("ref"); P(ref);
    P("deadline"); P(deadline);
    P("attempt"); P("0");
    P("parts"); P("0");
    P("cb"); P(m->callback_url ? m->callback_url : "");
    P("cref"); P(m->client_ref ? m->client_ref : "");
    P("text"); kv[nk] = m->text; kvl[nk] = m->text_len; nk++;
#undef P
    size_t bsize = 256;
    for (int i = 0; i < nk; i++)
        bsize += kvl[i] + 24;
    char *blob = malloc(bsize);
    if (!blob)
        abort();
    size_t blen = pack_pairs(blob, bsize, kv, kvl, nk);
    A("1");
    A("d");
    AL(blob, blen);
    char due[24], ksched[160];
    if (m->due_ms == STORE_DUE_NEVER)
        snprintf(due, sizeof(due), "-1");
    else
        snprintf(due, sizeof(due), "%llu", (unsigned long long)m->due_ms);
    key(ksched, sizeof(ksched), r, "sched", NULL, NULL);
    char kwait[160], watch[24];
    key(kwait, sizeof(kwait), r, "fbwait", NULL, NULL);
    snprintf(watch, sizeof(watch), "%llu", (unsigned long long)m->watch_ms);
    A(kwait); A(watch);
    A(m->route); A(due); A(ksched);
    A(m->system ? "0" : "1");
    A(m->to);
#undef A
#undef AL

    struct accept_ctx *a = malloc(sizeof(*a));
    if (!a)
        abort();
    a->cb = cb;
    a->arg = arg;
    int rc = store_redis_batch(r, &accept_lua, RANK_ACCEPT, accept_reply, a, n, argv, lens);
    free(blob);         /* the batch copied it */
    if (rc != 0) {
        free(a);
        cb(arg, -1, NULL);
    }
}

/* ---------------------------------------------------------------- get */

struct get_ctx {
    store_get_cb cb;
    void *arg;
    char account[64];
};

static bool
numeric_field(const char *k)
{
    return !strcmp(k, "segments") || !strcmp(k, "validity") || !strcmp(k, "created") ||
           !strcmp(k, "updated") || !strcmp(k, "attempts") || !strcmp(k, "release_at") ||
           !strcmp(k, "registered_delivery");
}

/* History entries in the order they happened; at the same millisecond, in
 * the order a message's life runs. */
struct hist_ev {
    long long ts;
    int rank;
    const char *event, *detail;
    size_t event_len;
};

static int
event_rank(const char *e, size_t len)
{
    static const char *const order[] = { "scheduled", "held", "queued", "retrying", "submitted",
                                         "receipt" };
    for (int i = 0; i < 6; i++)
        if (len >= strlen(order[i]) && strncmp(e, order[i], strlen(order[i])) == 0)
            return i;
    return 6;       /* a final state, then fallback steps */
}

static int
cmp_hist(const void *a, const void *b)
{
    const struct hist_ev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->rank - y->rank;
}

static json_object *
history_json(const redisReply *reply)
{
    struct hist_ev *ev = calloc(reply->elements / 2 + 1, sizeof(*ev));
    size_t n = 0;

    if (!ev)
        abort();
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str;
        if (strncmp(k, "h:", 2) != 0)
            continue;
        char *end;
        long long ts = strtoll(k + 2, &end, 10);
        if (*end != ':')
            continue;
        ev[n].ts = ts;
        ev[n].event = end + 1;
        ev[n].event_len = strlen(end + 1);
        ev[n].rank = event_rank(ev[n].event, ev[n].event_len);
        ev[n].detail = reply->element[i + 1]->str;
        n++;
    }
    qsort(ev, n, sizeof(*ev), cmp_hist);
    json_object *h = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        char state[64], detail[512];
        const char *colon = memchr(ev[i].event, ':', ev[i].event_len);
        /* "receipt:PART" is shown as state receipt, detail "part=N ..." */
        if (colon) {
            snprintf(state, sizeof(state), "%.*s", (int)(colon - ev[i].event), ev[i].event);
            snprintf(detail, sizeof(detail), "part=%s%s%s", colon + 1, ev[i].detail[0] ? " " : "",
                     ev[i].detail);
        } else {
            snprintf(state, sizeof(state), "%s", ev[i].event);
            snprintf(detail, sizeof(detail), "%s", ev[i].detail);
        }
        json_object_object_add(o, "ts", json_object_new_int64(ev[i].ts));
        json_object_object_add(o, "state", json_object_new_string(state));
        if (detail[0])
            json_object_object_add(o, "detail", json_object_new_string(detail));
        json_object_array_add(h, o);
    }
    free(ev);
    return h;
}

static void
get_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct get_ctx *g = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY) {
        g->cb(g->arg, -1, NULL);
        free(g);
        return;
    }
    json_object *o = json_object_new_object(), *parts = json_object_new_object(),
                *sids = json_object_new_object();
    const char *acct = NULL;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
        if (!strcmp(k, "account"))
            acct = v;
        if (!strcmp(k, "sid") || !strncmp(k, "h:", 2))
            continue;               /* queue entry id; history (below) */
        if (k[0] == 'p' && k[1] >= '0' && k[1] <= '9') {
            json_object_object_add(parts, k + 1, json_object_new_string(v));
            continue;
        }
        if (k[0] == 's' && k[1] >= '0' && k[1] <= '9') {
            json_object_object_add(sids, k + 1, json_object_new_string(v));
            continue;
        }
        if (numeric_field(k))
            json_object_object_add(o, k, json_object_new_int64(strtoll(v, NULL, 10)));
        else
            json_object_object_add(o, k, json_object_new_string_len(v, (int)reply->element[i + 1]->len));
    }
    if (!acct || strcmp(acct, g->account) != 0) {
        json_object_put(o);
        json_object_put(parts);
        json_object_put(sids);
        g->cb(g->arg, 1, NULL);
        free(g);
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
    json_object_object_add(o, "history", history_json(reply));
    g->cb(g->arg, 0, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    free(g);
}

void
store_msg_get(struct store_redis *r, const char *account, const char *id, store_get_cb cb,
              void *arg)
{
    char kmsg[160];
    struct get_ctx *g = calloc(1, sizeof(*g));

    if (!g)
        abort();
    g->cb = cb;
    g->arg = arg;
    snprintf(g->account, sizeof(g->account), "%s", account);
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    if (store_redis_cmd(r, get_reply, g, "HGETALL %s", kmsg) != 0) {
        free(g);
        cb(arg, -1, NULL);
    }
}

/* ------------------------------------------------------------ requeue */

static char *job_blob(const struct store_job *job, size_t *len);

/*
 * KEYS: msg q failed. ARGV: now blob id. The record's state is checked again
 * here, atomically with the queueing: only a message that ended in a
 * failure (failed, rejected, expired, undelivered, fallback_failed) goes
 * back, so a message requeued twice (two operators, a bulk requeue meeting
 * one requeued by id) is queued once; the second answer is {2, 'queued'}.
 * Its entry in the failed index (store/store_failed.h) goes with it.
 * Answers {0}, {1} no such message, {2, state} not in a failed state.
 */
static struct store_script requeue_lua = { "requeue",
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st then return {1} end\n"
    "local failed = {failed = 1, rejected = 1, expired = 1, undelivered = 1, fallback_failed = 1}\n"
    "if not failed[st] then return {2, st} end\n"
    "local sid = redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'state', 'queued', 'updated', ARGV[1], 'error', '', 'sid', sid,\n"
    "  'h:' .. ARGV[1] .. ':queued', 'requeued after ' .. st)\n"
    "redis.call('PERSIST', KEYS[1])\n"
    "redis.call('ZREM', KEYS[3], ARGV[3])\n"
    "return {0}\n", "" };

struct requeue_ctx {
    store_requeue_cb cb;
    store_sender_fn sender;
    void *arg;
    char id[40];                    /* as struct store_job's */
    char route[64];
};

static void
requeue_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct requeue_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=requeue error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL);
    } else {
        int rc = (int)reply->element[0]->integer;
        c->cb(c->arg, rc, rc == 0 ? c->route : reply->elements > 1 ? reply->element[1]->str
                                                                   : NULL);
    }
    free(c);
}

/* The record as the queue entry it had: the job again, a new attempt. */
static void
requeue_record(struct store_redis *r, redisReply *reply, void *arg)
{
    struct requeue_ctx *c = arg;
    static struct store_job j;      /* large (text): not on the stack */

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements != 10) {
        c->cb(c->arg, -1, NULL);
        free(c);
        return;
    }
    const char *f[10];
    for (int i = 0; i < 10; i++)
        f[i] = reply->element[i]->type == REDIS_REPLY_STRING ? reply->element[i]->str : NULL;
    if (!f[1] || !f[6]) {
        c->cb(c->arg, 1, NULL);
        free(c);
        return;
    }
    memset(&j, 0, offsetof(struct store_job, text));
    if (!c->sender(c->arg, f[1], &j.ton, &j.npi)) {
        c->cb(c->arg, 3, f[1]);
        free(c);
        return;
    }
    snprintf(j.id, sizeof(j.id), "%s", c->id);
    snprintf(j.account, sizeof(j.account), "%s", f[0] ? f[0] : "");
    snprintf(j.from, sizeof(j.from), "%s", f[1]);
    snprintf(j.to, sizeof(j.to), "%s", f[2] ? f[2] : "");
    j.text_len = f[3] ? reply->element[3]->len : 0;
    if (j.text_len > sizeof(j.text) - 1)
        j.text_len = sizeof(j.text) - 1;
    memcpy(j.text, f[3] ? f[3] : "", j.text_len);
    j.text[j.text_len] = 0;
    snprintf(j.encoding, sizeof(j.encoding), "%s", f[4] ? f[4] : "gsm7");
    j.segments = f[5] ? (unsigned)atoi(f[5]) : 1;
    snprintf(c->route, sizeof(c->route), "%s", f[6]);
    j.deadline_ms = store_now_ms() + (uint64_t)(f[7] ? strtoull(f[7], NULL, 10) : 86400) * 1000u;
    snprintf(j.callback_url, sizeof(j.callback_url), "%s", f[8] ? f[8] : "");
    snprintf(j.client_ref, sizeof(j.client_ref), "%s", f[9] ? f[9] : "");
    j.ref = (unsigned)(next_rand() >> 48);

    char kmsg[160], kq[200], kf[200], now[24];
    size_t blen;
    char *blob = job_blob(&j, &blen);
    key(kmsg, sizeof(kmsg), r, "msg", c->id, NULL);
    key(kq, sizeof(kq), r, "q", c->route, NULL);
    key(kf, sizeof(kf), r, "failed", c->route, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    const char *argv[] = { kmsg, kq, kf, now, blob, c->id };
    size_t lens[] = { strlen(kmsg), strlen(kq), strlen(kf), strlen(now), blen, strlen(c->id) };
    if (store_redis_eval(r, &requeue_lua, requeue_reply, c, 3, 3, argv, lens) != 0) {
        c->cb(c->arg, -1, NULL);
        free(c);
    }
    free(blob);
}

void
store_msg_requeue(struct store_redis *r, const char *id, store_sender_fn sender,
                  store_requeue_cb cb, void *arg)
{
    char kmsg[160];
    struct requeue_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    if (strlen(id) >= sizeof(c->id)) {      /* longer than any id we give */
        free(c);
        cb(arg, 1, NULL);
        return;
    }
    c->cb = cb;
    c->sender = sender;
    c->arg = arg;
    snprintf(c->id, sizeof(c->id), "%s", id);
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    store_redis_flush(r);
    if (store_redis_cmd(r, requeue_record, c, "HMGET %s account from to text encoding segments "
                        "route validity callback_url client_ref", kmsg) != 0) {
        free(c);
        cb(arg, -1, NULL);
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
job_field(struct store_job *j, const char *k, size_t klen, const char *v, size_t vlen)
{
    char num[32];
    int nl = (int)(vlen < sizeof(num) - 1 ? vlen : sizeof(num) - 1);
    int vl = (int)(vlen > 4096 ? 4096 : vlen);

    memcpy(num, v, (size_t)nl);
    num[nl] = 0;
#define IS(name) (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0)
    if (IS("id")) snprintf(j->id, sizeof(j->id), "%.*s", vl, v);
    else if (IS("acct")) snprintf(j->account, sizeof(j->account), "%.*s", vl, v);
    else if (IS("from")) snprintf(j->from, sizeof(j->from), "%.*s", vl, v);
    else if (IS("to")) snprintf(j->to, sizeof(j->to), "%.*s", vl, v);
    else if (IS("enc")) snprintf(j->encoding, sizeof(j->encoding), "%.*s", vl, v);
    else if (IS("ton")) j->ton = (uint8_t)atoi(num);
    else if (IS("npi")) j->npi = (uint8_t)atoi(num);
    else if (IS("segs")) j->segments = (unsigned)atoi(num);
    else if (IS("ref")) j->ref = (unsigned)atoi(num);
    else if (IS("deadline")) j->deadline_ms = strtoull(num, NULL, 10);
    else if (IS("attempt")) j->attempt = (unsigned)atoi(num);
    else if (IS("parts")) j->parts_mask = (uint32_t)strtoul(num, NULL, 10);
    else if (IS("cb")) snprintf(j->callback_url, sizeof(j->callback_url), "%.*s", vl, v);
    else if (IS("cref")) snprintf(j->client_ref, sizeof(j->client_ref), "%.*s", vl, v);
    else if (IS("text")) {
        size_t l = vlen < sizeof(j->text) - 1 ? vlen : sizeof(j->text) - 1;
        memcpy(j->text, v, l);
        j->text[l] = 0;
        j->text_len = l;
    }
#undef IS
}

/*
 * A queue entry is one field, d, holding the job's field/value pairs as
 * netstrings ("2:id,21:m0196...,"): one argument instead of thirty for
 * XADD and for the scripts that carry it, which was most of the Lua work
 * per message. Entries written field by field (before this format) are
 * still read.
 */
static size_t
pack_pairs(char *buf, size_t size, const char *const *kv, const size_t *lens, int n)
{
    size_t o = 0;

    for (int i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(kv[i]);
        int h = snprintf(buf + o, size - o, "%zu:", l);
        if (h < 0 || o + (size_t)h + l + 1 >= size)
            abort();        /* sized by the caller for the largest job */
        o += (size_t)h;
        memcpy(buf + o, kv[i], l);
        o += l;
        buf[o++] = ',';
    }
    return o;
}

/* Next netstring of p[0..len) at *off; false at the end or when malformed. */
static bool
next_netstring(const char *p, size_t len, size_t *off, const char **s, size_t *slen)
{
    size_t o = *off, l = 0;

    if (o >= len || p[o] < '0' || p[o] > '9')
        return false;
    while (o < len && p[o] >= '0' && p[o] <= '9' && l < 1000000)
        l = l * 10 + (size_t)(p[o++] - '0');
    if (o >= len || p[o] != ':' || l > len - o - 1 || o + 1 + l >= len || p[o + 1 + l] != ',')
        return false;
    *s = p + o + 1;
    *slen = l;
    *off = o + 1 + l + 1;
    return true;
}

static void
parse_job(const redisReply *e, struct store_job *j)
{
    memset(j, 0, offsetof(struct store_job, text));
    j->text[0] = 0;
    snprintf(j->stream_id, sizeof(j->stream_id), "%s", e->element[0]->str);
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return;
    if (f->elements == 2 && strcmp(f->element[0]->str, "d") == 0) {
        const char *p = f->element[1]->str, *k, *v;
        size_t len = f->element[1]->len, off = 0, kl, vl;
        while (next_netstring(p, len, &off, &k, &kl) && next_netstring(p, len, &off, &v, &vl))
            job_field(j, k, kl, v, vl);
        return;
    }
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        job_field(j, f->element[i]->str, f->element[i]->len, f->element[i + 1]->str,
                  f->element[i + 1]->len);
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
                 const char *pending_after, store_read_cb cb, void *arg)
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
                        consumer, cnt, kq, pending_after ? pending_after : ">") != 0) {
        free(c);
        cb(arg, -1, NULL);
    }
}

void
store_part_submitted(struct store_redis *r, const char *smsc, const char *normid, const char *raw,
                     const struct store_job *job, unsigned part, unsigned ttl_s)
{
    char k[300], v[64], kmsg[160], ttl[16], field[16];

    key(k, sizeof(k), r, "smscid", smsc, normid);
    snprintf(v, sizeof(v), "%s:%u", job->id, part);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    snprintf(field, sizeof(field), "s%u", part);
    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    const char *argv[] = { "p", k, v, ttl, kmsg, field, raw };
    store_redis_batch(r, &progress_lua, RANK_PROGRESS, ignore_reply, NULL, 7, argv, NULL);
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
    /* A message's retry or final state must not overtake its batched
     * progress (e.g. a part's SMSC id) queued in this loop pass. */
    store_redis_flush(r);
    if (store_redis_eval(r, s, done_reply, d, nkeys, nargs, argv, lens) != 0) {
        free(d);
        if (cb)
            cb(arg, -1);
    }
}

void
store_job_submitted(struct store_redis *r, const char *route, const struct store_job *job,
                    const char *smsc, uint64_t await_ms, store_done_cb cb, void *arg)
{
    char kmsg[160], kq[200], now[24], aw[24];

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(aw, sizeof(aw), "%llu", (unsigned long long)await_ms);
    const char *argv[] = { "j", kmsg, kq, job->stream_id, now, smsc, store_redis_prefix(r), aw };
    struct done_ctx *d = malloc(sizeof(*d));
    if (!d)
        abort();
    d->cb = cb;
    d->arg = arg;
    if (store_redis_batch(r, &progress_lua, RANK_PROGRESS, done_reply, d, 8, argv, NULL) != 0) {
        free(d);
        if (cb)
            cb(arg, -1);
    }
}

/* A job's queue entry: its pairs packed as netstrings (malloc'd). */
static char *
job_blob(const struct store_job *job, size_t *len)
{
    char ton[8], npi[8], segs[12], ref[12], deadline[24], attempt[12], parts[16];

    snprintf(ton, sizeof(ton), "%u", job->ton);
    snprintf(npi, sizeof(npi), "%u", job->npi);
    snprintf(segs, sizeof(segs), "%u", job->segments);
    snprintf(ref, sizeof(ref), "%u", job->ref);
    snprintf(deadline, sizeof(deadline), "%llu", (unsigned long long)job->deadline_ms);
    snprintf(attempt, sizeof(attempt), "%u", job->attempt);
    snprintf(parts, sizeof(parts), "%u", job->parts_mask);
    const char *kv[] = { "id", job->id, "acct", job->account, "from", job->from, "ton", ton,
                         "npi", npi, "to", job->to, "enc", job->encoding, "segs", segs,
                         "ref", ref, "deadline", deadline, "attempt", attempt, "parts", parts,
                         "cb", job->callback_url, "cref", job->client_ref, "text", job->text };
    size_t kvl[30];
    size_t bsize = 256;
    for (int i = 0; i < 30; i++) {
        kvl[i] = i == 29 ? job->text_len : strlen(kv[i]);
        bsize += kvl[i] + 24;
    }
    char *blob = malloc(bsize);
    if (!blob)
        abort();
    *len = pack_pairs(blob, bsize, kv, kvl, 30);
    return blob;
}

void
store_job_retry(struct store_redis *r, const char *route, const struct store_job *job,
                uint64_t due_ms, const char *reason, store_done_cb cb, void *arg)
{
    char kmsg[160], kq[200], ksched[160], now[24], due[24], attempt[12];
    size_t blen;
    char *blob = job_blob(job, &blen);

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    key(ksched, sizeof(ksched), r, "sched", NULL, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(due, sizeof(due), "%llu", (unsigned long long)due_ms);
    snprintf(attempt, sizeof(attempt), "%u", job->attempt);
    const char *argv[] = { kmsg, kq, ksched, job->stream_id, now, due, reason, route, attempt,
                           "1", "d", blob };
    size_t lens[12];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    lens[11] = blen;
    run_script(r, &retry_lua, 3, 9, argv, lens, cb, arg);
    free(blob);
}

void
store_job_final(struct store_redis *r, const char *route, const struct store_job *job,
                const char *state, const char *detail, store_done_cb cb, void *arg)
{
    char kmsg[160], kq[200], now[24], ret[16];

    key(kmsg, sizeof(kmsg), r, "msg", job->id, NULL);
    key(kq, sizeof(kq), r, "q", route, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { kmsg, kq, job->stream_id, now, state, detail, ret,
                           store_redis_prefix(r) };
    run_script(r, &final_lua, 2, 6, argv, NULL, cb, arg);
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
    if (store_redis_batch(r, &dlr_lua, RANK_RECEIPT, dlr_reply, d, 6, argv, NULL) != 0) {
        free(d);
        cb(arg, -1, NULL);
    }
}

/* KEYS: optnum optacct. ARGV: subscriber out(1|0) account_wide(1|0)
 * prefix now account sender. A new opt-out counts in the delivery
 * statistics of the account and the sender. */
static struct store_script optout_lua = { "optout",
    STATS_LUA
    "if ARGV[2] == '1' then\n"
    "  local added\n"
    "  if ARGV[3] == '1' then added = redis.call('SADD', KEYS[2], ARGV[1])\n"
    "  else added = redis.call('SADD', KEYS[1], ARGV[1]) end\n"
    "  if added == 1 then\n"
    "    stats_event(ARGV[4], ARGV[5], ARGV[6], nil, ARGV[7], 'optouts')\n"
    "    stats_flush()\n"
    "  end\n"
    "else\n"
    "  redis.call('SREM', KEYS[1], ARGV[1])\n"
    "  redis.call('SREM', KEYS[2], ARGV[1])\n"
    "end\n"
    "return 1\n", "" };

void
store_optout_set(struct store_redis *r, const char *sender, const char *account,
                 const char *subscriber, bool out, bool account_wide, store_done_cb cb, void *arg)
{
    char kn[160], ka[160], now[24];

    key(kn, sizeof(kn), r, "optout:num", sender ? sender : "-", NULL);
    key(ka, sizeof(ka), r, "optout:acct", account ? account : "-", NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    const char *argv[] = { kn, ka, subscriber, out ? "1" : "0", account_wide ? "1" : "0",
                           store_redis_prefix(r), now, account ? account : "",
                           sender ? sender : "" };
    run_script(r, &optout_lua, 2, 7, argv, NULL, cb, arg);
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
 * KEYS: msg. ARGV: account now retention prefix.
 * Only a message not yet with the carrier: queued with its queue entry not
 * yet read by any dequeuer (a read entry is in the group's pending list
 * until it is submitted, so it may be on the wire already), or retrying
 * (promote then drops its retry). The queue entry is deleted here, in the
 * same atomic step, so no dequeuer can read it afterwards.
 */
static struct store_script cancel_lua = { "cancel",
    "local h = redis.call('HMGET', KEYS[1], 'account', 'state', 'sid', 'route')\n"
    "if h[1] ~= ARGV[1] then return 1 end\n"
    "if h[2] == 'queued' then\n"
    "  if not h[3] or not h[4] then return 2 end\n"
    "  local q = ARGV[4] .. 'q:' .. h[4]\n"
    "  local ok, p = pcall(redis.call, 'XPENDING', q, 'smsgw', h[3], h[3], 1)\n"
    "  if not ok or #p > 0 then return 2 end\n"
    "  if redis.call('XDEL', q, h[3]) == 0 then return 2 end\n"
    "elseif h[2] ~= 'retrying' and h[2] ~= 'scheduled' and h[2] ~= 'held' then\n"
    "  return 2\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'state', 'cancelled', 'updated', ARGV[2],\n"
    "  'h:' .. ARGV[2] .. ':cancelled', 'cancel_sm')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
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
    char kmsg[160], now[24], ret[16];
    struct cancel_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    key(kmsg, sizeof(kmsg), r, "msg", id, NULL);
    snprintf(now, sizeof(now), "%llu", (unsigned long long)store_now_ms());
    snprintf(ret, sizeof(ret), "%u", RETENTION_S);
    const char *argv[] = { kmsg, account, now, ret, store_redis_prefix(r) };
    /* After anything batched in this pass (an accept of the same id
     * cannot be among them: the client has no id before its answer). */
    store_redis_flush(r);
    if (store_redis_eval(r, &cancel_lua, cancel_reply, c, 1, 4, argv, NULL) != 0) {
        free(c);
        cb(arg, -1);
    }
}

