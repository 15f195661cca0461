/*
 * GET /v1/stats: delivery statistics (store/store_stats) per account, route
 * and sender over the last hour and day, as JSON (docs/api.md).
 *
 *   ?window=hour|day            one window (default: both)
 *   ?account=A&route=R&sender=S only these rows (any of them)
 *
 * Who sees what:
 *   - an account's API key: that account's row only; asking for another
 *     account, a route or a sender is 403;
 *   - admin.http_token (the token of /metrics and /status): every row;
 *     without that setting, a request with no Authorization gets every row,
 *     as /status shows them to anyone who can reach the listener.
 *
 * Served on the API listener through the backend's `other` hook (core/status
 * dispatches the path here). The request waits for Redis: one script per
 * row (store_stats_query).
 *
 * Ownership: stats_api_new() returns an object freed by stats_api_free();
 * it borrows the Redis link (free it after the link: pending replies come
 * back to requests it started; those requests free themselves).
 */
#ifndef CORE_STATS_API_H
#define CORE_STATS_API_H

#include <stdbool.h>
#include <stdio.h>

#include "store/store_stats.h"

#define STATS_API_PATH "/v1/stats"

struct evhttp_request;
struct gw_config;
struct json_object;
struct store_redis;
struct stats_api;

struct stats_api *stats_api_new(struct store_redis *redis);
void stats_api_free(struct stats_api *sa);

/* Answer GET /v1/stats with cfg (the config in use); false for any other
 * path. */
bool stats_api_http(struct stats_api *sa, const struct gw_config *cfg,
                    struct evhttp_request *req, const char *path);

/* One row as the API shows it (a new json-c object); with_optouts for
 * accounts and senders (opt-outs are not tied to a route). */
struct json_object *stats_api_row(const struct store_stats_agg *a, bool with_optouts);

#endif
