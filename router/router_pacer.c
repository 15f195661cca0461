/*
 * Route pacing: a GCRA slot sequence (local or drawn from Redis in batches)
 * plus two exact sliding-window guards. docs/pacing.md has the reasoning and
 * the proofs this code relies on; the comments here point at the steps.
 */
#include "router/router_pacer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define US_PER_S        1000000u
#define GUARD1_WINDOW   1000000u   /* the 1 s contract */
#define GUARD2_WINDOW   100000u    /* the 100 ms smoothness limit */
/* Above this many runs a guard rounds send times up to a quantum instead of
 * keeping one run per distinct send time (bounded memory, conservative). */
#define GUARD_RUNS_MAX  16384u
#define MAX_BLOCKS      4u

/* Throttle response (AIMD-like): see router_pacer_throttled() in the header. */
#define THROTTLE_EPISODE_US  1000000u
#define THROTTLE_HOLD_US     2000000u
#define THROTTLE_FLOOR_DIV   64u
#define THROTTLE_STEP_DIV    8u       /* recover mps/8 per second */

/* Clock-rate difference allowed between this host and Redis's host: NTP
 * slews at most 500 ppm, so bounds age by 1 µs per 2000 µs. */
#define DRIFT_DIV 2000u

/* Single-owner ("tight") grants: see docs/pacing.md, "One instance at full
 * rate". TIGHT_SLACK_US widens the 1 s spacing a little so that lateness
 * the 1 s guard pushes along (a send held until the one a second earlier
 * leaves) fades by that much per second instead of persisting; TIGHT_J_US is
 * the lateness a single owner's slots may have (its guards keep the windows;
 * it costs a gap of that size once, when another owner takes over). 4 ms
 * lost 0.5-3% of the slots at 10,000 mps on a busy 2-core machine (grant
 * round trips up to 11 ms); 10 ms lost 0.1-0.4% (BENCHMARKS.md). */
#define TIGHT_SLACK_US  500u
#define TIGHT_J_US      10000u

struct run {
    uint64_t t;     /* send time (rounded up to the quantum) */
    uint32_t n;     /* sends at t */
};

/*
 * Exact sliding-window counter: sends in (now - window, now] never exceed
 * cap. A ring of runs (time, count) in time order; a run leaves the window
 * when t + window <= now.
 */
struct guard {
    uint64_t window;
    uint32_t cap;
    uint64_t quantum;      /* 1 = exact */
    struct run *runs;
    uint32_t size, head, len;
    uint64_t total;        /* sends in the ring, expired runs included */
};

/* Slots granted by Redis, already mapped onto the local clock. */
struct block {
    uint64_t start;        /* local time of slot 0 */
    uint64_t P;            /* slots are P/Q µs apart */
    uint32_t Q;
    uint32_t next, count;  /* slots [next, count) unused */
    uint64_t slack;        /* a slot is usable until its time + slack */
};

struct router_pacer {
    unsigned mps;
    uint64_t horizon_us;
    uint64_t late_us;
    bool shared;

    /* Local slot sequence: next slot's exact time is tat + rem/rate µs,
     * sent at its ceiling; rate is the Q the remainder is kept in. */
    uint64_t tat;
    uint32_t rem;
    uint32_t seq_rate;
    bool starved;          /* the last take() got fewer than it wanted */

    /* Throttle state. */
    bool cut_active;
    uint64_t cut_at;
    uint32_t cut_rate;

    struct guard g1, g2;

    /* Shared mode. */
    struct block blocks[MAX_BLOCKS];
    unsigned nblocks;
    bool inflight, req_stale;
    uint64_t req_sent, req_P;
    uint32_t req_Q;
    bool have_bounds;
    int64_t best_u, best_l;   /* bounds on (local clock - Redis clock) */
    uint64_t rtt_us;          /* smoothed grant round trip (lead = 2 x) */
    uint64_t req_j;           /* lateness budget J the request in flight was spaced for */
    uint64_t req_jt;          /* the same for a tight (single-owner) grant */
    uint64_t req_tP;
    uint32_t req_tQ;
    uint64_t bounds_at;
    char owner[17];           /* this pacer's id in the shared sequence */

    struct router_pacer_stats st;
};

/* ------------------------------------------------------------ helpers */

static void *
xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "router_pacer: out of memory\n");
        abort();
    }
    return p;
}

