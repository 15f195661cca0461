#include "store/store_redis.h"
#include "core/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/sha.h>

#include "core/dns.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/store_tls.h"

struct pending {
    struct store_redis *r;
    store_reply_cb cb;
    void *arg;
    uint64_t sent_ms;
    uint64_t sent_us;               /* round trip for smsgw_redis_seconds */
    struct pending *prev, *next;
};

struct batch_item {
    store_reply_cb cb;
    void *arg;
};

struct store_batch {
    struct store_script *s;
    unsigned rank;
    char *buf;                  /* argument bytes, NUL after each */
    size_t len, cap;
    size_t *off, *alen;         /* argument spans in buf */
    unsigned nargs, cap_args;
    struct batch_item *items;
    unsigned nitems, cap_items;
    struct store_batch *next;   /* by rank */
};

struct store_redis {
    struct event_base *base;
    char *name;
    char *host, *unix_socket, *password, *prefix;
    int port;
    unsigned timeout_ms;
    redisAsyncContext *ac;
    bool tls;                   /* hiredis talks to store_tls's Unix socket */
    struct store_tls *bridge;   /* NULL with tls: not built yet (retried) */
    struct cfg_redis tls_cfg;   /* what the bridge is built from (strings owned) */
    struct evdns_base *dns;     /* host is a name: dns_get(base)'s resolver */
    struct evdns_getaddrinfo_request *dns_req;
    char addr[INET6_ADDRSTRLEN];    /* what host resolved to last */
    char *client_name;          /* CLIENT SETNAME at every connect; NULL: none */
    bool connected;             /* TCP up */
    bool ready;                 /* and authenticated */
    uint64_t connect_started_ms;
    unsigned backoff_ms;
    struct event *retry_ev;
    struct event *watchdog_ev;
    struct pending *head, *tail;
    unsigned npending;
    void (*on_ready)(struct store_redis *, void *);
    void *on_ready_arg;
    unsigned long sent, failures;
    bool was_ready;             /* log "lost" once per outage */
    struct store_batch *batches;    /* batched scripts, by rank */
    struct event *flush_ev;         /* sends them at the end of a loop pass */
    double *m_cmds, *m_failures, *m_errors;     /* core/metrics series, by conn name */
    struct metrics_histo *m_rtt;
};

static char *
xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

bool
store_reply_failed(const redisReply *reply)
{
    return !reply || reply->type == REDIS_REPLY_ERROR;
}

static void connect_now(struct store_redis *r);

static void
schedule_reconnect(struct store_redis *r)
{
    struct timeval tv = { r->backoff_ms / 1000, (suseconds_t)(r->backoff_ms % 1000) * 1000 };

    if (evtimer_pending(r->retry_ev, NULL))
        return;
    evtimer_add(r->retry_ev, &tv);
    r->backoff_ms = r->backoff_ms * 2 > 2000 ? 2000 : r->backoff_ms * 2;
}

static void
lost(struct store_redis *r, const char *why)
{
    r->ac = NULL;
    r->connected = false;
    r->ready = false;
    if (r->was_ready) {
        log_event(LOG_ERROR, "redis_lost", "conn=%s reason=\"%s\"", r->name, why);
        r->was_ready = false;
    }
    schedule_reconnect(r);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void
pending_unlink(struct store_redis *r, struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        r->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        r->tail = p->prev;
    r->npending--;
}

static void
reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct pending *p = privdata;
    struct store_redis *r = p->r;

    (void)ac;
    pending_unlink(r, p);
    if (!reply) {
        r->failures++;
        (*r->m_failures)++;
    } else {
        metrics_observe(r->m_rtt, (double)(clock_mono_us() - p->sent_us) / 1e6);
        /* NOSCRIPT (first use of a script: EVAL follows) and BUSYGROUP
         * (the consumer group exists) are expected answers, not trouble. */
        const redisReply *rr = reply;
        if (rr->type == REDIS_REPLY_ERROR && rr->str && strncmp(rr->str, "NOSCRIPT", 8) != 0 &&
            strncmp(rr->str, "BUSYGROUP", 9) != 0)
            (*r->m_errors)++;
    }
    if (p->cb)
        p->cb(r, reply, p->arg);
    free(p);
}

