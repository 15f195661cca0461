#include "store/store_tls.h"
#include "core/clock.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/dns.h"
#include "core/log.h"
#include "smpp/smpp_tls.h"

/* Stop reading one side while the other has this much to write; resume
 * when it has drained to half. */
#define HIGH_WATER (1u << 20)

struct pair {
    struct store_tls *t;
    struct bufferevent *in;     /* hiredis, on the Unix socket */
    struct bufferevent *out;    /* TLS to Redis */
    bool up;                    /* handshake done */
    bool closing;               /* Redis side gone: in closes once flushed */
    bool in_paused, out_paused; /* not read: the other side's output is full */
    struct evdns_getaddrinfo_request *dns_req;  /* host is a name: resolving */
    struct pair *prev, *next;
};

struct store_tls {
    struct event_base *base;
    char *name, *host, *server_name;
    int port;
    unsigned timeout_ms;
    SSL_CTX *ctx;
    struct evconnlistener *lis;
    char dir[PATH_MAX];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct pair *pairs;
    struct evdns_base *dns;     /* host is a name: dns_get(base)'s resolver */
    char last_reason[200];      /* redis_tls_failed: repeats are logged at most every 30 s */
    uint64_t last_log_ms;
};

static void
tls_failed(struct store_tls *t, const char *reason)
{
    uint64_t now = clock_mono_ms();

    if (strcmp(reason, t->last_reason) == 0 && now - t->last_log_ms < 30000)
        return;
    snprintf(t->last_reason, sizeof(t->last_reason), "%s", reason);
    t->last_log_ms = now;
    log_event(LOG_ERROR, "redis_tls_failed", "conn=%s addr=%s:%d reason=\"%s\"", t->name, t->host,
              t->port, reason);
}

static void
pair_free(struct pair *p)
{
    struct store_tls *t = p->t;

    if (p->prev)
        p->prev->next = p->next;
    else
        t->pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (p->dns_req)
        evdns_getaddrinfo_cancel(p->dns_req);   /* its callback sees CANCEL, touches nothing */
    if (p->in)
        bufferevent_free(p->in);
    if (p->out)
        bufferevent_free(p->out);
    free(p);
}

/* Why the TLS side failed, in words an operator can act on. */
static void
out_reason(struct pair *p, short what, char *buf, size_t sz)
{
    SSL *ssl = bufferevent_openssl_get_ssl(p->out);
    unsigned long e = 0, last;
    int serr = EVUTIL_SOCKET_ERROR();

    while ((last = bufferevent_get_openssl_error(p->out)) != 0)
        if (!e)
            e = last;
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    /* libevent reports a socket-level failure (connect refused, reset) as
     * the bare SSL_ERROR_SYSCALL code, not an OpenSSL error: the socket
     * says what it was (SO_ERROR, else errno as the callback found it). */
    if (e && ERR_GET_LIB(e) == 0)
        e = 0;
    if (!e) {
        int fd = bufferevent_getfd(p->out), soerr = 0;
        socklen_t len = sizeof(soerr);
        if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr)
            serr = soerr;
        if (!serr && !(what & BEV_EVENT_EOF))
            serr = EIO;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        snprintf(buf, sz, "%s timed out after %u ms", p->up ? "connection" : "TLS handshake",
                 p->t->timeout_ms);
    } else if (!p->up && vr != X509_V_OK) {
        snprintf(buf, sz, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    } else if (e) {
        char s[160];
        ERR_error_string_n(e, s, sizeof(s));
        snprintf(buf, sz, "TLS error: %s", s);
    } else if (what & BEV_EVENT_EOF) {
        snprintf(buf, sz, p->up ? "closed by the server" : "closed by the server during the TLS handshake");
    } else if (serr) {
        snprintf(buf, sz, "%s: %s", p->up ? "connection failed" : "connect failed", strerror(serr));
    } else {
        snprintf(buf, sz, "TLS connection failed");
    }
}

/* dst drained below its low mark (half of HIGH_WATER, or empty when
 * closing): read its source again, or finish the close. */
static void
drained_cb(struct bufferevent *dst, void *arg)
{
    struct pair *p = arg;

    if (p->closing) {
        if (dst == p->in && evbuffer_get_length(bufferevent_get_output(p->in)) == 0)
            pair_free(p);
        return;
    }
    if (dst == p->in && p->out_paused) {
        p->out_paused = false;
        bufferevent_enable(p->out, EV_READ);
    } else if (dst == p->out && p->in_paused) {
        p->in_paused = false;
        bufferevent_enable(p->in, EV_READ);
    }
}

static void
relay_cb(struct bufferevent *src, void *arg)
{
    struct pair *p = arg;
    struct bufferevent *dst = src == p->in ? p->out : p->in;

    if (!dst || p->closing || (src == p->in && !p->up))
        return;
    bufferevent_write_buffer(dst, bufferevent_get_input(src));
    if (evbuffer_get_length(bufferevent_get_output(dst)) >= HIGH_WATER) {
        bufferevent_disable(src, EV_READ);
        if (src == p->in)
            p->in_paused = true;
        else
            p->out_paused = true;
    }
}

