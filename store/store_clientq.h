/*
 * Taking over what a dead instance left in flight to its SMPP clients.
 *
 * Each instance delivering to SMPP clients (core/smpp_front) moves items of
 * P clientq:ACCOUNT into its own P clientq:ACCOUNT:inflight:INSTANCE until
 * the client acknowledges them (store_clientq_take, store/store_msg.h). An
 * instance that never comes back would leave them there forever, so:
 *
 *   P alive:INSTANCE   a liveness key, SET with a TTL and refreshed well
 *                      before it runs out while the instance runs
 *                      (store_clientq_alive);
 *   sweep              walks the keyspace with SCAN (never KEYS: no long
 *                      block of Redis) for P clientq:*:inflight:*, and for
 *                      each list of another instance runs one Lua script
 *                      that, only if that instance's liveness key is gone,
 *                      moves the whole list back to the head of the
 *                      account's queue in its order (store_clientq_sweep).
 *
 * The check and the move are one script, so a live instance's list is
 * never moved: only an instance whose key expired (dead, or stalled for a
 * whole TTL) loses its items, and they are then delivered again (at least
 * once).
 */
#ifndef STORE_CLIENTQ_H
#define STORE_CLIENTQ_H

#include <stdbool.h>

#include "store/store_redis.h"

/* Set P alive:INSTANCE for ttl_ms. cb rc: 1 the key was still there
 * (a refresh), 0 it was not (the first call, or it lapsed: what this
 * instance had in flight may have been taken over), -1 Redis failed. */
typedef void (*store_clientq_alive_cb)(void *arg, int rc);
void store_clientq_alive(struct store_redis *r, const char *instance, unsigned ttl_ms,
                         store_clientq_alive_cb cb, void *arg);

/* Move the inflight lists of dead instances back to their queues. self's
 * own lists are skipped, unless with_self (at start, before this process
 * took anything, they are what a previous run of the same name left). cb
 * once at the end: rc 0 done, -1 Redis failed part way (what was moved
 * stays moved); moved = items moved. The sweep owns its state; cb is
 * always called (with -1 when the connection is lost). */
typedef void (*store_clientq_sweep_cb)(void *arg, int rc, unsigned long moved);
void store_clientq_sweep(struct store_redis *r, const char *self, bool with_self,
                         store_clientq_sweep_cb cb, void *arg);

/* ------------------------------------------- receipts for SMPP clients */

/*
 * An SMPP client's receipt for a message that just took its final state:
 * pushed onto P clientq:ACCOUNT when the record says source smpp and its
 * registered_delivery (bits 1-0) asks: 01 always, 10 on failure only.
 * A Lua fragment shared by the final and receipt scripts (store/store_msg.c)
 * and the receipt-timeout sweep (store/store_sched.c); expects mk
 * (record key), prefix, state, stat, err, now in scope, and c = the
 * record's source, registered_delivery, account, from, to, created
 * (CLIENT_RECEIPT_FIELDS, in that order).
 */
#define CLIENT_RECEIPT_FIELDS "'source', 'registered_delivery', 'account', 'from', 'to', 'created'"
#define CLIENT_RECEIPT_LUA \
    "if c[1] == 'smpp' and c[3] then\n" \
    "  local rd = (tonumber(c[2]) or 0) % 4\n" \
    "  if rd == 1 or (rd == 2 and state ~= 'delivered') then\n" \
    "    redis.call('RPUSH', prefix .. 'clientq:' .. c[3], cjson.encode({type = 'receipt',\n" \
    "      id = string.sub(mk, #prefix + 5), state = state, stat = stat, err = err,\n" \
    "      from = c[4] or '', to = c[5] or '', submit_ms = tonumber(c[6]) or 0,\n" \
    "      done_ms = tonumber(now)}))\n" \
    "  end\n" \
    "end\n"

#endif
