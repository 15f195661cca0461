/*
 * smsc-sim — an SMSC simulator for load and integration tests.
 *
 * ESMEs bind to it (TX, RX, TRX; plain TCP or TLS) through smpp_server; it
 * answers submit_sm and data_sm with message ids, sends delivery receipts
 * after a configurable delay and outcome mix, answers query_sm, cancel_sm
 * and replace_sm from a table of recent messages, injects MO messages from
 * a file or a control port, and can misbehave on purpose (throttle, drop
 * the connection, delay, withhold or reject responses). See
 * docs/smsc-sim.md.
 *
 * It must never be what limits a load test, so the per-message path does no
 * allocation and no logging:
 *
 *  - Messages live in one ring of records allocated at start, indexed by
 *    message id: ids come from a counter, so id & mask is the slot and a
 *    lookup by id (query_sm, cancel_sm, a receipt's resp) is one compare.
 *    A slot is reused when the counter wraps the ring; a record still
 *    waiting there is evicted and counted.
 *  - Every queue (delayed resps, the receipt timer wheel, the per-account
 *    receipt outbox) is a doubly linked list threaded through the records
 *    by index, so moving a message between them costs a few stores.
 *  - Receipts are scheduled on a timer wheel of TICK_MS slots driven by
 *    one persistent event, not one event per message.
 *
 * Ownership: one root (struct sim) owns everything; smpp_server owns the
 * sessions and tells us when they close (on_closed), where we drop our
 * references to them.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_server.h"
#include "smpp/smpp_text.h"
#include "smpp/smpp_tls.h"

#include "tools/sim_concat.h"
#include "tools/sim_control.h"
#include "tools/sim_files.h"
#include "tools/sim_opts.h"
#include "tools/sim_smpp.h"
#include "tools/sim_util.h"

/* Granularity of the receipt wheel, delayed resps and MO pacing. */
#define TICK_MS             2
/* Attempts per receipt (first send included) on timeouts, lost
 * connections and temporary error statuses. */
#define DLR_TRIES           3
#define ACCOUNT_MAX         1024
#define ADDR_LEN            SIM_ADDR_LEN
#define MO_MAX_PARTS        SIM_MO_MAX_PARTS
#define NO_BIND             UINT16_MAX
/* Wait this long after the --close-after'th submit_sm before dropping the
 * connection, so that the resps already written reach the peer. */
#define CLOSE_AFTER_FLUSH_MS 50
/* How long an unbind waits for unbind_resp, at exit and --unbind-after. */
#define UNBIND_TIMEOUT_MS   2000
/* The summary with all 256 data_coding keys fits. */
#define STATS_JSON_MAX      16384

/* ------------------------------------------------------------ state */

enum rec_where {
    W_NONE,         /* on no list */
    W_RESPQ,        /* its resp is being delayed (--resp-delay-ms) */
    W_WHEEL,        /* its receipt is scheduled */
    W_OUTBOX,       /* its receipt is due and waits for a receiver */
    W_INFLIGHT,     /* its receipt was sent and awaits deliver_sm_resp */
};

enum {
    R_DATA_SM   = 1u << 0,  /* came as data_sm: answer data_sm_resp */
    R_CANCELLED = 1u << 1,
    R_REJECTED  = 1u << 2,  /* answered (or to be answered) with --reject-status */
    R_DLR_SENT  = 1u << 3,  /* a receipt went out (perhaps unacknowledged) */
    R_DEAD      = 1u << 4,  /* resp never sent (bind gone): forget the message */
};

/*
 * One message, 120 bytes; the ring holds --max-messages of them. Only the
 * fields of the record's current stage are meaningful: due_ms is the resp
 * time in W_RESPQ and the outcome time afterwards.
 */
struct rec {
    uint64_t id;                /* 0: slot never used */
    uint64_t due_ms;            /* monotonic */
    uint32_t prev, next;        /* list links */
    uint32_t list;              /* wheel slot or account index of its list */
    uint32_t submit_s;          /* wall clock, for the receipt's submit date */
    uint32_t seq;               /* the request's sequence_number */
    uint32_t bind_gen;
    uint16_t bind;              /* submitting bind slot */
    uint16_t acct;
    uint8_t where, stat, flags, tries;
    uint8_t regdel, dc;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    uint8_t text_len;
    char src[ADDR_LEN], dst[ADDR_LEN];
    char text[SMPP_DLR_TEXT_MAX];
};

_Static_assert(sizeof(struct rec) <= 120, "struct rec grew: the ring's memory is documented");

struct rlist {
    uint32_t head, tail, n;
};

struct account {
    char system_id[16];
    char password[9];
    bool open;                  /* made by a bind: no accounts configured */
    long throttle;              /* -1: --throttle */
    int line;                   /* in the accounts file */
    uint32_t rx_head, rx_tail;  /* receiver-capable binds (bind.rx_*) */
    unsigned nrx;
    struct rlist outbox;        /* receipts due, waiting for a receiver */
};

struct bind {
    struct smpp_session *s;     /* NULL: free slot */
    uint32_t gen;               /* bumped on release: stale references miss */
    uint16_t acct;
    uint8_t mode;               /* enum smpp_bind_mode */
    bool bound;
    bool blocked;               /* send said AGAIN; on_window clears it */
    bool closing;               /* --close-after reached: answer nothing more */
    bool close_pending_unbind;  /* --unbind-after reached: unbind after this resp */
    uint32_t rx_prev, rx_next;
    uint32_t free_next;
    uint64_t thr_sec;
    uint32_t thr_count;
    uint64_t submits;
    struct event *close_ev;
};

struct map_ent {
    const struct smpp_session *s;
    uint32_t idx;
};

struct stats {
    uint64_t binds, bind_refused;
    uint64_t submit_sm, data_sm, by_dc[256];
    uint64_t accepted, throttled, withheld, rejected, closed_after, ignored_closing;
    uint64_t resp_dropped, resp_evicted;
    uint64_t receipts_sent, receipts_acked, receipts_dropped, receipts_evicted;
    uint64_t receipts_retried, receipts_failed;
    uint64_t deliver_sm_resp_errors, deliver_sm_timeouts, deliver_sm_conn_lost;
    uint64_t mo_sent, mo_parts, mo_failed;
    uint64_t query_sm, query_sm_failed, cancel_sm, cancel_sm_failed;
    uint64_t replace_sm, replace_sm_failed;
    uint64_t bad_udh;
    uint64_t concat_parts_udh, concat_parts_sar;   /* parts by how they were marked */
};

struct sim {
    struct opts o;
    struct event_base *base;
    struct smpp_server *srv;
    SSL_CTX *ssl;
    bool auth;                  /* accounts configured: check system_id/password */

    /* the one periodic event for wheel, delayed resps, outbox kicks, MO */
    const struct timeval *tick_tv;
    struct event *tick_ev;
    bool tick_on;
    bool kick;                  /* some outbox may be drainable now */

    struct rec *rec;
    uint32_t rec_mask;
    uint64_t next_id;
    struct rlist *wheel;
    uint32_t wheel_mask;
    uint64_t wheel_cur;         /* last tick processed */
    uint32_t wheel_n;
    struct rlist respq;
    uint32_t outbox_n;

    struct account *acct;
    unsigned nacct;
    struct bind *bind;
    uint32_t bind_free, bind_hi;
    unsigned nbound, nrx;
    struct map_ent *map;
    uint32_t map_mask;
    const struct smpp_session *last_s;
    struct bind *last_b;

    struct concat concat;
    uint64_t rng;

    struct mo_file mof;
    size_t mo_next;
    double mo_tokens;
    uint64_t mo_last_ms;
    uint32_t mo_rr;
    uint16_t mo_ref;

    struct ctl_server *ctl;

    struct event *stats_ev, *house_ev, *stop_ev, *sigint_ev, *sigterm_ev;
    struct stats st;
    uint64_t start_ms, stats_last_ms, stats_last_sub, stats_last_dlr;
    double peak_rate;
    uint64_t peak_last_ms, peak_last_sub;
    bool stopping;
    uint64_t stop_deadline_ms;
    bool logged_pack_error, logged_build_error;

    /* receipt dates: one gmtime_r per second, not per receipt */
    time_t date_t[2];
    struct smpp_dlr_time date_v[2];
};

/*
 * The one mutable global root. Timer, control and session-op callbacks get
 * it through their ctx argument; only the per-request callbacks of
 * smpp_session_send() reach it here, because their argument carries the
 * message id (a receipt's record may be reused while its resp is awaited,
 * and the id is how that is detected).
 */
static struct sim the_sim;

/* ------------------------------------------------------------ record lists */

static void
rl_init(struct rlist *l)
{
    l->head = l->tail = SIM_NIL;
    l->n = 0;
}