static void
set_ready(struct store_redis *r)
{
    r->ready = true;
    r->was_ready = true;
    r->backoff_ms = 100;
    log_event(LOG_INFO, "redis_ready", "conn=%s addr=%s%s%d tls=%s", r->name,
              r->unix_socket ? r->unix_socket : r->host, r->unix_socket ? "" : ":",
              r->unix_socket ? 0 : r->port, r->tls ? "yes" : "no");
    if (r->on_ready)
        r->on_ready(r, r->on_ready_arg);
}

static void
auth_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)arg;
    if (!reply)
        return;     /* the connection failed first: lost() says so */
    if (store_reply_failed(reply)) {
        log_event(LOG_ERROR, "redis_auth_failed", "conn=%s error=\"%s\"", r->name,
                  reply ? reply->str : "no reply");
        return;     /* the watchdog or the server's close will retry */
    }
    set_ready(r);
}

static int send_pending(struct store_redis *r, store_reply_cb cb, void *arg, int argc,
                        const char **argv, const size_t *argvlen);

static void
ping_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)arg;
    if (!reply)
        return;     /* the bridge closed: lost() reconnects */
    if (store_reply_failed(reply)) {
        log_event(LOG_ERROR, "redis_ping_failed", "conn=%s error=\"%s\"", r->name, reply->str);
        return;     /* NOAUTH and the like: the watchdog or the server's close will retry */
    }
    set_ready(r);
}

static void
name_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    (void)arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOAUTH", 6) != 0)
        log_event(LOG_WARN, "redis_setname_failed", "conn=%s error=\"%s\"", r->name, reply->str);
}

static void
connect_cb(const redisAsyncContext *ac, int status)
{
    struct store_redis *r = ac->data;

    if (r->ac != ac)
        return;
    if (status != REDIS_OK) {
        char why[160];
        snprintf(why, sizeof(why), "connect failed: %s", ac->errstr);
        if (r->was_ready || r->backoff_ms >= 2000)
            log_event(LOG_WARN, "redis_connect_failed", "conn=%s error=\"%s\"", r->name, ac->errstr);
        lost(r, why);   /* hiredis frees ac after this callback */
        return;
    }
    r->connected = true;
    if (r->password && *r->password) {
        const char *argv[] = { "AUTH", r->password };
        size_t lens[] = { 4, strlen(r->password) };
        /* AUTH goes out before anything else can: ready is still false. */
        send_pending(r, auth_cb, NULL, 2, argv, lens);
    }
    if (r->client_name) {
        /* (after AUTH, before anything of ours: CLIENT LIST names us) */
        const char *argv[] = { "CLIENT", "SETNAME", r->client_name };
        size_t lens[] = { 6, 7, strlen(r->client_name) };
        send_pending(r, name_cb, NULL, 3, argv, lens);
    }
    if (r->password && *r->password) {
        /* ready once AUTH is answered (auth_cb) */
    } else if (r->tls) {
        /* The bridge's socket accepts before its TLS handshake is done:
         * ready only once Redis has answered through it. */
        const char *argv[] = { "PING" };
        size_t lens[] = { 4 };
        send_pending(r, ping_cb, NULL, 1, argv, lens);
    } else {
        set_ready(r);
    }
}

static void
disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct store_redis *r = ac->data;

    if (r->ac != ac)
        return;
    lost(r, status == REDIS_OK ? "closed" : ac->errstr);
}

static void connect_to(struct store_redis *r, const char *ip);

/* hiredis 0.14 resolves a name with a blocking getaddrinfo() inside
 * redisAsyncConnect: a name is resolved here (core/dns.h) and hiredis gets
 * the address. */
static void
resolved_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
    struct store_redis *r = arg;

    if (result == EVUTIL_EAI_CANCEL)
        return;         /* store_redis_free: r is gone */
    r->dns_req = NULL;
    if (result != 0 || !ai) {
        log_event(LOG_WARN, "redis_connect_failed", "conn=%s error=\"cannot resolve %s: %s\"",
                  r->name, r->host, evutil_gai_strerror(result));
        if (ai)
            evutil_freeaddrinfo(ai);
        schedule_reconnect(r);
        return;
    }
    const struct evutil_addrinfo *pick = dns_pick(ai);
    const void *a = pick->ai_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr;
    if (!evutil_inet_ntop(pick->ai_family, a, r->addr, sizeof(r->addr)))
        snprintf(r->addr, sizeof(r->addr), "%s", r->host);
    evutil_freeaddrinfo(ai);
    connect_to(r, r->addr);
}