/* The Redis side is gone: hand hiredis what it already sent, then close
 * the Unix side, which hiredis sees as the connection's loss. */
static void
close_in_after_flush(struct pair *p)
{
    if (p->out) {
        struct evbuffer *rest = bufferevent_get_input(p->out);
        if (p->up && evbuffer_get_length(rest))
            bufferevent_write_buffer(p->in, rest);
        bufferevent_free(p->out);
        p->out = NULL;
    }
    p->closing = true;
    bufferevent_disable(p->in, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(p->in)) == 0) {
        pair_free(p);
        return;
    }
    bufferevent_setwatermark(p->in, EV_WRITE, 0, 0);    /* drained_cb frees p when empty */
}

static void
out_event_cb(struct bufferevent *out, short what, void *arg)
{
    struct pair *p = arg;
    char reason[200];

    (void)out;
    if (what & BEV_EVENT_CONNECTED) {
        p->up = true;
        bufferevent_set_timeouts(p->out, NULL, NULL);
        int fd = bufferevent_getfd(p->out), one = 1;
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        log_event(LOG_DEBUG, "redis_tls_up", "conn=%s addr=%s:%d protocol=%s", p->t->name,
                  p->t->host, p->t->port, SSL_get_version(bufferevent_openssl_get_ssl(p->out)));
        bufferevent_enable(p->in, EV_READ);
        relay_cb(p->in, p);     /* what hiredis wrote meanwhile */
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    out_reason(p, what, reason, sizeof(reason));
    /* A clean close of an established link (Redis restarting, its timeout)
     * is what store_redis reports as redis_lost; anything else says why. */
    if (!p->up || !(what & BEV_EVENT_EOF) || strcmp(reason, "closed by the server") != 0)
        tls_failed(p->t, reason);
    close_in_after_flush(p);
}

static void
in_event_cb(struct bufferevent *in, short what, void *arg)
{
    (void)in;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        pair_free(arg);     /* hiredis closed: so does the TLS side */
}

static void
connect_out(struct pair *p, const struct sockaddr *sa, int len)
{
    char reason[200];

    if (bufferevent_socket_connect(p->out, sa, len) != 0) {
        snprintf(reason, sizeof(reason), "connect failed: %s", strerror(errno));
        tls_failed(p->t, reason);
        pair_free(p);
    }
}

static void
pair_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
    struct pair *p = arg;
    char reason[200];

    if (result == EVUTIL_EAI_CANCEL)
        return;     /* pair_free: p is going */
    p->dns_req = NULL;
    if (result != 0 || !ai) {
        snprintf(reason, sizeof(reason), "cannot resolve %.80s: %.80s", p->t->host,
                 evutil_gai_strerror(result));
        tls_failed(p->t, reason);
        if (ai)
            evutil_freeaddrinfo(ai);
        pair_free(p);
        return;
    }
    const struct evutil_addrinfo *a = dns_pick(ai);
    connect_out(p, a->ai_addr, (int)a->ai_addrlen);
    evutil_freeaddrinfo(ai);
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct store_tls *t = arg;
    struct pair *p = calloc(1, sizeof(*p));
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char portstr[16], reason[200];
    const char *name = t->server_name ? t->server_name : t->host;

    (void)lis;
    (void)sa;
    (void)salen;
    if (!p)
        abort();
    p->t = t;
    p->next = t->pairs;
    if (t->pairs)
        t->pairs->prev = p;
    t->pairs = p;
    p->in = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    SSL *ssl = smpp_tls_client_ssl(t->ctx, name);
    if (!p->in || !ssl)
        abort();
    p->out = bufferevent_openssl_socket_new(t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!p->out)
        abort();
    bufferevent_setcb(p->in, relay_cb, drained_cb, in_event_cb, p);
    bufferevent_setcb(p->out, relay_cb, drained_cb, out_event_cb, p);
    bufferevent_setwatermark(p->in, EV_READ, 0, HIGH_WATER);
    bufferevent_setwatermark(p->out, EV_READ, 0, HIGH_WATER);
    bufferevent_setwatermark(p->in, EV_WRITE, HIGH_WATER / 2, 0);
    bufferevent_setwatermark(p->out, EV_WRITE, HIGH_WATER / 2, 0);
    bufferevent_enable(p->out, EV_READ | EV_WRITE);
    /* in is read once the handshake is done; its EOF is seen then too,
     * and store_redis's watchdog bounds the wait. */
    struct timeval tv = { t->timeout_ms / 1000, (suseconds_t)(t->timeout_ms % 1000) * 1000 };
    bufferevent_set_timeouts(p->out, &tv, &tv);

    snprintf(portstr, sizeof(portstr), "%d", t->port);
    if (dns_is_literal(t->host)) {
        hints.ai_flags = AI_NUMERICHOST;        /* no lookup: cannot block */
        int rc = getaddrinfo(t->host, portstr, &hints, &ai);
        if (rc != 0 || !ai) {
            snprintf(reason, sizeof(reason), "bad address %.80s: %.80s", t->host, gai_strerror(rc));
            tls_failed(t, reason);
            if (ai)
                freeaddrinfo(ai);
            pair_free(p);
            return;
        }
        connect_out(p, ai->ai_addr, (int)ai->ai_addrlen);
        freeaddrinfo(ai);
        return;
    }
    /* A name: resolved without blocking (core/dns.h). */
    if (!t->dns)
        t->dns = dns_get(t->base);
    if (!t->dns) {
        tls_failed(t, "no DNS resolver (evdns_base_new failed)");
        pair_free(p);
        return;
    }
    struct evutil_addrinfo eh = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_protocol = IPPROTO_TCP };
    struct evdns_getaddrinfo_request *q =
        evdns_getaddrinfo(t->dns, t->host, portstr, &eh, pair_resolved, p);
    if (q)      /* NULL: answered inside (/etc/hosts), and p may be gone */
        p->dns_req = q;
}

