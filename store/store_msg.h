/*
 * A message's life in Redis: accept, queue, submit, retry, receipts, final
 * state, and the record the API shows. Every transition is one Lua script,
 * so a crash between two Redis writes cannot leave a message half moved.
 * The hot ones (accept, submit progress, receipts) are batched: all of a
 * loop pass's go in one script call (store_redis_batch).
 *
 * Layout (P = the configured prefix):
 *   P msg:ID        hash: the record (fields below), p0..pN per-part receipt
 *                   state, s0..sN the SMSC's ids, sid its queue entry, and
 *                   its history: "h:MS:EVENT" = detail for every transition
 *   P q:ROUTE       stream, consumer group "smsgw": messages waiting to be
 *                   sent, one field d (the job's pairs as netstrings)
 *   P sched         sorted set by due ms: retries waiting (JSON of the stream entry)
 *   P idem:ACCT:REF our id for a client_ref, TTL = validity + 1 day
 *   P smscid:SMSC:NORMID  "ID:PART" for receipts, TTL = validity + 1 day
 *   P stats         hash of counters (receipts_unmatched, ...)
 *   P stats:b:...   delivery statistics, written by the final-state,
 *                   progress and opt-out scripts (store/store_stats.h)
 *   P clientq:ACCT  list: JSON items (receipts, MO) for the account's SMPP
 *                   receiver binds, oldest first (RPUSH by the scripts that
 *                   set a final state or record an MO)
 *   P clientq:ACCT:inflight:INSTANCE  list: items this instance took and
 *                   has not yet had a deliver_sm_resp OK for
 *   P failed:ROUTE  sorted set: the route's failed messages by failure
 *                   time (store/store_failed.h)
 * Single-instance Redis layout: keys of one script do not share a hash tag
 * yet, so it is not Redis Cluster ready.
 */
#ifndef STORE_MSG_H
#define STORE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_redis.h"

/* How long a record is kept after its final state (seconds). */
#define STORE_MSG_RETENTION_S (7 * 86400)

/* What the API accepted. Strings are copied. */
struct store_msg_new {
    const char *account;
    const char *from;
    uint8_t ton, npi;
    const char *to;             /* digits */
    const char *text;
    size_t text_len;
    const char *encoding;       /* "gsm7" | "ucs2" */
    unsigned segments;
    const char *route;
    const char *msg_class;      /* "transactional" | "marketing" */
    const char *callback_url;   /* may be NULL */
    const char *client_ref;     /* may be NULL */
    unsigned validity_s;
    bool system;                /* our own reply (STOP/HELP confirmation): no opt-out check */
    /* Submitted over SMPP: the record gets source "smpp" and the client's
     * registered_delivery (receipts for it go to P clientq:ACCT). NULL:
     * neither field is written (HTTP). */
    const char *source;
    uint8_t registered_delivery;
    const char *id;             /* our id, chosen earlier (store_new_id); NULL: a new one */
    /* Not sent before due_ms (epoch ms; 0: queue now): the message waits
     * in P sched with state hold_state ("scheduled" for send_at, "held"
     * for quiet hours) and hold_detail in its history; store_sched_promote
     * (store/store_sched.h) queues it when due (state queued, history "released"). */
    uint64_t due_ms;
    const char *hold_state;
    const char *hold_detail;
    /* Fallback channels after SMS, comma-separated ("email,ott"), and the
     * email address for an email step; NULL: none. Kept in the record
     * (router/fallback reads them when SMS fails). */
    const char *fallback;
    const char *email;
    /* With a fallback chain: P fbwait gets the id at watch_ms (epoch ms;
     * 0: not watched) in the accept script itself, so the "no receipt"
     * trigger cannot be lost between two writes (store/store_fallback.h). */
    uint64_t watch_ms;
};

/* due_ms for a message SMS will never carry (a number that cannot take
 * SMS): the record is stored with hold_state and no queue entry, for the
 * fallback chain. */
#define STORE_DUE_NEVER UINT64_MAX

/* Copy every string m points to into one allocation and point m at the
 * copies; returns it (free it after the last use of m). */
void *store_msg_new_copy(struct store_msg_new *m);

/* rc: 0 stored, 1 client_ref seen before (id is the original), 2 the
 * subscriber opted out (nothing stored, the refusal counted), -1 Redis
 * unavailable (nothing stored). */
typedef void (*store_accept_cb)(void *arg, int rc, const char *id);
void store_msg_accept(struct store_redis *r, const struct store_msg_new *m,
                      store_accept_cb cb, void *arg);