static void
connect_now(struct store_redis *r)
{
    if (r->ac || r->dns_req)
        return;
    if (!r->tls && !r->unix_socket && !dns_is_literal(r->host)) {
        if (!r->dns)
            r->dns = dns_get(r->base);
        if (r->dns) {
            struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                             .ai_protocol = IPPROTO_TCP };
            /* (answered from /etc/hosts, the callback runs inside this,
             * which then returns NULL) */
            r->dns_req = evdns_getaddrinfo(r->dns, r->host, NULL, &hints, resolved_cb, r);
            return;
        }
        log_event(LOG_WARN, "redis_dns_unavailable", "conn=%s host=%s reason=\"no resolver; "
                  "resolving with the system's, which blocks\"", r->name, r->host);
    }
    connect_to(r, r->host);
}

static void
connect_to(struct store_redis *r, const char *host)
{
    redisAsyncContext *ac;

    if (r->ac)
        return;
    if (r->tls && !r->bridge) {
        char err[320] = "";
        r->bridge = store_tls_new(r->base, &r->tls_cfg, r->name, err, sizeof(err));
        if (!r->bridge) {
            log_event(LOG_ERROR, "redis_tls_failed", "conn=%s addr=%s:%d reason=\"%s\"", r->name,
                      r->host, r->port, err);
            schedule_reconnect(r);
            return;
        }
    }
    if (r->bridge)
        ac = redisAsyncConnectUnix(store_tls_path(r->bridge));
    else
        ac = r->unix_socket ? redisAsyncConnectUnix(r->unix_socket)
                            : redisAsyncConnect(host, r->port);
    if (!ac || ac->err) {
        log_event(LOG_WARN, "redis_connect_failed", "conn=%s error=\"%s\"", r->name,
                  ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->connect_started_ms = clock_mono_ms();
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
}

/* hiredis 0.14 has no command or connect timeout. A stalled server (or a
 * SIGSTOPped one) would hold every caller forever; the watchdog drops the
 * connection instead, which answers every pending command with NULL. */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store_redis *r = arg;
    uint64_t now = clock_mono_ms();
    bool stalled = false;

    (void)fd;
    (void)what;
    if (!r->ac)
        return;
    if (!r->connected && now - r->connect_started_ms > r->timeout_ms)
        stalled = true;
    if (r->head && now - r->head->sent_ms > r->timeout_ms)
        stalled = true;
    if (!stalled)
        return;
    redisAsyncContext *ac = r->ac;
    log_event(LOG_ERROR, "redis_timeout", "conn=%s pending=%u timeout_ms=%u", r->name,
              r->npending, r->timeout_ms);
    r->ac = NULL;               /* so disconnect_cb ignores it */
    redisAsyncFree(ac);         /* runs every pending callback with NULL */
    lost(r, "command timeout");
}

static void flush_cb(evutil_socket_t fd, short what, void *arg);

struct store_redis *
store_redis_new(struct event_base *base, const struct cfg_redis *cfg, const char *name)
{
    struct store_redis *r = calloc(1, sizeof(*r));
    struct timeval tick = { 0, 250000 };

    if (!r)
        abort();
    r->base = base;
    r->name = xstrdup(name ? name : "redis");
    r->host = xstrdup(cfg->host ? cfg->host : "127.0.0.1");
    r->port = cfg->port ? cfg->port : 6379;
    r->unix_socket = xstrdup(cfg->unix_socket);
    r->password = xstrdup(cfg->password);
    r->prefix = xstrdup(cfg->prefix ? cfg->prefix : "smsgw:");
    r->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
    r->backoff_ms = 100;
    if (cfg->tls && !cfg->unix_socket) {
        r->tls = true;
        r->tls_cfg.host = r->host;
        r->tls_cfg.port = r->port;
        r->tls_cfg.timeout_ms = r->timeout_ms;
        r->tls_cfg.tls = true;
        r->tls_cfg.tls_verify = cfg->tls_verify;
        r->tls_cfg.tls_ca_file = xstrdup(cfg->tls_ca_file);
        r->tls_cfg.tls_cert_file = xstrdup(cfg->tls_cert_file);
        r->tls_cfg.tls_key_file = xstrdup(cfg->tls_key_file);
        r->tls_cfg.tls_server_name = xstrdup(cfg->tls_server_name);
    }
    char l[96];
    metrics_labels(l, sizeof(l), "conn", r->name, NULL, NULL);
    r->m_cmds = metrics_counter("smsgw_redis_commands_total", l);
    r->m_failures = metrics_counter("smsgw_redis_failures_total", l);
    r->m_errors = metrics_counter("smsgw_redis_errors_total", l);
    r->m_rtt = metrics_histo("smsgw_redis_seconds", l);
    r->retry_ev = evtimer_new(base, retry_cb, r);
    r->watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, r);
    r->flush_ev = event_new(base, -1, 0, flush_cb, r);
    if (!r->retry_ev || !r->watchdog_ev || !r->flush_ev)
        abort();
    evtimer_add(r->watchdog_ev, &tick);
    connect_now(r);
    return r;
}

