#include "core/stats_api.h"
#include "core/http_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "core/config.h"
#include "core/log.h"
#include "store/store_msg.h"

#define NAME_MAX_LEN 64
#define MAX_ROWS     100     /* filter parameters in one request */

struct stats_api {
    struct store_redis *redis;
};

/* One request waiting for Redis. Its evhttp request may go away meanwhile
 * (the client closed): the connection's close callback tells, the way
 * core/api.c's calls do (see the comment on struct api_call there). */
struct stats_call {
    struct evhttp_request *req;         /* NULL once evhttp freed it */
    bool detached;                      /* req is ours to free */
    bool want[STORE_STATS_NWIN];
    char account[NAME_MAX_LEN + 1];     /* the caller's account; "" for the operator */
    struct store_stats_dim *dims;
    char (*names)[NAME_MAX_LEN + 2];
    size_t n;
    uint64_t now_ms;
    struct timespec t0;
};

struct stats_api *
stats_api_new(struct store_redis *redis)
{
    struct stats_api *sa = calloc(1, sizeof(*sa));
    if (!sa)
        abort();
    sa->redis = redis;
    return sa;
}

void
stats_api_free(struct stats_api *sa)
{
    free(sa);
}

/* ------------------------------------------------------------ replies */

static void
log_request(struct evhttp_request *req, int status, const char *account,
            const struct timespec *t0, const char *code)
{
    char qa[80];
    log_event(LOG_INFO, "http", "method=%s path=" STATS_API_PATH " status=%d account=%s ms=%ld%s%s",
              evhttp_request_get_command(req) == EVHTTP_REQ_HEAD ? "HEAD" : "GET", status,
              account && *account ? log_quote(account, qa, sizeof(qa)) : "-", http_elapsed_ms(t0),
              code ? " code=" : "", code ? code : "");
}

static void
send_error(struct evhttp_request *req, int status, const char *code, const char *message,
           const char *account, const struct timespec *t0)
{
    http_send_error(req, status, code, message);
    log_request(req, status, account, t0, code);
}

static struct json_object *
ratio(uint64_t num, uint64_t den)
{
    if (den == 0)
        return NULL;                    /* JSON null: nothing to divide by */
    char txt[32];
    double r = (double)num / (double)den;
    /* four significant digits, written as such (not 0.20000000000000001) */
    snprintf(txt, sizeof(txt), "%.4g", r);
    return json_object_new_double_s(r, txt);
}

struct json_object *
stats_api_row(const struct store_stats_agg *a, bool with_optouts)
{
    struct json_object *o = json_object_new_object(), *fr = json_object_new_object(),
                       *lat = json_object_new_object();
    uint64_t finals = store_stats_finals(a), receipts = 0;
    double q;

    for (unsigned c = 0; c < STORE_STATS_NCOUNTERS; c++)
        if (c != STORE_STATS_OPTOUTS)
            json_object_object_add(o, store_stats_counter_name(c),
                                   json_object_new_int64((int64_t)a->c[c]));
    json_object_object_add(o, "finished", json_object_new_int64((int64_t)finals));
    json_object_object_add(o, "delivered_ratio", ratio(a->c[STORE_STATS_DELIVERED], finals));
    for (size_t i = 0; i < a->nreasons; i++)
        json_object_object_add(fr, a->reasons[i].code, json_object_new_int64((int64_t)a->reasons[i].n));
    json_object_object_add(o, "failure_reasons", fr);
    for (unsigned i = 0; i < STORE_STATS_LAT_BUCKETS; i++)
        receipts += a->lat[i];
    json_object_object_add(lat, "receipts", json_object_new_int64((int64_t)receipts));
    json_object_object_add(lat, "p50", store_stats_quantile(a->lat, 0.50, &q)
                           ? json_object_new_int64((int64_t)llround(q)) : NULL);
    json_object_object_add(lat, "p95", store_stats_quantile(a->lat, 0.95, &q)
                           ? json_object_new_int64((int64_t)llround(q)) : NULL);
    json_object_object_add(o, "submit_to_receipt_ms", lat);
    if (with_optouts) {
        json_object_object_add(o, "optouts", json_object_new_int64((int64_t)a->c[STORE_STATS_OPTOUTS]));
        json_object_object_add(o, "optout_rate", ratio(a->c[STORE_STATS_OPTOUTS],
                                                       a->c[STORE_STATS_DELIVERED]));
    }
    return o;
}

static void
call_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct stats_call *c = arg;
    (void)evcon;
    http_conn_closed(&c->req, &c->detached);
}

static void
call_free(struct stats_call *c)
{
    free(c->dims);
    free(c->names);
    free(c);
}

