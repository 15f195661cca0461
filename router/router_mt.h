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
#include <stddef.h>

#include "core/config.h"
#include "store/store_redis.h"

struct event_base;
struct mt_engine;

struct mt_engine *mt_engine_new(struct event_base *base, const struct gw_config *cfg,
                                struct store_redis *redis);
/*
 * Pacer grants over their own connection r (NULL: the engine's). On the
 * engine's, a grant queued behind the batched progress and receipt scripts
 * and the queue reads: round trips of 15-50 ms at 10,000 mps, and every
 * slot that came back later than its lateness budget was lost.
 */
void mt_engine_set_pacer_redis(struct mt_engine *e, struct store_redis *r);
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

/* ------------------------------------------------ operations (core/status, core/admin) */

struct mt_route_info {
    const char *name;           /* valid until the engine is freed */
    unsigned mps;
    unsigned in_memory;         /* jobs read from Redis, not yet finished */
    unsigned ready;             /* of which waiting to be sent */
    bool paused;
    bool bound;                 /* an SMSC of the route has a bound transmitter */
    unsigned smscs, smscs_suspended;    /* its SMSCs; of which suspended or probing (error rate) */
    double submitted, throttled;    /* submit_sm sent / throttled resps (process totals) */
};
size_t mt_engine_routes(const struct mt_engine *e, struct mt_route_info *out, size_t max);

struct mt_session_info {
    const char *smsc, *slot;    /* "sim", "sim#1" */
    const char *state;          /* "bound_trx", ... (lowercase state), "connecting" or
                                   "reconnecting" */
    bool bound;
    unsigned session_id;        /* 0 when none */
    unsigned long reconnects;
    unsigned outstanding, window;
    const char *health;         /* the SMSC's error-rate state: "active", "suspended", "probing" */
};
typedef void (*mt_session_fn)(void *arg, const struct mt_session_info *si);
/* fn for every bind slot of every SMSC. */
void mt_engine_sessions(const struct mt_engine *e, mt_session_fn fn, void *arg);

/* Error-rate failover state of each SMSC (router/router_health.h). */
struct mt_smsc_info {
    const char *smsc;
    const char *health;         /* "active", "suspended", "probing" */
    double error_rate;          /* errors / samples in the window now */
    unsigned samples;
    double rate_at_suspend;     /* what took it out last (0: never) */
    double probe_in_s;          /* suspended: seconds until the probe; else 0 */
    unsigned long suspensions;
};
typedef void (*mt_smsc_fn)(void *arg, const struct mt_smsc_info *si);
void mt_engine_smscs(const struct mt_engine *e, mt_smsc_fn fn, void *arg);

/* Pause (stop reading and sending; queued messages stay in Redis) or
 * resume a route. 0, or -1 when there is no such route. */
int mt_engine_pause(struct mt_engine *e, const char *route, bool pause);
/* Unbind every bound session of smsc; its clients reconnect. Returns how
 * many were unbound, or -1 when there is no such SMSC. */
int mt_engine_rebind(struct mt_engine *e, const char *smsc);

/*
 * Reload: a new engine for cfg that takes over old's clients (and their
 * live sessions) for every SMSC whose bind settings did not change (*kept
 * of them); the others get fresh clients. Both engines come back stopped:
 * the caller runs mt_engine_stop(old, ...) (in-flight submits end, binds of
 * SMSCs no longer configured are unbound), then mt_engine_start(new). The
 * old engine, and the config it points into, must outlive the new one:
 * free them after it (late resps of old jobs may still arrive on a kept
 * session until then). Paused routes stay paused.
 */
struct mt_engine *mt_engine_successor(struct mt_engine *old, const struct gw_config *cfg,
                                      unsigned *kept);

#endif
