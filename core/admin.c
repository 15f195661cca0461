#include "core/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "core/config.h"
#include "core/log.h"
#include "core/smpp_front.h"
#include "core/status.h"
#include "router/router_mt.h"
#include "smpp/smpp_pdu.h"
#include "store/store_failed.h"
#include "store/store_msg.h"
#include "store/store_redis.h"

/* A request line longer than this closes the connection. */
#define ADMIN_MAX_LINE 65536
#define MAX_ROUTES 1024

struct aconn;

struct admin {
    struct admin_deps d;
    struct reloader *rl;
    struct evconnlistener *unix_l, *tcp_l;
    char *sock_path;                /* set while we own the socket file */
    struct aconn *conns;
};

/* One admin connection. Requests are answered one at a time, in order:
 * while one waits for Redis or a reload, further lines stay buffered. */
struct aconn {
    struct admin *a;
    struct bufferevent *bev;        /* NULL once the peer is gone */
    bool tcp;
    bool busy;
    bool in_handle;                 /* inside handle_line: its caller reads on */
    unsigned id;
    struct aconn *prev, *next;
};

static void conn_process(struct aconn *c);

static void
conn_free(struct aconn *c)
{
    struct admin *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->bev)
        bufferevent_free(c->bev);
    free(c);
}

/* Send o (consumed) as one line; the next buffered request may go. */
static void
reply(struct aconn *c, json_object *o)
{
    if (c->bev) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        bufferevent_write(c->bev, s, strlen(s));
        bufferevent_write(c->bev, "\n", 1);
    }
    json_object_put(o);
    c->busy = false;
    if (c->in_handle)
        return;
    if (!c->bev) {
        conn_free(c);
        return;
    }
    conn_process(c);    /* an answer that waited: read the next request */
}

static void
reply_error(struct aconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply_error(struct aconn *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(msg));
    reply(c, o);
}

static json_object *
ok_object(void)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    return o;
}

static json_object *
jstring(const char *s)
{
    return json_object_new_string(s ? s : "");
}

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JSTR(s) jstring(s)
#define JINT(n) json_object_new_int64((int64_t)(n))
#define JDBL(n) json_object_new_double((double)(n))
#define JBOOL(b) json_object_new_boolean((b) ? 1 : 0)

/* ------------------------------------------------------------ status */

struct counts {
    unsigned sessions, bound, binds;
};

static void
count_session(void *arg, const struct mt_session_info *si)
{
    struct counts *n = arg;
    n->sessions++;
    n->bound += si->bound;
}

static void
count_binds(void *arg, const char *account, unsigned binds, unsigned rx)
{
    struct counts *n = arg;
    (void)account;
    (void)rx;
    n->binds += binds;
}

static void
cmd_status(struct aconn *c)
{
    const struct reload_deps *r = &c->a->d.r;
    const struct gw_config *cfg = *r->cfg;
    static struct mt_route_info ri[MAX_ROUTES];
    struct counts n = { 0 };
    unsigned paused = 0;

    mt_engine_sessions(*r->mt, count_session, &n);
    if (r->smpp)
        smpp_front_accounts(r->smpp, count_binds, &n);
    size_t nr = mt_engine_routes(*r->mt, ri, MAX_ROUTES);
    for (size_t i = 0; i < nr; i++)
        paused += ri[i].paused;
    json_object *o = ok_object();
    JADD(o, "instance", JSTR(cfg->instance));
    JADD(o, "pid", JINT(getpid()));
    JADD(o, "config", JSTR(r->config_path));
    JADD(o, "uptime_s", JINT((long long)status_uptime(r->status)));
    JADD(o, "redis", JBOOL(store_redis_ready(c->a->d.redis)));
    JADD(o, "smscs", JINT(cfg->nsmscs));
    JADD(o, "sessions", JINT(n.sessions));
    JADD(o, "sessions_bound", JINT(n.bound));
    JADD(o, "routes", JINT(nr));
    JADD(o, "routes_paused", JINT(paused));
    JADD(o, "accounts", JINT(cfg->naccounts));
    JADD(o, "client_binds", JINT(n.binds));
    JADD(o, "stopping", JBOOL(*r->stopping));
    reply(c, o);
}

static void
add_session(void *arg, const struct mt_session_info *si)
{
    json_object *s = json_object_new_object();
    JADD(s, "smsc", JSTR(si->smsc));
    JADD(s, "slot", JSTR(si->slot));
    JADD(s, "state", JSTR(si->state));
    JADD(s, "bound", JBOOL(si->bound));
    JADD(s, "session", JINT(si->session_id));
    JADD(s, "outstanding", JINT(si->outstanding));
    JADD(s, "window", JINT(si->window));
    JADD(s, "reconnects", JINT(si->reconnects));
    JADD(s, "health", JSTR(si->health));
    json_object_array_add(arg, s);
}

static void
add_health(void *arg, const struct mt_smsc_info *si)
{
    json_object *s = json_object_new_object();
    JADD(s, "smsc", JSTR(si->smsc));
    JADD(s, "health", JSTR(si->health));
    JADD(s, "error_rate", JDBL(si->error_rate));
    JADD(s, "samples", JINT(si->samples));
    JADD(s, "rate_at_suspend", JDBL(si->rate_at_suspend));
    JADD(s, "probe_in_s", JDBL(si->probe_in_s));
    JADD(s, "suspensions", JINT((long long)si->suspensions));
    json_object_array_add(arg, s);
}

