/*
 * Status callbacks over libcurl's multi interface, driven by libevent.
 *
 * A callback is a job. Its life is an explicit state, and every move goes
 * through job_set_state(), which keeps the lists and counters right and
 * logs old -> new:
 *
 *   QUEUED --pump--> INFLIGHT --2xx/permanent--> (freed)
 *                      ^  |
 *                  pump|  |retryable
 *                      |  v
 *       DUE <--retry timer-- DELAYED
 *
 * pump() takes DUE jobs (retries whose time has come) before QUEUED ones
 * (first tries): a retry is older than anything queued after it, and would
 * otherwise wait behind a burst that arrived during its backoff. Both are
 * FIFO.
 *
 * Transfers run on core/curlev (libcurl multi on the daemon's event_base);
 * a finished transfer comes back in xfer_done(), which is also where queued
 * jobs are started as slots free up.
 */
#include "core/webhook.h"
#include "core/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/curlev.h"
#include "core/log.h"

#define WH_USER_AGENT       "smsgw/0.1"
#define WH_EVENT_ID_MAX     128
#define WH_MAX_REDIRS       3
/* A Retry-After beyond this is taken as this (only matters with max_age 0). */
#define WH_RETRY_AFTER_MAX_S 86400

enum wh_state { WH_NEW, WH_QUEUED, WH_DUE, WH_INFLIGHT, WH_DELAYED, WH_DONE };

static const char *const wh_state_names[] = {
    "new", "queued", "due", "inflight", "delayed", "done"
};

struct wh_job {
    TAILQ_ENTRY(wh_job) link;       /* on the list of its state */
    struct webhook *w;
    enum wh_state state;
    char *url;
    char *body;
    size_t len;
    char event_id[WH_EVENT_ID_MAX + 1];
    char host[256];                 /* for logs: never the path or query (tokens) */
    bool https;
    bool signed_;
    char sig_hdr[sizeof("X-Smsgw-Signature: sha256=") + 2 * EVP_MAX_MD_SIZE];
    unsigned attempts;              /* started so far */
    uint64_t first_ms;              /* monotonic, at webhook_post */
    CURL *easy;                     /* while INFLIGHT */
    struct curl_slist *hdrs;        /* while INFLIGHT */
    struct event retry_ev;          /* while DELAYED */
    char errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(wh_jobs, wh_job);

struct webhook {
    struct event_base *base;
    struct webhook_cfg cfg;
    struct curlev *curl;            /* libcurl multi on base */
    struct event drain_ev;          /* calls the drain's done from the loop */
    struct event deadline_ev;       /* drain deadline: abort what is in flight */
    struct wh_jobs queued, due, inflight, delayed;
    unsigned long nqueued, ninflight, ndelayed;
    struct webhook_stats st;
    uint64_t rng;
    bool draining, drain_fired;
    void (*drain_done)(void *);
    void *drain_arg;
};

static void pump(struct webhook *w);
static void xfer_done(CURL *e, CURLcode res, void *arg);

/* ------------------------------------------------------------------ helpers */

static void *
xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p)
        abort();
    return p;
}

static char *
xmemdup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (!d)
        abort();
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static void
fatal(const char *what)
{
    log_event(LOG_ERROR, "webhook_fatal", "what=\"%s\"", what);
    abort();
}

static struct timeval
ms_tv(uint64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    return tv;
}

/* xorshift64*: only spreads retries apart, nothing depends on its quality. */
static uint64_t
rng_next(struct webhook *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 2685821657736338717ULL;
}

/* ------------------------------------------------------------- job states */

static struct wh_jobs *
state_list(struct webhook *w, enum wh_state s, unsigned long **count)
{
    switch (s) {
    case WH_QUEUED:   *count = &w->nqueued;   return &w->queued;
    case WH_DUE:      *count = &w->nqueued;   return &w->due;
    case WH_INFLIGHT: *count = &w->ninflight; return &w->inflight;
    case WH_DELAYED:  *count = &w->ndelayed;  return &w->delayed;
    case WH_NEW:
    case WH_DONE:     *count = NULL;          return NULL;
    default:          abort();
    }
}

/* The one place a job changes state. */
static void
job_set_state(struct wh_job *j, enum wh_state to, const char *why)
{
    struct webhook *w = j->w;
    unsigned long *count;
    struct wh_jobs *from_l = state_list(w, j->state, &count);

    if (from_l) {
        TAILQ_REMOVE(from_l, j, link);
        (*count)--;
    }
    if (log_on(LOG_DEBUG, "webhook_state"))
        log_event(LOG_DEBUG, "webhook_state", "event_id=%s from=%s to=%s why=%s attempt=%u",
                  j->event_id, wh_state_names[j->state], wh_state_names[to], why,
                  j->attempts);
    j->state = to;
    struct wh_jobs *to_l = state_list(w, to, &count);
    if (to_l) {
        TAILQ_INSERT_TAIL(to_l, j, link);
        (*count)++;
    }
}

