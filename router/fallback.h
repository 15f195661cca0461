/*
 * The fallback chain: when SMS cannot carry a message, the channels its
 * request (`"fallback": ["rcs", "email"]`) or its route names carry it, one
 * after the other, through router/channels.
 *
 * Triggers (fallback_sms_failed): a permanent submit error (rejected),
 * failed or expired before submit, an UNDELIV/REJECTD/EXPIRED receipt, a
 * number that cannot take SMS (no_sms, at accept), and no receipt within
 * the route's receipt_timeout_s (P fbwait, polled here).
 *
 * A step fails when chan_send refuses the message, its result is FAILED
 * and permanent, or retryable with its tries (the connector's
 * retry_attempts) used up, or, for RCS, the capability check answers "not
 * capable". A retryable failure with tries left runs the same step again
 * after a backoff (or the provider's Retry-After), through P fbwait: the
 * wait is in Redis, not in this process. Each
 * step's outcome is in the record's history ("h:MS:fallback" =
 * "channel=email result=accepted provider_id=<...>"); the first accepted
 * step ends the chain with state sent_CHANNEL-TYPE (sent_email, sent_ott,
 * sent_rcs), and a chain with no step left ends in fallback_failed.
 *
 * Provider status webhooks (core/chan_hooks → fallback_channel_event):
 * delivered / read move sent_ott to delivered_ott, read_ott (RCS alike)
 * and POST the status callback; a "failed" for the accepted step runs the
 * chain on from its next step.
 *
 * The claim is in Redis (store_fallback_claim), so a chain runs once; the
 * steps in progress are not durable: a crash in the middle leaves the
 * message in state "fallback" (see docs/channels.md).
 */
#ifndef ROUTER_FALLBACK_H
#define ROUTER_FALLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "router/channels/channel.h"

struct event_base;
struct gw_config;
struct store_redis;
struct webhook;
struct fallback;

/* Connectors for every configured channel (cfg->channels). cfg, r and w
 * (may be NULL) are borrowed. Never NULL. Free with fallback_free(). */
struct fallback *fallback_new(struct event_base *base, const struct gw_config *cfg,
                              struct store_redis *r, struct webhook *w);
/* Connectors report what they hold (recorded, the chains resume later);
 * callbacks of Redis calls still pending find fb marked closing (fb is
 * released with the last of them, e.g. when store_redis_free answers). */
void fallback_free(struct fallback *fb);

/* SMS for id is over with state (undelivered, rejected, expired, failed,
 * no_sms): run its chain if it has one (a Redis read when it does not). */
void fallback_sms_failed(struct fallback *fb, const char *id, const char *state);

/*
 * A status event from a provider's webhook (ev->provider_id as the
 * connector reported it when the send was accepted). Recorded in the
 * message's history, its state moved (with a status callback), or the
 * chain run on. cb (may be NULL) gets 1 recorded, 0 no such provider id,
 * -1 Redis failed (the provider should send it again).
 */
typedef void (*fallback_event_cb)(void *arg, int rc);
void fallback_channel_event(struct fallback *fb, enum chan_type type, const struct chan_event *ev,
                            fallback_event_cb cb, void *arg);

/* The channel settings fb runs with (webhook secrets among them). */
const struct chan_config *fallback_channels(const struct fallback *fb);

/* Redis is connected and fb is not shutting down. */
bool fallback_ready(const struct fallback *fb);

/* (The "no_receipt" watch is written by the accept script: store_msg_new
 * watch_ms; this module polls P fbwait.) */

#endif
