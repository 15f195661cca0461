#include "core/status.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/smpp_front.h"
#include "core/stats_api.h"
#include "router/router_mt.h"
#include "store/store_redis.h"

#define ERR_RING 20
#define ERR_LINE 512
#define MAX_ROUTES 1024
#define DELIVERY_REFRESH_US  5000000     /* the page's own refresh */
#define DELIVERY_VIEWED_US  60000000     /* keep reading while someone looks */

struct qcache {
    char name[65];
    bool have;
    long long depth;
    double oldest_s;
    double rate;                /* submit_sm per second over the last tick */
    double last_submitted;
    uint64_t last_us;
};

/* A route's or account's delivery figures for the page (store/store_stats),
 * read from Redis while the page is being looked at, never by a request. */
struct drow {
    char dim;                   /* 'r' or 'a' */
    char name[65];
    struct {
        uint64_t submitted, finished, delivered, optouts;
        bool have_lat;
        double p50, p95;
        char reasons[160];      /* the top failure reasons, "UNDELIV:001 x3, ..." */
    } w[STORE_STATS_NWIN];
};

struct status {
    struct event_base *base;
    struct store_redis *redis, *redis_router, *redis_pacer;
    const struct gw_config *cfg;
    struct mt_engine *mt;
    struct smpp_front *front;
    struct qcache *q;
    size_t nq;
    struct event *tick;
    unsigned polling;           /* replies still out from the last tick */
    char errs[ERR_RING][ERR_LINE];
    unsigned nerrs, errnext;
    uint64_t started_us;
    struct stats_api *stats_api;    /* GET /v1/stats */
    struct drow *drows;         /* the delivery table, as last read */
    size_t ndrows;
    uint64_t d_read_us;         /* when drows was read (0: never) */
    uint64_t d_viewed_us;       /* the page's last view */
    bool d_busy;                /* a read is out */
};

static void
warn_line(void *arg, const char *line, size_t len)
{
    struct status *st = arg;
    if (len >= ERR_LINE)
        len = ERR_LINE - 1;
    memcpy(st->errs[st->errnext], line, len);
    st->errs[st->errnext][len] = 0;
    st->errnext = (st->errnext + 1) % ERR_RING;
    if (st->nerrs < ERR_RING)
        st->nerrs++;
}

void
status_errors(const struct status *st, void (*fn)(void *arg, const char *line), void *arg)
{
    unsigned first = (st->errnext + ERR_RING - st->nerrs) % ERR_RING;
    for (unsigned i = 0; i < st->nerrs; i++)
        fn(arg, st->errs[(first + i) % ERR_RING]);
}

double
status_uptime(const struct status *st)
{
    return (double)(clock_mono_us() - st->started_us) / 1e6;
}

static struct qcache *
qfind(const struct status *st, const char *route)
{
    for (size_t i = 0; i < st->nq; i++)
        if (strcmp(st->q[i].name, route) == 0)
            return &st->q[i];
    return NULL;
}

bool
status_queue(const struct status *st, const char *route, long long *depth, double *oldest_s,
             double *rate_mps)
{
    const struct qcache *q = qfind(st, route);
    if (!q || !q->have)
        return false;
    *depth = q->depth;
    *oldest_s = q->oldest_s;
    *rate_mps = q->rate;
    return true;
}

static void delivery_refresh(struct status *st, uint64_t now);

/* ------------------------------------------------------ the queue poll */

struct qpoll {
    struct status *st;
    char name[65];
    bool xrange;
};

static void
qpoll_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct qpoll *p = arg;
    struct status *st = p->st;
    struct qcache *q = qfind(st, p->name);

    (void)r;
    st->polling--;
    if (q && reply && !p->xrange && reply->type == REDIS_REPLY_INTEGER) {
        q->depth = reply->integer;
        q->have = true;
    } else if (q && reply && p->xrange && reply->type == REDIS_REPLY_ARRAY) {
        /* The first entry's id is MS-SEQ: its age is the oldest wait. */
        q->oldest_s = 0;
        if (reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_ARRAY &&
            reply->element[0]->elements > 0 &&
            reply->element[0]->element[0]->type == REDIS_REPLY_STRING) {
            unsigned long long ms = strtoull(reply->element[0]->element[0]->str, NULL, 10);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
            q->oldest_s = now - (double)ms / 1000.0;
            if (q->oldest_s < 0)
                q->oldest_s = 0;
        }
    }
    free(p);
}

