/*
 * smpp-load — a windowed ESME load generator for measuring SMSCs.
 *
 * It binds B sessions through smpp_client, keeps each one's window full of
 * submit_sm (optionally paced by a token bucket across all binds), measures
 * submit_sm -> submit_sm_resp latency in a fixed histogram, counts receipts
 * and matches them to the ids of the submit_sm_resps, and prints one JSON
 * line on stdout at the end. docs/smpp-load.md is its manual.
 *
 * The hot path allocates nothing and logs nothing: the text is encoded and
 * split once, every segment's submit_sm is built once as a template, and a
 * message only rewrites its concatenation reference into the template before
 * the session packs it. Requests in flight live in a per-bind slot pool the
 * size of the window; messages in flight in a pool one larger. Latency goes
 * into log-linear microsecond buckets, so no per-message record is kept
 * beyond the window — except, when receipts are asked for, one 16-byte
 * entry per message id awaiting its receipt (preallocated at start).
 *
 * The run is a sequence of phases, each change logged by phase_set():
 *
 *   BINDING -> SENDING -> DRAINING -> [DLR_WAIT] -> STOPPING -> DONE
 *
 * Everything that decides a phase change runs from one deferred event
 * (load_check), never inside a session callback, so stopping the clients
 * never happens inside one of their own callbacks.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/dns.h"
#include "core/log.h"
#include "smpp/smpp_client.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_pdu.h"
#include "smpp/smpp_session.h"
#include "smpp/smpp_text.h"
#include "smpp/smpp_tls.h"

#define EXIT_USAGE 2

/* Pacing tick: short enough that a token bucket of a few ticks' worth is
 * smooth at any rate, long enough to cost nothing (200 events/s). */
#define RATE_TICK_MS      5
/* The bucket holds at most this many ticks' worth of tokens, so a bind
 * that stalls does not earn a burst. */
#define RATE_BURST_TICKS  4
/* Extra time DRAINING gives the session's own resp timeout to fire. */
#define DRAIN_GRACE_MS    5000
/* How long STOPPING waits for unbind_resp on every bind before giving up. */
#define STOP_GRACE_MS     8000
/* Distinct command_status values counted one by one; the rest are "other". */
#define STATUS_SLOTS      32
/* Receipts that arrive before their submit_sm_resp (possible when they come
 * on a separate RX bind) wait in a table this big. */
#define EARLY_CAP         (1u << 16)
/* Upper bound on the table of ids awaiting receipts: 2^23 entries of 16
 * bytes is 128 MiB of address space, touched only as it fills. */
#define EXPECT_CAP_MAX    (1u << 23)
#define EXPECT_CAP_NOCOUNT (1u << 22)

/* ------------------------------------------------------------ options */

enum load_mode { MODE_TX, MODE_TRX, MODE_TXRX };

struct load_opts {
    const char *host;
    int port;
    const char *system_id;
    const char *password;
    const char *system_type;
    uint64_t count;             /* messages; 0 = until --duration */
    unsigned window;
    double rate;                /* submit_sm/s over all binds; 0 = window-bound */
    unsigned binds;
    enum load_mode mode;
    unsigned size;              /* characters of text */
    enum smpp_text_concat concat;
    unsigned rd;                /* registered_delivery */
    bool tls;
    const char *tls_ca;
    bool tls_insecure;
    const char *from;
    const char *to;
    enum smpp_text_enc enc;
    unsigned timeout_ms;
    double duration_s;          /* 0 = none */
    unsigned dlr_wait_ms;
    unsigned connect_timeout_ms;
    enum smpp_dlr_id_format resp_id_fmt;
    enum smpp_dlr_id_format dlr_id_fmt;
    bool json_only;
    enum log_level log_level;
};

/* ------------------------------------------------------------ histogram */

/*
 * Log-linear buckets over microseconds: values below 64 get a bucket each,
 * then every power of two is cut into 32 equal buckets (about 3% wide).
 * Values are clamped at 2^40 us (12 days).
 */
#define HIST_SUB_BITS   5
#define HIST_SUB        (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS   40
#define HIST_BUCKETS    ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB + HIST_SUB)

struct hist {
    uint64_t n;
    uint64_t max;
    uint64_t sum;
    uint64_t b[HIST_BUCKETS];
};

static unsigned
hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    if (v >= (1ull << HIST_MAX_BITS))
        v = (1ull << HIST_MAX_BITS) - 1;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return shift * HIST_SUB + (unsigned)(v >> shift);
}

/* The middle of bucket i, in microseconds. */
static double
hist_value(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return (double)i;
    unsigned shift = i / HIST_SUB - 1;
    uint64_t lo = (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
    return (double)lo + (double)(1ull << shift) / 2.0;
}

static void
hist_add(struct hist *h, uint64_t v)
{
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
    h->b[hist_index(v)]++;
}

/* The value at quantile q (0..1], in microseconds; 0 when empty. */
static double
hist_quantile(const struct hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            double v = hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* ------------------------------------------------------------ id tables */

/*
 * Open addressing, linear probing, backward-shift deletion (no tombstones),
 * keyed by a 64-bit hash of the normalised message id (0 = empty slot).
 * Two different ids with the same 64-bit hash would be confused; at a few
 * million ids the odds are about 1 in 10^6.
 */
struct idtab {
    uint64_t *keys;
    uint64_t *vals;
    size_t mask;
    size_t live;
    size_t max_live;
};

static bool
idtab_init(struct idtab *t, size_t cap)
{
    t->keys = calloc(cap, sizeof(*t->keys));
    t->vals = calloc(cap, sizeof(*t->vals));
    if (!t->keys || !t->vals) {
        free(t->keys);
        free(t->vals);
        t->keys = t->vals = NULL;
        return false;
    }
    t->mask = cap - 1;
    t->live = 0;
    t->max_live = cap - cap / 8;
    return true;
}

static void
idtab_free(struct idtab *t)
{
    free(t->keys);
    free(t->vals);
    t->keys = t->vals = NULL;
}

/* Insert or overwrite. False when the table is at its fill limit. */
static bool
idtab_put(struct idtab *t, uint64_t key, uint64_t val, bool *dup)
{
    size_t i = key & t->mask;

    *dup = false;
    while (t->keys[i]) {
        if (t->keys[i] == key) {
            t->vals[i] = val;
            *dup = true;
            return true;
        }
        i = (i + 1) & t->mask;
    }
    if (t->live >= t->max_live)
        return false;
    t->keys[i] = key;
    t->vals[i] = val;
    t->live++;
    return true;
}

/* Remove key and return its value. */
static bool
idtab_take(struct idtab *t, uint64_t key, uint64_t *val)
{
    size_t i = key & t->mask;

    while (t->keys[i] != key) {
        if (!t->keys[i])
            return false;
        i = (i + 1) & t->mask;
    }
    *val = t->vals[i];
    /* Backward shift: pull later entries of the run into the hole unless
     * their home slot lies cyclically in (hole, j]. */
    for (size_t j = i;;) {
        j = (j + 1) & t->mask;
        if (!t->keys[j])
            break;
        size_t home = t->keys[j] & t->mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->keys[i] = t->keys[j];
        t->vals[i] = t->vals[j];
        i = j;
    }
    t->keys[i] = 0;
    t->live--;
    return true;
}

static uint64_t
id_key(const char *s)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a, then a mix */

    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h ? h : 1;
}

/* ------------------------------------------------------------ run state */

enum load_phase {
    PH_BINDING,
    PH_SENDING,
    PH_DRAINING,
    PH_DLR_WAIT,
    PH_STOPPING,
    PH_DONE,
};

static const char *const phase_names[] = {
    "binding", "sending", "draining", "dlr_wait", "stopping", "done",
};

struct load;
struct load_bind;

/* One message being sent or awaiting resps. */
struct load_msg {
    struct load_msg *next_free;
    uint16_t ref;               /* concatenation reference */
    uint16_t unsent;            /* parts not yet handed to the session */
    uint16_t unresolved;        /* parts handed over, outcome not known yet */
    bool failed;                /* a part got no resp (timeout, lost, never sent) */
    bool nonok;                 /* a part's status was not ESME_ROK */
};

/* One submit_sm in flight: the callback argument. */
struct load_slot {
    struct load_slot *next_free;
    struct load_bind *b;
    struct load_msg *m;
    uint64_t sent_us;
};

struct load_bind {
    struct load *L;
    char name[32];
    bool tx;                    /* sends submit_sm (TX or TRX bind) */
    bool rx;                    /* receives deliver_sm (RX or TRX bind) */
    struct smpp_client *client;
    struct smpp_session *sess;  /* while bound, else NULL */
    bool ever_bound;
    bool stopped;               /* smpp_client_stop() finished */
    bool need_abandon;          /* left the bound state: drop b->cur */
    bool starved;               /* pump stopped for want of a slot */
    struct event *pump_ev;
    struct load_slot *slots, *free_slots;
    struct load_msg *msgs, *free_msgs;
    unsigned nslots;
    struct load_msg *cur;       /* message whose parts are being sent */
    unsigned cur_part;          /* its next part */
    unsigned outstanding;       /* slots in use */
    double quota;               /* rate mode: tokens this bind may use this tick */
    char last_reason[96];
    char last_refusal[96];          /* the last "bind refused: STATUS", kept past retries */
};

struct status_count {
    uint32_t status;
    uint64_t n;
};

struct load {
    struct load_opts opt;
    struct event_base *base;
    SSL_CTX *ssl_ctx;
    enum load_phase phase;
    const char *stop_reason;    /* why sending stopped (static string) */
    bool interrupted;           /* SIGINT/SIGTERM */
    bool failed_early;          /* no bind, send error: the run is incomplete */

    /* The message, split once. */
    char *text;
    uint8_t *split_buf;
    struct smpp_text_part *parts;
    struct smpp_text_split split;
    struct smpp_pdu *tmpl;      /* one submit_sm per part */
    unsigned nparts;
    size_t pdu_bytes;           /* packed size of all parts together */
    uint16_t next_ref;

    struct load_bind *binds;
    unsigned nbinds;            /* clients: binds, or 2 * binds for txrx */
    unsigned tx_up;
    unsigned stopped;
    uint64_t last_tx_up_us;

    /* Pacing. */
    double tokens;
    uint64_t last_refill_us;
    unsigned rr;                /* round-robin start for kicks */

    uint64_t target;            /* messages to send */
    bool stop_starting;         /* no new message is started */

    /* Counters. */
    uint64_t msgs_started, msgs_done, msgs_resp, msgs_ok;
    uint64_t pdus_sent, pdus_unsent, resps, timeouts, conn_lost, generic_nacks;
    uint64_t outstanding;
    uint64_t send_errors;
    uint64_t disconnects;
    struct status_count status[STATUS_SLOTS];
    unsigned nstatus;
    uint64_t status_other;
    struct hist lat;

    /* Receipts. */
    bool track_receipts;
    struct idtab expect;        /* normalised id -> submit time */
    struct idtab early;         /* normalised id -> receipt time */
    uint64_t receipts, receipts_matched, receipts_invalid, receipts_untracked;
    uint64_t resp_ids_dup, resp_no_id, mo, other_requests;
    uint64_t by_stat[SMPP_DLR_STAT_REJECTD + 1];
    struct hist rlat;

    /* Times (CLOCK_MONOTONIC, us). */
    uint64_t t0;                /* program start */
    uint64_t t_first_send, t_last_resp;
    uint64_t prog_last_us, prog_last_resps;

    struct event *check_ev;
    struct event *tick_ev;
    struct event *rate_ev;
    struct event *deadline_ev;
    struct event *duration_ev;
    struct event *sigint_ev, *sigterm_ev;
};

static void load_kick(struct load *L);
static void phase_set(struct load *L, enum load_phase to, const char *reason);

static uint64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timeval
tv_ms(uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000) };
    return tv;
}

