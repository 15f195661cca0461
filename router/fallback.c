#include "router/fallback.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/config.h"
#include "core/curlev.h"
#include "core/log.h"
#include "core/metrics.h"
#include "router/channels/channel.h"
#include "router/router_mt.h"
#include "store/store_fallback.h"
#include "store/store_msg.h"

#define FB_MAX_STEPS 3
#define FB_POLL_MS 500
#define FB_RETRY_MAX_MS (3600u * 1000u)    /* the longest wait before a retry */

struct fallback {
    struct event_base *base;
    const struct gw_config *cfg;
    struct store_redis *redis;
    struct webhook *webhook;
    struct curlev *curl;
    struct chan *chans[3];          /* email, ott, rcs (NULL when not configured) */
    struct event *poll;
    unsigned running;
    struct fb_run *runs;            /* chains running here (not resumed from P fbwait) */
    bool closing;                   /* fallback_free: no new steps */
    /* Redis calls whose callbacks take fb: fallback_free() leaves fb to the
     * last of them (store_redis_free answers them all, after fb is freed). */
    unsigned redis_pending;
    bool free_pending;
};

/* One chain being run. */
struct fb_run {
    struct fallback *fb;
    char id[40];
    char chain[FB_MAX_STEPS][65];
    unsigned nsteps, step;
    unsigned attempt;               /* of this step: 1, 2, ... (retries) */
    char *email, *to, *from, *text, *callback_url, *client_ref;
    bool transactional;
    struct fb_run *prev, *next;     /* fb->runs */
};

static char *
xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

static void
run_free(struct fb_run *run)
{
    run->fb->running--;
    if (run->prev)
        run->prev->next = run->next;
    else
        run->fb->runs = run->next;
    if (run->next)
        run->next->prev = run->prev;
    free(run->email);
    free(run->to);
    free(run->from);
    free(run->text);
    free(run->callback_url);
    free(run->client_ref);
    free(run);
}

static struct chan *
chan_by_name(struct fallback *fb, const char *name)
{
    for (int i = 0; i < 3; i++)
        if (fb->chans[i] && strcmp(chan_name(fb->chans[i]), name) == 0)
            return fb->chans[i];
    return NULL;
}

static void step_start(struct fb_run *run);

/* A Redis call for fb is starting. */
static void
fb_asking(struct fallback *fb)
{
    fb->redis_pending++;
}

/* Its answer came: false when fb is being freed (then freed with the last
 * answer) and the callback must not touch it any more. */
static bool
fb_answered(struct fallback *fb)
{
    fb->redis_pending--;
    if (!fb->free_pending)
        return true;
    if (fb->redis_pending == 0)
        free(fb);
    return false;
}

static const char *
type_name(enum chan_type t)
{
    return t == CHAN_EMAIL ? "email" : t == CHAN_OTT ? "ott" : "rcs";
}

/* The chain ended (final_state), goes on with the next step, or (retry_ms)
 * runs this step again later: then the run ends here and P fbwait brings
 * the chain back when it is due, to whichever instance polls first. */
static void
step_end(struct fb_run *run, const char *detail, const char *final_state, unsigned retry_ms,
         const char *chan_type, const char *provider_id)
{
    struct fallback *fb = run->fb;
    struct store_fb_step sp = { .step = run->step, .detail = detail, .chan_type = chan_type,
                                .provider_id = provider_id };

    log_event(LOG_INFO, "fallback_step", "msg_id=%s step=%u %s%s%s",
              run->id, run->step, detail,
              final_state ? " state=" : "", final_state ? final_state : "");
    if (fb->closing && !final_state) {
        /* Shutting down: the record keeps state fallback and this step's
         * outcome; the chain is resumed from this step after fallback_resume_s. */
        sp.step = run->step;
        sp.retry_due_ms = store_now_ms() + (uint64_t)fb->cfg->fallback_resume_s * 1000u;
        sp.next_attempt = run->attempt;
        store_fallback_step(fb->redis, run->id, &sp, fb->cfg->fallback_resume_s, NULL, NULL);
        run_free(run);
        return;
    }
    if (retry_ms) {
        sp.retry_due_ms = store_now_ms() + retry_ms;
        sp.next_attempt = run->attempt + 1;
        store_fallback_step(fb->redis, run->id, &sp, fb->cfg->fallback_resume_s, NULL, NULL);
        run_free(run);
        return;
    }
    if (!final_state && run->step + 1 >= run->nsteps)
        final_state = "fallback_failed";
    sp.final_state = final_state;
    store_fallback_step(fb->redis, run->id, &sp, fb->cfg->fallback_resume_s, NULL, NULL);
    if (final_state) {
        metrics_msg_state(final_state);
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s", run->id, final_state);
        mt_notify(fb->webhook, run->callback_url, run->id, final_state, run->client_ref,
                  NULL, run->to + 1, 0);
        run_free(run);
        return;
    }
    run->step++;
    run->attempt = 1;
    step_start(run);
}

