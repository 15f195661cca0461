/*
 * Fallback channel connectors: email (SMTP), OTT (WhatsApp Business Cloud
 * API style) and RCS (Google RBM style), behind one interface.
 *
 * A connector takes messages with chan_send(), queues them in memory
 * (bounded), starts at most `concurrency` at once and at most `mps` per
 * second (router_pacer, local mode), each with a whole-request timeout, all
 * through libcurl multi on the event loop (core/curlev): nothing blocks.
 * The outcome of each send arrives once through its callback:
 *   CHAN_ACCEPTED  the provider took the message (provider_id set);
 *   CHAN_FAILED    it did not: retryable (timeout, connection, 429, 5xx,
 *                  SMTP 4xx) or permanent (4xx, SMTP 5xx, not capable).
 * Later delivery events (sent/delivered/read/failed) come from the
 * provider's webhooks: chan_ott_parse_webhook(), chan_rcs_parse_webhook()
 * turn a webhook body into chan_events keyed by provider_id.
 *
 * Nothing here is durable: the caller (router) owns retries and state; a
 * message is in a connector only while its request is on its way.
 *
 * Single-threaded: call everything from the thread running the event_base.
 */
#ifndef ROUTER_CHANNELS_CHANNEL_H
#define ROUTER_CHANNELS_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

struct cfg_errs;
struct curlev;
struct event_base;
struct chan;

enum chan_type { CHAN_EMAIL, CHAN_OTT, CHAN_RCS };

/* One message. Strings are copied by chan_send(). */
struct chan_msg {
    const char *id;                 /* our message id: required; logs, RCS messageId */
    const char *to;                 /* E.164 "+14155550100": OTT and RCS (required), {{to}} */
    const char *from;               /* the sender the client used: {{from}} */
    const char *text;               /* body text ({{text}}); required unless a template/card */
    const char *email;              /* email: recipient address (required) */
    bool transactional;             /* email: transactional relay, else marketing */
    /* OTT: a pre-approved template instead of text. */
    const char *template_name;
    const char *template_lang;      /* default "en_US" */
    const char *const *template_params; /* body parameters {{1}}, {{2}}, ... */
    size_t ntemplate_params;
    /* RCS: a standalone rich card instead of plain text (title or
     * description set), and suggested replies for either. */
    const char *card_title;
    const char *card_description;
    const char *card_media_url;
    const char *const *suggestions; /* reply chips: text, also the postbackData */
    size_t nsuggestions;
};

enum chan_status {
    CHAN_ACCEPTED = 0,              /* taken by the provider / relay */
    CHAN_SENT,                      /* webhook: sent to the handset */
    CHAN_DELIVERED,
    CHAN_READ,
    CHAN_FAILED,
};
const char *chan_status_name(enum chan_status s);

/* "+" then 6 to 15 digits, the first not 0: an address OTT and RCS take. */
bool chan_e164_ok(const char *s);

/* The outcome of one chan_send(). Pointers valid during the callback only. */
struct chan_result {
    const char *msg_id;
    const char *channel;            /* the connector's name */
    enum chan_status status;        /* CHAN_ACCEPTED or CHAN_FAILED */
    const char *provider_id;        /* ACCEPTED: wamid / RBM messageId / email Message-ID */
    bool retryable;                 /* FAILED: try again later (maybe elsewhere) */
    const char *error;              /* FAILED: short reason, e.g. "http_500", "timeout",
                                       "not_rcs_capable", "smtp_550" */
    long code;                      /* HTTP status or SMTP reply code, 0 if none */
    unsigned retry_after_ms;        /* FAILED: the provider's Retry-After, 0 if none */
};
typedef void (*chan_send_cb)(const struct chan_result *r, void *arg);

/* Results of chan_send() / chan_capability(). */
enum chan_rc {
    CHAN_OK = 0,
    CHAN_EFULL = -1,                /* max_queue messages already wait */
    CHAN_EINVAL = -2,               /* a required field missing or malformed */
    CHAN_ENOTSUP = -3,              /* this connector cannot do that (capability on email) */
    CHAN_ECLOSED = -4,              /* chan_free() in progress */
};

