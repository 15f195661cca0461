/*
 * Error-rate failover for one SMSC: a sliding window of its submit_sm
 * outcomes, and the state that takes it out of route selection while they
 * are bad and lets it back in after a probe.
 *
 *   active ──(errors/samples >= threshold, samples >= min_samples)──▶ suspended
 *   suspended ──(cooldown over)──▶ probing
 *   probing ──(a probe message's submit succeeds)──▶ active
 *   probing ──(a probe message's submit fails)──▶ suspended, cooldown doubled
 *                                                  (up to cooldown_max)
 *
 * The window is window_ms long in ROUTER_HEALTH_BUCKETS fixed sub-buckets,
 * so old outcomes leave it a bucket at a time and memory is constant.
 * While suspended or probing, outcomes of messages that are not the probe
 * (late resps of what was on the wire when the SMSC was taken out) are
 * ignored: they say nothing about the SMSC now.
 *
 * Which submit results count is router_health_classify()'s business (see
 * there and docs/configuration.md, "Error-rate failover").
 *
 * Times are ms of a monotonic clock the caller chooses, never going
 * backwards. Nothing here does I/O, reads a clock, logs or allocates after
 * router_health_new(). Event-loop thread only.
 */
#ifndef ROUTER_HEALTH_H
#define ROUTER_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#define ROUTER_HEALTH_BUCKETS 10u

struct router_health_cfg {
    bool enabled;               /* false: never suspended (outcomes still counted) */
    double threshold;           /* 0 < threshold <= 1: error share that suspends */
    unsigned window_ms;         /* >= ROUTER_HEALTH_BUCKETS */
    unsigned min_samples;       /* >= 1: fewer outcomes in the window never suspend */
    unsigned cooldown_ms;       /* suspended this long before the first probe */
    unsigned cooldown_max_ms;   /* cap of the doubling after failed probes (>= cooldown_ms) */
    unsigned probes;            /* >= 1: probe messages let through at once */
};

enum router_health_state {
    ROUTER_HEALTH_ACTIVE,
    ROUTER_HEALTH_SUSPENDED,
    ROUTER_HEALTH_PROBING,
};

enum router_health_outcome {
    ROUTER_HEALTH_OK,           /* accepted by the SMSC */
    ROUTER_HEALTH_ERROR,        /* says the SMSC (or the link to it) is failing */
    ROUTER_HEALTH_NEUTRAL,      /* says nothing about it: throttling, the message's own fault */
};

/* What a call changed, for the caller to log and count. */
enum router_health_event {
    ROUTER_HEALTH_NONE,
    ROUTER_HEALTH_SUSPEND,      /* active -> suspended */
    ROUTER_HEALTH_PROBE,        /* suspended -> probing (cooldown over) */
    ROUTER_HEALTH_RESUME,       /* probing -> active */
    ROUTER_HEALTH_PROBE_FAILED, /* probing -> suspended, longer cooldown */
};

struct router_health;

/* A new tracker, active with an empty window. cfg is copied; values out of
 * range are clamped into it. Never returns NULL; free with
 * router_health_free(). */
struct router_health *router_health_new(const struct router_health_cfg *cfg);
void router_health_free(struct router_health *h);

/* New settings (a reload): the window is kept, and the state. */
void router_health_set_cfg(struct router_health *h, const struct router_health_cfg *cfg);
/* Take over old's window and state (a reload built a new engine). */
void router_health_adopt(struct router_health *h, const struct router_health *old);

/*
 * How a submit_sm_resp status counts. OK for 0; NEUTRAL for throttling
 * (ESME_RTHROTTLED, ESME_RMSGQFUL: the carrier asks us to slow down, the
 * pacer's business) and for statuses that blame the message rather than
 * the SMSC (addresses, TON/NPI, length, esm_class, validity, schedule,
 * TLVs): a batch of bad numbers must not take a healthy SMSC out. ERROR for
 * everything else, vendor statuses (0x400 and up) included.
 */
enum router_health_outcome router_health_classify(uint32_t status);

/*
 * One outcome at now. probe_gen is what router_health_probe_start() gave
 * the message this submit belongs to, or 0 for an ordinary one.
 */
enum router_health_event router_health_record(struct router_health *h, uint64_t now,
                                              enum router_health_outcome o, unsigned probe_gen);

/* Let time pass: a suspended SMSC whose cooldown is over starts probing. */
enum router_health_event router_health_tick(struct router_health *h, uint64_t now);

enum router_health_state router_health_state(const struct router_health *h);
/* "active", "suspended", "probing". */
const char *router_health_state_name(enum router_health_state st);

/* May a new message be given to it: active, or probing with a probe slot
 * free. Call router_health_tick() first. */
bool router_health_may_take(const struct router_health *h);

/* A new message goes to a probing SMSC as its probe: takes a probe slot and
 * returns the probe's generation (never 0) to pass to record/abandon. */
unsigned router_health_probe_start(struct router_health *h);
/* The probe message ended without an outcome on this SMSC (moved, split
 * failed, engine stopped): its slot is free again. */
void router_health_probe_abandon(struct router_health *h, unsigned probe_gen);

struct router_health_view {
    enum router_health_state state;
    unsigned samples, errors;   /* in the window now */
    double error_rate;          /* errors / samples (0 when none) */
    double rate_at_suspend;     /* the error rate that suspended it last */
    unsigned cooldown_ms;       /* current cooldown (doubles after failed probes) */
    uint64_t probe_at;          /* suspended: when probing starts */
    unsigned long suspensions;  /* active -> suspended, in all */
};
void router_health_view(const struct router_health *h, uint64_t now,
                        struct router_health_view *out);

#endif