static bool
state_is_bound(enum smpp_state st)
{
    return st == SMPP_BOUND_TX || st == SMPP_BOUND_RX || st == SMPP_BOUND_TRX;
}

/* ------------------------------------------------------------ pools */

static bool
bind_pools_init(struct load_bind *b, unsigned window)
{
    /* The session never has more than window requests out, and a new
     * session starts only after the old one's requests all completed; the
     * slack covers a window the session may round up. */
    b->nslots = window * 2 + 8;
    b->slots = calloc(b->nslots, sizeof(*b->slots));
    /* Messages in flight: at most one per busy slot plus the one being sent. */
    b->msgs = calloc(b->nslots + 1, sizeof(*b->msgs));
    if (!b->slots || !b->msgs)
        return false;
    for (unsigned i = 0; i < b->nslots; i++) {
        b->slots[i].b = b;
        b->slots[i].next_free = i + 1 < b->nslots ? &b->slots[i + 1] : NULL;
    }
    for (unsigned i = 0; i <= b->nslots; i++)
        b->msgs[i].next_free = i < b->nslots ? &b->msgs[i + 1] : NULL;
    b->free_slots = b->slots;
    b->free_msgs = b->msgs;
    return true;
}

static struct load_slot *
slot_get(struct load_bind *b)
{
    struct load_slot *s = b->free_slots;

    if (s)
        b->free_slots = s->next_free;
    return s;
}

static void
slot_put(struct load_bind *b, struct load_slot *s)
{
    s->m = NULL;
    s->next_free = b->free_slots;
    b->free_slots = s;
}

/* A message whose every part is resolved is counted and returned. */
static void
msg_maybe_done(struct load_bind *b, struct load_msg *m)
{
    struct load *L = b->L;

    if (m->unsent || m->unresolved || m == b->cur)
        return;
    L->msgs_done++;
    if (!m->failed) {
        L->msgs_resp++;
        if (!m->nonok)
            L->msgs_ok++;
    }
    m->next_free = b->free_msgs;
    b->free_msgs = m;
}

/* The session went away while b->cur had parts unsent: they are not sent
 * on the next session (the message is lost, as its sent parts are). */
static void
bind_abandon(struct load_bind *b)
{
    struct load_msg *m = b->cur;

    b->need_abandon = false;
    if (!m)
        return;
    b->cur = NULL;
    m->failed = true;
    b->L->pdus_unsent += m->unsent;
    m->unsent = 0;
    msg_maybe_done(b, m);
}

/* ------------------------------------------------------------ status counts */

static void
status_count(struct load *L, uint32_t status)
{
    for (unsigned i = 0; i < L->nstatus; i++) {
        if (L->status[i].status == status) {
            L->status[i].n++;
            return;
        }
    }
    if (L->nstatus < STATUS_SLOTS) {
        L->status[L->nstatus].status = status;
        L->status[L->nstatus].n = 1;
        L->nstatus++;
        return;
    }
    L->status_other++;
}

/* ------------------------------------------------------------ receipts */

static void
receipt_matched(struct load *L, uint64_t latency_us)
{
    L->receipts_matched++;
    hist_add(&L->rlat, latency_us);
    if (L->phase == PH_DLR_WAIT && L->expect.live == 0)
        load_kick(L);
}

/* A submit_sm_resp with an id: expect its receipt. */
static void
receipt_expect(struct load *L, const uint8_t *msgid, uint64_t sent_us)
{
    char norm[SMPP_DLR_ID_MAX + 1];
    uint64_t t_rcpt;
    bool dup;

    if (!msgid[0] || smpp_dlr_normalize_id((const char *)msgid, L->opt.resp_id_fmt, norm,
                                           sizeof(norm)) < 0) {
        L->resp_no_id++;
        return;
    }
    uint64_t key = id_key(norm);
    if (L->early.live && idtab_take(&L->early, key, &t_rcpt)) {
        receipt_matched(L, t_rcpt > sent_us ? t_rcpt - sent_us : 0);
        return;
    }
    if (!idtab_put(&L->expect, key, sent_us, &dup))
        L->receipts_untracked++;
    else if (dup)
        L->resp_ids_dup++;
}

/* deliver_sm or data_sm with esm_class saying "SMSC delivery receipt". */
static void
receipt_handle(struct load *L, const uint8_t *sm, size_t smlen, const struct smpp_tlvs *t)
{
    struct smpp_dlr text, r;
    struct smpp_dlr_tlv tlv;
    bool have_tlv = false;
    char norm[SMPP_DLR_ID_MAX + 1];
    uint64_t sent = 0, now = now_us();
    bool dup;

    L->receipts++;
    memset(&tlv, 0, sizeof(tlv));
    if (t->present & SMPP_TLV_RECEIPTED_MESSAGE_ID) {
        tlv.receipted_message_id = t->receipted_message_id;
        have_tlv = true;
    }
    if (t->present & SMPP_TLV_MESSAGE_STATE) {
        tlv.message_state = t->message_state;
        have_tlv = true;
    }
    if (t->present & SMPP_TLV_NETWORK_ERROR_CODE) {
        tlv.has_network_error_code = true;
        memcpy(tlv.network_error_code, t->network_error_code, 3);
        have_tlv = true;
    }
    if (smlen)
        (void)smpp_dlr_parse(sm, smlen, &text);     /* combine judges the result */
    if (smpp_dlr_combine(smlen ? &text : NULL, have_tlv ? &tlv : NULL, &r) != 0 ||
        /* receipted_message_id carries the submit_sm_resp form of the id */
        smpp_dlr_normalize_id(r.id, tlv.receipted_message_id ? L->opt.resp_id_fmt
                                                             : L->opt.dlr_id_fmt,
                              norm, sizeof(norm)) < 0) {
        L->receipts_invalid++;
        return;
    }
    if ((unsigned)r.stat <= SMPP_DLR_STAT_REJECTD)
        L->by_stat[r.stat]++;
    uint64_t key = id_key(norm);
    bool matched = idtab_take(&L->expect, key, &sent);
    if (matched)
        receipt_matched(L, now > sent ? now - sent : 0);
    else
        (void)idtab_put(&L->early, key, now, &dup);  /* full: stays unmatched */
    /* Off unless --log-level info or debug: one line per receipt is for
     * small runs (the demo), not for measuring. */
    if (log_enabled(LOG_INFO)) {
        char q[SMPP_DLR_ID_MAX * 2 + 3];
        const char *stat = smpp_dlr_stat_name(r.stat);
        log_event(LOG_INFO, "receipt", "id=%s stat=%s matched=%s latency_ms=%.3f",
                  log_quote(r.id, q, sizeof(q)), stat ? stat : "-", matched ? "yes" : "no",
                  matched ? (double)(now - sent) / 1000.0 : -1.0);
    }
}

