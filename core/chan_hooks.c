#include "core/chan_hooks.h"
#include "core/http_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "core/metrics.h"
#include "router/channels/channel.h"
#include "router/fallback.h"

#define PROVIDER_ID_MAX 200

/* One webhook request waiting for Redis. */
struct hook_call {
    struct evhttp_request *req;     /* NULL: the client went away */
    bool detached;                  /* the connection closed; we free req */
    unsigned pending;               /* events not yet answered, +1 while parsing */
    unsigned events, unknown, failed, skipped;
    enum chan_type type;
    struct fallback *fb;
    struct timespec t0;
    char path[32];
};

static void
log_hook(const char *method, const char *path, int status, const struct timespec *t0,
         const char *code)
{
    log_event(status >= 500 ? LOG_WARN : LOG_INFO, "http",
              "method=%s path=%s status=%d account=- ms=%ld%s%s", method, path, status,
              http_elapsed_ms(t0), code ? " code=" : "", code ? code : "");
}

static void
reply_text(struct evhttp_request *req, int status, const char *ctype, const char *text)
{
    struct evbuffer *b = evbuffer_new();

    if (!b)
        abort();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evbuffer_add(b, text, strlen(text));
    evhttp_send_reply(req, status, NULL, b);
    evbuffer_free(b);
}

/* The API's error shape: {"error":{"code","message"}}. */
static void
reply_error(struct evhttp_request *req, const char *method, const char *path,
            const struct timespec *t0, int status, const char *code, const char *message)
{
    struct json_object *root = json_object_new_object(), *err = json_object_new_object();

    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message", json_object_new_string(message));
    json_object_object_add(root, "error", err);
    if (status == 503)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    reply_text(req, status, "application/json",
               json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    log_hook(method, path, status, t0, code);
}

static bool
equal_ct(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* Printable ASCII without spaces, 1..PROVIDER_ID_MAX: it becomes a Redis
 * key and a log field. */
static bool
provider_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] <= ' ' || s[n] > '~' || s[n] == '"')
            return false;
    return n > 0 && n <= PROVIDER_ID_MAX;
}

/* ----------------------------------------------------------- the call */

static void
call_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct hook_call *c = arg;

    (void)evcon;
    http_conn_closed(&c->req, &c->detached);
}

static void
call_finish(struct hook_call *c)
{
    struct evhttp_request *req = c->req;

    if (req && c->detached) {
        evhttp_request_free(req);
    } else if (req) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
        if (c->failed) {
            reply_error(req, "POST", c->path, &c->t0, 503, "unavailable",
                        "the message store is unavailable; send the events again");
        } else {
            char body[96];
            snprintf(body, sizeof(body), "{\"events\":%u,\"unknown\":%u}\n", c->events,
                     c->unknown);
            reply_text(req, 200, "application/json", body);
            log_hook("POST", c->path, 200, &c->t0, NULL);
        }
    }
    free(c);
}

static void
event_done(void *arg, int rc)
{
    struct hook_call *c = arg;

    if (rc == 0)
        c->unknown++;
    else if (rc < 0)
        c->failed++;
    if (--c->pending == 0)
        call_finish(c);
}

static void
on_event(const struct chan_event *ev, void *arg)
{
    struct hook_call *c = arg;

    if (!ev->provider_id || !provider_id_ok(ev->provider_id)) {
        c->skipped++;
        log_event(LOG_WARN, "channel_event_skipped", "channel=%s reason=\"bad provider id\"",
                  c->type == CHAN_OTT ? "ott" : "rcs");
        return;
    }
    c->events++;
    c->pending++;
    fallback_channel_event(c->fb, c->type, ev, event_done, c);
}

/* ------------------------------------------------------------ handlers */

static const char *
header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* Meta's subscription handshake: echo hub.challenge when hub.verify_token
 * is ours. */
