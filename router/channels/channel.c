/*
 * The engine every connector shares. A job is QUEUED (on c->queue) until
 * pump() starts it, then INFLIGHT (on c->inflight, its easy handle with
 * curlev) until its transfer ends, when its callback runs and it is freed.
 * pump() runs from kick_ev or pace_ev, or after a transfer ends, so a
 * callback never runs inside chan_send(). Capability checks jump no queue
 * but take no pacer slot: mps is a contract about messages.
 */
#include "router/channels/channel_impl.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg_group.h"
#include "core/curlev.h"
#include "core/log.h"
#include "router/channels/oauth.h"
#include "router/router_pacer.h"

static const char *const status_names[] = { "accepted", "sent", "delivered", "read", "failed" };

const char *
chan_status_name(enum chan_status s)
{
    return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "?";
}

char *
chan_strdup(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        abort();
    return d;
}

struct curl_slist *
chan_hdr(struct curl_slist *h, const char *line)
{
    struct curl_slist *n = curl_slist_append(h, line);

    if (!n)
        abort();
    return n;
}

void
chan_set_tls(CURL *e, const char *ca_file, bool verify)
{
    if (ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

void
chan_http_failure(struct chan_result *out, CURLcode res, long code)
{
    static char buf[48];

    out->status = CHAN_FAILED;
    out->code = code;
    if (res == CURLE_OPERATION_TIMEDOUT) {
        out->error = "timeout";
        out->retryable = true;
    } else if (res != CURLE_OK && res != CURLE_HTTP_RETURNED_ERROR) {
        snprintf(buf, sizeof(buf), "transport_%d", (int)res);
        out->error = buf;
        out->retryable = res != CURLE_WRITE_ERROR;  /* WRITE_ERROR: answer too large */
    } else {
        snprintf(buf, sizeof(buf), "http_%ld", code);
        out->error = buf;
        out->retryable = code == 408 || code == 429 || (code >= 500 && code <= 599);
    }
}

/* ------------------------------------------------------------ jobs */

static char **
strv_dup(const char *const *v, size_t n)
{
    if (!n)
        return NULL;
    char **d = calloc(n, sizeof(*d));
    if (!d)
        abort();
    for (size_t i = 0; i < n; i++)
        d[i] = chan_strdup(v[i] ? v[i] : "");
    return d;
}

static void
msg_copy(struct chan_msg *d, const struct chan_msg *s)
{
    *d = (struct chan_msg){
        .id = chan_strdup(s->id), .to = chan_strdup(s->to), .from = chan_strdup(s->from),
        .text = chan_strdup(s->text), .email = chan_strdup(s->email),
        .transactional = s->transactional,
        .template_name = chan_strdup(s->template_name),
        .template_lang = chan_strdup(s->template_lang),
        .template_params = (const char *const *)strv_dup(s->template_params, s->ntemplate_params),
        .ntemplate_params = s->ntemplate_params,
        .card_title = chan_strdup(s->card_title),
        .card_description = chan_strdup(s->card_description),
        .card_media_url = chan_strdup(s->card_media_url),
        .suggestions = (const char *const *)strv_dup(s->suggestions, s->nsuggestions),
        .nsuggestions = s->nsuggestions,
    };
}

static void
msg_free(struct chan_msg *m)
{
    free((char *)m->id);
    free((char *)m->to);
    free((char *)m->from);
    free((char *)m->text);
    free((char *)m->email);
    free((char *)m->template_name);
    free((char *)m->template_lang);
    for (size_t i = 0; i < m->ntemplate_params; i++)
        free((char *)m->template_params[i]);
    free((void *)m->template_params);
    free((char *)m->card_title);
    free((char *)m->card_description);
    free((char *)m->card_media_url);
    for (size_t i = 0; i < m->nsuggestions; i++)
        free((char *)m->suggestions[i]);
    free((void *)m->suggestions);
}

static void
job_free(struct chan_job *j)
{
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->hdrs);
    curl_slist_free_all(j->rcpt);
    free(j->req);
    free(j->resp);
    msg_free(&j->m);
    free(j);
}

/* Deliver j's outcome and free it. j is already off every list. */
static void
job_report(struct chan *c, struct chan_job *j, struct chan_result *r)
{
    char q[256];

    if (j->capability) {
        int cap = r->status == CHAN_ACCEPTED ? (int)r->code : -1;
        log_event(LOG_INFO, "chan_capability", "channel=%s to=%s capable=%d error=%s", c->name,
                  j->m.to, cap, r->error ? r->error : "-");
        c->depth++;
        if (j->capcb)
            j->capcb(cap, j->arg);
        c->depth--;
        job_free(j);
        return;
    }
    r->msg_id = j->m.id;
    r->channel = c->name;
    if (r->status == CHAN_ACCEPTED) {
        c->st.accepted++;
        log_event(LOG_INFO, "chan_accepted", "channel=%s id=%s provider_id=%s code=%ld",
                  c->name, j->m.id, log_quote(r->provider_id ? r->provider_id : "", q, sizeof(q)),
                  r->code);
    } else {
        c->st.failed++;
        if (r->retryable)
            c->st.retryable++;
        log_event(LOG_WARN, "chan_failed", "channel=%s id=%s error=%s code=%ld retryable=%d",
                  c->name, j->m.id, r->error ? r->error : "-", r->code, r->retryable);
    }
    c->depth++;
    if (j->cb)
        j->cb(r, j->arg);
    c->depth--;
    job_free(j);
}

static void chan_release(struct chan *c);

/* Leaving an entry point from the loop: a chan_free() that a callback asked
 * for happens here, once no callback of c is on the stack. */
static void
leave(struct chan *c)
{
    if (c->free_pending && c->depth == 0)
        chan_release(c);
}

bool
chan_buf_add(char **buf, size_t *len, const char *p, size_t n, size_t max)
{
    if (*len + n > max)
        return false;
    char *b = realloc(*buf, *len + n + 1);
    if (!b)
        abort();
    memcpy(b + *len, p, n);
    *buf = b;
    *len += n;
    b[*len] = '\0';
    return true;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct chan_job *j = ud;
    size_t n = size * nmemb;

    if (!chan_buf_add(&j->resp, &j->resp_len, ptr, n, CHAN_RESP_MAX)) {
        j->resp_overflow = true;
        return 0;               /* CURLE_WRITE_ERROR */
    }
    return n;
}

static void pump(struct chan *c);

static void
xfer_done(CURL *e, CURLcode res, void *arg)
{
    struct chan_job *j = arg;
    struct chan *c = j->c;
    long code = 0;
    struct chan_result r = { 0 };

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    TAILQ_REMOVE(&c->inflight, j, link);
    c->ninflight--;
    if (!j->resp) {
        j->resp = chan_strdup("");
    }
    if (j->capability) {
        int cap = c->ops->finish_cap(c, j, res, code);
        r.status = cap >= 0 ? CHAN_ACCEPTED : CHAN_FAILED;
        r.code = cap;
        if (cap < 0)
            chan_http_failure(&r, res, code);
    } else {
        c->ops->finish(c, j, res, code, &r);
        if (j->resp_overflow && r.status == CHAN_FAILED) {
            r.error = "response_too_large";
            r.retryable = false;
        }
        /* 429 and 503 may say when to come back (seconds or an HTTP date;
         * libcurl reads both). Bounded: a day is beyond any sane answer. */
        curl_off_t ra = 0;
        if (r.status == CHAN_FAILED && r.retryable &&
            curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            r.retry_after_ms = (unsigned)(ra > 86400 ? 86400000 : ra * 1000);
    }
    job_report(c, j, &r);
    pump(c);
    leave(c);
}

static void
job_start(struct chan *c, struct chan_job *j)
{
    const char *err = "prepare_failed";

    TAILQ_REMOVE(&c->queue, j, link);
    c->nqueued--;
    if (!(j->easy = curl_easy_init()))
        abort();
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)c->lim.timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->lim.timeout_ms < 10000 ? c->lim.timeout_ms : 10000));
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    /* Never follow redirects: the Authorization header must not travel. */
    curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "smsgw/0.1");
    if (!c->ops->prepare(c, j, &err)) {
        struct chan_result r = { .status = CHAN_FAILED, .error = err,
                                 .retryable = j->prepare_retryable };
        job_report(c, j, &r);
        return;
    }
    j->start_ms = clock_mono_us() / 1000u;
    TAILQ_INSERT_TAIL(&c->inflight, j, link);
    c->ninflight++;
    curlev_add(c->curl, j->easy, xfer_done, j);
}