static void
rl_push(struct rec *t, struct rlist *l, uint32_t i)
{
    t[i].next = SIM_NIL;
    t[i].prev = l->tail;
    if (l->tail != SIM_NIL)
        t[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
    l->n++;
}

static void
rl_push_head(struct rec *t, struct rlist *l, uint32_t i)
{
    t[i].prev = SIM_NIL;
    t[i].next = l->head;
    if (l->head != SIM_NIL)
        t[l->head].prev = i;
    else
        l->tail = i;
    l->head = i;
    l->n++;
}

static void
rl_unlink(struct rec *t, struct rlist *l, uint32_t i)
{
    if (t[i].prev != SIM_NIL)
        t[t[i].prev].next = t[i].next;
    else
        l->head = t[i].next;
    if (t[i].next != SIM_NIL)
        t[t[i].next].prev = t[i].prev;
    else
        l->tail = t[i].prev;
    l->n--;
}

static struct rec *
rec_find(struct sim *sim, uint64_t id)
{
    struct rec *r = &sim->rec[id & sim->rec_mask];

    return id && r->id == id ? r : NULL;
}

static uint32_t
rec_index(const struct sim *sim, const struct rec *r)
{
    return (uint32_t)(r - sim->rec);
}

/* Take record i off whatever list holds it. */
static void
rec_unlink(struct sim *sim, uint32_t i)
{
    struct rec *r = &sim->rec[i];

    switch (r->where) {
    case W_RESPQ:
        rl_unlink(sim->rec, &sim->respq, i);
        break;
    case W_WHEEL:
        rl_unlink(sim->rec, &sim->wheel[r->list], i);
        sim->wheel_n--;
        break;
    case W_OUTBOX:
        rl_unlink(sim->rec, &sim->acct[r->list].outbox, i);
        sim->outbox_n--;
        break;
    case W_NONE:
    case W_INFLIGHT:
        break;
    default:
        abort();
    }
    r->where = W_NONE;
}

/* A new record with the next id, evicting whatever waited in its slot. */
static uint32_t
rec_new(struct sim *sim)
{
    uint64_t id = sim->next_id++;
    uint32_t i;
    struct rec *r;

    if (sim->next_id == 0)
        sim->next_id = 1;
    i = (uint32_t)(id & sim->rec_mask);
    r = &sim->rec[i];
    if (r->where == W_RESPQ)
        sim->st.resp_evicted++;
    else if (r->where == W_WHEEL || r->where == W_OUTBOX)
        sim->st.receipts_evicted++;
    rec_unlink(sim, i);
    r->id = id;
    r->flags = 0;
    r->tries = 0;
    r->stat = SMPP_DLR_STAT_NONE;
    return i;
}

/* ------------------------------------------------------------ binds */

static uint32_t
ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;

    return (uint32_t)((x * 0x9E3779B97F4A7C15ULL) >> 32);
}

static struct bind *
bind_lookup(struct sim *sim, const struct smpp_session *s)
{
    if (s == sim->last_s)
        return sim->last_b;
    for (uint32_t k = ptr_hash(s) & sim->map_mask;; k = (k + 1) & sim->map_mask) {
        if (!sim->map[k].s)
            return NULL;
        if (sim->map[k].s == s) {
            sim->last_s = s;
            sim->last_b = &sim->bind[sim->map[k].idx];
            return sim->last_b;
        }
    }
}

static void
map_put(struct sim *sim, const struct smpp_session *s, uint32_t idx)
{
    uint32_t k = ptr_hash(s) & sim->map_mask;

    while (sim->map[k].s)
        k = (k + 1) & sim->map_mask;
    sim->map[k].s = s;
    sim->map[k].idx = idx;
}

/* Remove s, shifting its probe run back (linear probing, no tombstones). */
static void
map_del(struct sim *sim, const struct smpp_session *s)
{
    uint32_t i = ptr_hash(s) & sim->map_mask, m = sim->map_mask;

    while (sim->map[i].s && sim->map[i].s != s)
        i = (i + 1) & m;
    if (!sim->map[i].s)
        return;
    sim->map[i].s = NULL;
    for (uint32_t j = (i + 1) & m; sim->map[j].s; j = (j + 1) & m) {
        uint32_t home = ptr_hash(sim->map[j].s) & m;
        bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            sim->map[i] = sim->map[j];
            sim->map[j].s = NULL;
            i = j;
        }
    }
    if (sim->last_s == s) {
        sim->last_s = NULL;
        sim->last_b = NULL;
    }
}

/* The bind a record refers to, if that bind still exists. */
static struct bind *
bind_get(struct sim *sim, uint16_t idx, uint32_t gen)
{
    struct bind *b;

    if (idx == NO_BIND || idx >= sim->o.max_binds)
        return NULL;
    b = &sim->bind[idx];
    return b->s && b->gen == gen ? b : NULL;
}

static uint32_t
bind_idx(const struct sim *sim, const struct bind *b)
{
    return (uint32_t)(b - sim->bind);
}

static void
rx_add(struct sim *sim, struct account *a, uint32_t j)
{
    struct bind *b = &sim->bind[j];

    b->rx_next = SIM_NIL;
    b->rx_prev = a->rx_tail;
    if (a->rx_tail != SIM_NIL)
        sim->bind[a->rx_tail].rx_next = j;
    else
        a->rx_head = j;
    a->rx_tail = j;
    a->nrx++;
    sim->nrx++;
}

static void
rx_del(struct sim *sim, struct account *a, uint32_t j)
{
    struct bind *b = &sim->bind[j];

    if (b->rx_prev != SIM_NIL)
        sim->bind[b->rx_prev].rx_next = b->rx_next;
    else
        a->rx_head = b->rx_next;
    if (b->rx_next != SIM_NIL)
        sim->bind[b->rx_next].rx_prev = b->rx_prev;
    else
        a->rx_tail = b->rx_prev;
    a->nrx--;
    sim->nrx--;
}

/* Round robin: the receiver just used goes to the back. */
static void
rx_rotate(struct sim *sim, struct account *a, uint32_t j)
{
    if (a->rx_tail == j)
        return;
    rx_del(sim, a, j);
    rx_add(sim, a, j);
}

static int
account_find(const struct sim *sim, const char *system_id)
{
    for (unsigned i = 0; i < sim->nacct; i++)
        if (strcmp(sim->acct[i].system_id, system_id) == 0)
            return (int)i;
    return -1;
}

static int
account_add(struct sim *sim, const char *system_id, const char *password, long throttle,
            bool open, int line)
{
    struct account *a;

    if (sim->nacct >= ACCOUNT_MAX)
        return -1;
    a = &sim->acct[sim->nacct];
    memset(a, 0, sizeof(*a));
    snprintf(a->system_id, sizeof(a->system_id), "%s", system_id);
    snprintf(a->password, sizeof(a->password), "%s", password);
    a->throttle = throttle;
    a->open = open;
    a->line = line;
    a->rx_head = a->rx_tail = SIM_NIL;
    rl_init(&a->outbox);
    return (int)sim->nacct++;
}

/* ------------------------------------------------------------ the tick */

static bool
mo_pending(const struct sim *sim)
{
    return sim->mo_next < sim->mof.n && sim->nrx > 0 && !sim->stopping;
}

static bool
tick_wanted(const struct sim *sim)
{
    return sim->wheel_n || sim->respq.n || sim->kick || mo_pending(sim);
}

/*
 * The tick runs only while there is something to do. It is added with a
 * common timeout: libevent keeps such events in a queue instead of its
 * timer heap, which is what the brief asks of "many equal delays".
 */
static void
tick_ensure(struct sim *sim)
{
    if (sim->tick_on)
        return;
    sim->tick_on = true;
    sim->mo_last_ms = sim_mono_ms();
    event_add(sim->tick_ev, sim->tick_tv);
}

static void
wheel_add(struct sim *sim, uint32_t i, uint64_t due_ms, uint64_t now)
{
    struct rec *r = &sim->rec[i];
    uint64_t now_tick = now / TICK_MS, t = (due_ms + TICK_MS - 1) / TICK_MS;

    if (sim->wheel_n == 0 && sim->wheel_cur + 1 < now_tick)
        sim->wheel_cur = now_tick - 1;
    if (t <= sim->wheel_cur)
        t = sim->wheel_cur + 1;
    r->due_ms = t * TICK_MS;
    r->list = (uint32_t)(t & sim->wheel_mask);
    r->where = W_WHEEL;
    rl_push(sim->rec, &sim->wheel[r->list], i);
    sim->wheel_n++;
    tick_ensure(sim);
}

static enum smpp_dlr_stat
mix_pick(struct sim *sim)
{
    const struct dlr_mix *m = &sim->o.mix;
    uint32_t x;

    if (m->n == 1)
        return m->stat[0];
    x = sim_rng_below(&sim->rng, m->total);
    for (unsigned k = 0; k < m->n; k++)
        if (x < m->cum[k])
            return m->stat[k];
    return m->stat[m->n - 1];
}

/*
 * The resp of an accepted message has gone out: decide its outcome and
 * when it happens, and schedule a receipt if registered_delivery asks for
 * one (bits 1-0: 01 always, 10 on failure only).
 */
static void
rec_settle(struct sim *sim, uint32_t i, uint64_t now)
{
    struct rec *r = &sim->rec[i];
    unsigned delay = sim->o.dlr_delay_min;
    unsigned rd = r->regdel & 3u;

    if (sim->o.dlr_delay_max > sim->o.dlr_delay_min)
        delay += sim_rng_below(&sim->rng, sim->o.dlr_delay_max - sim->o.dlr_delay_min + 1);
    r->stat = (uint8_t)mix_pick(sim);
    if (rd == 1 || (rd == 2 && stat_failed((enum smpp_dlr_stat)r->stat))) {
        wheel_add(sim, i, now + delay, now);
    } else {
        r->due_ms = now + delay;
        r->where = W_NONE;
    }
}

/* ------------------------------------------------------------ receipts */