/* Detach from curl (if in flight), from the retry timer, from the lists. */
static void
job_free(struct wh_job *j, const char *why)
{
    struct webhook *w = j->w;

    if (j->easy) {
        curlev_cancel(w->curl, j->easy);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
    }
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;
    if (j->state == WH_DELAYED)
        evtimer_del(&j->retry_ev);
    job_set_state(j, WH_DONE, why);
    free(j->url);
    free(j->body);
    free(j);
}

/* A waiting or in-flight job given up on because we stop (drain, free). */
static void
job_drop(struct wh_job *j, const char *why)
{
    j->w->st.dropped++;
    log_event(LOG_ERROR, "webhook_dropped", "event_id=%s host=%s reason=%s state=%s attempts=%u",
              j->event_id, j->host, why, wh_state_names[j->state], j->attempts);
    job_free(j, why);
}

/* ------------------------------------------------------------ one attempt */

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void
setopt_or_die(CURLcode rc, const char *what)
{
    if (rc != CURLE_OK)
        fatal(what);
}

static void
job_start(struct wh_job *j)
{
    struct webhook *w = j->w;
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char idh[sizeof("X-Smsgw-Event-Id: ") + WH_EVENT_ID_MAX];

    if (!e)
        fatal("curl_easy_init");
    snprintf(idh, sizeof(idh), "X-Smsgw-Event-Id: %s", j->event_id);
    if (!(h = curl_slist_append(h, "Content-Type: application/json")) ||
        !(h = curl_slist_append(h, idh)) ||
        (j->signed_ && !(h = curl_slist_append(h, j->sig_hdr))) ||
        /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
        !(h = curl_slist_append(h, "Expect:")))
        fatal("curl_slist_append");

    setopt_or_die(curl_easy_setopt(e, CURLOPT_URL, j->url), "CURLOPT_URL");
    /* Only http(s), at first and after redirects; a redirect keeps the scheme,
     * so an https callback never continues in clear text. */
    setopt_or_die(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, j->https ? "https" : "http"),
                  "REDIR_PROTOCOLS_STR");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L), "FOLLOWLOCATION");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)WH_MAX_REDIRS), "MAXREDIRS");
    /* A callback is a POST wherever it ends up (curl would turn it into a
     * GET after 301/302/303, which delivers nothing). */
    setopt_or_die(curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL), "POSTREDIR");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L), "SSL_VERIFYPEER");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L), "SSL_VERIFYHOST");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms), "TIMEOUT_MS");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_USERAGENT, WH_USER_AGENT), "USERAGENT");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_HTTPHEADER, h), "HTTPHEADER");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_POST, 1L), "POST");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body), "POSTFIELDS");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len),
                  "POSTFIELDSIZE_LARGE");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body), "WRITEFUNCTION");
    setopt_or_die(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf), "ERRORBUFFER");
    j->errbuf[0] = '\0';
    j->easy = e;
    j->hdrs = h;
    j->attempts++;
    job_set_state(j, WH_INFLIGHT, "start");
    curlev_add(w->curl, e, xfer_done, j);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct wh_job *j = arg;

    job_set_state(j, WH_DUE, "retry_due");
    pump(j->w);
}

/* The delay before retry number `done_attempts` (1: the first retry). */
static uint64_t
backoff_ms(struct webhook *w, unsigned done_attempts)
{
    uint64_t d = w->cfg.backoff_min_ms;

    for (unsigned i = 1; i < done_attempts && d < w->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > w->cfg.backoff_max_ms)
        d = w->cfg.backoff_max_ms;
    /* Up to 1/8 more, so callbacks that failed together do not retry together. */
    d += rng_next(w) % (d / 8 + 1);
    if (d > w->cfg.backoff_max_ms)
        d = w->cfg.backoff_max_ms;
    return d;
}

/* The transport error for logs, quoted; "-" when HTTP answered. */
static const char *
curl_error(const struct wh_job *j, CURLcode res, char *buf, unsigned size)
{
    if (res == CURLE_OK)
        return "-";
    return log_quote(j->errbuf[0] ? j->errbuf : curl_easy_strerror(res), buf, size);
}