static void
check_range(const char *what, unsigned v, unsigned lo, unsigned hi)
{
    if (v < lo || v > hi) {
        fprintf(stderr, "router_pacer: %s %u outside %u..%u\n", what, v, lo, hi);
        abort();
    }
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint32_t
cap100(unsigned mps)
{
    return mps / 10 + 1;
}

/*
 * The guards count a send at the time take() was called; the PDU reaches
 * the socket a little later (the rest of the loop pass, the bufferevent's
 * write), by an amount that varies. Sends whose delays differ by up to the
 * margin still keep the limits if the guards check windows that much
 * longer. One slot period, at most 1 ms: free for the 100 ms limit (its "+1"
 * is a slot of slack), 0.1% or less for the 1 s limit. Seen without it at
 * 1,000 mps with tight grants: 1,002 in a 1 s window and 103 in 100 ms on
 * smsgwd's own submit_sm timestamps.
 */
static uint64_t
guard_margin(unsigned mps)
{
    return min_u64(1000u, US_PER_S / mps);
}

/* ------------------------------------------------------------- guards */

static uint64_t
guard_qtime(const struct guard *g, uint64_t t)
{
    return g->quantum <= 1 ? t : (t + g->quantum - 1) / g->quantum * g->quantum;
}

static const struct run *
guard_at(const struct guard *g, uint32_t i)
{
    return &g->runs[(g->head + i) % g->size];
}

/* Sends still inside the window ending at now. */
static uint64_t
guard_count(const struct guard *g, uint64_t now)
{
    uint64_t c = g->total;
    for (uint32_t i = 0; i < g->len; i++) {
        const struct run *r = guard_at(g, i);
        if (r->t + g->window > now)
            break;
        c -= r->n;
    }
    return c;
}

static uint64_t
guard_room(const struct guard *g, uint64_t now)
{
    uint64_t c = guard_count(g, now);
    return c >= g->cap ? 0 : g->cap - c;
}

/* µs from now until at least one send fits. */
static uint64_t
guard_wait(const struct guard *g, uint64_t now)
{
    uint64_t c = guard_count(g, now);
    if (c < g->cap)
        return 0;
    uint64_t need = c - g->cap + 1;     /* sends that must leave the window */
    for (uint32_t i = 0; i < g->len; i++) {
        const struct run *r = guard_at(g, i);
        if (r->t + g->window <= now)
            continue;
        if (r->n >= need)
            return r->t + g->window - now;
        need -= r->n;
    }
    return 0;   /* not reached: the runs hold c sends */
}

static void
guard_evict(struct guard *g, uint64_t now)
{
    while (g->len && g->runs[g->head].t + g->window <= now) {
        g->total -= g->runs[g->head].n;
        g->head = (g->head + 1) % g->size;
        g->len--;
    }
}

static void
guard_add(struct guard *g, uint64_t now, uint32_t n)
{
    uint64_t t = guard_qtime(g, now);

    guard_evict(g, now);
    g->total += n;
    if (g->len) {
        struct run *last = &g->runs[(g->head + g->len - 1) % g->size];
        if (last->t >= t) {         /* same (quantized) time */
            last->n += n;
            return;
        }
    }
    if (g->len == g->size) {
        /* Cannot happen while cap <= size (each run holds >= 1 send of at
         * most cap in the window), but stay safe: fold the oldest run into
         * the next, which moves those sends later - never earlier. */
        struct run *a = &g->runs[g->head];
        struct run *b = &g->runs[(g->head + 1) % g->size];
        b->n += a->n;
        g->head = (g->head + 1) % g->size;
        g->len--;
    }
    g->runs[(g->head + g->len) % g->size] = (struct run){ t, n };
    g->len++;
}

/* The n sends of the newest run really left at t (later): count them there.
 * Later is conservative - they stay in the window longer, never shorter. */
static void
guard_move_last(struct guard *g, uint32_t n, uint64_t t)
{
    if (!g->len)
        return;
    struct run *last = &g->runs[(g->head + g->len - 1) % g->size];
    if (last->n < n || guard_qtime(g, t) <= last->t)
        return;
    last->n -= n;
    g->total -= n;
    if (last->n == 0)
        g->len--;
    guard_add(g, t, n);
}

/* (Re)shape a guard for window/cap, keeping its history. Older runs that do
 * not fit are folded into the oldest kept one (later time: conservative). */
static void
guard_init(struct guard *g, uint64_t window, uint32_t cap)
{
    struct guard old = *g;
    uint32_t size = cap < GUARD_RUNS_MAX ? cap : GUARD_RUNS_MAX;

    g->window = window;
    g->cap = cap;
    g->quantum = cap <= GUARD_RUNS_MAX ? 1 : (window + GUARD_RUNS_MAX - 2) / (GUARD_RUNS_MAX - 1);
    g->size = size;
    g->runs = xcalloc(size, sizeof(*g->runs));
    g->head = 0;
    g->len = 0;
    g->total = 0;
    if (!old.runs)
        return;
    uint32_t skip = old.len > size ? old.len - size : 0;
    uint32_t carry = 0;
    for (uint32_t i = 0; i < old.len; i++) {
        const struct run *r = guard_at(&old, i);
        if (i < skip) {
            carry += r->n;
            continue;
        }
        struct run nr = { guard_qtime(g, r->t), r->n + carry };
        carry = 0;
        if (g->len && g->runs[g->len - 1].t >= nr.t)
            g->runs[g->len - 1].n += nr.n;
        else
            g->runs[g->len++] = nr;
        g->total += nr.n;
    }
    free(old.runs);
}

/* ----------------------------------------------------------- throttle */

static uint32_t
rate_at(const struct router_pacer *p, uint64_t now)
{
    if (!p->cut_active)
        return p->mps;
    uint64_t hold_end = p->cut_at + THROTTLE_HOLD_US;
    uint64_t r = p->cut_rate;
    if (now > hold_end)
        r += (now - hold_end) * p->mps / ((uint64_t)THROTTLE_STEP_DIV * US_PER_S);
    return (uint32_t)min_u64(r, p->mps);
}

void
router_pacer_throttled(struct router_pacer *p, uint64_t now_us)
{
    if (p->cut_active && now_us < p->cut_at + THROTTLE_EPISODE_US)
        return;
    uint32_t floor_rate = p->mps / THROTTLE_FLOOR_DIV ? p->mps / THROTTLE_FLOOR_DIV : 1;
    uint32_t r = rate_at(p, now_us) / 2;
    p->cut_rate = r > floor_rate ? r : floor_rate;
    p->cut_at = now_us;
    p->cut_active = true;
    p->st.throttles++;
    if (p->shared) {
        for (unsigned i = 0; i < p->nblocks; i++)
            p->st.dropped += p->blocks[i].count - p->blocks[i].next;
        p->nblocks = 0;
        if (p->inflight)
            p->req_stale = true;    /* asked at the old rate */
    }
}

unsigned
router_pacer_rate(const struct router_pacer *p, uint64_t now_us)
{
    return rate_at(p, now_us);
}

/* ------------------------------------------------------ local sequence */

/*
 * Where the local sequence stands at now, without changing it: the next
 * slot's exact time is tat + rem/r (r = current rate), after forgiving slots
 * older than late_us. Returns the number of slots due (time <= now).
 */
struct plan {
    uint64_t tat;
    uint32_t rem, r;
    uint64_t forgiven;
    uint64_t due;
};

static void
local_plan(const struct router_pacer *p, uint64_t now, struct plan *pl)
{
    pl->tat = p->tat;
    pl->rem = p->rem;
    pl->r = rate_at(p, now);
    pl->forgiven = 0;
    pl->due = 0;
    if (pl->r != p->seq_rate)   /* rate changed: keep the next slot no earlier */
        pl->rem = (uint32_t)(((uint64_t)pl->rem * pl->r + p->seq_rate - 1) / p->seq_rate);
    if (pl->rem >= pl->r) {
        pl->tat += 1;
        pl->rem -= pl->r;
    }
    uint64_t lo = now > p->late_us ? now - p->late_us : 0;
    if (pl->tat < lo) {   /* slot 0 is older than lo (rem/r < 1) */
        /* slots with time < lo that a waiting consumer missed: stats only */
        uint64_t d = lo - pl->tat;
        if (!p->starved)
            pl->forgiven = 0;
        else if (d <= 4 * US_PER_S)
            pl->forgiven = (d * pl->r - pl->rem + US_PER_S - 1) / US_PER_S;
        else
            pl->forgiven = d / US_PER_S * pl->r;
        /* A consumer the pacer held back gets its late slots (up to late_us);
         * one that had nothing to send was idle, not late: restart at now. */
        pl->tat = p->starved ? lo : now;
        pl->rem = 0;
    }
    if (pl->tat > now || (pl->tat == now && pl->rem > 0))
        return;
    uint64_t dr = (now - pl->tat) * pl->r;
    if (dr >= pl->rem)
        pl->due = (dr - pl->rem) / US_PER_S + 1;
}

/* --------------------------------------------------------- shared blocks */

static uint64_t
block_time(const struct block *b, uint32_t j)
{
    return b->start + (j * b->P + b->Q - 1) / b->Q;
}

/* Slots j >= 0 of b with time <= t (not capped by count). */
static uint64_t
block_le(const struct block *b, uint64_t t)
{
    if (t < b->start)
        return 0;
    uint64_t d = t - b->start;
    if (d > 1000u * US_PER_S)
        return UINT32_MAX;
    return d * b->Q / b->P + 1;
}

/* First slot of b not expired at now (may be >= count). */
static uint32_t
block_first_live(const struct block *b, uint64_t now)
{
    uint64_t lo = now > b->slack ? now - b->slack : 0;
    uint64_t dead = lo ? block_le(b, lo - 1) : 0;       /* time < lo */
    uint64_t j = dead > b->next ? dead : b->next;
    return (uint32_t)min_u64(j, b->count);
}

static uint64_t
block_due(const struct block *b, uint64_t now, uint32_t *first)
{
    uint32_t f = block_first_live(b, now);
    uint64_t le = min_u64(block_le(b, now), b->count);
    *first = f;
    return le > f ? le - f : 0;
}

static uint64_t
shared_due(const struct router_pacer *p, uint64_t now)
{
    uint64_t due = 0;
    uint32_t f;
    for (unsigned i = 0; i < p->nblocks; i++)
        due += block_due(&p->blocks[i], now, &f);
    return due;
}

/* Slot spacing for grants, as P/Q µs: the widest of T at the current rate
 * and the two window limits widened by lateness J and drift d. */
/*
 * The lateness budget J for the next grant: late_us, or twice the current
 * clock-mapping error when that is larger (a busy or distant Redis), at
 * most the horizon. Grants are spaced for the J they were asked with, so a
 * slot used up to J late still keeps both windows (docs/pacing.md). With a
 * fixed J, a Redis that answered every grant in more than J (seen: 13 ms
 * round trips under a flood of accepts) made every grant unusable and
 * the route sent nothing at all; now it sends a little below its rate.
 */
static uint64_t
shared_j(const struct router_pacer *p, uint64_t now)
{
    if (!p->have_bounds)
        return p->late_us;
    uint64_t drift = (now > p->bounds_at ? (now - p->bounds_at) / DRIFT_DIV : 0) + 1;
    uint64_t err = (uint64_t)(p->best_u - p->best_l) + 2 * drift;
    uint64_t j = max_u64(p->late_us, 2 * err + 100);
    return min_u64(j, max_u64(p->late_us, p->horizon_us));
}

static void
shared_spacing(const struct router_pacer *p, uint64_t now, uint64_t *P, uint32_t *Q)
{
    uint64_t jd = shared_j(p, now) + p->horizon_us / DRIFT_DIV + 1;
    uint64_t cand_P[3] = { US_PER_S, US_PER_S + jd, GUARD2_WINDOW + jd };
    uint32_t cand_Q[3] = { rate_at(p, now), p->mps, cap100(p->mps) };

    *P = cand_P[0];
    *Q = cand_Q[0];
    for (int i = 1; i < 3; i++) {
        if (cand_P[i] * *Q > *P * cand_Q[i]) {
            *P = cand_P[i];
            *Q = cand_Q[i];
        }
    }
}

/* Spacing of a tight grant: T at the current rate, and the 1 s guard's
 * window (1 s + margin) widened by TIGHT_SLACK_US, so the guard does not
 * bind on an on-time sequence. The 100 ms limit needs no widening: its "+1"
 * is a whole slot of slack, and the guards hold the windows for one owner. */
static void
tight_spacing(const struct router_pacer *p, uint64_t now, uint64_t *P, uint32_t *Q)
{
    uint32_t r = rate_at(p, now);
    uint64_t w = US_PER_S + guard_margin(p->mps) + TIGHT_SLACK_US;
    if (w * r > (uint64_t)US_PER_S * p->mps) {
        *P = w;
        *Q = p->mps;
    } else {
        *P = US_PER_S;
        *Q = r;
    }
}

static uint64_t
tight_j(const struct router_pacer *p, uint64_t now)
{
    return max_u64(shared_j(p, now), TIGHT_J_US);
}

/* A random id per pacer: a restarted process, or a new pacer after a
 * reload, is a new owner whose guards know nothing of the old sends. */
static void
make_owner(struct router_pacer *p)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
            ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)p;
    }
    snprintf(p->owner, sizeof(p->owner), "%016llx", (unsigned long long)v);
}

