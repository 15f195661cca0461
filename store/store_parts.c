#include "store/store_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* KEYS: set. ARGV: id_if_new total seq text ttl. Reply {rc, id, texts...}. */
static struct store_script parts_add_lua = { "parts_add",
    "local id = redis.call('HGET', KEYS[1], 'id')\n"
    "if not id then\n"
    "  id = ARGV[1]\n"
    "  redis.call('HSET', KEYS[1], 'id', id)\n"
    "  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))\n"
    "end\n"
    "if redis.call('HEXISTS', KEYS[1], 'done') == 1 then return {2, id} end\n"
    "redis.call('HSET', KEYS[1], 'p' .. ARGV[3], ARGV[4])\n"
    "local out = {1, id}\n"
    "for i = 1, tonumber(ARGV[2]) do\n"
    "  local v = redis.call('HGET', KEYS[1], 'p' .. i)\n"
    "  if not v then return {0, id} end\n"
    "  out[#out + 1] = v\n"
    "end\n"
    "return out\n", "" };

struct add_ctx {
    store_parts_cb cb;
    void *arg;
};

static void
set_key(struct store_redis *r, const char *account, const char *group, char *out, size_t size)
{
    snprintf(out, size, "%scparts:%s:%s", store_redis_prefix(r), account, group);
}

static void
add_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct add_ctx *c = arg;
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=parts_add error=\"%s\"", reply->str);
        c->cb(c->arg, -1, NULL, NULL, 0);
        free(c);
        return;
    }
    int rc = (int)reply->element[0]->integer;
    const char *id = reply->element[1]->str;
    if (rc != 1) {
        c->cb(c->arg, rc, id, NULL, 0);
        free(c);
        return;
    }
    size_t len = 0;
    for (size_t i = 2; i < reply->elements; i++)
        len += reply->element[i]->len;
    char *text = malloc(len + 1);
    if (!text)
        abort();
    len = 0;
    for (size_t i = 2; i < reply->elements; i++) {
        memcpy(text + len, reply->element[i]->str, reply->element[i]->len);
        len += reply->element[i]->len;
    }
    text[len] = '\0';
    c->cb(c->arg, 1, id, text, len);
    free(text);
    free(c);
}

void
store_parts_add(struct store_redis *r, const char *account, const char *group, unsigned total,
                unsigned seq, const char *id_if_new, const char *text, size_t len, unsigned ttl_s,
                store_parts_cb cb, void *arg)
{
    char k[400], tot[12], sq[12], ttl[12];
    struct add_ctx *c = malloc(sizeof(*c));

    if (!c)
        abort();
    c->cb = cb;
    c->arg = arg;
    set_key(r, account, group, k, sizeof(k));
    snprintf(tot, sizeof(tot), "%u", total);
    snprintf(sq, sizeof(sq), "%u", seq);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    const char *argv[] = { k, id_if_new, tot, sq, text, ttl };
    size_t lens[] = { strlen(k), strlen(id_if_new), strlen(tot), strlen(sq), len, strlen(ttl) };
    if (store_redis_eval(r, &parts_add_lua, add_reply, c, 1, 5, argv, lens) != 0) {
        free(c);
        cb(arg, -1, NULL, NULL, 0);
    }
}

void
store_parts_done(struct store_redis *r, const char *account, const char *group)
{
    char k[400];

    set_key(r, account, group, k, sizeof(k));
    store_redis_cmd(r, NULL, NULL, "HSET %s done 1", k);
}