static void
queried(void *arg, int rc, const struct store_stats_agg *rows)
{
    static const char *const wname[STORE_STATS_NWIN] = { "hour", "day" };
    static const unsigned wbuckets[STORE_STATS_NWIN] = { STORE_STATS_HOUR_BUCKETS,
                                                         STORE_STATS_DAY_BUCKETS };
    struct stats_call *c = arg;
    struct evhttp_request *req = c->req;

    if (!req || c->detached) {
        if (req)
            evhttp_request_free(req);
        log_event(LOG_INFO, "http", "method=GET path=" STATS_API_PATH " status=0 ms=%ld "
                  "reason=client_gone", http_elapsed_ms(&c->t0));
        call_free(c);
        return;
    }
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    if (rc != 0) {
        send_error(req, 503, "unavailable", "the statistics store is unavailable; retry after "
                   "the Retry-After delay", c->account, &c->t0);
        call_free(c);
        return;
    }
    struct json_object *root = json_object_new_object();
    uint64_t bucket_ms = STORE_STATS_BUCKET_S * 1000ull, last = c->now_ms / bucket_ms;
    json_object_object_add(root, "bucket_s", json_object_new_int(STORE_STATS_BUCKET_S));
    json_object_object_add(root, "at_ms", json_object_new_int64((int64_t)c->now_ms));
    for (unsigned w = 0; w < STORE_STATS_NWIN; w++) {
        if (!c->want[w])
            continue;
        struct json_object *win = json_object_new_object(), *acc = json_object_new_object(),
                           *rt = NULL, *snd = NULL;
        json_object_object_add(win, "from_ms",
                               json_object_new_int64((int64_t)((last + 1 - wbuckets[w]) * bucket_ms)));
        json_object_object_add(win, "to_ms", json_object_new_int64((int64_t)c->now_ms));
        json_object_object_add(win, "accounts", acc);
        if (!c->account[0]) {
            rt = json_object_new_object();
            snd = json_object_new_object();
            json_object_object_add(win, "routes", rt);
            json_object_object_add(win, "senders", snd);
        }
        for (size_t i = 0; i < c->n; i++) {
            const struct store_stats_agg *a = &rows[i * STORE_STATS_NWIN + w];
            struct json_object *sect = c->dims[i].dim == 'a' ? acc : c->dims[i].dim == 'r' ? rt : snd;
            if (sect)
                json_object_object_add(sect, c->dims[i].name,
                                       stats_api_row(a, c->dims[i].dim != 'r'));
        }
        json_object_object_add(root, wname[w], win);
    }
    http_send_json(req, 200, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    log_request(req, 200, c->account, &c->t0, NULL);
    call_free(c);
}

/* ------------------------------------------------------------ the request */

static void
add_dim(struct stats_call *c, char dim, const char *name)
{
    c->dims = realloc(c->dims, (c->n + 1) * sizeof(*c->dims));
    c->names = realloc(c->names, (c->n + 1) * sizeof(*c->names));
    if (!c->dims || !c->names)
        abort();
    snprintf(c->names[c->n], sizeof(c->names[c->n]), "%s", name);
    c->dims[c->n].dim = dim;
    c->n++;
}

/* Names point into c->names, which moved with every realloc. */
static void
fix_names(struct stats_call *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->dims[i].name = c->names[i];
}

/* An account, route or sender name as the API takes it: 1 to 64 printable
 * ASCII characters, no space. */
static bool
valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= NAME_MAX_LEN || s[n] <= ' ' || s[n] > '~')
            return false;
    return n > 0;
}

/*
 * Who asks: 1 the operator (admin.http_token, or no Authorization while
 * that is unset), 0 the account *acct, -1 refused (answered 401).
 */
static int
who(const struct gw_config *cfg, struct evhttp_request *req, const struct cfg_account **acct,
    const struct timespec *t0)
{
    char keybuf[512];
    const char *key = http_bearer(req, keybuf, sizeof(keybuf));
    const char *want = cfg->admin.http_token_sha256;
    int rc = -1;

    *acct = NULL;
    if (!key && !evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization") &&
        !want) {
        rc = 1;
    } else if (key) {
        char got[65];
        config_sha256_hex(key, got);
        if (want && CRYPTO_memcmp(got, want, 64) == 0)
            rc = 1;
        else if ((*acct = config_account_by_key(cfg, key)) != NULL)
            rc = 0;
        explicit_bzero(got, sizeof(got));
    }
    explicit_bzero(keybuf, sizeof(keybuf));
    if (rc < 0)
        send_error(req, 401, "unauthorized",
                   key ? "the key is neither an account's API key nor admin.http_token"
                       : "send an account's API key (or admin.http_token for every row) as "
                         "`Authorization: Bearer <key>`", NULL, t0);
    return rc;
}

