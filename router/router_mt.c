#include "router/router_mt.h"
#include "core/clock.h"
#include "router/router_pacer.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/webhook.h"
#include "router/fallback.h"
#include "router/router_health.h"
#include "router/router_keywords.h"

#include <json-c/json.h>
#include "smpp/smpp_client.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_text.h"
#include "smpp/smpp_tls.h"
#include "store/store_msg.h"
#include "store/store_sched.h"

#define MAX_PARTS 32
/* Jobs a route keeps read ahead: about 100 ms of its work (one pacer
 * horizon), at least 64 and at most 1,024. Reads go out (up to 256 jobs
 * each, store_queue_read's cap) while half of it or less is in memory, so
 * a fast route never waits on Redis. The shared pacer is asked for slots
 * for what is in memory plus this much while the queue is not empty: at
 * 10,000 mps a cap of 256 held grants to ~25 ms of slots, and a grant
 * asked with less runway than its round trips starts late (slots lost). */
#define READ_BATCH_MIN 64
#define READ_BATCH_MAX 1024
/* Jobs of a route in memory at once (read and not yet finished in Redis),
 * whatever its windows: bounds the engine's memory. */
#define ROUTE_INFLIGHT_MAX 5120

struct mt_engine;
struct mt_route;

struct mt_smsc {
    const struct cfg_smsc *cfg;
    struct mt_engine *eng;
    SSL_CTX *ssl;
    struct smpp_client **clients;   /* transmit-capable first (ntx), then receivers */
    unsigned nclients, ntx;
    bool adopted;                   /* clients taken over from the engine before a reload */
    struct metrics_histo *m_rtt;    /* submit_sm -> resp */
    double *m_resp[6];              /* ok, throttled, temporary, permanent, timeout, conn_lost */
    struct router_health *health;   /* error-rate failover (router/router_health.h) */
    double *m_suspensions;
    uint64_t suspended_at_ms;       /* when it was last taken out, for the log */
};

/* One submit_sm in flight: its resp callback's argument, freed there. */
struct mt_part {
    struct mt_job *job;
    unsigned idx;
    uint64_t sent_us;
};

struct mt_job {
    struct store_job j;
    struct mt_route *rt;
    struct mt_smsc *smsc;           /* chosen for the first part; parts stay on it */
    struct smpp_text_part parts[MAX_PARTS];
    struct smpp_text_split split;
    uint8_t *buf;
    unsigned nparts;
    unsigned next;                  /* next part index to consider sending */
    unsigned pending;               /* parts sent, awaiting resp */
    unsigned sent;                  /* parts sent in this attempt */
    unsigned probe_gen;             /* it probes smsc: router_health_probe_start's, or 0 */
    uint32_t ok_mask, temp_mask;
    uint32_t perm_status;
    char temp_error[24];            /* the last temporary failure, for the record's history */
    bool throttled;
    bool finishing;
    const char *outcome;            /* state to report once Redis has it, or NULL */
    struct mt_pace *paces[3];       /* route, sender, account limits that apply */
    unsigned npaces;
    char outcome_detail[96];
    struct mt_job *next_job;        /* ready queue link */
};

/*
 * One rate limit shared through Redis (docs/pacing.md): a route's mps, a
 * sender's (10DLC campaigns, toll-free numbers) or an account's cap. A
 * submit_sm needs a slot from each limit that applies, all or none.
 */
struct mt_pace {
    struct mt_engine *eng;
    struct mt_route *rt;            /* whose sends it gates; NULL: several routes */
    struct router_pacer *p;
    struct router_pacer_cmd cmd;
    bool granting;
    unsigned backlog;               /* parts last seen waiting on it */
    char key[200];
    char name[80];                  /* for logs */
    struct router_pacer_stats last; /* as last logged (pacer_stats) */
};

struct mt_route {
    const struct cfg_route *cfg;
    struct mt_engine *eng;
    struct mt_pace pace;
    struct mt_job *ready_head, *ready_tail;
    unsigned nready;
    unsigned inflight;              /* jobs read and not yet finished in Redis */
    bool reading;
    bool idle;                      /* the last read found nothing: wait for the poll */
    bool recovered;                 /* own pending entries re-read after start */
    bool reading_pending;           /* the read out is of own pending entries */
    char recover_after[32];         /* where that pass goes on ("0" to start) */
    struct id_node **held;          /* stream ids of the jobs in memory */
    struct event *tick;
    bool warned_down;
    unsigned read_batch;
    double *shares;                 /* per cfg->smscs[i]: messages given to it (weighted pick) */
    bool pick_probe;                /* the last pick_session chose a probing SMSC's probe slot */
    bool pick_degraded;             /* ... chose a suspended SMSC: every live one is suspended */
    bool degraded;                  /* as logged (route_degraded / route_degraded_end) */
    bool paused;                    /* smsgwctl pause: neither read nor send */
    double *m_submitted, *m_throttled;
};

struct mt_engine {
    struct event_base *base;
    const struct gw_config *cfg;
    struct store_redis *redis;
    struct store_redis *pacer_redis;    /* grants; NULL: redis */
    struct mt_smsc *smscs;
    size_t nsmscs;
    struct mt_route *routes;
    size_t nroutes;
    struct event *promote_ev;
    struct webhook *webhook;
    struct mt_pace *sender_pace;    /* per cfg sender; .p NULL when it has no mps */
    struct mt_pace *account_pace;   /* per cfg account; .p NULL when no cap */
    char consumer[128];
    bool stopping;
    struct mt_stats st;
    void (*stop_done)(void *);
    void *stop_arg;
    struct event *stop_ev;
    unsigned stop_waits;
    void (*clientq_fn)(void *, const char *);     /* mt_engine_on_clientq */
    void *clientq_arg;
    struct fallback *fallback;      /* mt_engine_set_fallback; may be NULL */
    unsigned stop_ticks;
    struct mt_engine *successor;    /* after a reload: who has our kept sessions */
};

void
mt_engine_set_fallback(struct mt_engine *e, struct fallback *fb)
{
    e->fallback = fb;
}

/* SMS ended without delivery: the message's fallback chain, if any, takes over. */
static void
sms_failed(struct mt_engine *e, const char *id, const char *state)
{
    if (strcmp(state, "undelivered") == 0 || strcmp(state, "rejected") == 0 ||
        strcmp(state, "expired") == 0 || strcmp(state, "failed") == 0)
        fallback_sms_failed(e->fallback, id, state);
}

void
mt_engine_on_clientq(struct mt_engine *e, void (*fn)(void *, const char *), void *arg)
{
    e->clientq_fn = fn;
    e->clientq_arg = arg;
}

static void
clientq_pushed(struct mt_engine *e, const char *account)
{
    if (e->clientq_fn)
        e->clientq_fn(e->clientq_arg, account);
}

void
mt_notify(struct webhook *w, const char *url, const char *id, const char *state,
          const char *client_ref, const char *error, const char *to, unsigned segments)
{
    if (!w || !url || !*url || !id)
        return;
    struct webhook_status st = {
        .msg_id = id, .state = state, .ts_ms = store_now_ms(),
        .client_ref = client_ref && *client_ref ? client_ref : NULL,
        .error = error && *error ? error : NULL, .to = to, .segments = segments,
    };
    char eid[160];
    webhook_event_id(id, state, eid, sizeof(eid));
    st.event_id = eid;
    char *body = webhook_status_body(&st);
    int rc = webhook_post(w, url, body, strlen(body), eid, NULL);
    if (rc != WEBHOOK_OK)
        log_event(LOG_WARN, "callback_not_queued", "msg_id=%s state=%s rc=%d", id, state, rc);
    free(body);
}

static void route_kick(struct mt_route *rt);

void
mt_engine_wake(struct mt_engine *e, const char *route)
{
    for (size_t i = 0; i < e->nroutes; i++) {
        if (strcmp(e->routes[i].cfg->name, route) == 0) {
            e->routes[i].idle = false;
            route_kick(&e->routes[i]);
        }
    }
}

void
mt_engine_set_webhook(struct mt_engine *e, struct webhook *w)
{
    e->webhook = w;
}

/* ---------------------------------------------------------------- binds */

static void route_kick(struct mt_route *rt);

static void
smsc_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
              void *ctx)
{
    struct mt_smsc *m = ctx;
    (void)s;
    (void)from;
    (void)reason;
    if (to == SMPP_BOUND_TX || to == SMPP_BOUND_TRX) {
        for (size_t i = 0; i < m->eng->nroutes; i++)
            route_kick(&m->eng->routes[i]);
    }
}

static void
smsc_on_window(struct smpp_session *s, void *ctx)
{
    struct mt_smsc *m = ctx;
    (void)s;
    for (size_t i = 0; i < m->eng->nroutes; i++)
        route_kick(&m->eng->routes[i]);
}

struct dlr_ctx {
    struct mt_engine *eng;
    char smsc[64];
    char normid[80];
    struct smpp_session *sess;
    struct smpp_hdr hdr;
    unsigned sess_id;
};

static void
dlr_stored(void *arg, int rc, const struct store_receipt_info *info)
{
    const char *id = info ? info->id : NULL, *state = info ? info->state : NULL;
    struct dlr_ctx *d = arg;
    struct mt_engine *e = d->eng;

    if (rc < 0) {
        /* Not recorded: ask the SMSC to send it again later. */
        log_event(LOG_WARN, "receipt_deferred", "reason=\"redis unavailable\"");
        if (d->normid[0])
            metrics_inc("smsgw_receipts_total", "result=\"deferred\"");
    } else if (rc == 0) {
        e->st.receipts_unmatched++;
        metrics_inc("smsgw_receipts_total", "result=\"unmatched\"");
        log_event(LOG_WARN, "receipt_unmatched", "smsc=%s smsc_msg_id=%s", d->smsc, d->normid);
    } else if (state && *state) {
        metrics_msg_state(state);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s", id, state);
        mt_notify(e->webhook, info->callback_url, id, state, info->client_ref, NULL, NULL, 0);
        clientq_pushed(e, NULL);
        sms_failed(e, id, state);
    }
    if (rc > 0 && d->normid[0])
        metrics_inc("smsgw_receipts_total", "result=\"matched\"");
    /* The session may have closed meanwhile; answer only if it is the same
     * live session (ids are never reused). A reload may have moved it to
     * the successor engine. */
    for (struct mt_engine *x = e; x; x = x->successor) {
        for (size_t i = 0; i < x->nsmscs; i++) {
            for (unsigned c = 0; c < x->smscs[i].nclients; c++) {
                struct smpp_session *s = smpp_client_session(x->smscs[i].clients[c]);
                if (s && s == d->sess && smpp_session_id(s) == d->sess_id)
                    smpp_session_respond_status(s, &d->hdr, rc < 0 ? ESME_RX_T_APPN : ESME_ROK);
            }
        }
    }
    free(d);
}



/* ---------------------------------------------------------------- MO
 *
 * A deliver_sm that is not a receipt: reassemble it if it is a part, keep
 * it in Redis (and only then answer the SMSC), act on STOP/START/HELP, and
 * POST it to the account that owns the number texted.
 */

