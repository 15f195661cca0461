#include "core/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/smpp_front.h"
#include "core/status.h"
#include "router/router_mt.h"

/* An engine and the config it points into, kept until exit. */
struct retired {
    struct mt_engine *mt;
    struct gw_config *cfg;
    struct retired *next;
};

struct reloader {
    struct reload_deps d;
    bool busy;
    struct mt_engine *old;          /* draining */
    struct gw_config *old_cfg;
    struct reload_result res;
    char restart[256];
    reload_done_fn done;
    void *done_arg;
    struct retired *retired;
    char *errtext;                  /* the last refused reload's errors */
};

struct reloader *
reloader_new(const struct reload_deps *deps)
{
    struct reloader *rl = calloc(1, sizeof(*rl));
    if (!rl)
        abort();
    rl->d = *deps;
    return rl;
}

void
reloader_free(struct reloader *rl)
{
    if (!rl)
        return;
    /* Newest first: an older engine's late resps may still run while a
     * newer one frees the sessions it took over. */
    for (struct retired *r = rl->retired, *next; r; r = next) {
        next = r->next;
        mt_engine_free(r->mt);
        config_free(r->cfg);
        free(r);
    }
    if (rl->old) {      /* exit during a reload */
        mt_engine_free(rl->old);
        config_free(rl->old_cfg);
    }
    free(rl->errtext);
    free(rl);
}

static bool
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void
need_restart(struct reloader *rl, const char *what)
{
    size_t n = strlen(rl->restart);
    snprintf(rl->restart + n, sizeof(rl->restart) - n, "%s%s", n ? ", " : "", what);
}

/* Settings read once at start: a reload leaves them as they were. */
static void
restart_fields(struct reloader *rl, const struct gw_config *o, const struct gw_config *n)
{
    rl->restart[0] = 0;
    if (!same(o->redis.host, n->redis.host) || o->redis.port != n->redis.port ||
        !same(o->redis.unix_socket, n->redis.unix_socket) ||
        !same(o->redis.password, n->redis.password) || !same(o->redis.prefix, n->redis.prefix) ||
        o->redis.timeout_ms != n->redis.timeout_ms || o->redis.tls != n->redis.tls ||
        o->redis.tls_verify != n->redis.tls_verify ||
        !same(o->redis.tls_ca_file, n->redis.tls_ca_file) ||
        !same(o->redis.tls_cert_file, n->redis.tls_cert_file) ||
        !same(o->redis.tls_key_file, n->redis.tls_key_file) ||
        !same(o->redis.tls_server_name, n->redis.tls_server_name))
        need_restart(rl, "redis");
    if (!same(o->http.listen, n->http.listen) || o->http.port != n->http.port)
        need_restart(rl, "http.listen/port");
    if (o->smpp_server.enabled != n->smpp_server.enabled ||
        !same(o->smpp_server.listen, n->smpp_server.listen) ||
        o->smpp_server.port != n->smpp_server.port ||
        !same(o->smpp_server.tls_cert_file, n->smpp_server.tls_cert_file) ||
        !same(o->smpp_server.tls_key_file, n->smpp_server.tls_key_file) ||
        o->smpp_server.bind_timeout_ms != n->smpp_server.bind_timeout_ms ||
        o->smpp_server.max_pdu != n->smpp_server.max_pdu)
        need_restart(rl, "smpp_server");
    if (!same(o->admin.socket, n->admin.socket) || !same(o->admin.tcp_listen, n->admin.tcp_listen) ||
        o->admin.tcp_port != n->admin.tcp_port || !same(o->admin.token_sha256, n->admin.token_sha256))
        need_restart(rl, "admin listeners");
    if (!same(o->instance, n->instance))
        need_restart(rl, "instance");
    if (!same(o->log_file, n->log_file))
        need_restart(rl, "log_file");
}

static void
count_changes(struct reloader *rl, const struct gw_config *o, const struct gw_config *n,
              unsigned kept)
{
    rl->res.smscs_kept = kept;
    rl->res.smscs_new = (unsigned)n->nsmscs - kept;
    rl->res.smscs_removed = 0;
    for (size_t i = 0; i < o->nsmscs; i++)
        if (!config_smsc(n, o->smscs[i].name))
            rl->res.smscs_removed++;
    rl->res.routes_added = rl->res.routes_removed = 0;
    for (size_t i = 0; i < n->nroutes; i++)
        if (!config_route(o, n->routes[i].name))
            rl->res.routes_added++;
    for (size_t i = 0; i < o->nroutes; i++)
        if (!config_route(n, o->routes[i].name))
            rl->res.routes_removed++;
}

