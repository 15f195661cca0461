/*
 * One asynchronous Redis connection on the event loop (hiredis + its
 * libevent adapter), kept alive: it reconnects with backoff after any loss,
 * re-authenticates, and has a command watchdog (hiredis 0.14 has none): a
 * command unanswered for timeout_ms drops the connection, so every pending
 * callback runs with reply NULL instead of waiting forever.
 *
 * Callbacks run exactly once per accepted command, with the reply, or NULL
 * when the connection failed. The reply is freed when the callback returns:
 * copy what you keep.
 */
#ifndef STORE_REDIS_H
#define STORE_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "core/config.h"

struct event_base;
struct store_redis;

typedef void (*store_reply_cb)(struct store_redis *r, redisReply *reply, void *arg);

/* A Lua script sent as EVALSHA, falling back to EVAL on NOSCRIPT. */
struct store_script {
    const char *name;
    const char *source;
    char sha[41];               /* filled lazily */
};

struct store_redis *store_redis_new(struct event_base *base, const struct cfg_redis *cfg,
                                    const char *name);
void store_redis_free(struct store_redis *r);
/* Name every connection of r "smsgwd:INSTANCE:CONN" (CLIENT SETNAME, sent
 * at each connect), so that CLIENT LIST on Redis tells an operator which
 * smsgwd and which of its connections each client is. */
void store_redis_set_client_name(struct store_redis *r, const char *instance);

/* Connected and authenticated. */
bool store_redis_ready(const struct store_redis *r);
/* Called each time the connection becomes ready (first time and after
 * every reconnect). */
void store_redis_on_ready(struct store_redis *r, void (*fn)(struct store_redis *, void *), void *arg);
const char *store_redis_prefix(const struct store_redis *r);

/* Send a command. Returns 0 (cb will be called once) or -1 when not
 * connected (cb is not called). */
int store_redis_cmd(struct store_redis *r, store_reply_cb cb, void *arg, const char *fmt, ...);
int store_redis_argv(struct store_redis *r, store_reply_cb cb, void *arg, int argc,
                     const char **argv, const size_t *argvlen);
/* Run script with nkeys keys then args (argv holds keys then args). */
int store_redis_eval(struct store_redis *r, struct store_script *s, store_reply_cb cb, void *arg,
                     int nkeys, int nargs, const char **argv, const size_t *argvlen);

/*
 * Batched scripts: add one item (its own arguments, no KEYS) to the next
 * EVALSHA of script s; items added during one pass of the event loop go
 * together at its end, batches of a lower rank first. The script reads
 * ARGV as "n a1..an n b1..bn ..." and returns one array element per item,
 * which is what cb gets (or NULL / the error reply when the whole batch
 * failed). Returns -1 (cb not called) when not connected.
 */
int store_redis_batch(struct store_redis *r, struct store_script *s, unsigned rank,
                      store_reply_cb cb, void *arg, int nargs, const char **argv,
                      const size_t *argvlen);
/* Send every batched item now (before a command that must follow them). */
void store_redis_flush(struct store_redis *r);

/* Commands sent / failed, for metrics and tests. */
unsigned long store_redis_sent(const struct store_redis *r);
unsigned long store_redis_failures(const struct store_redis *r);

/* True if reply is an error reply (or NULL). */
bool store_reply_failed(const redisReply *reply);

#endif