static void
add_client(void *arg, const char *account, unsigned binds, unsigned rx)
{
    json_object *s = json_object_new_object();
    JADD(s, "account", JSTR(account));
    JADD(s, "binds", JINT(binds));
    JADD(s, "rx_binds", JINT(rx));
    json_object_array_add(arg, s);
}

static void
cmd_binds(struct aconn *c)
{
    const struct reload_deps *r = &c->a->d.r;
    json_object *o = ok_object(), *smsc = json_object_new_array(),
                *clients = json_object_new_array(), *health = json_object_new_array();
    mt_engine_sessions(*r->mt, add_session, smsc);
    mt_engine_smscs(*r->mt, add_health, health);
    if (r->smpp)
        smpp_front_accounts(r->smpp, add_client, clients);
    JADD(o, "smsc", smsc);
    JADD(o, "smsc_health", health);
    JADD(o, "clients", clients);
    reply(c, o);
}

static void
cmd_routes(struct aconn *c)
{
    const struct reload_deps *r = &c->a->d.r;
    static struct mt_route_info ri[MAX_ROUTES];
    json_object *o = ok_object(), *arr = json_object_new_array();
    size_t n = mt_engine_routes(*r->mt, ri, MAX_ROUTES);

    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_new_object();
        long long depth = -1;
        double oldest = 0, rate = 0;
        bool have = status_queue(r->status, ri[i].name, &depth, &oldest, &rate);
        JADD(x, "route", JSTR(ri[i].name));
        JADD(x, "state", JSTR(ri[i].paused ? "paused" : ri[i].bound ? "sending" : "no_bind"));
        JADD(x, "mps", JINT(ri[i].mps));
        JADD(x, "current_mps", JDBL(rate));
        JADD(x, "depth", have ? JINT(depth) : NULL);
        JADD(x, "oldest_s", have ? JDBL(oldest) : NULL);
        JADD(x, "in_memory", JINT(ri[i].in_memory));
        JADD(x, "submitted", JINT((long long)ri[i].submitted));
        JADD(x, "throttled", JINT((long long)ri[i].throttled));
        JADD(x, "smscs", JINT(ri[i].smscs));
        JADD(x, "smscs_suspended", JINT(ri[i].smscs_suspended));
        json_object_array_add(arr, x);
    }
    JADD(o, "routes", arr);
    reply(c, o);
}

static bool
route_info(struct aconn *c, const char *name, struct mt_route_info *out)
{
    static struct mt_route_info ri[MAX_ROUTES];
    size_t n = mt_engine_routes(*c->a->d.r.mt, ri, MAX_ROUTES);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ri[i].name, name) == 0) {
            *out = ri[i];
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------- Redis look-ups */

/* A request answered once several Redis replies are in. */
struct gather {
    struct aconn *c;
    json_object *o;
    json_object *list;              /* optout: scopes found */
    unsigned left;
    bool failed;
};

struct part {
    struct gather *g;
    int kind;
    char name[96];
};

enum { P_XLEN, P_XRANGE, P_XPENDING, P_HGETALL, P_OPTNUM, P_OPTACCT };

static void
gather_done(struct gather *g)
{
    if (g->failed) {
        json_object_put(g->o);
        reply_error(g->c, "Redis is unavailable");
    } else {
        if (g->list)
            JADD(g->o, "opted_out", g->list);
        reply(g->c, g->o);
        g->list = NULL;
    }
    if (g->list)
        json_object_put(g->list);
    free(g);
}

static void
part_reply(struct store_redis *r, redisReply *rep, void *arg)
{
    struct part *p = arg;
    struct gather *g = p->g;
    (void)r;

    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        g->failed = true;
    } else {
        switch (p->kind) {
        case P_XLEN:
            JADD(g->o, "depth", JINT(rep->integer));
            break;
        case P_XRANGE: {
            double age = 0;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
                rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements > 0 &&
                rep->element[0]->element[0]->type == REDIS_REPLY_STRING) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                unsigned long long ms = strtoull(rep->element[0]->element[0]->str, NULL, 10);
                age = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (double)ms / 1000.0;
                JADD(g->o, "oldest_id", JSTR(rep->element[0]->element[0]->str));
            }
            JADD(g->o, "oldest_s", JDBL(age < 0 ? 0 : age));
            break;
        }
        case P_XPENDING:
            /* [count, min id, max id, [[consumer, n], ...]] */
            JADD(g->o, "pending", JINT(rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
                                       ? rep->element[0]->integer : 0));
            break;
        case P_HGETALL:
            if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
                g->failed = false;
                JADD(g->o, "found", JBOOL(0));
                break;
            }
            json_object *rec = json_object_new_object();
            for (size_t i = 0; i + 1 < rep->elements; i += 2)
                JADD(rec, rep->element[i]->str, json_object_new_string_len(
                         rep->element[i + 1]->str, (int)rep->element[i + 1]->len));
            JADD(g->o, "found", JBOOL(1));
            JADD(g->o, "record", rec);
            break;
        case P_OPTNUM:
        case P_OPTACCT:
            if (rep->integer == 1) {
                json_object *x = json_object_new_object();
                JADD(x, "scope", JSTR(p->kind == P_OPTNUM ? "number" : "account"));
                JADD(x, p->kind == P_OPTNUM ? "sender" : "account", JSTR(p->name));
                json_object_array_add(g->list, x);
            }
            break;
        }
    }
    free(p);
    if (--g->left == 0)
        gather_done(g);
}

