#include "core/smpp_front.h"
#include "core/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "core/admit.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/smpp_bindguard.h"
#include "router/router_mt.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_server.h"
#include "smpp/smpp_text.h"
#include "smpp/smpp_time.h"
#include "smpp/smpp_tls.h"
#include "store/store_caps.h"
#include "store/store_clientq.h"
#include "store/store_msg.h"
#include "store/store_parts.h"
#include "store/store_sched.h"

/* The client queue is polled this often while an account has a receiver: a
 * fallback for items pushed by other instances (this instance's own pushes
 * wake the deliverer through mt_engine_on_clientq). */
#define DELIVER_POLL_MS 100
/* After a refused or lost deliver_sm, wait this long before trying again. */
#define DELIVER_RETRY_MS 1000
/* schedule_delivery_time at most this far ahead. */
#define SCHED_MAX_S (30 * 86400)
/* Due scheduled messages are looked for this often (and at once after a
 * full batch). */
#define SCHED_POLL_MS 1000
/* A client's concatenated parts wait this long for the rest of their set. */
#define PARTS_TTL_S 600
/* deliver_sm in flight per bind: the account's smpp_window, at most this. */
#define DELIVER_WINDOW_MAX 1024
/* This instance's liveness key P alive:INSTANCE lives this long and is
 * refreshed this often; every SWEEP_MS the inflight lists of instances whose
 * key is gone are moved back to their queues (store/store_clientq.h). */
#define ALIVE_TTL_MS 30000
#define ALIVE_REFRESH_MS 5000
#define SWEEP_MS 30000

struct front_acct;

/* An item of P clientq:ACCOUNT taken into this instance's inflight list. */
struct front_item {
    struct smpp_front *f;
    struct front_acct *fa;
    char *raw;                      /* the JSON as stored (LREM needs it exactly) */
    size_t len;
    struct front_item *next;
};

/* A Redis call of the deliverer; f is NULL once the front is freed. */
struct front_op {
    struct smpp_front *f;
    struct front_acct *fa;          /* NULL: not an account's */
    struct front_op *prev, *next;
};

/*
 * Per account: the rate cap (tokens refill at mps per second, up to one
 * second's worth) and the deliverer of its client queue. Found by the
 * account's name across reloads: items, Redis calls and binds point to it,
 * so a reload may add, remove and reorder accounts. One that a reload
 * removed stays (on the front's gone list, until the front is freed) for
 * its deliverer to put back what it had taken; a later reload that names
 * the account again takes it back.
 */
struct front_acct {
    char *name;
    const struct cfg_account *cfg;  /* the config's entry (removed: the last one) */
    bool removed;
    struct front_acct *gone_next;
    unsigned binds;
    double tokens;
    uint64_t last_ms;
    unsigned rx_binds;              /* receiver and transceiver binds */
    unsigned sending;               /* deliver_sm awaiting their resp */
    struct front_item *buf_head, *buf_tail;  /* taken, not yet sent */
    unsigned buffered;              /* items in buf_head..buf_tail */
    bool taking, requeueing;
    bool pushed;                    /* a push was announced while taking */
    bool recovered;                 /* this instance's old inflight list requeued */
    bool dirty;                     /* an item failed: requeue the inflight list first */
    uint64_t resume_ms;             /* no requeue before this (after a failure) */
};

/* A bound client session. */
struct front_conn {
    struct smpp_session *s;
    const struct cfg_account *account;
    struct front_acct *fa;
    unsigned pending;               /* submits waiting for Redis */
    bool rx;                        /* may receive deliver_sm (RX or TRX bind) */
    struct front_conn *prev, *next;
};

/* A submit waiting for store_msg_accept. */
struct front_submit {
    struct smpp_front *f;           /* NULL once the front is freed */
    struct front_conn *conn;        /* NULL once the session closed */
    struct smpp_hdr req;
    unsigned session_id;
    const char *callback_url;       /* the account's; valid while f is set */
    char account[65];
    char route[65];
    char to[16];
    unsigned segments;
    char msg_id[40];                /* query_sm, cancel_sm (our_id: < 40) */
    /* A concatenated part: what storing the whole message needs. */
    char group[120];                /* "" unless a part */
    const struct cfg_sender *snd;
    const struct cfg_route *route_cfg;
    uint8_t rd;
    time_t expires;                 /* the client's validity_period (0: the route's) */
    /* A marketing account (smpp_class): its cap is taken before storing. */
    const char *state;              /* stored as: "queued", or "held" (quiet hours) */
    bool capped;                    /* a marketing_cap unit was taken: refund if not stored */
    enum store_caps_period cap_period;
    struct store_msg_new n;         /* kept while the cap is checked */
    void *owner;                    /* copies of the strings n points to */
    struct store_sched_new sched;   /* a scheduled submit kept while the cap is checked ... */
    char *sched_json;               /* ... with its item (sched.json) */
    struct front_submit *prev, *next;
};

struct smpp_front {
    struct event_base *base;
    const struct gw_config *cfg;
    struct store_redis *redis;
    struct mt_engine *mt;
    struct webhook *webhook;
    SSL_CTX *ssl;
    struct smpp_server *srv;
    struct front_acct **accts;      /* parallel to cfg->accounts */
    struct front_acct *gone;        /* accounts removed by reloads */
    struct front_conn *conns;
    struct front_submit *pending;
    struct front_op *ops;           /* deliverer calls waiting for Redis */
    struct event *poll_ev, *kick_ev;
    const char *instance;
    struct bindguard *guard;        /* failed-bind limits, verified-password cache */
    bool stopping;
    bool alive_ok;                  /* P alive:INSTANCE is set: we may take */
    bool alive_busy, sweeping;
    bool swept_once;                /* dead instances' items are back first */
    bool sched_busy, sched_full;    /* a batch of due scheduled messages in hand */
    unsigned sched_waiting;         /* their accepts not yet answered */
    uint64_t sched_due_ms;
    uint64_t alive_due_ms, sweep_due_ms;
};

static void *
xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        abort();
    return p;
}

/* a is an entry of the current config. */
static struct front_acct *
acct_of(struct smpp_front *f, const struct cfg_account *a)
{
    return f->accts[a - f->cfg->accounts];
}

/* Linear: binds are few (sum of smpp_max_binds). The session's udata is
 * smpp_server's own, so it cannot carry this. */
static struct front_conn *
conn_of(struct smpp_front *f, const struct smpp_session *s)
{
    for (struct front_conn *c = f->conns; c; c = c->next)
        if (c->s == s)
            return c;
    return NULL;
}

/* "1.2.3.4:5678" -> "1.2.3.4"; "[::1]:5" or "::1:5" -> the part before the port. */
static void
peer_ip(const struct smpp_session *s, char *buf, size_t size)
{
    const char *p = smpp_session_peer(s);
    const char *colon = p ? strrchr(p, ':') : NULL;
    size_t n = colon ? (size_t)(colon - p) : (p ? strlen(p) : 0);

    if (n >= size)
        n = size - 1;
    if (p)
        memcpy(buf, p, n);
    buf[n] = '\0';
}

/* ------------------------------------------------------------------ bind */

static uint32_t
on_bind(struct smpp_session *s, const struct smpp_pdu *bind, void *ctx)
{
    struct smpp_front *f = ctx;
    const char *system_id, *password;
    const struct cfg_account *a;
    char ip[64];

    /* The three bind bodies share their first fields. */
    switch (bind->hdr.command_id) {
    case BIND_TRANSMITTER:
        system_id = (const char *)bind->u.bind_transmitter.system_id;
        password = (const char *)bind->u.bind_transmitter.password;
        break;
    case BIND_RECEIVER:
        system_id = (const char *)bind->u.bind_receiver.system_id;
        password = (const char *)bind->u.bind_receiver.password;
        break;
    case BIND_TRANSCEIVER:
        system_id = (const char *)bind->u.bind_transceiver.system_id;
        password = (const char *)bind->u.bind_transceiver.password;
        break;
    default:
        abort();
    }
    peer_ip(s, ip, sizeof(ip));
    if (f->stopping)
        return ESME_RBINDFAIL;
    a = config_account_by_smpp_id(f->cfg, system_id);
    if (!a) {
        bindguard_failed(f->guard, ip, NULL, clock_mono_ms());
        log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s status=ESME_RINVSYSID "
                  "reason=\"unknown system_id\"", smpp_session_id(s), smpp_session_peer(s));
        return ESME_RINVSYSID;
    }
    /* Before the password: an address that may not bind costs no PBKDF2. */
    if (!config_smpp_ip_allowed(a, ip)) {
        log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s account=%s "
                  "status=ESME_RBINDFAIL reason=\"address not in smpp_allowed_ips\"",
                  smpp_session_id(s), smpp_session_peer(s), a->name);
        return ESME_RBINDFAIL;
    }
    /* PBKDF2 runs on the event loop (20-30 ms): a password verified before
     * skips it, and after too many failures from this address or for this
     * system_id the bind is refused without it (core/smpp_bindguard.h). */
    bool cached = bindguard_cached(f->guard, system_id, password, a->smpp_password);
    if (!cached) {
        const char *why = bindguard_blocked(f->guard, ip, system_id, clock_mono_ms());
        if (why) {
            log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s account=%s "
                      "status=ESME_RBINDFAIL reason=\"too many failed binds for this %s\"",
                      smpp_session_id(s), smpp_session_peer(s), a->name, why);
            return ESME_RBINDFAIL;
        }
        if (!config_smpp_password_ok(a, password)) {
            bindguard_failed(f->guard, ip, system_id, clock_mono_ms());
            log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s account=%s "
                      "status=ESME_RINVPASWD reason=\"wrong password\"", smpp_session_id(s),
                      smpp_session_peer(s), a->name);
            return ESME_RINVPASWD;
        }
        bindguard_remember(f->guard, system_id, password, a->smpp_password);
    }
    struct front_acct *fa = acct_of(f, a);
    if (fa->binds >= a->smpp_max_binds) {
        log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s account=%s "
                  "status=ESME_RBINDFAIL reason=\"smpp_max_binds reached\" binds=%u",
                  smpp_session_id(s), smpp_session_peer(s), a->name, fa->binds);
        return ESME_RBINDFAIL;
    }
    struct front_conn *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->account = a;
    c->fa = fa;
    c->next = f->conns;
    if (f->conns)
        f->conns->prev = c;
    f->conns = c;
    fa->binds++;
    if (bind->hdr.command_id != BIND_TRANSMITTER) {
        c->rx = true;
        fa->rx_binds++;
        event_active(f->kick_ev, EV_TIMEOUT, 0);
    }
    log_event(LOG_INFO, "smpp_client_bound", "session=%u peer=%s account=%s command=%s binds=%u "
              "password=%s", smpp_session_id(s), smpp_session_peer(s), a->name,
              smpp_command_name(bind->hdr.command_id), fa->binds, cached ? "cached" : "verified");
    return ESME_ROK;
}