static void
pump(struct chan *c)
{
    struct chan_job *j;

    while (!c->closing && c->ninflight < c->lim.concurrency && (j = TAILQ_FIRST(&c->queue))) {
        if (!j->capability && c->pacer) {
            uint64_t now = clock_mono_us();
            if (router_pacer_take(c->pacer, now, 1) == 0) {
                uint64_t wait = router_pacer_next_us(c->pacer, now);
                struct timeval tv = { (time_t)(wait / 1000000u),
                                      (suseconds_t)(wait % 1000000u) };
                if (!evtimer_pending(&c->pace_ev, NULL))
                    evtimer_add(&c->pace_ev, &tv);
                return;
            }
        }
        job_start(c, j);
    }
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
    leave(arg);
}

struct chan *
chan_base_new(const struct chan_ops *ops, const char *name, struct event_base *base,
              struct curlev *curl, const struct chan_limits *lim, void *impl)
{
    struct chan *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    c->ops = ops;
    c->name = chan_strdup(name);
    c->base = base;
    c->curl = curl;
    c->lim = *lim;
    if (!c->lim.timeout_ms)
        c->lim.timeout_ms = 10000;
    if (!c->lim.concurrency)
        c->lim.concurrency = 16;
    if (!c->lim.max_queue)
        c->lim.max_queue = 10000;
    if (c->lim.mps)
        c->pacer = router_pacer_new(c->lim.mps, 0);
    c->impl = impl;
    TAILQ_INIT(&c->queue);
    TAILQ_INIT(&c->inflight);
    event_assign(&c->kick_ev, base, -1, 0, kick_cb, c);
    evtimer_assign(&c->pace_ev, base, kick_cb, c);
    return c;
}

