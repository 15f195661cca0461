#include "smpp/smpp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "core/log.h"

struct srv_node {
    struct smpp_session *s;
    struct srv_node *prev, *next;
};

struct smpp_server {
    struct event_base *base;
    struct evconnlistener *lev;
    struct smpp_server_cfg cfg;
    char *system_id;
    const struct smpp_session_ops *app;
    void *app_ctx;
    struct smpp_session_ops ops;
    struct srv_node *head;
    unsigned count;
    int port;
    bool shutting_down;
};

static uint32_t
w_on_bind(struct smpp_session *s, const struct smpp_pdu *p, void *ctx)
{
    struct smpp_server *srv = ctx;

    if (srv->shutting_down)
        return ESME_RBINDFAIL;
    return srv->app->on_bind ? srv->app->on_bind(s, p, srv->app_ctx) : ESME_RBINDFAIL;
}

static void
w_on_request(struct smpp_session *s, const struct smpp_pdu *p, void *ctx)
{
    struct smpp_server *srv = ctx;

    if (srv->app->on_request)
        srv->app->on_request(s, p, srv->app_ctx);
    else if (smpp_resp_id(p->hdr.command_id))
        smpp_session_respond_status(s, &p->hdr, ESME_RSYSERR);
}

static void
w_on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
           void *ctx)
{
    struct smpp_server *srv = ctx;

    if (srv->app->on_state)
        srv->app->on_state(s, from, to, reason, srv->app_ctx);
}

static void
w_on_window(struct smpp_session *s, void *ctx)
{
    struct smpp_server *srv = ctx;

    if (srv->app->on_window)
        srv->app->on_window(s, srv->app_ctx);
}

static void
w_on_closed(struct smpp_session *s, void *ctx)
{
    struct smpp_server *srv = ctx;
    struct srv_node *n = smpp_session_udata(s);

    if (srv->app->on_closed)
        srv->app->on_closed(s, srv->app_ctx);
    if (n) {
        if (n->prev)
            n->prev->next = n->next;
        else
            srv->head = n->next;
        if (n->next)
            n->next->prev = n->prev;
        free(n);
        srv->count--;
    }
    smpp_session_free(s);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
          void *arg)
{
    struct smpp_server *srv = arg;
    struct smpp_session *s;
    struct srv_node *n;

    (void)lev;
    (void)sa;
    (void)salen;
    if (srv->shutting_down || (srv->cfg.max_sessions && srv->count >= srv->cfg.max_sessions)) {
        log_event(LOG_WARN, "smpp_accept_refused", "port=%d sessions=%u reason=%s", srv->port,
                  srv->count, srv->shutting_down ? "shutting down" : "max_sessions");
        close(fd);
        return;
    }
    s = smpp_session_new(srv->base, fd, SMPP_ROLE_SMSC, &srv->cfg.session, srv->cfg.ssl_ctx,
                         NULL, &srv->ops, srv);
    if (!s)
        return;
    smpp_session_set_system_id(s, srv->system_id);
    n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->s = s;
    n->next = srv->head;
    if (srv->head)
        srv->head->prev = n;
    srv->head = n;
    srv->count++;
    smpp_session_set_udata(s, n);
}

struct smpp_server *
smpp_server_new(struct event_base *base, const struct smpp_server_cfg *cfg,
                const struct smpp_session_ops *ops, void *ctx)
{
    struct smpp_server *srv = calloc(1, sizeof(*srv));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct sockaddr_in sin = { .sin_family = AF_INET };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    struct sockaddr *sa;
    int salen;
    const char *addr = cfg->addr ? cfg->addr : "127.0.0.1";

    if (!srv)
        abort();
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&sin;
        salen = sizeof(sin);
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&sin6;
        salen = sizeof(sin6);
    } else {
        free(srv);
        errno = EINVAL;
        return NULL;
    }
    srv->base = base;
    srv->cfg = *cfg;
    srv->system_id = strdup(cfg->system_id ? cfg->system_id : "smsgw");
    srv->app = ops;
    srv->app_ctx = ctx;
    srv->ops.on_bind = w_on_bind;
    srv->ops.on_request = w_on_request;
    srv->ops.on_state = w_on_state;
    srv->ops.on_window = w_on_window;
    srv->ops.on_closed = w_on_closed;
    srv->lev = evconnlistener_new_bind(base, accept_cb, srv,
                                       LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                       LEV_OPT_CLOSE_ON_EXEC, 512, sa, salen);
    if (!srv->lev) {
        int e = errno;
        free(srv->system_id);
        free(srv);
        errno = e;
        return NULL;
    }
    if (getsockname(evconnlistener_get_fd(srv->lev), (struct sockaddr *)&ss, &sl) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    log_event(LOG_INFO, "smpp_listen", "addr=%s port=%d tls=%s", addr, srv->port,
              cfg->ssl_ctx ? "yes" : "no");
    return srv;
}

int smpp_server_port(const struct smpp_server *srv) { return srv->port; }
unsigned smpp_server_sessions(const struct smpp_server *srv) { return srv->count; }

void
smpp_server_foreach(struct smpp_server *srv, void (*fn)(struct smpp_session *, void *), void *arg)
{
    for (struct srv_node *n = srv->head, *next; n; n = next) {
        next = n->next;
        fn(n->s, arg);
    }
}

static void
unbind_one(struct smpp_session *s, void *arg)
{
    (void)arg;
    smpp_session_unbind(s);
}

void
smpp_server_shutdown(struct smpp_server *srv)
{
    srv->shutting_down = true;
    evconnlistener_disable(srv->lev);
    smpp_server_foreach(srv, unbind_one, NULL);
}

void
smpp_server_free(struct smpp_server *srv)
{
    if (!srv)
        return;
    evconnlistener_free(srv->lev);
    while (srv->head) {
        struct srv_node *n = srv->head;
        srv->head = n->next;
        if (srv->app->on_closed)
            srv->app->on_closed(n->s, srv->app_ctx);
        smpp_session_free(n->s);
        free(n);
    }
    free(srv->system_id);
    free(srv);
}