/* (Re)shape both guards for the current mps, keeping their history. In
 * shared mode they check windows guard_margin() longer: there the grant
 * spacing leaves them the whole job for a lone owner. Local mode (channel
 * connectors) keeps exact windows. */
static void
init_guards(struct router_pacer *p)
{
    uint64_t m = p->shared ? guard_margin(p->mps) : 0;
    guard_init(&p->g1, GUARD1_WINDOW + m, p->mps);
    guard_init(&p->g2, GUARD2_WINDOW + m, cap100(p->mps));
}

/* ---------------------------------------------------------- public API */

struct router_pacer *
router_pacer_new(unsigned mps, unsigned horizon_ms)
{
    struct router_pacer *p = xcalloc(1, sizeof(*p));

    if (horizon_ms == 0)
        horizon_ms = ROUTER_PACER_HORIZON_MS;
    check_range("horizon_ms", horizon_ms, ROUTER_PACER_HORIZON_MIN_MS, ROUTER_PACER_HORIZON_MAX_MS);
    p->horizon_us = (uint64_t)horizon_ms * 1000;
    p->late_us = ROUTER_PACER_LATE_LOCAL_US;
    make_owner(p);
    router_pacer_set_mps(p, mps);
    return p;
}

void
router_pacer_free(struct router_pacer *p)
{
    if (!p)
        return;
    free(p->g1.runs);
    free(p->g2.runs);
    free(p);
}