static void
step_done(struct fb_run *run, const char *detail, const char *final_state)
{
    step_end(run, detail, final_state, 0, NULL, NULL);
}

/* How long before try attempt + 1 of a step whose try attempt failed with
 * r (retryable); 0: no more tries. The provider's Retry-After when it gave
 * one, else retry_backoff_ms doubled per try. */
static unsigned
retry_delay(const struct chan *c, const struct chan_limits *lim, unsigned attempt,
            const struct chan_result *r)
{
    (void)c;
    if (!r->retryable || attempt >= lim->retry_attempts || !r->error ||
        strcmp(r->error, "shutdown") == 0)
        return 0;
    uint64_t ms = lim->retry_backoff_ms ? lim->retry_backoff_ms : 1000;
    for (unsigned i = 1; i < attempt && ms < FB_RETRY_MAX_MS; i++)
        ms *= 2;
    if (r->retry_after_ms)
        ms = r->retry_after_ms;
    return (unsigned)(ms > FB_RETRY_MAX_MS ? FB_RETRY_MAX_MS : ms);
}

static const struct chan_limits *
chan_limits_of(const struct fallback *fb, enum chan_type t)
{
    const struct chan_config *cc = &fb->cfg->channels;
    return t == CHAN_EMAIL ? &cc->email.lim : t == CHAN_OTT ? &cc->ott.lim : &cc->rcs.lim;
}

static void
sent(const struct chan_result *r, void *arg)
{
    struct fb_run *run = arg;
    char detail[400], state[80];
    struct chan *c = chan_by_name(run->fb, run->chain[run->step]);
    enum chan_type t = c ? chan_type(c) : CHAN_EMAIL;

    if (r->status == CHAN_ACCEPTED) {
        snprintf(detail, sizeof(detail), "channel=%s result=accepted provider_id=%s attempt=%u",
                 r->channel, r->provider_id ? r->provider_id : "", run->attempt);
        snprintf(state, sizeof(state), "sent_%s", type_name(t));
        /* OTT and RCS report delivery later, by this id (core/chan_hooks). */
        step_end(run, detail, state, 0, c && t != CHAN_EMAIL ? type_name(t) : NULL,
                 r->provider_id);
        return;
    }
    unsigned delay = c ? retry_delay(c, chan_limits_of(run->fb, t), run->attempt, r) : 0;
    int n = snprintf(detail, sizeof(detail), "channel=%s result=failed error=%s%s attempt=%u",
                     r->channel, r->error ? r->error : "unknown",
                     r->retryable ? " retryable=1" : "", run->attempt);
    if (delay && n > 0 && (size_t)n < sizeof(detail))
        snprintf(detail + n, sizeof(detail) - (size_t)n, " retry_in_ms=%u", delay);
    step_end(run, detail, NULL, delay, NULL, NULL);
}

static void
do_send(struct fb_run *run, struct chan *c)
{
    struct chan_msg m = { .id = run->id, .to = run->to, .from = run->from, .text = run->text,
                          .email = run->email[0] ? run->email : NULL,
                          .transactional = run->transactional };
    int rc = chan_send(c, &m, sent, run);
    if (rc != CHAN_OK) {
        char detail[160];
        snprintf(detail, sizeof(detail), "channel=%s result=refused error=%s", chan_name(c),
                 rc == CHAN_EINVAL ? "invalid" : rc == CHAN_EFULL ? "queue_full" : "closed");
        step_done(run, detail, NULL);
    }
}

static void
capable(int yes, void *arg)
{
    struct fb_run *run = arg;
    struct chan *c = chan_by_name(run->fb, run->chain[run->step]);

    if (yes == 0 || !c) {
        char detail[120];
        snprintf(detail, sizeof(detail), "channel=%s result=not_capable",
                 run->chain[run->step]);
        step_done(run, detail, NULL);
        return;
    }
    /* Unknown (-1): send anyway; a 404 on send fails the step. */
    do_send(run, c);
}

static void
step_start(struct fb_run *run)
{
    struct chan *c = chan_by_name(run->fb, run->chain[run->step]);
    char detail[120];

    if (!c) {
        snprintf(detail, sizeof(detail), "channel=%s result=not_configured",
                 run->chain[run->step]);
        step_done(run, detail, NULL);
        return;
    }
    if (chan_type(c) == CHAN_RCS) {
        if (chan_capability(c, run->to, capable, run) == CHAN_OK)
            return;
        snprintf(detail, sizeof(detail), "channel=%s result=refused error=capability",
                 chan_name(c));
        step_done(run, detail, NULL);
        return;
    }
    do_send(run, c);
}

