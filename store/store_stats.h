/*
 * Delivery statistics in Redis, per account, route and sender, over the
 * last hour and the last day (issue 6): what was submitted, how it ended,
 * why it failed, how long the receipt took, how many subscribers opted out.
 * Kept in Redis so that every smsgwd instance on it, and a restarted one,
 * adds to and reads the same figures.
 *
 * Layout (P = the configured prefix): one hash per five-minute bucket and
 * dimension value,
 *   P stats:b:BUCKET:a:ACCOUNT   BUCKET = epoch ms / 300000
 *   P stats:b:BUCKET:r:ROUTE
 *   P stats:b:BUCKET:s:SENDER    the record's `from`
 * with fields
 *   submitted delivered undelivered expired rejected failed deleted unknown
 *   optouts            counters (optouts: STOP keywords; a and s only)
 *   e:REASON           failed outcomes by reason: "STAT:err" for a receipt
 *                      (UNDELIV:001), the detail for an outcome without one
 *                      (ESME_RINVDSTADR, retry attempts exhausted)
 *   lN                 receipts whose submit-to-receipt time fell in
 *                      latency bucket N (store_stats_lat_bucket)
 * Each hash expires a day and an hour after its bucket ends.
 *
 * Writing costs no round trip of its own: the scripts of store/store_msg.c
 * that give a message its final state (or count a submit, or an opt-out)
 * include STATS_LUA and call stats_event(); increments are summed in a Lua
 * table during the script and written by stats_flush() at its end, one
 * HINCRBY per distinct (hash, field) of the whole batch (plus one EXPIRE
 * when a field is new). A batch of receipts for one account, route and
 * sender thus costs about three HINCRBYs per outcome kind, not three per
 * message.
 *
 * Reading sums the buckets in one script per dimension value (hour and day
 * in the same pass): about 290 HGETALLs of small hashes, each script a
 * short, separate command so other clients are served in between.
 */
#ifndef STORE_STATS_H
#define STORE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_redis.h"

#define STORE_STATS_BUCKET_S    300
#define STORE_STATS_KEEP_S      (86400 + 3600)     /* after the bucket's end */

/* Windows: the current bucket and the 12 (hour) or 288 (day) before it, so
 * the hour is 60 to 65 minutes and the day 24 h to 24 h 5 min. */
enum store_stats_window { STORE_STATS_HOUR = 0, STORE_STATS_DAY = 1, STORE_STATS_NWIN = 2 };
#define STORE_STATS_HOUR_BUCKETS 13
#define STORE_STATS_DAY_BUCKETS  289

enum store_stats_counter {
    STORE_STATS_SUBMITTED = 0,
    STORE_STATS_DELIVERED,
    STORE_STATS_UNDELIVERED,
    STORE_STATS_EXPIRED,
    STORE_STATS_REJECTED,
    STORE_STATS_FAILED,
    STORE_STATS_DELETED,
    STORE_STATS_UNKNOWN,
    STORE_STATS_OPTOUTS,
    STORE_STATS_NCOUNTERS
};
/* The counter's field name ("submitted", ...). */
const char *store_stats_counter_name(enum store_stats_counter c);

/*
 * Submit-to-receipt latency buckets, in ms: 1-1.5-2-3-5-7 per decade from
 * 10 ms to 100000000 ms (27.8 h). Bucket 0 is [0, 10), bucket i is
 * [bound[i-1], bound[i]), the last one [100000000, ∞).
 */
#define STORE_STATS_LAT_BOUNDS \
    10, 15, 20, 30, 50, 70, \
    100, 150, 200, 300, 500, 700, \
    1000, 1500, 2000, 3000, 5000, 7000, \
    10000, 15000, 20000, 30000, 50000, 70000, \
    100000, 150000, 200000, 300000, 500000, 700000, \
    1000000, 1500000, 2000000, 3000000, 5000000, 7000000, \
    10000000, 15000000, 20000000, 30000000, 50000000, 70000000, \
    100000000
#define STORE_STATS_LAT_NBOUNDS 43
#define STORE_STATS_LAT_BUCKETS (STORE_STATS_LAT_NBOUNDS + 1)

unsigned store_stats_lat_bucket(uint64_t ms);
/* Bucket i's range [*lo, *hi) in ms (*hi = UINT64_MAX for the last). */
void store_stats_lat_range(unsigned i, uint64_t *lo, uint64_t *hi);
/*
 * The q-quantile (0 < q <= 1) of a histogram: the bucket holding the
 * nearest-rank value (rank ceil(q*n)), interpolated linearly by rank
 * inside it, so the answer is always within that bucket's range (the
 * lower bound for the open last bucket). false when the histogram is empty.
 */
