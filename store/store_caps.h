/*
 * Frequency caps: at most `limit` messages per account and subscriber in a
 * calendar period (UTC day or UTC month), counted in Redis so every smsgwd
 * instance shares the count.
 *
 * Fixed calendar periods, not a sliding window: caps in contracts and
 * carrier rules are written per calendar month ("4 marketing messages a
 * month"), a subscriber can be told when the count resets, and the state is
 * one integer per account+subscriber+period (INCRBY + EXPIREAT) instead of
 * one timestamp per message (a sliding window needs a sorted set per
 * subscriber: tens of millions of entries for a large marketing base). The
 * cost is the boundary: up to 2 x limit can reach a subscriber across the
 * end of one period and the start of the next.
 *
 * Key: PREFIX "cap:" ACCOUNT ":" SUBSCRIBER ":" PERIOD, e.g.
 * "smsgw:cap:acme:+14155550100:m202611"; one key per script, so it works on
 * Redis Cluster as it is. A key expires one day after its period ends.
 *
 * The check and the increment are one script: two instances cannot both
 * take the last unit. A message taken but then not sent (refused, cancelled)
 * gives its unit back with store_caps_refund().
 */
#ifndef STORE_CAPS_H
#define STORE_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct store_redis;

enum store_caps_period { STORE_CAPS_DAY, STORE_CAPS_MONTH };

struct store_caps_result {
    bool ok;                    /* the script ran (false: Redis down or error) */
    bool allowed;               /* take: counted; false: over the cap, nothing counted */
    long long count;            /* the count after the call */
    time_t resets_at;           /* start of the next period (UTC) */
};

typedef void (*store_caps_cb)(const struct store_caps_result *res, void *arg);

/*
 * Take n units (one per message, not per segment) of account's cap on
 * subscriber for the period containing now. allowed is false, and nothing
 * is counted, when count + n would exceed limit. cb runs once, from the
 * event loop. Returns 0, or -1 when Redis is not connected (cb not called).
 * Strings are copied before return. now is injectable for tests but must
 * be close to Redis's clock: a key for a period that ended more than a day
 * ago gets an expiry in the past, which deletes it (the take then counts
 * nothing).
 */
int store_caps_take(struct store_redis *r, const char *account, const char *subscriber,
                    enum store_caps_period period, unsigned limit, unsigned n, time_t now,
                    store_caps_cb cb, void *arg);

/* Give back n units taken in the period containing now (never below 0).
 * allowed is always true; count is the new count. cb may be NULL. */
int store_caps_refund(struct store_redis *r, const char *account, const char *subscriber,
                      enum store_caps_period period, unsigned n, time_t now,
                      store_caps_cb cb, void *arg);

/* The key and the period bounds for now (for tests and smsgwctl). */
void store_caps_key(char *buf, size_t size, const char *prefix, const char *account,
                    const char *subscriber, enum store_caps_period period, time_t now);
time_t store_caps_period_end(enum store_caps_period period, time_t now);

/* The scripts' source (tests load them to check they compile). */
const char *store_caps_take_lua(void);
const char *store_caps_refund_lua(void);

#endif