static void
job_fail(struct wh_job *j, long status, CURLcode res, const char *reason)
{
    char eb[160];

    j->w->st.failed_permanent++;
    log_event(LOG_ERROR, "webhook_failed",
              "event_id=%s host=%s reason=%s attempts=%u status=%ld curl=%d error=%s",
              j->event_id, j->host, reason, j->attempts, status, (int)res,
              curl_error(j, res, eb, sizeof(eb)));
    job_free(j, reason);
}

/* A retryable outcome: wait (backoff, or Retry-After when longer), or give up. */
static void
job_retry(struct wh_job *j, long status, CURLcode res, uint64_t retry_after_ms)
{
    struct webhook *w = j->w;
    uint64_t delay, now = clock_mono_ms();
    char eb[160];

    if (j->attempts >= w->cfg.max_attempts) {
        job_fail(j, status, res, "max_attempts");
        return;
    }
    delay = backoff_ms(w, j->attempts);
    if (retry_after_ms) {
        /* Not before the receiver asked, and spread out after it: every
         * callback refused by an overloaded receiver got the same Retry-After. */
        retry_after_ms += rng_next(w) % (retry_after_ms / 8 + 1);
        if (retry_after_ms > delay)
            delay = retry_after_ms;
    }
    if (w->cfg.max_age_ms && now + delay - j->first_ms > w->cfg.max_age_ms) {
        job_fail(j, status, res, "max_age");
        return;
    }
    if (w->draining) {
        job_drop(j, "draining");
        return;
    }
    w->st.retried++;
    log_event(LOG_WARN, "webhook_retry",
              "event_id=%s host=%s attempt=%u status=%ld curl=%d delay_ms=%" PRIu64 " error=%s",
              j->event_id, j->host, j->attempts, status, (int)res, delay,
              curl_error(j, res, eb, sizeof(eb)));
    struct timeval tv = ms_tv(delay);
    evtimer_assign(&j->retry_ev, w->base, retry_cb, j);
    job_set_state(j, WH_DELAYED, "backoff");
    evtimer_add(&j->retry_ev, &tv);
}

/* Transport errors that retrying cannot fix. */
static bool
curl_permanent(CURLcode res)
{
    switch (res) {
    case CURLE_UNSUPPORTED_PROTOCOL:    /* includes a redirect to another scheme */
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_NOT_BUILT_IN:
        return true;
    default:
        return false;
    }
}

/* One attempt of j finished with res (and an HTTP status when res is OK). */
static void
job_attempt_done(struct wh_job *j, CURLcode res)
{
    struct webhook *w = j->w;
    long status = 0;
    curl_off_t ra = 0;

    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &ra);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    curl_slist_free_all(j->hdrs);
    j->hdrs = NULL;

    if (res != CURLE_OK) {
        if (curl_permanent(res))
            job_fail(j, status, res, status >= 300 && status <= 399 ? "redirect" : "transport");
        else
            job_retry(j, status, res, 0);
        return;
    }
    if (status >= 200 && status <= 299) {
        w->st.sent_ok++;
        log_event(LOG_INFO, "webhook_ok", "event_id=%s host=%s status=%ld attempts=%u",
                  j->event_id, j->host, status, j->attempts);
        job_free(j, "ok");
        return;
    }
    if (status == 429 || status == 503) {
        if (ra < 0)
            ra = 0;
        if (ra > WH_RETRY_AFTER_MAX_S)
            ra = WH_RETRY_AFTER_MAX_S;
        job_retry(j, status, res, (uint64_t)ra * 1000u);
        return;
    }
    if (status == 408 || (status >= 500 && status <= 599)) {
        job_retry(j, status, res, 0);
        return;
    }
    /* 4xx: the receiver refuses this callback; 3xx: a redirect we do not
     * follow (another scheme, too many); anything else is not HTTP as we know it. */
    job_fail(j, status, res, status >= 300 && status <= 399 ? "redirect" : "http_status");
}

/* ------------------------------------------------------ transfers */

/* core/curlev: j's transfer ended (its handle is already off the multi). */
static void
xfer_done(CURL *e, CURLcode res, void *arg)
{
    struct wh_job *j = arg;
    struct webhook *w = j->w;

    if (j->easy != e)
        fatal("unknown easy handle");
    job_attempt_done(j, res);
    pump(w);
    if (w->draining && w->ninflight == 0 && !w->drain_fired)
        event_active(&w->drain_ev, EV_TIMEOUT, 0);
}

static void
pump(struct webhook *w)
{
    struct wh_job *j;

    while (!w->draining && w->ninflight < w->cfg.max_inflight &&
           ((j = TAILQ_FIRST(&w->due)) || (j = TAILQ_FIRST(&w->queued))))
        job_start(j);
}