void
router_pacer_set_mps(struct router_pacer *p, unsigned mps)
{
    check_range("mps", mps, 1, ROUTER_PACER_MPS_MAX);
    if (p->seq_rate) {   /* keep the sequence's next slot, in the new units */
        p->rem = (uint32_t)(((uint64_t)p->rem * mps + p->seq_rate - 1) / p->seq_rate);
        if (p->rem >= mps) {
            p->tat++;
            p->rem -= mps;
        }
    }
    p->mps = mps;
    p->seq_rate = mps;
    p->cut_active = false;
    init_guards(p);
}

unsigned
router_pacer_mps(const struct router_pacer *p)
{
    return p->mps;
}

void
router_pacer_set_late(struct router_pacer *p, unsigned late_us)
{
    check_range("late_us", late_us, 0, ROUTER_PACER_LATE_MAX_US);
    p->late_us = late_us;
}

void
router_pacer_set_shared(struct router_pacer *p, unsigned late_us)
{
    router_pacer_set_late(p, late_us ? late_us : ROUTER_PACER_LATE_SHARED_US);
    p->shared = true;
    init_guards(p);
}

bool
router_pacer_is_shared(const struct router_pacer *p)
{
    return p->shared;
}

unsigned
router_pacer_peek(const struct router_pacer *p, uint64_t now_us, unsigned want)
{
    uint64_t n = want;

    if (p->shared) {
        n = min_u64(n, shared_due(p, now_us));
    } else {
        struct plan pl;
        local_plan(p, now_us, &pl);
        n = min_u64(n, pl.due);
    }
    if (n == 0)
        return 0;
    n = min_u64(n, guard_room(&p->g1, now_us));
    n = min_u64(n, guard_room(&p->g2, now_us));
    return (unsigned)n;
}