/* rc: 0 found (json is the record), 1 not found or not this account's, -1 unavailable. */
typedef void (*store_get_cb)(void *arg, int rc, const char *json);
void store_msg_get(struct store_redis *r, const char *account, const char *id,
                   store_get_cb cb, void *arg);

typedef void (*store_done_cb)(void *arg, int rc);

/*
 * query_sm: the record's state and when it last changed (epoch ms).
 * rc: 0 found, 1 not found or not this account's, -1 unavailable.
 */
typedef void (*store_query_cb)(void *arg, int rc, const char *state, uint64_t updated_ms);
void store_msg_query(struct store_redis *r, const char *account, const char *id,
                     store_query_cb cb, void *arg);

/*
 * cancel_sm: state "cancelled" (final, history entry, retention TTL) when
 * the message is still queued and no dequeuer has read its queue entry
 * (the entry is deleted in the same step), or retrying (the retry is
 * dropped when due). rc: 0 cancelled, 1 not found or not this account's,
 * 2 not cancellable (with the carrier, being sent, or final), -1 unavailable.
 */
void store_msg_cancel(struct store_redis *r, const char *account, const char *id,
                      store_done_cb cb, void *arg);

/*
 * smsgwctl requeue: a message that ended failed, rejected, expired,
 * undelivered or fallback_failed goes back on its route's queue as a new
 * attempt (its full validity again, history "queued: requeued after
 * STATE") and out of the failed index; requeueing it again is refused
 * (rc 2, it is queued). sender gives its sender's TON/NPI now (false: not
 * configured).
 * cb rc: 0 queued (info: the route), 1 no such message, 2 not in a failed
 * state (info: the state), 3 sender no longer configured (info: it),
 * -1 Redis.
 */
typedef bool (*store_sender_fn)(void *arg, const char *from, uint8_t *ton, uint8_t *npi);
typedef void (*store_requeue_cb)(void *arg, int rc, const char *info);
void store_msg_requeue(struct store_redis *r, const char *id, store_sender_fn sender,
                       store_requeue_cb cb, void *arg);

/* A queued message as the dequeuer reads it. */
#define STORE_JOB_TEXT_MAX 2048
struct store_job {
    char stream_id[32];
    char id[40];
    char account[64];
    char from[24];
    uint8_t ton, npi;
    char to[24];
    char encoding[8];
    unsigned segments;
    unsigned ref;               /* concatenation reference */
    uint64_t deadline_ms;       /* validity end, epoch ms */
    unsigned attempt;           /* 0 on the first try */
    uint32_t parts_mask;        /* parts still to send (bit i = part i); 0 = all */
    char callback_url[2049];    /* "" when none */
    char client_ref[65];
    size_t text_len;
    char text[STORE_JOB_TEXT_MAX];
};

/* Create the consumer group of route's queue if it does not exist. */
void store_queue_init(struct store_redis *r, const char *route);

/*
 * Read up to count jobs. pending_after NULL reads new entries; an id ("0"
 * to start) re-reads this consumer's own unacknowledged entries after that
 * id (after a restart: continue from the last id returned, or the same
 * first entries come back every time). cb gets n jobs (0 when there are no
 * more), or n = -1 when Redis failed. jobs is valid only during the callback.
 */
typedef void (*store_read_cb)(void *arg, int n, struct store_job *jobs);
void store_queue_read(struct store_redis *r, const char *route, const char *consumer,
                      unsigned count, const char *pending_after, store_read_cb cb, void *arg);

/* Take over entries another consumer left pending for min_idle_ms
 * (a dead instance); they are then read as this consumer's pending. */
void store_queue_claim(struct store_redis *r, const char *route, const char *consumer,
                       unsigned min_idle_ms);

/* A part got its submit_sm_resp OK: remember its SMSC id for receipts
 * (normid is the normalised form, raw as the SMSC sent it). */
void store_part_submitted(struct store_redis *r, const char *smsc, const char *normid,
                          const char *raw, const struct store_job *job, unsigned part,
                          unsigned ttl_s);

/* Every part of the job is with the SMSC: state submitted, entry acked.
 * Without a final receipt by await_ms (epoch ms; 0: never), the receipt-
 * timeout sweep (store_sched_sweep_receipts) gives it the state unknown. */
void store_job_submitted(struct store_redis *r, const char *route, const struct store_job *job,
                         const char *smsc, uint64_t await_ms, store_done_cb cb, void *arg);

/* Send again later: ack this entry and park the job (with parts_mask and
 * attempt as given) until due_ms. */