static void dlr_done(struct smpp_session *s, enum smpp_req_result res,
                     const struct smpp_pdu *resp, void *arg);

static void
dlr_date(struct sim *sim, int k, time_t t, struct smpp_dlr_time *out)
{
    if (sim->date_t[k] != t) {
        struct tm tm;
        gmtime_r(&t, &tm);
        sim->date_t[k] = t;
        sim->date_v[k].year = tm.tm_year + 1900;
        sim->date_v[k].mon = tm.tm_mon + 1;
        sim->date_v[k].mday = tm.tm_mday;
        sim->date_v[k].hour = tm.tm_hour;
        sim->date_v[k].min = tm.tm_min;
        /* Appendix B's 10-digit form unless --dlr-date-seconds; the
         * formatter wants sec 0 when it is not written. */
        sim->date_v[k].has_sec = sim->o.dlr_date_seconds;
        sim->date_v[k].sec = sim->o.dlr_date_seconds ? tm.tm_sec : 0;
    }
    *out = sim->date_v[k];
}

/* The receipt deliver_sm for record r: Appendix B text plus TLVs. */
static int
dlr_build(struct sim *sim, const struct rec *r, struct smpp_pdu *p)
{
    struct smpp_dlr d;
    deliver_sm_t *dm;
    char id[24];
    int n;

    sim_id_format(r->id, sim->o.dlr_id_fmt, id);
    smpp_dlr_init(&d);
    d.present = SMPP_DLR_F_ID | SMPP_DLR_F_SUB | SMPP_DLR_F_DLVRD | SMPP_DLR_F_SUBMIT_DATE |
                SMPP_DLR_F_DONE_DATE | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR | SMPP_DLR_F_TEXT;
    memcpy(d.id, id, strlen(id) + 1);
    d.id_error = 0;
    d.sub = 1;
    d.dlvrd = r->stat == SMPP_DLR_STAT_DELIVRD ? 1 : 0;
    dlr_date(sim, 0, (time_t)r->submit_s, &d.submit_date);
    dlr_date(sim, 1, time(NULL), &d.done_date);
    d.stat = (enum smpp_dlr_stat)r->stat;
    d.stat_error = 0;
    d.err = stat_err(d.stat);
    memcpy(d.text, r->text, r->text_len);
    d.text[r->text_len] = '\0';
    d.text_len = r->text_len;

    smpp_pdu_init(p, DELIVER_SM, ESME_ROK, 0);
    dm = &p->u.deliver_sm;
    /* The receipt travels back: from the recipient to the sender. */
    dm->source_addr_ton = r->dst_ton;
    dm->source_addr_npi = r->dst_npi;
    memcpy(dm->source_addr, r->dst, ADDR_LEN);
    dm->dest_addr_ton = r->src_ton;
    dm->dest_addr_npi = r->src_npi;
    memcpy(dm->destination_addr, r->src, ADDR_LEN);
    dm->esm_class = 0x04;
    dm->data_coding = 0;
    n = smpp_dlr_format(&d, (char *)dm->short_message, sizeof(dm->short_message));
    if (n < 0)
        return -1;
    dm->sm_length = (uint8_t)n;
    if (sim->o.no_dlr_tlvs)
        return 0;
    /* receipted_message_id is the id as submit_sm_resp gave it (SMPP 3.4
     * 5.3.2.12), whatever form the receipt text uses. */
    char resp_id[24];
    sim_id_format(r->id, sim->o.id_fmt, resp_id);
    p->tlv.present = SMPP_TLV_RECEIPTED_MESSAGE_ID | SMPP_TLV_MESSAGE_STATE;
    memcpy(p->tlv.receipted_message_id, resp_id, strlen(resp_id) + 1);
    p->tlv.message_state = smpp_dlr_stat_to_state(d.stat);
    if (stat_failed(d.stat)) {
        p->tlv.present |= SMPP_TLV_NETWORK_ERROR_CODE;
        p->tlv.network_error_code[0] = 3;       /* GSM */
        p->tlv.network_error_code[1] = 0;
        p->tlv.network_error_code[2] = stat_err(d.stat);
    }
    return 0;
}

/*
 * Where record r's receipt goes: the submitting bind if it is a
 * transceiver, else the next receiver-capable bind of the same system_id.
 * Binds whose window is full are skipped.
 */
static struct bind *
dlr_route(struct sim *sim, const struct rec *r, bool *rotate)
{
    struct bind *b = bind_get(sim, r->bind, r->bind_gen);
    struct account *a = &sim->acct[r->acct];

    *rotate = false;
    if (b && b->bound && b->mode == SMPP_BIND_TRX && !b->blocked)
        return b;
    for (uint32_t j = a->rx_head; j != SIM_NIL; j = sim->bind[j].rx_next) {
        if (!sim->bind[j].blocked) {
            *rotate = true;
            return &sim->bind[j];
        }
    }
    return NULL;
}

/* Send record i's receipt. False when no receiver can take it now. */
static bool
dlr_send(struct sim *sim, uint32_t i)
{
    struct rec *r = &sim->rec[i];
    struct smpp_pdu p;
    struct bind *b;
    bool built = false, rotate;

    while ((b = dlr_route(sim, r, &rotate)) != NULL) {
        if (!built) {
            if (dlr_build(sim, r, &p) != 0) {
                if (!sim->logged_build_error) {
                    log_event(LOG_ERROR, "receipt_unformattable", "id=%" PRIu64 " stat=%u",
                              r->id, r->stat);
                    sim->logged_build_error = true;
                }
                sim->st.receipts_failed++;
                return true;
            }
            built = true;
        }
        switch (smpp_session_send(b->s, &p, dlr_done, (void *)(uintptr_t)r->id, NULL)) {
        case SMPP_OK:
            r->where = W_INFLIGHT;
            r->flags |= R_DLR_SENT;
            sim->st.receipts_sent++;
            if (rotate)
                rx_rotate(sim, &sim->acct[b->acct], bind_idx(sim, b));
            return true;
        case SMPP_AGAIN:
            b->blocked = true;
            break;
        case SMPP_ERROR:
        default:
            if (smpp_session_is_bound(b->s)) {
                /* The session could not pack it: a bug, not a state. */
                if (!sim->logged_pack_error) {
                    log_event(LOG_ERROR, "receipt_unsendable", "session=%u id=%" PRIu64,
                              smpp_session_id(b->s), r->id);
                    sim->logged_pack_error = true;
                }
                sim->st.receipts_failed++;
                return true;
            }
            b->blocked = true;      /* closing; on_state removes it */
            break;
        }
    }
    return false;
}

/* Put record i's receipt in its account's outbox (bounded). */
static void
outbox_push(struct sim *sim, uint32_t i, bool front)
{
    struct rec *r = &sim->rec[i];
    struct account *a = &sim->acct[r->acct];

    if (a->outbox.n >= sim->o.dlr_queue) {
        sim->st.receipts_dropped++;
        r->where = W_NONE;
        return;
    }
    if (front)
        rl_push_head(sim->rec, &a->outbox, i);
    else
        rl_push(sim->rec, &a->outbox, i);
    r->where = W_OUTBOX;
    r->list = r->acct;
    sim->outbox_n++;
}

static void
outbox_drain(struct sim *sim, struct account *a)
{
    while (a->outbox.n) {
        uint32_t i = a->outbox.head;
        rl_unlink(sim->rec, &a->outbox, i);
        sim->outbox_n--;
        sim->rec[i].where = W_NONE;
        if (!dlr_send(sim, i)) {
            outbox_push(sim, i, true);
            return;
        }
    }
}

/* A scheduled receipt is due. Keep the outbox in order: only send
 * directly when nothing waits before it. */
static void
dlr_due(struct sim *sim, uint32_t i)
{
    struct account *a = &sim->acct[sim->rec[i].acct];

    if (a->outbox.n == 0 && dlr_send(sim, i))
        return;
    outbox_push(sim, i, false);
}

static void
dlr_done(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp,
         void *arg)
{
    struct sim *sim = &the_sim;
    struct rec *r = rec_find(sim, (uint64_t)(uintptr_t)arg);
    bool ok = false, retry = false;

    (void)s;
    switch (res) {
    case SMPP_REQ_RESP:
        if (resp->hdr.command_id == DELIVER_SM_RESP && resp->hdr.command_status == ESME_ROK) {
            ok = true;
            sim->st.receipts_acked++;
        } else {
            sim->st.deliver_sm_resp_errors++;
            retry = smpp_status_is_temporary(resp->hdr.command_status);
        }
        break;
    case SMPP_REQ_TIMEOUT:
        sim->st.deliver_sm_timeouts++;
        retry = true;
        break;
    case SMPP_REQ_CONN_LOST:
        sim->st.deliver_sm_conn_lost++;
        retry = true;
        break;
    default:
        abort();
    }
    if (!r || r->where != W_INFLIGHT)
        return;                 /* the slot was reused meanwhile */
    r->where = W_NONE;
    if (ok)
        return;
    if (retry && ++r->tries < DLR_TRIES && !sim->stopping) {
        /* Not sent from here: this may run inside a session's close. */
        sim->st.receipts_retried++;
        outbox_push(sim, rec_index(sim, r), false);
        sim->kick = true;
        tick_ensure(sim);
    } else {
        sim->st.receipts_failed++;
    }
}