unsigned
router_pacer_take(struct router_pacer *p, uint64_t now_us, unsigned want)
{
    uint64_t slots;
    struct plan pl;

    if (p->shared) {
        slots = shared_due(p, now_us);
    } else {
        local_plan(p, now_us, &pl);
        slots = pl.due;
    }
    uint64_t n = min_u64(want, slots);
    uint64_t room = min_u64(guard_room(&p->g1, now_us), guard_room(&p->g2, now_us));
    if (n > room) {
        n = room;
        p->st.guarded++;
    }

    if (!p->shared) {
        /* commit the plan, then advance past n slots */
        p->st.dropped += pl.forgiven;
        uint64_t total = pl.rem + n * US_PER_S;
        p->tat = pl.tat + total / pl.r;
        p->rem = (uint32_t)(total % pl.r);
        p->seq_rate = pl.r;
        p->starved = n < want;
    } else {
        uint64_t left = n;
        unsigned keep = 0;
        for (unsigned i = 0; i < p->nblocks; i++) {
            struct block *b = &p->blocks[i];
            uint32_t f;
            uint64_t due = block_due(b, now_us, &f);
            p->st.dropped += f - b->next;
            b->next = f;
            uint64_t use = min_u64(due, left);
            b->next += (uint32_t)use;
            left -= use;
            if (b->next < b->count)
                p->blocks[keep++] = *b;
        }
        p->nblocks = keep;
    }
    if (n) {
        guard_add(&p->g1, now_us, (uint32_t)n);
        guard_add(&p->g2, now_us, (uint32_t)n);
        p->st.sent += n;
    }
    return (unsigned)n;
}

void
router_pacer_sent(struct router_pacer *p, unsigned n, uint64_t sent_us)
{
    guard_move_last(&p->g1, n, sent_us);
    guard_move_last(&p->g2, n, sent_us);
}

unsigned
router_pacer_take_all(struct router_pacer *const *v, size_t n, uint64_t now_us, unsigned want)
{
    for (size_t i = 0; i < n && want; i++)
        want = router_pacer_peek(v[i], now_us, want);
    for (size_t i = 0; i < n && want; i++) {
        unsigned got = router_pacer_take(v[i], now_us, want);
        if (got != want) {
            fprintf(stderr, "router_pacer: take %u after peek %u\n", got, want);
            abort();
        }
    }
    return want;
}

