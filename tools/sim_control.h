/*
 * smsc-sim: a loopback line server for the control port.
 *
 * Each line a client sends (CRLF or LF, at most CTL_LINE_MAX bytes) is
 * handed to the owner's handler, which answers with ctl_reply() (one line
 * per command, by convention). It knows no commands itself.
 *
 * Ownership: ctl_server_new() returns a server that owns its listener and
 * connections; ctl_server_free() closes all of them. A connection is never
 * freed inside its own callback: it is marked dead and freed from a
 * separate event (reap_cb).
 *
 * Included by tools/smsc-sim.c only; everything is static.
 */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define CTL_LINE_MAX 4096

struct ctl_conn;

/* line is NUL-terminated and writable; it is freed after the call. */
typedef void (*ctl_handler)(void *arg, struct ctl_conn *c, char *line);

struct ctl_server {
    struct event_base *base;
    struct evconnlistener *lev;
    struct event *reap_ev;
    struct ctl_conn *conns;
    ctl_handler handler;
    void *arg;
    int port;
};

struct ctl_conn {
    struct ctl_server *srv;
    struct bufferevent *bev;
    struct ctl_conn *next;
    bool dead;
};

static void
ctl_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctl_server *srv = arg;

    (void)fd;
    (void)what;
    for (struct ctl_conn **pp = &srv->conns; *pp;) {
        struct ctl_conn *c = *pp;
        if (c->dead) {
            *pp = c->next;
            bufferevent_free(c->bev);
            free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void
ctl_kill(struct ctl_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    bufferevent_disable(c->bev, EV_READ);
    event_active(c->srv->reap_ev, EV_TIMEOUT, 0);
}

static void ctl_reply(struct ctl_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queue one reply line (the newline is added). */
static void
ctl_reply(struct ctl_conn *c, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    va_list ap;

    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    evbuffer_add(out, "\n", 1);
}

/* Next space-separated word of *p (advanced past it), or NULL. */
static char *
ctl_next_word(char **p)
{
    char *s = *p, *w;

    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    w = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = '\0';
    *p = s;
    return w;
}

static void
ctl_read_cb(struct bufferevent *bev, void *arg)
{
    struct ctl_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t n;

    while (!c->dead && (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
        if (n < CTL_LINE_MAX)
            c->srv->handler(c->srv->arg, c, line);
        else
            ctl_reply(c, "ERR line too long");
        free(line);
    }
    /* A line that never ends is not buffered without bound. */
    if (!c->dead && evbuffer_get_length(in) > CTL_LINE_MAX) {
        ctl_reply(c, "ERR line too long");
        ctl_kill(c);
    }
}

static void
ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        ctl_kill(arg);
}

static void
ctl_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
              void *arg)
{
    struct ctl_server *srv = arg;
    struct ctl_conn *c = calloc(1, sizeof(*c));

    (void)lev;
    (void)sa;
    (void)salen;
    if (!c)
        abort();
    c->srv = srv;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, ctl_read_cb, NULL, ctl_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = srv->conns;
    srv->conns = c;
}

/* Listen on 127.0.0.1:port (0: any free port, see srv->port). NULL on
 * error, errno set. Free with ctl_server_free(). */
static struct ctl_server *
ctl_server_new(struct event_base *base, int port, ctl_handler handler, void *arg)
{
    struct ctl_server *srv = calloc(1, sizeof(*srv));
    struct sockaddr_in sin = { .sin_family = AF_INET }, got;
    socklen_t len = sizeof(got);

    if (!srv)
        abort();
    srv->base = base;
    srv->handler = handler;
    srv->arg = arg;
    srv->reap_ev = event_new(base, -1, 0, ctl_reap_cb, srv);
    if (!srv->reap_ev)
        abort();
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    srv->lev = evconnlistener_new_bind(base, ctl_accept_cb, srv,
                                       LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                       LEV_OPT_CLOSE_ON_EXEC, 16,
                                       (struct sockaddr *)&sin, sizeof(sin));
    if (!srv->lev) {
        int e = errno;
        event_free(srv->reap_ev);
        free(srv);
        errno = e;
        return NULL;
    }
    if (getsockname(evconnlistener_get_fd(srv->lev), (struct sockaddr *)&got, &len) == 0)
        srv->port = ntohs(got.sin_port);
    return srv;
}

/* Accept no more connections; the open ones keep working. */
static void
ctl_server_stop_listening(struct ctl_server *srv)
{
    if (srv->lev) {
        evconnlistener_free(srv->lev);
        srv->lev = NULL;
    }
}

static void
ctl_server_free(struct ctl_server *srv)
{
    if (!srv)
        return;
    ctl_server_stop_listening(srv);
    while (srv->conns) {
        struct ctl_conn *c = srv->conns;
        srv->conns = c->next;
        bufferevent_free(c->bev);
        free(c);
    }
    event_free(srv->reap_ev);
    free(srv);
}

#endif
