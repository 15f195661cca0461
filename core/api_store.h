/*
 * The HTTP API's backend on Redis (struct api_backend for core/api):
 * accepted messages stored through store/ (the frequency cap first for
 * marketing messages), records read back, opt-outs kept. smsgwd wires it
 * to its main Redis connection; the test of the HTTP server uses it with a
 * real redis-server.
 */
#ifndef CORE_API_STORE_H
#define CORE_API_STORE_H

#include <stdbool.h>

#include "core/api.h"

struct store_redis;
struct evhttp_request;

/* A message just stored (for the daemon's side effects). */
struct api_store_stored {
    const char *id, *state;     /* state: queued, scheduled, held, no_sms */
    const char *route, *callback_url, *client_ref, *to;
    unsigned segments;
};

struct api_store {
    struct store_redis *redis;
    const bool *stopping;       /* true: refuse new messages (503); may be NULL */
    /* Optional: after a message is stored (and logged, counted). */
    void (*stored)(void *arg, const struct api_store_stored *m);
    /* Optional: paths the API does not serve (api_backend.other). */
    bool (*other)(void *arg, struct evhttp_request *req, const char *path);
    void *arg;
};

/* The backend; its bctx is a struct api_store, which outlives the server. */
extern const struct api_backend api_store_backend;

#endif