struct mo_ctx {
    struct mt_engine *e;
    struct dlr_ctx *d;
    char smsc[64];
    char from[24];                  /* subscriber, digits */
    char to[24];                    /* our number, as the carrier wrote it */
    uint64_t received_ms;
    const struct cfg_sender *sender;
    const struct cfg_account *acct;
    enum mo_keyword kw;
    const char *auto_word;          /* a configured auto-responder keyword, or NULL */
    const char *auto_reply;
    char *json;
};

static void
mo_free(struct mo_ctx *c)
{
    free(c->json);
    free(c);
}

/* Our sender whose digits are the number texted. */
static const struct cfg_sender *
sender_by_digits(const struct gw_config *cfg, const char *digits)
{
    for (size_t i = 0; i < cfg->nsenders; i++) {
        const char *a = cfg->senders[i].address;
        if (strcmp(a[0] == '+' ? a + 1 : a, digits) == 0 || strcmp(a, digits) == 0)
            return &cfg->senders[i];
    }
    return NULL;
}


static void
reply_queued(void *arg, int rc, const char *id)
{
    struct mt_engine *e = arg;
    if (rc == 0) {
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=queued reason=keyword_reply", id);
        for (size_t i = 0; i < e->nroutes; i++)
            mt_engine_wake(e, e->routes[i].cfg->name);
    } else {
        log_event(LOG_ERROR, "keyword_reply_failed", "rc=%d", rc);
    }
}

/* The confirmation of STOP/START, or the HELP text: from the number texted. */
static void
mo_send_reply(struct mo_ctx *c)
{
    char text[700];
    const struct cfg_route *rt = config_route_for(c->e->cfg, c->from, c->sender->type);

    if (c->auto_reply)
        snprintf(text, sizeof(text), "%s", c->auto_reply);
    else
        mo_keyword_reply(c->kw, c->acct ? c->acct->help_text : NULL, text, sizeof(text));
    if (!rt) {
        log_event(LOG_ERROR, "keyword_reply_no_route", "to=%s keyword=%s", c->from,
                  mo_keyword_name(c->kw));
        return;
    }
    struct smpp_text_info info = { .enc = SMPP_TEXT_ENC_GSM7, .segments = 1 };
    size_t erroff = 0;
    if (smpp_text_measure(text, strlen(text), SMPP_TEXT_ENC_AUTO,
                          rt->nsmscs ? rt->smscs[0].smsc->concat : SMPP_TEXT_CONCAT_UDH8, &info,
                          &erroff) != SMPP_TEXT_OK) {
        log_event(LOG_ERROR, "keyword_reply_unencodable", "number=%s", c->sender->address);
        return;
    }
    struct store_msg_new n = {
        .account = c->acct ? c->acct->name : "-",
        .from = c->sender->address, .ton = c->sender->ton, .npi = c->sender->npi,
        .to = c->from, .text = text, .text_len = strlen(text),
        .encoding = info.enc == SMPP_TEXT_ENC_UCS2 ? "ucs2" : "gsm7",
        .segments = info.pdus ? info.pdus : 1, .route = rt->name, .msg_class = "transactional",
        .validity_s = rt->validity_s,
        /* compliance confirmations go even to an opted-out subscriber; an
         * auto-responder's reply respects the opt-out like any MT */
        .system = c->auto_reply == NULL,
    };
    store_msg_accept(c->e->redis, &n, reply_queued, c->e);
}

static void
mo_optout_done(void *arg, int rc)
{
    struct mo_ctx *c = arg;

    if (rc < 0)
        log_event(LOG_ERROR, "optout_not_recorded", "subscriber=%s number=%s keyword=%s", c->from,
                  c->to, mo_keyword_name(c->kw));
    else
        log_event(LOG_INFO, c->kw == MO_KW_STOP ? "opted_out" : "opted_in",
                  "subscriber=%s number=%s account=%s scope=%s", c->from, c->sender->address,
                  c->acct ? c->acct->name : "-",
                  c->acct && c->acct->optout_scope == 1 ? "account" : "number");
    mo_send_reply(c);
    mo_free(c);
}

static void
mo_recorded(void *arg, int rc)
{
    struct mo_ctx *c = arg;
    struct mt_engine *e = c->e;

    /* Kept in Redis (or not): now the SMSC gets its answer. */
    dlr_stored(c->d, rc < 0 ? -1 : 2, NULL);
    c->d = NULL;
    if (rc < 0) {
        mo_free(c);
        return;
    }
    if (c->acct)
        clientq_pushed(e, c->acct->name);
    log_event(LOG_INFO, "mo", "from=%s to=%s account=%s keyword=%s smsc=%s", c->from, c->to,
              c->acct ? c->acct->name : "-", mo_keyword_name(c->kw), c->smsc);
    if (c->acct && c->acct->mo_url) {
        char eid[96];
        snprintf(eid, sizeof(eid), "mo:%s:%llu", c->from, (unsigned long long)c->received_ms);
        if (webhook_post(e->webhook, c->acct->mo_url, c->json, strlen(c->json), eid, NULL) != 0)
            log_event(LOG_WARN, "mo_webhook_not_queued", "from=%s account=%s", c->from,
                      c->acct->name);
    }
    if (c->sender && (c->kw == MO_KW_STOP || c->kw == MO_KW_START)) {
        store_optout_set(e->redis, c->sender->address, c->acct ? c->acct->name : NULL, c->from,
                         c->kw == MO_KW_STOP, c->acct && c->acct->optout_scope == 1,
                         mo_optout_done, c);
        return;
    }
    if (c->sender && (c->kw == MO_KW_HELP || c->auto_reply))
        mo_send_reply(c);
    mo_free(c);
}

/* The whole MO text is here (one part, or the reassembled set). */
static void
mo_complete(struct mo_ctx *c, const char *text, size_t len)
{
    const struct gw_config *cfg = c->e->cfg;

    c->sender = sender_by_digits(cfg, c->to);
    c->acct = config_mo_account(cfg, c->sender, text, len);
    c->kw = mo_keyword_of(text, len);
    c->auto_reply = NULL;
    if (c->kw == MO_KW_NONE && c->sender) {
        for (size_t i = 0; i < c->sender->nkw; i++)
            if (mo_keyword_is(text, len, c->sender->kw_words[i])) {
                c->auto_word = c->sender->kw_words[i];
                c->auto_reply = c->sender->kw_replies[i];
            }
    }
    json_object *o = json_object_new_object();
    char from[32];
    snprintf(from, sizeof(from), "+%s", c->from);
    json_object_object_add(o, "from", json_object_new_string(from));
    json_object_object_add(o, "to", json_object_new_string(c->sender ? c->sender->address : c->to));
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
    json_object_object_add(o, "received", json_object_new_int64((int64_t)c->received_ms));
    json_object_object_add(o, "carrier", json_object_new_string(c->smsc));
    json_object_object_add(o, "keyword", c->kw ? json_object_new_string(mo_keyword_name(c->kw))
                                         : c->auto_reply ? json_object_new_string(c->auto_word)
                                         : NULL);
    /* STOP/START/HELP and configured auto-responders are answered by smsgw
     * itself: the client sees them marked handled and must not answer them
     * again. */
    json_object_object_add(o, "handled", json_object_new_boolean(
                               (c->kw != MO_KW_NONE && c->sender) || c->auto_reply));
    c->json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    if (!c->json)
        abort();
    /* An account without mo_url that binds over SMPP gets its MO as
     * deliver_sm (core/smpp_front), queued in the same script. */
    char *item = NULL;
    if (c->acct && !c->acct->mo_url && c->acct->smpp_system_id) {
        json_object *q = json_object_new_object();
        json_object_object_add(q, "type", json_object_new_string("mo"));
        json_object_object_add(q, "from", json_object_new_string(from));
        json_object_object_add(q, "to", json_object_new_string(c->sender ? c->sender->address
                                                                         : c->to));
        json_object_object_add(q, "text", json_object_new_string_len(text, (int)len));
        json_object_object_add(q, "received", json_object_new_int64((int64_t)c->received_ms));
        item = strdup(json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN));
        json_object_put(q);
        if (!item)
            abort();
    }
    store_mo_record(c->e->redis, c->acct ? c->acct->name : NULL, c->json, item, mo_recorded, c);
    free(item);
}

static void
mo_part_done(void *arg, int rc, const char *text, size_t len)
{
    struct mo_ctx *c = arg;

    if (rc == 1) {
        mo_complete(c, text, len);
        return;
    }
    dlr_stored(c->d, rc < 0 ? -1 : 2, NULL);       /* part kept, or ask again */
    mo_free(c);
}

static void
mo_received(struct mt_smsc *m, const struct smpp_pdu *req, struct dlr_ctx *d)
{
    const deliver_sm_t *dl = &req->u.deliver_sm;
    struct mo_ctx *c = calloc(1, sizeof(*c));
    struct smpp_text_udh udh = { 0 };
    static char text[SMPP_TEXT_DECODE_MAX(SMPP_PAYLOAD_MAX)];
    size_t len = 0;
    const uint8_t *sm = dl->short_message;
    size_t smlen = dl->sm_length;

    if (!c)
        abort();
    c->e = m->eng;
    c->d = d;
    c->received_ms = store_now_ms();
    snprintf(c->smsc, sizeof(c->smsc), "%s", m->cfg->name);
    snprintf(c->from, sizeof(c->from), "%s", (const char *)dl->source_addr + (dl->source_addr[0] == '+'));
    snprintf(c->to, sizeof(c->to), "%s", (const char *)dl->destination_addr +
                                         (dl->destination_addr[0] == '+'));
    if (smlen == 0 && (req->tlv.present & SMPP_TLV_MESSAGE_PAYLOAD)) {
        sm = req->tlv.message_payload;
        smlen = req->tlv.message_payload_len;
    }
    if (smpp_text_udh_parse(sm, smlen, dl->esm_class, &udh) != 0)
        udh.text_off = 0;
    enum smpp_text_enc dc0 = SMPP_TEXT_ENC_GSM7;
    if (smpp_text_decode(dl->data_coding, dc0, sm, smlen, udh.text_off, SMPP_TEXT_DECODE_HEX, text,
                         sizeof(text), &len) != 0) {
        log_event(LOG_WARN, "mo_undecodable", "smsc=%s from=%s data_coding=%u", m->cfg->name,
                  c->from, dl->data_coding);
        len = 0;
        text[0] = 0;
    }
    unsigned total = 0, seq = 0, ref = 0;
    if (udh.concat && udh.total > 1) {
        total = udh.total;
        seq = udh.seq;
        ref = udh.ref;
    } else if ((req->tlv.present & SMPP_TLV_SAR_TOTAL_SEGMENTS) && req->tlv.sar_total_segments > 1) {
        total = req->tlv.sar_total_segments;
        seq = req->tlv.sar_segment_seqnum;
        ref = req->tlv.sar_msg_ref_num;
    }
    if (total > 1) {
        store_mo_part(m->eng->redis, c->from, c->to, ref, total, seq, text, len, 600, mo_part_done, c);
        return;
    }
    mo_complete(c, text, len);
}

