/*
 * smsgwd: the SMS engine.
 *
 *   smsgwd -c FILE      run
 *   smsgwd -t -c FILE   check the configuration and exit (0 valid, 1 not)
 *
 * Wires the pieces: config → Redis connection (store/) → HTTP API (core/api)
 * whose backend stores accepted messages in Redis → MT engine (router/) that
 * dequeues, paces and submits them to the carriers' SMSCs and correlates
 * their receipts. With an smpp_server group, client ESMEs bind and submit
 * over SMPP too (core/smpp_front), into the same store path.
 * SIGINT/SIGTERM: stop taking messages (the API answers 503, client binds
 * are unbound), let in-flight submits finish (bounded), unbind, exit 0.
 * SIGHUP (or `smsgwctl reload`): reload the config (core/reload.h).
 * SIGUSR1: log at debug level; SIGUSR2: back to the configured level.
 * Operations: GET /metrics and GET /status on the HTTP listener
 * (core/status), the admin socket for smsgwctl (core/admin).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/admin.h"
#include "core/api.h"
#include "core/api_store.h"
#include "core/chan_hooks.h"
#include "core/config.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/status.h"
#include "core/smpp_front.h"
#include "core/webhook.h"
#include "router/fallback.h"
#include "router/router_mt.h"
#include "store/store_caps.h"
#include "store/store_msg.h"

struct daemon {
    struct event_base *base;
    struct gw_config *cfg;
    struct store_redis *redis;          /* accepts, API reads, SMPP front */
    struct store_redis *redis_router;   /* the dequeuer: reads, progress, receipts */
    struct store_redis *redis_pacer;    /* pacer grants, behind nothing else */
    struct api_server *api;
    struct smpp_front *smpp;        /* NULL without an smpp_server group */
    struct mt_engine *mt;
    struct webhook *webhook;
    struct fallback *fallback;      /* fallback chains (router/fallback) */
    struct status *status;          /* GET /metrics, /status */
    struct admin *admin;            /* smsgwctl; reloads */
    bool stopping;
    struct api_store api_store;     /* the API's backend (core/api_store) */
};

/* ------------------------------------------------------ API backend */

/* What a stored message sets off in the daemon (core/api_store's hook). */
static void
daemon_stored(void *arg, const struct api_store_stored *m)
{
    struct daemon *d = arg;
    if (strcmp(m->state, "queued") == 0)
        mt_engine_wake(d->mt, m->route);
    mt_notify(d->webhook, m->callback_url, m->id, m->state, m->client_ref, NULL, m->to,
              m->segments);
    if (strcmp(m->state, "no_sms") == 0)
        fallback_sms_failed(d->fallback, m->id, "no_sms");
}

static bool
daemon_other(void *arg, struct evhttp_request *req, const char *path)
{
    struct daemon *d = arg;
    return status_http(d->status, req, path) || chan_hooks_http(d->fallback, req, path);
}


/* ------------------------------------------------------ signals */

static void
callbacks_drained(void *arg)
{
    struct daemon *d = arg;
    log_event(LOG_INFO, "smsgwd_stopped", "reason=%s", "signal");
    event_base_loopexit(d->base, NULL);
}

static void
stopped(void *arg)
{
    struct daemon *d = arg;
    /* The last state changes may have queued callbacks: give them a moment. */
    webhook_drain(d->webhook, 3000, callbacks_drained, d);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)what;

    if (d->stopping) {
        log_event(LOG_WARN, "smsgwd_forced_exit", "signal=%d", (int)sig);
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->stopping = true;
    log_event(LOG_INFO, "smsgwd_stopping", "signal=%d", (int)sig);
    smpp_front_shutdown(d->smpp);
    mt_engine_stop(d->mt, stopped, d);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    (void)sig;
    (void)what;
    if (!d->stopping)
        admin_reload(d->admin);
}

/* SIGUSR1: log at debug from now on; SIGUSR2: back to the configured
 * level. For a look at a live problem without a restart or a reload. */
static void
on_usr(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    enum log_level lv = LOG_INFO;
    (void)what;

    if (sig == SIGUSR1) {
        lv = LOG_DEBUG;
    } else if (d->cfg->log_level) {
        log_level_parse(d->cfg->log_level, &lv);
    }
    log_set_level(LOG_INFO);    /* so that the change itself is logged */
    log_event(LOG_INFO, "log_level", "level=%s signal=%s",
              lv == LOG_DEBUG ? "debug" : lv == LOG_INFO ? "info" : lv == LOG_WARN ? "warn" : "error",
              sig == SIGUSR1 ? "USR1" : "USR2");
    log_set_level(lv);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: smsgwd [-t] -c FILE\n"
               "  -c FILE   configuration (libconfig)\n"
               "  -t        check the configuration and exit\n");
}