uint64_t
router_pacer_next_us(const struct router_pacer *p, uint64_t now_us)
{
    uint64_t wait;

    if (p->shared) {
        wait = ROUTER_PACER_NEVER;
        for (unsigned i = 0; i < p->nblocks; i++) {
            const struct block *b = &p->blocks[i];
            uint32_t f = block_first_live(b, now_us);
            if (f >= b->count)
                continue;
            uint64_t t = block_time(b, f);
            wait = min_u64(wait, t > now_us ? t - now_us : 0);
        }
        if (wait == ROUTER_PACER_NEVER)
            return wait;
    } else {
        struct plan pl;
        local_plan(p, now_us, &pl);
        if (pl.due)
            wait = 0;
        else   /* next slot at ceil(tat + rem/r) > now */
            wait = pl.tat + (pl.rem > 0) - now_us;
    }
    wait = max_u64(wait, guard_wait(&p->g1, now_us));
    wait = max_u64(wait, guard_wait(&p->g2, now_us));
    return wait;
}

void
router_pacer_get_stats(const struct router_pacer *p, struct router_pacer_stats *out)
{
    *out = p->st;
    out->rtt_us = p->rtt_us;
    out->err_us = p->have_bounds ? (uint64_t)(p->best_u - p->best_l) : 0;
    out->j_us = p->req_j;
}

/* ----------------------------------------------------- shared: Redis */

/*
 * Slot j of a grant is at first + ceil(j*P/Q) (Redis µs). The script grants
 * the slots that fall before now + lead + horizon, at most want, starting
 * where the last grant ended (or at now + lead when that is past), and
 * stores where the next grant starts (rounded
 * up, so grants never overlap and never come closer than P/Q). lead is about
 * two round trips: slots that start at Redis's now are already past their
 * time + slack when the reply arrives late (a busy Redis answers in ms,
 * slots at 100k mps are 10 µs apart), and a route whose every grant came
 * back stale sent nothing at all. It applies only when the sequence is
 * behind now: a grant continuing it starts where the last ended, though
 * its first slots may arrive late (used within the lateness budget),
 * since skipping to now + lead loses them all (docs/pacing.md).
 *
 * Owners (docs/pacing.md, "One instance at full rate"): the key is a hash
 * n (next free slot), o (owner of the last grant), c (when the owner last
 * changed), t (1: the last grant was tight), g (its owner's gap). A grant is
 * tight - spaced ARGV[6]/ARGV[7], about 1/mps - when the same owner has held
 * the sequence for ARGV[10] µs (or the key is fresh): that owner's own window
 * guards then hold both limits on its real send times. Otherwise it is wide
 * (ARGV[1]/ARGV[2], the spacing that lets slots of several owners be used J
 * late). When another owner takes over after a tight grant, its first slot
 * comes g later, so the tight owner's late sends cannot crowd it. A plain
 * string in the key is an older smsgwd's next slot: honoured, treated as
 * another owner's wide grant.
 *
 * Wide grants are spaced for a lateness budget J (ARGV[11] = J + drift),
 * which each instance sets from its own clock-mapping error, so budgets
 * differ. A window that starts at a slot of a grant with a large J reaches
 * J + W past it, into later grants spaced for smaller ones; so jm/je keep
 * the budget of the last wide grant and where it ended, and a wide grant
 * whose slots such a window can reach is spaced for that budget too
 * (ARGV[12] mps, ARGV[13] mps/10 + 1). Found by test_pacer's two-owner
 * check once it used each grant's own J: 1,006 in a 100 ms window, cap
 * 1,001, when one instance's J had grown under load.
 * Numbers stay below 2^53 (Lua doubles).
 * Returns { k, first, now, tight, P, Q } (the spacing the slots have).
 */
static const char pacer_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local P, Q = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local want, horizon = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local lead = tonumber(ARGV[5])\n"
    "local me, quiet = ARGV[8], tonumber(ARGV[10])\n"
    "local s = {}\n"
    "local kind = redis.call('TYPE', KEYS[1]).ok\n"
    "if kind == 'hash' then\n"
    "  s = redis.call('HMGET', KEYS[1], 'n', 'o', 'c', 't', 'g', 'jm', 'je')\n"
    "elseif kind == 'string' then\n"
    "  s = {redis.call('GET', KEYS[1]), '', tostring(now), '0', '0'}\n"
    "end\n"
    "local first = tonumber(s[1] or '0') or 0\n"
    "local chg = tonumber(s[3] or '0') or 0\n"
    "if s[1] and s[2] ~= me then\n"
    "  if s[4] == '1' then first = first + (tonumber(s[5]) or 0) end\n"
    "  chg = now\n"
    "end\n"
    "local tight = not s[1] or (s[2] == me and now - chg >= quiet)\n"
    "if tight then P, Q = tonumber(ARGV[6]), tonumber(ARGV[7]) end\n"
    "local jd = tonumber(ARGV[11])\n"
    "if first < now then first = now + lead end\n"
    "if not tight then\n"
    "  local jm, je = tonumber(s[6] or '0') or 0, tonumber(s[7] or '0') or 0\n"
    "  if jm > jd and je + jm + 1000000 > first then\n"
    "    jd = jm\n"
    "    local c = {{1000000 + jm, tonumber(ARGV[12])}, {100000 + jm, tonumber(ARGV[13])}}\n"
    "    for _, x in ipairs(c) do\n"
    "      if x[1] * Q > P * x[2] then P, Q = x[1], x[2] end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local room = now + lead + horizon - first\n"
    "local k = 0\n"
    "if room >= 1 then k = math.floor((room - 1) * Q / P) + 1 end\n"
    "if k > want then k = want end\n"
    "if k > 0 then\n"
    "  local nxt = first + math.ceil(k * P / Q)\n"
    "  local ttl = math.ceil((nxt - now) / 1000) + 1000\n"
    "  if kind == 'string' then redis.call('DEL', KEYS[1]) end\n"
    "  redis.call('HSET', KEYS[1], 'n', string.format('%d', nxt), 'o', me,\n"
    "    'c', string.format('%d', chg), 't', tight and '1' or '0', 'g', ARGV[9])\n"
    "  if not tight then\n"
    "    redis.call('HSET', KEYS[1], 'jm', string.format('%d', jd), 'je', string.format('%d', nxt))\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "end\n"
    "return { k, first, now, tight and 1 or 0, P, Q }\n";

