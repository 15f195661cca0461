/*
 * libcurl's multi interface on a libevent event_base: transfers run from
 * the event loop and never block it (DNS through curl's threaded resolver).
 * Shared by the fallback channel connectors (router/channels/); the same
 * plumbing as core/webhook's.
 *
 * The owner of an easy handle configures it, hands it over with
 * curlev_add(), and gets it back in its done callback, already detached
 * from the multi handle; it then calls curl_easy_cleanup() itself (or
 * reuses it). curlev uses CURLOPT_PRIVATE: callers must not.
 *
 * Single-threaded: every call from the thread running the event_base.
 */
#ifndef CORE_CURLEV_H
#define CORE_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct curlev;

/* res: the transfer's result; the easy handle still answers getinfo. */
typedef void (*curlev_done_cb)(CURL *easy, CURLcode res, void *arg);

/* curl_global_init once per process (called by curlev_new). */
void curlev_global_init(void);

/* Never returns NULL. Free with curlev_free(). */
struct curlev *curlev_new(struct event_base *base);

/*
 * Start easy. done(easy, res, arg) runs exactly once, from the event loop
 * (never from within curlev_add), unless curlev_cancel() comes first. done
 * may add or cancel other transfers, but must not free the curlev.
 */
void curlev_add(struct curlev *c, CURL *easy, curlev_done_cb done, void *arg);

/* Stop easy now; done is not called. The caller still owns easy. */
void curlev_cancel(struct curlev *c, CURL *easy);

/* Transfers added and not yet done or cancelled. */
unsigned curlev_active(const struct curlev *c);

/*
 * Free c (NULL: nothing). Transfers still active must have been cancelled
 * (aborts otherwise: their owners would wait forever). Not from inside a
 * done callback of c.
 */
void curlev_free(struct curlev *c);

#endif