const char *
chan_name(const struct chan *c)
{
    return c->name;
}

enum chan_type
chan_type(const struct chan *c)
{
    return c->ops->type;
}

static int
enqueue(struct chan *c, struct chan_job *j)
{
    if (c->nqueued >= c->lim.max_queue) {
        c->st.refused_full++;
        log_event(LOG_WARN, "chan_full", "channel=%s id=%s queued=%lu", c->name,
                  j->m.id ? j->m.id : "-", c->nqueued);
        job_free(j);
        return CHAN_EFULL;
    }
    TAILQ_INSERT_TAIL(&c->queue, j, link);
    c->nqueued++;
    event_active(&c->kick_ev, EV_TIMEOUT, 0);
    return CHAN_OK;
}

static bool
id_ok(const char *id)
{
    size_t n = 0;

    if (!id)
        return false;
    for (; id[n]; n++)
        if ((unsigned char)id[n] <= 0x20 || (unsigned char)id[n] >= 0x7f)
            return false;
    return n > 0 && n <= 128;
}

int
chan_send(struct chan *c, const struct chan_msg *m, chan_send_cb cb, void *arg)
{
    const char *why = NULL;

    if (c->closing)
        return CHAN_ECLOSED;
    if (!id_ok(m->id) || (why = c->ops->check(c, m))) {
        log_event(LOG_WARN, "chan_invalid", "channel=%s id=%s reason=\"%s\"", c->name,
                  id_ok(m->id) ? m->id : "-", id_ok(m->id) ? why : "bad id");
        return CHAN_EINVAL;
    }
    struct chan_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->c = c;
    msg_copy(&j->m, m);
    j->cb = cb;
    j->arg = arg;
    return enqueue(c, j);
}

int
chan_capability(struct chan *c, const char *to, chan_cap_cb cb, void *arg)
{
    if (c->closing)
        return CHAN_ECLOSED;
    if (!c->ops->finish_cap)
        return CHAN_ENOTSUP;
    struct chan_msg m = { .id = "capability", .to = to, .text = "" };
    if (c->ops->check(c, &m))
        return CHAN_EINVAL;
    struct chan_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->c = c;
    j->capability = true;
    msg_copy(&j->m, &m);
    j->capcb = cb;
    j->arg = arg;
    /* Ahead of queued sends: a send may be waiting on this answer. */
    if (c->nqueued >= c->lim.max_queue) {
        job_free(j);
        return CHAN_EFULL;
    }
    TAILQ_INSERT_HEAD(&c->queue, j, link);
    c->nqueued++;
    event_active(&c->kick_ev, EV_TIMEOUT, 0);
    return CHAN_OK;
}

