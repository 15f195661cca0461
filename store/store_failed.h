/*
 * The index of failed messages, so that an operator can send again what a
 * cause since fixed made fail (smsgwctl requeue --cause) without walking
 * every record.
 *
 * Layout (P = the configured prefix):
 *   P failed:ROUTE  sorted set: member our id, score the epoch ms at which
 *                   the message took a failure state (failed, rejected,
 *                   expired, undelivered). Entries older than the records'
 *                   retention go when the next failure of the route is
 *                   written; an entry whose record is gone or has moved on
 *                   (requeued, delivered later, taken by a fallback chain)
 *                   is dropped by the next real scan that meets it, and
 *                   store_msg_requeue removes the entry of what it queues.
 *
 * The entry is written by the scripts that set a failure state
 * (store/store_msg.c: final, receipt), through FAILED_INDEX_LUA, in the same
 * atomic step as the state: a failed message is never missing from it.
 * fallback_failed (router/fallback) is not indexed: the SMS failure before
 * the chain was, and a chain's end is requeued by id.
 */
#ifndef STORE_FAILED_H
#define STORE_FAILED_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store_redis.h"

/* As long as a failed record is kept (RETENTION_S in store/store_msg.c,
 * checked there at compile time). */
#define STORE_FAILED_KEEP_S 604800
#define STORE_FAILED_KEEP_MS_LUA "604800000"

/*
 * The Lua that indexes a message taking a failure state. Self-contained:
 * expects mk (the record's key), prefix, state (the new state) and now
 * (epoch ms, a string) in scope, and is a no-op for other states. One HGET
 * (the record's route), one ZADD and one ZREMRANGEBYSCORE per failure.
 */
#define FAILED_INDEX_LUA \
    "if ({failed = 1, rejected = 1, expired = 1, undelivered = 1})[state] then\n" \
    "  local fr = redis.call('HGET', mk, 'route')\n" \
    "  if fr then\n" \
    "    local fk = prefix .. 'failed:' .. fr\n" \
    "    redis.call('ZADD', fk, now, string.sub(mk, #prefix + 5))\n" \
    "    redis.call('ZREMRANGEBYSCORE', fk, '-inf', '(' .. (tonumber(now) - " \
    STORE_FAILED_KEEP_MS_LUA "))\n" \
    "  end\n" \
    "end\n"

/*
 * Which failed messages a scan matches. Strings are borrowed for the call
 * (the scan copies them).
 *   mode 'a'  any cause
 *        's'  the record's state equals cause ("rejected", ...)
 *        'e'  the record's error field equals cause, ignoring case (an SMPP
 *             status as written there, "esme_rinvdstadr", or a text such
 *             as "retry attempts exhausted")
 *        'n'  the record's error field is all digits and the same number
 *             as cause (a receipt's err: "1" matches "001")
 *   smsc     NULL or "": any; else the record's smsc field (the SMSC that
 *            last took the message) must be it, and a record without one
 *            (refused at submit) matches when smsc_on_route.
 *   since_ms, until_ms  the failure time, inclusive.
 *   dry_run  write nothing (stale entries stay in the index).
 */
struct store_failed_filter {
    char mode;
    const char *cause;
    const char *smsc;
    bool smsc_on_route;
    uint64_t since_ms, until_ms;
    bool dry_run;
};

/* Where a scan goes on: after this entry. Zeroed: from the start. */
struct store_failed_cursor {
    char score[24];
    char member[72];
};

/* One match; strings valid only during the callback. */
struct store_failed_match {
    const char *id;
    const char *from;
    const char *state;
    const char *error;
    const char *smsc;           /* "" when none */
    uint64_t failed_ms;
};

/*
 * One page of route's index in time order, from *cur: at most examine
 * entries looked at and want matches returned (both >= 1). *cur must stay
 * valid until cb; it is moved past what was looked at before cb runs.
 * cb: n matches (-1: Redis failed), done when the range holds no more.
 */
typedef void (*store_failed_scan_cb)(void *arg, int n, const struct store_failed_match *m,
                                     bool done);
void store_failed_scan(struct store_redis *r, const char *route,
                       const struct store_failed_filter *f, struct store_failed_cursor *cur,
                       unsigned examine, unsigned want, store_failed_scan_cb cb, void *arg);

#endif