/* Limits every connector has. 0 means the default. */
struct chan_limits {
    unsigned timeout_ms;            /* whole request (default 10000) */
    unsigned concurrency;           /* requests on the wire (default 16) */
    unsigned mps;                   /* sends started per second (default 0: no limit) */
    unsigned max_queue;             /* waiting in memory (default 10000) */
    /* For the router (router/fallback), not the connector: tries of one
     * fallback step in all when its failures are retryable (default 3),
     * the first retry after retry_backoff_ms (default 1000), doubling. */
    unsigned retry_attempts;
    unsigned retry_backoff_ms;
};

struct chan_email_relay {
    char *url;                      /* "smtp://host:587" (STARTTLS) or "smtps://host:465" */
    bool starttls;                  /* smtp://: require STARTTLS (default true) */
    char *username, *password;      /* AUTH; NULL: none */
    char *from;                     /* "Name <addr@dom>" or "addr@dom": envelope and From: */
    char *ca_file;                  /* NULL: system trust store */
    bool verify;                    /* check certificate and host name (default true) */
};

struct chan_email_cfg {
    char *name;                     /* default "email" */
    struct chan_limits lim;
    struct chan_email_relay transactional;
    struct chan_email_relay marketing;
    bool has_marketing;             /* without it, marketing mail is refused (EINVAL) */
    char *subject;                  /* template, default "Message from {{from}}" */
    char *body;                     /* template, default "{{text}}" */
};

struct chan_ott_cfg {
    char *name;                     /* default "ott" */
    struct chan_limits lim;
    char *base_url;                 /* "https://graph.facebook.com/v19.0" */
    char *phone_number_id;
    char *token;                    /* Bearer token */
    char *ca_file;
    bool verify;
    /* Status webhooks (core/chan_hooks): the Meta app secret that signs
     * them (X-Hub-Signature-256), the verify token of the subscription
     * handshake (GET hub.verify_token); webhook_verify false takes unsigned
     * bodies (tests only; default true). NULL: not set. */
    char *app_secret;
    char *verify_token;
    bool webhook_verify;
};

struct chan_rcs_cfg {
    char *name;                     /* default "rcs" */
    struct chan_limits lim;
    char *base_url;                 /* "https://rcsbusinessmessaging.googleapis.com" */
    char *token;                    /* Bearer token (an OAuth access token), or: */
    char *service_account_file;     /* a Google service-account key: tokens renewed
                                       (router/channels/oauth.h) */
    char *token_scope;              /* NULL: the RBM scope */
    char *agent_id;                 /* NULL: not sent (single-agent credentials) */
    char *ca_file;
    bool verify;
    /* Webhooks (core/chan_hooks): the clientToken RBM shows for the
     * webhook; it signs every event (X-Goog-Signature) and proves the
     * endpoint at registration. webhook_verify as for OTT. */
    char *client_token;
    bool webhook_verify;
};

/* The "channels" group: any of email, ott, rcs. */
struct chan_config {
    bool has_email, has_ott, has_rcs;
    struct chan_email_cfg email;
    struct chan_ott_cfg ott;
    struct chan_rcs_cfg rcs;
};

/*
 * Parse the "channels" group (NULL: nothing configured) into out, which is
 * zeroed first; problems go to errs as FILE:LINE lines. Free with
 * chan_config_free() whatever the outcome.
 */
void chan_config_parse(struct chan_config *out, const config_setting_t *grp,
                       struct cfg_errs *errs);
void chan_config_free(struct chan_config *c);

/*
 * Connectors. cfg is copied (valid as parse leaves it; the constructors do
 * not re-validate). curl is borrowed and must outlive the connector. Never
 * return NULL. Free with chan_free().
 */