bool store_stats_quantile(const uint64_t hist[STORE_STATS_LAT_BUCKETS], double q, double *ms);

/*
 * The Lua the message scripts share (store/store_msg.c). In scope after it:
 *   stats_event(prefix, now, account, route, from, counter, reason, lat)
 *       counts one event at time now (epoch ms, a string or number) for
 *       each of account, route, from that is set (nil or '' skipped):
 *       counter (a field name above), reason (nil: none; cut to 64
 *       bytes) and lat (ms from submit to receipt; nil: none).
 *   stats_flush()   writes what was counted; call it once, at the end.
 */
#define STORE_STATS_STR_(...) #__VA_ARGS__
#define STORE_STATS_STR(...) STORE_STATS_STR_(__VA_ARGS__)
#define STATS_LUA \
    "local stats_t, stats_ttl, stats_b, stats_base = {}, {}, nil, nil\n" \
    "local stats_lb = {" STORE_STATS_STR(STORE_STATS_LAT_BOUNDS) "}\n" \
    "local function stats_add(k, ttl, counter, reason, l)\n" \
    "  local t = stats_t[k]\n" \
    "  if not t then t = {} stats_t[k] = t stats_ttl[k] = ttl end\n" \
    "  t[counter] = (t[counter] or 0) + 1\n" \
    "  if reason then t[reason] = (t[reason] or 0) + 1 end\n" \
    "  if l then t[l] = (t[l] or 0) + 1 end\n" \
    "end\n" \
    "local function stats_event(prefix, now, account, route, from, counter, reason, lat)\n" \
    "  local ms = tonumber(now)\n" \
    "  local b = math.floor(ms / " STORE_STATS_STR(STORE_STATS_BUCKET_S) "000)\n" \
    "  if b ~= stats_b then\n" \
    "    stats_b = b\n" \
    "    stats_base = prefix .. 'stats:b:' .. string.format('%d', b) .. ':'\n" \
    "  end\n" \
    "  local ttl = math.floor(((b + 1) * " STORE_STATS_STR(STORE_STATS_BUCKET_S) "000 - ms) / 1000)" \
    " + " STORE_STATS_STR(STORE_STATS_KEEP_S) "\n" \
    "  local l = nil\n" \
    "  if lat then\n" \
    "    l = 0\n" \
    "    while l < #stats_lb and lat >= stats_lb[l + 1] do l = l + 1 end\n" \
    "    l = 'l' .. l\n" \
    "  end\n" \
    "  if reason then reason = 'e:' .. string.sub(reason, 1, 64) end\n" \
    "  if account and account ~= '' then stats_add(stats_base .. 'a:' .. account, ttl, counter, reason, l) end\n" \
    "  if route and route ~= '' then stats_add(stats_base .. 'r:' .. route, ttl, counter, reason, l) end\n" \
    "  if from and from ~= '' then stats_add(stats_base .. 's:' .. from, ttl, counter, reason, l) end\n" \
    "end\n" \
    "local function stats_flush()\n" \
    "  for k, t in pairs(stats_t) do\n" \
    "    local new = false\n" \
    "    for f, n in pairs(t) do\n" \
    "      if redis.call('HINCRBY', k, f, n) == n then new = true end\n" \
    "    end\n" \
    "    if new then redis.call('EXPIRE', k, stats_ttl[k]) end\n" \
    "  end\n" \
    "end\n"

/* One dimension value to read: dim 'a' (account), 'r' (route) or 's'
 * (sender), and its name. */
struct store_stats_dim {
    char dim;
    const char *name;
};

struct store_stats_reason {
    const char *code;
    uint64_t n;
};

/* A dimension value's sums over one window. */
struct store_stats_agg {
    uint64_t c[STORE_STATS_NCOUNTERS];
    uint64_t lat[STORE_STATS_LAT_BUCKETS];
    struct store_stats_reason *reasons;     /* by n, largest first */
    size_t nreasons;
};

/* Outcomes that end a message: delivered + undelivered + expired +
 * rejected + failed + deleted + unknown. */
uint64_t store_stats_finals(const struct store_stats_agg *a);

/*
 * Sum the buckets of n dimension values at now_ms (0: now). cb gets rc 0
 * and rows[i * STORE_STATS_NWIN + w] for dims[i] and window w, or rc -1
 * (rows NULL) when Redis failed. rows and everything they point to are
 * valid only during the callback. cb runs exactly once (maybe before this
 * returns, when Redis is not connected).
 */
typedef void (*store_stats_cb)(void *arg, int rc, const struct store_stats_agg *rows);
void store_stats_query(struct store_redis *r, uint64_t now_ms, const struct store_stats_dim *dims,
                       size_t n, store_stats_cb cb, void *arg);

#endif