/* ------------------------------------------------------------ session callbacks */

static void
on_resp(struct smpp_session *s, enum smpp_req_result result, const struct smpp_pdu *resp,
        void *arg)
{
    struct load_slot *sl = arg;
    struct load_bind *b = sl->b;
    struct load *L = b->L;
    struct load_msg *m = sl->m;
    uint64_t now;

    (void)s;
    switch (result) {
    case SMPP_REQ_RESP:
        now = now_us();
        hist_add(&L->lat, now - sl->sent_us);
        L->resps++;
        L->t_last_resp = now;
        status_count(L, resp->hdr.command_status);
        if (resp->hdr.command_id == GENERIC_NACK)
            L->generic_nacks++;
        if (resp->hdr.command_status != ESME_ROK || resp->hdr.command_id != SUBMIT_SM_RESP)
            m->nonok = true;
        else if (L->track_receipts && resp->has_body)
            receipt_expect(L, resp->u.submit_sm_resp.message_id, sl->sent_us);
        break;
    case SMPP_REQ_TIMEOUT:
        L->timeouts++;
        m->failed = true;
        break;
    case SMPP_REQ_CONN_LOST:
        L->conn_lost++;
        m->failed = true;
        break;
    default:
        fprintf(stderr, "smpp-load: unknown request result %d\n", (int)result);
        abort();
    }
    m->unresolved--;
    msg_maybe_done(b, m);
    slot_put(b, sl);
    b->outstanding--;
    L->outstanding--;
    if (b->starved) {
        b->starved = false;
        event_active(b->pump_ev, EV_TIMEOUT, 0);
    }
    if (L->phase == PH_DRAINING && L->outstanding == 0)
        load_kick(L);
}

static void
on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct load_bind *b = ctx;
    struct load *L = b->L;

    switch (req->hdr.command_id) {
    case DELIVER_SM: {
        const deliver_sm_t *d = &req->u.deliver_sm;
        if (d->esm_class & 0x04) {
            const uint8_t *sm = d->short_message;
            size_t len = d->sm_length;
            if (len == 0 && (req->tlv.present & SMPP_TLV_MESSAGE_PAYLOAD)) {
                sm = req->tlv.message_payload;
                len = req->tlv.message_payload_len;
            }
            receipt_handle(L, sm, len, &req->tlv);
        } else {
            L->mo++;
        }
        smpp_session_respond_status(s, &req->hdr, ESME_ROK);
        break;
    }
    case DATA_SM:
        if (req->u.data_sm.esm_class & 0x04) {
            const uint8_t *sm = NULL;
            size_t len = 0;
            if (req->tlv.present & SMPP_TLV_MESSAGE_PAYLOAD) {
                sm = req->tlv.message_payload;
                len = req->tlv.message_payload_len;
            }
            receipt_handle(L, sm, len, &req->tlv);
        } else {
            L->mo++;
        }
        smpp_session_respond_status(s, &req->hdr, ESME_ROK);
        break;
    default:
        /* alert_notification and outbind have no resp; anything else the
         * session hands us is not for a load generator. */
        L->other_requests++;
        if (smpp_resp_id(req->hdr.command_id))
            smpp_session_respond_status(s, &req->hdr, ESME_RINVCMDID);
        break;
    }
}

static void
on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
         void *ctx)
{
    struct load_bind *b = ctx;
    struct load *L = b->L;

    if (reason) {
        snprintf(b->last_reason, sizeof(b->last_reason), "%s", reason);
        if (!strncmp(reason, "bind refused", 12))
            snprintf(b->last_refusal, sizeof(b->last_refusal), "%s", reason);
    }
    if (state_is_bound(to) && !state_is_bound(from)) {
        b->sess = s;
        b->ever_bound = true;
        if (b->tx) {
            L->tx_up++;
            L->last_tx_up_us = now_us();
        }
        event_active(b->pump_ev, EV_TIMEOUT, 0);
        load_kick(L);
    } else if (state_is_bound(from) && !state_is_bound(to)) {
        b->sess = NULL;
        if (b->tx) {
            L->tx_up--;
            L->last_tx_up_us = now_us();
        }
        if (L->phase < PH_STOPPING)
            L->disconnects++;
        /* Not here: the pump may be inside smpp_session_send() right now. */
        b->need_abandon = true;
        event_active(b->pump_ev, EV_TIMEOUT, 0);
        load_kick(L);
    }
}

static void
on_window(struct smpp_session *s, void *ctx)
{
    struct load_bind *b = ctx;

    (void)s;
    event_active(b->pump_ev, EV_TIMEOUT, 0);
}

static const struct smpp_session_ops load_ops = {
    .on_bind = NULL,
    .on_request = on_request,
    .on_state = on_state,
    .on_window = on_window,
    .on_closed = NULL,
};

/* ------------------------------------------------------------ sending */

/* Only the concatenation reference differs between messages. */
static void
tmpl_set_ref(struct load *L, struct smpp_pdu *t, uint16_t ref)
{
    if (L->nparts < 2)
        return;
    switch (L->opt.concat) {
    case SMPP_TEXT_CONCAT_UDH8:
        t->u.submit_sm.short_message[3] = (uint8_t)ref;
        break;
    case SMPP_TEXT_CONCAT_UDH16:
        t->u.submit_sm.short_message[3] = (uint8_t)(ref >> 8);
        t->u.submit_sm.short_message[4] = (uint8_t)ref;
        break;
    case SMPP_TEXT_CONCAT_SAR:
        t->tlv.sar_msg_ref_num = ref;
        break;
    case SMPP_TEXT_CONCAT_PAYLOAD:
        break;
    }
}

static void
bind_pump(evutil_socket_t fd, short what, void *arg)
{
    struct load_bind *b = arg;
    struct load *L = b->L;
    bool rate = L->opt.rate > 0;

    (void)fd;
    (void)what;
    if (b->need_abandon)
        bind_abandon(b);
    if (L->phase != PH_SENDING || !b->tx)
        goto out;
    while (b->sess) {
        if (rate && (L->tokens < 1.0 || b->quota < 1.0))
            break;
        struct load_msg *m = b->cur;
        if (!m) {
            if (L->stop_starting)
                break;
            if (L->msgs_started >= L->target) {
                L->stop_starting = true;
                L->stop_reason = "count reached";
                break;
            }
            m = b->free_msgs;
            if (!m) {
                b->starved = true;
                break;
            }
            b->free_msgs = m->next_free;
            m->ref = L->next_ref++;
            m->unsent = (uint16_t)L->nparts;
            m->unresolved = 0;
            m->failed = m->nonok = false;
            b->cur = m;
            b->cur_part = 0;
            L->msgs_started++;
        }
        struct load_slot *sl = slot_get(b);
        if (!sl) {
            b->starved = true;
            break;
        }
        struct smpp_pdu *t = &L->tmpl[b->cur_part];
        tmpl_set_ref(L, t, m->ref);
        sl->m = m;
        sl->sent_us = now_us();
        /* Counted before the call: a callback for this request may run
         * before smpp_session_send() returns. */
        m->unsent--;
        m->unresolved++;
        b->outstanding++;
        L->outstanding++;
        enum smpp_rc rc = smpp_session_send(b->sess, t, on_resp, sl, NULL);
        if (rc != SMPP_OK) {
            m->unsent++;
            m->unresolved--;
            b->outstanding--;
            L->outstanding--;
            slot_put(b, sl);
            if (rc == SMPP_ERROR && b->sess && smpp_session_is_bound(b->sess)) {
                /* Bound and still refused: the PDU does not pack. It was
                 * checked at start, so this is a protocol-layer bug. */
                L->send_errors++;
                log_event(LOG_ERROR, "send_error", "bind=%s", b->name);
                L->stop_starting = true;
                L->failed_early = true;
                L->stop_reason = "submit_sm refused by the session";
            }
            break;
        }
        if (L->pdus_sent++ == 0)
            L->t_first_send = sl->sent_us;
        if (rate) {
            L->tokens -= 1.0;
            b->quota -= 1.0;
        }
        b->cur_part++;
        if (b->cur == m && m->unsent == 0) {
            b->cur = NULL;
            msg_maybe_done(b, m);
        }
    }
out:
    if (b->need_abandon)
        bind_abandon(b);
    if (L->stop_starting || L->phase != PH_SENDING)
        load_kick(L);
}