static void
smsc_on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct mt_smsc *m = ctx;
    struct mt_engine *e = m->eng;
    struct dlr_ctx *d;

    if (req->hdr.command_id != DELIVER_SM) {
        if (smpp_resp_id(req->hdr.command_id))
            smpp_session_respond_status(s, &req->hdr, ESME_RINVCMDID);
        return;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->eng = e;
    d->sess = s;
    d->sess_id = smpp_session_id(s);
    d->hdr = req->hdr;
    const deliver_sm_t *dl = &req->u.deliver_sm;
    if (!(dl->esm_class & 0x04)) {
        mo_received(m, req, d);
        return;
    }
    struct smpp_dlr text, out;
    struct smpp_dlr_tlv tlv = {
        .receipted_message_id = (req->tlv.present & SMPP_TLV_RECEIPTED_MESSAGE_ID)
                                ? req->tlv.receipted_message_id : NULL,
        .message_state = (req->tlv.present & SMPP_TLV_MESSAGE_STATE) ? req->tlv.message_state : 0,
        .has_network_error_code = (req->tlv.present & SMPP_TLV_NETWORK_ERROR_CODE) != 0,
    };
    memcpy(tlv.network_error_code, req->tlv.network_error_code, 3);
    smpp_dlr_parse(dl->short_message, dl->sm_length, &text);
    int rc = smpp_dlr_combine(&text, &tlv, &out);
    e->st.receipts++;
    if (rc != SMPP_DLR_OK) {
        log_event(LOG_WARN, "receipt_unreadable", "smsc=%s error=\"%s\"", m->cfg->name,
                  smpp_dlr_strerror(rc));
        e->st.receipts_unmatched++;
        metrics_inc("smsgw_receipts_total", "result=\"unreadable\"");
        smpp_session_respond_status(s, &req->hdr, ESME_ROK);
        free(d);
        return;
    }
    /* The receipt names the id as this SMSC writes it in receipts (which
     * may be a different base from its submit_sm_resp). */
    char norm[80];
    enum smpp_dlr_id_format fmt = tlv.receipted_message_id ? m->cfg->resp_id_format
                                                            : m->cfg->dlr_id_format;
    if (smpp_dlr_normalize_id(out.id, fmt, norm, sizeof(norm)) < 0)
        snprintf(norm, sizeof(norm), "%s", out.id);
    const char *stat = smpp_dlr_stat_name(out.stat);
    snprintf(d->smsc, sizeof(d->smsc), "%s", m->cfg->name);
    snprintf(d->normid, sizeof(d->normid), "%s", norm);
    log_event(LOG_DEBUG, "receipt", "smsc=%s smsc_msg_id=%s norm=%s stat=%s tlv=%s", m->cfg->name,
              out.id, norm, stat ? stat : "?", tlv.receipted_message_id ? "yes" : "no");
    char err[24];
    snprintf(err, sizeof(err), "%s", out.err_raw[0] ? out.err_raw : "");
    store_receipt(e->redis, m->cfg->name, norm, stat ? stat : "UNKNOWN", err, dlr_stored, d);
}

static const struct smpp_session_ops smsc_ops = {
    .on_state = smsc_on_state,
    .on_window = smsc_on_window,
    .on_request = smsc_on_request,
};

static void
health_cfg(const struct cfg_smsc *c, struct router_health_cfg *hc)
{
    const struct cfg_error_rate *er = &c->error_rate;
    *hc = (struct router_health_cfg){
        .enabled = er->enabled, .threshold = er->threshold, .window_ms = er->window_s * 1000u,
        .min_samples = er->min_samples, .cooldown_ms = er->cooldown_s * 1000u,
        .cooldown_max_ms = er->cooldown_max_s * 1000u, .probes = er->probes,
    };
}

/* Log (and count) what a health call changed. msg_id and status: the
 * submit that caused it, when one did. */
static void
health_event(struct mt_smsc *m, enum router_health_event ev, uint64_t now, const char *msg_id,
             const char *status)
{
    struct router_health_view v;

    if (ev == ROUTER_HEALTH_NONE)
        return;
    router_health_view(m->health, now, &v);
    switch (ev) {
    case ROUTER_HEALTH_SUSPEND:
        (*m->m_suspensions)++;
        m->suspended_at_ms = now;
        log_event(LOG_WARN, "smsc_suspended",
                  "smsc=%s error_rate=%.2f window=%us min_samples=%u threshold=%.2f cooldown=%us "
                  "msg_id=%s status=%s", m->cfg->name, v.rate_at_suspend,
                  m->cfg->error_rate.window_s, m->cfg->error_rate.min_samples,
                  m->cfg->error_rate.threshold, v.cooldown_ms / 1000u, msg_id ? msg_id : "-",
                  status ? status : "-");
        break;
    case ROUTER_HEALTH_PROBE:
        log_event(LOG_INFO, "smsc_probing", "smsc=%s probes=%u", m->cfg->name,
                  m->cfg->error_rate.probes);
        break;
    case ROUTER_HEALTH_RESUME:
        log_event(LOG_INFO, "smsc_resumed", "smsc=%s msg_id=%s suspended_for=%.1fs", m->cfg->name,
                  msg_id ? msg_id : "-", (double)(now - m->suspended_at_ms) / 1000.0);
        break;
    case ROUTER_HEALTH_PROBE_FAILED:
        log_event(LOG_WARN, "smsc_probe_failed", "smsc=%s msg_id=%s status=%s cooldown=%us",
                  m->cfg->name, msg_id ? msg_id : "-", status ? status : "-",
                  v.cooldown_ms / 1000u);
        break;
    case ROUTER_HEALTH_NONE:
        break;
    }
    if (ev == ROUTER_HEALTH_SUSPEND || ev == ROUTER_HEALTH_PROBE || ev == ROUTER_HEALTH_RESUME ||
        ev == ROUTER_HEALTH_PROBE_FAILED) {
        /* Routes re-pick: jobs waiting for it move on, or to it. */
        for (size_t i = 0; i < m->eng->nroutes; i++)
            route_kick(&m->eng->routes[i]);
    }
}

static void
smsc_init(struct mt_engine *e, struct mt_smsc *m, const struct cfg_smsc *c)
{
    char err[256];

    m->cfg = c;
    m->eng = e;
    {
        static const char *const results[6] = { "ok", "throttled", "temporary", "permanent",
                                                "timeout", "conn_lost" };
        char l[200];
        for (unsigned i = 0; i < 6; i++)
            m->m_resp[i] = metrics_counter("smsgw_submit_resp_total",
                                           metrics_labels(l, sizeof(l), "smsc", c->name,
                                                          "result", results[i]));
        m->m_rtt = metrics_histo("smsgw_submit_resp_seconds",
                                 metrics_labels(l, sizeof(l), "smsc", c->name, NULL, NULL));
        m->m_suspensions = metrics_counter(
            "smsgw_smsc_suspensions_total",
            metrics_labels(l, sizeof(l), "smsc", c->name, NULL, NULL));
    }
    {
        struct router_health_cfg hc;
        health_cfg(c, &hc);
        m->health = router_health_new(&hc);
    }
    if (c->tls) {
        struct smpp_tls_client_cfg tc = { .ca_file = c->tls_ca_file, .cert_file = c->tls_cert_file,
                                          .key_file = c->tls_key_file, .verify = c->tls_verify };
        m->ssl = smpp_tls_client_ctx(&tc, err, sizeof(err));
        if (!m->ssl)
            log_event(LOG_ERROR, "smsc_tls_failed", "smsc=%s error=\"%s\"", c->name, err);
    }
    unsigned per = c->bind_mode == SMSC_BIND_TX_RX ? 2 : 1;
    m->nclients = c->sessions * per;
    m->ntx = c->sessions;
    m->clients = calloc(m->nclients, sizeof(*m->clients));
    if (!m->clients)
        abort();
    for (unsigned i = 0; i < m->nclients; i++) {
        char name[160];
        bool rx = i >= m->ntx;
        snprintf(name, sizeof(name), "%s#%u%s", c->name, i % c->sessions + 1,
                 c->bind_mode == SMSC_BIND_TX_RX ? (rx ? "rx" : "tx") : "");
        struct smpp_client_cfg cc = {
            .name = name, .host = c->host, .port = c->port, .ssl_ctx = m->ssl,
            .bind = { .mode = c->bind_mode == SMSC_BIND_TRX ? SMPP_BIND_TRX
                              : rx ? SMPP_BIND_RX : SMPP_BIND_TX,
                      .system_id = c->system_id, .password = c->password,
                      .system_type = c->system_type },
            .backoff_min_ms = c->reconnect_min_ms, .backoff_max_ms = c->reconnect_max_ms,
        };
        smpp_session_cfg_defaults(&cc.session);
        cc.session.window = c->window;
        cc.session.resp_timeout_ms = c->response_timeout_ms;
        cc.session.enquire_ms = c->enquire_link_s * 1000u;
        m->clients[i] = smpp_client_new(e->base, &cc, &smsc_ops, m);
    }
}

/*
 * The session to send on: among the route's SMSCs of the best priority
 * that has a bound transmitter with room, the SMSC furthest behind its
 * weight's share of the messages this route gave out (route_gave), and on
 * it the session with the fewest requests outstanding. With only set,
 * that SMSC's session (the later parts of a message). NULL when none can
 * take a PDU now.
 *
 * Why shares and not outstanding/weight: with fast resps nothing is
 * outstanding at low rates, and (0 + 1) / weight picks the heaviest SMSC
 * every time: a 3:1 split came out 1:0. Counting what each SMSC was given
 * splits by weight at any rate; an SMSC that comes back after being down
 * is not owed its missed share (route_gave keeps it at most a round behind).
 *
 * Error-rate failover (router/router_health.h), for new messages only
 * (without only; a message whose parts have started stays on its SMSC):
 * a suspended SMSC is left out; a probing one with a probe slot free is
 * chosen before the others of its priority or worse, so that the probe
 * goes out at once (rt->pick_probe). When every SMSC with room is
 * suspended, the one that was suspended at the lowest error rate is used
 * all the same (rt->pick_degraded): an operator would rather send degraded
 * than not at all, and what fails on it takes the route's normal retries.
 */
struct pick {
    struct smpp_session *s;
    struct mt_smsc *m;
    double score, rate;
    unsigned prio;
};

static bool
pick_better(const struct pick *p, const struct pick *best, bool by_rate)
{
    if (!best->s)
        return true;
    if (by_rate && p->rate != best->rate)
        return p->rate < best->rate;
    if (p->prio != best->prio)
        return p->prio < best->prio;
    return p->score < best->score;
}