void
chan_get_stats(const struct chan *c, struct chan_stats *out)
{
    *out = c->st;
    out->inflight = c->ninflight;
    out->queued = c->nqueued;
}

/* Report every job still held as a retryable failure. */
static void
fail_all(struct chan *c)
{
    struct chan_job *j;

    while ((j = TAILQ_FIRST(&c->inflight))) {
        TAILQ_REMOVE(&c->inflight, j, link);
        c->ninflight--;
        curlev_cancel(c->curl, j->easy);
        struct chan_result r = { .status = CHAN_FAILED, .retryable = true, .error = "shutdown" };
        job_report(c, j, &r);
    }
    while ((j = TAILQ_FIRST(&c->queue))) {
        TAILQ_REMOVE(&c->queue, j, link);
        c->nqueued--;
        struct chan_result r = { .status = CHAN_FAILED, .retryable = true, .error = "shutdown" };
        job_report(c, j, &r);
    }
}

static void
chan_release(struct chan *c)
{
    event_del(&c->kick_ev);
    event_del(&c->pace_ev);
    router_pacer_free(c->pacer);
    if (c->ops->free_impl)
        c->ops->free_impl(c->impl);
    free(c->name);
    free(c);
}

void
chan_free(struct chan *c)
{
    if (!c || c->free_pending)
        return;
    c->closing = true;
    if (c->depth > 0) {
        /* Called from one of c's callbacks: report what is held now, free
         * when that callback has returned (leave()). */
        c->free_pending = true;
        fail_all(c);
        return;
    }
    c->free_pending = true;         /* a callback below may call chan_free again */
    c->depth++;
    fail_all(c);
    c->depth--;
    chan_release(c);
}

/* ------------------------------------------------------------ template */

char *
chan_template(const char *tpl, const struct chan_msg *m)
{
    static const struct {
        const char *ph;
        size_t off;
    } vars[] = {
        { "{{text}}", offsetof(struct chan_msg, text) },
        { "{{from}}", offsetof(struct chan_msg, from) },
        { "{{to}}", offsetof(struct chan_msg, to) },
        { "{{id}}", offsetof(struct chan_msg, id) },
    };
    size_t cap = strlen(tpl) + 1, len = 0;
    char *out = malloc(cap);

    if (!out)
        abort();
    for (const char *p = tpl; *p;) {
        const char *val = NULL;
        size_t phlen = 0;
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && !val; i++)
            if (strncmp(p, vars[i].ph, strlen(vars[i].ph)) == 0) {
                val = *(const char *const *)((const char *)m + vars[i].off);
                if (!val)
                    val = "";
                phlen = strlen(vars[i].ph);
            }
        const char *src = val ? val : p;
        size_t n = val ? strlen(val) : 1;
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            if (!(out = realloc(out, cap)))
                abort();
        }
        memcpy(out + len, src, n);
        len += n;
        p += val ? phlen : 1;
    }
    out[len] = '\0';
    return out;
}

/* -------------------------------------------------------------- config */

static void
limits_parse(struct cfg_errs *e, const config_setting_t *g, const char *label,
             struct chan_limits *lim)
{
    lim->timeout_ms = 10000;
    lim->concurrency = 16;
    lim->mps = 0;
    lim->max_queue = 10000;
    cfg_group_uint(e, g, label, "timeout_ms", false, 100, 600000, &lim->timeout_ms);
    cfg_group_uint(e, g, label, "concurrency", false, 1, 1000, &lim->concurrency);
    cfg_group_uint(e, g, label, "mps", false, 0, 100000, &lim->mps);
    cfg_group_uint(e, g, label, "max_queue", false, 1, 10000000, &lim->max_queue);
    lim->retry_attempts = 3;
    lim->retry_backoff_ms = 1000;
    cfg_group_uint(e, g, label, "retry_attempts", false, 1, 20, &lim->retry_attempts);
    cfg_group_uint(e, g, label, "retry_backoff_ms", false, 100, 3600000, &lim->retry_backoff_ms);
}