void
store_redis_set_client_name(struct store_redis *r, const char *instance)
{
    char buf[200];
    snprintf(buf, sizeof(buf), "smsgwd:%s:%s", instance ? instance : "smsgwd", r->name);
    for (char *c = buf; *c; c++)
        if (*c <= ' ' || *c > '~')
            *c = '_';       /* Redis refuses spaces and controls in a name */
    free(r->client_name);
    r->client_name = xstrdup(buf);
}

void
store_redis_free(struct store_redis *r)
{
    if (!r)
        return;
    store_redis_flush(r);       /* queued items get their answer (NULL below) */
    for (struct store_batch *b = r->batches, *next; b; b = next) {
        next = b->next;
        free(b->buf);
        free(b->off);
        free(b->alen);
        free(b->items);
        free(b);
    }
    r->batches = NULL;
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
    }
    if (r->dns_req)
        evdns_getaddrinfo_cancel(r->dns_req);   /* (the resolver is dns_get's) */
    store_tls_free(r->bridge);
    free(r->tls_cfg.tls_ca_file);
    free(r->tls_cfg.tls_cert_file);
    free(r->tls_cfg.tls_key_file);
    free(r->tls_cfg.tls_server_name);
    event_free(r->retry_ev);
    event_free(r->watchdog_ev);
    event_free(r->flush_ev);
    free(r->name);
    free(r->host);
    free(r->unix_socket);
    free(r->password);
    free(r->prefix);
    free(r->client_name);
    free(r);
}

bool store_redis_ready(const struct store_redis *r) { return r->ready && r->ac; }
const char *store_redis_prefix(const struct store_redis *r) { return r->prefix; }
unsigned long store_redis_sent(const struct store_redis *r) { return r->sent; }
unsigned long store_redis_failures(const struct store_redis *r) { return r->failures; }

void
store_redis_on_ready(struct store_redis *r, void (*fn)(struct store_redis *, void *), void *arg)
{
    r->on_ready = fn;
    r->on_ready_arg = arg;
}

/* A pending entry at the tail: replies come back in order, so the head is
 * always the oldest command, which is what the watchdog looks at. */
static struct pending *
pending_push(struct store_redis *r, store_reply_cb cb, void *arg)
{
    struct pending *p = malloc(sizeof(*p));

    if (!p)
        abort();
    p->r = r;
    p->cb = cb;
    p->arg = arg;
    p->sent_us = clock_mono_us();
    p->sent_ms = p->sent_us / 1000u;
    p->next = NULL;
    p->prev = r->tail;
    if (r->tail)
        r->tail->next = p;
    else
        r->head = p;
    r->tail = p;
    r->npending++;
    return p;
}

static int
send_pending(struct store_redis *r, store_reply_cb cb, void *arg, int argc, const char **argv,
             const size_t *argvlen)
{
    struct pending *p = pending_push(r, cb, arg);

    if (redisAsyncCommandArgv(r->ac, reply_cb, p, argc, argv, argvlen) != REDIS_OK) {
        pending_unlink(r, p);
        free(p);
        return -1;
    }
    r->sent++;
    (*r->m_cmds)++;
    return 0;
}

int
store_redis_argv(struct store_redis *r, store_reply_cb cb, void *arg, int argc, const char **argv,
                 const size_t *argvlen)
{
    if (!store_redis_ready(r))
        return -1;
    return send_pending(r, cb, arg, argc, argv, argvlen);
}

int
store_redis_cmd(struct store_redis *r, store_reply_cb cb, void *arg, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    int len;

    if (!store_redis_ready(r))
        return -1;
    va_start(ap, fmt);
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    struct pending *p = pending_push(r, cb, arg);
    int rc = redisAsyncFormattedCommand(r->ac, reply_cb, p, cmd, (size_t)len);
    free(cmd);
    if (rc != REDIS_OK) {
        pending_unlink(r, p);
        free(p);
        return -1;
    }
    r->sent++;
    (*r->m_cmds)++;
    return 0;
}

