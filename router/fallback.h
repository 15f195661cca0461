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
 * (retryable or not: the chain moves on rather than retrying the same
 * channel), or, for RCS, the capability check answers "not capable". Each
 * step's outcome is in the record's history ("h:MS:fallback" =
 * "channel=email result=accepted provider_id=<...>"); the first accepted
 * step ends the chain with state sent_CHANNEL-TYPE (sent_email, sent_ott,
 * sent_rcs), and a chain with no step left ends in fallback_failed.
 *
 * The claim is in Redis (store_fallback_claim), so a chain runs once; the
 * steps in progress are not durable: a crash in the middle leaves the
 * message in state "fallback" (see docs/channels.md).
 */
#ifndef ROUTER_FALLBACK_H
#define ROUTER_FALLBACK_H

#include <stdint.h>

struct event_base;
struct gw_config;
struct store_redis;
struct webhook;
struct fallback;

/* Connectors for every configured channel (cfg->channels). cfg, r and w
 * (may be NULL) are borrowed. Never NULL. Free with fallback_free(). */
struct fallback *fallback_new(struct event_base *base, const struct gw_config *cfg,
                              struct store_redis *r, struct webhook *w);
void fallback_free(struct fallback *fb);

/* SMS for id is over with state (undelivered, rejected, expired, failed,
 * no_sms): run its chain if it has one (a Redis read when it does not). */
void fallback_sms_failed(struct fallback *fb, const char *id, const char *state);

/* (The "no_receipt" watch is written by the accept script: store_msg_new
 * watch_ms; this module polls P fbwait.) */

#endif