static void
finish(struct reloader *rl)
{
    reload_done_fn done = rl->done;
    void *arg = rl->done_arg;

    rl->done = NULL;
    metrics_inc("smsgw_config_reloads_total", rl->res.ok ? "result=\"ok\"" : "result=\"failed\"");
    if (done)
        done(arg, &rl->res);
}

/* The old engine's submits on the wire are answered and the binds of
 * SMSCs no longer configured are closed: the new engine may read. */
static void
drained(void *arg)
{
    struct reloader *rl = arg;
    struct retired *r = calloc(1, sizeof(*r));

    if (!r)
        abort();
    r->mt = rl->old;
    r->cfg = rl->old_cfg;
    r->next = rl->retired;
    rl->retired = r;
    rl->old = NULL;
    rl->old_cfg = NULL;
    rl->busy = false;
    if (!*rl->d.stopping)
        mt_engine_start(*rl->d.mt);
    log_event(LOG_INFO, "config_reloaded",
              "config=%s smscs_kept=%u smscs_new=%u smscs_removed=%u routes_added=%u "
              "routes_removed=%u restart_needed=\"%s\"", rl->d.config_path, rl->res.smscs_kept,
              rl->res.smscs_new, rl->res.smscs_removed, rl->res.routes_added,
              rl->res.routes_removed, rl->restart);
    rl->res.ok = true;
    finish(rl);
}

void
reloader_run(struct reloader *rl, reload_done_fn done, void *arg)
{
    size_t errlen = 0;
    struct gw_config *nc = NULL;

    memset(&rl->res, 0, sizeof(rl->res));
    rl->res.restart_needed = rl->restart;
    if (rl->busy || *rl->d.stopping) {
        log_event(LOG_WARN, "config_reload_refused", "config=%s reason=\"%s\"",
                  rl->d.config_path, rl->busy ? "a reload is being applied" : "stopping");
        struct reload_result r = { .ok = false, .restart_needed = "",
                                   .errors = rl->busy ? "a reload is being applied; try again"
                                                      : "smsgwd is stopping" };
        done(arg, &r);
        return;
    }
    rl->done = done;
    rl->done_arg = arg;
    rl->restart[0] = 0;
    free(rl->errtext);
    rl->errtext = NULL;
    FILE *ef = open_memstream(&rl->errtext, &errlen);
    if (!ef)
        abort();
    int nerr = config_load(rl->d.config_path, &nc, ef);
    fclose(ef);
    if (nerr) {
        /* One line per error, so each is found by its file:line. */
        char *save = NULL, *copy = strdup(rl->errtext ? rl->errtext : "");
        if (!copy)
            abort();
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char q[600];
            log_event(LOG_ERROR, "config_reload_failed", "config=%s error=%s",
                      rl->d.config_path, log_quote(line, q, sizeof(q)));
        }
        free(copy);
        log_event(LOG_ERROR, "config_reload_refused", "config=%s errors=%d kept=old",
                  rl->d.config_path, nerr);
        rl->res.ok = false;
        rl->res.errors = rl->errtext;
        finish(rl);
        return;
    }
    struct gw_config *oc = *rl->d.cfg;
    restart_fields(rl, oc, nc);
    if (rl->restart[0])
        log_event(LOG_WARN, "config_reload_partial", "config=%s restart_needed=\"%s\"",
                  rl->d.config_path, rl->restart);

    unsigned kept = 0;
    struct mt_engine *old = *rl->d.mt;
    struct mt_engine *ne = mt_engine_successor(old, nc, &kept);
    count_changes(rl, oc, nc, kept);
    *rl->d.mt = ne;
    *rl->d.cfg = nc;
    api_server_set_config(rl->d.api, nc);
    if (rl->d.smpp)
        smpp_front_set_config(rl->d.smpp, nc, ne);
    status_set(rl->d.status, nc, ne, rl->d.smpp);
    enum log_level lv = LOG_INFO;
    if (nc->log_level && log_level_parse(nc->log_level, &lv))
        log_set_level(lv);
    log_set_trace((const char *const *)nc->log_trace, nc->nlog_trace);
    rl->old = old;
    rl->old_cfg = oc;
    rl->busy = true;
    mt_engine_stop(old, drained, rl);
}