static bool
url_scheme_ok(struct cfg_errs *e, const config_setting_t *g, const char *label, const char *key,
              const char *url, const char *const *schemes)
{
    for (const char *const *s = schemes; *s; s++) {
        size_t n = strlen(*s);
        if (strncmp(url, *s, n) == 0 && url[n] && url[n] != '/')
            return true;
    }
    char list[128] = "";
    for (const char *const *s = schemes; *s; s++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 list[0] ? " or " : "", *s);
    cfg_errs_add(e, config_setting_get_member(g, key), "%s: \"%s\" must start with %s", label,
                 key, list);
    return false;
}

/* "addr@dom" or "Name <addr@dom>": no CR/LF, one @ in the address. */
static bool
from_ok(const char *s)
{
    const char *lt = strchr(s, '<'), *at;

    if (strpbrk(s, "\r\n"))
        return false;
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != '\0')
            return false;
        at = memchr(lt, '@', (size_t)(gt - lt));
        return at && at > lt + 1 && at < gt - 1;
    }
    at = strchr(s, '@');
    return at && at > s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, " \t<>");
}

static void
relay_parse(struct cfg_errs *e, const config_setting_t *g, const char *label,
            struct chan_email_relay *r)
{
    static const char *const keys[] = { "url", "starttls", "username", "password", "from",
                                        "ca_file", "verify", NULL };
    static const char *const schemes[] = { "smtp://", "smtps://", NULL };

    r->starttls = true;
    r->verify = true;
    if (!config_setting_is_group(g)) {
        cfg_errs_add(e, g, "%s: must be a group { url = ...; from = ...; }", label);
        return;
    }
    cfg_group_check_keys(e, g, label, keys);
    if (cfg_group_str(e, g, label, "url", true, 8, 1024, &r->url))
        url_scheme_ok(e, g, label, "url", r->url, schemes);
    cfg_group_bool(e, g, label, "starttls", &r->starttls);
    cfg_group_str(e, g, label, "username", false, 1, 256, &r->username);
    cfg_group_str(e, g, label, "password", false, 0, 256, &r->password);
    if (cfg_group_str(e, g, label, "from", true, 3, 320, &r->from) && !from_ok(r->from))
        cfg_errs_add(e, config_setting_get_member(g, "from"),
                     "%s: \"from\" must be \"addr@domain\" or \"Name <addr@domain>\"", label);
    cfg_group_str(e, g, label, "ca_file", false, 1, 4096, &r->ca_file);
    cfg_group_bool(e, g, label, "verify", &r->verify);
    if ((r->username != NULL) != (r->password != NULL))
        cfg_errs_add(e, g, "%s: \"username\" and \"password\" go together", label);
    /* Credentials never cross the network in clear text. */
    if (r->username && r->url && strncmp(r->url, "smtp://", 7) == 0 && !r->starttls)
        cfg_errs_add(e, config_setting_get_member(g, "starttls"),
                     "%s: AUTH without TLS would send the password in clear: "
                     "set starttls = true or use smtps://", label);
}

static void
email_parse(struct cfg_errs *e, const config_setting_t *g, struct chan_email_cfg *c)
{
    static const char *const keys[] = { "name", "transactional", "marketing", "subject",
                                        "body", "timeout_ms", "concurrency", "mps",
                                        "max_queue", "retry_attempts", "retry_backoff_ms",
                                        NULL };
    const char *label = "channels.email";

    cfg_group_check_keys(e, g, label, keys);
    cfg_group_str(e, g, label, "name", false, 1, 64, &c->name);
    limits_parse(e, g, label, &c->lim);
    c->lim.timeout_ms = 30000;      /* SMTP: greeting, STARTTLS, AUTH, DATA */
    cfg_group_uint(e, g, label, "timeout_ms", false, 100, 600000, &c->lim.timeout_ms);
    const config_setting_t *t = config_setting_get_member(g, "transactional");
    if (!t)
        cfg_errs_add(e, g, "%s: missing required setting \"transactional\"", label);
    else
        relay_parse(e, t, "channels.email.transactional", &c->transactional);
    const config_setting_t *mk = config_setting_get_member(g, "marketing");
    if (mk) {
        c->has_marketing = true;
        relay_parse(e, mk, "channels.email.marketing", &c->marketing);
    }
    if (cfg_group_str(e, g, label, "subject", false, 1, 998, &c->subject) &&
        strpbrk(c->subject, "\r\n"))
        cfg_errs_add(e, config_setting_get_member(g, "subject"),
                     "%s: \"subject\" must be one line", label);
    cfg_group_str(e, g, label, "body", false, 1, 65536, &c->body);
    if (!c->name)
        c->name = chan_strdup("email");
    if (!c->subject)
        c->subject = chan_strdup("Message from {{from}}");
    if (!c->body)
        c->body = chan_strdup("{{text}}");
}