static void
gather_cmd(struct gather *g, int kind, const char *name, const char *fmt, const char *key,
           const char *extra)
{
    struct part *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->g = g;
    p->kind = kind;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    g->left++;
    int rc = extra ? store_redis_cmd(g->c->a->d.redis, part_reply, p, fmt, key, extra)
                   : store_redis_cmd(g->c->a->d.redis, part_reply, p, fmt, key);
    if (rc != 0) {
        g->left--;
        g->failed = true;
        free(p);
    }
}

static struct gather *
gather_new(struct aconn *c)
{
    struct gather *g = calloc(1, sizeof(*g));
    if (!g)
        abort();
    g->c = c;
    g->o = ok_object();
    return g;
}

/* Sent every command: answer now if none went out. */
static void
gather_sent(struct gather *g)
{
    if (g->left == 0)
        gather_done(g);
}

static void
cmd_queue(struct aconn *c, const char *route)
{
    struct mt_route_info ri;
    char key[600];

    if (!route_info(c, route, &ri)) {
        reply_error(c, "no route \"%s\" in the running config", route);
        return;
    }
    if (!store_redis_ready(c->a->d.redis)) {
        reply_error(c, "Redis is unavailable");
        return;
    }
    struct gather *g = gather_new(c);
    JADD(g->o, "route", JSTR(route));
    JADD(g->o, "mps", JINT(ri.mps));
    JADD(g->o, "paused", JBOOL(ri.paused));
    JADD(g->o, "in_memory", JINT(ri.in_memory));
    snprintf(key, sizeof(key), "%sq:%s", store_redis_prefix(c->a->d.redis), route);
    gather_cmd(g, P_XLEN, NULL, "XLEN %s", key, NULL);
    gather_cmd(g, P_XRANGE, NULL, "XRANGE %s - + COUNT 1", key, NULL);
    gather_cmd(g, P_XPENDING, NULL, "XPENDING %s %s", key, "smsgw");
    gather_sent(g);
}

static bool
valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

static void
cmd_message(struct aconn *c, const char *id)
{
    char key[600];
    if (!valid_id(id)) {
        reply_error(c, "\"%s\" is not a message id (1 to 64 of A-Z a-z 0-9 _ -)", id);
        return;
    }
    struct gather *g = gather_new(c);
    JADD(g->o, "id", JSTR(id));
    snprintf(key, sizeof(key), "%smsg:%s", store_redis_prefix(c->a->d.redis), id);
    gather_cmd(g, P_HGETALL, NULL, "HGETALL %s", key, NULL);
    gather_sent(g);
}

/* requeue ID: a message that ended in a failure goes back on its route's
 * queue (store_msg_requeue), with its sender's current TON/NPI. */
struct requeue_req {
    struct aconn *c;
    char id[72];
};

static bool
requeue_sender(void *arg, const char *from, uint8_t *ton, uint8_t *npi)
{
    struct requeue_req *q = arg;
    const struct cfg_sender *snd = config_sender(*q->c->a->d.r.cfg, from);

    if (!snd)
        return false;
    *ton = snd->ton;
    *npi = snd->npi;
    return true;
}

static void
requeue_done(void *arg, int rc, const char *info)
{
    struct requeue_req *q = arg;
    struct aconn *c = q->c;

    if (rc == 0) {
        mt_engine_wake(*c->a->d.r.mt, info);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=queued reason=requeued conn=%u", q->id,
                  c->id);
        json_object *o = ok_object();
        JADD(o, "id", JSTR(q->id));
        JADD(o, "route", JSTR(info));
        JADD(o, "state", JSTR("queued"));
        reply(c, o);
    } else if (rc == 1) {
        reply_error(c, "no message \"%s\"", q->id);
    } else if (rc == 2) {
        reply_error(c, "message %s is %s: only failed, rejected, expired, undelivered or "
                    "fallback_failed messages can be requeued", q->id, info ? info : "?");
    } else if (rc == 3) {
        reply_error(c, "message %s: its sender %s is no longer in the config", q->id,
                    info ? info : "?");
    } else {
        reply_error(c, "Redis is unavailable");
    }
    free(q);
}

static void
cmd_requeue(struct aconn *c, const char *id)
{
    if (!valid_id(id)) {
        reply_error(c, "\"%s\" is not a message id (1 to 64 of A-Z a-z 0-9 _ -)", id);
        return;
    }
    struct requeue_req *q = calloc(1, sizeof(*q));
    if (!q)
        abort();
    q->c = c;
    snprintf(q->id, sizeof(q->id), "%.64s", id);
    store_msg_requeue(c->a->d.redis, q->id, requeue_sender, requeue_done, q);
}

/* ------------------------------------------------ requeue --cause */

/*
 * requeue with a cause: every message the failed index (store/store_failed.h)
 * holds for the routes asked, in a time range, whose failure matches, goes
 * back through store_msg_requeue (which refuses what is no longer failed, so
 * two runs never queue one message twice). The index is walked a page at a
 * time, the filter runs in Redis; each page's requeues go out together and
 * the next page is read when they are all answered.
 */
#define BULK_EXAMINE 500            /* index entries one scan looks at */
#define BULK_PAGE 100               /* matches one scan returns */
#define BULK_LIMIT_DEFAULT 10000
#define BULK_LIMIT_MAX 1000000
#define BULK_CAUSE_MAX 128
#define BULK_LIST_MAX 10000         /* messages listed in the answer, at most */