/* Token bucket refill, shared by every bind; each gets an even share. */
static void
rate_tick(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;
    uint64_t now = now_us();
    double cap = L->opt.rate * RATE_TICK_MS * RATE_BURST_TICKS / 1000.0;

    (void)fd;
    (void)what;
    if (cap < 1.0)
        cap = 1.0;
    L->tokens += L->opt.rate * (double)(now - L->last_refill_us) / 1e6;
    L->last_refill_us = now;
    if (L->tokens > cap)
        L->tokens = cap;
    if (L->phase != PH_SENDING || L->tokens < 1.0 || L->tx_up == 0)
        return;
    double share = ceil(L->tokens / L->tx_up);
    for (unsigned k = 0; k < L->nbinds; k++) {
        struct load_bind *b = &L->binds[(L->rr + k) % L->nbinds];
        if (!b->tx || !b->sess)
            continue;
        b->quota = share;
        event_active(b->pump_ev, EV_TIMEOUT, 0);
    }
    L->rr++;
}

static void
kick_all(struct load *L)
{
    for (unsigned k = 0; k < L->nbinds; k++) {
        struct load_bind *b = &L->binds[(L->rr + k) % L->nbinds];
        if (b->tx)
            event_active(b->pump_ev, EV_TIMEOUT, 0);
    }
    L->rr++;
}

/* ------------------------------------------------------------ phases */

static void
load_kick(struct load *L)
{
    event_active(L->check_ev, EV_TIMEOUT, 0);
}

static void
client_stopped(struct smpp_client *c, void *arg)
{
    struct load_bind *b = arg;

    (void)c;
    if (!b->stopped) {
        b->stopped = true;
        b->L->stopped++;
    }
    load_kick(b->L);
}

static void
phase_set(struct load *L, enum load_phase to, const char *reason)
{
    enum load_phase from = L->phase;
    uint64_t ms = 0;

    if (from == to)
        return;
    L->phase = to;
    log_event(LOG_INFO, "phase", "from=%s to=%s reason=\"%s\" sent=%" PRIu64 " resps=%" PRIu64,
              phase_names[from], phase_names[to], reason, L->pdus_sent, L->resps);
    event_del(L->deadline_ev);
    switch (to) {
    case PH_BINDING:
        break;
    case PH_SENDING:
        L->last_refill_us = now_us();
        L->tokens = 0;
        if (L->opt.duration_s > 0) {
            struct timeval tv = tv_ms((uint64_t)(L->opt.duration_s * 1000.0));
            evtimer_add(L->duration_ev, &tv);
        }
        if (L->rate_ev) {
            struct timeval tv = tv_ms(RATE_TICK_MS);
            event_add(L->rate_ev, &tv);
        }
        kick_all(L);
        return;
    case PH_DRAINING:
        L->stop_starting = true;
        ms = (uint64_t)L->opt.timeout_ms + DRAIN_GRACE_MS;
        break;
    case PH_DLR_WAIT: {
        uint64_t since = L->t_last_resp ? (now_us() - L->t_last_resp) / 1000 : 0;
        ms = since < L->opt.dlr_wait_ms ? L->opt.dlr_wait_ms - since : 0;
        break;
    }
    case PH_STOPPING:
        L->stop_starting = true;
        if (L->rate_ev)
            event_del(L->rate_ev);
        event_del(L->duration_ev);
        for (unsigned i = 0; i < L->nbinds; i++)
            smpp_client_stop(L->binds[i].client, client_stopped, &L->binds[i]);
        ms = STOP_GRACE_MS;
        break;
    case PH_DONE:
        event_base_loopbreak(L->base);
        return;
    }
    if (ms || to == PH_DLR_WAIT) {
        struct timeval tv = tv_ms(ms);
        evtimer_add(L->deadline_ev, &tv);
    }
    load_kick(L);
}

/* Deferred: every phase decision is taken here, outside session callbacks. */
static void
load_check(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;

    (void)fd;
    (void)what;
    switch (L->phase) {
    case PH_BINDING: {
        unsigned n = 0;
        for (unsigned i = 0; i < L->nbinds; i++)
            n += L->binds[i].ever_bound;
        if (L->interrupted)
            phase_set(L, PH_STOPPING, "interrupted");
        else if (n == L->nbinds)
            phase_set(L, PH_SENDING, "all bound");
        break;
    }
    case PH_SENDING: {
        if (!L->stop_starting)
            break;
        for (unsigned i = 0; i < L->nbinds; i++)
            if (L->binds[i].cur)
                return;             /* a message's remaining parts go first */
        phase_set(L, PH_DRAINING, L->stop_reason ? L->stop_reason : "stop");
        break;
    }
    case PH_DRAINING:
        if (L->outstanding)
            break;
        if (L->track_receipts && L->expect.live > 0 && L->opt.dlr_wait_ms > 0 && !L->interrupted)
            phase_set(L, PH_DLR_WAIT, "all resps in");
        else
            phase_set(L, PH_STOPPING, "all resps in");
        break;
    case PH_DLR_WAIT:
        if (L->expect.live == 0)
            phase_set(L, PH_STOPPING, "all receipts in");
        else if (L->interrupted)
            phase_set(L, PH_STOPPING, "interrupted");
        break;
    case PH_STOPPING:
        if (L->stopped == L->nbinds)
            phase_set(L, PH_DONE, "all unbound");
        break;
    case PH_DONE:
        break;
    default:
        abort();
    }
}

static void
deadline_fired(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;

    (void)fd;
    (void)what;
    switch (L->phase) {
    case PH_BINDING:
        if (L->tx_up > 0) {
            log_event(LOG_WARN, "bind_partial",
                      "msg=\"not every bind is up after connect timeout; starting anyway\"");
            phase_set(L, PH_SENDING, "connect timeout, some bound");
        } else {
            for (unsigned i = 0; i < L->nbinds; i++) {
                const struct load_bind *b = &L->binds[i];
                /* The refusal says why, even when the deadline caught a
                 * retry in the middle of its bind. */
                bool again = b->last_refusal[0] && strcmp(b->last_refusal, b->last_reason) != 0;
                fprintf(stderr, "smpp-load: %s: not bound after %u ms%s%s%s%s%s\n",
                        b->name, L->opt.connect_timeout_ms, b->last_reason[0] ? ": " : "",
                        b->last_reason, again ? " (last " : "", again ? b->last_refusal : "",
                        again ? ")" : "");
            }
            L->failed_early = true;
            L->stop_reason = "no bind";
            phase_set(L, PH_STOPPING, "connect timeout, none bound");
        }
        break;
    case PH_DRAINING:
        log_event(LOG_WARN, "drain_timeout", "outstanding=%" PRIu64, L->outstanding);
        phase_set(L, PH_STOPPING, "drain timeout");
        break;
    case PH_DLR_WAIT:
        phase_set(L, PH_STOPPING, "dlr wait over");
        break;
    case PH_STOPPING:
        log_event(LOG_WARN, "stop_timeout", "stopped=%u binds=%u", L->stopped, L->nbinds);
        phase_set(L, PH_DONE, "stop timeout");
        break;
    default:
        break;
    }
}

static void
duration_fired(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;

    (void)fd;
    (void)what;
    if (!L->stop_starting) {
        L->stop_starting = true;
        L->stop_reason = "duration reached";
    }
    load_kick(L);
}