static struct smpp_session *
pick_session(struct mt_route *rt, struct mt_smsc *only, struct mt_smsc **which, bool *any_bound)
{
    struct mt_engine *e = rt->eng;
    struct pick live = { 0 }, probe = { 0 }, degraded = { 0 };
    uint64_t now = clock_mono_ms();

    *any_bound = false;
    rt->pick_probe = rt->pick_degraded = false;
    for (size_t i = 0; i < rt->cfg->nsmscs; i++) {
        const struct cfg_route_smsc *rs = &rt->cfg->smscs[i];
        struct mt_smsc *m = NULL;
        for (size_t k = 0; k < e->nsmscs; k++)
            if (e->smscs[k].cfg == rs->smsc)
                m = &e->smscs[k];
        if (!m || (only && m != only))
            continue;
        struct smpp_session *ms = NULL;
        unsigned ms_out = 0;
        for (unsigned c = 0; c < m->ntx; c++) {
            struct smpp_session *s = smpp_client_session(m->clients[c]);
            if (!s || (smpp_session_state(s) != SMPP_BOUND_TX &&
                       smpp_session_state(s) != SMPP_BOUND_TRX))
                continue;
            *any_bound = true;
            unsigned out = smpp_session_outstanding(s), win = smpp_session_window(s);
            if (out < win && (!ms || out < ms_out)) {
                ms = s;
                ms_out = out;
            }
        }
        if (!ms)
            continue;
        struct pick p = {
            .s = ms, .m = m, .prio = rs->priority,
            .score = ((rt->shares ? rt->shares[i] : 0) + 1) / (double)(rs->weight ? rs->weight : 1),
        };
        if (only) {
            live = p;
            break;
        }
        health_event(m, router_health_tick(m->health, now), now, NULL, NULL);
        enum router_health_state hs = router_health_state(m->health);
        if (hs == ROUTER_HEALTH_ACTIVE) {
            if (pick_better(&p, &live, false))
                live = p;
        } else if (hs == ROUTER_HEALTH_PROBING && router_health_may_take(m->health)) {
            if (pick_better(&p, &probe, false))
                probe = p;
        } else {
            struct router_health_view v;
            router_health_view(m->health, now, &v);
            p.rate = v.rate_at_suspend;
            if (pick_better(&p, &degraded, true))
                degraded = p;
        }
    }
    if (probe.s && (!live.s || probe.prio <= live.prio)) {
        rt->pick_probe = true;
        *which = probe.m;
        return probe.s;
    }
    if (live.s) {
        *which = live.m;
        return live.s;
    }
    if (degraded.s) {
        rt->pick_degraded = true;
        *which = degraded.m;
        return degraded.s;
    }
    return NULL;
}

/* A message of rt goes to m: count it in m's share. SMSCs of the same
 * priority that fell more than a round behind (down meanwhile) are moved
 * up, so a returning SMSC is not flooded to catch up. */
static void
route_gave(struct mt_route *rt, const struct mt_smsc *m)
{
    size_t i;

    for (i = 0; i < rt->cfg->nsmscs && rt->cfg->smscs[i].smsc != m->cfg; i++)
        ;
    if (!rt->shares || i == rt->cfg->nsmscs)
        return;
    const struct cfg_route_smsc *rs = &rt->cfg->smscs[i];
    rt->shares[i] += 1;
    double round = rt->shares[i] / (double)(rs->weight ? rs->weight : 1) - 1;
    for (size_t j = 0; j < rt->cfg->nsmscs; j++) {
        const struct cfg_route_smsc *o = &rt->cfg->smscs[j];
        double floor = round * (double)(o->weight ? o->weight : 1);
        if (j != i && o->priority == rs->priority && rt->shares[j] < floor)
            rt->shares[j] = floor;
    }
}

/* ---------------------------------------------------------------- jobs */

static void route_tick_cb(evutil_socket_t fd, short what, void *arg);
static void job_finish(struct mt_job *job);

static const char *
status_word(uint32_t st)
{
    return smpp_status_name(st);
}

static unsigned
retry_delay_ms(const struct cfg_route *r, unsigned attempt)
{
    uint64_t d = r->retry_backoff_ms ? r->retry_backoff_ms : 1000;
    for (unsigned i = 1; i < attempt && d < r->retry_backoff_max_ms; i++)
        d *= 2;
    if (r->retry_backoff_max_ms && d > r->retry_backoff_max_ms)
        d = r->retry_backoff_max_ms;
    return (unsigned)d;
}

/*
 * Stream ids of the jobs a route holds in memory. A pass over this
 * consumer's pending entries (after a start, or after Redis came back)
 * returns them too: they must not become second copies (seen in the soak
 * suite: a message submitted 7 times after a reconnect).
 */
#define HELD_BUCKETS 4096u

struct id_node {
    struct id_node *next;
    char id[32];
};

static unsigned
held_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return h % HELD_BUCKETS;
}

static bool
held_has(const struct mt_route *rt, const char *id)
{
    for (const struct id_node *n = rt->held[held_hash(id)]; n; n = n->next)
        if (strcmp(n->id, id) == 0)
            return true;
    return false;
}

static void
held_add(struct mt_route *rt, const char *id)
{
    struct id_node *n = malloc(sizeof(*n)), **b = &rt->held[held_hash(id)];
    if (!n)
        abort();
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->next = *b;
    *b = n;
}

static void
held_del(struct mt_route *rt, const char *id)
{
    for (struct id_node **pp = &rt->held[held_hash(id)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct id_node *n = *pp;
            *pp = n->next;
            free(n);
            return;
        }
    }
}

static void
job_free(struct mt_job *job)
{
    if (job->probe_gen && job->smsc)
        router_health_probe_abandon(job->smsc->health, job->probe_gen);
    if (job->rt && job->rt->held)
        held_del(job->rt, job->j.stream_id);
    free(job->buf);
    free(job);
}

static void
job_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    job_finish(arg);
}

static void
job_stored(void *arg, int rc)
{
    struct mt_job *job = arg;
    struct mt_route *rt = job->rt;

    if (rc < 0) {
        /* Redis did not take the outcome: try again shortly. The entry is
         * still pending in the stream, so even a crash now loses nothing. */
        struct timeval tv = { 0, 500000 };
        job->finishing = false;
        event_base_once(rt->eng->base, -1, EV_TIMEOUT, job_finish_cb, job, &tv);
        return;
    }
    rt->inflight--;
    if (job->outcome) {
        metrics_msg_state(job->outcome);
        mt_notify(rt->eng->webhook, job->j.callback_url, job->j.id, job->outcome,
                  job->j.client_ref, job->outcome_detail, job->j.to, job->j.segments);
        if (strcmp(job->outcome, "submitted") != 0) { /* final: maybe a receipt item */
            clientq_pushed(rt->eng, job->j.account);
            sms_failed(rt->eng, job->j.id, job->outcome);
        }
    }
    job_free(job);
    route_kick(rt);
}


/* Every part has an outcome: record it in Redis. */
static void
job_finish(struct mt_job *job)
{
    struct mt_route *rt = job->rt;
    struct mt_engine *e = rt->eng;
    uint32_t all = job->nparts >= 32 ? 0xFFFFFFFFu : ((1u << job->nparts) - 1);
    char detail[96];

    if (job->finishing)
        return;
    job->finishing = true;
    if (!store_redis_ready(e->redis)) {
        job_stored(job, -1);
        return;
    }
    if ((job->ok_mask & all) == all) {
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=submitted route=%s smsc=%s parts=%u",
                  job->j.id, rt->cfg->name, job->smsc ? job->smsc->cfg->name : "-", job->nparts);
        job->outcome = "submitted";
        store_job_submitted(e->redis, rt->cfg->name, &job->j, job->smsc->cfg->name,
                            job->j.deadline_ms + (uint64_t)e->cfg->receipt_grace_s * 1000u,
                            job_stored, job);
        return;
    }
    if (job->perm_status) {
        e->st.rejected++;
        snprintf(detail, sizeof(detail), "%s", status_word(job->perm_status));
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=rejected route=%s error=%s", job->j.id,
                  rt->cfg->name, detail);
        job->outcome = "rejected";
        snprintf(job->outcome_detail, sizeof(job->outcome_detail), "%s", detail);
        store_job_final(e->redis, rt->cfg->name, &job->j, "rejected", detail, job_stored, job);
        return;
    }
    uint64_t now = store_now_ms();
    struct store_job next = job->j;
    next.parts_mask = all & ~job->ok_mask;
    if (job->throttled) {
        /* The carrier asked us to slow down: not the message's fault, no
         * attempt spent. */
        e->st.retries++;
        store_job_retry(e->redis, rt->cfg->name, &next, now + 500, "throttled", job_stored, job);
        return;
    }
    next.attempt = job->j.attempt + 1;
    if (now >= job->j.deadline_ms) {
        e->st.expired++;
        job->outcome = "expired";
        store_job_final(e->redis, rt->cfg->name, &job->j, "expired", "validity ended before submit",
                        job_stored, job);
        return;
    }
    if (next.attempt > rt->cfg->retry_attempts) {
        e->st.failed++;
        job->outcome = "failed";
        snprintf(job->outcome_detail, sizeof(job->outcome_detail), "retry attempts exhausted");
        store_job_final(e->redis, rt->cfg->name, &job->j, "failed", "retry attempts exhausted",
                        job_stored, job);
        return;
    }
    e->st.retries++;
    /* Which SMSC failed it, and how: after a failover the history shows
     * the message leaving the failing SMSC. */
    snprintf(detail, sizeof(detail), "attempt=%u smsc=%s error=%s", next.attempt,
             job->smsc ? job->smsc->cfg->name : "-", job->temp_error[0] ? job->temp_error : "-");
    store_job_retry(e->redis, rt->cfg->name, &next, now + retry_delay_ms(rt->cfg, next.attempt),
                    detail, job_stored, job);
}