struct bulk_req {
    struct aconn *c;
    struct store_failed_filter f;
    char cause[BULK_CAUSE_MAX + 1];         /* as the filter matches it */
    char given[BULK_CAUSE_MAX + 1];         /* as the operator wrote it */
    char smsc[96];
    char **routes;
    size_t nroutes, ri;
    struct store_failed_cursor cur;
    unsigned limit, matched, requeued, skipped;
    unsigned inflight;                      /* this page's requeues unanswered */
    bool looping;                           /* still sending this page's requeues */
    bool redis_failed;
    json_object *list;                      /* dry run: the matches; else the skipped */
    unsigned unlisted;                      /* beyond BULK_LIST_MAX */
};

struct bulk_item {
    struct bulk_req *b;
    json_object *entry;                     /* owned until listed */
    char id[72];
};

static void bulk_next(struct bulk_req *b);

static void
bulk_free(struct bulk_req *b)
{
    for (size_t i = 0; i < b->nroutes; i++)
        free(b->routes[i]);
    free(b->routes);
    if (b->list)
        json_object_put(b->list);
    free(b);
}

static void
bulk_finish(struct bulk_req *b)
{
    struct aconn *c = b->c;
    char q[300];

    log_event(LOG_INFO, "requeue_bulk", "conn=%u cause=%s dry_run=%s matched=%u requeued=%u "
              "skipped=%u%s", c->id, log_quote(b->given, q, sizeof(q)),
              b->f.dry_run ? "yes" : "no", b->matched, b->requeued, b->skipped,
              b->redis_failed ? " error=redis" : "");
    if (b->redis_failed) {
        reply_error(c, "Redis is unavailable (so far: matched %u requeued %u skipped %u; "
                    "run it again once Redis is back)", b->matched, b->requeued, b->skipped);
        bulk_free(b);
        return;
    }
    json_object *o = ok_object();
    JADD(o, "cause", JSTR(b->given));
    JADD(o, "dry_run", JBOOL(b->f.dry_run));
    JADD(o, "matched", JINT(b->matched));
    JADD(o, "requeued", JINT(b->requeued));
    JADD(o, "skipped", JINT(b->skipped));
    JADD(o, "limit_reached", JBOOL(b->matched >= b->limit));
    JADD(o, "messages", b->list);
    JADD(o, "messages_not_listed", JINT(b->unlisted));
    b->list = NULL;
    bulk_free(b);
    reply(c, o);
}

static bool
bulk_sender(void *arg, const char *from, uint8_t *ton, uint8_t *npi)
{
    struct bulk_item *it = arg;
    const struct cfg_sender *snd = config_sender(*it->b->c->a->d.r.cfg, from);

    if (!snd)
        return false;
    *ton = snd->ton;
    *npi = snd->npi;
    return true;
}

static void
bulk_page_done(struct bulk_req *b)
{
    if (b->redis_failed)
        bulk_finish(b);
    else
        bulk_next(b);
}

/* entry (consumed) into the answer's list, while it has room. */
static void
bulk_list(struct bulk_req *b, json_object *entry)
{
    if (json_object_array_length(b->list) < BULK_LIST_MAX) {
        json_object_array_add(b->list, entry);
    } else {
        b->unlisted++;
        json_object_put(entry);
    }
}

static void
bulk_skip(struct bulk_req *b, json_object *entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A match not requeued: counted, and listed with why (entry consumed). */
static void
bulk_skip(struct bulk_req *b, json_object *entry, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    b->skipped++;
    JADD(entry, "result", JSTR("skipped"));
    JADD(entry, "reason", JSTR(why));
    bulk_list(b, entry);
}

static void
bulk_requeued(void *arg, int rc, const char *info)
{
    struct bulk_item *it = arg;
    struct bulk_req *b = it->b;

    if (rc == 0) {
        char q[300];
        b->requeued++;
        json_object_put(it->entry);     /* the log has it; the answer lists the skipped */
        mt_engine_wake(*b->c->a->d.r.mt, info);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=queued reason=requeued cause=%s "
                  "conn=%u", it->id, log_quote(b->given, q, sizeof(q)), b->c->id);
    } else if (rc == 1) {
        bulk_skip(b, it->entry, "the message is gone");
    } else if (rc == 2) {
        bulk_skip(b, it->entry, "the message is %s now", info ? info : "?");
    } else if (rc == 3) {
        bulk_skip(b, it->entry, "its sender %s is no longer in the config", info ? info : "?");
    } else {
        b->redis_failed = true;
        json_object_put(it->entry);
    }
    free(it);
    if (--b->inflight == 0 && !b->looping)
        bulk_page_done(b);
}

static void
bulk_scanned(void *arg, int n, const struct store_failed_match *m, bool done)
{
    struct bulk_req *b = arg;
    const char *route = b->routes[b->ri];

    if (n < 0) {
        b->redis_failed = true;
        bulk_finish(b);
        return;
    }
    b->looping = true;
    for (int i = 0; i < n && b->matched < b->limit; i++) {
        json_object *e = json_object_new_object();
        JADD(e, "id", JSTR(m[i].id));
        JADD(e, "route", JSTR(route));
        JADD(e, "state", JSTR(m[i].state));
        JADD(e, "error", JSTR(m[i].error));
        if (m[i].smsc[0])
            JADD(e, "smsc", JSTR(m[i].smsc));
        JADD(e, "failed_ms", JINT(m[i].failed_ms));
        b->matched++;
        if (b->f.dry_run) {
            if (!config_sender(*b->c->a->d.r.cfg, m[i].from)) {
                bulk_skip(b, e, "its sender %s is no longer in the config", m[i].from);
            } else {
                JADD(e, "result", JSTR("would_requeue"));
                bulk_list(b, e);
            }
            continue;
        }
        struct bulk_item *it = calloc(1, sizeof(*it));
        if (!it)
            abort();
        it->b = b;
        it->entry = e;
        snprintf(it->id, sizeof(it->id), "%s", m[i].id);
        b->inflight++;
        store_msg_requeue(b->c->a->d.redis, it->id, bulk_sender, bulk_requeued, it);
    }
    if (done) {
        b->ri++;
        memset(&b->cur, 0, sizeof(b->cur));
    }
    b->looping = false;
    if (b->inflight == 0)
        bulk_page_done(b);
}