static void
qpoll_send(struct status *st, const char *route, bool xrange)
{
    struct qpoll *p = calloc(1, sizeof(*p));
    char key[256];

    if (!p)
        abort();
    p->st = st;
    p->xrange = xrange;
    snprintf(p->name, sizeof(p->name), "%s", route);
    snprintf(key, sizeof(key), "%sq:%s", store_redis_prefix(st->redis), route);
    int rc = xrange ? store_redis_cmd(st->redis, qpoll_reply, p, "XRANGE %s - + COUNT 1", key)
                    : store_redis_cmd(st->redis, qpoll_reply, p, "XLEN %s", key);
    if (rc == 0)
        st->polling++;
    else
        free(p);
}

/* ------------------------------------------------------ delivery figures */

struct dread {
    struct status *st;
    struct store_stats_dim *dims;
    char (*names)[65];
    size_t n;
};

static void
delivery_read(void *arg, int rc, const struct store_stats_agg *rows)
{
    struct dread *d = arg;
    struct status *st = d->st;

    st->d_busy = false;
    if (rc == 0) {
        struct drow *dr = calloc(d->n ? d->n : 1, sizeof(*dr));
        if (!dr)
            abort();
        for (size_t i = 0; i < d->n; i++) {
            dr[i].dim = d->dims[i].dim;
            snprintf(dr[i].name, sizeof(dr[i].name), "%s", d->names[i]);
            for (unsigned w = 0; w < STORE_STATS_NWIN; w++) {
                const struct store_stats_agg *a = &rows[i * STORE_STATS_NWIN + w];
                dr[i].w[w].submitted = a->c[STORE_STATS_SUBMITTED];
                dr[i].w[w].finished = store_stats_finals(a);
                dr[i].w[w].delivered = a->c[STORE_STATS_DELIVERED];
                dr[i].w[w].optouts = a->c[STORE_STATS_OPTOUTS];
                dr[i].w[w].have_lat = store_stats_quantile(a->lat, 0.50, &dr[i].w[w].p50) &&
                                      store_stats_quantile(a->lat, 0.95, &dr[i].w[w].p95);
                size_t o = 0;
                for (size_t k = 0; k < a->nreasons && k < 3; k++) {
                    int l = snprintf(dr[i].w[w].reasons + o, sizeof(dr[i].w[w].reasons) - o,
                                     "%s%s x%llu", k ? ", " : "", a->reasons[k].code,
                                     (unsigned long long)a->reasons[k].n);
                    if (l < 0 || (size_t)l >= sizeof(dr[i].w[w].reasons) - o)
                        break;
                    o += (size_t)l;
                }
            }
        }
        free(st->drows);
        st->drows = dr;
        st->ndrows = d->n;
        st->d_read_us = clock_mono_us();
    }
    free(d->dims);
    free(d->names);
    free(d);
}

/* Read the routes' and accounts' figures again when they are older than
 * the page's refresh. */
static void
delivery_refresh(struct status *st, uint64_t now)
{
    if (st->d_busy || !st->cfg || !store_redis_ready(st->redis) ||
        (st->d_read_us && now - st->d_read_us < DELIVERY_REFRESH_US))
        return;
    struct dread *d = calloc(1, sizeof(*d));
    size_t n = st->cfg->nroutes + st->cfg->naccounts;
    if (!d)
        abort();
    d->st = st;
    d->dims = calloc(n ? n : 1, sizeof(*d->dims));
    d->names = calloc(n ? n : 1, sizeof(*d->names));
    if (!d->dims || !d->names)
        abort();
    for (size_t i = 0; i < n; i++) {
        bool route = i < st->cfg->nroutes;
        snprintf(d->names[i], sizeof(d->names[i]), "%s", route ? st->cfg->routes[i].name
                 : st->cfg->accounts[i - st->cfg->nroutes].name);
        d->dims[i].dim = route ? 'r' : 'a';
        d->dims[i].name = d->names[i];
    }
    d->n = n;
    st->d_busy = true;
    store_stats_query(st->redis, 0, d->dims, n, delivery_read, d);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct status *st = arg;
    static struct mt_route_info ri[MAX_ROUTES];
    uint64_t now = clock_mono_us();

    (void)fd;
    (void)what;
    if (!st->mt)
        return;
    size_t n = mt_engine_routes(st->mt, ri, MAX_ROUTES);
    for (size_t i = 0; i < n; i++) {
        struct qcache *q = qfind(st, ri[i].name);
        if (!q)
            continue;
        if (q->last_us && now > q->last_us && ri[i].submitted >= q->last_submitted)
            q->rate = (ri[i].submitted - q->last_submitted) / ((double)(now - q->last_us) / 1e6);
        q->last_submitted = ri[i].submitted;
        q->last_us = now;
    }
    if (st->d_viewed_us && now - st->d_viewed_us < DELIVERY_VIEWED_US)
        delivery_refresh(st, now);
    /* One poll at a time: a slow Redis gets no pile of XLENs. */
    if (st->polling || !store_redis_ready(st->redis))
        return;
    for (size_t i = 0; i < st->nq; i++) {
        qpoll_send(st, st->q[i].name, false);
        qpoll_send(st, st->q[i].name, true);
    }
}

