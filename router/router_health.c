#include "router/router_health.h"

#include <stdlib.h>
#include <string.h>

#include "smpp/smpp_pdu.h"

struct bucket {
    uint64_t idx;               /* now / bucket_ms when it was filled; 0: never */
    unsigned ok, err;
};

struct router_health {
    struct router_health_cfg cfg;
    unsigned bucket_ms;
    struct bucket b[ROUTER_HEALTH_BUCKETS];
    enum router_health_state state;
    unsigned cooldown_ms;
    uint64_t probe_at;
    unsigned probes_out;
    unsigned probe_gen;         /* generation of the current probing period */
    double rate_at_suspend;
    unsigned long suspensions;
};

static void
clamp(struct router_health_cfg *c)
{
    if (!(c->threshold > 0))
        c->threshold = 0.5;
    if (c->threshold > 1)
        c->threshold = 1;
    if (c->window_ms < ROUTER_HEALTH_BUCKETS)
        c->window_ms = ROUTER_HEALTH_BUCKETS;
    if (c->min_samples < 1)
        c->min_samples = 1;
    if (c->cooldown_max_ms < c->cooldown_ms)
        c->cooldown_max_ms = c->cooldown_ms;
    if (c->probes < 1)
        c->probes = 1;
}

struct router_health *
router_health_new(const struct router_health_cfg *cfg)
{
    struct router_health *h = calloc(1, sizeof(*h));

    if (!h)
        abort();
    router_health_set_cfg(h, cfg);
    h->cooldown_ms = h->cfg.cooldown_ms;
    return h;
}

void
router_health_free(struct router_health *h)
{
    free(h);
}

void
router_health_set_cfg(struct router_health *h, const struct router_health_cfg *cfg)
{
    unsigned old_bucket = h->bucket_ms;

    h->cfg = *cfg;
    clamp(&h->cfg);
    h->bucket_ms = h->cfg.window_ms / ROUTER_HEALTH_BUCKETS;
    if (old_bucket && old_bucket != h->bucket_ms)
        memset(h->b, 0, sizeof(h->b));  /* bucket indexes mean other times now */
    if (h->cooldown_ms < h->cfg.cooldown_ms)
        h->cooldown_ms = h->cfg.cooldown_ms;
    if (h->cooldown_ms > h->cfg.cooldown_max_ms)
        h->cooldown_ms = h->cfg.cooldown_max_ms;
    if (!h->cfg.enabled && h->state != ROUTER_HEALTH_ACTIVE) {
        h->state = ROUTER_HEALTH_ACTIVE;
        h->probes_out = 0;
        h->probe_gen++;
    }
}

void
router_health_adopt(struct router_health *h, const struct router_health *old)
{
    struct router_health_cfg cfg = h->cfg;

    *h = *old;
    h->bucket_ms = 0;
    router_health_set_cfg(h, &cfg);
    if (h->bucket_ms != old->bucket_ms)
        memset(h->b, 0, sizeof(h->b));
    /* A probe still out belongs to the old tracker: its outcome goes there.
     * This one starts its probing period afresh, or it would wait for ever
     * for that probe's slot. */
    h->probes_out = 0;
    if (h->state == ROUTER_HEALTH_PROBING && ++h->probe_gen == 0)
        h->probe_gen = 1;
}

enum router_health_outcome
router_health_classify(uint32_t status)
{
    switch (status) {
    case ESME_ROK:
        return ROUTER_HEALTH_OK;
    case ESME_RTHROTTLED:
    case ESME_RMSGQFUL:
    /* the message's fault, not the SMSC's */
    case ESME_RINVMSGLEN:
    case ESME_RINVPRTFLG:
    case ESME_RINVREGDLVFLG:
    case ESME_RINVSRCADR:
    case ESME_RINVDSTADR:
    case ESME_RINVSERTYP:
    case ESME_RINVESMCLASS:
    case ESME_RINVSRCTON:
    case ESME_RINVSRCNPI:
    case ESME_RINVDSTTON:
    case ESME_RINVDSTNPI:
    case ESME_RINVSCHED:
    case ESME_RINVEXPIRY:
    case ESME_RINVOPTPARSTREAM:
    case ESME_ROPTPARNOTALLWD:
    case ESME_RINVPARLEN:
    case ESME_RMISSINGOPTPARAM:
    case ESME_RINVOPTPARAMVAL:
        return ROUTER_HEALTH_NEUTRAL;
    default:
        return ROUTER_HEALTH_ERROR;
    }
}

/* Sum of the buckets still inside the window at now. */
static void
window_sum(const struct router_health *h, uint64_t now, unsigned *ok, unsigned *err)
{
    uint64_t cur = now / h->bucket_ms + 1;

    *ok = *err = 0;
    for (unsigned i = 0; i < ROUTER_HEALTH_BUCKETS; i++) {
        const struct bucket *b = &h->b[i];
        if (b->idx && b->idx + ROUTER_HEALTH_BUCKETS > cur) {
            *ok += b->ok;
            *err += b->err;
        }
    }
}