static bool
route_uses_smsc(const struct gw_config *cfg, const char *route, const char *smsc)
{
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].name, route) != 0)
            continue;
        for (size_t k = 0; k < cfg->routes[i].nsmscs; k++)
            if (strcmp(cfg->routes[i].smscs[k].smsc->name, smsc) == 0)
                return true;
    }
    return false;
}

static void
bulk_next(struct bulk_req *b)
{
    if (b->matched >= b->limit || b->ri >= b->nroutes) {
        bulk_finish(b);
        return;
    }
    const char *route = b->routes[b->ri];
    b->f.smsc_on_route = b->smsc[0] && route_uses_smsc(*b->c->a->d.r.cfg, route, b->smsc);
    unsigned want = b->limit - b->matched;
    store_failed_scan(b->c->a->d.redis, route, &b->f, &b->cur, BULK_EXAMINE,
                      want < BULK_PAGE ? want : BULK_PAGE, bulk_scanned, b);
}

/*
 * What the operator wrote as the cause, as the failed records hold it
 * (store/store_failed.h modes). false with why when it cannot match a
 * failure the index keeps.
 */
static bool
bulk_cause(struct bulk_req *b, const char *in, char *why, size_t whysz)
{
    static const struct { const char *word, *state; } stats[] = {
        { "UNDELIV", "undelivered" }, { "EXPIRED", "expired" }, { "REJECTD", "rejected" },
        { "failed", "failed" }, { "rejected", "rejected" }, { "expired", "expired" },
        { "undelivered", "undelivered" },
    };
    size_t n = strlen(in);

    if (n == 0 || n > BULK_CAUSE_MAX) {
        snprintf(why, whysz, "the cause must be 1 to %d characters", BULK_CAUSE_MAX);
        return false;
    }
    memcpy(b->given, in, n + 1);
    if (strcmp(in, "*") == 0) {
        b->f.mode = 'a';
        return true;
    }
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
        if (strcasecmp(in, stats[i].word) == 0) {
            b->f.mode = 's';
            snprintf(b->cause, sizeof(b->cause), "%s", stats[i].state);
            return true;
        }
    }
    static const char *const not_failures[] = { "DELIVRD", "delivered", "ACCEPTD", "ENROUTE",
                                                "DELETED", "UNKNOWN", "fallback_failed",
                                                "cancelled", "queued", "submitted" };
    for (size_t i = 0; i < sizeof(not_failures) / sizeof(not_failures[0]); i++) {
        if (strcasecmp(in, not_failures[i]) == 0) {
            snprintf(why, whysz, "\"%s\" is not a failure the index keeps (failed, rejected, "
                     "expired, undelivered; requeue ID for others)", in);
            return false;
        }
    }
    const char *name = NULL;
    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X')) {
        char *end;
        unsigned long v = strtoul(in + 2, &end, 16);
        if (!in[2] || *end || n > 10) {
            snprintf(why, whysz, "\"%s\" is not an SMPP command_status (0x followed by 1 to 8 "
                     "hex digits, e.g. 0x0000000b)", in);
            return false;
        }
        name = smpp_status_name((uint32_t)v);
    } else if (strncasecmp(in, "ESME_", 5) == 0) {
        for (uint32_t v = 0; v < 0x500 && !name; v++)
            if (strcasecmp(smpp_status_name(v), in) == 0)
                name = smpp_status_name(v);
        if (!name) {
            snprintf(why, whysz, "\"%s\" is not an SMPP status name (e.g. ESME_RINVDSTADR, or "
                     "write the code as 0x...)", in);
            return false;
        }
    }
    if (name) {
        b->f.mode = 'e';
        snprintf(b->cause, sizeof(b->cause), "%s", name);
    } else if (strspn(in, "0123456789") == n) {
        b->f.mode = 'n';
        memcpy(b->cause, in, n + 1);
        return true;
    } else {
        b->f.mode = 'e';
        memcpy(b->cause, in, n + 1);
    }
    for (char *p = b->cause; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return true;
}

/* The requeue request's fields past "cmd"; absent ones keep their zero. */
struct bulk_opts {
    bool have_cause;
    char cause[BULK_CAUSE_MAX + 2];
    char route[96], smsc[96];
    bool have_since, have_until, dry_run, have_limit;
    int64_t since_ms, until_ms, limit;
    char bad[96];                           /* a field of the wrong type */
};

