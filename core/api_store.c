#include "core/api_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "store/store_caps.h"
#include "store/store_msg.h"
#include "store/store_redis.h"

struct submit_req {
    api_submit_done done;
    void *req;
    struct api_store *d;
    char *callback_url;
    char *client_ref;
    char to[16];
    unsigned segments;
    char route[64];
    char account[64];
    const char *state;              /* queued, scheduled, held, no_sms */
    bool capped;                    /* a frequency cap unit was taken: refund if not stored */
    enum store_caps_period cap_period;
    struct store_msg_new n;         /* kept while the cap is checked */
    void *owner;                    /* copies of the strings n points to */
};

static void
submit_free(struct submit_req *s)
{
    free(s->callback_url);
    free(s->client_ref);
    free(s->owner);
    free(s);
}

static void
accepted(void *arg, int rc, const char *id)
{
    struct submit_req *s = arg;

    if (rc == 0) {
        metrics_msg_state(s->state);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s", id, s->state);
        if (s->d->stored) {
            struct api_store_stored m = { .id = id, .state = s->state, .route = s->route,
                                          .callback_url = s->callback_url,
                                          .client_ref = s->client_ref, .to = s->to,
                                          .segments = s->segments };
            s->d->stored(s->d->arg, &m);
        }
    } else if (s->capped) {
        /* Not stored after all (or stored before: client_ref): give the unit back. */
        store_caps_refund(s->d->redis, s->account, s->to, s->cap_period, 1, time(NULL), NULL,
                          NULL);
    }
    s->done(s->req, rc == 0 ? API_OK : rc == 1 ? API_EXISTING : rc == 2 ? API_EOPTEDOUT
                                                                   : API_EUNAVAILABLE, id);
    submit_free(s);
}

static void
cap_taken(const struct store_caps_result *res, void *arg)
{
    struct submit_req *s = arg;

    if (!res->ok || !res->allowed) {
        char resets[24];
        snprintf(resets, sizeof(resets), "%lld", (long long)res->resets_at);
        if (res->ok)
            log_event(LOG_INFO, "frequency_cap", "account=%s count=%lld resets_at=%s",
                      s->account, res->count, resets);
        s->done(s->req, res->ok ? API_EFREQCAP : API_EUNAVAILABLE, res->ok ? resets : NULL);
        submit_free(s);
        return;
    }
    s->capped = true;
    store_msg_accept(s->d->redis, &s->n, accepted, s);
}

static void
be_submit(void *bctx, const struct api_msg *m, api_submit_done done, void *req)
{
    struct api_store *d = bctx;
    struct submit_req *s = calloc(1, sizeof(*s));

    if (!s)
        abort();
    s->done = done;
    s->req = req;
    s->d = d;
    s->callback_url = m->callback_url ? strdup(m->callback_url) : NULL;
    s->client_ref = m->client_ref ? strdup(m->client_ref) : NULL;
    snprintf(s->to, sizeof(s->to), "%s", m->to);
    s->segments = m->segments;
    snprintf(s->route, sizeof(s->route), "%s", m->route->name);
    snprintf(s->account, sizeof(s->account), "%s", m->account->name);
    s->state = m->no_sms ? "no_sms" : m->due_ms ? m->hold_state : "queued";
    struct store_msg_new n = {
        .account = m->account->name,
        .from = m->sender->address,
        .ton = m->sender->ton,
        .npi = m->sender->npi,
        .to = m->to,
        .text = m->text,
        .text_len = m->text_len,
        .encoding = m->encoding == SMPP_TEXT_ENC_UCS2 ? "ucs2" : "gsm7",
        .segments = m->segments,
        .route = m->route->name,
        .msg_class = m->msg_class == MSG_MARKETING ? "marketing" : "transactional",
        .callback_url = m->callback_url,
        .client_ref = m->client_ref,
        .validity_s = m->validity_s,
        .due_ms = m->no_sms ? STORE_DUE_NEVER : m->due_ms,
        .hold_state = m->no_sms ? "no_sms" : m->hold_state,
        .hold_detail = m->no_sms ? "the number cannot take SMS" : m->hold_detail,
        .fallback = m->fallback[0] ? m->fallback : NULL,
        .email = m->email,
        /* the "no receipt" trigger of the fallback chain */
        .watch_ms = m->fallback[0] && !m->no_sms
            ? (m->due_ms ? m->due_ms : store_now_ms()) +
                  (uint64_t)m->route->fallback_receipt_timeout_s * 1000u
            : 0,
    };
    const struct cfg_cap *cap = &m->account->marketing_cap;
    if (m->msg_class != MSG_MARKETING || cap->count == 0) {
        store_msg_accept(d->redis, &n, accepted, s);
        return;
    }
    /* The cap first (one Lua script), the message after: the request's
     * strings must outlive this call, so n is kept on s with copies. */
    s->cap_period = cap->period == CAP_PERIOD_DAY ? STORE_CAPS_DAY : STORE_CAPS_MONTH;
    s->n = n;
    s->owner = store_msg_new_copy(&s->n);
    if (store_caps_take(d->redis, m->account->name, s->to, s->cap_period, cap->count, 1,
                        time(NULL), cap_taken, s) != 0) {
        done(req, API_EUNAVAILABLE, NULL);
        submit_free(s);
    }
}

struct get_req {
    api_get_done done;
    void *req;
};

static void
got(void *arg, int rc, const char *json)
{
    struct get_req *g = arg;
    g->done(g->req, rc == 0 ? API_OK : rc == 1 ? API_ENOTFOUND : API_EUNAVAILABLE, json);
    free(g);
}

static void
be_get(void *bctx, const struct cfg_account *account, const char *id, api_get_done done, void *req)
{
    struct api_store *d = bctx;
    struct get_req *g = malloc(sizeof(*g));

    if (!g)
        abort();
    g->done = done;
    g->req = req;
    store_msg_get(d->redis, account->name, id, got, g);
}

struct optout_req {
    api_optout_done done;
    void *req;
};

static void
optout_did(void *arg, int rc, bool opted_out, unsigned count)
{
    struct optout_req *o = arg;
    o->done(o->req, rc == 0 ? API_OK : API_EUNAVAILABLE, opted_out, count);
    free(o);
}

static void
be_optout(void *bctx, const struct cfg_account *account, const char *sender,
          const char *const *numbers, size_t n, enum api_optout_op op, api_optout_done done,
          void *req)
{
    struct api_store *d = bctx;
    struct optout_req *o = malloc(sizeof(*o));

    if (!o)
        abort();
    o->done = done;
    o->req = req;
    if (op != API_OPTOUT_GET)
        log_event(LOG_INFO, op == API_OPTOUT_PUT ? "opted_out" : "opted_in",
                  "account=%s scope=%s numbers=%zu source=api", account->name,
                  sender ? sender : "account", n);
    store_optout_op(d->redis, sender, account->name, numbers, n,
                    op == API_OPTOUT_GET ? 0 : op == API_OPTOUT_PUT ? 1 : 2, optout_did, o);
}

static bool
be_ready(void *bctx)
{
    struct api_store *d = bctx;
    return !(d->stopping && *d->stopping) && store_redis_ready(d->redis);
}

static bool
be_other(void *bctx, struct evhttp_request *req, const char *path)
{
    struct api_store *d = bctx;
    return d->other && d->other(d->arg, req, path);
}

const struct api_backend api_store_backend = {
    .submit = be_submit,
    .get = be_get,
    .optout = be_optout,
    .ready = be_ready,
    .other = be_other,
};