static void
on_closed(struct smpp_session *s, void *ctx)
{
    struct smpp_front *f = ctx;
    struct front_conn *c = conn_of(f, s);

    if (!c)
        return;
    for (struct front_submit *q = f->pending; q; q = q->next)
        if (q->conn == c)
            q->conn = NULL;
    c->fa->binds--;
    if (c->rx) {
        c->fa->rx_binds--;
        event_active(f->kick_ev, EV_TIMEOUT, 0);
    }
    log_event(LOG_INFO, "smpp_client_unbound", "session=%u account=%s binds=%u rx_binds=%u%s",
              smpp_session_id(s), c->fa->name, c->fa->binds, c->fa->rx_binds,
              c->fa->removed ? " reason=\"account removed from the config\"" : "");
    if (c->prev)
        c->prev->next = c->next;
    else
        f->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* ------------------------------------------------------------------ submit */

/* One refusal: answered and logged once, here. */
static void
refuse(struct smpp_session *s, const struct smpp_pdu *req, const struct cfg_account *a,
       uint32_t status, const char *reason)
{
    log_event(LOG_INFO, "smpp_submit_refused", "session=%u account=%s seq=%u status=%s "
              "reason=\"%s\"", smpp_session_id(s), a ? a->name : "-", req->hdr.sequence_number,
              smpp_status_name(status), reason);
    smpp_session_respond_status(s, &req->hdr, status);
}

static bool
all_digits(const char *p)
{
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/*
 * The configured sender a source_addr names, if the account may use it:
 * exactly as configured ("+18885550100", "12345", "ACME"), or an E.164
 * sender written in digits without '+' (how most ESMEs send TON 1).
 */
static const struct cfg_sender *
map_source(const struct gw_config *cfg, const struct cfg_account *a, const char *src)
{
    const struct cfg_sender *snd = config_sender(cfg, src);
    char plus[32];

    if (!snd && all_digits(src) && strlen(src) < sizeof(plus) - 1) {
        snprintf(plus, sizeof(plus), "+%s", src);
        snd = config_sender(cfg, plus);
    }
    return snd && config_account_may_use(a, snd) ? snd : NULL;
}

/* "+14155550100" or "14155550100" -> digits (8 to 15, the first not 0). */
static bool
dest_digits(const char *d, char out[16])
{
    size_t n;

    if (*d == '+')
        d++;
    n = strlen(d);
    if (n < 8 || n > 15 || d[0] == '0' || !all_digits(d))
        return false;
    memcpy(out, d, n + 1);
    return true;
}

static bool
take_token(struct front_acct *fa, const struct cfg_account *a)
{
    uint64_t t = clock_mono_ms();

    if (!a->mps)
        return true;
    if (fa->last_ms == 0)
        fa->tokens = a->mps;
    else
        fa->tokens += (double)(t - fa->last_ms) * a->mps / 1000.0;
    if (fa->tokens > a->mps)
        fa->tokens = a->mps;
    fa->last_ms = t;
    if (fa->tokens < 1.0)
        return false;
    fa->tokens -= 1.0;
    return true;
}

static void
respond_id(struct smpp_session *s, const struct smpp_hdr *req, const char *id)
{
    struct smpp_pdu p;

    if (req->command_id == DATA_SM) {
        smpp_pdu_init(&p, DATA_SM_RESP, ESME_ROK, req->sequence_number);
        snprintf((char *)p.u.data_sm_resp.message_id, sizeof(p.u.data_sm_resp.message_id), "%s", id);
    } else {
        smpp_pdu_init(&p, SUBMIT_SM_RESP, ESME_ROK, req->sequence_number);
        snprintf((char *)p.u.submit_sm_resp.message_id, sizeof(p.u.submit_sm_resp.message_id),
                 "%s", id);
    }
    smpp_session_respond(s, &p);
}

static void
submit_unlink(struct front_submit *q)
{
    struct smpp_front *f = q->f;

    if (f) {
        if (q->prev)
            q->prev->next = q->next;
        else
            f->pending = q->next;
        if (q->next)
            q->next->prev = q->prev;
    }
}

/* A submit that does not end in accepted() (a part kept, a message
 * scheduled, a refusal found after Redis answered): answered with id, or
 * refused with status and logged with reason. */
static void
submit_end(struct front_submit *q, uint32_t status, const char *id, const char *reason)
{
    submit_unlink(q);
    if (q->conn) {
        q->conn->pending--;
        if (status == ESME_ROK) {
            respond_id(q->conn->s, &q->req, id);
        } else {
            log_event(LOG_INFO, "smpp_submit_refused", "session=%u account=%s seq=%u status=%s "
                      "reason=\"%s\"", q->session_id, q->account, q->req.sequence_number,
                      smpp_status_name(status), reason);
            smpp_session_respond_status(q->conn->s, &q->req, status);
        }
    }
    free(q->owner);
    free(q->sched_json);
    free(q);
}

static void sched_added(void *arg, int rc);

static void
accepted(void *arg, int rc, const char *id)
{
    struct front_submit *q = arg;
    struct smpp_front *f = q->f;
    uint32_t status = ESME_ROK;
    const char *state = q->state ? q->state : "queued";

    submit_unlink(q);
    if (rc == 0 && f) {
        metrics_msg_state(state);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s source=smpp session=%u", id, state,
                  q->session_id);
        if (strcmp(state, "queued") == 0)
            mt_engine_wake(f->mt, q->route);
        mt_notify(f->webhook, q->callback_url, id, state, NULL, NULL, q->to, q->segments);
    } else if (q->capped && f) {
        /* Not stored after all (or stored before): give the unit back. */
        store_caps_refund(f->redis, q->account, q->to, q->cap_period, 1, time(NULL), NULL, NULL);
    }
    if ((rc == 0 || rc == 1) && f && q->group[0])
        store_parts_done(f->redis, q->account, q->group);
    if (rc == 2)
        status = ESME_RX_R_APPN;
    else if (rc != 0 && rc != 1)
        status = ESME_RSUBMITFAIL;
    if (q->conn) {
        q->conn->pending--;
        if (status == ESME_ROK) {
            respond_id(q->conn->s, &q->req, id);
        } else {
            log_event(LOG_INFO, "smpp_submit_refused", "session=%u account=%s seq=%u status=%s "
                      "reason=\"%s\"", q->session_id, q->account, q->req.sequence_number,
                      smpp_status_name(status), rc == 2 ? "the subscriber opted out"
                      : "the message store is unavailable");
            smpp_session_respond_status(q->conn->s, &q->req, status);
        }
    }
    free(q->owner);
    free(q);
}

/* The cap's answer: over it, the submit is refused with ESME_RX_P_APPN
 * (docs/smpp-server.md): permanent for this message, as retrying before
 * the period ends meets the same cap. */
static void
cap_taken(const struct store_caps_result *res, void *arg)
{
    struct front_submit *q = arg;
    char why[160];

    if (!q->f) {
        submit_end(q, ESME_RSUBMITFAIL, NULL, "shutting down");
        return;
    }
    if (!res->ok) {
        submit_end(q, ESME_RSUBMITFAIL, NULL, "the message store is unavailable");
        return;
    }
    if (!res->allowed) {
        char when[32];
        admit_format_time(res->resets_at, when);
        log_event(LOG_INFO, "frequency_cap", "account=%s count=%lld resets_at=%s source=smpp",
                  q->account, res->count, when);
        /* A refused set is not marked done: sent again, it is judged again
         * (as an opted-out one is); its parts expire with the set. */
        snprintf(why, sizeof(why), "the account's marketing cap for the recipient is used up; "
                 "it resets at %s", when);
        submit_end(q, ESME_RX_P_APPN, NULL, why);
        return;
    }
    q->capped = true;
    if (q->sched_json)
        store_sched_add(q->f->redis, &q->sched, sched_added, q);
    else
        store_msg_accept(q->f->redis, &q->n, accepted, q);
}

/*
 * Store n for q. For an account whose SMPP traffic is marketing: held
 * until the number's quiet hours end (as the API holds marketing), and with
 * a marketing_cap, one unit of the cap is taken first (one Lua script) and
 * given back if the message is not stored.
 */
static void
front_accept(struct smpp_front *f, struct front_submit *q, const struct cfg_account *a,
             struct store_msg_new *n)
{
    char detail[160];
    const char *hold = NULL;

    q->state = "queued";
    if (a->smpp_marketing) {
        n->msg_class = "marketing";
        if (!n->due_ms) {
            n->due_ms = admit_release(f->cfg, a, q->to, true, 0, &hold, detail, sizeof(detail));
            if (n->due_ms) {
                n->hold_state = hold;
                n->hold_detail = detail;
                q->state = hold;
            }
        }
    }
    const struct cfg_cap *cap = &a->marketing_cap;
    if (!a->smpp_marketing || cap->count == 0) {
        store_msg_accept(f->redis, n, accepted, q);
        return;
    }
    q->cap_period = cap->period == CAP_PERIOD_DAY ? STORE_CAPS_DAY : STORE_CAPS_MONTH;
    q->n = *n;
    q->owner = store_msg_new_copy(&q->n);
    if (store_caps_take(f->redis, a->name, q->to, q->cap_period, cap->count, 1, time(NULL),
                        cap_taken, q) != 0)
        submit_end(q, ESME_RSUBMITFAIL, NULL, "the message store is unavailable");
}

/* Seconds the message may wait: the route's validity, or less when the
 * client's validity_period (expires, epoch seconds) ends sooner. */
static unsigned
validity_of(const struct cfg_route *route, time_t expires)
{
    time_t now = time(NULL);

    if (expires && expires - now < (time_t)route->validity_s)
        return expires > now ? (unsigned)(expires - now) : 1;
    return route->validity_s;
}

/* A submit waiting for Redis, linked into f->pending. */
static struct front_submit *
submit_new(struct smpp_front *f, struct front_conn *c, const struct smpp_pdu *req,
           const struct cfg_account *a, const struct cfg_route *route, const char *to)
{
    struct front_submit *q = xcalloc(1, sizeof(*q));
    q->f = f;
    q->conn = c;
    q->req = req->hdr;
    q->session_id = smpp_session_id(c->s);
    q->callback_url = a->callback_url;
    snprintf(q->account, sizeof(q->account), "%s", a->name);
    snprintf(q->route, sizeof(q->route), "%s", route->name);
    snprintf(q->to, sizeof(q->to), "%s", to);
    q->next = f->pending;
    if (f->pending)
        f->pending->prev = q;
    f->pending = q;
    c->pending++;
    return q;
}

static const struct cfg_account *account_named(const struct gw_config *cfg, const char *name);

/* store_parts_add: the part is in Redis, and maybe the whole message is. */
static void
part_stored(void *arg, int rc, const char *id, const char *text, size_t len)
{
    struct front_submit *q = arg;
    struct smpp_front *f = q->f;
    char why[200];

    if (rc < 0) {
        submit_end(q, ESME_RSUBMITFAIL, NULL, "the message store is unavailable");
        return;
    }
    if (rc != 1 || !f) {
        /* kept, waiting for the other parts (or stored already) */
        log_event(LOG_DEBUG, "smpp_part_kept", "session=%u account=%s msg_id=%s group=\"%s\" "
                  "complete=%s", q->session_id, q->account, id, q->group,
                  rc == 2 ? "earlier" : "no");
        submit_end(q, ESME_ROK, id, NULL);
        return;
    }
    /* The last part: the whole text, measured for the route as any text. */
    const struct cfg_route *route = q->route_cfg;
    enum smpp_text_concat concat = route->nsmscs ? route->smscs[0].smsc->concat
                                                 : SMPP_TEXT_CONCAT_UDH8;
    struct smpp_text_info info;
    memset(&info, 0, sizeof(info));
    int trc = len < STORE_JOB_TEXT_MAX ? smpp_text_measure(text, len, SMPP_TEXT_ENC_AUTO, concat,
                                                           &info, NULL)
                                       : SMPP_TEXT_E_TOOLONG;
    if (trc != SMPP_TEXT_OK || info.segments > f->cfg->max_segments) {
        snprintf(why, sizeof(why), "the parts together need %u segments as %s; the maximum is %u",
                 info.segments, smpp_text_enc_name(info.enc), f->cfg->max_segments);
        submit_end(q, ESME_RINVMSGLEN, NULL, trc == SMPP_TEXT_OK || trc == SMPP_TEXT_E_TOOLONG
                  ? why : smpp_text_strerror(trc));
        return;
    }
    q->segments = info.pdus;
    /* The set's id as client_ref makes storing it idempotent: a part sent
     * again while the whole is being stored gets the same message, not a
     * second one (the accept script finds idem:ACCOUNT:smpp-parts:ID). */
    char cref[64];
    snprintf(cref, sizeof(cref), "smpp-parts:%s", id);
    struct store_msg_new n = {
        .account = q->account,
        .from = q->snd->address,
        .ton = q->snd->ton,
        .npi = q->snd->npi,
        .to = q->to,
        .text = text,
        .text_len = len,
        .encoding = info.enc == SMPP_TEXT_ENC_UCS2 ? "ucs2" : "gsm7",
        .segments = info.pdus,
        .route = route->name,
        .msg_class = "transactional",
        .callback_url = q->callback_url,
        .client_ref = cref,
        .validity_s = validity_of(route, q->expires),
        .source = "smpp",
        .registered_delivery = q->rd,
        .id = id,
    };
    log_event(LOG_INFO, "smpp_parts_complete", "session=%u account=%s msg_id=%s "
              "group=\"%s\" segments=%u", q->session_id, q->account, id, q->group, info.pdus);
    const struct cfg_account *a = account_named(f->cfg, q->account);
    if (a)
        front_accept(f, q, a, &n);
    else
        store_msg_accept(f->redis, &n, accepted, q);
}

static void
sched_added(void *arg, int rc)
{
    struct front_submit *q = arg;

    if (rc == 0)
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=scheduled source=smpp session=%u",
                  q->msg_id, q->session_id);
    else if (q->capped && q->f)
        store_caps_refund(q->f->redis, q->account, q->to, q->cap_period, 1, time(NULL), NULL,
                          NULL);
    submit_end(q, rc == 0 ? ESME_ROK : ESME_RSUBMITFAIL, q->msg_id,
              "the message store is unavailable");
}