static void
bulk_opts_read(json_object *req, struct bulk_opts *o)
{
    json_object *v;
    static const char *const strs[] = { "cause", "route", "smsc" };
    char *dst[] = { o->cause, o->route, o->smsc };
    size_t dsz[] = { sizeof(o->cause), sizeof(o->route), sizeof(o->smsc) };
    static const char *const nums[] = { "since_ms", "until_ms", "limit" };
    int64_t *ndst[] = { &o->since_ms, &o->until_ms, &o->limit };
    bool *nhave[] = { &o->have_since, &o->have_until, &o->have_limit };

    memset(o, 0, sizeof(*o));
    for (int i = 0; i < 3; i++) {
        if (!json_object_object_get_ex(req, strs[i], &v))
            continue;
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(o->bad, sizeof(o->bad), "\"%s\" must be a string", strs[i]);
            continue;
        }
        if (strlen(json_object_get_string(v)) >= dsz[i]) {
            snprintf(o->bad, sizeof(o->bad), "\"%s\" is too long", strs[i]);
            continue;
        }
        snprintf(dst[i], dsz[i], "%s", json_object_get_string(v));
        if (i == 0)
            o->have_cause = true;
    }
    for (int i = 0; i < 3; i++) {
        if (!json_object_object_get_ex(req, nums[i], &v))
            continue;
        if (!json_object_is_type(v, json_type_int)) {
            snprintf(o->bad, sizeof(o->bad), "\"%s\" must be an integer", nums[i]);
            continue;
        }
        *ndst[i] = json_object_get_int64(v);
        *nhave[i] = true;
    }
    if (json_object_object_get_ex(req, "dry_run", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            snprintf(o->bad, sizeof(o->bad), "\"dry_run\" must be true or false");
        else
            o->dry_run = json_object_get_boolean(v);
    }
}

static bool
config_has_smsc(const struct gw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nsmscs; i++)
        if (strcmp(cfg->smscs[i].name, name) == 0)
            return true;
    return false;
}

static void
cmd_requeue_bulk(struct aconn *c, const struct bulk_opts *o)
{
    const struct gw_config *cfg = *c->a->d.r.cfg;
    char why[300];

    if (o->bad[0]) {
        reply_error(c, "requeue: %s", o->bad);
        return;
    }
    struct bulk_req *b = calloc(1, sizeof(*b));
    if (!b)
        abort();
    b->c = c;
    if (!bulk_cause(b, o->cause, why, sizeof(why))) {
        free(b);
        reply_error(c, "requeue: %s", why);
        return;
    }
    b->f.cause = b->cause;
    b->f.dry_run = o->dry_run;
    b->limit = BULK_LIMIT_DEFAULT;
    if (o->have_limit) {
        if (o->limit < 1 || o->limit > BULK_LIMIT_MAX) {
            free(b);
            reply_error(c, "requeue: limit %lld is out of range 1..%d", (long long)o->limit,
                        BULK_LIMIT_MAX);
            return;
        }
        b->limit = (unsigned)o->limit;
    }
    uint64_t now = store_now_ms();
    int64_t since = o->have_since ? o->since_ms : 0, until = o->have_until ? o->until_ms
                                                                           : (int64_t)now;
    if (since < 0 || until < 0 || since > until) {
        free(b);
        reply_error(c, "requeue: the time range is empty or negative (since_ms %lld, until_ms "
                    "%lld)", (long long)since, (long long)until);
        return;
    }
    b->f.since_ms = (uint64_t)since;
    b->f.until_ms = (uint64_t)until;
    if (o->smsc[0]) {
        if (!config_has_smsc(cfg, o->smsc)) {
            free(b);
            reply_error(c, "requeue: no SMSC \"%s\" in the running config", o->smsc);
            return;
        }
        snprintf(b->smsc, sizeof(b->smsc), "%s", o->smsc);
        b->f.smsc = b->smsc;
    }
    b->routes = calloc(cfg->nroutes + 1, sizeof(char *));
    if (!b->routes)
        abort();
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (o->route[0] && strcmp(cfg->routes[i].name, o->route) != 0)
            continue;
        b->routes[b->nroutes] = strdup(cfg->routes[i].name);
        if (!b->routes[b->nroutes])
            abort();
        b->nroutes++;
    }
    if (o->route[0] && b->nroutes == 0) {
        bulk_free(b);
        reply_error(c, "requeue: no route \"%s\" in the running config", o->route);
        return;
    }
    if (!store_redis_ready(c->a->d.redis)) {
        bulk_free(b);
        reply_error(c, "Redis is unavailable");
        return;
    }
    b->list = json_object_new_array();
    char q[300];
    log_event(LOG_INFO, "requeue_bulk_start", "conn=%u cause=%s mode=%c route=%s smsc=%s "
              "since_ms=%llu until_ms=%llu limit=%u dry_run=%s", c->id,
              log_quote(b->given, q, sizeof(q)), b->f.mode,
              o->route[0] ? o->route : "*", b->smsc[0] ? b->smsc : "*",
              (unsigned long long)b->f.since_ms, (unsigned long long)b->f.until_ms, b->limit,
              b->f.dry_run ? "yes" : "no");
    bulk_next(b);
}

static void
cmd_optout(struct aconn *c, const char *number)
{
    const struct gw_config *cfg = *c->a->d.r.cfg;
    const char *prefix = store_redis_prefix(c->a->d.redis);
    char digits[24], key[600];
    size_t n = 0;

    for (const char *p = number + (number[0] == '+'); *p && n < sizeof(digits) - 1; p++) {
        if (*p < '0' || *p > '9') {
            n = 0;
            break;
        }
        digits[n++] = *p;
    }
    digits[n] = 0;
    if (n < 3 || n > 15) {
        reply_error(c, "\"%s\" is not a phone number (E.164, e.g. +14155550100)", number);
        return;
    }
    struct gather *g = gather_new(c);
    g->list = json_object_new_array();
    JADD(g->o, "number", JSTR(digits));
    for (size_t i = 0; i < cfg->nsenders; i++) {
        snprintf(key, sizeof(key), "%soptout:num:%s", prefix, cfg->senders[i].address);
        gather_cmd(g, P_OPTNUM, cfg->senders[i].address, "SISMEMBER %s %s", key, digits);
    }
    for (size_t i = 0; i < cfg->naccounts; i++) {
        snprintf(key, sizeof(key), "%soptout:acct:%s", prefix, cfg->accounts[i].name);
        gather_cmd(g, P_OPTACCT, cfg->accounts[i].name, "SISMEMBER %s %s", key, digits);
    }
    gather_sent(g);
}