/* ------------------------------------------------------------ resps */

static void
resp_accepted(struct sim *sim, struct bind *b, const struct rec *r)
{
    struct smpp_pdu p;
    bool data = r->flags & R_DATA_SM;

    smpp_pdu_init(&p, data ? DATA_SM_RESP : SUBMIT_SM_RESP, ESME_ROK, r->seq);
    sim_id_format(r->id, sim->o.id_fmt,
                  (char *)(data ? p.u.data_sm_resp.message_id : p.u.submit_sm_resp.message_id));
    smpp_session_respond(b->s, &p);
}

/* A delayed resp is due. */
static void
resp_due(struct sim *sim, uint32_t i, uint64_t now)
{
    struct rec *r = &sim->rec[i];
    struct bind *b = bind_get(sim, r->bind, r->bind_gen);

    if (!b) {
        sim->st.resp_dropped++;
        r->flags |= R_DEAD;
        return;
    }
    if (r->flags & R_REJECTED) {
        struct smpp_hdr h = {
            .command_id = r->flags & R_DATA_SM ? DATA_SM : SUBMIT_SM,
            .sequence_number = r->seq,
        };
        smpp_session_respond_status(b->s, &h, sim->o.reject_status);
        return;
    }
    resp_accepted(sim, b, r);
    rec_settle(sim, i, now);
}

/* ------------------------------------------------------------ MO */

static void
mo_done(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp, void *arg)
{
    struct sim *sim = &the_sim;

    (void)s;
    (void)arg;
    if (res == SMPP_REQ_RESP && (resp->hdr.command_id != DELIVER_SM_RESP ||
                                 resp->hdr.command_status != ESME_ROK))
        sim->st.deliver_sm_resp_errors++;
    else if (res == SMPP_REQ_TIMEOUT)
        sim->st.deliver_sm_timeouts++;
    else if (res == SMPP_REQ_CONN_LOST)
        sim->st.deliver_sm_conn_lost++;
}

/* The next receiver-capable bind for MO, round robin over all binds. */
static struct bind *
mo_pick(struct sim *sim, unsigned room)
{
    for (uint32_t n = 0; n < sim->bind_hi; n++) {
        uint32_t j = (sim->mo_rr + n) % sim->bind_hi;
        struct bind *b = &sim->bind[j];
        if (!b->s || !b->bound || b->mode == SMPP_BIND_TX || b->blocked || b->closing)
            continue;
        if (sim->o.mo_system_id && strcmp(sim->acct[b->acct].system_id, sim->o.mo_system_id))
            continue;
        if (smpp_session_window(b->s) - smpp_session_outstanding(b->s) < room)
            continue;
        sim->mo_rr = j + 1;
        return b;
    }
    return NULL;
}

/*
 * Send one MO message (split into UDH parts when long) to a receiver.
 * order (NULL: 1..n) lists the part numbers to send, 1-based, in the order
 * to send them (norder of them; a part may be left out, none repeated).
 * Returns the number of parts sent, 0 when no receiver can take it now
 * (try later), -1 when the message itself is bad (*why says why).
 */
static int
mo_send_order(struct sim *sim, const char *from, const char *to, const char *text, size_t len,
              const unsigned *order, unsigned norder, const char **why)
{
    uint8_t buf[SMPP_TEXT_SPLIT_BUFSZ(MO_MAX_PARTS)];
    struct smpp_text_part parts[MO_MAX_PARTS];
    struct smpp_text_split res;
    struct smpp_text_split_opts so = {
        .enc = SMPP_TEXT_ENC_AUTO,
        .concat = SMPP_TEXT_CONCAT_UDH8,
        .ref = (uint16_t)(sim->mo_ref + 1),
        .max_parts = MO_MAX_PARTS,
    };
    struct smpp_pdu p;
    struct bind *b;
    size_t err_off;
    unsigned k;
    int rc;

    if (!*from || strlen(from) >= ADDR_LEN || !*to || strlen(to) >= ADDR_LEN) {
        *why = "address empty or longer than 20 characters";
        return -1;
    }
    rc = smpp_text_split(text, len, &so, buf, sizeof(buf), parts, &res, &err_off);
    if (rc != 0) {
        *why = smpp_text_strerror(rc);
        return -1;
    }
    if (order) {
        for (unsigned i = 0; i < norder; i++)
            for (unsigned j = 0; j < i; j++)
                if (order[i] == order[j]) {
                    *why = "a part number repeats in the order";
                    return -1;
                }
        for (unsigned i = 0; i < norder; i++)
            if (order[i] < 1 || order[i] > res.nparts) {
                *why = "a part number in the order is not one of the message's parts";
                return -1;
            }
    }
    unsigned nsend = order ? norder : res.nparts;
    b = mo_pick(sim, nsend);
    if (!b) {
        *why = "no receiver bound with room";
        return 0;
    }
    sim->mo_ref++;
    for (k = 0; k < nsend; k++) {
        unsigned pi = order ? order[k] - 1 : k;
        deliver_sm_t *d = &p.u.deliver_sm;
        smpp_pdu_init(&p, DELIVER_SM, ESME_ROK, 0);
        addr_kind(from, &d->source_addr_ton, &d->source_addr_npi);
        addr_kind(to, &d->dest_addr_ton, &d->dest_addr_npi);
        snprintf((char *)d->source_addr, sizeof(d->source_addr), "%s", from);
        snprintf((char *)d->destination_addr, sizeof(d->destination_addr), "%s", to);
        d->esm_class = parts[pi].esm_udhi;
        d->data_coding = res.data_coding;
        d->sm_length = (uint8_t)parts[pi].len;
        memcpy(d->short_message, parts[pi].sm, parts[pi].len);
        rc = smpp_session_send(b->s, &p, mo_done, NULL, NULL);
        if (rc != SMPP_OK) {
            if (rc == SMPP_AGAIN)
                b->blocked = true;
            break;
        }
    }
    if (k == 0) {
        *why = "receiver busy";
        return 0;
    }
    sim->st.mo_parts += k;
    if (k < nsend) {
        /* The window was checked; only a closing session gets here. */
        sim->st.mo_failed++;
        *why = "receiver closed mid-message";
        return -1;
    }
    sim->st.mo_sent++;
    return (int)k;
}

static int
mo_send(struct sim *sim, const char *from, const char *to, const char *text, size_t len,
        const char **why)
{
    return mo_send_order(sim, from, to, text, len, NULL, 0, why);
}

/* Pace --mo-file at --mo-rate while a receiver is bound. */
static void
mo_run(struct sim *sim, uint64_t now)
{
    double burst = sim->o.mo_rate / 10.0 + 1.0;

    if (!mo_pending(sim)) {
        sim->mo_last_ms = now;
        return;
    }
    sim->mo_tokens += (double)(now - sim->mo_last_ms) * sim->o.mo_rate / 1000.0;
    sim->mo_last_ms = now;
    if (sim->mo_tokens > burst)
        sim->mo_tokens = burst;
    while (sim->mo_tokens >= 1.0 && sim->mo_next < sim->mof.n) {
        const struct mo_line *m = &sim->mof.line[sim->mo_next];
        const char *why = NULL;
        int rc = mo_send(sim, m->from, m->to, m->text, m->text_len, &why);
        if (rc == 0)
            return;
        if (rc < 0)
            log_event(LOG_WARN, "mo_failed", "line=%zu reason=\"%s\"", sim->mo_next + 1, why);
        sim->mo_next++;
        sim->mo_tokens -= 1.0;
        if (sim->mo_next == sim->mof.n)
            log_event(LOG_INFO, "mo_file_done", "file=%s lines=%zu mo_sent=%" PRIu64,
                      sim->o.mo_file, sim->mof.n, sim->st.mo_sent);
    }
}

/* ------------------------------------------------------------ tick */

static void
wheel_run(struct sim *sim, uint64_t now)
{
    uint64_t target = now / TICK_MS;
    uint64_t span = (uint64_t)sim->wheel_mask + 1;

    if (sim->wheel_n == 0) {
        if (sim->wheel_cur < target)
            sim->wheel_cur = target;
        return;
    }
    if (target > sim->wheel_cur + span)
        sim->wheel_cur = target - span;
    while (sim->wheel_cur < target && sim->wheel_n) {
        struct rlist *l = &sim->wheel[++sim->wheel_cur & sim->wheel_mask];
        uint32_t i = l->head;
        while (i != SIM_NIL) {
            uint32_t next = sim->rec[i].next;
            /* A record of a later lap (the loop fell behind) stays. */
            if (sim->rec[i].due_ms / TICK_MS <= sim->wheel_cur) {
                rl_unlink(sim->rec, l, i);
                sim->wheel_n--;
                sim->rec[i].where = W_NONE;
                dlr_due(sim, i);
            }
            i = next;
        }
    }
    if (sim->wheel_cur < target)
        sim->wheel_cur = target;
}

