/*
 * The HTTP API (evhttp + json-c).
 *
 *   POST /v1/messages        accept a message (202 once it is in Redis)
 *   GET  /v1/messages/{id}   the message's record
 *
 * The API authenticates, parses and validates; it stores nothing itself.
 * Storing and reading go through struct api_backend, which smsgwd wires to
 * store/ (Redis). A request is answered exactly once: by the validator
 * (4xx), or when the backend calls its done callback (202/200/404/503).
 */
#ifndef CORE_API_H
#define CORE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct event_base;
struct evhttp_request;
struct api_server;

enum msg_class { MSG_TRANSACTIONAL = 0, MSG_MARKETING = 1 };

/* A message that passed validation. Strings are owned by the request and
 * valid until done is called; the backend copies what it keeps. */
struct api_msg {
    const struct cfg_account *account;
    const struct cfg_sender *sender;
    const struct cfg_route *route;
    char to[16];                    /* E.164 digits without '+' */
    const char *text;               /* UTF-8 */
    size_t text_len;
    enum smpp_text_enc encoding;    /* SMPP_TEXT_ENC_GSM7 or SMPP_TEXT_ENC_UCS2 */
    unsigned segments;              /* submit_sm PDUs it will take on its route */
    const char *callback_url;       /* request's, else account default, else NULL */
    const char *client_ref;         /* NULL if none */
    unsigned validity_s;            /* request's, else the route's */
    enum msg_class msg_class;
    /* Admission (core/admit): when it may go and how it is carried. */
    uint64_t due_ms;                /* 0: now; else real epoch ms (send_at or quiet hours) */
    const char *hold_state;         /* "scheduled" | "held" when due_ms, else NULL */
    char hold_detail[128];          /* history text for the hold */
    char fallback[64];              /* channel names after SMS, "email,ott"; "" none */
    const char *email;              /* address for an email step, or NULL */
    bool no_sms;                    /* the number cannot take SMS: fallback chain only */
};

/* Backend results. */
enum api_rc {
    API_OK = 0,
    API_EXISTING = 1,       /* submit: client_ref seen before; id is the first message's */
    API_ENOTFOUND = -1,     /* get: no such message for this account */
    API_EUNAVAILABLE = -2,  /* Redis unreachable or timed out: 503 + Retry-After */
    API_EOPTEDOUT = -3,     /* submit: the subscriber opted out of this sender or account: 403 */
    API_EFREQCAP = -4,      /* submit: the account's marketing cap for this subscriber is
                               used up: 429; the done callback's id is then the time the
                               count resets, as decimal epoch seconds */
};

typedef void (*api_submit_done)(void *req, enum api_rc rc, const char *id);
/* Opt-out calls: rc API_OK or API_EUNAVAILABLE; opted_out is the state
 * after the call (for GET, as found); count is how many numbers changed
 * (PUT/DELETE/import). */
typedef void (*api_optout_done)(void *req, enum api_rc rc, bool opted_out, unsigned count);

enum api_optout_op { API_OPTOUT_GET, API_OPTOUT_PUT, API_OPTOUT_DELETE };
typedef void (*api_get_done)(void *req, enum api_rc rc, const char *json);

struct api_backend {
    /* Store m; call done(req, API_OK|API_EXISTING|API_EUNAVAILABLE, id) once. */
    void (*submit)(void *bctx, const struct api_msg *m, api_submit_done done, void *req);
    /* The record of id as a JSON object text, if it belongs to account. */
    void (*get)(void *bctx, const struct cfg_account *account, const char *id,
                api_get_done done, void *req);
    /* Opt-outs of an account: numbers are E.164 digits; sender NULL means
     * the whole account, else one of its sender addresses. */
    void (*optout)(void *bctx, const struct cfg_account *account, const char *sender,
                   const char *const *numbers, size_t n, enum api_optout_op op,
                   api_optout_done done, void *req);
    /* True while the backend can take messages (Redis connected). When
     * false, POSTs are answered 503 without calling submit. */
    bool (*ready)(void *bctx);
    /* Optional: paths the API does not serve (GET /metrics, /status).
     * Return true when the request was answered. */
    bool (*other)(void *bctx, struct evhttp_request *req, const char *path);
};

/* NULL on error (cannot listen: errno set). cfg must outlive the server. */
struct api_server *api_server_new(struct event_base *base, const struct gw_config *cfg,
                                  const struct api_backend *backend, void *bctx);
/* The port actually bound (cfg port 0 picks a free one). */
int api_server_port(const struct api_server *s);
/* Swap the config (after reload); in-flight requests keep the old one. */
void api_server_set_config(struct api_server *s, const struct gw_config *cfg);
void api_server_free(struct api_server *s);

/*
 * Validation, usable without a server. Parses body (JSON) for account and
 * fills *m (pointing into *owner, a json-c object the caller frees with
 * json_object_put). On failure returns the HTTP status (400, 403, 413, 422)
 * and writes a machine code ("bad_json", "missing_field", "invalid_to",
 * "unknown_sender", "sender_not_allowed", "alphanumeric_forbidden",
 * "text_too_long", "no_route", "invalid_validity", "invalid_class",
 * "invalid_encoding", ...) and a message saying what to fix.
 */
int api_validate(const struct gw_config *cfg, const struct cfg_account *account,
                 const char *body, size_t len, struct api_msg *m, void **owner,
                 const char **code, char *message, size_t msgsz);

#endif