struct chan *chan_email_new(struct event_base *base, struct curlev *curl,
                            const struct chan_email_cfg *cfg);
struct chan *chan_ott_new(struct event_base *base, struct curlev *curl,
                          const struct chan_ott_cfg *cfg);
struct chan *chan_rcs_new(struct event_base *base, struct curlev *curl,
                          const struct chan_rcs_cfg *cfg);

const char *chan_name(const struct chan *c);
enum chan_type chan_type(const struct chan *c);

/*
 * Queue m. Returns CHAN_OK and later calls cb(result, arg) exactly once,
 * from the event loop (never from within chan_send); or returns an error
 * and never calls cb.
 */
int chan_send(struct chan *c, const struct chan_msg *m, chan_send_cb cb, void *arg);

/*
 * RCS only: can `to` receive RCS from us? cb(capable, arg): 1 yes (200),
 * 0 no (404), -1 unknown (error, timeout). Same calling rules as
 * chan_send; counts against concurrency, not against mps.
 */
typedef void (*chan_cap_cb)(int capable, void *arg);
int chan_capability(struct chan *c, const char *to, chan_cap_cb cb, void *arg);

struct chan_stats {
    unsigned long accepted, failed, retryable, refused_full;
    unsigned long inflight, queued;
};
void chan_get_stats(const struct chan *c, struct chan_stats *out);

/*
 * Free c (NULL: nothing). Every message still queued or in flight gets its
 * callback now with CHAN_FAILED, retryable, error "shutdown" (capability
 * checks: -1). May be called from one of c's own callbacks: c is then
 * released once that callback has returned; calling again is harmless.
 */
void chan_free(struct chan *c);

/* ---------------------------------------------------------- webhooks */

/* One status event from a provider webhook. Pointers valid during the callback. */
struct chan_event {
    enum chan_status status;        /* SENT, DELIVERED, READ or FAILED */
    const char *provider_id;        /* matches chan_result.provider_id */
    const char *recipient;          /* as the provider writes it */
    int64_t ts;                     /* Unix seconds, 0 if absent */
    const char *error;              /* FAILED: provider's code/title */
};
typedef void (*chan_event_cb)(const struct chan_event *ev, void *arg);

/*
 * WhatsApp Cloud API webhook body: entry[].changes[].value.statuses[] with
 * id / status (sent, delivered, read, failed) / timestamp / recipient_id /
 * errors[0]. Inbound user messages and unknown statuses are skipped.
 * Returns the number of events reported, or -1 if body is not such JSON.
 */
int chan_ott_parse_webhook(const char *body, size_t len, chan_event_cb cb, void *arg);

/*
 * WhatsApp's X-Hub-Signature-256 header ("sha256=<hex>"): HMAC-SHA256 of
 * the exact body with the app secret. Constant-time compare.
 */
bool chan_ott_verify_signature(const char *body, size_t len, const char *header,
                               const char *app_secret);

/*
 * RBM webhook body: an event {"eventType":"DELIVERED"|"READ",
 * "messageId":...,"senderPhoneNumber":...,"sendTime":...}, or the Pub/Sub
 * push envelope {"message":{"data":"<base64 of that event>"}}. User
 * messages and other event types (IS_TYPING) are skipped. Returns the
 * number of events reported, or -1 if malformed.
 */
int chan_rcs_parse_webhook(const char *body, size_t len, chan_event_cb cb, void *arg);

/*
 * RBM's X-Goog-Signature header: base64 of the HMAC-SHA512, keyed with the
 * webhook's clientToken, of the event: the base64-decoded message.data of
 * a Pub/Sub push envelope, or the body itself when it is a bare event.
 * Constant-time compare.
 */
bool chan_rcs_verify_signature(const char *body, size_t len, const char *header,
                               const char *client_token);

/* Template substitution: {{text}} {{from}} {{to}} {{id}}; unknown
 * placeholders are kept as written; NULL values become "". malloc'd. */
char *chan_template(const char *tpl, const struct chan_msg *m);

#endif