static void
respq_run(struct sim *sim, uint64_t now)
{
    while (sim->respq.n) {
        uint32_t i = sim->respq.head;
        if (sim->rec[i].due_ms > now)
            return;
        rl_unlink(sim->rec, &sim->respq, i);
        sim->rec[i].where = W_NONE;
        resp_due(sim, i, now);
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim *sim = arg;
    uint64_t now = sim_mono_ms();

    (void)fd;
    (void)what;
    wheel_run(sim, now);
    respq_run(sim, now);
    if (sim->kick) {
        sim->kick = false;
        for (unsigned k = 0; k < sim->nacct; k++)
            if (sim->acct[k].outbox.n && sim->acct[k].nrx)
                outbox_drain(sim, &sim->acct[k]);
    }
    mo_run(sim, now);
    if (!tick_wanted(sim)) {
        event_del(sim->tick_ev);
        sim->tick_on = false;
    }
}

/* ------------------------------------------------------------ requests */

/* Count a part of a concatenated message, by SAR TLVs or by UDH. */
static void
concat_track(struct sim *sim, const struct rec *r, const struct smpp_pdu *req,
             const struct msg_view *v, uint64_t now)
{
    const uint32_t sar = SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                         SMPP_TLV_SAR_SEGMENT_SEQNUM;
    const struct smpp_tlvs *t = &req->tlv;
    struct smpp_text_udh u;

    if ((t->present & sar) == sar) {
        sim->st.concat_parts_sar++;
        concat_part(&sim->concat, r->acct, r->src, r->dst, t->sar_msg_ref_num,
                    t->sar_total_segments, t->sar_segment_seqnum, (uint32_t)(now / 1000));
    } else if ((v->esm & SMPP_TEXT_ESM_UDHI) && v->sm) {
        if (smpp_text_udh_parse(v->sm, v->smlen, v->esm, &u) != 0)
            sim->st.bad_udh++;
        else if (u.concat) {
            sim->st.concat_parts_udh++;
            concat_part(&sim->concat, r->acct, r->src, r->dst, u.ref, u.total, u.seq,
                        (uint32_t)(now / 1000));
        }
    }
}

/* The per-bind submit limit: the account's, else --throttle. */
static unsigned
bind_throttle(const struct sim *sim, const struct bind *b)
{
    long t = sim->acct[b->acct].throttle;

    return t >= 0 ? (unsigned)t : sim->o.throttle;
}

static void
close_after_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bind *b = arg;

    (void)fd;
    (void)what;
    if (b->s)
        smpp_session_close(b->s, "close-after reached");
}

static void
on_submit(struct sim *sim, struct bind *b, const struct smpp_pdu *req)
{
    struct msg_view v;
    uint64_t now;
    unsigned limit;
    uint32_t i;
    struct rec *r;
    bool rejected = false;

    msg_view(req, &v);
    if (v.data)
        sim->st.data_sm++;
    else
        sim->st.submit_sm++;
    sim->st.by_dc[v.dc]++;
    if (b->closing) {
        /* A dropping connection answers nothing more. */
        sim->st.ignored_closing++;
        return;
    }
    now = sim_mono_ms();
    b->submits++;
    if (sim->o.close_after && b->submits == sim->o.close_after) {
        b->closing = !sim->o.close_unbind;
        sim->st.closed_after++;
        log_event(LOG_INFO, "close_after", "session=%u system_id=%s submits=%" PRIu64 " how=%s",
                  smpp_session_id(b->s), sim->acct[b->acct].system_id, b->submits,
                  sim->o.close_unbind ? "unbind" : "drop");
        if (sim->o.close_unbind) {
            /* Answer this one, then unbind: later requests are answered
             * ESME_RINVBNDSTS by the session while it unbinds. */
            b->close_pending_unbind = true;
        } else {
            struct timeval tv = { 0, CLOSE_AFTER_FLUSH_MS * 1000 };
            evtimer_add(b->close_ev, &tv);
        }
    }

    limit = bind_throttle(sim, b);
    if (limit) {
        uint64_t sec = now / 1000;
        if (sec != b->thr_sec) {
            b->thr_sec = sec;
            b->thr_count = 0;
        }
        if (++b->thr_count > limit) {
            sim->st.throttled++;
            smpp_session_respond_status(b->s, &req->hdr, ESME_RTHROTTLED);
            return;
        }
    }
    if (sim->o.withhold_ppm && sim_rng_below(&sim->rng, 1000000) < sim->o.withhold_ppm) {
        sim->st.withheld++;
        return;
    }
    if (sim->o.reject_ppm && sim_rng_below(&sim->rng, 1000000) < sim->o.reject_ppm) {
        sim->st.rejected++;
        if (!sim->o.resp_delay_ms) {
            smpp_session_respond_status(b->s, &req->hdr, sim->o.reject_status);
            return;
        }
        rejected = true;
    }

    i = rec_new(sim);
    r = &sim->rec[i];
    r->seq = req->hdr.sequence_number;
    r->bind = (uint16_t)bind_idx(sim, b);
    r->bind_gen = b->gen;
    r->acct = b->acct;
    r->submit_s = (uint32_t)time(NULL);
    r->regdel = v.regdel;
    r->dc = v.dc;
    r->src_ton = v.src_ton;
    r->src_npi = v.src_npi;
    r->dst_ton = v.dst_ton;
    r->dst_npi = v.dst_npi;
    copy_field(r->src, sizeof(r->src), v.src, v.src_size);
    copy_field(r->dst, sizeof(r->dst), v.dst, v.dst_size);
    r->text_len = v.sm ? text_prefix(v.sm, v.smlen, v.esm, v.dc, r->text) : 0;
    if (v.data)
        r->flags |= R_DATA_SM;
    if (rejected) {
        r->flags |= R_REJECTED;
    } else {
        sim->st.accepted++;
        if ((v.esm & SMPP_TEXT_ESM_UDHI) || (req->tlv.present & SMPP_TLV_SAR_MSG_REF_NUM))
            concat_track(sim, r, req, &v, now);
    }
    if (sim->o.resp_delay_ms) {
        r->due_ms = now + sim->o.resp_delay_ms;
        r->where = W_RESPQ;
        rl_push(sim->rec, &sim->respq, i);
        tick_ensure(sim);
        return;
    }
    resp_accepted(sim, b, r);
    rec_settle(sim, i, now);
}

/* A message of this bind's account by the id it was given, or NULL. */
static struct rec *
msg_lookup(struct sim *sim, const struct bind *b, const uint8_t *field, size_t size)
{
    char id[66];
    uint64_t v;
    struct rec *r;

    copy_field(id, sizeof(id), field, size);
    if (!sim_id_parse(id, sim->o.id_fmt, &v))
        return NULL;
    r = rec_find(sim, v);
    if (!r || r->acct != b->acct || (r->flags & (R_REJECTED | R_DEAD)) || r->where == W_RESPQ)
        return NULL;
    return r;
}

/* Not yet final, and no receipt sent: cancel_sm and replace_sm may act. */
static bool
msg_pending(const struct rec *r, uint64_t now)
{
    if (r->flags & (R_CANCELLED | R_DLR_SENT))
        return false;
    return r->where == W_WHEEL || r->where == W_OUTBOX || (r->where == W_NONE && now < r->due_ms);
}

static void
on_query(struct sim *sim, struct bind *b, const struct smpp_pdu *req)
{
    const query_sm_t *q = &req->u.query_sm;
    struct rec *r = msg_lookup(sim, b, q->message_id, sizeof(q->message_id));
    uint64_t now = sim_mono_ms();
    struct smpp_pdu p;
    query_sm_resp_t *qr;
    bool final;
    uint8_t state;

    sim->st.query_sm++;
    if (!r) {
        sim->st.query_sm_failed++;
        smpp_session_respond_status(b->s, &req->hdr, ESME_RQUERYFAIL);
        return;
    }
    if (r->flags & R_CANCELLED) {
        state = 4;      /* DELETED */
        final = true;
    } else if (r->where == W_WHEEL || (r->where == W_NONE && now < r->due_ms)) {
        state = 1;      /* ENROUTE */
        final = false;
    } else {
        state = smpp_dlr_stat_to_state((enum smpp_dlr_stat)r->stat);
        final = true;
    }
    smpp_pdu_init(&p, QUERY_SM_RESP, ESME_ROK, req->hdr.sequence_number);
    qr = &p.u.query_sm_resp;
    memcpy(qr->message_id, q->message_id, sizeof(qr->message_id));
    qr->message_id[sizeof(qr->message_id) - 1] = 0;
    qr->message_state = state;
    if (final) {
        /* SMPP absolute time, UTC: YYMMDDhhmmsstnnp */
        time_t done = time(NULL) - (time_t)((now - (now < r->due_ms ? now : r->due_ms)) / 1000);
        struct tm tm;
        gmtime_r(&done, &tm);
        strftime((char *)qr->final_date, sizeof(qr->final_date), "%y%m%d%H%M%S000+", &tm);
        if (!(r->flags & R_CANCELLED))
            qr->error_code = stat_err((enum smpp_dlr_stat)r->stat);
    }
    smpp_session_respond(b->s, &p);
}

static void
on_cancel(struct sim *sim, struct bind *b, const struct smpp_pdu *req)
{
    const cancel_sm_t *c = &req->u.cancel_sm;
    struct rec *r = msg_lookup(sim, b, c->message_id, sizeof(c->message_id));
    uint64_t now = sim_mono_ms();

    sim->st.cancel_sm++;
    if (!r || !msg_pending(r, now)) {
        sim->st.cancel_sm_failed++;
        smpp_session_respond_status(b->s, &req->hdr, ESME_RCANCELFAIL);
        return;
    }
    rec_unlink(sim, rec_index(sim, r));
    r->flags |= R_CANCELLED;
    r->due_ms = now;
    smpp_session_respond_status(b->s, &req->hdr, ESME_ROK);
}

