/*
 * Status callbacks: POST a JSON event to a message's callback URL when the
 * message changes state, without ever blocking the event loop.
 *
 * libcurl's multi interface is driven by libevent on the daemon's
 * event_base (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION +
 * curl_multi_socket_action); DNS goes through curl's threaded resolver.
 * A callback is tried, and retried with exponential backoff on connection
 * errors, timeouts, 408, 429 and 5xx (Retry-After honoured on 429 and 503),
 * until a 2xx (done), another 4xx or 3xx (permanent failure), max_attempts
 * or max_age_ms. At most max_inflight requests are on the wire; the rest
 * wait in memory in FIFO order, at most max_queue of them (beyond that,
 * webhook_post() refuses and the drop is counted and logged). Nothing here
 * is durable: callbacks still in memory when the daemon stops are lost
 * (each is logged). See docs/webhooks.md.
 *
 * Every request carries:
 *   Content-Type: application/json
 *   User-Agent: smsgw/0.1
 *   X-Smsgw-Event-Id: <event id>     the same on every retry: receivers dedupe
 *   X-Smsgw-Signature: sha256=<hex>  HMAC-SHA256(secret, exact body), when the
 *                                    account has a secret
 *
 * Single-threaded: every function must be called from the thread running
 * the event_base.
 */
#ifndef CORE_WEBHOOK_H
#define CORE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct webhook;

struct webhook_cfg {
    unsigned max_inflight;      /* requests on the wire at once (default 64) */
    unsigned max_queue;         /* waiting in memory, for a slot or a retry (default 100000) */
    unsigned timeout_ms;        /* whole request, connect to last byte (default 10000) */
    unsigned max_attempts;      /* tries in all, the first included (default 12) */
    unsigned backoff_min_ms;    /* delay before the first retry (default 1000) */
    unsigned backoff_max_ms;    /* backoff doubles up to this (default 300000) */
    unsigned max_age_ms;        /* no attempt starts later than this after webhook_post
                                   (default 3600000; 0: no limit) */
};

/* Results of webhook_post(). */
enum webhook_rc {
    WEBHOOK_OK = 0,
    WEBHOOK_EFULL = -1,         /* max_queue callbacks already wait: dropped */
    WEBHOOK_EINVAL = -2,        /* URL not http(s)://host...; event_id NULL, empty,
                                   over 128 bytes, or not printable ASCII without spaces */
    WEBHOOK_ECLOSED = -3,       /* webhook_drain() was called */
};

/* Fill c with the defaults above. */
void webhook_cfg_defaults(struct webhook_cfg *c);

/*
 * A callback sender on base (one per daemon). Values of cfg that are 0 take
 * their default (except max_age_ms, where 0 means no limit); cfg is copied.
 * Initialises libcurl on first use (curl_global_init, once per process; the
 * daemon may call it itself earlier, before starting threads). Never returns
 * NULL (aborts when libcurl cannot be initialised). Free with webhook_free().
 */
struct webhook *webhook_new(struct event_base *base, const struct webhook_cfg *cfg);

/*
 * Queue one POST of body (len bytes, sent as is) to url. url, body and
 * event_id are copied; secret (NULL or "": no signature) is used here to
 * sign the body and not kept. event_id is sent as X-Smsgw-Event-Id and
 * names the callback in every log line (webhook_event_id() builds one that
 * starts with the message id). Returns WEBHOOK_OK or one of the errors
 * above; the transfer runs from the event loop (nothing blocks here), and its
 * outcome is only logged and counted (webhook_stats()).
 */
int webhook_post(struct webhook *w, const char *url, const char *body, size_t len,
                 const char *event_id, const char *secret);

/*
 * The event id of msg_id entering state: "<msg_id>:<state>" into buf
 * (truncated to size). States only move forward, so it names one
 * transition, and is the same if the transition is reported again (after a
 * restart, say): receivers can dedupe on it.
 */
void webhook_event_id(const char *msg_id, const char *state, char *buf, size_t size);

/* One status event. NULL strings are sent as JSON null. */
struct webhook_status {
    const char *msg_id;
    const char *event_id;       /* NULL: webhook_event_id(msg_id, state) */
    const char *state;          /* "queued" "submitted" "delivered" "undelivered"
                                   "expired" "rejected" "failed" */
    uint64_t ts_ms;             /* when the state was entered, Unix ms */
    const char *client_ref;
    const char *error;          /* why, for the failure states */
    const char *to;             /* "+14155550100" */
    unsigned segments;
};

/*
 * The standard status body, a NUL-terminated JSON object:
 *   {"id":"...","event_id":"...","state":"delivered",
 *    "ts":"2024-05-01T12:00:00.123Z","ts_ms":1714564800123,
 *    "client_ref":null,"error":null,"to":"+14155550100","segments":1}
 * malloc'd: the caller frees it (after webhook_post(), which copies it).
 * Never returns NULL.
 */
char *webhook_status_body(const struct webhook_status *st);

struct webhook_stats {
    unsigned long sent_ok;          /* 2xx received */
    unsigned long retried;          /* retries scheduled */
    unsigned long failed_permanent; /* given up: 3xx/4xx, attempts or age exhausted */
    unsigned long dropped;          /* refused by webhook_post (full), or lost at drain/free */
    unsigned long inflight;         /* on the wire now */
    unsigned long queued;           /* waiting for a slot now */
    unsigned long delayed;          /* waiting for a retry now */
};
void webhook_stats(const struct webhook *w, struct webhook_stats *out);

/*
 * Stop: webhook_post() refuses from now on, callbacks waiting for a slot or
 * a retry are dropped (logged, counted), in-flight requests get up to
 * deadline_ms to finish (then are aborted). done(arg) is then called once,
 * from the event loop (never from within webhook_drain), as the last thing
 * the webhook does in that callback: done may call webhook_free(). Calling
 * again before done ran replaces done and arg and keeps the first deadline.
 */
void webhook_drain(struct webhook *w, unsigned deadline_ms,
                   void (*done)(void *arg), void *arg);

/*
 * Free w now (NULL: nothing): in-flight requests are aborted, waiting ones
 * dropped (each logged). For a clean stop, webhook_drain() first. May be
 * called from any callback on the loop, drain's done included, or after the
 * loop has stopped; the event_base must still exist.
 */
void webhook_free(struct webhook *w);

#endif