/*
 * A submit with schedule_delivery_time in the future: kept whole in
 * P smppsched (store/store_sched.h) with the id it will have, answered once
 * there; sched_release() stores it as any message when it is due.
 */
static void
schedule(struct smpp_front *f, struct front_submit *q, const struct cfg_account *a,
         const struct cfg_sender *snd, const struct cfg_route *route, uint8_t rd, time_t expires,
         time_t sched, const char *text, size_t text_len, const struct smpp_text_info *info)
{
    char id[24];
    time_t now = time(NULL);

    store_new_id(id);
    snprintf(q->msg_id, sizeof(q->msg_id), "%s", id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "account", json_object_new_string(q->account));
    json_object_object_add(o, "from", json_object_new_string(snd->address));
    json_object_object_add(o, "to", json_object_new_string(q->to));
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)text_len));
    json_object_object_add(o, "encoding", json_object_new_string(
                               info->enc == SMPP_TEXT_ENC_UCS2 ? "ucs2" : "gsm7"));
    json_object_object_add(o, "segments", json_object_new_int((int)info->pdus));
    json_object_object_add(o, "route", json_object_new_string(route->name));
    json_object_object_add(o, "rd", json_object_new_int(rd));
    json_object_object_add(o, "expires", json_object_new_int64((int64_t)expires));
    json_object_object_add(o, "due", json_object_new_int64((int64_t)sched));
    struct store_sched_new n = {
        .id = id, .account = q->account, .from = snd->address, .to = q->to,
        .due_ms = (uint64_t)sched * 1000u,
        .json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
        .ttl_s = (unsigned)(sched - now) + route->validity_s + 86400u,
    };
    const struct cfg_cap *cap = &a->marketing_cap;
    if (a->smpp_marketing && cap->count) {
        /* The cap is taken when the message is accepted, as the API does
         * for send_at; quiet hours are judged when it is due. */
        q->sched_json = strdup(n.json);
        if (!q->sched_json)
            abort();
        q->sched = n;
        q->sched.id = q->msg_id;
        q->sched.json = q->sched_json;
        q->cap_period = cap->period == CAP_PERIOD_DAY ? STORE_CAPS_DAY : STORE_CAPS_MONTH;
        if (store_caps_take(f->redis, a->name, q->to, q->cap_period, cap->count, 1, now,
                            cap_taken, q) != 0)
            submit_end(q, ESME_RSUBMITFAIL, NULL, "the message store is unavailable");
    } else {
        store_sched_add(f->redis, &n, sched_added, q);
    }
    json_object_put(o);
}