/* SHA1 of pacer_lua; test_pacer compares it with SCRIPT LOAD's answer. */
static const char pacer_lua_sha[] = "0504e29706ccf7087b53ceb713d1f3041e57bb34";

const char *
router_pacer_lua(void)
{
    return pacer_lua;
}

const char *
router_pacer_lua_sha(void)
{
    return pacer_lua_sha;
}

/* Runway: when the last granted slot falls, or now if none. */
static uint64_t
granted_until(const struct router_pacer *p, uint64_t now, uint64_t *left)
{
    uint64_t until = now;
    *left = 0;
    for (unsigned i = 0; i < p->nblocks; i++) {
        const struct block *b = &p->blocks[i];
        uint32_t f = block_first_live(b, now);
        if (f >= b->count)
            continue;
        *left += b->count - f;
        until = max_u64(until, block_time(b, b->count - 1));
    }
    return until;
}

unsigned
router_pacer_grant_want(const struct router_pacer *p, uint64_t now_us, unsigned backlog)
{
    uint64_t left, P;
    uint32_t Q;

    if (!p->shared || p->inflight || p->nblocks == MAX_BLOCKS)
        return 0;
    uint64_t until = granted_until(p, now_us, &left);
    if (until > now_us + p->horizon_us / 2 || backlog <= left)
        return 0;
    tight_spacing(p, now_us, &P, &Q);     /* the usual case: one instance */
    uint64_t worth = p->horizon_us * Q / P;
    if (worth == 0)
        worth = 1;
    return (unsigned)min_u64(backlog - left, worth);
}

static char *
put_u64(char *buf, uint64_t v, size_t *len)
{
    *len = (size_t)snprintf(buf, 24, "%llu", (unsigned long long)v);
    return buf;
}