static void
part_resp(struct smpp_session *s, enum smpp_req_result res, const struct smpp_pdu *resp, void *arg)
{
    struct mt_part part = *(struct mt_part *)arg, *p = &part;
    struct mt_job *job = p->job;
    struct mt_route *rt = job->rt;
    struct mt_engine *e = rt->eng;
    (void)s;

    free(arg);
    job->pending--;
    if (res == SMPP_REQ_RESP)
        metrics_observe(job->smsc->m_rtt, (double)(clock_mono_us() - p->sent_us) / 1e6);
    (*job->smsc->m_resp[res == SMPP_REQ_TIMEOUT ? 4 : res != SMPP_REQ_RESP ? 5
                        : resp->hdr.command_status == ESME_ROK ? 0
                        : resp->hdr.command_status == ESME_RTHROTTLED ||
                          resp->hdr.command_status == ESME_RMSGQFUL ? 1
                        : smpp_status_is_temporary(resp->hdr.command_status) ? 2 : 3])++;
    {
        /* A dropped bind (conn_lost) is the bind-down failover's business,
         * and one admin rebind with a full window would otherwise count as
         * a window of errors: neither. A timeout is an error. */
        enum router_health_outcome ho = res == SMPP_REQ_TIMEOUT ? ROUTER_HEALTH_ERROR
                                      : res != SMPP_REQ_RESP ? ROUTER_HEALTH_NEUTRAL
                                      : router_health_classify(resp->hdr.command_status);
        uint64_t now = clock_mono_ms();
        unsigned gen = job->probe_gen;
        job->probe_gen = 0;     /* the probe is its first outcome; later parts are ordinary */
        health_event(job->smsc, router_health_record(job->smsc->health, now, ho, gen), now,
                     job->j.id, res == SMPP_REQ_TIMEOUT ? "timeout"
                                : res != SMPP_REQ_RESP ? "conn_lost"
                                : status_word(resp->hdr.command_status));
    }
    if (res == SMPP_REQ_RESP && resp->hdr.command_status == ESME_ROK) {
        char norm[80];
        const char *raw = resp->has_body ? (const char *)resp->u.submit_sm_resp.message_id : "";
        e->st.resp_ok++;
        job->ok_mask |= 1u << p->idx;
        if (smpp_dlr_normalize_id(raw, job->smsc->cfg->resp_id_format, norm, sizeof(norm)) < 0)
            snprintf(norm, sizeof(norm), "%s", raw);
        unsigned ttl = (unsigned)((job->j.deadline_ms > store_now_ms()
                                   ? (job->j.deadline_ms - store_now_ms()) / 1000 : 0) + 86400);
        if (raw[0])
            store_part_submitted(e->redis, job->smsc->cfg->name, norm, raw, &job->j, p->idx, ttl);
    } else if (res == SMPP_REQ_RESP && (resp->hdr.command_status == ESME_RTHROTTLED ||
                                        resp->hdr.command_status == ESME_RMSGQFUL)) {
        e->st.resp_throttled++;
        (*rt->m_throttled)++;
        job->throttled = true;
        job->temp_mask |= 1u << p->idx;
        /* the carrier's limit is per bind/route: slow the route */
        router_pacer_throttled(rt->pace.p, clock_mono_us());
    } else if (res != SMPP_REQ_RESP || smpp_status_is_temporary(resp->hdr.command_status)) {
        e->st.resp_temp++;
        job->temp_mask |= 1u << p->idx;
        snprintf(job->temp_error, sizeof(job->temp_error), "%s",
                 res == SMPP_REQ_TIMEOUT ? "timeout" : res != SMPP_REQ_RESP ? "conn_lost"
                 : status_word(resp->hdr.command_status));
    } else {
        e->st.resp_perm++;
        job->perm_status = resp->hdr.command_status;
    }
    if (job->pending == 0 && job->next >= job->nparts)
        job_finish(job);
}

/* Undo job_prepare for a job none of whose parts went out: it picks again. */
static void
job_unprepare(struct mt_job *job, const char *why)
{
    if (job->probe_gen)
        router_health_probe_abandon(job->smsc->health, job->probe_gen);
    log_event(LOG_INFO, "msg_moved", "msg_id=%s route=%s from_smsc=%s reason=%s",
              job->j.id, job->rt->cfg->name, job->smsc->cfg->name, why);
    free(job->buf);
    job->buf = NULL;
    job->smsc = NULL;
    job->probe_gen = 0;
    job->nparts = job->next = 0;
    job->ok_mask = job->temp_mask = 0;
    job->npaces = 0;
}

/* Split the job's text for the SMSC it goes to. */
static bool
job_prepare(struct mt_job *job, struct mt_smsc *m)
{
    struct smpp_text_split_opts o = {
        .enc = strcmp(job->j.encoding, "ucs2") == 0 ? SMPP_TEXT_ENC_UCS2 : SMPP_TEXT_ENC_GSM7,
        .concat = m->cfg->concat,
        .ref = (uint16_t)job->j.ref,
        .max_parts = MAX_PARTS,
    };
    size_t bufsz = SMPP_TEXT_SPLIT_BUFSZ(MAX_PARTS), erroff = 0;

    job->smsc = m;
    job->buf = malloc(bufsz);
    if (!job->buf)
        abort();
    int rc = smpp_text_split(job->j.text, job->j.text_len, &o, job->buf, bufsz, job->parts,
                             &job->split, &erroff);
    if (rc != SMPP_TEXT_OK) {
        log_event(LOG_ERROR, "msg_split_failed", "msg_id=%s error=\"%s\"", job->j.id,
                  smpp_text_strerror(rc));
        return false;
    }
    job->nparts = job->split.nparts;
    job->paces[0] = &job->rt->pace;
    job->npaces = 1;
    const struct gw_config *cfg = job->rt->eng->cfg;
    const struct cfg_sender *snd = config_sender(cfg, job->j.from);
    if (snd && job->rt->eng->sender_pace[snd - cfg->senders].p)
        job->paces[job->npaces++] = &job->rt->eng->sender_pace[snd - cfg->senders];
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (strcmp(cfg->accounts[i].name, job->j.account) == 0 && job->rt->eng->account_pace[i].p)
            job->paces[job->npaces++] = &job->rt->eng->account_pace[i];
    return true;
}

static bool
part_selected(const struct mt_job *job, unsigned i)
{
    return job->j.parts_mask == 0 || (job->j.parts_mask & (1u << i));
}

static unsigned ready_backlog(const struct mt_route *rt);

/* Parts the route will want slots for soon: those in memory, plus a read
 * batch while the queue is not known to be empty. */
static unsigned
route_demand(const struct mt_route *rt)
{
    return ready_backlog(rt) + (rt->idle ? 0 : rt->read_batch);
}
static void grant_reply(struct store_redis *r, redisReply *reply, void *arg);

/* Ask Redis for the limit's next slots unless a request is out already. */
static void
request_grant(struct mt_pace *pc, uint64_t now, unsigned backlog, bool eval)
{
    if (pc->granting && !eval)
        return;
    /* Drop blocks whose slots all passed unused (e.g. while no bind was
     * up): they count against the pacer's block table. */
    router_pacer_take(pc->p, now, 0);
    if (backlog)
        pc->backlog = backlog;
    unsigned want = router_pacer_grant_want(pc->p, now, pc->backlog ? pc->backlog : 1);
    if (!want && eval)
        want = 1;
    if (want && router_pacer_grant_cmd(pc->p, &pc->cmd, pc->key, want, now, eval) == 0) {
        struct mt_engine *e = pc->eng;
        if (store_redis_argv(e->pacer_redis ? e->pacer_redis : e->redis, grant_reply, pc,
                             pc->cmd.argc, pc->cmd.argv, pc->cmd.argvlen) == 0)
            pc->granting = true;
        else    /* not sent: clear the pacer's request-in-flight mark */
            router_pacer_apply_grant(pc->p, NULL, now);
    }
    /* (only requests: a take with runway left asks for nothing, and at
     * 10,000 mps that was a line per send) */
    if (want && log_on(LOG_DEBUG, "pacer_grant_request"))
        log_event(LOG_DEBUG, "pacer_grant_request", "limit=%s want=%u backlog=%u sent=%s", pc->name,
                  want, pc->backlog, pc->granting ? "yes" : "no");
}

static void
grant_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct mt_pace *pc = arg;
    /* A NULL reply (connection lost or timed out) must reach the pacer
     * too, or it keeps waiting for this grant and never asks again: a
     * route stalled this way after a Redis timeout (pacing bench). */
    int rc = router_pacer_apply_grant(pc->p, reply, clock_mono_us());

    (void)r;
    pc->granting = false;
    if (log_on(LOG_DEBUG, "pacer_grant"))
        log_event(LOG_DEBUG, "pacer_grant", "limit=%s rc=%d", pc->name, rc);
    if (rc == ROUTER_PACER_NOSCRIPT) {
        /* First use on this Redis (or after SCRIPT FLUSH): send the body. */
        request_grant(pc, clock_mono_us(), 0, true);
        return;
    }
    if (rc == ROUTER_PACER_ERROR && reply && reply->type == REDIS_REPLY_ERROR)
        log_event(LOG_WARN, "pacer_grant_failed", "limit=%s error=\"%s\"", pc->name, reply->str);
    if (pc->rt) {
        route_kick(pc->rt);
    } else {
        for (size_t i = 0; i < pc->eng->nroutes; i++)
            route_kick(&pc->eng->routes[i]);
    }
}

/* One slot from every limit of the job, or none. */
static bool
pace_take(struct mt_job *job, uint64_t now)
{
    struct router_pacer *v[3];
    for (unsigned i = 0; i < job->npaces; i++)
        v[i] = job->paces[i]->p;
    if (router_pacer_take_all(v, job->npaces, now, 1) != 1)
        return false;
    /* Ask for the next grant while the runway lasts (under half the
     * horizon left), not once it is gone: a grant asked at exhaustion
     * starts at Redis's now + lead, and the slots between the last grant's
     * end and that start are lost. At 1,000 mps that was ~1 ms per grant,
     * 1% of the rate (pacer_stats: 990 granted a second). */
    /* (route_demand walks the jobs in memory, up to a thousand at high
     * rates: only when the runway is short enough for a request at all) */
    for (unsigned i = 0; i < job->npaces; i++)
        if (!job->paces[i]->granting && router_pacer_grant_want(job->paces[i]->p, now, UINT_MAX))
            request_grant(job->paces[i], now, route_demand(job->rt), false);
    return true;
}

/* The job could not have a slot: ask for grants where slots ran out and
 * wake when the next slot of the limits that have some is due. */
static void
pace_wait(struct mt_job *job, uint64_t now)
{
    struct mt_route *rt = job->rt;
    uint64_t wait = ROUTER_PACER_NEVER;
    unsigned backlog = route_demand(rt);

    for (unsigned i = 0; i < job->npaces; i++) {
        struct mt_pace *pc = job->paces[i];
        uint64_t w = router_pacer_next_us(pc->p, now);
        if (log_on(LOG_DEBUG, "pacer_wait"))
            log_event(LOG_DEBUG, "pacer_wait", "msg_id=%s limit=%s next_us=%lld granting=%d",
                      job->j.id, pc->name, w == ROUTER_PACER_NEVER ? -1LL : (long long)w,
                      pc->granting);
        if (w == ROUTER_PACER_NEVER)
            request_grant(pc, now, backlog, false);     /* its reply kicks */
        else if (w > 0 && (wait == ROUTER_PACER_NEVER || w > wait))
            wait = w;   /* every limit must have a slot: wait for the latest */
    }
    if (wait != ROUTER_PACER_NEVER && !evtimer_pending(rt->tick, NULL)) {
        struct timeval tv = { (time_t)(wait / 1000000u), (suseconds_t)(wait % 1000000u) };
        evtimer_add(rt->tick, &tv);
    }
}

