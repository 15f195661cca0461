/*
 * The fallback chain's state in a message's record (router/fallback runs
 * the chain; this is its Redis side).
 *
 * Fields added to P msg:ID: fb_step (the index of the next step to run;
 * its presence means the chain was claimed: it runs once even when two
 * triggers race, a receipt and a timeout, or two instances), fb_attempt
 * (the try of that step, when it is a retry), fb_why (why a chain in state
 * fallback waits in P fbwait: "retry", "provider_failed"), history
 * entries "h:MS:fallback" = "channel=NAME result=..." (one per step, MS
 * moved on by a millisecond when two steps end within one), and the final
 * state of the last step ("sent_email", "sent_ott", "sent_rcs",
 * "fallback_failed").
 *
 * P fbwait (sorted set, member = ID, score = due ms): messages with a chain
 * waiting for a receipt; store_fallback_due() returns those still without
 * a final state when their time is up (the "no receipt" trigger). A chain
 * being run is watched there too, pushed on by each step: one still in
 * state "fallback" when its time is up is resumed (its instance died, or a
 * retry of a step is due).
 *
 * P chanid:TYPE:PROVIDER_ID (string, our id, expires with the record):
 * provider webhooks (OTT wamid, RCS messageId) find their message.
 */
#ifndef STORE_FALLBACK_H
#define STORE_FALLBACK_H

#include <stdbool.h>
#include <stdint.h>

struct store_redis;

/* What the chain needs from the record; valid during the callback only. */
struct store_fb_msg {
    const char *id, *chain, *email, *to, *from, *text, *msg_class, *callback_url, *client_ref;
    unsigned step;              /* the step to run (0, or where a resumed chain stopped) */
    unsigned attempt;           /* of that step: 1, or more when it is a retry */
};

/*
 * Claim id's chain: rc 1 claimed (m set), 0 nothing to do (no chain, claimed
 * before, or — only_if_pending — the message already has a final state),
 * -1 Redis unavailable. reason goes into the history. resume: take over a
 * chain still in state "fallback" (P fbwait said it made no progress for
 * resume_s: its instance died) from its next step. Either way the message
 * is watched in P fbwait resume_s from now.
 */
typedef void (*store_fb_claim_cb)(void *arg, int rc, const struct store_fb_msg *m);
void store_fallback_claim(struct store_redis *r, const char *id, const char *reason,
                          bool only_if_pending, bool resume, unsigned resume_s,
                          store_fb_claim_cb cb, void *arg);

/* One step's outcome. */
struct store_fb_step {
    unsigned step;              /* its index */
    const char *detail;         /* history "h:MS:fallback" */
    const char *final_state;    /* the chain ends in this state; NULL: it goes on */
    /* Not 0: run the same step again at this time (epoch ms; P fbwait
     * holds it, so any instance does it, after a crash too), as attempt
     * next_attempt. Else the next step is due (the watch moves resume_s
     * ahead) or, with final_state, the watch goes. */
    uint64_t retry_due_ms;
    unsigned next_attempt;
    /* An accepted send on a channel with status webhooks ("ott", "rcs"):
     * P chanid:TYPE:PROVIDER_ID -> id, as long as the record lives. */
    const char *chan_type, *provider_id;
};

/* Record a step. cb may be NULL. */
typedef void (*store_fb_done_cb)(void *arg, int rc);
void store_fallback_step(struct store_redis *r, const char *id, const struct store_fb_step *s,
                         unsigned resume_s, store_fb_done_cb cb, void *arg);

/* What a provider event changed; valid during the callback only. */
struct store_fb_event_info {
    const char *id;             /* our message */
    const char *new_state;      /* "delivered_ott", "read_rcs", "fallback", or "" (history only) */
    const char *callback_url, *client_ref, *to;
    bool chain_goes_on;         /* a failure of the step that was accepted: run the next one */
};

/*
 * A status event from chan_type's provider webhook for provider_id. event:
 * "sent", "delivered", "read", "failed". History "h:MS:EVENT_TYPE" =
 * detail always; the state moves sent_T -> delivered_T -> read_T (forward
 * only, while it is this channel's); "failed" while in sent_T sets state
 * fallback (watched resume_s ahead) for the chain to go on. cb rc: 1 (info
 * set), 0 no such provider id (or its record is gone), -1 Redis failed.
 */
typedef void (*store_fb_event_cb)(void *arg, int rc, const struct store_fb_event_info *info);
void store_fallback_event(struct store_redis *r, const char *chan_type, const char *provider_id,
                          const char *event, const char *detail, unsigned resume_s,
                          store_fb_event_cb cb, void *arg);

/* Wait for a receipt until due_ms, then trigger "no_receipt" (the accept
 * script does the same for new messages: store_msg_new.watch_ms). */
void store_fallback_watch(struct store_redis *r, const char *id, uint64_t due_ms);

/* Up to max ids whose wait is over and whose state is not final (they are
 * removed from the set; so are final ones); a chain that made no progress
 * (state still "fallback") comes as "r:ID". cb(arg, n, ids) n = -1 on error. */
typedef void (*store_fb_due_cb)(void *arg, int n, const char *const *ids);
void store_fallback_due(struct store_redis *r, unsigned max, store_fb_due_cb cb, void *arg);

#endif