static void
http_common(struct cfg_errs *e, const config_setting_t *g, const char *label, char **base,
            char **token, bool token_required, char **ca_file, bool *verify)
{
    static const char *const schemes[] = { "https://", "http://", NULL };

    *verify = true;
    if (cfg_group_str(e, g, label, "base_url", true, 8, 1024, base)) {
        if (url_scheme_ok(e, g, label, "base_url", *base, schemes)) {
            size_t n = strlen(*base);
            while (n > 8 && (*base)[n - 1] == '/')
                (*base)[--n] = '\0';
        }
    }
    if (cfg_group_str(e, g, label, "token", token_required, 1, 8192, token) &&
        strpbrk(*token, "\r\n "))
        cfg_errs_add(e, config_setting_get_member(g, "token"),
                     "%s: \"token\" must not contain spaces or line breaks", label);
    cfg_group_str(e, g, label, "ca_file", false, 1, 4096, ca_file);
    cfg_group_bool(e, g, label, "verify", verify);
}

static bool
path_segment_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static void
ott_parse(struct cfg_errs *e, const config_setting_t *g, struct chan_ott_cfg *c)
{
    static const char *const keys[] = { "name", "base_url", "phone_number_id", "token",
                                        "ca_file", "verify", "timeout_ms", "concurrency",
                                        "mps", "max_queue", "retry_attempts",
                                        "retry_backoff_ms", "app_secret", "verify_token",
                                        "webhook_verify", NULL };
    const char *label = "channels.ott";

    cfg_group_check_keys(e, g, label, keys);
    cfg_group_str(e, g, label, "name", false, 1, 64, &c->name);
    limits_parse(e, g, label, &c->lim);
    http_common(e, g, label, &c->base_url, &c->token, true, &c->ca_file, &c->verify);
    if (cfg_group_str(e, g, label, "phone_number_id", true, 1, 64, &c->phone_number_id) &&
        !path_segment_ok(c->phone_number_id))
        cfg_errs_add(e, config_setting_get_member(g, "phone_number_id"),
                     "%s: \"phone_number_id\" must be letters, digits, - _ .", label);
    cfg_group_str(e, g, label, "app_secret", false, 8, 256, &c->app_secret);
    cfg_group_str(e, g, label, "verify_token", false, 1, 256, &c->verify_token);
    c->webhook_verify = true;
    cfg_group_bool(e, g, label, "webhook_verify", &c->webhook_verify);
    if (!c->name)
        c->name = chan_strdup("ott");
}

