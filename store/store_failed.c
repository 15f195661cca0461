#include "store/store_failed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/log.h"

/*
 * KEYS: index. ARGV: prefix since until cur_score cur_member examine want
 * mode cause smsc smsc_on_route dry.
 * Entries come in score order, and at one score in member order, so the
 * cursor (score, member) is exclusive and survives entries removed behind
 * it. Removals wait until the walk is over: a ZREM under the walk's LIMIT
 * offset would make it skip the entry after. Answers {done, score, member,
 * then id from state error smsc score per match}.
 */
static struct store_script scan_lua = { "failed_scan",
    "local prefix, lo, hi, cs, cm = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local examine, want = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local mode, cause, smsc, onroute, dry = ARGV[8], ARGV[9], ARGV[10], ARGV[11] == '1',\n"
    "  ARGV[12] == '1'\n"
    "local csn = tonumber(cs)\n"
    "if csn and csn > tonumber(lo) then lo = cs end\n"
    "local failed = {failed = 1, rejected = 1, expired = 1, undelivered = 1}\n"
    "local function match(h)\n"
    "  if smsc ~= '' then\n"
    "    if h[3] and h[3] ~= '' then\n"
    "      if h[3] ~= smsc then return false end\n"
    "    elseif not onroute then return false end\n"
    "  end\n"
    "  if mode == 'a' then return true end\n"
    "  if mode == 's' then return h[1] == cause end\n"
    "  local e = h[2] or ''\n"
    "  if mode == 'e' then return string.lower(e) == cause end\n"
    "  if mode == 'n' then\n"
    "    return string.match(e, '^%d+$') ~= nil and tonumber(e) == tonumber(cause)\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "local out, stale = {0, cs, cm}, {}\n"
    "local seen, found, off = 0, 0, 0\n"
    "while seen < examine and found < want do\n"
    "  local r = redis.call('ZRANGEBYSCORE', KEYS[1], lo, hi, 'WITHSCORES', 'LIMIT', off, 100)\n"
    "  if #r == 0 then out[1] = 1 break end\n"
    "  off = off + #r / 2\n"
    "  for i = 1, #r, 2 do\n"
    "    local id, s = r[i], r[i + 1]\n"
    "    if not csn or tonumber(s) > csn or id > cm then\n"
    "      seen = seen + 1\n"
    "      out[2], out[3] = s, id\n"
    "      local h = redis.call('HMGET', prefix .. 'msg:' .. id, 'state', 'error', 'smsc',\n"
    "        'from')\n"
    "      if not h[1] or not failed[h[1]] then\n"
    "        stale[#stale + 1] = id\n"
    "      elseif match(h) then\n"
    "        found = found + 1\n"
    "        for _, v in ipairs({id, h[4] or '', h[1], h[2] or '', h[3] or '', s}) do\n"
    "          out[#out + 1] = v\n"
    "        end\n"
    "      end\n"
    "      if seen >= examine or found >= want then break end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if not dry and #stale > 0 then redis.call('ZREM', KEYS[1], unpack(stale)) end\n"
    "return out\n", "" };

struct scan_ctx {
    store_failed_scan_cb cb;
    void *arg;
    struct store_failed_cursor *cur;
};

static const char *
rstr(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? e->str : "";
}

static void
scan_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct scan_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        (reply->elements - 3) % 6 != 0) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=failed_scan error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL, false);
        free(c);
        return;
    }
    bool done = reply->element[0]->integer == 1;
    snprintf(c->cur->score, sizeof(c->cur->score), "%s", rstr(reply->element[1]));
    snprintf(c->cur->member, sizeof(c->cur->member), "%s", rstr(reply->element[2]));
    size_t n = (reply->elements - 3) / 6;
    struct store_failed_match *m = calloc(n + 1, sizeof(*m));
    if (!m)
        abort();
    for (size_t i = 0; i < n; i++) {
        redisReply **e = reply->element + 3 + i * 6;
        m[i].id = rstr(e[0]);
        m[i].from = rstr(e[1]);
        m[i].state = rstr(e[2]);
        m[i].error = rstr(e[3]);
        m[i].smsc = rstr(e[4]);
        m[i].failed_ms = strtoull(rstr(e[5]), NULL, 10);
    }
    c->cb(c->arg, (int)n, m, done);
    free(m);
    free(c);
}

void
store_failed_scan(struct store_redis *r, const char *route, const struct store_failed_filter *f,
                  struct store_failed_cursor *cur, unsigned examine, unsigned want,
                  store_failed_scan_cb cb, void *arg)
{
    char key[300], since[24], until[24], ex[16], wn[16], mode[2] = { f->mode, 0 };
    struct scan_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    c->cur = cur;
    snprintf(key, sizeof(key), "%sfailed:%s", store_redis_prefix(r), route);
    snprintf(since, sizeof(since), "%llu", (unsigned long long)f->since_ms);
    snprintf(until, sizeof(until), "%llu", (unsigned long long)f->until_ms);
    snprintf(ex, sizeof(ex), "%u", examine ? examine : 1);
    snprintf(wn, sizeof(wn), "%u", want ? want : 1);
    const char *argv[] = { key, store_redis_prefix(r), since, until, cur->score, cur->member, ex,
                           wn, mode, f->cause ? f->cause : "", f->smsc ? f->smsc : "",
                           f->smsc_on_route ? "1" : "0", f->dry_run ? "1" : "0" };
    /* After the failures batched in this pass of the loop. */
    store_redis_flush(r);
    if (store_redis_eval(r, &scan_lua, scan_reply, c, 1, 12, argv, NULL) != 0) {
        free(c);
        cb(arg, -1, NULL, false);
    }
}