static void
ott_subscribe(const struct chan_ott_cfg *oc, struct evhttp_request *req, const char *path,
              const struct timespec *t0)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq kv;

    TAILQ_INIT(&kv);
    if (!q || evhttp_parse_query_str(q, &kv) != 0) {
        evhttp_clear_headers(&kv);
        reply_error(req, "GET", path, t0, 400, "bad_request",
                    "expected hub.mode=subscribe, hub.verify_token and hub.challenge");
        return;
    }
    const char *mode = evhttp_find_header(&kv, "hub.mode");
    const char *token = evhttp_find_header(&kv, "hub.verify_token");
    const char *challenge = evhttp_find_header(&kv, "hub.challenge");
    if (!mode || strcmp(mode, "subscribe") != 0 || !token || !challenge) {
        reply_error(req, "GET", path, t0, 400, "bad_request",
                    "expected hub.mode=subscribe, hub.verify_token and hub.challenge");
    } else if (!oc->verify_token || !equal_ct(token, oc->verify_token)) {
        reply_error(req, "GET", path, t0, 403, "bad_verify_token",
                    "hub.verify_token is not channels.ott.verify_token");
    } else {
        reply_text(req, 200, "text/plain", challenge);
        log_hook("GET", path, 200, t0, NULL);
        log_event(LOG_INFO, "channel_webhook_subscribed", "channel=ott");
    }
    evhttp_clear_headers(&kv);
}

/* RBM's registration check: {"clientToken":..., "secret":...}; answer the
 * secret as plain text when the token is ours. true when body was one. */
static bool
rcs_registration(const struct chan_rcs_cfg *rc, struct evhttp_request *req, const char *path,
                 const struct timespec *t0, const char *body, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o, *v;

    if (!tok)
        abort();
    o = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    const char *token = NULL, *secret = NULL;
    if (o && json_object_is_type(o, json_type_object) &&
        !json_object_object_get_ex(o, "message", NULL) &&
        !json_object_object_get_ex(o, "eventType", NULL)) {
        if (json_object_object_get_ex(o, "clientToken", &v) &&
            json_object_is_type(v, json_type_string))
            token = json_object_get_string(v);
        if (json_object_object_get_ex(o, "secret", &v) && json_object_is_type(v, json_type_string))
            secret = json_object_get_string(v);
    }
    if (!token || !secret) {
        json_object_put(o);
        return false;
    }
    if (!rc->client_token)
        reply_error(req, "POST", path, t0, 403, "webhook_not_configured",
                    "set channels.rcs.client_token to the clientToken the console shows");
    else if (!equal_ct(token, rc->client_token))
        reply_error(req, "POST", path, t0, 401, "bad_client_token",
                    "clientToken is not channels.rcs.client_token");
    else {
        reply_text(req, 200, "text/plain", secret);
        log_hook("POST", path, 200, t0, NULL);
        log_event(LOG_INFO, "channel_webhook_registered", "channel=rcs");
    }
    json_object_put(o);
    return true;
}