static void
on_replace(struct sim *sim, struct bind *b, const struct smpp_pdu *req)
{
    const replace_sm_t *rp = &req->u.replace_sm;
    struct rec *r = msg_lookup(sim, b, rp->message_id, sizeof(rp->message_id));

    sim->st.replace_sm++;
    if (!r || !msg_pending(r, sim_mono_ms())) {
        sim->st.replace_sm_failed++;
        smpp_session_respond_status(b->s, &req->hdr, ESME_RREPLACEFAIL);
        return;
    }
    /* The new text shows in the receipt; the original data_coding stays. */
    r->text_len = text_prefix(rp->short_message, rp->sm_length, 0, r->dc, r->text);
    smpp_session_respond_status(b->s, &req->hdr, ESME_ROK);
}

/* ------------------------------------------------------------ session ops */

static uint32_t
on_bind(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct sim *sim = ctx;
    /* The three bind bodies share one layout. */
    const bind_transmitter_t *bt = &req->u.bind_transmitter;
    char sid[16], pw[9], q[40];
    int ai;
    uint32_t j;
    struct bind *b;

    copy_field(sid, sizeof(sid), bt->system_id, sizeof(bt->system_id));
    copy_field(pw, sizeof(pw), bt->password, sizeof(bt->password));
    ai = account_find(sim, sid);
    if (ai < 0 && sim->auth) {
        sim->st.bind_refused++;
        log_event(LOG_WARN, "bind_refused", "session=%u system_id=%s reason=unknown_system_id",
                  smpp_session_id(s), log_quote(sid, q, sizeof(q)));
        return ESME_RINVSYSID;
    }
    if (ai >= 0 && sim->auth && strcmp(pw, sim->acct[ai].password) != 0) {
        sim->st.bind_refused++;
        log_event(LOG_WARN, "bind_refused", "session=%u system_id=%s reason=wrong_password",
                  smpp_session_id(s), log_quote(sid, q, sizeof(q)));
        return ESME_RINVPASWD;
    }
    if (ai < 0)
        ai = account_add(sim, sid, "", -1, true, 0);
    if (ai < 0 || sim->bind_free == SIM_NIL) {
        sim->st.bind_refused++;
        log_event(LOG_WARN, "bind_refused", "session=%u system_id=%s reason=%s",
                  smpp_session_id(s), log_quote(sid, q, sizeof(q)),
                  ai < 0 ? "too_many_system_ids" : "max_binds");
        return ESME_RBINDFAIL;
    }
    j = sim->bind_free;
    b = &sim->bind[j];
    sim->bind_free = b->free_next;
    if (j + 1 > sim->bind_hi)
        sim->bind_hi = j + 1;
    b->s = s;
    b->acct = (uint16_t)ai;
    b->mode = req->hdr.command_id == BIND_TRANSMITTER ? SMPP_BIND_TX
              : req->hdr.command_id == BIND_RECEIVER ? SMPP_BIND_RX : SMPP_BIND_TRX;
    b->bound = b->blocked = b->closing = b->close_pending_unbind = false;
    b->thr_sec = 0;
    b->thr_count = 0;
    b->submits = 0;
    map_put(sim, s, j);
    return ESME_ROK;
}

static void
bind_up(struct sim *sim, struct bind *b)
{
    struct account *a = &sim->acct[b->acct];
    static const char *const mode[] = { "tx", "rx", "trx" };

    b->bound = true;
    sim->nbound++;
    sim->st.binds++;
    if (b->mode != SMPP_BIND_TX) {
        rx_add(sim, a, bind_idx(sim, b));
        /* Held receipts and MO go out from the tick, after the bind_resp. */
        if (a->outbox.n)
            sim->kick = true;
        tick_ensure(sim);
    }
    log_event(LOG_INFO, "bind", "session=%u system_id=%s mode=%s peer=%s binds=%u",
              smpp_session_id(b->s), a->system_id, mode[b->mode], smpp_session_peer(b->s),
              sim->nbound);
}

static void
bind_down(struct sim *sim, struct bind *b, const char *reason)
{
    struct account *a = &sim->acct[b->acct];
    char q[200];

    b->bound = false;
    sim->nbound--;
    if (b->mode != SMPP_BIND_TX)
        rx_del(sim, a, bind_idx(sim, b));
    log_event(LOG_INFO, "unbind", "session=%u system_id=%s submits=%" PRIu64
              " reason=%s binds=%u", smpp_session_id(b->s), a->system_id, b->submits,
              log_quote(reason ? reason : "", q, sizeof(q)), sim->nbound);
}

static void
on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
         void *ctx)
{
    struct sim *sim = ctx;
    struct bind *b = bind_lookup(sim, s);

    (void)from;
    if (!b)
        return;
    switch (to) {
    case SMPP_BOUND_TX:
    case SMPP_BOUND_RX:
    case SMPP_BOUND_TRX:
        if (!b->bound)
            bind_up(sim, b);
        break;
    case SMPP_UNBINDING:
    case SMPP_CLOSED:
        if (b->bound)
            bind_down(sim, b, reason);
        break;
    case SMPP_OPEN:
    case SMPP_BINDING:
        break;
    default:
        abort();
    }
}

static void
on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct sim *sim = ctx;
    struct bind *b = bind_lookup(sim, s);

    if (!b) {
        if (smpp_resp_id(req->hdr.command_id))
            smpp_session_respond_status(s, &req->hdr, ESME_RINVBNDSTS);
        return;
    }
    switch (req->hdr.command_id) {
    case SUBMIT_SM:
    case DATA_SM:
        on_submit(sim, b, req);
        break;
    case QUERY_SM:
        on_query(sim, b, req);
        break;
    case CANCEL_SM:
        on_cancel(sim, b, req);
        break;
    case REPLACE_SM:
        on_replace(sim, b, req);
        break;
    default:
        if (smpp_resp_id(req->hdr.command_id))
            smpp_session_respond_status(s, &req->hdr, ESME_RINVCMDID);
        break;
    }
    if (b->close_pending_unbind) {
        b->close_pending_unbind = false;
        smpp_session_unbind(s);
    }
}

static void
on_window(struct smpp_session *s, void *ctx)
{
    struct sim *sim = ctx;
    struct bind *b = bind_lookup(sim, s);

    if (!b)
        return;
    b->blocked = false;
    if (b->bound && sim->acct[b->acct].outbox.n)
        outbox_drain(sim, &sim->acct[b->acct]);
}

static void
on_closed(struct smpp_session *s, void *ctx)
{
    struct sim *sim = ctx;
    struct bind *b = bind_lookup(sim, s);
    uint32_t j;

    if (!b)
        return;
    if (b->bound)
        bind_down(sim, b, smpp_session_close_reason(s));
    evtimer_del(b->close_ev);
    map_del(sim, s);
    j = bind_idx(sim, b);
    b->s = NULL;
    b->gen++;
    b->free_next = sim->bind_free;
    sim->bind_free = j;
}

static const struct smpp_session_ops sim_ops = {
    .on_bind = on_bind,
    .on_request = on_request,
    .on_state = on_state,
    .on_window = on_window,
    .on_closed = on_closed,
};

/* ------------------------------------------------------------ stats */

struct sbuf {
    char *p;
    size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (b->n >= b->cap)
        return;
    va_start(ap, fmt);
    k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n = (size_t)k < b->cap - b->n ? b->n + (size_t)k : b->cap - 1;
}

/* The summary as one line of JSON (also the control port's `stats`). */
static void
stats_json(struct sim *sim, char *out, size_t size)
{
    const struct stats *st = &sim->st;
    struct sbuf b = { out, 0, size };
    uint64_t ms = sim_mono_ms() - sim->start_ms;
    bool first = true;

    out[0] = 0;
#define U(name, v) sb_add(&b, ",\"%s\":%" PRIu64, name, (uint64_t)(v))
    sb_add(&b, "{\"binds\":%" PRIu64, st->binds);
    U("binds_now", sim->nbound);
    U("bind_refused", st->bind_refused);
    U("submit_sm", st->submit_sm);
    U("data_sm", st->data_sm);
    sb_add(&b, ",\"submit_sm_by_data_coding\":{");
    for (unsigned dc = 0; dc < 256; dc++) {
        if (st->by_dc[dc]) {
            sb_add(&b, "%s\"%u\":%" PRIu64, first ? "" : ",", dc, st->by_dc[dc]);
            first = false;
        }
    }
    sb_add(&b, "}");
    U("accepted", st->accepted);
    U("segments_reassembled", sim->concat.complete);
    U("concatenated_parts", sim->concat.parts);
    U("concat_open", sim->concat.open);
    U("concat_expired", sim->concat.expired);
    U("concat_duplicates", sim->concat.duplicates);
    U("bad_udh", st->bad_udh);
    U("concat_parts_udh", st->concat_parts_udh);
    U("concat_parts_sar", st->concat_parts_sar);
    U("receipts_sent", st->receipts_sent);
    U("receipts_acked", st->receipts_acked);
    U("receipts_retried", st->receipts_retried);
    U("receipts_failed", st->receipts_failed);
    U("receipts_dropped", st->receipts_dropped);
    U("receipts_evicted", st->receipts_evicted);
    U("receipts_scheduled", sim->wheel_n);
    U("receipts_queued", sim->outbox_n);
    U("throttled", st->throttled);
    U("withheld", st->withheld);
    U("rejected", st->rejected);
    U("closed_after", st->closed_after);
    U("ignored_closing", st->ignored_closing);
    U("resp_delayed_pending", sim->respq.n);
    U("resp_dropped", st->resp_dropped);
    U("resp_evicted", st->resp_evicted);
    U("mo_sent", st->mo_sent);
    U("mo_parts", st->mo_parts);
    U("mo_failed", st->mo_failed);
    U("mo_file_pending", sim->mof.n - sim->mo_next);
    U("deliver_sm_resp_errors", st->deliver_sm_resp_errors);
    U("deliver_sm_timeouts", st->deliver_sm_timeouts);
    U("deliver_sm_conn_lost", st->deliver_sm_conn_lost);
    U("query_sm", st->query_sm);
    U("query_sm_failed", st->query_sm_failed);
    U("cancel_sm", st->cancel_sm);
    U("cancel_sm_failed", st->cancel_sm_failed);
    U("replace_sm", st->replace_sm);
    U("replace_sm_failed", st->replace_sm_failed);
    U("elapsed_ms", ms);
    U("submit_sm_per_s_avg", ms ? (st->submit_sm + st->data_sm) * 1000 / ms : 0);
    U("submit_sm_per_s_peak", (uint64_t)(sim->peak_rate + 0.5));
#undef U
    sb_add(&b, "}");
}