/* Send what pacing and windows allow. Returns false when blocked. */
static bool
job_send_some(struct mt_job *job, uint64_t now)
{
    struct mt_route *rt = job->rt;
    static struct smpp_pdu pdu;

    while (job->next < job->nparts) {
        unsigned i = job->next;
        if (!part_selected(job, i)) {
            job->ok_mask |= 1u << i;        /* sent on an earlier attempt */
            job->next++;
            continue;
        }
        struct mt_smsc *m = NULL;
        bool any;
        struct smpp_session *s = pick_session(rt, job->smsc, &m, &any);
        if (!s)
            return false;
        /* The clock now, not the caller's `now`: the guards count the send
         * at this time, and a pass over many jobs runs for milliseconds.
         * A stale time let real sends crowd a window (1,002 in 1 s at
         * 1,000 mps). */
        now = clock_mono_us();
        if (!pace_take(job, now)) {
            pace_wait(job, now);
            return false;
        }
        const struct smpp_text_part *tp = &job->parts[i];
        smpp_pdu_init(&pdu, SUBMIT_SM, 0, 0);
        submit_sm_t *b = &pdu.u.submit_sm;
        const char *from = job->j.from[0] == '+' ? job->j.from + 1 : job->j.from;
        snprintf((char *)b->source_addr, sizeof(b->source_addr), "%.20s", from);
        b->source_addr_ton = job->j.ton;
        b->source_addr_npi = job->j.npi;
        if (job->j.ton == 3 && m->cfg->short_code_ton_set) {
            b->source_addr_ton = m->cfg->short_code_ton;
            b->source_addr_npi = m->cfg->short_code_npi;
        }
        snprintf((char *)b->destination_addr, sizeof(b->destination_addr), "%.20s", job->j.to);
        b->dest_addr_ton = 1;
        b->dest_addr_npi = 1;
        b->registered_delivery = 1;
        /* What is left of the message's validity, as an SMPP relative time
         * (YYMMDDhhmmss000R), so the SMSC stops trying when we would. */
        uint64_t nowms = store_now_ms();
        if (job->j.deadline_ms > nowms) {
            uint64_t left = (job->j.deadline_ms - nowms) / 1000u;
            unsigned dd = (unsigned)(left / 86400u), hh = (unsigned)(left % 86400u / 3600u),
                     mi = (unsigned)(left % 3600u / 60u), ss = (unsigned)(left % 60u);
            if (dd > 99)
                dd = 99;
            snprintf((char *)b->validity_period, sizeof(b->validity_period),
                     "0000%02u%02u%02u%02u000R", dd, hh, mi, ss);
        }
        b->data_coding = job->split.data_coding == 0 ? m->cfg->default_data_coding
                                                     : job->split.data_coding;
        if (tp->esm_udhi)
            b->esm_class |= 0x40;
        if (tp->payload) {
            pdu.tlv.present |= SMPP_TLV_MESSAGE_PAYLOAD;
            pdu.tlv.message_payload_len = tp->len;
            memcpy(pdu.tlv.message_payload, tp->sm, tp->len);
        } else {
            b->sm_length = (uint8_t)tp->len;
            memcpy(b->short_message, tp->sm, tp->len);
        }
        if (tp->sar) {
            pdu.tlv.present |= SMPP_TLV_SAR_MSG_REF_NUM | SMPP_TLV_SAR_TOTAL_SEGMENTS |
                               SMPP_TLV_SAR_SEGMENT_SEQNUM;
            pdu.tlv.sar_msg_ref_num = tp->sar_ref;
            pdu.tlv.sar_total_segments = tp->sar_total;
            pdu.tlv.sar_segment_seqnum = tp->sar_seq;
        }
        struct mt_part *p = calloc(1, sizeof(*p));
        if (!p)
            abort();
        p->job = job;
        p->idx = i;
        p->sent_us = clock_mono_us();
        job->pending++;
        job->next++;
        enum smpp_rc rc = smpp_session_send(s, &pdu, part_resp, p, NULL);
        if (rc != SMPP_OK) {
            /* cannot happen after pick_session found room; treat as temp */
            job->pending--;
            job->next--;
            free(p);
            return false;
        }
        job->sent++;
        rt->eng->st.submitted_parts++;
        (*rt->m_submitted)++;
        if (log_on(LOG_DEBUG, "submit_sm"))
            log_event(LOG_DEBUG, "submit_sm", "msg_id=%s part=%u route=%s smsc=%s session=%u",
                      job->j.id, i, rt->cfg->name, m->cfg->name, smpp_session_id(s));
        /* The guards count the PDU from now on, when it is in the session's
         * buffer (and its log line written), not from the take. */
        uint64_t sent = clock_mono_us();
        for (unsigned k = 0; k < job->npaces; k++)
            router_pacer_sent(job->paces[k]->p, 1, sent);
    }
    return true;
}

/* ---------------------------------------------------------------- routes */

static void
ready_push(struct mt_route *rt, struct mt_job *job)
{
    job->next_job = NULL;
    if (rt->ready_tail)
        rt->ready_tail->next_job = job;
    else
        rt->ready_head = job;
    rt->ready_tail = job;
    rt->nready++;
}

static void
ready_pop(struct mt_route *rt)
{
    struct mt_job *j = rt->ready_head;
    rt->ready_head = j->next_job;
    if (!rt->ready_head)
        rt->ready_tail = NULL;
    rt->nready--;
}

static void
jobs_read(void *arg, int n, struct store_job *jobs)
{
    struct mt_route *rt = arg;

    bool pending = rt->reading_pending;

    rt->reading = false;
    rt->reading_pending = false;
    if (n < 0) {
        /* Redis failed (or is still loading its data): try again in a
         * moment, not at once (a busy loop of ~600 reads/s was seen while
         * Redis loaded its AOF). */
        if (!evtimer_pending(rt->tick, NULL)) {
            struct timeval tv = { 0, 200000 };
            evtimer_add(rt->tick, &tv);
        }
        return;
    }
    if (n == 0) {
        if (rt->recovered)
            rt->idle = true;    /* read again on the next poll or wake-up */
        rt->recovered = true;
    } else if (pending) {
        snprintf(rt->recover_after, sizeof(rt->recover_after), "%s", jobs[n - 1].stream_id);
    }
    for (int i = 0; i < n; i++) {
        if (held_has(rt, jobs[i].stream_id))
            continue;           /* already in memory: read before a reconnect */
        struct mt_job *job = calloc(1, sizeof(*job));
        if (!job)
            abort();
        job->j = jobs[i];
        job->rt = rt;
        held_add(rt, job->j.stream_id);
        rt->inflight++;
        if (!job->j.id[0]) {
            log_event(LOG_WARN, "queue_entry_invalid", "route=%s stream_id=%s", rt->cfg->name,
                      job->j.stream_id);
            job->finishing = true;
            store_job_final(rt->eng->redis, rt->cfg->name, &job->j, "failed", "invalid queue entry",
                            job_stored, job);
            continue;
        }
        ready_push(rt, job);
    }
    route_kick(rt);
}

/* Parts waiting in memory: what the route asks the shared pacer for. */
static unsigned
ready_backlog(const struct mt_route *rt)
{
    unsigned n = 0;
    for (const struct mt_job *j = rt->ready_head; j; j = j->next_job)
        n += j->smsc ? j->nparts - j->next : (j->j.segments ? j->j.segments : 1);
    return n;
}

static void
route_run(struct mt_route *rt)
{
    struct mt_engine *e = rt->eng;
    uint64_t now = clock_mono_us();

    if (e->stopping || rt->paused || !store_redis_ready(e->redis))
        return;
    /* Send from jobs already in memory, oldest first. Slots are asked for
     * only once a session can take the PDUs (pace_wait): slots drawn while
     * every bind is down would be wasted for the other instances too. */
    while (rt->ready_head) {
        struct mt_job *job = rt->ready_head;
        if (job->smsc && job->sent == 0) {
            /* Nothing of it went out yet, and its SMSC lost every bind or
             * was suspended while it waited (pacing, window): it moves to
             * the SMSC the route would choose now (for a suspension, unless
             * that one is suspended too). Left there, it would hold the
             * whole route behind it until the SMSC came back. */
            struct mt_smsc *m = NULL;
            bool any = false;
            bool down = !pick_session(rt, job->smsc, &m, &any) && !any;
            bool out = !job->probe_gen &&
                       router_health_state(job->smsc->health) != ROUTER_HEALTH_ACTIVE;
            if ((down || out) && pick_session(rt, NULL, &m, &any) && m != job->smsc &&
                (down || !rt->pick_degraded))
                job_unprepare(job, down ? "binds_down" : "suspended");
        }
        if (!job->smsc) {
            struct mt_smsc *m = NULL;
            bool any = false;
            if (!pick_session(rt, NULL, &m, &any)) {
                if (!any && !rt->warned_down) {
                    log_event(LOG_WARN, "route_down", "route=%s reason=\"no bound SMSC session\" queued_in_memory=%u",
                              rt->cfg->name, rt->nready);
                    rt->warned_down = true;
                }
                return;
            }
            rt->warned_down = false;
            /* A probe says nothing of the route: the others are still out. */
            if (!rt->pick_probe && rt->pick_degraded != rt->degraded) {
                rt->degraded = rt->pick_degraded;
                if (rt->degraded)
                    log_event(LOG_WARN, "route_degraded", "route=%s smsc=%s reason=\"every SMSC "
                              "with a bind is suspended; sending on the least bad\"",
                              rt->cfg->name, m->cfg->name);
                else
                    log_event(LOG_INFO, "route_degraded_end", "route=%s smsc=%s", rt->cfg->name,
                              m->cfg->name);
            }
            bool probe = rt->pick_probe;
            route_gave(rt, m);
            if (!job_prepare(job, m)) {
                ready_pop(rt);
                job->finishing = true;
                store_job_final(e->redis, rt->cfg->name, &job->j, "failed", "text could not be encoded",
                                job_stored, job);
                continue;
            }
            if (probe) {
                job->probe_gen = router_health_probe_start(m->health);
                log_event(LOG_INFO, "smsc_probe", "smsc=%s msg_id=%s route=%s", m->cfg->name,
                          job->j.id, rt->cfg->name);
            }
        }
        if (!job_send_some(job, now))
            break;      /* window full (on_window kicks) or pacing (timer/grant) */
        ready_pop(rt);
        if (job->pending == 0)
            job_finish(job);
    }
    /* Read ahead while half a batch or less is left, whether or not this
     * run sent everything: refilling only an empty list left the route
     * idle for two Redis round trips every batch. */
    /* Nothing is read while the route has no bound session: an entry read
     * is this instance's (pending in the group) and no longer cancellable,
     * and another instance with a live bind could send it instead. A bind
     * coming up kicks the route. */
    struct mt_smsc *bm = NULL;
    bool bound = false;
    if (!rt->reading && !rt->idle && rt->nready <= rt->read_batch / 2)
        pick_session(rt, NULL, &bm, &bound);
    if (bound && !rt->reading && !rt->idle && rt->nready <= rt->read_batch / 2 &&
        rt->inflight < ROUTE_INFLIGHT_MAX) {
        rt->reading = true;
        rt->reading_pending = !rt->recovered;
        store_queue_read(e->redis, rt->cfg->name, e->consumer, rt->read_batch,
                         rt->recovered ? NULL : rt->recover_after, jobs_read, rt);
    }
}

static void
route_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    route_run(arg);
}

static void
route_kick(struct mt_route *rt)
{
    /* Run from the loop, not inside the caller (often a session callback). */
    if (!evtimer_pending(rt->tick, NULL)) {
        struct timeval tv = { 0, 0 };
        evtimer_add(rt->tick, &tv);
    }
}

/* An empty queue is polled: 20 times a second per route is cheap for Redis
 * and keeps accept-to-submit latency low without a blocking connection. */
/* One line per limit whose counters moved in the last 10 s: where slots go
 * (sent, dropped unused past their lateness budget, sends held by a window
 * guard), for pacing diagnosis. */
