#include "router/fallback.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/config.h"
#include "core/curlev.h"
#include "core/log.h"
#include "router/channels/channel.h"
#include "router/router_mt.h"
#include "store/store_fallback.h"
#include "store/store_msg.h"

#define FB_MAX_STEPS 3
#define FB_POLL_MS 500

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
};

/* One chain being run. */
struct fb_run {
    struct fallback *fb;
    char id[40];
    char chain[FB_MAX_STEPS][65];
    unsigned nsteps, step;
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

/* The chain ended (state) or goes on with the next step. */
static void
step_done(struct fb_run *run, const char *detail, const char *final_state)
{
    log_event(LOG_INFO, "fallback_step", "msg_id=%s step=%u channel=%s %s%s%s", run->id,
              run->step, run->chain[run->step], detail, final_state ? " state=" : "",
              final_state ? final_state : "");
    if (run->fb->closing && !final_state) {
        /* Shutting down: the record keeps state fallback and this step's outcome. */
        store_fallback_step(run->fb->redis, run->id, run->step, detail, NULL,
                            run->fb->cfg->fallback_resume_s, NULL, NULL);
        run_free(run);
        return;
    }
    if (!final_state && run->step + 1 >= run->nsteps)
        final_state = "fallback_failed";
    store_fallback_step(run->fb->redis, run->id, run->step, detail, final_state,
                        run->fb->cfg->fallback_resume_s, NULL, NULL);
    if (final_state) {
        log_event(LOG_INFO, "msg_state", "msg_id=%s state=%s", run->id, final_state);
        mt_notify(run->fb->webhook, run->callback_url, run->id, final_state, run->client_ref,
                  NULL, run->to + 1, 0);
        run_free(run);
        return;
    }
    run->step++;
    step_start(run);
}

static void
sent(const struct chan_result *r, void *arg)
{
    struct fb_run *run = arg;
    char detail[320], state[80];
    struct chan *c = chan_by_name(run->fb, run->chain[run->step]);

    if (r->status == CHAN_ACCEPTED) {
        snprintf(detail, sizeof(detail), "channel=%s result=accepted provider_id=%s",
                 r->channel, r->provider_id ? r->provider_id : "");
        enum chan_type t = c ? chan_type(c) : CHAN_EMAIL;
        snprintf(state, sizeof(state), "sent_%s",
                 t == CHAN_EMAIL ? "email" : t == CHAN_OTT ? "ott" : "rcs");
        step_done(run, detail, state);
        return;
    }
    snprintf(detail, sizeof(detail), "channel=%s result=failed error=%s%s", r->channel,
             r->error ? r->error : "unknown", r->retryable ? " retryable=1" : "");
    step_done(run, detail, NULL);
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

    if (rc < 0) {
        log_event(LOG_WARN, "fallback_not_claimed", "reason=\"redis unavailable\"");
        return;
    }
    if (rc == 0)
        return;
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
    if (run->step >= run->nsteps) {
        store_fallback_step(fb->redis, run->id, run->step, "result=no_step_left",
                            "fallback_failed", fb->cfg->fallback_resume_s, NULL, NULL);
        run_free(run);
        return;
    }
    if (run->step > 0)
        log_event(LOG_INFO, "fallback_resumed", "msg_id=%s step=%u", run->id, run->step);
    step_start(run);
}

void
fallback_sms_failed(struct fallback *fb, const char *id, const char *state)
{
    if (!fb || !id || !*id)
        return;
    char reason[48];
    snprintf(reason, sizeof(reason), "%s", state);
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
    store_fallback_claim(fb->redis, id, "resume", false, true, fb->cfg->fallback_resume_s,
                         claimed, fb);
}

static void
due_ids(void *arg, int n, const char *const *ids)
{
    struct fallback *fb = arg;
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
    if (store_redis_ready(fb->redis))
        store_fallback_due(fb->redis, 100, due_ids, fb);
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
    free(fb);
}