static void
handle_submit(struct smpp_front *f, struct front_conn *c, const struct smpp_pdu *req)
{
    struct smpp_session *s = c->s;
    const struct cfg_account *a = c->account;
    const struct gw_config *cfg = f->cfg;
    const char *src, *dst;
    const uint8_t *sm;
    size_t smlen;
    uint8_t esm, dc, rd;
    char to[16], why[200];
    char text[SMPP_TEXT_DECODE_MAX(SMPP_PAYLOAD_MAX)];
    size_t text_len = 0;
    time_t expires = 0;             /* the client's validity_period, if any */
    time_t sched = 0;               /* schedule_delivery_time in the future, if any */

    if (req->hdr.command_id == SUBMIT_SM) {
        const submit_sm_t *b = &req->u.submit_sm;
        src = (const char *)b->source_addr;
        dst = (const char *)b->destination_addr;
        esm = b->esm_class;
        dc = b->data_coding;
        rd = b->registered_delivery;
        sm = b->short_message;
        smlen = b->sm_length;
        time_t now = time(NULL);
        int srct = smpp_time_parse((const char *)b->schedule_delivery_time, now, &sched);
        if (srct < 0 || (srct == 1 && sched - now > SCHED_MAX_S)) {
            snprintf(why, sizeof(why), "schedule_delivery_time \"%.16s\" is %s",
                     (const char *)b->schedule_delivery_time,
                     srct < 0 ? "not an SMPP absolute or relative time" : "more than 30 days ahead");
            refuse(s, req, a, ESME_RINVSCHED, why);
            return;
        }
        if (sched <= now)
            sched = 0;                  /* due already: sent now */
        int vrc = smpp_time_parse((const char *)b->validity_period, now, &expires);
        if (vrc < 0 || (vrc == 1 && expires <= now)) {
            snprintf(why, sizeof(why), "validity_period \"%.16s\" is %s",
                     (const char *)b->validity_period,
                     vrc < 0 ? "not an SMPP absolute or relative time" : "in the past");
            refuse(s, req, a, ESME_RINVEXPIRY, why);
            return;
        }
        if (sched && expires && expires <= sched) {
            refuse(s, req, a, ESME_RINVEXPIRY, "validity_period ends before "
                   "schedule_delivery_time");
            return;
        }
    } else {
        const data_sm_t *b = &req->u.data_sm;
        src = (const char *)b->source_addr;
        dst = (const char *)b->destination_addr;
        esm = b->esm_class;
        dc = b->data_coding;
        rd = b->registered_delivery;
        sm = NULL;
        smlen = 0;
    }
    if (smlen == 0 && (req->tlv.present & SMPP_TLV_MESSAGE_PAYLOAD)) {
        sm = req->tlv.message_payload;
        smlen = req->tlv.message_payload_len;
    }

    if (f->stopping) {
        refuse(s, req, a, ESME_RSUBMITFAIL, "shutting down");
        return;
    }
    if (c->pending >= a->smpp_window) {
        refuse(s, req, a, ESME_RTHROTTLED, "smpp_window of submits waiting for the store");
        return;
    }
    if (!take_token(c->fa, a)) {
        refuse(s, req, a, ESME_RTHROTTLED, "above the account's mps");
        return;
    }

    /* Sender and destination, as api_validate checks them. */
    const struct cfg_sender *snd = map_source(cfg, a, src);
    if (!snd) {
        snprintf(why, sizeof(why), "source_addr %.21s is not one of the account's senders", src);
        refuse(s, req, a, ESME_RINVSRCADR, why);
        return;
    }
    if (!dest_digits(dst, to)) {
        refuse(s, req, a, ESME_RINVDSTADR, "destination_addr is not E.164 (8 to 15 digits)");
        return;
    }
    {
        /* The numbering plan (core/admit): SMPP has no fallback chain, so a
         * number that cannot take SMS is refused as well. */
        bool no_sms;
        const char *code;
        if (admit_check_number(cfg, to, false, &no_sms, &code, why, sizeof(why)) != 0) {
            refuse(s, req, a, ESME_RINVDSTADR, why);
            return;
        }
    }
    if (snd->type == SENDER_ALPHANUMERIC) {
        for (size_t i = 0; i < cfg->nalpha_forbidden; i++) {
            const char *cc = cfg->alpha_forbidden[i];
            if (*cc && strncmp(to, cc, strlen(cc)) == 0) {
                snprintf(why, sizeof(why), "country code +%s does not accept alphanumeric "
                         "senders such as %s", cc, snd->address);
                refuse(s, req, a, ESME_RINVDSTADR, why);
                return;
            }
        }
    }
    const struct cfg_route *route = config_route_select(cfg, to, snd->type, a->name,
                                                        a->smpp_marketing ? "marketing"
                                                                          : "transactional");
    if (!route) {
        snprintf(why, sizeof(why), "no route carries %s senders to +%s",
                 sender_type_name(snd->type), to);
        refuse(s, req, a, ESME_RSUBMITFAIL, why);
        return;
    }

    /* The text. */
    if (dc != 0 && dc != 1 && dc != 3 && dc != 8) {
        snprintf(why, sizeof(why), "data_coding %u is not supported (0, 1, 3 or 8)", dc);
        refuse(s, req, a, ESME_RSUBMITFAIL, why);
        return;
    }
    struct smpp_text_udh udh;
    if (smpp_text_udh_parse(sm, smlen, esm, &udh) != SMPP_TEXT_OK) {
        refuse(s, req, a, ESME_RINVESMCLASS, "UDHI set but the UDH is malformed");
        return;
    }
    /* A part of a concatenated message (UDH concat IE or SAR TLVs): kept in
     * Redis until the set is complete, then stored as one message. */
    bool sar = (req->tlv.present & SMPP_TLV_SAR_TOTAL_SEGMENTS) && req->tlv.sar_total_segments > 1;
    unsigned p_total = 0, p_seq = 0;
    char group[120] = "";
    if (udh.concat && udh.total > 1) {
        if (sar) {
            refuse(s, req, a, ESME_RINVESMCLASS, "both a UDH concatenation and SAR TLVs");
            return;
        }
        p_total = udh.total;
        p_seq = udh.seq;
        snprintf(group, sizeof(group), "%s:%s:%s:%u:%u", udh.ref16 ? "u16" : "u8", src, to,
                 udh.ref, p_total);
    } else if (sar) {
        const uint32_t all = SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                             SMPP_TLV_SAR_SEGMENT_SEQNUM;
        if ((req->tlv.present & all) != all || req->tlv.sar_segment_seqnum < 1 ||
            req->tlv.sar_segment_seqnum > req->tlv.sar_total_segments) {
            refuse(s, req, a, ESME_RINVOPTPARAMVAL, "SAR TLVs incomplete or seqnum not in "
                   "1..sar_total_segments");
            return;
        }
        p_total = req->tlv.sar_total_segments;
        p_seq = req->tlv.sar_segment_seqnum;
        snprintf(group, sizeof(group), "sar:%s:%s:%u:%u", src, to, req->tlv.sar_msg_ref_num,
                 p_total);
    }
    if (p_total > cfg->max_segments) {
        snprintf(why, sizeof(why), "a message of %u parts; the maximum is %u segments", p_total,
                 cfg->max_segments);
        refuse(s, req, a, ESME_RINVMSGLEN, why);
        return;
    }
    int trc = smpp_text_decode(dc, SMPP_TEXT_ENC_GSM7, sm, smlen, udh.text_off, 0, text,
                               sizeof(text), &text_len);
    if (trc != SMPP_TEXT_OK) {
        snprintf(why, sizeof(why), "the text does not decode (%s)", smpp_text_strerror(trc));
        refuse(s, req, a, ESME_RSUBMITFAIL, why);
        return;
    }
    if (text_len == 0) {
        refuse(s, req, a, ESME_RINVMSGLEN, "the text is empty");
        return;
    }
    if (memchr(text, '\0', text_len)) {
        refuse(s, req, a, ESME_RSUBMITFAIL, "the text contains U+0000");
        return;
    }
    if (text_len >= STORE_JOB_TEXT_MAX) {
        refuse(s, req, a, ESME_RINVMSGLEN, "the text is too long");
        return;
    }
    if (group[0] && sched) {
        refuse(s, req, a, ESME_RINVSCHED, "scheduled delivery of concatenated parts is not "
               "supported; send the whole text in message_payload");
        return;
    }
    if (group[0]) {
        if (!store_redis_ready(f->redis)) {
            refuse(s, req, a, ESME_RSUBMITFAIL, "the message store is unavailable");
            return;
        }
        struct front_submit *q = submit_new(f, c, req, a, route, to);
        snprintf(q->group, sizeof(q->group), "%s", group);
        q->snd = snd;
        q->route_cfg = route;
        q->rd = rd;
        q->expires = expires;
        char id[24];
        store_new_id(id);
        store_parts_add(f->redis, a->name, group, p_total, p_seq, id, text, text_len,
                        PARTS_TTL_S, part_stored, q);
        return;
    }
    enum smpp_text_concat concat = route->nsmscs ? route->smscs[0].smsc->concat
                                                 : SMPP_TEXT_CONCAT_UDH8;
    struct smpp_text_info info;
    memset(&info, 0, sizeof(info));
    trc = smpp_text_measure(text, text_len, SMPP_TEXT_ENC_AUTO, concat, &info, NULL);
    if (trc == SMPP_TEXT_E_TOOLONG || (trc == SMPP_TEXT_OK && info.segments > cfg->max_segments)) {
        snprintf(why, sizeof(why), "the text needs %u segments as %s; the maximum is %u",
                 info.segments, smpp_text_enc_name(info.enc), cfg->max_segments);
        refuse(s, req, a, ESME_RINVMSGLEN, why);
        return;
    }
    if (trc != SMPP_TEXT_OK) {
        snprintf(why, sizeof(why), "the text cannot be encoded (%s)", smpp_text_strerror(trc));
        refuse(s, req, a, ESME_RSUBMITFAIL, why);
        return;
    }
    if (!store_redis_ready(f->redis)) {
        refuse(s, req, a, ESME_RSUBMITFAIL, "the message store is unavailable");
        return;
    }

    struct front_submit *q = submit_new(f, c, req, a, route, to);
    q->segments = info.pdus;
    if (sched) {
        schedule(f, q, a, snd, route, rd, expires, sched, text, text_len, &info);
        return;
    }
    struct store_msg_new n = {
        .account = a->name,
        .from = snd->address,
        .ton = snd->ton,
        .npi = snd->npi,
        .to = to,
        .text = text,
        .text_len = text_len,
        .encoding = info.enc == SMPP_TEXT_ENC_UCS2 ? "ucs2" : "gsm7",
        .segments = info.pdus,
        .route = route->name,
        .msg_class = "transactional",
        .callback_url = a->callback_url,
        .client_ref = NULL,
        .validity_s = validity_of(route, expires),
        .source = "smpp",
        .registered_delivery = rd,
    };
    front_accept(f, q, a, &n);
    /* q may be gone already */
}