static void
log_pace_line(struct mt_pace *pc, struct router_pacer_stats *last)
{
    struct router_pacer_stats st;

    if (!pc->p)
        return;
    router_pacer_get_stats(pc->p, &st);
    if (st.sent == last->sent && st.granted == last->granted && st.dropped == last->dropped)
        return;
    log_event(LOG_INFO, "pacer_stats", "limit=%s sent=%llu granted=%llu dropped=%llu "
              "guarded=%llu grants=%llu tight_grants=%llu throttles=%llu rtt_us=%llu "
              "err_us=%llu j_us=%llu",
              pc->name,
              (unsigned long long)(st.sent - last->sent),
              (unsigned long long)(st.granted - last->granted),
              (unsigned long long)(st.dropped - last->dropped),
              (unsigned long long)(st.guarded - last->guarded),
              (unsigned long long)(st.grants - last->grants),
              (unsigned long long)(st.tight_grants - last->tight_grants),
              (unsigned long long)(st.throttles - last->throttles),
              (unsigned long long)st.rtt_us, (unsigned long long)st.err_us,
              (unsigned long long)st.j_us);
    *last = st;
}

static void
log_pacer_stats(struct mt_engine *e)
{
    for (size_t i = 0; i < e->nroutes; i++)
        log_pace_line(&e->routes[i].pace, &e->routes[i].pace.last);
    for (size_t i = 0; i < e->cfg->nsenders; i++)
        log_pace_line(&e->sender_pace[i], &e->sender_pace[i].last);
    for (size_t i = 0; i < e->cfg->naccounts; i++)
        log_pace_line(&e->account_pace[i], &e->account_pace[i].last);
}

/* send_at / quiet hours over: the message is queued; its callback says so. */
static void
sched_released(void *arg, int n, const struct store_sched_released *rel)
{
    struct mt_engine *e = arg;
    for (int i = 0; i < n; i++) {
        metrics_msg_state("queued");
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=queued reason=released", rel[i].id);
        mt_notify(e->webhook, rel[i].callback_url, rel[i].id, "queued", rel[i].client_ref, NULL,
                  rel[i].to, rel[i].segments);
    }
}

/* No final receipt by the end of the validity (+ receipt_grace_s): the
 * carrier will not say any more; the message ends "unknown". */
static void
receipts_timed_out(void *arg, int n, const struct store_sched_released *m)
{
    struct mt_engine *e = arg;
    for (int i = 0; i < n; i++) {
        metrics_msg_state("unknown");
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=unknown reason=no_receipt", m[i].id);
        mt_notify(e->webhook, m[i].callback_url, m[i].id, "unknown", m[i].client_ref,
                  "no receipt by the end of the validity period", m[i].to, m[i].segments);
    }
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mt_engine *e = arg;
    (void)fd;
    (void)what;
    if (e->stopping)
        return;     /* a predecessor after a reload: its successor has the SMSCs' state */
    /* A suspended SMSC starts probing when its cooldown is over, whether
     * or not a route looks for a session meanwhile (smsgwctl shows it). */
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < e->nsmscs; i++)
        health_event(&e->smscs[i], router_health_tick(e->smscs[i].health, now), now, NULL, NULL);
    if (!store_redis_ready(e->redis))
        return;
    store_sched_promote(e->redis, 200, sched_released, e);
    static unsigned polls;
    if (++polls % 20 == 0) {            /* once a second */
        store_mo_expire(e->redis);
        store_sched_sweep_receipts(e->redis, 500, receipts_timed_out, e);
    }
    if (polls % 200 == 0)
        log_pacer_stats(e);             /* every 10 s */
    for (size_t i = 0; i < e->nroutes; i++) {
        e->routes[i].idle = false;
        route_kick(&e->routes[i]);
    }
}

static void
redis_ready(struct store_redis *r, void *arg)
{
    struct mt_engine *e = arg;
    for (size_t i = 0; i < e->nroutes; i++) {
        store_queue_init(r, e->routes[i].cfg->name);
        /* Entries another instance held for a minute are taken over. */
        store_queue_claim(r, e->routes[i].cfg->name, e->consumer, 60000);
        e->routes[i].recovered = false;
        snprintf(e->routes[i].recover_after, sizeof(e->routes[i].recover_after), "0");
        route_kick(&e->routes[i]);
    }
}

/* The grant connection is back: routes waiting for slots ask again. */
static void
pacer_redis_ready(struct store_redis *r, void *arg)
{
    struct mt_engine *e = arg;
    (void)r;
    for (size_t i = 0; i < e->nroutes; i++)
        route_kick(&e->routes[i]);
}

void
mt_engine_set_pacer_redis(struct mt_engine *e, struct store_redis *r)
{
    e->pacer_redis = r;
    if (r)
        store_redis_on_ready(r, pacer_redis_ready, e);
}

static void
pace_init(struct mt_pace *pc, struct mt_engine *e, struct mt_route *rt, unsigned mps,
          const char *kind, const char *name)
{
    pc->eng = e;
    pc->rt = rt;
    pc->p = router_pacer_new(mps, 0);
    /* How late a slot may still be used (J in docs/pacing.md). Longer is
     * kinder to a busy event loop but widens the grant spacing to
     * max((1 s + J + d)/mps, (100 ms + J + d)/(mps/10 + 1)); J = 900 µs +
     * 1 s/mps, at most 9 ms, keeps that within 1% of 1/mps at every rate
     * (0.94% at 1,000 mps). Tried: the largest J within 0.3% (1.25 ms at
     * 1,000 mps) left too little slack on this 2-core machine: 7.7% of the
     * slots expired unused (pacer_stats), against 0.1% with this J. */
    unsigned late = 900u + 1000000u / (mps ? mps : 1);
    router_pacer_set_shared(pc->p, late > 9000u ? 9000u : late);
    snprintf(pc->key, sizeof(pc->key), "%srate:%s:%s", store_redis_prefix(e->redis), kind, name);
    snprintf(pc->name, sizeof(pc->name), "%s:%s", kind, name);
}

struct mt_engine *
mt_engine_new(struct event_base *base, const struct gw_config *cfg, struct store_redis *redis)
{
    struct mt_engine *e = calloc(1, sizeof(*e));

    if (!e)
        abort();
    e->base = base;
    e->cfg = cfg;
    e->redis = redis;
    snprintf(e->consumer, sizeof(e->consumer), "%s", cfg->instance ? cfg->instance : "smsgwd");
    e->nsmscs = cfg->nsmscs;
    e->smscs = calloc(cfg->nsmscs ? cfg->nsmscs : 1, sizeof(*e->smscs));
    e->nroutes = cfg->nroutes;
    e->routes = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*e->routes));
    if (!e->smscs || !e->routes)
        abort();
    for (size_t i = 0; i < cfg->nsmscs; i++)
        smsc_init(e, &e->smscs[i], &cfg->smscs[i]);
    e->sender_pace = calloc(cfg->nsenders ? cfg->nsenders : 1, sizeof(*e->sender_pace));
    e->account_pace = calloc(cfg->naccounts ? cfg->naccounts : 1, sizeof(*e->account_pace));
    if (!e->sender_pace || !e->account_pace)
        abort();
    for (size_t i = 0; i < cfg->nsenders; i++)
        if (cfg->senders[i].mps)
            pace_init(&e->sender_pace[i], e, NULL, cfg->senders[i].mps, "sender",
                      cfg->senders[i].address);
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (cfg->accounts[i].mps)
            pace_init(&e->account_pace[i], e, NULL, cfg->accounts[i].mps, "account",
                      cfg->accounts[i].name);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        struct mt_route *rt = &e->routes[i];
        rt->cfg = &cfg->routes[i];
        rt->eng = e;
        pace_init(&rt->pace, e, rt, rt->cfg->mps, "route", rt->cfg->name);
        char l[120];
        metrics_labels(l, sizeof(l), "route", rt->cfg->name, NULL, NULL);
        rt->m_submitted = metrics_counter("smsgw_route_submitted_total", l);
        rt->m_throttled = metrics_counter("smsgw_route_throttled_total", l);
        rt->read_batch = rt->cfg->mps / 10;
        if (rt->read_batch < READ_BATCH_MIN)
            rt->read_batch = READ_BATCH_MIN;
        if (rt->read_batch > READ_BATCH_MAX)
            rt->read_batch = READ_BATCH_MAX;
        rt->tick = evtimer_new(base, route_tick_cb, rt);
        rt->shares = calloc(rt->cfg->nsmscs ? rt->cfg->nsmscs : 1, sizeof(*rt->shares));
        if (!rt->shares)
            abort();
        rt->held = calloc(HELD_BUCKETS, sizeof(*rt->held));
        if (!rt->tick || !rt->held)
            abort();
        snprintf(rt->recover_after, sizeof(rt->recover_after), "0");
    }
    struct timeval p = { 0, 50000 };
    e->promote_ev = event_new(base, -1, EV_PERSIST, poll_cb, e);
    evtimer_add(e->promote_ev, &p);
    store_redis_on_ready(redis, redis_ready, e);
    return e;
}

void
mt_engine_start(struct mt_engine *e)
{
    e->stopping = false;        /* a successor waits stopped until its predecessor drained */
    for (size_t i = 0; i < e->nsmscs; i++)
        for (unsigned c = 0; c < e->smscs[i].nclients && !e->smscs[i].adopted; c++)
            smpp_client_start(e->smscs[i].clients[c]);
    if (store_redis_ready(e->redis))
        redis_ready(e->redis, e);
}

static void
client_stopped(struct smpp_client *c, void *arg)
{
    struct mt_engine *e = arg;
    (void)c;
    if (e->stop_waits > 0 && --e->stop_waits == 0 && e->stop_done)
        e->stop_done(e->stop_arg);
}

static void
stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mt_engine *e = arg;
    unsigned inflight = 0;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < e->nroutes; i++)
        inflight += e->routes[i].inflight - e->routes[i].nready;
    /* Also Redis requests whose replies point into the engine: a queue read
     * or a pacer grant still out when the engine is freed (the Redis links
     * are freed after it, answering what is pending) would reach freed
     * memory. */
    for (size_t i = 0; i < e->nroutes; i++)
        inflight += e->routes[i].reading + e->routes[i].pace.granting;
    for (size_t i = 0; i < e->cfg->nsenders; i++)
        inflight += e->sender_pace[i].granting;
    for (size_t i = 0; i < e->cfg->naccounts; i++)
        inflight += e->account_pace[i].granting;
    if (inflight > 0 && ++e->stop_ticks < 100)
        return;     /* wait up to ~10 s for resps of what is on the wire */
    event_del(e->stop_ev);
    e->stop_waits = 0;
    for (size_t i = 0; i < e->nsmscs; i++)
        e->stop_waits += e->smscs[i].nclients;
    if (e->stop_waits == 0) {
        if (e->stop_done)
            e->stop_done(e->stop_arg);
        return;
    }
    for (size_t i = 0; i < e->nsmscs; i++)
        for (unsigned c = 0; c < e->smscs[i].nclients; c++)
            smpp_client_stop(e->smscs[i].clients[c], client_stopped, e);
}