static void
stats_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim *sim = arg;
    uint64_t now = sim_mono_ms();
    uint64_t sub = sim->st.submit_sm + sim->st.data_sm;
    double dt = (double)(now - sim->stats_last_ms) / 1000.0;
    double rate, dlr_rate;

    (void)fd;
    (void)what;
    if (dt <= 0)
        return;
    rate = (double)(sub - sim->stats_last_sub) / dt;
    dlr_rate = (double)(sim->st.receipts_sent - sim->stats_last_dlr) / dt;
    sim->stats_last_ms = now;
    sim->stats_last_sub = sub;
    sim->stats_last_dlr = sim->st.receipts_sent;
    log_event(LOG_INFO, "stats", "binds=%u submit_sm_per_s=%.0f submit_sm=%" PRIu64
              " receipts_sent=%" PRIu64 " receipts_per_s=%.0f receipts_queued=%u"
              " throttled=%" PRIu64 " withheld=%" PRIu64 " rejected=%" PRIu64
              " mo_sent=%" PRIu64,
              sim->nbound, rate, sub, sim->st.receipts_sent, dlr_rate, sim->outbox_n,
              sim->st.throttled, sim->st.withheld, sim->st.rejected, sim->st.mo_sent);
}

/* Once a second, whatever --stats-interval-ms says. */
static void
house_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim *sim = arg;

    uint64_t now = sim_mono_ms(), sub = sim->st.submit_sm + sim->st.data_sm;

    (void)fd;
    (void)what;
    concat_expire(&sim->concat, (uint32_t)(now / 1000));
    /* The peak rate over whole seconds, whether or not stats are logged. */
    if (now > sim->peak_last_ms) {
        double rate = (double)(sub - sim->peak_last_sub) * 1000.0 /
                      (double)(now - sim->peak_last_ms);
        if (rate > sim->peak_rate)
            sim->peak_rate = rate;
    }
    sim->peak_last_ms = now;
    sim->peak_last_sub = sub;
}

/* ------------------------------------------------------------ shutdown */

static void
stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim *sim = arg;

    (void)fd;
    (void)what;
    if (smpp_server_sessions(sim->srv) == 0 || sim_mono_ms() >= sim->stop_deadline_ms)
        event_base_loopexit(sim->base, NULL);
}

/* Stop accepting, unbind every session, and leave the loop once they are
 * closed (or the unbind timeout has passed). */