/* ------------------------------------------------------------------ query, cancel */

/* Our ids: "m" and hex digits (store_new_id); anything else cannot be ours. */
static bool
our_id(const char *id)
{
    size_t n = strlen(id);
    if (n < 2 || n > 39 || id[0] != 'm')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

/* Our state as an SMPP message_state; *final when it will not change. */
static uint8_t
smpp_state_of(const char *st, bool *final)
{
    *final = true;
    if (!strcmp(st, "delivered")) return 2;             /* DELIVERED */
    if (!strcmp(st, "expired")) return 3;               /* EXPIRED */
    if (!strcmp(st, "deleted") || !strcmp(st, "cancelled")) return 4;   /* DELETED */
    if (!strcmp(st, "undelivered") || !strcmp(st, "failed")) return 5;  /* UNDELIVERABLE */
    if (!strcmp(st, "rejected")) return 8;              /* REJECTED */
    if (!strcmp(st, "unknown")) return 7;               /* UNKNOWN */
    *final = false;
    return 1;   /* ENROUTE: queued, retrying, submitted (with the carrier) */
}

static struct front_submit *
op_pending(struct smpp_front *f, struct front_conn *c, const struct smpp_pdu *req, const char *id)
{
    struct front_submit *q = xcalloc(1, sizeof(*q));
    q->f = f;
    q->conn = c;
    q->req = req->hdr;
    q->session_id = smpp_session_id(c->s);
    snprintf(q->account, sizeof(q->account), "%s", c->account->name);
    snprintf(q->msg_id, sizeof(q->msg_id), "%.39s", id);
    q->next = f->pending;
    if (f->pending)
        f->pending->prev = q;
    f->pending = q;
    return q;
}

static void
queried(void *arg, int rc, const char *state, uint64_t updated_ms)
{
    struct front_submit *q = arg;

    submit_unlink(q);
    if (q->conn && rc != 0) {
        log_event(LOG_INFO, "smpp_query_refused", "session=%u account=%s seq=%u msg_id=%s "
                  "status=ESME_RQUERYFAIL reason=\"%s\"", q->session_id, q->account,
                  q->req.sequence_number, q->msg_id,
                  rc == 1 ? "no such message for the account" : "the message store is unavailable");
        smpp_session_respond_status(q->conn->s, &q->req, ESME_RQUERYFAIL);
    } else if (q->conn) {
        struct smpp_pdu p;
        query_sm_resp_t *b = &p.u.query_sm_resp;
        bool final;
        smpp_pdu_init(&p, QUERY_SM_RESP, ESME_ROK, q->req.sequence_number);
        snprintf((char *)b->message_id, sizeof(b->message_id), "%.64s", q->msg_id);
        b->message_state = smpp_state_of(state, &final);
        b->error_code = 0;
        if (final && updated_ms) {
            /* SMPP absolute time in UTC: YYMMDDhhmmsstnnp, t=0 nn=00 p='+'. */
            time_t sec = (time_t)(updated_ms / 1000);
            struct tm tm;
            gmtime_r(&sec, &tm);
            char fd[64];
            snprintf(fd, sizeof(fd), "%02d%02d%02d%02d%02d%02d000+", tm.tm_year % 100,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
            memcpy(b->final_date, fd, 16);
            b->final_date[16] = '\0';
        }
        log_event(LOG_DEBUG, "smpp_query", "session=%u account=%s msg_id=%s state=%s "
                  "message_state=%u", q->session_id, q->account, q->msg_id, state,
                  b->message_state);
        smpp_session_respond(q->conn->s, &p);
    }
    free(q);
}

static void
cancelled(void *arg, int rc)
{
    struct front_submit *q = arg;

    submit_unlink(q);
    if (rc == 0)
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=cancelled source=smpp session=%u",
                  q->msg_id, q->session_id);
    if (q->conn && rc != 0) {
        log_event(LOG_INFO, "smpp_cancel_refused", "session=%u account=%s seq=%u msg_id=%s "
                  "status=ESME_RCANCELFAIL reason=\"%s\"", q->session_id, q->account,
                  q->req.sequence_number, q->msg_id,
                  rc == 1 ? "no such message for the account"
                  : rc == 2 ? "the message is with the carrier, being sent, or final"
                  : "the message store is unavailable");
        smpp_session_respond_status(q->conn->s, &q->req, ESME_RCANCELFAIL);
    } else if (q->conn) {
        smpp_session_respond_status(q->conn->s, &q->req, ESME_ROK);
    }
    free(q);
}

static void
handle_query_cancel(struct smpp_front *f, struct front_conn *c, const struct smpp_pdu *req)
{
    bool query = req->hdr.command_id == QUERY_SM;
    const char *id = query ? (const char *)req->u.query_sm.message_id
                           : (const char *)req->u.cancel_sm.message_id;
    uint32_t fail = query ? ESME_RQUERYFAIL : ESME_RCANCELFAIL;

    if (!our_id(id)) {
        refuse(c->s, req, c->account, fail, *id ? "not one of our message ids"
               : "no message_id (cancel by address is not supported)");
        return;
    }
    if (!store_redis_ready(f->redis)) {
        refuse(c->s, req, c->account, fail, "the message store is unavailable");
        return;
    }
    struct front_submit *q = op_pending(f, c, req, id);
    if (query)
        store_msg_query(f->redis, c->account->name, id, queried, q);
    else
        store_msg_cancel(f->redis, c->account->name, id, cancelled, q);
}

static void
on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct smpp_front *f = ctx;
    struct front_conn *c = conn_of(f, s);

    if (!c) {
        /* Requests reach us only on bound sessions, which all have a conn. */
        if (smpp_resp_id(req->hdr.command_id))
            smpp_session_respond_status(s, &req->hdr, ESME_RSYSERR);
        return;
    }
    if (c->fa->removed) {
        /* Being unbound: a reload removed the account. */
        if (smpp_resp_id(req->hdr.command_id))
            refuse(s, req, c->account, ESME_RINVBNDSTS, "the account was removed from the config");
        return;
    }
    switch (req->hdr.command_id) {
    case SUBMIT_SM:
    case DATA_SM:
        handle_submit(f, c, req);
        break;
    case QUERY_SM:
    case CANCEL_SM:
        handle_query_cancel(f, c, req);
        break;
    case REPLACE_SM:
        refuse(s, req, c->account, ESME_RREPLACEFAIL, "replace_sm is not supported yet");
        break;
    default:
        if (smpp_resp_id(req->hdr.command_id))
            refuse(s, req, c->account, ESME_RINVCMDID, "command not supported");
        break;
    }
}

/* ------------------------------------------------------------------ deliver
 *
 * Receipts and MO go back to the client from P clientq:ACCOUNT (filled by
 * the store scripts). Per account, while it has a receiver bind: take items
 * into this instance's inflight list, send each as a deliver_sm, and remove
 * it from the inflight list on deliver_sm_resp ESME_ROK. A refused, timed
 * out or lost deliver_sm marks the account dirty: nothing more is sent until
 * every deliver_sm in flight has ended, then the whole inflight list (the
 * failed items and those taken but not sent) goes back to the head of the
 * queue in order, and delivery resumes after DELIVER_RETRY_MS.
 */

static void deliver_all(struct smpp_front *f);

static void
kick(struct smpp_front *f)
{
    event_active(f->kick_ev, EV_TIMEOUT, 0);
}

static struct front_op *
op_new(struct smpp_front *f, struct front_acct *fa)
{
    struct front_op *o = xcalloc(1, sizeof(*o));
    o->f = f;
    o->fa = fa;
    o->next = f->ops;
    if (f->ops)
        f->ops->prev = o;
    f->ops = o;
    return o;
}

/* The front behind o (NULL if freed); o is unlinked and freed. */
static struct smpp_front *
op_end(struct front_op *o, struct front_acct **fa)
{
    struct smpp_front *f = o->f;
    *fa = o->fa;
    if (f) {
        if (o->prev)
            o->prev->next = o->next;
        else
            f->ops = o->next;
        if (o->next)
            o->next->prev = o->prev;
    }
    free(o);
    return f;
}

static void
item_free(struct front_item *it)
{
    free(it->raw);
    free(it);
}

static void
buf_drop(struct front_acct *fa)
{
    for (struct front_item *it = fa->buf_head, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    fa->buf_head = fa->buf_tail = NULL;
    fa->buffered = 0;
}

/* Address as stored ("+14155550100", "12345", "ACME") to SMPP. */
static void
smpp_addr(const char *a, uint8_t *ton, uint8_t *npi, uint8_t *out, size_t size)
{
    if (a[0] == '+') {
        *ton = 1;
        *npi = 1;
        a++;
    } else if (all_digits(a)) {
        *ton = strlen(a) > 8 ? 1 : 3;
        *npi = 1;
    } else {
        *ton = 5;
        *npi = 0;
    }
    snprintf((char *)out, size, "%s", a);
}

static void
dlr_time(uint64_t ms, struct smpp_dlr_time *t)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    memset(t, 0, sizeof(*t));
    t->year = tm.tm_year + 1900;
    t->mon = tm.tm_mon + 1;
    t->mday = tm.tm_mday;
    t->hour = tm.tm_hour;
    t->min = tm.tm_min;
    if (t->year < 2000 || t->year > 2099)
        t->year = 2000;
}

static const char *
jget(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
           ? json_object_get_string(v) : "";
}