struct status *
status_new(struct event_base *base, struct store_redis *redis, struct store_redis *redis_router,
           struct store_redis *redis_pacer)
{
    struct status *st = calloc(1, sizeof(*st));
    struct timeval tv = { 1, 0 };

    if (!st)
        abort();
    st->base = base;
    st->redis = redis;
    st->redis_router = redis_router;
    st->redis_pacer = redis_pacer;
    st->started_us = clock_mono_us();
    st->tick = event_new(base, -1, EV_PERSIST, tick_cb, st);
    if (!st->tick)
        abort();
    evtimer_add(st->tick, &tv);
    log_set_warn_hook(warn_line, st);
    st->stats_api = stats_api_new(redis);
    return st;
}

void
status_set(struct status *st, const struct gw_config *cfg, struct mt_engine *mt,
           struct smpp_front *front)
{
    struct qcache *q = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*q));

    if (!q)
        abort();
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct qcache *old = qfind(st, cfg->routes[i].name);
        if (old)
            q[i] = *old;
        snprintf(q[i].name, sizeof(q[i].name), "%s", cfg->routes[i].name);
    }
    free(st->q);
    st->q = q;
    st->nq = cfg->nroutes;
    st->cfg = cfg;
    st->mt = mt;
    st->front = front;
}

void
status_free(struct status *st)
{
    if (!st)
        return;
    log_set_warn_hook(NULL, NULL);
    event_free(st->tick);
    stats_api_free(st->stats_api);
    free(st->drows);
    free(st->q);
    free(st);
}

/* ------------------------------------------------------------ /metrics */

static void
session_metrics(void *arg, const struct mt_session_info *si)
{
    char l[300], ls[360];
    (void)arg;
    metrics_labels(l, sizeof(l), "smsc", si->smsc, "session", si->slot);
    metrics_gauge_set("smsgw_smsc_session_up", l, si->bound);
    snprintf(ls, sizeof(ls), "%s,state=\"%s\"", l, si->state);
    metrics_gauge_set("smsgw_smsc_session_state", ls, 1);
    metrics_counter_set("smsgw_smsc_reconnects_total", l, (double)si->reconnects);
    metrics_gauge_set("smsgw_smsc_outstanding", l, si->outstanding);
}

static void
smsc_metrics(void *arg, const struct mt_smsc_info *si)
{
    char l[200];
    (void)arg;
    metrics_labels(l, sizeof(l), "smsc", si->smsc, NULL, NULL);
    metrics_gauge_set("smsgw_smsc_suspended", l, strcmp(si->health, "active") != 0);
    metrics_gauge_set("smsgw_smsc_error_rate", l, si->error_rate);
}

static void
account_metrics(void *arg, const char *account, unsigned binds, unsigned rx_binds)
{
    char l[200];
    (void)arg;
    (void)rx_binds;
    metrics_gauge_set("smsgw_client_binds", metrics_labels(l, sizeof(l), "account", account,
                                                           NULL, NULL), binds);
}

static void
metrics_page(struct status *st, struct evbuffer *out)
{
    static struct mt_route_info ri[MAX_ROUTES];
    char *text = NULL;
    size_t len = 0;
    char l[200];

    metrics_gauges_clear();
    if (st->mt) {
        mt_engine_sessions(st->mt, session_metrics, st);
        mt_engine_smscs(st->mt, smsc_metrics, st);
        size_t n = mt_engine_routes(st->mt, ri, MAX_ROUTES);
        for (size_t i = 0; i < n; i++) {
            metrics_labels(l, sizeof(l), "route", ri[i].name, NULL, NULL);
            metrics_gauge_set("smsgw_route_in_memory", l, ri[i].in_memory);
            metrics_gauge_set("smsgw_route_mps_limit", l, ri[i].mps);
            metrics_gauge_set("smsgw_route_paused", l, ri[i].paused);
            const struct qcache *q = qfind(st, ri[i].name);
            if (q && q->have) {
                metrics_gauge_set("smsgw_route_queue_depth", l, (double)q->depth);
                metrics_gauge_set("smsgw_route_oldest_queued_seconds", l, q->oldest_s);
            }
        }
    }
    if (st->front)
        smpp_front_accounts(st->front, account_metrics, st);
    metrics_gauge_set("smsgw_redis_up", "conn=\"main\"", store_redis_ready(st->redis));
    if (st->redis_router)
        metrics_gauge_set("smsgw_redis_up", "conn=\"router\"", store_redis_ready(st->redis_router));
    if (st->redis_pacer)
        metrics_gauge_set("smsgw_redis_up", "conn=\"pacer\"", store_redis_ready(st->redis_pacer));
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    metrics_render(f);
    fclose(f);
    evbuffer_add(out, text, len);
    free(text);
}