/* ------------------------------------------------------------ reload */

static void
reload_replied(void *arg, const struct reload_result *r)
{
    struct aconn *c = arg;
    if (!r->ok) {
        json_object *o = json_object_new_object();
        JADD(o, "ok", JBOOL(0));
        JADD(o, "error", JSTR(r->errors));
        reply(c, o);
        return;
    }
    json_object *o = ok_object();
    JADD(o, "smscs_kept", JINT(r->smscs_kept));
    JADD(o, "smscs_new", JINT(r->smscs_new));
    JADD(o, "smscs_removed", JINT(r->smscs_removed));
    JADD(o, "routes_added", JINT(r->routes_added));
    JADD(o, "routes_removed", JINT(r->routes_removed));
    JADD(o, "restart_needed", JSTR(r->restart_needed));
    reply(c, o);
}

static void
reload_logged(void *arg, const struct reload_result *r)
{
    (void)arg;
    (void)r;    /* reload.c logs both outcomes */
}

void
admin_reload(struct admin *a)
{
    log_event(LOG_INFO, "config_reload", "config=%s source=signal", a->d.r.config_path);
    reloader_run(a->rl, reload_logged, a);
}

/* ---------------------------------------------------------- dispatch */

static void
handle_line(struct aconn *c, const char *line)
{
    json_object *req = json_tokener_parse(line);
    const char *cmd = NULL, *arg = NULL;
    json_object *v;

    c->busy = true;
    if (!req || !json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        reply_error(c, "each request is one JSON object per line, e.g. {\"cmd\":\"status\"}");
        return;
    }
    if (json_object_object_get_ex(req, "cmd", &v) && json_object_is_type(v, json_type_string))
        cmd = json_object_get_string(v);
    if (json_object_object_get_ex(req, "arg", &v) && json_object_is_type(v, json_type_string))
        arg = json_object_get_string(v);
    if (c->tcp) {
        const char *want = (*c->a->d.r.cfg)->admin.token_sha256;
        const char *tok = NULL;
        char got[65];
        if (json_object_object_get_ex(req, "token", &v) && json_object_is_type(v, json_type_string))
            tok = json_object_get_string(v);
        if (tok)
            config_sha256_hex(tok, got);
        if (!want || !tok || CRYPTO_memcmp(got, want, 64) != 0) {
            log_event(LOG_WARN, "admin_refused", "conn=%u reason=\"bad or missing token\"", c->id);
            json_object_put(req);
            reply_error(c, "a valid token is required over TCP");
            return;
        }
    }
    if (!cmd) {
        json_object_put(req);
        reply_error(c, "missing \"cmd\"");
        return;
    }
    /* requeue takes an id (arg) or a cause and its filters. */
    struct bulk_opts *bo = NULL;
    if (strcmp(cmd, "requeue") == 0) {
        bo = malloc(sizeof(*bo));
        if (!bo)
            abort();
        bulk_opts_read(req, bo);
        bool filters = bo->have_cause || bo->route[0] || bo->smsc[0] || bo->have_since ||
                       bo->have_until || bo->have_limit || bo->dry_run;
        const char *err = NULL;
        if (arg && *arg && filters)
            err = "requeue takes a message id or a cause with its filters, not both";
        else if (filters && !bo->have_cause)
            err = "requeue with filters needs a cause (\"cause\", e.g. \"0x0000000b\" or "
                  "\"UNDELIV\"; \"*\" for any)";
        if (err) {
            free(bo);
            json_object_put(req);
            reply_error(c, "%s", err);
            return;
        }
        if (!bo->have_cause) {
            free(bo);
            bo = NULL;
        }
    }
    static const char *const need_arg[] = { "queue", "pause", "resume", "rebind", "message",
                                            "optout", "requeue", NULL };
    for (size_t i = 0; need_arg[i] && !bo; i++) {
        if (strcmp(cmd, need_arg[i]) == 0 && (!arg || !*arg)) {
            reply_error(c, "%s needs an argument", cmd);
            json_object_put(req);
            return;
        }
    }
    /* arg lives in req: keep req until the command has copied it. */
    char a[256];
    snprintf(a, sizeof(a), "%s", arg ? arg : "");
    char cmdbuf[32];
    snprintf(cmdbuf, sizeof(cmdbuf), "%s", cmd);
    json_object_put(req);
    cmd = cmdbuf;
    if (strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "status") &&
        strcmp(cmd, "binds") && strcmp(cmd, "routes") && strcmp(cmd, "queue") &&
        strcmp(cmd, "message") && strcmp(cmd, "optout") && strcmp(cmd, "rebind") &&
        strcmp(cmd, "reload") && strcmp(cmd, "requeue")) {
        reply_error(c, "unknown command \"%s\"; commands: status, binds, routes, queue ROUTE, "
                    "pause ROUTE, resume ROUTE, rebind SMSC, message ID, requeue ID, "
                    "requeue with a cause, optout NUMBER, reload", cmd);
        return;
    }
    char qa[300];
    log_event(LOG_INFO, "admin_command", "conn=%u transport=%s cmd=%s arg=%s", c->id,
              c->tcp ? "tcp" : "unix", cmd, log_quote(a, qa, sizeof(qa)));
    if (strcmp(cmd, "status") == 0) {
        cmd_status(c);
    } else if (strcmp(cmd, "binds") == 0) {
        cmd_binds(c);
    } else if (strcmp(cmd, "routes") == 0) {
        cmd_routes(c);
    } else if (strcmp(cmd, "queue") == 0) {
        cmd_queue(c, a);
    } else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
        bool pause = strcmp(cmd, "pause") == 0;
        if (mt_engine_pause(*c->a->d.r.mt, a, pause) != 0) {
            reply_error(c, "no route \"%s\" in the running config", a);
            return;
        }
        json_object *o = ok_object();
        JADD(o, "route", JSTR(a));
        JADD(o, "paused", JBOOL(pause));
        reply(c, o);
    } else if (strcmp(cmd, "rebind") == 0) {
        int n = mt_engine_rebind(*c->a->d.r.mt, a);
        if (n < 0) {
            reply_error(c, "no SMSC \"%s\" in the running config", a);
            return;
        }
        json_object *o = ok_object();
        JADD(o, "smsc", JSTR(a));
        JADD(o, "unbound", JINT(n));
        reply(c, o);
    } else if (strcmp(cmd, "message") == 0) {
        cmd_message(c, a);
    } else if (strcmp(cmd, "optout") == 0) {
        cmd_optout(c, a);
    } else if (strcmp(cmd, "requeue") == 0 && bo) {
        cmd_requeue_bulk(c, bo);
        free(bo);
    } else if (strcmp(cmd, "requeue") == 0) {
        cmd_requeue(c, a);
    } else {
        log_event(LOG_INFO, "config_reload", "config=%s source=admin conn=%u",
                  c->a->d.r.config_path, c->id);
        reloader_run(c->a->rl, reload_replied, c);
    }
}