static uint64_t
jms(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

/* The deliver_sm for an item; false when the item is unusable. */
static bool
item_pdu(const struct front_item *it, struct smpp_pdu *p, char *what, size_t wsz)
{
    json_object *o = json_tokener_parse(it->raw);
    deliver_sm_t *d = &p->u.deliver_sm;
    bool ok = false;

    smpp_pdu_init(p, DELIVER_SM, ESME_ROK, 0);
    if (!o || !json_object_is_type(o, json_type_object))
        goto out;
    const char *type = jget(o, "type");
    if (strcmp(type, "receipt") == 0) {
        const char *id = jget(o, "id"), *stat = jget(o, "stat"), *err = jget(o, "err");
        struct smpp_dlr r;
        smpp_dlr_init(&r);
        snprintf(r.id, sizeof(r.id), "%s", id);
        r.id_error = 0;
        r.stat = smpp_dlr_stat_from_name(stat, strlen(stat));
        r.stat_error = 0;
        if (!*id || r.stat == SMPP_DLR_STAT_NONE)
            goto out;
        r.present = SMPP_DLR_F_ID | SMPP_DLR_F_SUB | SMPP_DLR_F_DLVRD | SMPP_DLR_F_SUBMIT_DATE |
                    SMPP_DLR_F_DONE_DATE | SMPP_DLR_F_STAT | SMPP_DLR_F_ERR | SMPP_DLR_F_TEXT;
        r.sub = 1;
        r.dlvrd = r.stat == SMPP_DLR_STAT_DELIVRD;
        dlr_time(jms(o, "submit_ms"), &r.submit_date);
        dlr_time(jms(o, "done_ms"), &r.done_date);
        size_t el = strlen(err);
        if (el >= 1 && el <= 9 && all_digits(err)) {
            r.err = atoi(err);
        } else if (el >= 1 && el <= SMPP_DLR_ERR_MAX && !strpbrk(err, " \t")) {
            r.err = -1;
            memcpy(r.err_raw, err, el + 1);
        } else {
            r.err = 0;
        }
        /* The receipt travels back: from the recipient to the sender. */
        smpp_addr(jget(o, "to"), &d->source_addr_ton, &d->source_addr_npi, d->source_addr,
                  sizeof(d->source_addr));
        smpp_addr(jget(o, "from"), &d->dest_addr_ton, &d->dest_addr_npi, d->destination_addr,
                  sizeof(d->destination_addr));
        d->esm_class = 0x04;
        d->data_coding = 0;
        int n = smpp_dlr_format(&r, (char *)d->short_message, sizeof(d->short_message));
        if (n < 0)
            goto out;
        d->sm_length = (uint8_t)n;
        p->tlv.present = SMPP_TLV_RECEIPTED_MESSAGE_ID | SMPP_TLV_MESSAGE_STATE;
        snprintf(p->tlv.receipted_message_id, sizeof(p->tlv.receipted_message_id), "%s", id);
        p->tlv.message_state = smpp_dlr_stat_to_state(r.stat);
        snprintf(what, wsz, "receipt msg_id=%s stat=%s", id, stat);
        ok = true;
    } else if (strcmp(type, "mo") == 0) {
        const char *text = jget(o, "text");
        size_t tl = strlen(text), n = 0;
        uint8_t buf[SMPP_PAYLOAD_MAX];
        smpp_addr(jget(o, "from"), &d->source_addr_ton, &d->source_addr_npi, d->source_addr,
                  sizeof(d->source_addr));
        smpp_addr(jget(o, "to"), &d->dest_addr_ton, &d->dest_addr_npi, d->destination_addr,
                  sizeof(d->destination_addr));
        d->esm_class = 0;
        if (smpp_text_gsm7_encode(text, tl, buf, sizeof(buf), &n, NULL) == SMPP_TEXT_OK) {
            d->data_coding = 0;
        } else if (smpp_text_ucs2_encode(text, tl, buf, sizeof(buf), &n, NULL) == SMPP_TEXT_OK) {
            d->data_coding = 8;
        } else {
            goto out;
        }
        if (n <= sizeof(d->short_message) && n <= 254) {
            memcpy(d->short_message, buf, n);
            d->sm_length = (uint8_t)n;
        } else {
            d->sm_length = 0;
            p->tlv.present = SMPP_TLV_MESSAGE_PAYLOAD;
            memcpy(p->tlv.message_payload, buf, n);
            p->tlv.message_payload_len = (uint16_t)n;
        }
        snprintf(what, wsz, "mo from=%s", (const char *)d->source_addr);
        ok = true;
    }
out:
    if (o)
        json_object_put(o);
    return ok;
}

static void
item_resp(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp,
          void *arg)
{
    struct front_item *it = arg;
    struct smpp_front *f = it->f;
    struct front_acct *fa = it->fa;
    const char *acct = fa->name;

    fa->sending--;
    if (res == SMPP_REQ_RESP && resp->hdr.command_status == ESME_ROK) {
        store_clientq_ack(f->redis, acct, f->instance, it->raw, it->len);
    } else {
        log_event(LOG_WARN, "smpp_deliver_failed", "session=%u account=%s result=%s",
                  smpp_session_id(s), acct,
                  res == SMPP_REQ_RESP ? smpp_status_name(resp->hdr.command_status)
                  : res == SMPP_REQ_TIMEOUT ? "timeout" : "connection lost");
        fa->dirty = true;
        fa->resume_ms = clock_mono_ms() + DELIVER_RETRY_MS;
    }
    item_free(it);
    kick(f);
}

/* deliver_sm a bind may have in flight: the account's smpp_window (the
 * window the client uses for its own submits), bounded by the session's. */
static unsigned
deliver_window(const struct front_conn *c)
{
    unsigned w = smpp_session_window(c->s);
    if (w > c->account->smpp_window)
        w = c->account->smpp_window;
    return w > DELIVER_WINDOW_MAX ? DELIVER_WINDOW_MAX : w;
}

/* The receiver bind of account fa with the most room for deliver_sm (NULL:
 * none has room); *room the free room of all of them, *window their
 * windows' sum. */
static struct front_conn *
pick_rx(struct smpp_front *f, struct front_acct *fa, unsigned *room, unsigned *window)
{
    struct front_conn *best = NULL;
    unsigned best_room = 0, total = 0, wsum = 0;

    for (struct front_conn *c = f->conns; c; c = c->next) {
        if (!c->rx || c->fa != fa || !smpp_session_is_bound(c->s))
            continue;
        unsigned w = deliver_window(c), out = smpp_session_outstanding(c->s);
        unsigned r = out < w ? w - out : 0;
        total += r;
        wsum += deliver_window(c);
        if (r > best_room) {
            best_room = r;
            best = c;
        }
    }
    if (room)
        *room = total;
    if (window)
        *window = wsum;
    return best;
}

static void
requeued(void *arg, int rc)
{
    struct front_acct *fa;
    struct smpp_front *f = op_end(arg, &fa);

    if (!f)
        return;
    fa->requeueing = false;
    if (rc == 0) {
        fa->dirty = false;
        fa->recovered = true;
    }
    kick(f);
}

static void
taken(void *arg, int n, const char *const *items, const size_t *lens)
{
    struct front_acct *fa;
    struct smpp_front *f = op_end(arg, &fa);

    if (!f)
        return;
    fa->taking = false;
    if (n < 0) {
        /* The script may have run: whatever it moved goes back first. */
        fa->dirty = true;
        fa->resume_ms = clock_mono_ms() + DELIVER_RETRY_MS;
        return;
    }
    for (int i = 0; i < n; i++) {
        struct front_item *it = xcalloc(1, sizeof(*it));
        it->f = f;
        it->fa = fa;
        it->raw = malloc(lens[i] + 1);
        if (!it->raw)
            abort();
        memcpy(it->raw, items[i], lens[i]);
        it->raw[lens[i]] = '\0';
        it->len = lens[i];
        if (fa->buf_tail)
            fa->buf_tail->next = it;
        else
            fa->buf_head = it;
        fa->buf_tail = it;
        fa->buffered++;
    }
    /* More may be waiting: a full batch, or a push announced meanwhile. */
    if (n > 0 || fa->pushed)
        kick(f);
    fa->pushed = false;
}

static void
deliver_run(struct smpp_front *f, struct front_acct *fa)
{
    const struct cfg_account *a = fa->cfg;
    unsigned room = 0;
    /* A removed account's binds are being unbound: nothing more goes to
     * them, and what was taken goes back to its queue. */
    unsigned rx = fa->removed ? 0 : fa->rx_binds;

    if (fa->taking || fa->requeueing || !store_redis_ready(f->redis) || !f->swept_once)
        return;
    if (fa->buf_head && !rx)
        fa->dirty = true;               /* taken but no receiver left */
    if (fa->dirty || (!fa->recovered && rx)) {
        if (fa->sending)
            return;                     /* wait until every deliver_sm has ended */
        buf_drop(fa);                   /* they are in the inflight list too */
        if (fa->dirty && clock_mono_ms() < fa->resume_ms)
            return;
        fa->requeueing = true;
        store_clientq_requeue(f->redis, fa->name, f->instance, requeued, op_new(f, fa));
        return;
    }
    if (!rx || f->stopping)
        return;
    while (fa->buf_head) {
        struct front_conn *c = pick_rx(f, fa, NULL, NULL);
        if (!c)
            break;
        struct front_item *it = fa->buf_head;
        struct smpp_pdu p;
        char what[120];
        if (!item_pdu(it, &p, what, sizeof(what))) {
            /* Nothing a client could use: logged and dropped, not retried. */
            log_event(LOG_ERROR, "smpp_deliver_dropped", "account=%s item=\"%.200s\"", a->name,
                      it->raw);
            fa->buf_head = it->next;
            if (!fa->buf_head)
                fa->buf_tail = NULL;
            fa->buffered--;
            store_clientq_ack(f->redis, a->name, f->instance, it->raw, it->len);
            item_free(it);
            continue;
        }
        enum smpp_rc rc = smpp_session_send(c->s, &p, item_resp, it, NULL);
        if (rc == SMPP_AGAIN)
            return;                     /* on_window kicks */
        fa->buf_head = it->next;
        if (!fa->buf_head)
            fa->buf_tail = NULL;
        fa->buffered--;
        it->next = NULL;
        if (rc != SMPP_OK) {
            log_event(LOG_WARN, "smpp_deliver_failed", "session=%u account=%s result=\"not sent\"",
                      smpp_session_id(c->s), a->name);
            item_free(it);
            fa->dirty = true;
            fa->resume_ms = clock_mono_ms() + DELIVER_RETRY_MS;
            return;
        }
        fa->sending++;
        log_event(LOG_DEBUG, "smpp_deliver", "session=%u account=%s %s", smpp_session_id(c->s),
                  a->name, what);
    }
    /*
     * Keep one window taken ahead of what is in flight, so an ack is
     * followed by the next deliver_sm at once, not after a Redis round
     * trip; one take at a time keeps the queue's order.
     */
    unsigned window = 0;
    pick_rx(f, fa, &room, &window);
    unsigned have = fa->buffered + fa->sending;
    if (window > 0 && have < 2 * window) {
        fa->taking = true;
        fa->pushed = false;
        store_clientq_take(f->redis, a->name, f->instance, 2 * window - have, taken,
                           op_new(f, fa));
    }
}

static void
deliver_all(struct smpp_front *f)
{
    for (size_t i = 0; i < f->cfg->naccounts; i++) {
        struct front_acct *fa = f->accts[i];
        if (fa->rx_binds || fa->dirty || fa->buf_head)
            deliver_run(f, fa);
    }
    for (struct front_acct *fa = f->gone; fa; fa = fa->gone_next)
        if (fa->dirty || fa->buf_head)
            deliver_run(f, fa);
}

static void
deliver_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    deliver_all(arg);
}