static void
signal_fired(evutil_socket_t sig, short what, void *arg)
{
    struct load *L = arg;

    (void)what;
    if (L->interrupted) {
        fprintf(stderr, "smpp-load: second signal, stopping now\n");
        event_base_loopbreak(L->base);
        return;
    }
    fprintf(stderr, "smpp-load: %s: finishing (again to stop now)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    L->interrupted = true;
    if (!L->stop_starting) {
        L->stop_starting = true;
        L->stop_reason = "interrupted";
    }
    load_kick(L);
}

/* Once a second: the progress line, and the watch for binds lost for good. */
static void
tick(evutil_socket_t fd, short what, void *arg)
{
    struct load *L = arg;
    uint64_t now = now_us();

    (void)fd;
    (void)what;
    if (!L->opt.json_only) {
        double dt = (double)(now - L->prog_last_us) / 1e6;
        double r = dt > 0 ? (double)(L->resps - L->prog_last_resps) / dt : 0;
        fprintf(stderr, "smpp-load: t=%.0fs %s sent=%" PRIu64 " resps=%" PRIu64
                " rate=%.0f/s outstanding=%" PRIu64 " receipts=%" PRIu64
                " matched=%" PRIu64 " binds_up=%u/%u\n",
                (double)(now - L->t0) / 1e6, phase_names[L->phase], L->pdus_sent, L->resps,
                r, L->outstanding, L->receipts, L->receipts_matched, L->tx_up,
                L->opt.binds);
    }
    L->prog_last_us = now;
    L->prog_last_resps = L->resps;

    if (L->phase == PH_SENDING && L->tx_up == 0 && !L->stop_starting &&
        now - L->last_tx_up_us > (uint64_t)L->opt.connect_timeout_ms * 1000) {
        log_event(LOG_ERROR, "no_bind", "msg=\"no transmitter bound for %u ms\"",
                  L->opt.connect_timeout_ms);
        L->stop_starting = true;
        L->failed_early = true;
        L->stop_reason = "binds lost";
        load_kick(L);
    }
}

/* ------------------------------------------------------------ message setup */

/* Text of exactly n characters. GSM7: plain ASCII from the basic table
 * (one septet each, no escapes). UCS-2: Cyrillic and ASCII, all in the BMP. */
static char *
make_text(enum smpp_text_enc enc, unsigned n)
{
    static const char gsm_pat[] =
        "smpp-load test message 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz. ";
    static const char ucs_pat[] =
        "\xd0\x9d\xd0\xb0\xd0\xb3\xd1\x80\xd1\x83\xd0\xb7\xd0\xba\xd0\xb0 smpp-load "
        "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82 0123456789. ";
    /* = "Нагрузка smpp-load тест 0123456789. " */
    const char *pat = enc == SMPP_TEXT_ENC_UCS2 ? ucs_pat : gsm_pat;
    size_t plen = strlen(pat), o = 0, p = 0;
    char *s = malloc((size_t)n * 4 + 1);

    if (!s)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pat[p];
        size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        memcpy(s + o, pat + p, k);
        o += k;
        p += k;
        if (p >= plen)
            p = 0;
    }
    s[o] = 0;
    return s;
}

/* TON/NPI for an address: digits are international E.164, the rest
 * alphanumeric. A leading '+' is dropped. */
static const char *
addr_parse(const char *a, uint8_t *ton, uint8_t *npi)
{
    bool digits = *a != 0;

    if (*a == '+')
        a++;
    for (const char *p = a; *p; p++)
        if (*p < '0' || *p > '9')
            digits = false;
    if (digits) {
        *ton = 1;
        *npi = 1;
    } else {
        *ton = 5;
        *npi = 0;
    }
    return a;
}

static int
build_templates(struct load *L)
{
    const struct load_opts *o = &L->opt;
    struct smpp_text_split_opts so = {
        .enc = o->enc, .concat = o->concat, .ref = 0, .max_parts = SMPP_TEXT_MAX_PARTS,
    };
    size_t bufsz = SMPP_TEXT_SPLIT_BUFSZ(SMPP_TEXT_MAX_PARTS), err_off = 0;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    const char *src = addr_parse(o->from, &src_ton, &src_npi);
    const char *dst = addr_parse(o->to, &dst_ton, &dst_npi);

    L->text = make_text(o->enc, o->size);
    L->split_buf = malloc(bufsz);
    L->parts = calloc(SMPP_TEXT_MAX_PARTS, sizeof(*L->parts));
    if (!L->text || !L->split_buf || !L->parts) {
        fprintf(stderr, "smpp-load: out of memory\n");
        return -1;
    }
    int rc = smpp_text_split(L->text, strlen(L->text), &so, L->split_buf, bufsz, L->parts,
                             &L->split, &err_off);
    if (rc == SMPP_TEXT_E_TOOLONG) {
        if (o->concat == SMPP_TEXT_CONCAT_PAYLOAD)
            fprintf(stderr, "smpp-load: --size %u does not fit: in %s the text is more than "
                            "the %d octets message_payload can carry\n",
                    o->size, smpp_text_enc_name(o->enc), SMPP_TEXT_PAYLOAD_MAX);
        else
            fprintf(stderr, "smpp-load: --size %u does not fit: in %s it needs more than %u "
                            "parts\n", o->size, smpp_text_enc_name(o->enc), SMPP_TEXT_MAX_PARTS);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "smpp-load: cannot split the text: %s\n", smpp_text_strerror(rc));
        return -1;
    }
    L->nparts = L->split.nparts;
    L->tmpl = calloc(L->nparts, sizeof(*L->tmpl));
    if (!L->tmpl) {
        fprintf(stderr, "smpp-load: out of memory\n");
        return -1;
    }
    for (unsigned i = 0; i < L->nparts; i++) {
        const struct smpp_text_part *pt = &L->parts[i];
        struct smpp_pdu *t = &L->tmpl[i];
        submit_sm_t *s = &t->u.submit_sm;

        smpp_pdu_init(t, SUBMIT_SM, ESME_ROK, 1);
        s->source_addr_ton = src_ton;
        s->source_addr_npi = src_npi;
        snprintf((char *)s->source_addr, sizeof(s->source_addr), "%s", src);
        s->dest_addr_ton = dst_ton;
        s->dest_addr_npi = dst_npi;
        snprintf((char *)s->destination_addr, sizeof(s->destination_addr), "%s", dst);
        s->esm_class = pt->esm_udhi;
        s->registered_delivery = (uint8_t)o->rd;
        s->data_coding = L->split.data_coding;
        if (pt->payload) {
            s->sm_length = 0;
            t->tlv.present |= SMPP_TLV_MESSAGE_PAYLOAD;
            t->tlv.message_payload_len = pt->len;
            memcpy(t->tlv.message_payload, pt->sm, pt->len);
        } else {
            s->sm_length = (uint8_t)pt->len;
            memcpy(s->short_message, pt->sm, pt->len);
        }
        if (pt->sar) {
            t->tlv.present |= SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                              SMPP_TLV_SAR_SEGMENT_SEQNUM;
            t->tlv.sar_msg_ref_num = pt->sar_ref;
            t->tlv.sar_total_segments = pt->sar_total;
            t->tlv.sar_segment_seqnum = pt->sar_seq;
        }
        /* tmpl_set_ref() writes the reference at fixed offsets: check the
         * segmenter put the concatenation IE first, as it documents. */
        if (L->nparts > 1 && (o->concat == SMPP_TEXT_CONCAT_UDH8 ||
                              o->concat == SMPP_TEXT_CONCAT_UDH16)) {
            bool ok = o->concat == SMPP_TEXT_CONCAT_UDH8
                ? pt->len > 6 && pt->sm[0] == 5 && pt->sm[1] == 0 && pt->sm[2] == 3
                : pt->len > 7 && pt->sm[0] == 6 && pt->sm[1] == 8 && pt->sm[2] == 4;
            if (!ok || !pt->esm_udhi) {
                fprintf(stderr, "smpp-load: part %u: unexpected UDH from smpp_text_split\n",
                        i + 1);
                return -1;
            }
        }
        if (L->nparts > 1 && o->concat == SMPP_TEXT_CONCAT_SAR && !pt->sar) {
            fprintf(stderr, "smpp-load: part %u: smpp_text_split gave no SAR values\n", i + 1);
            return -1;
        }
        /* Pack it once now, so a PDU that cannot pack is a start-up error
         * rather than a failure on the hot path. */
        uint8_t buf[4096];
        size_t len = 0;
        if (smpp_pdu_pack_buf(t, buf, sizeof(buf), &len) != 0) {
            fprintf(stderr, "smpp-load: part %u of %u does not pack (libsmpp34 refused it)\n",
                    i + 1, L->nparts);
            return -1;
        }
        L->pdu_bytes += len;
    }
    return 0;
}

/* ------------------------------------------------------------ report */

static void
json_hist(FILE *f, const struct hist *h)
{
    fprintf(f, "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
            hist_quantile(h, 0.50) / 1000.0, hist_quantile(h, 0.90) / 1000.0,
            hist_quantile(h, 0.99) / 1000.0, hist_quantile(h, 0.999) / 1000.0,
            (double)h->max / 1000.0, h->n ? (double)h->sum / (double)h->n / 1000.0 : 0.0);
}