static void
rcs_parse(struct cfg_errs *e, const config_setting_t *g, struct chan_rcs_cfg *c)
{
    static const char *const keys[] = { "name", "base_url", "token", "agent_id", "ca_file",
                                        "verify", "timeout_ms", "concurrency", "mps",
                                        "max_queue", "retry_attempts", "retry_backoff_ms",
                                        "client_token", "webhook_verify",
                                        "service_account_file", "token_scope", NULL };
    const char *label = "channels.rcs";

    cfg_group_check_keys(e, g, label, keys);
    cfg_group_str(e, g, label, "name", false, 1, 64, &c->name);
    limits_parse(e, g, label, &c->lim);
    bool sa = config_setting_get_member(g, "service_account_file") != NULL;
    http_common(e, g, label, &c->base_url, &c->token, !sa, &c->ca_file, &c->verify);
    if (sa) {
        if (c->token)
            cfg_errs_add(e, config_setting_get_member(g, "token"),
                         "%s: \"token\" and \"service_account_file\" both set: keep one "
                         "(service_account_file renews its tokens; a token lasts an hour)", label);
        if (cfg_group_str(e, g, label, "service_account_file", true, 1, 4096,
                          &c->service_account_file)) {
            struct oauth_sa_file f;
            char why[256];
            if (oauth_sa_file_load(c->service_account_file, &f, why, sizeof(why)) != 0)
                cfg_errs_add(e, config_setting_get_member(g, "service_account_file"),
                             "%s: service_account_file \"%s\": %s", label,
                             c->service_account_file, why);
            oauth_sa_file_free(&f);
        }
        cfg_group_str(e, g, label, "token_scope", false, 1, 1024, &c->token_scope);
    }
    if (cfg_group_str(e, g, label, "agent_id", false, 1, 128, &c->agent_id) &&
        !path_segment_ok(c->agent_id))
        cfg_errs_add(e, config_setting_get_member(g, "agent_id"),
                     "%s: \"agent_id\" must be letters, digits, - _ .", label);
    cfg_group_str(e, g, label, "client_token", false, 8, 256, &c->client_token);
    c->webhook_verify = true;
    cfg_group_bool(e, g, label, "webhook_verify", &c->webhook_verify);
    if (!c->name)
        c->name = chan_strdup("rcs");
}

void
chan_config_parse(struct chan_config *out, const config_setting_t *grp, struct cfg_errs *errs)
{
    static const char *const keys[] = { "email", "ott", "rcs", NULL };

    memset(out, 0, sizeof(*out));
    if (!grp)
        return;
    if (!config_setting_is_group(grp)) {
        cfg_errs_add(errs, grp, "channels: must be a group { ... }");
        return;
    }
    cfg_group_check_keys(errs, grp, "channels", keys);
    const config_setting_t *g;
    if ((g = config_setting_get_member(grp, "email"))) {
        if (!config_setting_is_group(g)) {
            cfg_errs_add(errs, g, "channels: \"email\" must be a group");
        } else {
            out->has_email = true;
            email_parse(errs, g, &out->email);
        }
    }
    if ((g = config_setting_get_member(grp, "ott"))) {
        if (!config_setting_is_group(g)) {
            cfg_errs_add(errs, g, "channels: \"ott\" must be a group");
        } else {
            out->has_ott = true;
            ott_parse(errs, g, &out->ott);
        }
    }
    if ((g = config_setting_get_member(grp, "rcs"))) {
        if (!config_setting_is_group(g)) {
            cfg_errs_add(errs, g, "channels: \"rcs\" must be a group");
        } else {
            out->has_rcs = true;
            rcs_parse(errs, g, &out->rcs);
        }
    }
    /* Names identify connectors in fallback chains and logs. */
    const char *names[3];
    int n = 0;
    if (out->has_email && out->email.name)
        names[n++] = out->email.name;
    if (out->has_ott && out->ott.name)
        names[n++] = out->ott.name;
    if (out->has_rcs && out->rcs.name)
        names[n++] = out->rcs.name;
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (strcmp(names[i], names[k]) == 0)
                cfg_errs_add(errs, grp, "channels: name \"%s\" used twice", names[i]);
}

static void
relay_free(struct chan_email_relay *r)
{
    free(r->url);
    free(r->username);
    free(r->password);
    free(r->from);
    free(r->ca_file);
}

void
chan_config_free(struct chan_config *c)
{
    free(c->email.name);
    relay_free(&c->email.transactional);
    relay_free(&c->email.marketing);
    free(c->email.subject);
    free(c->email.body);
    free(c->ott.name);
    free(c->ott.base_url);
    free(c->ott.phone_number_id);
    free(c->ott.token);
    free(c->ott.ca_file);
    free(c->ott.app_secret);
    free(c->ott.verify_token);
    free(c->rcs.name);
    free(c->rcs.base_url);
    free(c->rcs.token);
    free(c->rcs.service_account_file);
    free(c->rcs.token_scope);
    free(c->rcs.agent_id);
    free(c->rcs.ca_file);
    free(c->rcs.client_token);
    memset(c, 0, sizeof(*c));
}

bool
chan_e164_ok(const char *s)
{
    size_t n = 0;

    if (!s || s[0] != '+' || s[1] == '0')
        return false;
    for (s++; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= 6 && n <= 15;
}