/* mt_engine_on_clientq: this instance pushed an item for account (NULL: for
 * some account). Deliver now; a take already on its way takes again when it
 * returns, since it may have missed the item. */
static void
clientq_pushed(void *arg, const char *account)
{
    struct smpp_front *f = arg;

    for (size_t i = 0; i < f->cfg->naccounts; i++) {
        struct front_acct *fa = f->accts[i];
        if (!fa->rx_binds || (account && strcmp(account, fa->name) != 0))
            continue;
        if (fa->taking)
            fa->pushed = true;
        kick(f);
    }
}

/* ------------------------------------------------------------------ liveness, takeover */

static void housekeep(struct smpp_front *f);

static void
alive_done(void *arg, int rc)
{
    struct front_acct *op_fa;
    struct smpp_front *f = op_end(arg, &op_fa);

    if (!f)
        return;
    f->alive_busy = false;
    if (rc < 0) {
        f->alive_due_ms = clock_mono_ms() + DELIVER_RETRY_MS;
        return;
    }
    if (rc == 0 && f->alive_ok) {
        /* Our key ran out (Redis unreachable or this process stalled for a
         * whole TTL): another instance may have moved our inflight lists
         * back to their queues. Start over from the queues. */
        log_event(LOG_WARN, "clientq_alive_lapsed", "instance=%s", f->instance);
        for (size_t i = 0; i < f->cfg->naccounts; i++) {
            f->accts[i]->dirty = true;
            f->accts[i]->resume_ms = clock_mono_ms();
        }
        for (struct front_acct *fa = f->gone; fa; fa = fa->gone_next) {
            fa->dirty = true;
            fa->resume_ms = clock_mono_ms();
        }
    }
    if (!f->alive_ok)
        f->sweep_due_ms = clock_mono_ms();     /* first sweep right away */
    f->alive_ok = true;
    f->alive_due_ms = clock_mono_ms() + ALIVE_REFRESH_MS;
    housekeep(f);
    kick(f);
}

static void
swept(void *arg, int rc, unsigned long moved)
{
    struct front_acct *op_fa;
    struct smpp_front *f = op_end(arg, &op_fa);

    if (!f)
        return;
    f->sweeping = false;
    f->sweep_due_ms = clock_mono_ms() + (rc < 0 ? ALIVE_REFRESH_MS : SWEEP_MS);
    /* Delivery starts after the first sweep, so what a dead instance had in
     * flight (older than anything queued since) goes first. */
    f->swept_once = true;
    kick(f);
}

/* From the poll timer: keep P alive:INSTANCE set, sweep now and then. */
static void
housekeep(struct smpp_front *f)
{
    uint64_t t = clock_mono_ms();

    if (!store_redis_ready(f->redis))
        return;
    if (!f->alive_busy && t >= f->alive_due_ms) {
        f->alive_busy = true;
        store_clientq_alive(f->redis, f->instance, ALIVE_TTL_MS, alive_done, op_new(f, NULL));
    }
    if (f->alive_ok && !f->sweeping && t >= f->sweep_due_ms) {
        f->sweeping = true;
        store_clientq_sweep(f->redis, f->instance, !f->swept_once, swept, op_new(f, NULL));
    }
}

/* ------------------------------------------------------------------ scheduled messages */

/* One due scheduled message on its way to store_msg_accept. */
struct sched_job {
    struct front_op *op;
    char *raw;                      /* the member of P smppsched, to remove */
    size_t len;
    char route[65], to[16], id[40];
    const char *callback_url;
    unsigned segments;
    const char *state;              /* "queued", or "held" (a marketing account's quiet hours) */
};

static void
sched_batch_end(struct smpp_front *f)
{
    if (f->sched_waiting)
        return;
    f->sched_busy = false;
    f->sched_due_ms = clock_mono_ms() + (f->sched_full ? 0 : SCHED_POLL_MS);
}

static void
sched_accepted(void *arg, int rc, const char *id)
{
    struct sched_job *j = arg;
    struct front_acct *op_fa;
    struct smpp_front *f = op_end(j->op, &op_fa);

    if (f) {
        f->sched_waiting--;
        if (rc == 0) {
            metrics_msg_state(j->state);
            log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s source=smpp scheduled=yes",
                      id, j->state);
            if (strcmp(j->state, "queued") == 0)
                mt_engine_wake(f->mt, j->route);
            mt_notify(f->webhook, j->callback_url, id, j->state, NULL, NULL, j->to, j->segments);
        } else if (rc == 2) {
            log_event(LOG_WARN, "msg_scheduled_dropped", "msg_id=%s reason=\"the subscriber "
                      "opted out\"", j->id);
        }
        /* stored, stored before (client_ref), or refused for good: done */
        if (rc >= 0)
            store_sched_remove(f->redis, j->raw, j->len);
        sched_batch_end(f);
    }
    free(j->raw);
    free(j);
}

static const struct cfg_route *
route_named(const struct gw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].name, name) == 0)
            return &cfg->routes[i];
    return NULL;
}

static const struct cfg_account *
account_named(const struct gw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (strcmp(cfg->accounts[i].name, name) == 0)
            return &cfg->accounts[i];
    return NULL;
}

/* A scheduled message is due: store it as any message, with its id. */
static void
sched_release(struct smpp_front *f, const char *raw, size_t len)
{
    json_object *o = json_tokener_parse(raw);
    const struct cfg_route *route = NULL;
    const struct cfg_account *a = NULL;
    const struct cfg_sender *snd = NULL;

    if (o && json_object_is_type(o, json_type_object)) {
        route = route_named(f->cfg, jget(o, "route"));
        a = account_named(f->cfg, jget(o, "account"));
        snd = config_sender(f->cfg, jget(o, "from"));
    }
    const char *id = o ? jget(o, "id") : "";
    if (!route || !a || !snd || !*id || strlen(id) >= 40 || strlen(jget(o, "to")) >= 16) {
        /* The config no longer has its route, account or sender. */
        log_event(LOG_ERROR, "msg_scheduled_dropped", "item=\"%.200s\" reason=\"route, "
                  "account or sender not in the config\"", raw);
        store_sched_remove(f->redis, raw, len);
        if (o)
            json_object_put(o);
        return;
    }
    struct sched_job *j = xcalloc(1, sizeof(*j));
    j->op = op_new(f, NULL);
    j->raw = xcalloc(1, len + 1);
    memcpy(j->raw, raw, len);
    j->len = len;
    snprintf(j->route, sizeof(j->route), "%s", route->name);
    snprintf(j->to, sizeof(j->to), "%s", jget(o, "to"));
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->callback_url = a->callback_url;
    j->segments = (unsigned)jms(o, "segments");
    const char *text = jget(o, "text");
    char cref[64];
    snprintf(cref, sizeof(cref), "smpp-sched:%s", id);
    struct store_msg_new n = {
        .account = a->name,
        .from = snd->address,
        .ton = snd->ton,
        .npi = snd->npi,
        .to = j->to,
        .text = text,
        .text_len = strlen(text),
        .encoding = jget(o, "encoding"),
        .segments = j->segments,
        .route = route->name,
        .msg_class = "transactional",
        .callback_url = a->callback_url,
        /* idempotent: two instances releasing it, or a crash before the
         * ZREM, store it once */
        .client_ref = cref,
        .validity_s = validity_of(route, (time_t)jms(o, "expires")),
        .source = "smpp",
        .registered_delivery = (uint8_t)jms(o, "rd"),
        .id = j->id,
    };
    j->state = "queued";
    char detail[160];
    if (a->smpp_marketing) {
        /* Its cap was taken when it was accepted; quiet hours count now. */
        const char *hold = NULL;
        n.msg_class = "marketing";
        n.due_ms = admit_release(f->cfg, a, j->to, true, 0, &hold, detail, sizeof(detail));
        if (n.due_ms) {
            n.hold_state = hold;
            n.hold_detail = detail;
            j->state = hold;
        }
    }
    f->sched_waiting++;
    store_msg_accept(f->redis, &n, sched_accepted, j);
    json_object_put(o);
}