static int
make_socket_dir(struct store_tls *t, const char *name, char *err, size_t errsz)
{
    /* systemd's RuntimeDirectory= (/run/smsgw), else $TMPDIR, else /tmp;
     * the socket path must fit sun_path, so a long one falls to the next. */
    const char *cand[] = { getenv("RUNTIME_DIRECTORY"), getenv("TMPDIR"), "/tmp" };
    const char *tmp = "/tmp";
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
        if (cand[i] && cand[i][0] == '/' && strlen(cand[i]) <= 60 && !strchr(cand[i], ':')) {
            tmp = cand[i];
            break;
        }
    }
    snprintf(t->dir, sizeof(t->dir), "%s/smsgw-redis-XXXXXX", tmp);
    if (!mkdtemp(t->dir)) {     /* mode 0700 */
        snprintf(err, errsz, "cannot create a private directory in %s: %s", tmp, strerror(errno));
        t->dir[0] = 0;
        return -1;
    }
    int n = snprintf(t->path, sizeof(t->path), "%s/%.20s.sock", t->dir, name);
    if (n < 0 || (size_t)n >= sizeof(t->path)) {
        snprintf(err, errsz, "socket path in %s is too long", t->dir);
        return -1;
    }
    memcpy(sun.sun_path, t->path, strlen(t->path) + 1);
    t->lis = evconnlistener_new_bind(t->base, accept_cb, t,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                     (struct sockaddr *)&sun, (int)sizeof(sun));
    if (!t->lis) {
        snprintf(err, errsz, "cannot listen on %s: %s", t->path, strerror(errno));
        return -1;
    }
    if (chmod(t->path, 0600) != 0) {
        snprintf(err, errsz, "cannot chmod %s: %s", t->path, strerror(errno));
        return -1;
    }
    return 0;
}

struct store_tls *
store_tls_new(struct event_base *base, const struct cfg_redis *cfg, const char *name, char *err,
              size_t errsz)
{
    struct store_tls *t = calloc(1, sizeof(*t));
    struct smpp_tls_client_cfg tc = { .ca_file = cfg->tls_ca_file, .cert_file = cfg->tls_cert_file,
                                      .key_file = cfg->tls_key_file, .verify = cfg->tls_verify };

    if (!t)
        abort();
    t->base = base;
    t->name = strdup(name ? name : "redis");
    t->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    t->server_name = cfg->tls_server_name ? strdup(cfg->tls_server_name) : NULL;
    if (!t->name || !t->host || (cfg->tls_server_name && !t->server_name))
        abort();
    t->port = cfg->port ? cfg->port : 6379;
    t->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
    t->ctx = smpp_tls_client_ctx(&tc, err, errsz);
    if (!t->ctx || make_socket_dir(t, t->name, err, errsz) != 0) {
        store_tls_free(t);
        return NULL;
    }
    if (!cfg->tls_verify)
        log_event(LOG_WARN, "redis_tls_unverified", "conn=%s addr=%s:%d note=\"tls_verify is "
                  "false: Redis's certificate is not checked\"", t->name, t->host, t->port);
    return t;
}

const char *
store_tls_path(const struct store_tls *t)
{
    return t->path;
}

void
store_tls_free(struct store_tls *t)
{
    if (!t)
        return;
    while (t->pairs)
        pair_free(t->pairs);
    if (t->lis)
        evconnlistener_free(t->lis);
    if (t->lis || t->path[0])
        unlink(t->path);
    if (t->dir[0])
        rmdir(t->dir);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    free(t->name);
    free(t->host);
    free(t->server_name);
    free(t);
}