static void
claimed(void *arg, int rc, const struct store_fb_msg *m)
{
    struct fallback *fb = arg;

    if (!fb_answered(fb))
        return;
    if (rc < 0) {
        log_event(LOG_WARN, "fallback_not_claimed", "reason=\"redis unavailable\"");
        return;
    }
    if (rc == 0)
        return;
    if (fb->closing) {
        /* Claimed as we stop: state fallback, watched in P fbwait; an
         * instance resumes it after fallback_resume_s. */
        return;
    }
    struct fb_run *run = calloc(1, sizeof(*run));
    if (!run)
        abort();
    fb->running++;
    run->fb = fb;
    run->next = fb->runs;
    if (fb->runs)
        fb->runs->prev = run;
    fb->runs = run;
    snprintf(run->id, sizeof(run->id), "%s", m->id);
    const char *p = m->chain;
    while (*p && run->nsteps < FB_MAX_STEPS) {
        size_t n = strcspn(p, ",");
        snprintf(run->chain[run->nsteps++], sizeof(run->chain[0]), "%.*s", (int)n, p);
        p += n;
        if (*p == ',')
            p++;
    }
    run->email = xstrdup(m->email);
    size_t tl = strlen(m->to);
    run->to = malloc(tl + 2);
    if (!run->to)
        abort();
    run->to[0] = '+';
    memcpy(run->to + 1, m->to, tl + 1);
    run->from = xstrdup(m->from);
    run->text = xstrdup(m->text);
    run->callback_url = xstrdup(m->callback_url);
    run->client_ref = xstrdup(m->client_ref);
    run->transactional = strcmp(m->msg_class, "marketing") != 0;
    log_event(LOG_INFO, "msg_state", "msg_id=%s state=fallback chain=%s", run->id, m->chain);
    run->step = m->step;
    run->attempt = m->attempt ? m->attempt : 1;
    if (run->step >= run->nsteps) {
        struct store_fb_step sp = { .step = run->step, .detail = "result=no_step_left",
                                    .final_state = "fallback_failed" };
        store_fallback_step(fb->redis, run->id, &sp, fb->cfg->fallback_resume_s, NULL, NULL);
        metrics_msg_state("fallback_failed");
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=fallback_failed", run->id);
        mt_notify(fb->webhook, run->callback_url, run->id, "fallback_failed", run->client_ref,
                  NULL, run->to + 1, 0);
        run_free(run);
        return;
    }
    if (run->step > 0 || run->attempt > 1)
        log_event(LOG_INFO, "fallback_resumed", "msg_id=%s step=%u attempt=%u", run->id,
                  run->step, run->attempt);
    step_start(run);
}

void
fallback_sms_failed(struct fallback *fb, const char *id, const char *state)
{
    if (!fb || !id || !*id)
        return;
    char reason[48];
    snprintf(reason, sizeof(reason), "%s", state);
    fb_asking(fb);
    store_fallback_claim(fb->redis, id, reason, strcmp(state, "no_receipt") == 0, false,
                         fb->cfg->fallback_resume_s, claimed, fb);
}

/* A chain in state fallback made no progress for fallback_resume_s: its
 * instance died (or one step outlived the setting): run it from its next
 * step, unless it is running here. */
static void
resume(struct fallback *fb, const char *id)
{
    for (struct fb_run *r = fb->runs; r; r = r->next) {
        if (strcmp(r->id, id) == 0) {
            store_fallback_watch(fb->redis, id,
                                 store_now_ms() + (uint64_t)fb->cfg->fallback_resume_s * 1000u);
            return;
        }
    }
    log_event(LOG_WARN, "fallback_stalled", "msg_id=%s action=resume", id);
    fb_asking(fb);
    store_fallback_claim(fb->redis, id, "resume", false, true, fb->cfg->fallback_resume_s,
                         claimed, fb);
}

static void
due_ids(void *arg, int n, const char *const *ids)
{
    struct fallback *fb = arg;
    if (!fb_answered(fb) || fb->closing)
        return;
    for (int i = 0; i < n; i++) {
        if (strncmp(ids[i], "r:", 2) == 0)
            resume(fb, ids[i] + 2);
        else
            fallback_sms_failed(fb, ids[i], "no_receipt");
    }
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fallback *fb = arg;
    (void)fd;
    (void)what;
    if (store_redis_ready(fb->redis)) {
        fb_asking(fb);
        store_fallback_due(fb->redis, 100, due_ids, fb);
    }
}

/* ------------------------------------------------ provider status events */

struct ev_ctx {
    struct fallback *fb;
    fallback_event_cb cb;
    void *arg;
    char type[8];
    char provider_id[256];
    char event[16];
};