static void
sched_due_items(void *arg, int n, const char *const *items, const size_t *lens)
{
    struct front_acct *op_fa;
    struct smpp_front *f = op_end(arg, &op_fa);

    if (!f)
        return;
    f->sched_full = n >= 64;
    for (int i = 0; i < n; i++)
        sched_release(f, items[i], lens[i]);
    sched_batch_end(f);
}

static void
sched_poll(struct smpp_front *f)
{
    struct timespec ts;

    if (f->sched_busy || clock_mono_ms() < f->sched_due_ms || !store_redis_ready(f->redis))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    f->sched_busy = true;
    store_sched_due(f->redis, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, 64,
                    sched_due_items, op_new(f, NULL));
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    housekeep(arg);
    sched_poll(arg);
    deliver_all(arg);
}

static void
on_window(struct smpp_session *s, void *ctx)
{
    (void)s;
    kick(ctx);
}

static const struct smpp_session_ops front_ops = {
    .on_bind = on_bind,
    .on_request = on_request,
    .on_closed = on_closed,
    .on_window = on_window,
};

/* ------------------------------------------------------------------ lifetime */

static struct front_acct *
acct_new(const struct cfg_account *a)
{
    struct front_acct *fa = xcalloc(1, sizeof(*fa));
    fa->name = strdup(a->name);
    if (!fa->name)
        abort();
    fa->cfg = a;
    return fa;
}

static void
acct_free(struct front_acct *fa)
{
    buf_drop(fa);
    free(fa->name);
    free(fa);
}

struct smpp_front *
smpp_front_new(const struct smpp_front_deps *deps, char *err, size_t errsz)
{
    const struct cfg_smpp_server *sc = &deps->cfg->smpp_server;
    struct smpp_front *f = xcalloc(1, sizeof(*f));
    struct smpp_server_cfg scfg;
    unsigned window = 1;

    f->base = deps->base;
    f->cfg = deps->cfg;
    f->redis = deps->redis;
    f->mt = deps->mt;
    f->webhook = deps->webhook;
    f->accts = xcalloc(deps->cfg->naccounts, sizeof(*f->accts));
    for (size_t i = 0; i < deps->cfg->naccounts; i++)
        f->accts[i] = acct_new(&deps->cfg->accounts[i]);
    f->guard = bindguard_new();
    if (sc->tls_cert_file) {
        struct smpp_tls_server_cfg tc = { .cert_file = sc->tls_cert_file,
                                          .key_file = sc->tls_key_file };
        f->ssl = smpp_tls_server_ctx(&tc, err, errsz);
        if (!f->ssl) {
            bindguard_free(f->guard);
            for (size_t i = 0; i < deps->cfg->naccounts; i++)
                acct_free(f->accts[i]);
            free(f->accts);
            free(f);
            return NULL;
        }
    }
    for (size_t i = 0; i < deps->cfg->naccounts; i++)
        if (deps->cfg->accounts[i].smpp_window > window)
            window = deps->cfg->accounts[i].smpp_window;
    memset(&scfg, 0, sizeof(scfg));
    scfg.addr = sc->listen;
    scfg.port = sc->port;
    scfg.ssl_ctx = f->ssl;
    scfg.system_id = "smsgw";
    smpp_session_cfg_defaults(&scfg.session);
    scfg.session.bind_timeout_ms = sc->bind_timeout_ms;
    scfg.session.max_pdu = sc->max_pdu;
    /* Our own per-account smpp_window answers first (ESME_RTHROTTLED with a
     * log line); the session's flood limit stays just above it. The same
     * window bounds our deliver_sm in flight to the client. */
    scfg.session.peer_window = window + 1;
    scfg.session.window = window > DELIVER_WINDOW_MAX ? DELIVER_WINDOW_MAX : window;
    f->instance = deps->cfg->instance ? deps->cfg->instance : "smsgwd";
    f->kick_ev = event_new(f->base, -1, 0, deliver_cb, f);
    f->poll_ev = event_new(f->base, -1, EV_PERSIST, poll_cb, f);
    struct timeval tv = { 0, DELIVER_POLL_MS * 1000 };
    if (!f->kick_ev || !f->poll_ev)
        abort();
    event_add(f->poll_ev, &tv);
    f->srv = smpp_server_new(f->base, &scfg, &front_ops, f);
    if (f->srv && f->mt)
        mt_engine_on_clientq(f->mt, clientq_pushed, f);
    if (!f->srv) {
        event_free(f->kick_ev);
        event_free(f->poll_ev);
        snprintf(err, errsz, "cannot listen on %s port %d: %s", sc->listen, sc->port,
                 strerror(errno));
        if (f->ssl)
            SSL_CTX_free(f->ssl);
        bindguard_free(f->guard);
        for (size_t i = 0; i < deps->cfg->naccounts; i++)
            acct_free(f->accts[i]);
        free(f->accts);
        free(f);
        return NULL;
    }
    return f;
}

int
smpp_front_port(const struct smpp_front *f)
{
    return smpp_server_port(f->srv);
}

/*
 * The accounts are matched by name: a kept one keeps its state and its
 * binds (the same sessions, now under its new settings); a new one can
 * bind at once; a removed one's binds are unbound (submits on them are
 * refused meanwhile with ESME_RINVBNDSTS), and its deliverer puts back in
 * P clientq:ACCOUNT what it had taken. Its messages are in Redis and go on
 * as any message: their receipts wait in its client queue.
 */
int
smpp_front_set_config(struct smpp_front *f, const struct gw_config *cfg, struct mt_engine *mt)
{
    if (!mt)
        return 0;
    struct front_acct **na = xcalloc(cfg->naccounts, sizeof(*na));
    bool *kept = xcalloc(f->cfg->naccounts, sizeof(*kept));
    unsigned added = 0, removed = 0;

    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct cfg_account *a = &cfg->accounts[i];
        for (size_t k = 0; k < f->cfg->naccounts && !na[i]; k++) {
            if (!kept[k] && strcmp(f->accts[k]->name, a->name) == 0) {
                kept[k] = true;
                na[i] = f->accts[k];
            }
        }
        for (struct front_acct **pp = &f->gone; !na[i] && *pp; pp = &(*pp)->gone_next) {
            if (strcmp((*pp)->name, a->name) == 0) {
                na[i] = *pp;            /* named again before its binds were all gone */
                *pp = na[i]->gone_next;
                na[i]->gone_next = NULL;
                na[i]->removed = false;
            }
        }
        if (!na[i]) {
            na[i] = acct_new(a);
            added++;
            if (a->smpp_system_id)
                log_event(LOG_INFO, "smpp_account_added", "account=%s", a->name);
        }
        na[i]->cfg = a;
    }
    for (size_t k = 0; k < f->cfg->naccounts; k++) {
        if (kept[k])
            continue;
        struct front_acct *fa = f->accts[k];
        fa->removed = true;
        fa->gone_next = f->gone;
        f->gone = fa;
        removed++;
        log_event(LOG_INFO, "smpp_account_removed", "account=%s binds=%u", fa->name, fa->binds);
    }
    for (struct front_conn *c = f->conns; c; c = c->next) {
        if (!c->fa->removed) {
            c->account = c->fa->cfg;
        } else if (smpp_session_is_bound(c->s)) {
            log_event(LOG_INFO, "smpp_client_unbinding", "session=%u account=%s reason=\"account "
                      "removed from the config\"", smpp_session_id(c->s), c->fa->name);
            smpp_session_unbind(c->s);
        }
    }
    free(kept);
    free(f->accts);
    f->accts = na;
    f->cfg = cfg;
    f->mt = mt;
    if (added || removed)
        kick(f);
    return 0;
}

void
smpp_front_accounts(const struct smpp_front *f, smpp_front_account_fn fn, void *arg)
{
    for (size_t i = 0; i < f->cfg->naccounts; i++)
        if (f->cfg->accounts[i].smpp_system_id)
            fn(arg, f->cfg->accounts[i].name, f->accts[i]->binds, f->accts[i]->rx_binds);
}

void
smpp_front_shutdown(struct smpp_front *f)
{
    if (!f || f->stopping)
        return;
    f->stopping = true;
    log_event(LOG_INFO, "smpp_server_stopping", "sessions=%u", smpp_server_sessions(f->srv));
    smpp_server_shutdown(f->srv);
}

void
smpp_front_free(struct smpp_front *f)
{
    if (!f)
        return;
    if (f->mt)
        mt_engine_on_clientq(f->mt, NULL, NULL);
    /* Frees every session through on_closed, which detaches their submits. */
    smpp_server_free(f->srv);
    for (struct front_submit *q = f->pending, *next; q; q = next) {
        next = q->next;
        q->f = NULL;
        q->conn = NULL;
        q->prev = q->next = NULL;
    }
    for (struct front_op *o = f->ops; o; o = o->next)
        o->f = NULL;
    for (size_t i = 0; i < f->cfg->naccounts; i++)
        acct_free(f->accts[i]);
    for (struct front_acct *fa = f->gone, *next; fa; fa = next) {
        next = fa->gone_next;
        acct_free(fa);
    }
    event_free(f->kick_ev);
    event_free(f->poll_ev);
    if (f->ssl)
        SSL_CTX_free(f->ssl);
    bindguard_free(f->guard);
    free(f->accts);
    free(f);
}
