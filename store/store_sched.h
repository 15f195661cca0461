/*
 * P sched (sorted set by due ms; JSON items {k: record key, r: route,
 * f: stream fields}): retries waiting (store_job_retry), and HTTP messages
 * held by send_at or quiet hours (store_msg_accept with due_ms).
 * store_sched_promote() moves what is due onto its route's queue.
 *
 * Messages a client submitted with a schedule_delivery_time in the future
 * (core/smpp_front), kept in Redis until they are due and then stored as
 * any message (store_msg_accept with the same id).
 *
 *   P smppsched     sorted set: the message as JSON (core/smpp_front's
 *                   form), by due time in epoch ms
 *   P msg:ID        a record with state "scheduled" (id, account, from,
 *                   to, source, created, updated, due, its history), so
 *                   query_sm and GET find the message before it is due;
 *                   the accept replaces it
 */
#ifndef STORE_SCHED_H
#define STORE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "store/store_redis.h"

struct store_sched_new {
    const char *id, *account, *from, *to;
    uint64_t due_ms;
    const char *json;               /* what store_sched_due gives back */
    unsigned ttl_s;                 /* of the record: until due, plus validity and a day */
};

/* cb rc 0 kept, -1 Redis failed (nothing kept). */
typedef void (*store_sched_cb)(void *arg, int rc);
void store_sched_add(struct store_redis *r, const struct store_sched_new *m, store_sched_cb cb,
                     void *arg);

/* Up to max messages due at now_ms (epoch), oldest first; they stay in the
 * set until store_sched_remove. n -1 when Redis failed. items valid only
 * during the callback. */
typedef void (*store_sched_due_cb)(void *arg, int n, const char *const *items,
                                   const size_t *lens);
void store_sched_due(struct store_redis *r, uint64_t now_ms, unsigned max, store_sched_due_cb cb,
                     void *arg);

/* The message was stored (or dropped): out of the set. Fire and forget. */
void store_sched_remove(struct store_redis *r, const char *item, size_t len);

/* A scheduled or held message store_sched_promote() queued (state
 * "queued", history "released"). Strings valid during the callback. */
struct store_sched_released {
    const char *id, *callback_url, *client_ref, *to;   /* "" when absent */
    unsigned segments;
};
/* released[0..n-1]; n -1 when Redis failed. */
typedef void (*store_sched_released_cb)(void *arg, int n,
                                        const struct store_sched_released *released);

/*
 * Move up to max due entries of P sched onto their queues (call a few
 * times a second): a retry unless its message was cancelled meanwhile; a
 * scheduled or held message becomes queued, and is reported to cb (may be
 * NULL) so that its status callback says so.
 */
void store_sched_promote(struct store_redis *r, unsigned max, store_sched_released_cb cb,
                         void *arg);

/*
 * End up to max submitted messages whose receipt wait (P await, set by
 * store_job_submitted) is over: state "unknown", history "no receipt by the
 * end of the validity period", an SMPP client's UNKNOWN receipt if it asked.
 * cb (may be NULL) gets them (released[i]: the message that ended) so that
 * their status callbacks say so; -1 when Redis failed. Call about once a
 * second.
 */
void store_sched_sweep_receipts(struct store_redis *r, unsigned max, store_sched_released_cb cb,
                                void *arg);

#endif