/* ------------------------------------------------------------- /status */

static void
html(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void
session_row(void *arg, const struct mt_session_info *si)
{
    FILE *f = arg;
    fputs("<tr><td>", f);
    html(f, si->smsc);
    fputs("</td><td>", f);
    html(f, si->slot);
    fprintf(f, "</td><td class=\"%s\">", si->bound ? "ok" : "bad");
    html(f, si->state);
    fprintf(f, "</td><td>%u</td><td>%u/%u</td><td>%lu</td><td class=\"%s\">%s</td></tr>\n",
            si->session_id, si->outstanding, si->window, si->reconnects,
            strcmp(si->health, "active") == 0 ? "ok" : "bad", si->health);
}

static void
account_row(void *arg, const char *account, unsigned binds, unsigned rx_binds)
{
    FILE *f = arg;
    fputs("<tr><td>", f);
    html(f, account);
    fprintf(f, "</td><td>%u</td><td>%u</td></tr>\n", binds, rx_binds);
}

static void
error_row(void *arg, const char *line)
{
    FILE *f = arg;
    fputs("<li><code>", f);
    html(f, line);
    fputs("</code></li>\n", f);
}

static void
delivery_table(struct status *st, FILE *f)
{
    static const char *const wname[STORE_STATS_NWIN] = { "hour", "day" };
    uint64_t now = clock_mono_us();

    st->d_viewed_us = now;
    delivery_refresh(st, now);
    fputs("<h2>Delivery (last hour / day)</h2>\n", f);
    if (!st->d_read_us) {
        fputs("<p id=\"delivery-pending\">being read from Redis; shown at the next refresh</p>\n", f);
        return;
    }
    fprintf(f, "<p>read %.0f s ago; <code>GET " STATS_API_PATH "</code> has senders and "
            "failure reasons in full</p>\n", (double)(now - st->d_read_us) / 1e6);
    fputs("<table id=\"delivery\"><tr><th>kind</th><th>name</th><th>window</th>"
          "<th>submitted</th><th>finished</th><th>delivered</th><th>delivered %</th>"
          "<th>receipt p50</th><th>receipt p95</th><th>opt-outs</th><th>top failures</th></tr>\n", f);
    for (size_t i = 0; i < st->ndrows; i++) {
        const struct drow *d = &st->drows[i];
        for (unsigned w = 0; w < STORE_STATS_NWIN; w++) {
            fprintf(f, "<tr class=\"%s\"><td>%s</td><td>", d->dim == 'r' ? "route" : "account",
                    d->dim == 'r' ? "route" : "account");
            html(f, d->name);
            fprintf(f, "</td><td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td>", wname[w],
                    (unsigned long long)d->w[w].submitted, (unsigned long long)d->w[w].finished,
                    (unsigned long long)d->w[w].delivered);
            if (d->w[w].finished)
                fprintf(f, "<td class=\"%s\">%.1f</td>",
                        d->w[w].delivered * 10 >= d->w[w].finished * 9 ? "ok" : "bad",
                        100.0 * (double)d->w[w].delivered / (double)d->w[w].finished);
            else
                fputs("<td>-</td>", f);
            if (d->w[w].have_lat)
                fprintf(f, "<td>%.0f ms</td><td>%.0f ms</td>", d->w[w].p50, d->w[w].p95);
            else
                fputs("<td>-</td><td>-</td>", f);
            if (d->dim == 'a')
                fprintf(f, "<td>%llu</td><td>", (unsigned long long)d->w[w].optouts);
            else
                fputs("<td>-</td><td>", f);
            html(f, d->w[w].reasons);
            fputs("</td></tr>\n", f);
        }
    }
    fputs("</table>\n", f);
}

static void
status_page(struct status *st, struct evbuffer *out)
{
    static struct mt_route_info ri[MAX_ROUTES];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        abort();
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"refresh\" content=\"5\">\n<title>smsgwd status</title>\n"
          "<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.ok{color:#060}"
          ".bad{color:#a00;font-weight:bold}code{font-size:90%}</style>\n</head><body>\n", f);
    fputs("<h1>smsgwd <span id=\"instance\">", f);
    html(f, st->cfg && st->cfg->instance ? st->cfg->instance : "smsgwd");
    fprintf(f, "</span></h1>\n<p>config <code>");
    html(f, st->cfg ? st->cfg->path : "");
    fprintf(f, "</code>, up %.0f s, Redis <span id=\"redis\" class=\"%s\">%s</span></p>\n",
            status_uptime(st), store_redis_ready(st->redis) ? "ok" : "bad",
            store_redis_ready(st->redis) ? "connected" : "down");

    fputs("<h2>SMSC binds</h2>\n<table id=\"binds\"><tr><th>SMSC</th><th>slot</th><th>state</th>"
          "<th>session</th><th>outstanding/window</th><th>reconnects</th><th>health</th></tr>\n", f);
    if (st->mt)
        mt_engine_sessions(st->mt, session_row, f);
    fputs("</table>\n", f);

    fputs("<h2>Routes</h2>\n<table id=\"routes\"><tr><th>route</th><th>state</th>"
          "<th>current mps</th><th>allowed mps</th><th>queue depth</th><th>oldest queued</th>"
          "<th>in memory</th><th>submitted</th><th>throttled</th></tr>\n", f);
    size_t n = st->mt ? mt_engine_routes(st->mt, ri, MAX_ROUTES) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct qcache *q = qfind(st, ri[i].name);
        const char *state = ri[i].paused ? "paused" : ri[i].bound ? "sending" : "no bind";
        fputs("<tr><td>", f);
        html(f, ri[i].name);
        fprintf(f, "</td><td class=\"%s\">%s</td><td>%.1f</td><td>%u</td>",
                ri[i].paused || !ri[i].bound ? "bad" : "ok", state, q ? q->rate : 0.0, ri[i].mps);
        if (q && q->have)
            fprintf(f, "<td>%lld</td><td>%.1f s</td>", q->depth, q->oldest_s);
        else
            fputs("<td>?</td><td>?</td>", f);
        fprintf(f, "<td>%u</td><td>%.0f</td><td>%.0f</td></tr>\n", ri[i].in_memory,
                ri[i].submitted, ri[i].throttled);
    }
    fputs("</table>\n", f);

    delivery_table(st, f);

    if (st->front) {
        fputs("<h2>Client binds</h2>\n<table id=\"clients\"><tr><th>account</th><th>binds</th>"
              "<th>receiver binds</th></tr>\n", f);
        smpp_front_accounts(st->front, account_row, f);
        fputs("</table>\n", f);
    }
    fputs("<h2>Recent errors</h2>\n<ol id=\"errors\">\n", f);
    status_errors(st, error_row, f);
    fprintf(f, "</ol>\n%s</body></html>\n", st->nerrs ? "" : "<p id=\"no-errors\">none</p>\n");
    fclose(f);
    evbuffer_add(out, text, len);
    free(text);
}