static const char *
mode_name(enum load_mode m)
{
    return m == MODE_TX ? "tx" : m == MODE_TRX ? "trx" : "txrx";
}

static const char *
concat_name(enum smpp_text_concat c)
{
    switch (c) {
    case SMPP_TEXT_CONCAT_UDH8: return "udh8";
    case SMPP_TEXT_CONCAT_UDH16: return "udh16";
    case SMPP_TEXT_CONCAT_SAR: return "sar";
    case SMPP_TEXT_CONCAT_PAYLOAD: return "payload";
    }
    return "?";
}

static void
report(struct load *L, bool ok)
{
    FILE *f = stdout;
    uint64_t end = L->t_last_resp ? L->t_last_resp : now_us();
    double elapsed = L->t_first_send && end > L->t_first_send
        ? (double)(end - L->t_first_send) / 1e6 : 0.0;
    unsigned reconnects = 0;

    for (unsigned i = 0; i < L->nbinds; i++)
        reconnects += smpp_client_reconnects(L->binds[i].client);

    fprintf(f, "{\"messages\":%" PRIu64 ",\"messages_resp\":%" PRIu64
            ",\"messages_ok\":%" PRIu64 ",\"pdus\":%" PRIu64 ",\"segments\":%u"
            ",\"resps\":%" PRIu64 ",\"elapsed_s\":%.3f,\"rate\":%.1f,\"resp_by_status\":{",
            L->msgs_started, L->msgs_resp, L->msgs_ok, L->pdus_sent, L->nparts,
            L->resps, elapsed, elapsed > 0 ? (double)L->resps / elapsed : 0.0);
    for (unsigned i = 0; i < L->nstatus; i++)
        fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "",
                smpp_status_name(L->status[i].status), L->status[i].n);
    if (L->status_other)
        fprintf(f, "%s\"other\":%" PRIu64, L->nstatus ? "," : "", L->status_other);
    fprintf(f, "},\"generic_nacks\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"conn_lost\":%" PRIu64
            ",\"pdus_unsent\":%" PRIu64 ",\"latency_ms\":",
            L->generic_nacks, L->timeouts, L->conn_lost, L->pdus_unsent);
    json_hist(f, &L->lat);
    fprintf(f, ",\"receipts\":%" PRIu64 ",\"receipts_matched\":%" PRIu64
            ",\"receipts_unmatched\":%" PRIu64 ",\"receipts_invalid\":%" PRIu64
            ",\"receipts_pending\":%zu,\"receipts_by_stat\":{",
            L->receipts, L->receipts_matched,
            L->receipts - L->receipts_invalid - L->receipts_matched, L->receipts_invalid,
            L->track_receipts ? L->expect.live : (size_t)0);
    bool first = true;
    for (unsigned st = 1; st <= SMPP_DLR_STAT_REJECTD; st++) {
        if (!L->by_stat[st])
            continue;
        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",",
                smpp_dlr_stat_name((enum smpp_dlr_stat)st), L->by_stat[st]);
        first = false;
    }
    fprintf(f, "},\"receipt_latency_ms\":");
    json_hist(f, &L->rlat);
    fprintf(f, ",\"mo\":%" PRIu64 ",\"binds\":%u,\"bind_mode\":\"%s\",\"window\":%u"
            ",\"target_rate\":%.1f,\"concat\":\"%s\",\"encoding\":\"%s\",\"pdu_bytes\":%zu"
            ",\"reconnects\":%u,\"disconnects\":%" PRIu64 ",\"stop_reason\":\"%s\""
            ",\"ok\":%s}\n",
            L->mo, L->opt.binds, mode_name(L->opt.mode), L->opt.window, L->opt.rate,
            concat_name(L->opt.concat), smpp_text_enc_name(L->split.enc),
            L->nparts ? L->pdu_bytes / L->nparts : (size_t)0,
            reconnects, L->disconnects, L->stop_reason ? L->stop_reason : "none",
            ok ? "true" : "false");
    fflush(f);
}

/* ------------------------------------------------------------ command line */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: smpp-load --host H --port P --system-id ID --password PW --count N [options]\n"
"\n"
"A windowed SMPP 3.4 ESME load generator. Sends N messages (each one or more\n"
"submit_sm PDUs), prints progress to stderr once a second and one JSON line\n"
"on stdout at the end. Exit 0 when every message got a resp for every part\n"
"(any status), 1 otherwise, 2 on usage errors. See docs/smpp-load.md.\n"
"\n"
"Connection:\n"
"  --host H                 SMSC host (required)\n"
"  --port P                 SMSC port (required)\n"
"  --system-id ID           bind system_id (required)\n"
"  --password PW            bind password (required; may be empty)\n"
"  --system-type T          bind system_type (default empty)\n"
"  --binds B                bind slots (default 1)\n"
"  --bind-mode tx|trx|txrx  transmitter; transceiver; a TX and an RX bind per\n"
"                           slot (default trx)\n"
"  --tls                    TLS; --tls-ca FILE trusts FILE instead of the system\n"
"                           store, --tls-insecure skips verification (lab only)\n"
"  --connect-timeout-ms T   give up when no transmitter is bound for T ms, at\n"
"                           start or later (default 10000)\n"
"\n"
"Load:\n"
"  --count N                messages to send (0 or absent: until --duration)\n"
"  --duration S             stop starting messages after S seconds of sending\n"
"  --window W               outstanding submit_sm per bind (default 64)\n"
"  --rate R                 target submit_sm/s over all binds, token bucket on a\n"
"                           %d ms tick (default 0: as fast as the window allows)\n"
"  --timeout-ms T           submit_sm_resp timeout (default 10000)\n"
"\n"
"Message:\n"
"  --size C                 text length in characters (default 20)\n"
"  --encoding gsm7|ucs2     (default gsm7)\n"
"  --concat udh8|udh16|sar|payload\n"
"                           how a text longer than one segment is sent (default udh8)\n"
"  --from ADDR --to ADDR    digits: TON 1/NPI 1; otherwise alphanumeric TON 5/NPI 0\n"
"                           (defaults 12025550100 and 12025550199)\n"
"  --registered-delivery 0|1|2\n"
"                           registered_delivery in submit_sm (default 0)\n"
"\n"
"Receipts (with --registered-delivery 1|2 and --bind-mode trx|txrx):\n"
"  --dlr-wait-ms T          wait up to T ms after the last resp for receipts\n"
"                           (default 10000)\n"
"  --resp-id-format hex|dec|string\n"
"  --dlr-id-format hex|dec|string\n"
"                           how the SMSC writes ids in submit_sm_resp and in\n"
"                           receipts, to match them (default string for both)\n"
"\n"
"Output:\n"
"  --json-only              no progress lines; only errors on stderr\n"
"  --log-level L            debug|info|warn|error (default warn)\n"
"  --help\n", RATE_TICK_MS);
}

enum {
    OPT_HOST = 256, OPT_PORT, OPT_SYSID, OPT_PASSWORD, OPT_SYSTYPE, OPT_COUNT, OPT_WINDOW,
    OPT_RATE, OPT_BINDS, OPT_BIND_MODE, OPT_SIZE, OPT_CONCAT, OPT_RD, OPT_TLS, OPT_TLS_CA,
    OPT_TLS_INSECURE, OPT_FROM, OPT_TO, OPT_ENCODING, OPT_TIMEOUT, OPT_DURATION,
    OPT_DLR_WAIT, OPT_JSON_ONLY, OPT_CONNECT_TIMEOUT, OPT_RESP_ID_FMT, OPT_DLR_ID_FMT,
    OPT_LOG_LEVEL, OPT_HELP,
};