static void
event_stored(void *arg, int rc, const struct store_fb_event_info *info)
{
    struct ev_ctx *e = arg;
    struct fallback *fb = e->fb;
    char labels[96];

    if (!fb_answered(fb)) {
        if (e->cb)
            e->cb(e->arg, -1);
        free(e);
        return;
    }
    snprintf(labels, sizeof(labels), "channel=\"%s\",result=\"%s\"", e->type,
             rc > 0 ? "matched" : rc == 0 ? "unknown" : "error");
    metrics_inc("smsgw_channel_events_total", labels);
    if (rc == 0) {
        log_event(LOG_WARN, "channel_event_unmatched", "channel=%s provider_id=%s event=%s",
                  e->type, e->provider_id, e->event);
    } else if (rc > 0) {
        log_event(LOG_INFO, "channel_event", "msg_id=%s channel=%s provider_id=%s event=%s%s%s",
                  info->id, e->type, e->provider_id, e->event,
                  info->new_state[0] ? " state=" : "", info->new_state);
        if (info->chain_goes_on) {
            /* The step that was accepted did not arrive: the chain goes on
             * here from its next step (P fbwait has it should this stop). */
            log_event(LOG_INFO, "msg_state", "msg_id=%s state=fallback reason=provider_failed",
                      info->id);
            fb_asking(fb);
            store_fallback_claim(fb->redis, info->id, "provider_failed", false, true,
                                 fb->cfg->fallback_resume_s, claimed, fb);
        } else if (info->new_state[0]) {
            metrics_msg_state(info->new_state);
            log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s", info->id, info->new_state);
            mt_notify(fb->webhook, info->callback_url, info->id, info->new_state,
                      info->client_ref, NULL, info->to, 0);
        }
    }
    if (e->cb)
        e->cb(e->arg, rc);
    free(e);
}

void
fallback_channel_event(struct fallback *fb, enum chan_type type, const struct chan_event *ev,
                       fallback_event_cb cb, void *arg)
{
    struct ev_ctx *e = calloc(1, sizeof(*e));
    char detail[512];

    if (!e)
        abort();
    e->fb = fb;
    e->cb = cb;
    e->arg = arg;
    snprintf(e->type, sizeof(e->type), "%s", type_name(type));
    snprintf(e->provider_id, sizeof(e->provider_id), "%s", ev->provider_id);
    snprintf(e->event, sizeof(e->event), "%s", chan_status_name(ev->status));
    int n = snprintf(detail, sizeof(detail), "provider_id=%s", ev->provider_id);
    if (ev->ts > 0 && n > 0 && (size_t)n < sizeof(detail))
        n += snprintf(detail + n, sizeof(detail) - (size_t)n, " provider_ts=%lld",
                      (long long)ev->ts);
    if (ev->error && n > 0 && (size_t)n < sizeof(detail))
        snprintf(detail + n, sizeof(detail) - (size_t)n, " error=%s", ev->error);
    fb_asking(fb);
    store_fallback_event(fb->redis, e->type, e->provider_id, e->event, detail,
                         fb->cfg->fallback_resume_s, event_stored, e);
}

const struct chan_config *
fallback_channels(const struct fallback *fb)
{
    return &fb->cfg->channels;
}

bool
fallback_ready(const struct fallback *fb)
{
    return fb && !fb->closing && store_redis_ready(fb->redis);
}

struct fallback *
fallback_new(struct event_base *base, const struct gw_config *cfg, struct store_redis *r,
             struct webhook *w)
{
    struct fallback *fb = calloc(1, sizeof(*fb));

    if (!fb)
        abort();
    fb->base = base;
    fb->cfg = cfg;
    fb->redis = r;
    fb->webhook = w;
    const struct chan_config *cc = &cfg->channels;
    if (cc->has_email || cc->has_ott || cc->has_rcs) {
        fb->curl = curlev_new(base);
        if (cc->has_email)
            fb->chans[0] = chan_email_new(base, fb->curl, &cc->email);
        if (cc->has_ott)
            fb->chans[1] = chan_ott_new(base, fb->curl, &cc->ott);
        if (cc->has_rcs)
            fb->chans[2] = chan_rcs_new(base, fb->curl, &cc->rcs);
    }
    struct timeval tv = { 0, FB_POLL_MS * 1000 };
    fb->poll = event_new(base, -1, EV_PERSIST, poll_cb, fb);
    event_add(fb->poll, &tv);
    return fb;
}

void
fallback_free(struct fallback *fb)
{
    if (!fb)
        return;
    event_free(fb->poll);
    fb->closing = true;
    /* Steps in flight get their callbacks now (retryable "shutdown") and
     * record it; the chain stops there (their Redis writes may not go out). */
    for (int i = 0; i < 3; i++) {
        chan_free(fb->chans[i]);
        fb->chans[i] = NULL;
    }
    if (fb->curl)
        curlev_free(fb->curl);
    if (fb->redis_pending)
        fb->free_pending = true;
    else
        free(fb);
}