/* --------------------------------------------------------------- HTTP */

static bool
authorized(const struct status *st, struct evhttp_request *req)
{
    const char *want = st->cfg ? st->cfg->admin.http_token_sha256 : NULL;
    if (!want)
        return true;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    char got[65];
    config_sha256_hex(h + 7, got);
    return CRYPTO_memcmp(got, want, 64) == 0;
}

bool
status_http(struct status *st, struct evhttp_request *req, const char *path)
{
    if (st->cfg && stats_api_http(st->stats_api, st->cfg, req, path))
        return true;
    bool metrics = strcmp(path, "/metrics") == 0;
    if (!metrics && strcmp(path, "/status") != 0)
        return false;

    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    int code = 200;

    if (!out)
        abort();
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(oh, "Allow", "GET, HEAD");
        evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(out, "use GET %s\n", path);
        code = 405;
    } else if (!authorized(st, req)) {
        evhttp_add_header(oh, "WWW-Authenticate", "Bearer");
        evhttp_add_header(oh, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(out, "admin.http_token is set: send Authorization: Bearer TOKEN\n");
        code = 401;
    } else if (metrics) {
        evhttp_add_header(oh, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        metrics_page(st, out);
    } else {
        evhttp_add_header(oh, "Content-Type", "text/html; charset=utf-8");
        status_page(st, out);
    }
    evhttp_add_header(oh, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, code == 200 ? "OK" : code == 401 ? "Unauthorized"
                                 : "Method Not Allowed", out);
    evbuffer_free(out);
    log_event(LOG_DEBUG, "http", "method=GET path=%s status=%d", path, code);
    return true;
}
