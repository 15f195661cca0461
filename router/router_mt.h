/*
 * The MT engine: carrier binds, and per route a paced dequeuer that moves
 * messages from the route's Redis queue to submit_sm on the route's live
 * sessions, handles every resp (submitted, throttled, retry, rejected),
 * and correlates delivery receipts back to messages through Redis.
 *
 * Delivery to the SMSC is at least once: a queue entry is acknowledged in
 * Redis only after its submit_sm_resp, in the same script that records the
 * outcome, so a crash at any moment leaves it to be sent again on restart.
 */
#ifndef ROUTER_MT_H
#define ROUTER_MT_H

#include <stdbool.h>

#include "core/config.h"
#include "store/store_redis.h"

struct event_base;
struct mt_engine;

struct mt_engine *mt_engine_new(struct event_base *base, const struct gw_config *cfg,
                                struct store_redis *redis);
struct webhook;
/* Status callbacks for every state change go through w (may be NULL). */
void mt_engine_set_webhook(struct mt_engine *e, struct webhook *w);
/* POST one status event to url (nothing when url is NULL or ""). */
void mt_notify(struct webhook *w, const char *url, const char *id, const char *state,
               const char *client_ref, const char *error, const char *to, unsigned segments);

/* fn(arg, account) runs after a script that may have pushed an item onto
 * P clientq:ACCOUNT (receipt, MO) succeeded; account is NULL when not known
 * here. core/smpp_front uses it to deliver at once instead of at its poll. */
void mt_engine_on_clientq(struct mt_engine *e, void (*fn)(void *arg, const char *account),
                          void *arg);

struct fallback;
/* Messages whose SMS ends undelivered, rejected, expired or failed go to
 * fb's chain (router/fallback; fb may be NULL). */
void mt_engine_set_fallback(struct mt_engine *e, struct fallback *fb);

/* A message was queued on route: look at its queue now rather than at the
 * next poll (an empty queue is polled 20 times a second). */
void mt_engine_wake(struct mt_engine *e, const char *route);

/* Connect every SMSC bind and start the dequeuers. */
void mt_engine_start(struct mt_engine *e);
/* Stop reading queues, wait for in-flight submits (bounded), unbind; then
 * done(arg). Messages not yet answered stay in Redis for the next start. */
void mt_engine_stop(struct mt_engine *e, void (*done)(void *), void *arg);
void mt_engine_free(struct mt_engine *e);

/* Status counters for logs and tests. */
struct mt_stats {
    unsigned long submitted_parts;
    unsigned long resp_ok, resp_throttled, resp_temp, resp_perm;
    unsigned long retries, rejected, failed, expired;
    unsigned long receipts, receipts_unmatched, mo_unrouted;
    unsigned bound_sessions;
};
void mt_engine_stats(const struct mt_engine *e, struct mt_stats *out);

#endif