bool
stats_api_http(struct stats_api *sa, const struct gw_config *cfg, struct evhttp_request *req,
               const char *path)
{
    if (strcmp(path, STATS_API_PATH) != 0)
        return false;

    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const struct cfg_account *acct;
    struct timespec t0;
    char msg[300];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        send_error(req, 405, "method_not_allowed", "use GET " STATS_API_PATH, NULL, &t0);
        return true;
    }
    int role = who(cfg, req, &acct, &t0);
    if (role < 0)
        return true;
    const char *aname = acct ? acct->name : "";

    struct evkeyvalq q;
    q.tqh_first = NULL;
    q.tqh_last = &q.tqh_first;
    const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
    if (qs && evhttp_parse_query_str(qs, &q) != 0) {
        evhttp_clear_headers(&q);
        send_error(req, 400, "bad_query", "the query string is not valid "
                   "(name=value pairs separated by &, percent-encoded)", aname, &t0);
        return true;
    }
    struct stats_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->t0 = t0;
    snprintf(c->account, sizeof(c->account), "%s", aname);
    c->want[STORE_STATS_HOUR] = c->want[STORE_STATS_DAY] = true;
    int status = 0;
    const char *code = NULL;
    bool filtered = false;
    for (struct evkeyval *kv = q.tqh_first; kv && !status; kv = kv->next.tqe_next) {
        char v[NAME_MAX_LEN + 2];
        if (strcmp(kv->key, "window") == 0) {
            /* the last one given counts */
            if (strcmp(kv->value, "hour") == 0 || strcmp(kv->value, "day") == 0) {
                c->want[STORE_STATS_HOUR] = kv->value[0] == 'h';
                c->want[STORE_STATS_DAY] = kv->value[0] == 'd';
            } else {
                status = 400;
                code = "invalid_window";
                snprintf(msg, sizeof(msg), "window must be hour or day (or left out for both), "
                         "not '%.40s'", kv->value);
            }
            continue;
        }
        char dim = strcmp(kv->key, "account") == 0 ? 'a' : strcmp(kv->key, "route") == 0 ? 'r'
                 : strcmp(kv->key, "sender") == 0 ? 's' : 0;
        if (!dim) {
            status = 400;
            code = "unknown_parameter";
            snprintf(msg, sizeof(msg), "unknown parameter '%.40s'; " STATS_API_PATH " takes "
                     "window, account, route and sender", kv->key);
            continue;
        }
        /* A '+' of "sender=+1888..." arrives as a space (form encoding):
         * sender addresses have no spaces, so it can only have been a '+'. */
        snprintf(v, sizeof(v), "%s", kv->value);
        if (dim == 's' && v[0] == ' ')
            v[0] = '+';
        if (!valid_name(v)) {
            status = 400;
            code = "invalid_name";
            snprintf(msg, sizeof(msg), "%s must be 1 to %d printable characters without spaces "
                     "(write + as %%2B)", kv->key, NAME_MAX_LEN);
            continue;
        }
        if (role == 0 && (dim != 'a' || strcmp(v, aname) != 0)) {
            status = 403;
            code = "forbidden";
            snprintf(msg, sizeof(msg), "an account's API key sees only its own account's row; "
                     "%s rows need admin.http_token", dim == 'a' ? "other accounts'"
                     : dim == 'r' ? "route" : "sender");
            continue;
        }
        if (c->n >= MAX_ROWS) {
            status = 400;
            code = "too_many_rows";
            snprintf(msg, sizeof(msg), "at most %d account, route and sender parameters in one "
                     "request", MAX_ROWS);
            continue;
        }
        filtered = true;
        add_dim(c, dim, v);
    }
    evhttp_clear_headers(&q);
    if (!status) {
        if (role == 0 && !filtered) {
            add_dim(c, 'a', aname);
        } else if (!filtered) {
            for (size_t i = 0; i < cfg->naccounts; i++)
                add_dim(c, 'a', cfg->accounts[i].name);
            for (size_t i = 0; i < cfg->nroutes; i++)
                add_dim(c, 'r', cfg->routes[i].name);
            for (size_t i = 0; i < cfg->nsenders; i++)
                add_dim(c, 's', cfg->senders[i].address);
        }
        if (!store_redis_ready(sa->redis)) {
            status = 503;
            code = "unavailable";
            snprintf(msg, sizeof(msg), "the statistics store is unavailable; retry after the "
                     "Retry-After delay");
        }
    }
    if (status) {
        send_error(req, status, code, msg, aname, &t0);
        call_free(c);
        return true;
    }
    fix_names(c);
    c->req = req;
    c->now_ms = store_now_ms();
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), call_conn_closed, c);
    store_stats_query(sa->redis, c->now_ms, c->dims, c->n, queried, c);
    return true;
}