int
router_pacer_grant_cmd(struct router_pacer *p, struct router_pacer_cmd *cmd, const char *key,
                       unsigned want, uint64_t now_us, bool eval)
{
    uint64_t P;
    uint32_t Q;
    int i = 0;

    if (!p->shared || want == 0)
        return -1;
    shared_spacing(p, now_us, &P, &Q);
    cmd->argv[i] = eval ? "EVAL" : "EVALSHA";
    cmd->argvlen[i] = strlen(cmd->argv[i]);
    i++;
    cmd->argv[i] = eval ? pacer_lua : pacer_lua_sha;
    cmd->argvlen[i] = eval ? sizeof(pacer_lua) - 1 : sizeof(pacer_lua_sha) - 1;
    i++;
    cmd->argv[i] = "1";
    cmd->argvlen[i++] = 1;
    cmd->argv[i] = key;
    cmd->argvlen[i++] = strlen(key);
    cmd->argv[i] = put_u64(cmd->num[0], P, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[1], Q, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[2], want, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[3], p->horizon_us, &cmd->argvlen[i]);
    i++;
    /* Two smoothed round trips ahead, at most half the horizon. */
    cmd->argv[i] = put_u64(cmd->num[4], min_u64(2 * p->rtt_us, p->horizon_us / 2),
                           &cmd->argvlen[i]);
    i++;
    uint64_t tP, jt = tight_j(p, now_us);
    uint32_t tQ;
    tight_spacing(p, now_us, &tP, &tQ);
    cmd->argv[i] = put_u64(cmd->num[5], tP, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[6], tQ, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = p->owner;
    cmd->argvlen[i++] = strlen(p->owner);
    /* The gap another owner leaves after our tight grant: our lateness
     * budget plus the drift within a grant, rounded up. */
    cmd->argv[i] = put_u64(cmd->num[7], jt + p->horizon_us / DRIFT_DIV + 2, &cmd->argvlen[i]);
    i++;
    /* Tight only after one owner held the sequence this long: longer than a
     * 1 s window plus a grant's reach (lead + horizon) plus lateness, so no
     * other owner's send can share a window with a tight grant's. */
    cmd->argv[i] = put_u64(cmd->num[8], 2 * US_PER_S + 2 * p->horizon_us, &cmd->argvlen[i]);
    i++;
    /* The lateness budget the wide spacing was computed for (J + drift + 1,
     * as in shared_spacing), and the caps, so the script can widen it for
     * a larger budget still in reach (pacer_lua). */
    cmd->argv[i] = put_u64(cmd->num[9], shared_j(p, now_us) + p->horizon_us / DRIFT_DIV + 1,
                           &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[10], p->mps, &cmd->argvlen[i]);
    i++;
    cmd->argv[i] = put_u64(cmd->num[11], cap100(p->mps), &cmd->argvlen[i]);
    i++;
    cmd->argc = i;

    p->inflight = true;
    p->req_stale = false;
    p->req_j = shared_j(p, now_us);
    p->req_jt = jt;
    p->req_tP = tP;
    p->req_tQ = tQ;
    p->req_sent = now_us;
    p->req_P = P;
    p->req_Q = Q;
    return 0;
}

/*
 * Clock mapping. The script read Redis TIME (rn) at some instant between
 * sending the request (local req_sent) and receiving the reply (local y), so
 * the offset theta = local - redis lies in [req_sent - rn, y - rn]. Mapping
 * with the upper bound makes every slot late by at most the interval width,
 * never early. Bounds from earlier grants stay valid if widened by the drift
 * allowance, so the tightest recent pair is kept (an NTP-style min filter):
 * the error is then about the smallest round trip seen, not the last one.
 */
static void
update_bounds(struct router_pacer *p, int64_t u, int64_t l, uint64_t now)
{
    if (p->have_bounds) {
        int64_t drift = (int64_t)((now - p->bounds_at) / DRIFT_DIV) + 1;
        int64_t bu = p->best_u + drift, bl = p->best_l - drift;
        p->best_u = u < bu ? u : bu;
        p->best_l = l > bl ? l : bl;
        if (p->best_l <= p->best_u) {
            p->bounds_at = now;
            return;
        }
        /* inconsistent: a clock stepped; start over from this grant */
    }
    p->best_u = u;
    p->best_l = l;
    p->bounds_at = now;
    p->have_bounds = true;
}

int
router_pacer_apply_grant(struct router_pacer *p, const redisReply *reply, uint64_t local_now_us)
{
    if (!p->inflight)
        return ROUTER_PACER_ERROR;
    if (reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0)
        return ROUTER_PACER_NOSCRIPT;
    p->inflight = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 6)
        return ROUTER_PACER_ERROR;
    for (int i = 0; i < 6; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER || reply->element[i]->integer < 0)
            return ROUTER_PACER_ERROR;
    long long k = reply->element[0]->integer;
    long long first = reply->element[1]->integer;
    long long rn = reply->element[2]->integer;
    bool tight = reply->element[3]->integer == 1;
    uint64_t P = (uint64_t)reply->element[4]->integer, Q = (uint64_t)reply->element[5]->integer;
    uint64_t askP = tight ? p->req_tP : p->req_P, askQ = tight ? p->req_tQ : p->req_Q;
    if (first < rn || local_now_us < p->req_sent || k > (long long)UINT32_MAX || Q == 0 ||
        Q > UINT32_MAX || P * askQ < askP * Q)     /* never denser than asked */
        return ROUTER_PACER_ERROR;

    p->st.grants++;
    p->st.granted += (uint64_t)k;
    uint64_t rtt = local_now_us - p->req_sent;
    p->rtt_us = p->rtt_us ? (7 * p->rtt_us + rtt) / 8 : rtt;
    update_bounds(p, (int64_t)local_now_us - rn, (int64_t)p->req_sent - rn, local_now_us);
    uint64_t err = (uint64_t)(p->best_u - p->best_l);
    if (k == 0)
        return 0;
    uint64_t j = tight ? p->req_jt : p->req_j;
    if (tight)
        p->st.tight_grants++;
    if (p->req_stale || err >= j || p->nblocks == MAX_BLOCKS) {
        p->st.dropped += (uint64_t)k;
        return 0;
    }
    int64_t start = first + p->best_u;
    struct block *b = &p->blocks[p->nblocks++];
    b->start = start > 0 ? (uint64_t)start : 0;
    b->P = P;
    b->Q = (uint32_t)Q;
    b->next = 0;
    b->count = (uint32_t)k;
    b->slack = j - err;
    return (int)min_u64((uint64_t)k, INT32_MAX);
}