static void
conn_process(struct aconn *c)
{
    while (c->bev && !c->busy) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t len = 0;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
        if (!line) {
            if (evbuffer_get_length(in) > ADMIN_MAX_LINE) {
                log_event(LOG_WARN, "admin_closed", "conn=%u reason=\"line too long\"", c->id);
                conn_free(c);
            }
            return;
        }
        if (len == 0 || (len == 1 && line[0] == '\r')) {
            free(line);
            continue;
        }
        c->in_handle = true;
        handle_line(c, line);   /* may answer now (busy false again) or later */
        c->in_handle = false;
        free(line);
    }
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct aconn *c = arg;
    (void)bev;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (!c->busy) {
        conn_free(c);
        return;
    }
    /* An answer is on its way: the request frees the connection then. */
    bufferevent_free(c->bev);
    c->bev = NULL;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
          void *arg)
{
    struct admin *a = arg;
    static unsigned ids;
    struct aconn *c = calloc(1, sizeof(*c));
    (void)salen;
    (void)l;

    if (!c)
        abort();
    c->a = a;
    c->id = ++ids;
    c->tcp = sa->sa_family != AF_UNIX;
    c->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev)
        abort();
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* A stale socket file (no daemon behind it) is replaced; a live one is
 * another smsgwd's and is left alone. */
static int
unix_listen(struct admin *a, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        close(fd);
        errno = EADDRINUSE;
        return -1;
    }
    close(fd);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* 0600 from the start: no moment where others could connect. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    a->unix_l = evconnlistener_new(a->d.r.base, accept_cb, a, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!a->unix_l) {
        close(fd);
        unlink(path);
        return -1;
    }
    a->sock_path = strdup(path);
    return 0;
}

struct admin *
admin_new(const struct admin_deps *deps)
{
    struct admin *a = calloc(1, sizeof(*a));
    const struct cfg_admin *ac = &(*deps->r.cfg)->admin;

    if (!a)
        abort();
    a->d = *deps;
    a->rl = reloader_new(&deps->r);
    if (ac->socket && *ac->socket) {
        if (unix_listen(a, ac->socket) == 0)
            log_event(LOG_INFO, "admin_listen", "socket=%s mode=0600", ac->socket);
        else
            log_event(LOG_WARN, "admin_socket_unavailable", "socket=%s error=\"%s\"", ac->socket,
                      strerror(errno));
    }
    if (ac->tcp_port) {
        struct sockaddr_storage ss;
        int sl = sizeof(ss);
        char spec[300];
        snprintf(spec, sizeof(spec), strchr(ac->tcp_listen, ':') ? "[%s]:%d" : "%s:%d",
                 ac->tcp_listen, ac->tcp_port);
        if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sl) == 0)
            a->tcp_l = evconnlistener_new_bind(deps->r.base, accept_cb, a,
                                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                               (struct sockaddr *)&ss, sl);
        if (a->tcp_l)
            log_event(LOG_INFO, "admin_listen", "tcp=%s token=required", spec);
        else
            log_event(LOG_WARN, "admin_tcp_unavailable", "tcp=%s error=\"%s\"", spec,
                      strerror(errno));
    }
    return a;
}

const char *
admin_socket_path(const struct admin *a)
{
    return a->sock_path;
}

void
admin_free(struct admin *a)
{
    if (!a)
        return;
    /* After the Redis links are freed nothing can answer a request any
     * more: every connection goes, busy or not. */
    while (a->conns)
        conn_free(a->conns);
    if (a->unix_l)
        evconnlistener_free(a->unix_l);
    if (a->tcp_l)
        evconnlistener_free(a->tcp_l);
    if (a->sock_path) {
        unlink(a->sock_path);
        free(a->sock_path);
    }
    reloader_free(a->rl);
    free(a);
}
