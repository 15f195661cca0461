/*
 * Small pieces every evhttp handler of smsgwd shares (core/api,
 * core/stats_api, core/chan_hooks): JSON replies, the error body, the
 * bearer token, and the close callback of a request answered later.
 */
#ifndef CORE_HTTP_UTIL_H
#define CORE_HTTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>

struct evhttp_request;
struct timespec;

/* Milliseconds since t0 (CLOCK_MONOTONIC), for request log lines. */
long http_elapsed_ms(const struct timespec *t0);

/* Reply with json (a newline is added), Content-Type application/json and
 * Cache-Control no-store. */
void http_send_json(struct evhttp_request *req, int status, const char *json);

/* Reply {"error":{"code":code,"message":message}}; a 503 carries
 * Retry-After: 1 and a 401 WWW-Authenticate: Bearer. */
void http_send_error(struct evhttp_request *req, int status, const char *code,
                     const char *message);

/* The token of "Authorization: Bearer TOKEN" (blanks around it dropped),
 * copied into buf; NULL when absent, empty or bufsz bytes or longer. */
const char *http_bearer(struct evhttp_request *req, char *buf, size_t bufsz);

/*
 * For a request answered from a later callback: call this from the
 * connection's close callback with the call's request pointer and
 * detached flag. A request still queued on the connection is freed by
 * evhttp right after the callback (*req becomes NULL: do not answer it); an
 * already detached one is ours to free (*detached becomes true).
 */
void http_conn_closed(struct evhttp_request **req, bool *detached);

#endif