bool
chan_hooks_http(struct fallback *fb, struct evhttp_request *req, const char *path)
{
    static const char *const names[] = { "ott", "rcs" };
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *method = cmd == EVHTTP_REQ_GET ? "GET" : cmd == EVHTTP_REQ_POST ? "POST" : "other";
    struct timespec t0;
    enum chan_type type;

    if (strncmp(path, CHAN_HOOKS_PREFIX, sizeof(CHAN_HOOKS_PREFIX) - 1) != 0)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *which = path + sizeof(CHAN_HOOKS_PREFIX) - 1;
    if (strcmp(which, names[0]) == 0) {
        type = CHAN_OTT;
    } else if (strcmp(which, names[1]) == 0) {
        type = CHAN_RCS;
    } else {
        reply_error(req, method, path, &t0, 404, "not_found",
                    "no such webhook; providers post to /v1/webhooks/ott or /v1/webhooks/rcs");
        return true;
    }
    const struct chan_config *cc = fb ? fallback_channels(fb) : NULL;
    if (!cc || (type == CHAN_OTT && !cc->has_ott) || (type == CHAN_RCS && !cc->has_rcs)) {
        reply_error(req, method, path, &t0, 404, "not_configured",
                    type == CHAN_OTT ? "no OTT channel is configured (channels.ott)"
                                     : "no RCS channel is configured (channels.rcs)");
        return true;
    }
    if (type == CHAN_OTT && cmd == EVHTTP_REQ_GET) {
        ott_subscribe(&cc->ott, req, path, &t0);
        return true;
    }
    if (cmd != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          type == CHAN_OTT ? "GET, POST" : "POST");
        reply_error(req, method, path, &t0, 405, "method_not_allowed",
                    "providers POST their events here");
        return true;
    }

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";

    /* Authenticate before parsing: the signature covers the exact bytes. */
    bool verify = type == CHAN_OTT ? cc->ott.webhook_verify : cc->rcs.webhook_verify;
    const char *secret = type == CHAN_OTT ? cc->ott.app_secret : cc->rcs.client_token;
    if (type == CHAN_RCS && rcs_registration(&cc->rcs, req, path, &t0, body, len))
        return true;
    if (verify) {
        if (!secret) {
            reply_error(req, method, path, &t0, 403, "webhook_not_configured",
                        type == CHAN_OTT
                            ? "set channels.ott.app_secret (the Meta app secret) to take "
                              "signed status webhooks"
                            : "set channels.rcs.client_token (the webhook's clientToken) to "
                              "take signed RBM events");
            return true;
        }
        bool ok = type == CHAN_OTT
                      ? chan_ott_verify_signature(body, len, header(req, "X-Hub-Signature-256"),
                                                  secret)
                      : chan_rcs_verify_signature(body, len, header(req, "X-Goog-Signature"),
                                                  secret);
        if (!ok) {
            metrics_inc("smsgw_channel_events_total", type == CHAN_OTT
                            ? "channel=\"ott\",result=\"bad_signature\""
                            : "channel=\"rcs\",result=\"bad_signature\"");
            log_event(LOG_WARN, "channel_webhook_refused", "channel=%s reason=bad_signature",
                      names[type == CHAN_OTT ? 0 : 1]);
            reply_error(req, method, path, &t0, 401, "bad_signature",
                        type == CHAN_OTT
                            ? "X-Hub-Signature-256 must be sha256=HMAC-SHA256(app secret, body)"
                            : "X-Goog-Signature must be base64 HMAC-SHA512(clientToken, event)");
            return true;
        }
    }
    if (!fallback_ready(fb)) {
        reply_error(req, method, path, &t0, 503, "unavailable",
                    "the message store is unavailable; send the events again");
        return true;
    }

    struct hook_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->req = req;
    c->type = type;
    c->fb = fb;
    c->t0 = t0;
    c->pending = 1;                 /* the parse below */
    snprintf(c->path, sizeof(c->path), "%s", path);
    int n = type == CHAN_OTT ? chan_ott_parse_webhook(body, len, on_event, c)
                             : chan_rcs_parse_webhook(body, len, on_event, c);
    if (n < 0 && c->events == 0) {
        free(c);
        metrics_inc("smsgw_channel_events_total", type == CHAN_OTT
                        ? "channel=\"ott\",result=\"malformed\""
                        : "channel=\"rcs\",result=\"malformed\"");
        reply_error(req, method, path, &t0, 400, "bad_json",
                    type == CHAN_OTT
                        ? "expected a WhatsApp webhook: {\"entry\":[{\"changes\":[{\"value\":"
                          "{\"statuses\":[...]}}]}]}"
                        : "expected an RBM event {\"eventType\",\"messageId\",...} or a "
                          "Pub/Sub push {\"message\":{\"data\":\"<base64 event>\"}}");
        return true;
    }
    /* Answered once every event is in Redis (or at once when there were none). */
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), call_conn_closed, c);
    if (--c->pending == 0)
        call_finish(c);
    return true;
}