void
mt_engine_stop(struct mt_engine *e, void (*done)(void *), void *arg)
{
    struct timeval tv = { 0, 100000 };

    e->stopping = true;
    e->stop_done = done;
    e->stop_arg = arg;
    e->stop_ev = event_new(e->base, -1, EV_PERSIST, stop_check_cb, e);
    event_add(e->stop_ev, &tv);
}

void
mt_engine_free(struct mt_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nroutes; i++) {
        struct mt_route *rt = &e->routes[i];
        while (rt->ready_head) {
            struct mt_job *j = rt->ready_head;
            ready_pop(rt);
            job_free(j);
        }
        event_free(rt->tick);
        router_pacer_free(rt->pace.p);
    }
    for (size_t i = 0; i < e->nsmscs; i++) {
        for (unsigned c = 0; c < e->smscs[i].nclients; c++)
            smpp_client_free(e->smscs[i].clients[c]);
        free(e->smscs[i].clients);
        if (e->smscs[i].ssl)
            SSL_CTX_free(e->smscs[i].ssl);
        router_health_free(e->smscs[i].health);
        e->smscs[i].health = NULL;
    }
    for (size_t i = 0; i < e->cfg->nsenders; i++)
        router_pacer_free(e->sender_pace[i].p);
    for (size_t i = 0; i < e->cfg->naccounts; i++)
        router_pacer_free(e->account_pace[i].p);
    free(e->sender_pace);
    free(e->account_pace);
    if (e->stop_ev)
        event_free(e->stop_ev);
    event_free(e->promote_ev);
    free(e->smscs);
    for (size_t i = 0; i < e->nroutes; i++) {
        struct mt_route *rt = &e->routes[i];
        for (unsigned b = 0; rt->held && b < HELD_BUCKETS; b++) {
            for (struct id_node *n = rt->held[b], *next; n; n = next) {
                next = n->next;
                free(n);
            }
        }
        free(rt->held);
        rt->held = NULL;
        free(rt->shares);
        rt->shares = NULL;
    }
    free(e->routes);
    free(e);
}

void
mt_engine_stats(const struct mt_engine *e, struct mt_stats *out)
{
    *out = e->st;
    out->bound_sessions = 0;
    for (size_t i = 0; i < e->nsmscs; i++)
        for (unsigned c = 0; c < e->smscs[i].nclients; c++)
            if (smpp_client_session(e->smscs[i].clients[c]))
                out->bound_sessions++;
}

/* ---------------------------------------------------------------- operations
 *
 * For core/status (metrics, /status) and core/admin (smsgwctl): what the
 * engine holds, route pause, rebind, and the successor a reload builds.
 */

size_t
mt_engine_routes(const struct mt_engine *e, struct mt_route_info *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nroutes && n < max; i++, n++) {
        const struct mt_route *rt = &e->routes[i];
        struct mt_smsc *m = NULL;
        bool bound = false;
        pick_session((struct mt_route *)rt, NULL, &m, &bound);
        out[n] = (struct mt_route_info){
            .name = rt->cfg->name, .mps = rt->cfg->mps, .in_memory = rt->inflight,
            .ready = rt->nready, .paused = rt->paused, .bound = bound,
            .submitted = *rt->m_submitted, .throttled = *rt->m_throttled,
            .smscs = (unsigned)rt->cfg->nsmscs,
        };
        for (size_t j = 0; j < rt->cfg->nsmscs; j++)
            for (size_t k = 0; k < e->nsmscs; k++)
                if (e->smscs[k].cfg == rt->cfg->smscs[j].smsc &&
                    router_health_state(e->smscs[k].health) != ROUTER_HEALTH_ACTIVE)
                    out[n].smscs_suspended++;
    }
    return n;
}

/* Lowercase for metrics labels and the status page. */
static const char *
state_word(enum smpp_state st)
{
    static const char *const w[] = {
        [SMPP_OPEN] = "open", [SMPP_BINDING] = "binding", [SMPP_BOUND_TX] = "bound_tx",
        [SMPP_BOUND_RX] = "bound_rx", [SMPP_BOUND_TRX] = "bound_trx",
        [SMPP_UNBINDING] = "unbinding", [SMPP_CLOSED] = "closed",
    };
    return (unsigned)st < sizeof(w) / sizeof(w[0]) && w[st] ? w[st] : "unknown";
}

void
mt_engine_sessions(const struct mt_engine *e, mt_session_fn fn, void *arg)
{
    for (size_t i = 0; i < e->nsmscs; i++) {
        const struct mt_smsc *m = &e->smscs[i];
        for (unsigned c = 0; c < m->nclients; c++) {
            struct smpp_client *cl = m->clients[c];
            struct smpp_session *s = smpp_client_session(cl);
            struct mt_session_info si = {
                .smsc = m->cfg->name, .slot = smpp_client_name(cl),
                .state = s ? state_word(smpp_session_state(s))
                           : smpp_client_next_delay_ms(cl) ? "reconnecting" : "connecting",
                .bound = s != NULL, .session_id = s ? smpp_session_id(s) : 0,
                .reconnects = smpp_client_reconnects(cl),
                .outstanding = s ? smpp_session_outstanding(s) : 0,
                .window = s ? smpp_session_window(s) : m->cfg->window,
                .health = router_health_state_name(router_health_state(m->health)),
            };
            fn(arg, &si);
        }
    }
}

void
mt_engine_smscs(const struct mt_engine *e, mt_smsc_fn fn, void *arg)
{
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < e->nsmscs; i++) {
        const struct mt_smsc *m = &e->smscs[i];
        struct router_health_view v;
        router_health_view(m->health, now, &v);
        struct mt_smsc_info si = {
            .smsc = m->cfg->name, .health = router_health_state_name(v.state),
            .error_rate = v.error_rate, .samples = v.samples, .rate_at_suspend = v.rate_at_suspend,
            .probe_in_s = v.probe_at > now ? (double)(v.probe_at - now) / 1000.0 : 0,
            .suspensions = v.suspensions,
        };
        fn(arg, &si);
    }
}

int
mt_engine_pause(struct mt_engine *e, const char *route, bool pause)
{
    for (size_t i = 0; i < e->nroutes; i++) {
        struct mt_route *rt = &e->routes[i];
        if (strcmp(rt->cfg->name, route) != 0)
            continue;
        if (rt->paused != pause)
            log_event(LOG_INFO, pause ? "route_paused" : "route_resumed",
                      "route=%s in_memory=%u", route, rt->inflight);
        rt->paused = pause;
        if (!pause) {
            rt->idle = false;
            route_kick(rt);
        }
        return 0;
    }
    return -1;
}

int
mt_engine_rebind(struct mt_engine *e, const char *smsc)
{
    for (size_t i = 0; i < e->nsmscs; i++) {
        struct mt_smsc *m = &e->smscs[i];
        if (strcmp(m->cfg->name, smsc) != 0)
            continue;
        int n = 0;
        for (unsigned c = 0; c < m->nclients; c++) {
            struct smpp_session *s = smpp_client_session(m->clients[c]);
            if (!s)
                continue;
            log_event(LOG_INFO, "smsc_rebind", "smsc=%s session=%u reason=admin", smsc,
                      smpp_session_id(s));
            /* The client reconnects after the close, with its backoff;
             * submits still on the wire end as lost and are retried. */
            smpp_session_unbind(s);
            n++;
        }
        return n;
    }
    return -1;
}

/* Settings a bind was made with (smpp_client copies them at creation). The
 * others (data_coding, concat, id formats, short-code TON/NPI) are read
 * through m->cfg when used, so they change without a rebind. */
static bool
same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
smsc_bind_same(const struct cfg_smsc *a, const struct cfg_smsc *b)
{
    return same_str(a->host, b->host) && a->port == b->port && a->tls == b->tls &&
           same_str(a->tls_ca_file, b->tls_ca_file) && same_str(a->tls_cert_file, b->tls_cert_file) &&
           same_str(a->tls_key_file, b->tls_key_file) && a->tls_verify == b->tls_verify &&
           same_str(a->system_id, b->system_id) && same_str(a->password, b->password) &&
           same_str(a->system_type, b->system_type) && a->bind_mode == b->bind_mode &&
           a->sessions == b->sessions && a->window == b->window &&
           a->enquire_link_s == b->enquire_link_s &&
           a->response_timeout_ms == b->response_timeout_ms &&
           a->reconnect_min_ms == b->reconnect_min_ms && a->reconnect_max_ms == b->reconnect_max_ms;
}

struct mt_engine *
mt_engine_successor(struct mt_engine *old, const struct gw_config *cfg, unsigned *kept)
{
    struct mt_engine *e = mt_engine_new(old->base, cfg, old->redis);
    mt_engine_set_pacer_redis(e, old->pacer_redis);

    /* Stopped until mt_engine_start: it must not read the queues while the
     * old engine still has submits on the wire, or its pass over this
     * consumer's pending entries would send those a second time. */
    e->stopping = true;
    old->stopping = true;
    old->successor = e;
    e->webhook = old->webhook;
    e->clientq_fn = old->clientq_fn;
    e->clientq_arg = old->clientq_arg;
    e->fallback = old->fallback;    /* channels are not reloaded (restart) */
    snprintf(e->consumer, sizeof(e->consumer), "%s", old->consumer);
    *kept = 0;
    for (size_t i = 0; i < e->nsmscs; i++) {
        struct mt_smsc *m = &e->smscs[i];
        for (size_t k = 0; k < old->nsmscs; k++) {
            /* Its error window and suspension go on under the new settings:
             * a reload does not give a failing SMSC its traffic back. */
            if (strcmp(old->smscs[k].cfg->name, m->cfg->name) == 0) {
                router_health_adopt(m->health, old->smscs[k].health);
                m->suspended_at_ms = old->smscs[k].suspended_at_ms;
            }
        }
        for (size_t k = 0; k < old->nsmscs; k++) {
            struct mt_smsc *om = &old->smscs[k];
            if (strcmp(om->cfg->name, m->cfg->name) != 0 || !om->nclients ||
                !smsc_bind_same(om->cfg, m->cfg))
                continue;
            /* Same binds: take the old clients (and their live sessions)
             * instead of the fresh ones, which never connected. */
            for (unsigned c = 0; c < m->nclients; c++)
                smpp_client_free(m->clients[c]);
            free(m->clients);
            if (m->ssl)
                SSL_CTX_free(m->ssl);
            m->clients = om->clients;
            m->nclients = om->nclients;
            m->ntx = om->ntx;
            m->ssl = om->ssl;
            m->adopted = true;
            for (unsigned c = 0; c < m->nclients; c++)
                smpp_client_set_ctx(m->clients[c], m);
            om->clients = NULL;
            om->nclients = om->ntx = 0;
            om->ssl = NULL;
            (*kept)++;
            break;
        }
    }
    for (size_t i = 0; i < e->nroutes; i++)
        for (size_t k = 0; k < old->nroutes; k++)
            if (strcmp(e->routes[i].cfg->name, old->routes[k].cfg->name) == 0)
                e->routes[i].paused = old->routes[k].paused;
    return e;
}
