/*
 * The endpoints the fallback channels' providers call with status events
 * (docs/channels.md, "Provider webhooks"):
 *
 *   POST /v1/webhooks/ott   WhatsApp Cloud API status webhooks, signed
 *                           X-Hub-Signature-256 with the app secret
 *   GET  /v1/webhooks/ott   Meta's subscription handshake (hub.mode,
 *                           hub.verify_token, hub.challenge)
 *   POST /v1/webhooks/rcs   RBM events (bare, or in a Pub/Sub push
 *                           envelope), signed X-Goog-Signature with the
 *                           clientToken; also RBM's registration check
 *                           {"clientToken","secret"}
 *
 * No API key: the provider's signature is the authentication (401 when it
 * does not verify, nothing recorded). Each event goes to
 * fallback_channel_event(); the answer is 200 once every event is in
 * Redis (unknown provider ids included: counted and logged, since the
 * provider would otherwise send them for days), 400 for a body that is not
 * the provider's JSON, 503 when Redis is unavailable (the provider sends
 * it again).
 */
#ifndef CORE_CHAN_HOOKS_H
#define CORE_CHAN_HOOKS_H

#include <stdbool.h>

struct evhttp_request;
struct fallback;

#define CHAN_HOOKS_PREFIX "/v1/webhooks/"

/*
 * Answer req when path is one of the endpoints above (returns true; the
 * reply may come later, from the event loop), else return false and leave
 * req alone. fb (borrowed) has the channel settings and records events; a
 * NULL fb answers 404.
 */
bool chan_hooks_http(struct fallback *fb, struct evhttp_request *req, const char *path);

#endif