void store_job_retry(struct store_redis *r, const char *route, const struct store_job *job,
                     uint64_t due_ms, const char *reason, store_done_cb cb, void *arg);

/* Terminal without a receipt: "rejected", "failed", "expired". */
void store_job_final(struct store_redis *r, const char *route, const struct store_job *job,
                     const char *state, const char *detail, store_done_cb cb, void *arg);

/*
 * A receipt for smsc's normalised id: stat is the Appendix B word (DELIVRD,
 * UNDELIV, ...). cb rc: 1 matched (info set: state is the new message state,
 * or "" while parts are outstanding or on a repeat), 0 unknown id (counted),
 * -1 unavailable. info is valid only during the callback.
 */
struct store_receipt_info {
    const char *id;
    const char *state;
    const char *callback_url;   /* "" when none (only set with a new state) */
    const char *client_ref;
};
typedef void (*store_dlr_cb)(void *arg, int rc, const struct store_receipt_info *info);
void store_receipt(struct store_redis *r, const char *smsc, const char *normid, const char *stat,
                   const char *err, store_dlr_cb cb, void *arg);

/*
 * Opt-outs: a subscriber (E.164 digits) out of one sender's number
 * (P optout:num:SENDER) or, account_wide, of the whole account
 * (P optout:acct:ACCOUNT). out=false opts back in from both. cb rc 0 or -1.
 */
void store_optout_set(struct store_redis *r, const char *sender, const char *account,
                      const char *subscriber, bool out, bool account_wide, store_done_cb cb,
                      void *arg);

/*
 * The API's opt-out calls for one scope: sender's number, or (sender NULL)
 * the account. op 0 looks up numbers[0] (in either scope), 1 adds, 2 removes.
 * cb: rc 0 or -1, opted_out after the call, count changed.
 */
typedef void (*store_optout_cb)(void *arg, int rc, bool opted_out, unsigned count);
void store_optout_op(struct store_redis *r, const char *sender, const char *account,
                     const char *const *numbers, size_t n, int op, store_optout_cb cb, void *arg);

/*
 * One part of a concatenated MO (UTF-8 text of that part). Parts may come
 * on different binds and in any order; they wait in P moparts:FROM:TO:REF
 * (and P moparts:open, by deadline) until all total are in. cb rc: 1 complete
 * (text is the whole message), 0 stored and waiting, -1 unavailable.
 */
typedef void (*store_mo_part_cb)(void *arg, int rc, const char *text, size_t len);
void store_mo_part(struct store_redis *r, const char *from, const char *to, unsigned ref,
                   unsigned total, unsigned seq, const char *text, size_t len, unsigned ttl_s,
                   store_mo_part_cb cb, void *arg);
/* Drop incomplete MO sets whose time ran out; each is logged. */
void store_mo_expire(struct store_redis *r);

/* Keep an MO (a JSON object) in P mo:ACCOUNT, or P mo:unrouted when account
 * is NULL (counted in stats). client_item (may be NULL; account must be set)
 * is pushed onto P clientq:ACCOUNT in the same script. cb rc 0 or -1. */
void store_mo_record(struct store_redis *r, const char *account, const char *json,
                     const char *client_item, store_done_cb cb, void *arg);

/*
 * The queue of items going back to an account's SMPP binds (receipts, MO),
 * delivered at least once:
 *   take     moves up to max items from the head of P clientq:ACCOUNT to the
 *            tail of this instance's P clientq:ACCOUNT:inflight:INSTANCE;
 *            cb gets them in order (n = -1 when Redis failed). items are
 *            valid only during the callback.
 *   ack      removes one item from the inflight list (after deliver_sm_resp OK).
 *   requeue  moves every inflight item back to the head of the queue, in
 *            order (after a failed delivery, and at start for what a previous
 *            run of this instance left in flight).
 */
typedef void (*store_clientq_take_cb)(void *arg, int n, const char *const *items,
                                      const size_t *lens);
void store_clientq_take(struct store_redis *r, const char *account, const char *instance,
                        unsigned max, store_clientq_take_cb cb, void *arg);
void store_clientq_ack(struct store_redis *r, const char *account, const char *instance,
                       const char *item, size_t len);
void store_clientq_requeue(struct store_redis *r, const char *account, const char *instance,
                           store_done_cb cb, void *arg);

/* "m" + 12 hex digits of ms + 8 random hex: sortable, unguessable enough. */
void store_new_id(char out[24]);

uint64_t store_now_ms(void);

#endif
