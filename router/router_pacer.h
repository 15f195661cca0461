/*
 * Per-route pacing: how many submit_sm PDUs may leave now, and when the next
 * one may. The full argument is in docs/pacing.md; the short version:
 *
 * - A route's rate is a sequence of time slots T = 1e6/mps µs apart (GCRA).
 *   A send needs a slot whose time has come, so sends are spread evenly
 *   instead of leaving as one burst at the top of each second.
 * - Two exact sliding-window guards check every local send against the
 *   carrier contract: at most mps in any 1 s window and at most
 *   mps/10 + 1 in any 100 ms window. They only bite when the caller sends
 *   late in clumps (coarse polling); then they cost throughput, never safety.
 * - Shared mode: several smsgwd instances draw slots from one sequence kept
 *   in Redis (router_pacer_lua()), in batches of about horizon_ms worth,
 *   mapped onto the local monotonic clock with a bounded error. A slot must
 *   be used within its lateness budget or it is dropped. While one instance
 *   alone draws from a sequence, its grants are spaced ~1/mps and its own
 *   guards hold the windows; while several do, slots are spaced a little
 *   wider than T so that the union of all instances' sends keeps both window
 *   limits (docs/pacing.md, "Shared budget").
 * - ESME_RTHROTTLED / ESME_RMSGQFUL: router_pacer_throttled() halves the
 *   rate, holds it, then recovers linearly to the configured mps.
 *
 * All times are µs of one monotonic clock the caller chooses (the event
 * loop's, or a virtual one in tests); they must never go backwards for one
 * pacer. Nothing here does I/O, reads a clock, logs or allocates after
 * router_pacer_new() / router_pacer_set_mps(); everything runs on the event
 * loop thread. A pacer is not thread-safe.
 */
#ifndef ROUTER_PACER_H
#define ROUTER_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct router_pacer;

/* Limits checked by the constructors (config validation should check first;
 * out-of-range values abort). */
#define ROUTER_PACER_MPS_MAX        100000u
#define ROUTER_PACER_HORIZON_MIN_MS 10u
#define ROUTER_PACER_HORIZON_MAX_MS 1000u
#define ROUTER_PACER_LATE_MAX_US    1000000u

/* Defaults: horizon (router_pacer_new with 0), slot lateness allowed in
 * local mode (catch-up after a late poll; costs no rate) and in shared mode
 * (total lateness budget incl. clock mapping; costs rate, see below). */
#define ROUTER_PACER_HORIZON_MS       100u
#define ROUTER_PACER_LATE_LOCAL_US    20000u
#define ROUTER_PACER_LATE_SHARED_US   1000u

/* router_pacer_next_us(): nothing will become due without outside help
 * (shared mode waiting for a grant). */
#define ROUTER_PACER_NEVER UINT64_MAX

/*
 * A local-mode pacer for mps (1..ROUTER_PACER_MPS_MAX) submit_sm per second.
 * horizon_ms (0 = default) is how far ahead shared-mode grants reach.
 * Allocates the window guards, 16 bytes x (min(mps, 16384) + mps/10 + 1)
 * (176 KB at 10000 mps, 0.2 KB at 10); never returns NULL. Above 16384 mps
 * the 1 s guard rounds send times up to 62 µs steps (safe, a little slower).
 * Free with router_pacer_free(), never with a grant request in flight whose
 * reply callback would still reach it.
 */
struct router_pacer *router_pacer_new(unsigned mps, unsigned horizon_ms);
void router_pacer_free(struct router_pacer *p);

/*
 * Change the contract (config reload). Keeps the send history, so the new
 * limits hold across the change; may reallocate the guards.
 */
void router_pacer_set_mps(struct router_pacer *p, unsigned mps);
unsigned router_pacer_mps(const struct router_pacer *p);

/*
 * How long after its time a slot may still be used (0..LATE_MAX_US). In
 * local mode this is the catch-up allowance after a late poll; in shared mode
 * it is the whole lateness budget J, clock-mapping error included, and the
 * shared sequence is spaced max(T, (1 s + J + d)/mps, (100 ms + J + d)/(mps/10 + 1))
 * apart (d = drift allowance, horizon/2000). With the 1 ms default that is
 * ~0.1% below mps up to 1000 mps and ~0.94% below at 10000 mps.
 */
void router_pacer_set_late(struct router_pacer *p, unsigned late_us);

/* Switch to shared mode for good (slots come only from grants); late_us
 * 0 = default. The guards' history is kept. */
void router_pacer_set_shared(struct router_pacer *p, unsigned late_us);
bool router_pacer_is_shared(const struct router_pacer *p);

/* ------------------------------------------------------------ sending */

/*
 * How many of want sends could happen at now_us, without consuming anything.
 * With several pacers on one message (route, sender, account), take the
 * minimum of their peeks, then take() that many from each: take() of a count
 * peek() returned at the same now_us always returns that count.
 */
unsigned router_pacer_peek(const struct router_pacer *p, uint64_t now_us, unsigned want);

/* Consume up to want sends at now_us; returns how many may be sent now. */
unsigned router_pacer_take(struct router_pacer *p, uint64_t now_us, unsigned want);