/* ------------------------------------------------------------- scripts */

struct eval_retry {
    struct store_script *s;
    store_reply_cb cb;
    void *arg;
    int argc;
    char **argv;
    size_t *argvlen;
};

static void
script_sha(struct store_script *s)
{
    unsigned char md[SHA_DIGEST_LENGTH];

    if (s->sha[0])
        return;
    SHA1((const unsigned char *)s->source, strlen(s->source), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

static void
eval_retry_free(struct eval_retry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e);
}

static void
evalsha_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    struct eval_retry *e = arg;

    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* First use on this server (or after SCRIPT FLUSH): send the body. */
        free(e->argv[0]);
        free(e->argv[1]);
        e->argv[0] = xstrdup("EVAL");
        e->argvlen[0] = 4;
        e->argv[1] = xstrdup(e->s->source);
        e->argvlen[1] = strlen(e->s->source);
        if (store_redis_argv(r, e->cb, e->arg, e->argc, (const char **)e->argv, e->argvlen) != 0)
            e->cb(r, NULL, e->arg);
        eval_retry_free(e);
        return;
    }
    e->cb(r, reply, e->arg);
    eval_retry_free(e);
}

int
store_redis_eval(struct store_redis *r, struct store_script *s, store_reply_cb cb, void *arg,
                 int nkeys, int nargs, const char **argv, const size_t *argvlen)
{
    struct eval_retry *e;
    char nk[16];
    int n = 3 + nkeys + nargs;

    if (!store_redis_ready(r))
        return -1;
    script_sha(s);
    e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->s = s;
    e->cb = cb;
    e->arg = arg;
    e->argc = n;
    e->argv = calloc((size_t)n, sizeof(char *));
    e->argvlen = calloc((size_t)n, sizeof(size_t));
    if (!e->argv || !e->argvlen)
        abort();
    snprintf(nk, sizeof(nk), "%d", nkeys);
    e->argv[0] = xstrdup("EVALSHA");
    e->argvlen[0] = 7;
    e->argv[1] = xstrdup(s->sha);
    e->argvlen[1] = 40;
    e->argv[2] = xstrdup(nk);
    e->argvlen[2] = strlen(nk);
    for (int i = 0; i < nkeys + nargs; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        e->argv[3 + i] = malloc(l + 1);
        if (!e->argv[3 + i])
            abort();
        memcpy(e->argv[3 + i], argv[i], l);
        e->argv[3 + i][l] = 0;
        e->argvlen[3 + i] = l;
    }
    if (send_pending(r, evalsha_cb, e, n, (const char **)e->argv, e->argvlen) != 0) {
        eval_retry_free(e);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- batches */

/*
 * Items added to a batch during one pass of the event loop go to Redis as
 * one EVALSHA at the end of that pass (or earlier, when a batch is full):
 * ARGV is "n1 a1..an1 n2 b1..bn2 ...", each item its argument count then
 * its arguments, and the script answers an array with one element per
 * item. Every batched script runs in order of its rank, so a lower rank's
 * items always reach Redis before a higher rank's items of the same pass.
 */
/* A batch sent and waiting for its reply (owns the argument buffer so a
 * NOSCRIPT answer can be resent as EVAL). */
struct batch_flight {
    struct store_script *s;
    char *buf;
    const char **argv;
    size_t *alen;
    unsigned argc;
    struct batch_item *items;
    unsigned nitems;
    bool retried;
};

#define BATCH_MAX_ITEMS 256

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        abort();
    return q;
}

static void
batch_put(struct store_batch *b, const char *s, size_t l)
{
    if (b->nargs == b->cap_args) {
        b->cap_args = b->cap_args ? b->cap_args * 2 : 256;
        b->off = xrealloc(b->off, b->cap_args * sizeof(*b->off));
        b->alen = xrealloc(b->alen, b->cap_args * sizeof(*b->alen));
    }
    if (b->len + l + 1 > b->cap) {
        while (b->len + l + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 8192;
        b->buf = xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, s, l);
    b->buf[b->len + l] = 0;
    b->off[b->nargs] = b->len;
    b->alen[b->nargs] = l;
    b->nargs++;
    b->len += l + 1;
}

static void
flight_free(struct batch_flight *f)
{
    free(f->buf);
    free(f->argv);
    free(f->alen);
    free(f->items);
    free(f);
}

static void
batch_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    struct batch_flight *f = arg;

    if (reply && reply->type == REDIS_REPLY_ERROR && !f->retried &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        f->retried = true;
        f->argv[0] = "EVAL";
        f->alen[0] = 4;
        f->argv[1] = f->s->source;
        f->alen[1] = strlen(f->s->source);
        if (store_redis_argv(r, batch_reply, f, (int)f->argc, f->argv, f->alen) == 0)
            return;
        reply = NULL;
    }
    bool whole = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == f->nitems;
    if (!whole && reply && reply->type != REDIS_REPLY_ERROR)
        log_event(LOG_ERROR, "redis_batch_reply", "script=%s items=%u type=%d elements=%zu",
                  f->s->name, f->nitems, reply->type,
                  reply->type == REDIS_REPLY_ARRAY ? reply->elements : (size_t)0);
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_event(LOG_ERROR, "redis_batch_failed", "script=%s items=%u error=\"%s\"", f->s->name,
                  f->nitems, reply->str);
    for (unsigned i = 0; i < f->nitems; i++) {
        if (!f->items[i].cb)
            continue;
        f->items[i].cb(r, whole ? reply->element[i] : (reply && reply->type == REDIS_REPLY_ERROR)
                                                          ? reply : NULL,
                       f->items[i].arg);
    }
    flight_free(f);
}

static void
batch_send(struct store_redis *r, struct store_batch *b)
{
    if (!b->nitems)
        return;
    struct batch_flight *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    script_sha(b->s);
    f->s = b->s;
    f->argc = 3 + b->nargs;
    f->argv = malloc(f->argc * sizeof(*f->argv));
    f->alen = malloc(f->argc * sizeof(*f->alen));
    if (!f->argv || !f->alen)
        abort();
    f->argv[0] = "EVALSHA";
    f->alen[0] = 7;
    f->argv[1] = b->s->sha;
    f->alen[1] = 40;
    f->argv[2] = "0";
    f->alen[2] = 1;
    for (unsigned i = 0; i < b->nargs; i++) {
        f->argv[3 + i] = b->buf + b->off[i];
        f->alen[3 + i] = b->alen[i];
    }
    /* The flight takes the buffers; the batch starts empty. */
    f->buf = b->buf;
    f->items = b->items;
    f->nitems = b->nitems;
    b->buf = NULL;
    b->len = b->cap = 0;
    b->nargs = 0;
    b->items = NULL;
    b->nitems = b->cap_items = 0;
    if (store_redis_argv(r, batch_reply, f, (int)f->argc, f->argv, f->alen) != 0)
        batch_reply(r, NULL, f);
}

void
store_redis_flush(struct store_redis *r)
{
    for (struct store_batch *b = r->batches; b; b = b->next)
        batch_send(r, b);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_redis_flush(arg);
}

static struct store_batch *
batch_for(struct store_redis *r, struct store_script *s, unsigned rank)
{
    struct store_batch **pp = &r->batches, *b;

    for (b = r->batches; b; b = b->next)
        if (b->s == s)
            return b;
    b = calloc(1, sizeof(*b));
    if (!b)
        abort();
    b->s = s;
    b->rank = rank;
    while (*pp && (*pp)->rank <= rank)
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
    return b;
}

int
store_redis_batch(struct store_redis *r, struct store_script *s, unsigned rank,
                  store_reply_cb cb, void *arg, int nargs, const char **argv,
                  const size_t *argvlen)
{
    char n[16];

    if (!store_redis_ready(r))
        return -1;
    struct store_batch *b = batch_for(r, s, rank);
    if (b->nitems == b->cap_items) {
        b->cap_items = b->cap_items ? b->cap_items * 2 : 64;
        b->items = xrealloc(b->items, b->cap_items * sizeof(*b->items));
    }
    b->items[b->nitems].cb = cb;
    b->items[b->nitems].arg = arg;
    b->nitems++;
    int l = snprintf(n, sizeof(n), "%d", nargs);
    batch_put(b, n, (size_t)l);
    for (int i = 0; i < nargs; i++)
        batch_put(b, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
    if (b->nitems >= BATCH_MAX_ITEMS)
        store_redis_flush(r);
    else
        event_active(r->flush_ev, EV_TIMEOUT, 1);
    return 0;
}
