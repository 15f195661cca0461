/*
 * What an operator reads over HTTP, on the API's listener:
 *
 *   GET /metrics   Prometheus text format 0.0.4 (core/metrics plus gauges
 *                  computed at the scrape: bind slots, routes, queues,
 *                  client binds, Redis links)
 *   GET /status    one plain HTML page: SMSC binds, routes (current vs
 *                  allowed mps, queue depth), delivery in the last hour
 *                  and day per route and account (store/store_stats),
 *                  client binds, recent errors
 *   GET /v1/stats  handed to core/stats_api (its own authorization)
 *
 * Both are open unless admin.http_token is set; then they need
 * `Authorization: Bearer TOKEN` (docs/operations.md says why the default).
 * The delivery figures are read on the timer while the page is viewed.
 *
 * Queue depths come from Redis (XLEN, and the oldest entry's id for its
 * age) once a second on a timer, cached: a scrape never waits on Redis.
 * The last warn/error log lines are kept for the page (log_set_warn_hook).
 *
 * Ownership: status_new() returns an object freed by status_free(); it
 * borrows the Redis links (free it after them: their pending replies come
 * back to it) and whatever status_set() hands it.
 */
#ifndef CORE_STATUS_H
#define CORE_STATUS_H

#include <stdbool.h>

struct event_base;
struct evhttp_request;
struct gw_config;
struct mt_engine;
struct smpp_front;
struct store_redis;
struct status;

/* redis_router and redis_pacer (may be NULL) are reported as
 * smsgw_redis_up{conn="router"|"pacer"}. */
struct status *status_new(struct event_base *base, struct store_redis *redis,
                          struct store_redis *redis_router, struct store_redis *redis_pacer);
/* The config, engine and front in use (again after every reload). */
void status_set(struct status *st, const struct gw_config *cfg, struct mt_engine *mt,
                struct smpp_front *front);
/* Answer GET /metrics, GET /status or GET /v1/stats; false for any other
 * path. */
bool status_http(struct status *st, struct evhttp_request *req, const char *path);
void status_free(struct status *st);

/* A route's cached queue figures: false when not known yet. */
bool status_queue(const struct status *st, const char *route, long long *depth,
                  double *oldest_s, double *rate_mps);
/* The last n warn/error lines, oldest first: fn(arg, line) each. */
void status_errors(const struct status *st, void (*fn)(void *arg, const char *line), void *arg);
/* Seconds since status_new (the daemon's start). */
double status_uptime(const struct status *st);

#endif