static void
suspend(struct router_health *h, uint64_t now)
{
    h->state = ROUTER_HEALTH_SUSPENDED;
    h->probe_at = now + h->cooldown_ms;
    h->probes_out = 0;
    h->probe_gen++;
    /* The errors that took it out must not take it out again right after
     * it comes back. */
    memset(h->b, 0, sizeof(h->b));
}

enum router_health_event
router_health_record(struct router_health *h, uint64_t now, enum router_health_outcome o,
                     unsigned probe_gen)
{
    if (h->state != ROUTER_HEALTH_ACTIVE) {
        if (h->state != ROUTER_HEALTH_PROBING || !probe_gen || probe_gen != h->probe_gen)
            return ROUTER_HEALTH_NONE;
        if (h->probes_out)
            h->probes_out--;
        if (o == ROUTER_HEALTH_OK) {
            h->state = ROUTER_HEALTH_ACTIVE;
            h->cooldown_ms = h->cfg.cooldown_ms;
            h->probes_out = 0;
            h->probe_gen++;
            memset(h->b, 0, sizeof(h->b));
            return ROUTER_HEALTH_RESUME;
        }
        if (o == ROUTER_HEALTH_ERROR) {
            uint64_t c = (uint64_t)h->cooldown_ms * 2;
            h->cooldown_ms = c > h->cfg.cooldown_max_ms ? h->cfg.cooldown_max_ms : (unsigned)c;
            h->rate_at_suspend = 1;
            suspend(h, now);
            return ROUTER_HEALTH_PROBE_FAILED;
        }
        return ROUTER_HEALTH_NONE;  /* neutral: the slot is free for another probe */
    }
    if (o == ROUTER_HEALTH_NEUTRAL)
        return ROUTER_HEALTH_NONE;
    uint64_t idx = now / h->bucket_ms + 1;
    struct bucket *b = &h->b[idx % ROUTER_HEALTH_BUCKETS];
    if (b->idx != idx)
        *b = (struct bucket){ .idx = idx };
    if (o == ROUTER_HEALTH_OK)
        b->ok++;
    else
        b->err++;
    if (o != ROUTER_HEALTH_ERROR || !h->cfg.enabled)
        return ROUTER_HEALTH_NONE;
    unsigned ok, err;
    window_sum(h, now, &ok, &err);
    unsigned n = ok + err;
    if (n < h->cfg.min_samples || (double)err < h->cfg.threshold * (double)n)
        return ROUTER_HEALTH_NONE;
    h->rate_at_suspend = (double)err / (double)n;
    h->suspensions++;
    h->cooldown_ms = h->cfg.cooldown_ms;
    suspend(h, now);
    return ROUTER_HEALTH_SUSPEND;
}

enum router_health_event
router_health_tick(struct router_health *h, uint64_t now)
{
    if (h->state != ROUTER_HEALTH_SUSPENDED || now < h->probe_at)
        return ROUTER_HEALTH_NONE;
    h->state = ROUTER_HEALTH_PROBING;
    h->probes_out = 0;
    h->probe_gen++;
    if (h->probe_gen == 0)
        h->probe_gen = 1;
    return ROUTER_HEALTH_PROBE;
}

enum router_health_state
router_health_state(const struct router_health *h)
{
    return h->state;
}

const char *
router_health_state_name(enum router_health_state st)
{
    switch (st) {
    case ROUTER_HEALTH_ACTIVE: return "active";
    case ROUTER_HEALTH_SUSPENDED: return "suspended";
    case ROUTER_HEALTH_PROBING: return "probing";
    }
    abort();
}

bool
router_health_may_take(const struct router_health *h)
{
    return h->state == ROUTER_HEALTH_ACTIVE ||
           (h->state == ROUTER_HEALTH_PROBING && h->probes_out < h->cfg.probes);
}

unsigned
router_health_probe_start(struct router_health *h)
{
    if (h->state != ROUTER_HEALTH_PROBING)
        return 0;
    h->probes_out++;
    return h->probe_gen;
}

void
router_health_probe_abandon(struct router_health *h, unsigned probe_gen)
{
    if (h->state == ROUTER_HEALTH_PROBING && probe_gen && probe_gen == h->probe_gen &&
        h->probes_out)
        h->probes_out--;
}

void
router_health_view(const struct router_health *h, uint64_t now, struct router_health_view *out)
{
    unsigned ok, err;

    window_sum(h, now, &ok, &err);
    *out = (struct router_health_view){
        .state = h->state, .samples = ok + err, .errors = err,
        .error_rate = ok + err ? (double)err / (double)(ok + err) : 0,
        .rate_at_suspend = h->rate_at_suspend, .cooldown_ms = h->cooldown_ms,
        .probe_at = h->state == ROUTER_HEALTH_SUSPENDED ? h->probe_at : 0,
        .suspensions = h->suspensions,
    };
}