/* -------------------------------------------------------------- drain */

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct webhook *w = arg;

    if (w->drain_fired || w->ninflight > 0)
        return;
    w->drain_fired = true;
    evtimer_del(&w->deadline_ev);
    log_event(LOG_INFO, "webhook_drained", "sent_ok=%lu failed=%lu dropped=%lu",
              w->st.sent_ok, w->st.failed_permanent, w->st.dropped);
    if (w->drain_done)
        w->drain_done(w->drain_arg);    /* last: it may free w */
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct webhook *w = arg;
    struct wh_job *j;

    while ((j = TAILQ_FIRST(&w->inflight)))
        job_drop(j, "drain_deadline");
    event_active(&w->drain_ev, EV_TIMEOUT, 0);
}

void
webhook_drain(struct webhook *w, unsigned deadline_ms, void (*done)(void *), void *arg)
{
    struct wh_job *j;

    w->drain_done = done;
    w->drain_arg = arg;
    if (w->draining)
        return;
    w->draining = true;
    log_event(LOG_INFO, "webhook_drain", "inflight=%lu queued=%lu delayed=%lu deadline_ms=%u",
              w->ninflight, w->nqueued, w->ndelayed, deadline_ms);
    while ((j = TAILQ_FIRST(&w->due)))
        job_drop(j, "draining");
    while ((j = TAILQ_FIRST(&w->queued)))
        job_drop(j, "draining");
    while ((j = TAILQ_FIRST(&w->delayed)))
        job_drop(j, "draining");
    struct timeval tv = ms_tv(deadline_ms);
    evtimer_add(&w->deadline_ev, &tv);
    if (w->ninflight == 0)
        event_active(&w->drain_ev, EV_TIMEOUT, 0);
}

/* ---------------------------------------------------------------- public */

void
webhook_cfg_defaults(struct webhook_cfg *c)
{
    *c = (struct webhook_cfg){
        .max_inflight = 64,
        .max_queue = 100000,
        .timeout_ms = 10000,
        .max_attempts = 12,
        .backoff_min_ms = 1000,
        .backoff_max_ms = 300000,
        .max_age_ms = 3600000,
    };
}

struct webhook *
webhook_new(struct event_base *base, const struct webhook_cfg *cfg)
{
    struct webhook *w = xcalloc(1, sizeof(*w));
    struct webhook_cfg d;

    webhook_cfg_defaults(&d);
    w->base = base;
    w->cfg = *cfg;
#define WH_DEFAULT(f) do { if (!w->cfg.f) w->cfg.f = d.f; } while (0)
    WH_DEFAULT(max_inflight);
    WH_DEFAULT(max_queue);
    WH_DEFAULT(timeout_ms);
    WH_DEFAULT(max_attempts);
    WH_DEFAULT(backoff_min_ms);
    WH_DEFAULT(backoff_max_ms);
#undef WH_DEFAULT
    if (w->cfg.backoff_max_ms < w->cfg.backoff_min_ms)
        w->cfg.backoff_max_ms = w->cfg.backoff_min_ms;
    TAILQ_INIT(&w->queued);
    TAILQ_INIT(&w->due);
    TAILQ_INIT(&w->inflight);
    TAILQ_INIT(&w->delayed);
    w->rng = clock_mono_ms() ^ ((uint64_t)(uintptr_t)w << 16) ^ 0x9e3779b97f4a7c15ULL;
    event_assign(&w->drain_ev, base, -1, 0, drain_cb, w);
    evtimer_assign(&w->deadline_ev, base, deadline_cb, w);

    w->curl = curlev_new(base);
    return w;
}

/* Event ids go into a header and into logs unquoted: printable, no spaces. */
static bool
event_id_ok(const char *id)
{
    size_t n = 0;

    if (!id)
        return false;
    for (; id[n]; n++)
        if ((unsigned char)id[n] <= 0x20 || (unsigned char)id[n] >= 0x7f)
            return false;
    return n > 0 && n <= WH_EVENT_ID_MAX;
}

/* http(s)://host...: fills host (for logs) and https. */
static bool
url_ok(const char *url, char *host, size_t hostsz, bool *https)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL;
    bool ok = false;

    if (!u)
        fatal("curl_url");
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h[0] &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
        *https = strcmp(scheme, "https") == 0;
        size_t o = 0;
        for (const char *p = h; *p && o + 1 < hostsz; p++)
            host[o++] = (*p > 0x20 && *p < 0x7f && *p != '"') ? *p : '?';
        host[o] = '\0';
        ok = true;
    }
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return ok;
}

