#include "smpp/smpp_client.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "core/log.h"

struct smpp_client {
    struct event_base *base;
    char *name, *host, *system_id, *password, *system_type, *range;
    struct smpp_client_cfg cfg;
    const struct smpp_session_ops *app;
    void *app_ctx;
    struct smpp_session_ops ops;        /* ours, wrapping app's */
    struct smpp_session *sess;
    bool bound;
    bool running;
    bool stopping;
    struct event *retry_ev;
    unsigned attempt;
    unsigned next_delay;
    unsigned reconnects;
    void (*done)(struct smpp_client *, void *);
    void *done_arg;
};

static char *
dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static void connect_now(struct smpp_client *c);

/* Exponential backoff with jitter: the n-th retry waits a random time in
 * [d/2, d] where d = min(max, min * 2^n), so a carrier outage does not bring
 * every bind back in the same second. */
static unsigned
backoff_ms(struct smpp_client *c)
{
    uint64_t d = c->cfg.backoff_min_ms;
    uint32_t r = 0;

    for (unsigned i = 0; i < c->attempt && d < c->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > c->cfg.backoff_max_ms)
        d = c->cfg.backoff_max_ms;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)rand();
    return (unsigned)(d / 2 + (d / 2 ? r % (d / 2 + 1) : 0));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void
schedule_retry(struct smpp_client *c, const char *reason)
{
    unsigned ms = backoff_ms(c);
    struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

    c->attempt++;
    c->next_delay = ms;
    log_event(LOG_INFO, "smpp_reconnect_scheduled", "client=%s delay_ms=%u attempt=%u reason=\"%s\"",
              c->name, ms, c->attempt, reason ? reason : "");
    evtimer_add(c->retry_ev, &tv);
}

static uint32_t
w_on_bind(struct smpp_session *s, const struct smpp_pdu *p, void *ctx)
{
    (void)s;
    (void)p;
    (void)ctx;
    return ESME_RINVBNDSTS;
}

static void
w_on_request(struct smpp_session *s, const struct smpp_pdu *p, void *ctx)
{
    struct smpp_client *c = ctx;

    if (c->app->on_request)
        c->app->on_request(s, p, c->app_ctx);
    else if (smpp_resp_id(p->hdr.command_id))
        smpp_session_respond_status(s, &p->hdr, ESME_RSYSERR);
}

static void
w_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
           void *ctx)
{
    struct smpp_client *c = ctx;

    if (to == SMPP_BOUND_TX || to == SMPP_BOUND_RX || to == SMPP_BOUND_TRX) {
        c->bound = true;
        c->attempt = 0;
        c->next_delay = 0;
    } else if (to == SMPP_UNBINDING || to == SMPP_CLOSED) {
        c->bound = false;
    }
    if (c->app->on_state)
        c->app->on_state(s, from, to, reason, c->app_ctx);
}

static void
w_on_window(struct smpp_session *s, void *ctx)
{
    struct smpp_client *c = ctx;

    if (c->app->on_window)
        c->app->on_window(s, c->app_ctx);
}

static void
w_on_closed(struct smpp_session *s, void *ctx)
{
    struct smpp_client *c = ctx;
    char reason[160];
    const char *r = smpp_session_close_reason(s);

    snprintf(reason, sizeof(reason), "%s", r ? r : "closed");
    if (c->app->on_closed)
        c->app->on_closed(s, c->app_ctx);
    smpp_session_free(s);
    c->sess = NULL;
    c->bound = false;
    if (c->stopping || !c->running) {
        c->running = false;
        if (c->done) {
            void (*done)(struct smpp_client *, void *) = c->done;
            c->done = NULL;
            done(c, c->done_arg);
        }
        return;
    }
    c->reconnects++;
    schedule_retry(c, reason);
}

static void
connect_now(struct smpp_client *c)
{
    if (c->sess || !c->running)
        return;     /* one session per slot, ever */
    c->sess = smpp_session_connect(c->base, c->host, c->cfg.port, &c->cfg.session,
                                   c->cfg.ssl_ctx, &c->ops, c);
    smpp_session_bind(c->sess, &c->cfg.bind);
}

struct smpp_client *
smpp_client_new(struct event_base *base, const struct smpp_client_cfg *cfg,
                const struct smpp_session_ops *ops, void *ctx)
{
    struct smpp_client *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->base = base;
    c->cfg = *cfg;
    c->name = dup_or_empty(cfg->name ? cfg->name : cfg->host);
    c->host = dup_or_empty(cfg->host);
    c->system_id = dup_or_empty(cfg->bind.system_id);
    c->password = dup_or_empty(cfg->bind.password);
    c->system_type = dup_or_empty(cfg->bind.system_type);
    c->range = dup_or_empty(cfg->bind.address_range);
    c->cfg.name = c->name;
    c->cfg.host = c->host;
    c->cfg.bind.system_id = c->system_id;
    c->cfg.bind.password = c->password;
    c->cfg.bind.system_type = c->system_type;
    c->cfg.bind.address_range = c->range;
    if (!c->cfg.backoff_min_ms)
        c->cfg.backoff_min_ms = 500;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_min_ms > 30000 ? c->cfg.backoff_min_ms : 30000;
    c->app = ops;
    c->app_ctx = ctx;
    c->ops.on_bind = w_on_bind;
    c->ops.on_request = w_on_request;
    c->ops.on_state = w_on_state;
    c->ops.on_window = w_on_window;
    c->ops.on_closed = w_on_closed;
    c->retry_ev = evtimer_new(base, retry_cb, c);
    if (!c->retry_ev)
        abort();
    return c;
}

void
smpp_client_start(struct smpp_client *c)
{
    c->running = true;
    c->stopping = false;
    connect_now(c);
}

void
smpp_client_stop(struct smpp_client *c, void (*done)(struct smpp_client *, void *), void *arg)
{
    c->stopping = true;
    c->done = done;
    c->done_arg = arg;
    evtimer_del(c->retry_ev);
    if (c->sess) {
        smpp_session_unbind(c->sess);   /* on_closed follows */
        return;
    }
    c->running = false;
    if (done) {
        c->done = NULL;
        done(c, arg);
    }
}

void
smpp_client_free(struct smpp_client *c)
{
    if (!c)
        return;
    if (c->sess) {
        smpp_session_free(c->sess);
        c->sess = NULL;
    }
    event_free(c->retry_ev);
    free(c->name);
    free(c->host);
    free(c->system_id);
    free(c->password);
    free(c->system_type);
    free(c->range);
    free(c);
}

struct smpp_session *
smpp_client_session(const struct smpp_client *c)
{
    return c->bound ? c->sess : NULL;
}

unsigned smpp_client_reconnects(const struct smpp_client *c) { return c->reconnects; }
unsigned smpp_client_next_delay_ms(const struct smpp_client *c) { return c->next_delay; }
const char *smpp_client_name(const struct smpp_client *c) { return c->name; }
void smpp_client_set_ctx(struct smpp_client *c, void *ctx) { c->app_ctx = ctx; }
