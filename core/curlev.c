/*
 * libcurl tells us which sockets to watch (sock_cb) and when to wake it
 * (timer_cb); those become libevent events, and readiness goes back with
 * curl_multi_socket_action(). Finished transfers are collected after every
 * action in check_done().
 */
#include "core/curlev.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "core/log.h"

struct cl_xfer {
    curlev_done_cb done;
    void *arg;
};

struct cl_sock {
    LIST_ENTRY(cl_sock) link;       /* on socks, then on dead */
    struct curlev *c;
    curl_socket_t fd;
    struct event ev;
    bool added;
};

LIST_HEAD(cl_socks, cl_sock);

struct curlev {
    struct event_base *base;
    CURLM *multi;
    struct event timer_ev;
    struct event reap_ev;
    struct cl_socks socks, dead;
    unsigned active;
};

static void
fatal(const char *what)
{
    log_event(LOG_ERROR, "curlev_fatal", "what=\"%s\"", what);
    abort();
}

void
curlev_global_init(void)
{
    static bool done;

    if (done)
        return;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fatal("curl_global_init");
    done = true;
}

static void
check_done(struct curlev *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m dies with the handle's removal: copy first. */
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        struct cl_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            fatal("unknown easy handle");
        curl_multi_remove_handle(c->multi, e);
        curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
        c->active--;
        curlev_done_cb done = x->done;
        void *arg = x->arg;
        free(x);
        done(e, res, arg);
    }
}

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cl_sock *s = arg;
    struct curlev *c = s->c;
    int flags = 0, running;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    /* s may be on the dead list now; reap_cb frees it, not this callback. */
    check_done(c);
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct curlev *c = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct curlev *c = arg;
    struct cl_sock *s;

    (void)fd;
    (void)what;
    while ((s = LIST_FIRST(&c->dead))) {
        LIST_REMOVE(s, link);
        free(s);
    }
}

/* A socket curl is done with may be reported from within the action its
 * own event callback started: unwatch it here, free it later. */
static int
sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct curlev *c = userp;
    struct cl_sock *s = socketp;
    short kind;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (s->added)
                event_del(&s->ev);
            s->added = false;
            LIST_REMOVE(s, link);
            LIST_INSERT_HEAD(&c->dead, s, link);
            curl_multi_assign(c->multi, fd, NULL);
            event_active(&c->reap_ev, EV_TIMEOUT, 0);
        }
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            abort();
        s->c = c;
        s->fd = fd;
        LIST_INSERT_HEAD(&c->socks, s, link);
        curl_multi_assign(c->multi, fd, s);
    }
    switch (what) {
    case CURL_POLL_IN:    kind = EV_READ; break;
    case CURL_POLL_OUT:   kind = EV_WRITE; break;
    case CURL_POLL_INOUT: kind = EV_READ | EV_WRITE; break;
    default:              abort();
    }
    if (s->added)
        event_del(&s->ev);
    event_assign(&s->ev, c->base, fd, kind | EV_PERSIST, sock_event_cb, s);
    event_add(&s->ev, NULL);
    s->added = true;
    return 0;
}

/* curl may not be re-entered from here: even a 0 ms timeout runs from the loop. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct curlev *c = userp;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(&c->timer_ev);
    } else {
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        evtimer_add(&c->timer_ev, &tv);
    }
    return 0;
}

struct curlev *
curlev_new(struct event_base *base)
{
    struct curlev *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    curlev_global_init();
    c->base = base;
    LIST_INIT(&c->socks);
    LIST_INIT(&c->dead);
    evtimer_assign(&c->timer_ev, base, timer_event_cb, c);
    event_assign(&c->reap_ev, base, -1, 0, reap_cb, c);
    if (!(c->multi = curl_multi_init()))
        fatal("curl_multi_init");
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

void
curlev_add(struct curlev *c, CURL *easy, curlev_done_cb done, void *arg)
{
    struct cl_xfer *x = calloc(1, sizeof(*x));

    if (!x)
        abort();
    x->done = done;
    x->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(c->multi, easy) != CURLM_OK)
        fatal("curl_multi_add_handle");
    c->active++;
}

void
curlev_cancel(struct curlev *c, CURL *easy)
{
    struct cl_xfer *x = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x)
        return;
    curl_multi_remove_handle(c->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    c->active--;
    free(x);
}

unsigned
curlev_active(const struct curlev *c)
{
    return c->active;
}

void
curlev_free(struct curlev *c)
{
    struct cl_sock *s;

    if (!c)
        return;
    if (c->active)
        fatal("curlev_free with active transfers");
    /* Closes cached connections, which may still call sock_cb / timer_cb. */
    curl_multi_cleanup(c->multi);
    event_del(&c->timer_ev);
    event_del(&c->reap_ev);
    while ((s = LIST_FIRST(&c->socks))) {
        if (s->added)
            event_del(&s->ev);
        LIST_REMOVE(s, link);
        free(s);
    }
    reap_cb(-1, 0, c);
    free(c);
}