static void
sim_stop(struct sim *sim, const char *why)
{
    struct timeval tv = { 0, 20000 };

    if (sim->stopping)
        return;
    sim->stopping = true;
    log_event(LOG_INFO, "stopping", "reason=%s sessions=%u", why, smpp_server_sessions(sim->srv));
    if (sim->ctl)
        ctl_server_stop_listening(sim->ctl);
    smpp_server_shutdown(sim->srv);
    sim->stop_deadline_ms = sim_mono_ms() + UNBIND_TIMEOUT_MS + 500;
    event_add(sim->stop_ev, &tv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct sim *sim = arg;

    (void)what;
    if (sim->stopping) {
        log_event(LOG_WARN, "stopping_now", "signal=%d", (int)sig);
        event_base_loopexit(sim->base, NULL);
        return;
    }
    sim_stop(sim, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ------------------------------------------------------------ control port */

/* One command line from the control port; one reply line. */
static void
ctl_command(void *arg, struct ctl_conn *c, char *line)
{
    struct sim *sim = arg;
    char *p = line, *cmd = ctl_next_word(&p);

    if (!cmd) {
        ctl_reply(c, "ERR empty command");
    } else if (strcmp(cmd, "mo") == 0) {
        char *from = ctl_next_word(&p), *to = ctl_next_word(&p), *text = p;
        const char *why = NULL;
        int rc;
        while (*text == ' ' || *text == '\t')
            text++;
        if (!from || !to) {
            ctl_reply(c, "ERR usage: mo FROM TO TEXT");
            return;
        }
        rc = mo_send(sim, from, to, text, strlen(text), &why);
        if (rc > 0)
            ctl_reply(c, "OK parts=%d", rc);
        else
            ctl_reply(c, "ERR %s", why ? why : "failed");
    } else if (strcmp(cmd, "mo_parts") == 0) {
        /* mo_parts ORDER FROM TO TEXT: the parts of TEXT in ORDER ("2,1"),
         * to test reassembly of parts that arrive out of order (or never). */
        char *ord = ctl_next_word(&p), *from = ctl_next_word(&p), *to = ctl_next_word(&p);
        char *text = p, *end;
        unsigned order[MO_MAX_PARTS], n = 0;
        const char *why = NULL;
        int rc;
        while (*text == ' ' || *text == '\t')
            text++;
        if (!ord || !from || !to) {
            ctl_reply(c, "ERR usage: mo_parts ORDER FROM TO TEXT");
            return;
        }
        for (char *q = ord; *q; q = *end ? end + 1 : end) {
            unsigned long v = strtoul(q, &end, 10);
            if (end == q || (*end && *end != ',') || n == MO_MAX_PARTS) {
                ctl_reply(c, "ERR ORDER is part numbers separated by commas (\"2,1\")");
                return;
            }
            order[n++] = v > MO_MAX_PARTS ? 0 : (unsigned)v;
        }
        rc = mo_send_order(sim, from, to, text, strlen(text), order, n, &why);
        if (rc > 0)
            ctl_reply(c, "OK parts=%d", rc);
        else
            ctl_reply(c, "ERR %s", why ? why : "failed");
    } else if (strcmp(cmd, "reject") == 0) {
        /* reject PCT [STATUS]: --reject-pct/--reject-status at run time,
         * e.g. to make this SMSC fail and heal under a running test. */
        char *pct = ctl_next_word(&p), *st = ctl_next_word(&p);
        uint32_t ppm;
        uint64_t status = sim->o.reject_status;
        if (!pct || ctl_next_word(&p) || !sim_parse_pct(pct, strlen(pct), &ppm) ||
            (st && !sim_parse_u64(st, 1, UINT32_MAX, &status))) {
            ctl_reply(c, "ERR usage: reject PCT [STATUS] (PCT 0..100, STATUS such as 0x45)");
            return;
        }
        if ((uint64_t)ppm + sim->o.withhold_ppm > 1000000) {
            ctl_reply(c, "ERR reject and --withhold-pct add up to more than 100");
            return;
        }
        struct smpp_pdu pdu;
        uint8_t buf[64];
        size_t n;
        smpp_pdu_init(&pdu, SUBMIT_SM_RESP, (uint32_t)status, 1);
        if (smpp_pdu_pack_buf(&pdu, buf, sizeof(buf), &n) != 0) {
            ctl_reply(c, "ERR status 0x%X: not a status the PDU layer can send", (unsigned)status);
            return;
        }
        sim->o.reject_ppm = ppm;
        sim->o.reject_status = (uint32_t)status;
        log_event(LOG_INFO, "reject_set", "pct=%.4f status=0x%X", ppm / 10000.0, (unsigned)status);
        ctl_reply(c, "OK reject_pct=%.4f reject_status=0x%X", ppm / 10000.0, (unsigned)status);
    } else if (strcmp(cmd, "stats") == 0) {
        char buf[STATS_JSON_MAX];
        stats_json(sim, buf, sizeof(buf));
        ctl_reply(c, "%s", buf);
    } else if (strcmp(cmd, "quit") == 0) {
        ctl_reply(c, "OK stopping");
        sim_stop(sim, "control quit");
    } else if (strcmp(cmd, "help") == 0) {
        ctl_reply(c, "OK commands: mo FROM TO TEXT | mo_parts ORDER FROM TO TEXT | reject PCT [STATUS] | stats | quit | help");
    } else {
        ctl_reply(c, "ERR unknown command");
    }
}

/* ------------------------------------------------------------ accounts */

static int
account_from_file(void *arg, const char *system_id, const char *password, long throttle,
                  int line, char *why, size_t whysz)
{
    struct sim *sim = arg;
    int dup = account_find(sim, system_id);

    if (dup >= 0) {
        snprintf(why, whysz, "system_id \"%s\" repeats the account at line %d", system_id,
                 sim->acct[dup].line);
        return -1;
    }
    if (account_add(sim, system_id, password, throttle, false, line) < 0) {
        snprintf(why, whysz, "more than %d accounts", ACCOUNT_MAX);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ main */

static int
sim_setup(struct sim *sim)
{
    const struct opts *o = &sim->o;
    struct timeval tick = { 0, TICK_MS * 1000 };
    uint32_t slots;

    /* Signals first: until these are added, SIGINT may be ignored (it is,
     * for background jobs of a non-interactive shell). */
    sim->sigint_ev = evsignal_new(sim->base, SIGINT, signal_cb, sim);
    sim->sigterm_ev = evsignal_new(sim->base, SIGTERM, signal_cb, sim);
    if (!sim->sigint_ev || !sim->sigterm_ev)
        abort();
    event_add(sim->sigint_ev, NULL);
    event_add(sim->sigterm_ev, NULL);
    sim->rng = sim_rng_seed(o->seed_set ? o->seed
                                        : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    sim->rec = calloc(o->max_messages, sizeof(*sim->rec));
    sim->rec_mask = o->max_messages - 1;
    for (uint32_t i = 0; i < o->max_messages; i++)
        sim->rec[i].where = W_NONE;
    /* Ids from the clock by default, so that runs do not repeat ids a
     * gateway may still hold from the previous one. */
    sim->next_id = o->id_start_set ? o->id_start : ((uint64_t)time(NULL) << 20);
    slots = round_pow2(o->dlr_delay_max / TICK_MS + 4);
    sim->wheel = calloc(slots, sizeof(*sim->wheel));
    sim->wheel_mask = slots - 1;
    for (uint32_t i = 0; i < slots; i++)
        rl_init(&sim->wheel[i]);
    rl_init(&sim->respq);
    sim->bind = calloc(o->max_binds, sizeof(*sim->bind));
    sim->map_mask = round_pow2(o->max_binds * 2) - 1;
    sim->map = calloc((size_t)sim->map_mask + 1, sizeof(*sim->map));
    if (!sim->rec || !sim->wheel || !sim->bind || !sim->map)
        abort();
    for (uint32_t j = 0; j < o->max_binds; j++) {
        sim->bind[j].free_next = j + 1 < o->max_binds ? j + 1 : SIM_NIL;
        sim->bind[j].close_ev = evtimer_new(sim->base, close_after_cb, &sim->bind[j]);
        if (!sim->bind[j].close_ev)
            abort();
    }
    sim->bind_free = 0;
    concat_init(&sim->concat, o->concat_max, o->concat_timeout_s);

    sim->tick_tv = event_base_init_common_timeout(sim->base, &tick);
    sim->tick_ev = event_new(sim->base, -1, EV_PERSIST, tick_cb, sim);
    sim->stop_ev = event_new(sim->base, -1, EV_PERSIST, stop_poll_cb, sim);
    sim->house_ev = event_new(sim->base, -1, EV_PERSIST, house_cb, sim);
    if (!sim->tick_tv || !sim->tick_ev || !sim->stop_ev || !sim->house_ev)
        abort();
    struct timeval sec = { 1, 0 };
    event_add(sim->house_ev, &sec);
    if (o->stats_interval_ms) {
        struct timeval tv = { o->stats_interval_ms / 1000,
                              (suseconds_t)(o->stats_interval_ms % 1000) * 1000 };
        sim->stats_ev = event_new(sim->base, -1, EV_PERSIST, stats_cb, sim);
        if (!sim->stats_ev)
            abort();
        event_add(sim->stats_ev, &tv);
    }
    sim->start_ms = sim->stats_last_ms = sim->peak_last_ms = sim_mono_ms();
    return 0;
}

static void
sim_teardown(struct sim *sim)
{
    if (sim->srv)
        smpp_server_free(sim->srv);
    sim->srv = NULL;
    ctl_server_free(sim->ctl);
    sim->ctl = NULL;
    for (uint32_t j = 0; sim->bind && j < sim->o.max_binds; j++)
        if (sim->bind[j].close_ev)
            event_free(sim->bind[j].close_ev);
    struct event *evs[] = { sim->tick_ev, sim->stop_ev, sim->house_ev,
                            sim->stats_ev, sim->sigint_ev, sim->sigterm_ev };
    for (size_t k = 0; k < sizeof(evs) / sizeof(evs[0]); k++)
        if (evs[k])
            event_free(evs[k]);
    concat_free(&sim->concat);
    free(sim->rec);
    free(sim->wheel);
    free(sim->bind);
    free(sim->map);
    free(sim->acct);
    free(sim->mof.line);
    free(sim->mof.buf);
    if (sim->ssl)
        SSL_CTX_free(sim->ssl);
    if (sim->base)
        event_base_free(sim->base);
}

int
main(int argc, char **argv)
{
    struct sim *sim = &the_sim;
    struct smpp_server_cfg scfg;
    char err[512], json[STATS_JSON_MAX];
    int rc;

    log_set_prog("smsc-sim");
    rc = parse_opts(argc, argv, &sim->o);
    if (rc)
        return rc == 1 ? 0 : 2;
    log_set_level(sim->o.log_level);

    sim->acct = calloc(ACCOUNT_MAX, sizeof(*sim->acct));
    if (!sim->acct)
        abort();
    rc = 0;
    if (sim->o.accounts_file) {
        sim->auth = true;
        if (load_accounts(sim->o.accounts_file, account_from_file, sim) != 0)
            rc = 2;
    } else if (sim->o.system_id) {
        sim->auth = true;
        account_add(sim, sim->o.system_id, sim->o.password, -1, false, 0);
    }
    if (sim->o.mo_file && load_mo_file(sim->o.mo_file, &sim->mof) != 0)
        rc = 2;
    if (sim->o.tls_cert) {
        struct smpp_tls_server_cfg tc = {
            .cert_file = sim->o.tls_cert,
            .key_file = sim->o.tls_key,
            .ca_file = sim->o.tls_ca,
            .verify_client = sim->o.tls_verify_client,
        };
        sim->ssl = smpp_tls_server_ctx(&tc, err, sizeof(err));
        if (!sim->ssl) {
            fprintf(stderr, "smsc-sim: TLS: %s\n", err);
            rc = 2;
        }
    }
    if (rc || sim->o.check) {
        if (!rc)
            fprintf(stderr, "smsc-sim: configuration ok\n");
        sim_teardown(sim);
        return rc;
    }

    signal(SIGPIPE, SIG_IGN);
    sim->base = event_base_new();
    if (!sim->base) {
        fprintf(stderr, "smsc-sim: cannot create the event base\n");
        return 1;
    }
    sim_setup(sim);

    memset(&scfg, 0, sizeof(scfg));
    scfg.addr = sim->o.addr;
    scfg.port = sim->o.port;
    scfg.ssl_ctx = sim->ssl;
    scfg.system_id = sim->o.smsc_id;
    scfg.max_sessions = sim->o.max_binds;
    smpp_session_cfg_defaults(&scfg.session);
    scfg.session.window = sim->o.window;
    scfg.session.peer_window = sim->o.peer_window;
    scfg.session.unbind_timeout_ms = UNBIND_TIMEOUT_MS;
    sim->srv = smpp_server_new(sim->base, &scfg, &sim_ops, sim);
    if (!sim->srv) {
        fprintf(stderr, "smsc-sim: cannot listen on %s:%d: %s\n", sim->o.addr, sim->o.port,
                strerror(errno));
        sim_teardown(sim);
        return 1;
    }
    if (sim->o.control_port >= 0 &&
        !(sim->ctl = ctl_server_new(sim->base, sim->o.control_port, ctl_command, sim))) {
        fprintf(stderr, "smsc-sim: cannot listen on control port 127.0.0.1:%d: %s\n",
                sim->o.control_port, strerror(errno));
        sim_teardown(sim);
        return 1;
    }
    log_event(LOG_INFO, "ready", "port=%d control_port=%d tls=%s accounts=%s id_format=%s "
              "dlr_delay_ms=%u-%u max_messages=%u mo_lines=%zu",
              smpp_server_port(sim->srv), sim->ctl ? sim->ctl->port : -1,
              sim->ssl ? "yes" : "no",
              sim->o.accounts_file ? sim->o.accounts_file : sim->o.system_id ? "single" : "any",
              sim->o.id_fmt == SIM_ID_DEC ? "dec" : sim->o.id_fmt == SIM_ID_HEX ? "hex" : "HEX",
              sim->o.dlr_delay_min, sim->o.dlr_delay_max, sim->o.max_messages, sim->mof.n);

    event_base_dispatch(sim->base);

    /* Sessions still open after the unbind timeout are closed here; their
     * receipts in flight complete as lost connections. */
    smpp_server_free(sim->srv);
    sim->srv = NULL;
    stats_json(sim, json, sizeof(json));
    printf("%s\n", json);
    fflush(stdout);
    log_event(LOG_INFO, "exit", "submit_sm=%" PRIu64 " receipts_sent=%" PRIu64,
              sim->st.submit_sm + sim->st.data_sm, sim->st.receipts_sent);
    sim_teardown(sim);
    return 0;
}