int
webhook_post(struct webhook *w, const char *url, const char *body, size_t len,
             const char *event_id, const char *secret)
{
    struct wh_job *j;
    char host[256];
    bool https;

    if (w->draining) {
        w->st.dropped++;
        log_event(LOG_ERROR, "webhook_dropped", "event_id=%s reason=draining",
                  event_id_ok(event_id) ? event_id : "-");
        return WEBHOOK_ECLOSED;
    }
    if (!event_id_ok(event_id) || !url || !url_ok(url, host, sizeof(host), &https)) {
        log_event(LOG_ERROR, "webhook_invalid", "event_id=%s reason=%s",
                  event_id_ok(event_id) ? event_id : "-",
                  event_id_ok(event_id) ? "bad_url" : "bad_event_id");
        return WEBHOOK_EINVAL;
    }
    /* Admission: a free slot takes it at once; otherwise it must fit in the
     * bounded memory of waiting callbacks. Retries already admitted are
     * never dropped here. */
    if (w->ninflight >= w->cfg.max_inflight &&
        w->nqueued + w->ndelayed >= w->cfg.max_queue) {
        w->st.dropped++;
        log_event(LOG_ERROR, "webhook_dropped",
                  "event_id=%s host=%s reason=queue_full queued=%lu delayed=%lu dropped_total=%lu",
                  event_id, host, w->nqueued, w->ndelayed, w->st.dropped);
        return WEBHOOK_EFULL;
    }

    j = xcalloc(1, sizeof(*j));
    j->w = w;
    j->state = WH_NEW;
    j->url = xmemdup(url, strlen(url));
    j->body = xmemdup(body ? body : "", body ? len : 0);
    j->len = body ? len : 0;
    snprintf(j->event_id, sizeof(j->event_id), "%s", event_id);
    snprintf(j->host, sizeof(j->host), "%s", host);
    j->https = https;
    j->first_ms = clock_mono_ms();
    if (secret && secret[0]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        static const char hex[] = "0123456789abcdef";
        int o = snprintf(j->sig_hdr, sizeof(j->sig_hdr), "X-Smsgw-Signature: sha256=");

        if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
                  (const unsigned char *)j->body, j->len, md, &mdlen))
            fatal("HMAC");
        for (unsigned i = 0; i < mdlen; i++) {
            j->sig_hdr[o++] = hex[md[i] >> 4];
            j->sig_hdr[o++] = hex[md[i] & 15];
        }
        j->sig_hdr[o] = '\0';
        j->signed_ = true;
    }
    job_set_state(j, WH_QUEUED, "post");
    pump(w);
    return WEBHOOK_OK;
}

void
webhook_event_id(const char *msg_id, const char *state, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%s", msg_id ? msg_id : "", state ? state : "");
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

char *
webhook_status_body(const struct webhook_status *st)
{
    struct json_object *o = json_object_new_object();
    char eid[WH_EVENT_ID_MAX + 1], ts[96];
    time_t secs = (time_t)(st->ts_ms / 1000);
    struct tm tm;
    char *out;

    if (!o)
        abort();
    if (!st->event_id)
        webhook_event_id(st->msg_id, st->state, eid, sizeof(eid));
    gmtime_r(&secs, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (unsigned)(st->ts_ms % 1000));
    add_str(o, "id", st->msg_id);
    add_str(o, "event_id", st->event_id ? st->event_id : eid);
    add_str(o, "state", st->state);
    add_str(o, "ts", ts);
    json_object_object_add(o, "ts_ms", json_object_new_int64((int64_t)st->ts_ms));
    add_str(o, "client_ref", st->client_ref);
    add_str(o, "error", st->error);
    add_str(o, "to", st->to);
    json_object_object_add(o, "segments", json_object_new_int64(st->segments));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s)
        abort();
    out = xmemdup(s, strlen(s));
    json_object_put(o);
    return out;
}

void
webhook_stats(const struct webhook *w, struct webhook_stats *out)
{
    *out = w->st;
    out->inflight = w->ninflight;
    out->queued = w->nqueued;
    out->delayed = w->ndelayed;
}

void
webhook_free(struct webhook *w)
{
    struct wh_job *j;

    if (!w)
        return;
    while ((j = TAILQ_FIRST(&w->inflight)))
        job_drop(j, "shutdown");
    while ((j = TAILQ_FIRST(&w->due)))
        job_drop(j, "shutdown");
    while ((j = TAILQ_FIRST(&w->queued)))
        job_drop(j, "shutdown");
    while ((j = TAILQ_FIRST(&w->delayed)))
        job_drop(j, "shutdown");
    curlev_free(w->curl);
    event_del(&w->drain_ev);
    event_del(&w->deadline_ev);
    free(w);
}