static const struct option long_opts[] = {
    { "host", required_argument, NULL, OPT_HOST },
    { "port", required_argument, NULL, OPT_PORT },
    { "system-id", required_argument, NULL, OPT_SYSID },
    { "password", required_argument, NULL, OPT_PASSWORD },
    { "system-type", required_argument, NULL, OPT_SYSTYPE },
    { "count", required_argument, NULL, OPT_COUNT },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "rate", required_argument, NULL, OPT_RATE },
    { "binds", required_argument, NULL, OPT_BINDS },
    { "bind-mode", required_argument, NULL, OPT_BIND_MODE },
    { "size", required_argument, NULL, OPT_SIZE },
    { "concat", required_argument, NULL, OPT_CONCAT },
    { "registered-delivery", required_argument, NULL, OPT_RD },
    { "tls", no_argument, NULL, OPT_TLS },
    { "tls-ca", required_argument, NULL, OPT_TLS_CA },
    { "tls-insecure", no_argument, NULL, OPT_TLS_INSECURE },
    { "from", required_argument, NULL, OPT_FROM },
    { "to", required_argument, NULL, OPT_TO },
    { "encoding", required_argument, NULL, OPT_ENCODING },
    { "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "dlr-wait-ms", required_argument, NULL, OPT_DLR_WAIT },
    { "json-only", no_argument, NULL, OPT_JSON_ONLY },
    { "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "resp-id-format", required_argument, NULL, OPT_RESP_ID_FMT },
    { "dlr-id-format", required_argument, NULL, OPT_DLR_ID_FMT },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

/* Unsigned decimal in [min, max]; prints why not and returns false. */
static bool
parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    errno = 0;
    if (!*s || *s == '-' || *s == '+') {
        fprintf(stderr, "smpp-load: --%s: '%s' is not a number\n", flag, s);
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) {
        fprintf(stderr, "smpp-load: --%s: '%s' is not a number\n", flag, s);
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "smpp-load: --%s: %llu is out of range %" PRIu64 "..%" PRIu64 "\n",
                flag, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_uint(const char *flag, const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;

    if (!parse_u64(flag, s, min, max, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

static bool
parse_double(const char *flag, const char *s, double min, double max, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || isnan(v)) {
        fprintf(stderr, "smpp-load: --%s: '%s' is not a number\n", flag, s);
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "smpp-load: --%s: %s is out of range %g..%g\n", flag, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_id_format(const char *flag, const char *s, enum smpp_dlr_id_format *out)
{
    if (strcmp(s, "hex") == 0)
        *out = SMPP_DLR_ID_HEX;
    else if (strcmp(s, "dec") == 0)
        *out = SMPP_DLR_ID_DEC;
    else if (strcmp(s, "string") == 0)
        *out = SMPP_DLR_ID_STRING;
    else {
        fprintf(stderr, "smpp-load: --%s: '%s' is not hex, dec or string\n", flag, s);
        return false;
    }
    return true;
}

/* Every bad flag is reported, not only the first. Returns -1 for --help,
 * else the number of errors. */
static int
parse_args(int argc, char **argv, struct load_opts *o)
{
    int errors = 0, c;
    uint64_t port = 0;
    bool have_pw = false;

    *o = (struct load_opts){
        .system_type = "", .window = 64, .binds = 1, .mode = MODE_TRX, .size = 20,
        .concat = SMPP_TEXT_CONCAT_UDH8, .from = "12025550100", .to = "12025550199",
        .enc = SMPP_TEXT_ENC_GSM7, .timeout_ms = 10000, .dlr_wait_ms = 10000,
        .connect_timeout_ms = 10000, .resp_id_fmt = SMPP_DLR_ID_STRING,
        .dlr_id_fmt = SMPP_DLR_ID_STRING, .log_level = LOG_WARN,
    };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case OPT_HOST: o->host = a; break;
        case OPT_PORT:
            if (parse_u64("port", a, 1, 65535, &port))
                o->port = (int)port;
            else
                errors++;
            break;
        case OPT_SYSID:
            o->system_id = a;
            if (strlen(a) > 15) {
                fprintf(stderr, "smpp-load: --system-id: at most 15 characters\n");
                errors++;
            }
            break;
        case OPT_PASSWORD:
            o->password = a;
            have_pw = true;
            if (strlen(a) > 8) {
                fprintf(stderr, "smpp-load: --password: at most 8 characters\n");
                errors++;
            }
            break;
        case OPT_SYSTYPE:
            o->system_type = a;
            if (strlen(a) > 12) {
                fprintf(stderr, "smpp-load: --system-type: at most 12 characters\n");
                errors++;
            }
            break;
        case OPT_COUNT: errors += !parse_u64("count", a, 0, UINT64_MAX / 2, &o->count); break;
        case OPT_WINDOW: errors += !parse_uint("window", a, 1, 100000, &o->window); break;
        case OPT_RATE: errors += !parse_double("rate", a, 0, 1e8, &o->rate); break;
        case OPT_BINDS: errors += !parse_uint("binds", a, 1, 1000, &o->binds); break;
        case OPT_BIND_MODE:
            if (strcmp(a, "tx") == 0)
                o->mode = MODE_TX;
            else if (strcmp(a, "trx") == 0)
                o->mode = MODE_TRX;
            else if (strcmp(a, "txrx") == 0)
                o->mode = MODE_TXRX;
            else {
                fprintf(stderr, "smpp-load: --bind-mode: '%s' is not tx, trx or txrx\n", a);
                errors++;
            }
            break;
        case OPT_SIZE: errors += !parse_uint("size", a, 0, 100000, &o->size); break;
        case OPT_CONCAT:
            if (strcmp(a, "udh8") == 0)
                o->concat = SMPP_TEXT_CONCAT_UDH8;
            else if (strcmp(a, "udh16") == 0)
                o->concat = SMPP_TEXT_CONCAT_UDH16;
            else if (strcmp(a, "sar") == 0)
                o->concat = SMPP_TEXT_CONCAT_SAR;
            else if (strcmp(a, "payload") == 0)
                o->concat = SMPP_TEXT_CONCAT_PAYLOAD;
            else {
                fprintf(stderr, "smpp-load: --concat: '%s' is not udh8, udh16, sar or payload\n",
                        a);
                errors++;
            }
            break;
        case OPT_RD: errors += !parse_uint("registered-delivery", a, 0, 2, &o->rd); break;
        case OPT_TLS: o->tls = true; break;
        case OPT_TLS_CA: o->tls_ca = a; break;
        case OPT_TLS_INSECURE: o->tls_insecure = true; break;
        case OPT_FROM: o->from = a; break;
        case OPT_TO: o->to = a; break;
        case OPT_ENCODING:
            if (strcmp(a, "gsm7") == 0)
                o->enc = SMPP_TEXT_ENC_GSM7;
            else if (strcmp(a, "ucs2") == 0)
                o->enc = SMPP_TEXT_ENC_UCS2;
            else {
                fprintf(stderr, "smpp-load: --encoding: '%s' is not gsm7 or ucs2\n", a);
                errors++;
            }
            break;
        case OPT_TIMEOUT:
            errors += !parse_uint("timeout-ms", a, 1, 3600000, &o->timeout_ms);
            break;
        case OPT_DURATION:
            errors += !parse_double("duration", a, 0, 31 * 86400.0, &o->duration_s);
            break;
        case OPT_DLR_WAIT:
            errors += !parse_uint("dlr-wait-ms", a, 0, 3600000, &o->dlr_wait_ms);
            break;
        case OPT_JSON_ONLY: o->json_only = true; break;
        case OPT_CONNECT_TIMEOUT:
            errors += !parse_uint("connect-timeout-ms", a, 1, 3600000, &o->connect_timeout_ms);
            break;
        case OPT_RESP_ID_FMT:
            errors += !parse_id_format("resp-id-format", a, &o->resp_id_fmt);
            break;
        case OPT_DLR_ID_FMT:
            errors += !parse_id_format("dlr-id-format", a, &o->dlr_id_fmt);
            break;
        case OPT_LOG_LEVEL:
            if (!log_level_parse(a, &o->log_level)) {
                fprintf(stderr, "smpp-load: --log-level: '%s' is not debug, info, warn or error\n",
                        a);
                errors++;
            }
            break;
        case 'h':
        case OPT_HELP:
            return -1;
        case ':':
            fprintf(stderr, "smpp-load: %s needs a value\n", argv[optind - 1]);
            errors++;
            break;
        case '?':
        default:
            if (optopt && optopt < OPT_HOST)
                fprintf(stderr, "smpp-load: unknown option -%c\n", optopt);
            else if (optopt)
                fprintf(stderr, "smpp-load: %s needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "smpp-load: unknown option %s\n", argv[optind - 1]);
            errors++;
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smpp-load: unexpected argument '%s'\n", argv[optind]);
        errors++;
    }
    if (!o->host) {
        fprintf(stderr, "smpp-load: --host is required\n");
        errors++;
    }
    if (!o->port) {
        fprintf(stderr, "smpp-load: --port is required\n");
        errors++;
    }
    if (!o->system_id) {
        fprintf(stderr, "smpp-load: --system-id is required\n");
        errors++;
    }
    if (!have_pw) {
        fprintf(stderr, "smpp-load: --password is required (--password '' for none)\n");
        errors++;
    }
    if (!o->count && o->duration_s <= 0) {
        fprintf(stderr, "smpp-load: --count N (N > 0) or --duration S is required\n");
        errors++;
    }
    if ((o->tls_ca || o->tls_insecure) && !o->tls) {
        fprintf(stderr, "smpp-load: --tls-ca and --tls-insecure need --tls\n");
        errors++;
    }
    const char *addrs[2] = { o->from, o->to };
    const char *names[2] = { "from", "to" };
    for (int i = 0; i < 2; i++) {
        const char *p = addrs[i][0] == '+' ? addrs[i] + 1 : addrs[i];
        if (!*p || strlen(p) > 20) {
            fprintf(stderr, "smpp-load: --%s: 1 to 20 characters\n", names[i]);
            errors++;
        }
    }
    return errors;
}

/* ------------------------------------------------------------ main */

static int
load_setup(struct load *L)
{
    const struct load_opts *o = &L->opt;
    struct smpp_client_cfg cc;
    unsigned slots = o->mode == MODE_TXRX ? 2 : 1;

    L->base = event_base_new();
    if (!L->base) {
        fprintf(stderr, "smpp-load: event_base_new failed\n");
        return -1;
    }
    if (o->tls) {
        struct smpp_tls_client_cfg tc = { .ca_file = o->tls_ca, .verify = !o->tls_insecure };
        char err[256] = "";
        L->ssl_ctx = smpp_tls_client_ctx(&tc, err, sizeof(err));
        if (!L->ssl_ctx) {
            fprintf(stderr, "smpp-load: TLS: %s\n", err);
            return -1;
        }
    }

    L->track_receipts = o->rd != 0 && o->mode != MODE_TX;
    if (o->rd && o->mode == MODE_TX)
        fprintf(stderr, "smpp-load: --registered-delivery with --bind-mode tx: receipts "
                        "cannot arrive on a transmitter bind and are not counted\n");
    if (L->track_receipts) {
        uint64_t want = !o->count ? EXPECT_CAP_NOCOUNT
                      : o->count > EXPECT_CAP_MAX ? EXPECT_CAP_MAX
                      : o->count * L->nparts * 2;
        size_t cap = 1024;
        while (cap < want && cap < EXPECT_CAP_MAX)
            cap <<= 1;
        if (!idtab_init(&L->expect, cap) || !idtab_init(&L->early, EARLY_CAP)) {
            fprintf(stderr, "smpp-load: out of memory for the receipt table\n");
            return -1;
        }
    }

    L->nbinds = o->binds * slots;
    L->binds = calloc(L->nbinds, sizeof(*L->binds));
    if (!L->binds) {
        fprintf(stderr, "smpp-load: out of memory\n");
        return -1;
    }
    for (unsigned i = 0; i < L->nbinds; i++) {
        struct load_bind *b = &L->binds[i];
        unsigned slot = i / slots;
        bool rx_only = o->mode == MODE_TXRX && i % 2 == 1;

        b->L = L;
        b->tx = !rx_only;
        b->rx = o->mode != MODE_TX && (o->mode == MODE_TRX || rx_only);
        snprintf(b->name, sizeof(b->name), "load#%u-%s", slot + 1,
                 rx_only ? "rx" : o->mode == MODE_TRX ? "trx" : "tx");
        b->pump_ev = event_new(L->base, -1, 0, bind_pump, b);
        if (!b->pump_ev || (b->tx && !bind_pools_init(b, o->window))) {
            fprintf(stderr, "smpp-load: out of memory\n");
            return -1;
        }

        memset(&cc, 0, sizeof(cc));
        cc.name = b->name;
        cc.host = o->host;
        cc.port = o->port;
        cc.ssl_ctx = L->ssl_ctx;
        cc.bind.mode = rx_only ? SMPP_BIND_RX : o->mode == MODE_TRX ? SMPP_BIND_TRX : SMPP_BIND_TX;
        cc.bind.system_id = o->system_id;
        cc.bind.password = o->password;
        cc.bind.system_type = o->system_type;
        cc.bind.address_range = "";
        smpp_session_cfg_defaults(&cc.session);
        cc.session.window = o->window;
        cc.session.resp_timeout_ms = o->timeout_ms;
        /* Receipts are answered at once; room for a burst of them. */
        if (cc.session.peer_window < o->window)
            cc.session.peer_window = o->window;
        cc.backoff_min_ms = 200;
        cc.backoff_max_ms = 5000;
        b->client = smpp_client_new(L->base, &cc, &load_ops, b);
        if (!b->client) {
            fprintf(stderr, "smpp-load: %s: cannot create the client\n", b->name);
            return -1;
        }
    }

    L->check_ev = event_new(L->base, -1, 0, load_check, L);
    L->tick_ev = event_new(L->base, -1, EV_PERSIST, tick, L);
    L->deadline_ev = evtimer_new(L->base, deadline_fired, L);
    L->duration_ev = evtimer_new(L->base, duration_fired, L);
    L->sigint_ev = evsignal_new(L->base, SIGINT, signal_fired, L);
    L->sigterm_ev = evsignal_new(L->base, SIGTERM, signal_fired, L);
    if (o->rate > 0)
        L->rate_ev = event_new(L->base, -1, EV_PERSIST, rate_tick, L);
    if (!L->check_ev || !L->tick_ev || !L->deadline_ev || !L->duration_ev || !L->sigint_ev ||
        !L->sigterm_ev || (o->rate > 0 && !L->rate_ev)) {
        fprintf(stderr, "smpp-load: cannot create events\n");
        return -1;
    }
    struct timeval one_s = tv_ms(1000), conn = tv_ms(o->connect_timeout_ms);
    event_add(L->tick_ev, &one_s);
    event_add(L->sigint_ev, NULL);
    event_add(L->sigterm_ev, NULL);
    evtimer_add(L->deadline_ev, &conn);
    return 0;
}

static void
load_free(struct load *L)
{
    for (unsigned i = 0; L->binds && i < L->nbinds; i++) {
        struct load_bind *b = &L->binds[i];
        if (b->client)
            smpp_client_free(b->client);
        if (b->pump_ev)
            event_free(b->pump_ev);
        free(b->slots);
        free(b->msgs);
    }
    free(L->binds);
    struct event *evs[] = { L->check_ev, L->tick_ev, L->rate_ev, L->deadline_ev,
                            L->duration_ev, L->sigint_ev, L->sigterm_ev };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (L->base) {
        event_base_loop(L->base, EVLOOP_NONBLOCK);     /* cancelled lookups finish */
        dns_free(L->base);                              /* (a --host given by name) */
        event_base_free(L->base);
    }
    if (L->ssl_ctx)
        SSL_CTX_free(L->ssl_ctx);
    idtab_free(&L->expect);
    idtab_free(&L->early);
    free(L->tmpl);
    free(L->parts);
    free(L->split_buf);
    free(L->text);
}

int
main(int argc, char **argv)
{
    static struct load load;        /* large (histograms): not on the stack */
    struct load *L = &load;
    int rc = parse_args(argc, argv, &L->opt);

    if (rc < 0) {
        usage(stdout);
        return 0;
    }
    if (rc > 0) {
        fprintf(stderr, "smpp-load: %d error%s; --help for usage\n", rc, rc > 1 ? "s" : "");
        return EXIT_USAGE;
    }
    log_set_prog("smpp-load");
    log_set_level(L->opt.json_only && L->opt.log_level < LOG_ERROR ? LOG_ERROR
                                                                  : L->opt.log_level);
    signal(SIGPIPE, SIG_IGN);

    rc = build_templates(L);
    if (rc != 0) {
        load_free(L);
        return rc == EXIT_USAGE ? EXIT_USAGE : 1;
    }
    L->target = L->opt.count ? L->opt.count : UINT64_MAX;
    L->t0 = L->prog_last_us = L->last_tx_up_us = now_us();
    if (load_setup(L) != 0) {
        load_free(L);
        return 1;
    }
    if (!L->opt.json_only)
        fprintf(stderr, "smpp-load: %s:%d binds=%u mode=%s window=%u count=%" PRIu64
                " segments=%u (%s, %s, %zu bytes/pdu) rate=%s\n",
                L->opt.host, L->opt.port, L->opt.binds, mode_name(L->opt.mode), L->opt.window,
                L->opt.count, L->nparts, smpp_text_enc_name(L->split.enc),
                concat_name(L->opt.concat), L->pdu_bytes / L->nparts,
                L->opt.rate > 0 ? "paced" : "window");

    for (unsigned i = 0; i < L->nbinds; i++)
        smpp_client_start(L->binds[i].client);
    event_base_dispatch(L->base);

    /* Every started message resolved, every part with a resp, and the run
     * ended as asked (count reached, or the duration ran out). */
    bool complete = L->msgs_started > 0 && L->msgs_done == L->msgs_started &&
                    L->msgs_resp == L->msgs_started && !L->failed_early && !L->interrupted &&
                    (L->opt.count == 0 || L->msgs_started == L->opt.count ||
                     (L->stop_reason && strcmp(L->stop_reason, "duration reached") == 0));
    report(L, complete);
    load_free(L);
    return complete ? 0 : 1;
}