int
main(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false;
    int opt;
    struct daemon d = { 0 };

    while ((opt = getopt(argc, argv, "c:th")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': check = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    int errs = config_load(path, &d.cfg, stderr);
    if (errs) {
        fprintf(stderr, "%s: %d error%s\n", path, errs, errs == 1 ? "" : "s");
        return 1;
    }
    if (check) {
        printf("%s: configuration OK (%zu smsc, %zu senders, %zu routes, %zu accounts)\n", path,
               d.cfg->nsmscs, d.cfg->nsenders, d.cfg->nroutes, d.cfg->naccounts);
        config_free(d.cfg);
        return 0;
    }

    enum log_level lv = LOG_INFO;
    if (d.cfg->log_level)
        log_level_parse(d.cfg->log_level, &lv);
    log_set_level(lv);
    log_set_trace((const char *const *)d.cfg->log_trace, d.cfg->nlog_trace);
    log_set_prog("smsgwd");
    if (d.cfg->log_file && !log_open(d.cfg->log_file)) {
        fprintf(stderr, "smsgwd: cannot open log file %s: %s\n", d.cfg->log_file, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* Pacing at thousands of messages a second needs timers finer than the
     * kernel's coarse clock (4 ms here): libevent's precise timers use
     * CLOCK_MONOTONIC and a timerfd with epoll. */
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    d.base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!d.base)
        abort();
    log_buffer(d.base, 100);
    d.redis = store_redis_new(d.base, &d.cfg->redis, "main");
    /* The dequeuer has its own connection: on one shared connection its
     * reads and pacing grants waited behind batches of accepts (measured:
     * ~100 ms round trips under a bulk HTTP load, submits starved to a
     * tenth of the accept rate). Redis serves each connection in turn. */
    d.redis_router = store_redis_new(d.base, &d.cfg->redis, "router");
    d.redis_pacer = store_redis_new(d.base, &d.cfg->redis, "pacer");
    store_redis_set_client_name(d.redis, d.cfg->instance);
    store_redis_set_client_name(d.redis_router, d.cfg->instance);
    store_redis_set_client_name(d.redis_pacer, d.cfg->instance);
    d.mt = mt_engine_new(d.base, d.cfg, d.redis_router);
    mt_engine_set_pacer_redis(d.mt, d.redis_pacer);
    struct webhook_cfg wc;
    webhook_cfg_defaults(&wc);
    d.webhook = webhook_new(d.base, &wc);
    mt_engine_set_webhook(d.mt, d.webhook);
    d.fallback = fallback_new(d.base, d.cfg, d.redis, d.webhook);
    mt_engine_set_fallback(d.mt, d.fallback);
    d.status = status_new(d.base, d.redis, d.redis_router, d.redis_pacer);
    d.api_store = (struct api_store){ .redis = d.redis, .stopping = &d.stopping,
                                      .stored = daemon_stored, .other = daemon_other, .arg = &d };
    d.api = api_server_new(d.base, d.cfg, &api_store_backend, &d.api_store);
    if (!d.api) {
        log_event(LOG_ERROR, "http_listen_failed", "listen=%s port=%d error=\"%s\"",
                  d.cfg->http.listen ? d.cfg->http.listen : "127.0.0.1", d.cfg->http.port,
                  strerror(errno));
        return 1;
    }
    if (d.cfg->smpp_server.enabled) {
        struct smpp_front_deps fd = { .base = d.base, .cfg = d.cfg, .redis = d.redis,
                                      .mt = d.mt, .webhook = d.webhook };
        char err[256] = "";
        d.smpp = smpp_front_new(&fd, err, sizeof(err));
        if (!d.smpp) {
            log_event(LOG_ERROR, "smpp_listen_failed", "listen=%s port=%d error=\"%s\"",
                      d.cfg->smpp_server.listen, d.cfg->smpp_server.port, err);
            return 1;
        }
    }
    status_set(d.status, d.cfg, d.mt, d.smpp);
    struct admin_deps ad = {
        .r = { .base = d.base, .config_path = path, .cfg = &d.cfg, .mt = &d.mt, .api = d.api,
               .smpp = d.smpp, .status = d.status, .stopping = &d.stopping },
        .redis = d.redis,
    };
    d.admin = admin_new(&ad);
    log_event(LOG_INFO, "smsgwd_started", "config=%s http_port=%d smpp_port=%d instance=%s", path,
              api_server_port(d.api), d.smpp ? smpp_front_port(d.smpp) : 0,
              d.cfg->instance ? d.cfg->instance : "smsgwd");
    mt_engine_start(d.mt);

    struct event *sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    struct event *sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    struct event *sighup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    struct event *sigusr1 = evsignal_new(d.base, SIGUSR1, on_usr, &d);
    struct event *sigusr2 = evsignal_new(d.base, SIGUSR2, on_usr, &d);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sighup, NULL);
    event_add(sigusr1, NULL);
    event_add(sigusr2, NULL);

    event_base_dispatch(d.base);

    event_free(sigint);
    event_free(sigterm);
    event_free(sighup);
    event_free(sigusr1);
    event_free(sigusr2);
    api_server_free(d.api);
    smpp_front_free(d.smpp);
    mt_engine_free(d.mt);
    fallback_free(d.fallback);
    webhook_free(d.webhook);
    store_redis_free(d.redis_router);
    store_redis_free(d.redis_pacer);
    store_redis_free(d.redis);
    /* After the Redis links: their last callbacks may reach engines and
     * admin requests that a reload replaced or left waiting. */
    admin_free(d.admin);
    status_free(d.status);
    metrics_free();
    config_free(d.cfg);
    log_unbuffer();
    /* Lookups cancelled above finish from the loop; then the resolver goes. */
    event_base_loop(d.base, EVLOOP_NONBLOCK);
    dns_free(d.base);
    event_base_free(d.base);
    return 0;
}