/*
 * The n sends the last take() granted left at sent_us (>= that take's
 * now), e.g. once the PDU is in the socket's buffer: the guards count them
 * then. Whatever delays a PDU between take() and the socket (the rest of
 * the loop pass, the process being descheduled) would otherwise let the
 * real sends crowd a window that the guards saw as within the limit.
 */
void router_pacer_sent(struct router_pacer *p, unsigned n, uint64_t sent_us);

/*
 * All-or-nothing over n pacers: n_take = min of their peeks, taken from each.
 * Returns n_take.
 */
unsigned router_pacer_take_all(struct router_pacer *const *v, size_t n, uint64_t now_us,
                               unsigned want);

/*
 * µs from now_us until one send could be taken (0 if now). ROUTER_PACER_NEVER
 * in shared mode when no granted slot is left (ask router_pacer_grant_want()).
 * The caller arms its timer for this; waking late costs nothing in local mode
 * up to late_us.
 */
uint64_t router_pacer_next_us(const struct router_pacer *p, uint64_t now_us);

/*
 * ESME_RTHROTTLED or ESME_RMSGQFUL from the carrier: halve the rate (floor
 * max(1, mps/64)); further throttles within 1 s of a cut are the same episode
 * and ignored; after a 2 s hold the rate climbs back by mps/8 per second,
 * never above mps. In shared mode the slots already granted are dropped.
 */
void router_pacer_throttled(struct router_pacer *p, uint64_t now_us);

/* Current slot rate in slots per second (throttling included). */
unsigned router_pacer_rate(const struct router_pacer *p, uint64_t now_us);

struct router_pacer_stats {
    uint64_t sent;        /* sends handed out by take() */
    uint64_t dropped;     /* slots unused past late_us (local: forgiven) */
    uint64_t guarded;     /* take() calls cut short by a window guard */
    uint64_t throttles;   /* rate cuts (not every throttled PDU) */
    uint64_t grants;      /* grant replies applied */
    uint64_t granted;     /* slots received in grants */
    uint64_t tight_grants; /* grants spaced ~1/mps: one owner held the sequence */
    /* shared mode, now: smoothed grant round trip, clock-mapping error,
     * and the lateness budget the last request was spaced for */
    uint64_t rtt_us, err_us, j_us;
};
void router_pacer_get_stats(const struct router_pacer *p, struct router_pacer_stats *out);

/* ------------------------------------------------- shared mode (Redis) */

/*
 * The Lua script: KEYS[1] = the route's rate key (e.g. "{smsgw}rate:ROUTE"),
 * ARGV = P Q want horizon_us lead_us tP tQ owner gap_us quiet_us jd mps cap100:
 * slots are P/Q µs apart (tP/tQ when one owner has held the sequence for
 * quiet_us; wider when an earlier grant's larger lateness budget jd can
 * reach them). Uses Redis TIME; returns { k, first_slot_us, redis_now_us,
 * tight, P, Q } (Redis clock; P/Q the spacing the slots have); keeps the next free slot and its owner in a hash with a PX expiry.
 * router_pacer_lua_sha() is its SHA1 in hex (test_pacer checks it against
 * SCRIPT LOAD).
 */
const char *router_pacer_lua(void);
const char *router_pacer_lua_sha(void);

/*
 * How many slots to ask for now (0 = no request needed: local mode, a
 * request in flight, enough granted runway, or no backlog). backlog is how
 * many sends the caller could make if paced (queued work within window).
 */
unsigned router_pacer_grant_want(const struct router_pacer *p, uint64_t now_us,
                                 unsigned backlog);

/*
 * One grant request, built in caller memory for redisAsyncCommandArgv(ac,
 * cb, priv, cmd.argc, cmd.argv, cmd.argvlen). argv points into cmd and at
 * key, which must outlive the call. Marks a request in flight (sent at now_us,
 * which bounds the clock-mapping error); every request must be answered by
 * exactly one router_pacer_apply_grant(), with a NULL reply if it failed.
 * eval = false: EVALSHA; true: EVAL with the source (after NOSCRIPT).
 * Returns 0, or -1 if want is 0 or the pacer is not shared.
 */
#define ROUTER_PACER_CMD_ARGS 18
struct router_pacer_cmd {
    int argc;
    const char *argv[ROUTER_PACER_CMD_ARGS];
    size_t argvlen[ROUTER_PACER_CMD_ARGS];
    char num[12][24];
};
int router_pacer_grant_cmd(struct router_pacer *p, struct router_pacer_cmd *cmd,
                           const char *key, unsigned want, uint64_t now_us, bool eval);

/*
 * Apply the reply to the request in flight, received at local_now_us (read
 * the clock in the reply callback, not later). Returns the number of usable
 * slots granted (>= 0); ROUTER_PACER_NOSCRIPT when the script cache was
 * flushed (reissue with eval = true; the request stays in flight);
 * ROUTER_PACER_ERROR for a NULL, error or malformed reply, or no request in
 * flight (the request is over; ask again later). Does not keep the reply.
 */
#define ROUTER_PACER_ERROR    (-1)
#define ROUTER_PACER_NOSCRIPT (-2)
int router_pacer_apply_grant(struct router_pacer *p, const redisReply *reply,
                             uint64_t local_now_us);

#endif
