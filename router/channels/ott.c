/*
 * OTT messaging in the WhatsApp Business Cloud API's shape:
 *   POST {base_url}/{phone_number_id}/messages
 *   Authorization: Bearer {token}
 *   {"messaging_product":"whatsapp","recipient_type":"individual","to":"14155550100",
 *    "type":"text","text":{"preview_url":false,"body":"..."}}
 * or "type":"template" with {"name","language":{"code"},"components":
 * [{"type":"body","parameters":[{"type":"text","text":...}]}]}.
 * A 200 answer carries messages[0].id (the "wamid"), our provider_id.
 * Errors carry error.code: the throttling codes (130429 rate limit, 131056
 * pair rate limit, 131000/133004 temporary) are retryable like 429 and
 * 5xx; every other 4xx is permanent (e.g. 131047: more than 24 hours since
 * the user last wrote, only a template may be sent).
 */
#include "router/channels/channel_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct ott_impl {
    struct chan_ott_cfg cfg;
    char *url;                      /* {base}/{phone_number_id}/messages */
    char *auth;                     /* "Authorization: Bearer ..." */
};

static void
ott_free_impl(void *p)
{
    struct ott_impl *im = p;

    free(im->cfg.name);
    free(im->cfg.base_url);
    free(im->cfg.phone_number_id);
    free(im->cfg.token);
    free(im->cfg.ca_file);
    free(im->url);
    free(im->auth);
    free(im);
}

static const char *
ott_check(const struct chan *c, const struct chan_msg *m)
{
    (void)c;
    if (!chan_e164_ok(m->to))
        return "ott: to must be E.164 (+ and 6..15 digits)";
    if (!m->template_name && (!m->text || !m->text[0]))
        return "ott: text or template_name required";
    if (m->text && strlen(m->text) > 4096)
        return "ott: text longer than 4096 characters";
    return NULL;
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static char *
json_take(struct json_object *o, size_t *len)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = chan_strdup(s);
    *len = strlen(d);
    json_object_put(o);
    return d;
}

static bool
ott_prepare(struct chan *c, struct chan_job *j, const char **err)
{
    struct ott_impl *im = c->impl;
    struct json_object *o = json_object_new_object();

    (void)err;
    add_str(o, "messaging_product", "whatsapp");
    add_str(o, "recipient_type", "individual");
    add_str(o, "to", j->m.to + 1);      /* the API's form: digits, no "+" */
    if (j->m.template_name) {
        struct json_object *t = json_object_new_object(), *lang = json_object_new_object();
        add_str(o, "type", "template");
        add_str(t, "name", j->m.template_name);
        add_str(lang, "code", j->m.template_lang ? j->m.template_lang : "en_US");
        json_object_object_add(t, "language", lang);
        if (j->m.ntemplate_params) {
            struct json_object *comps = json_object_new_array(), *body = json_object_new_object(),
                               *params = json_object_new_array();
            add_str(body, "type", "body");
            for (size_t i = 0; i < j->m.ntemplate_params; i++) {
                struct json_object *p = json_object_new_object();
                add_str(p, "type", "text");
                add_str(p, "text", j->m.template_params[i]);
                json_object_array_add(params, p);
            }
            json_object_object_add(body, "parameters", params);
            json_object_array_add(comps, body);
            json_object_object_add(t, "components", comps);
        }
        json_object_object_add(o, "template", t);
    } else {
        struct json_object *t = json_object_new_object();
        add_str(o, "type", "text");
        json_object_object_add(t, "preview_url", json_object_new_boolean(0));
        add_str(t, "body", j->m.text);
        json_object_object_add(o, "text", t);
    }
    j->req = json_take(o, &j->req_len);
    j->hdrs = chan_hdr(NULL, im->auth);
    j->hdrs = chan_hdr(j->hdrs, "Content-Type: application/json");
    j->hdrs = chan_hdr(j->hdrs, "Expect:");
    curl_easy_setopt(j->easy, CURLOPT_URL, im->url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    chan_set_tls(j->easy, im->cfg.ca_file, im->cfg.verify);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->req);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->req_len);
    return true;
}

static void
ott_finish(struct chan *c, struct chan_job *j, CURLcode res, long code, struct chan_result *out)
{
    static char buf[64];
    struct json_object *o = NULL, *v, *msgs, *err;

    (void)c;
    out->code = code;
    if (res == CURLE_OK)
        o = json_tokener_parse(j->resp);
    if (res == CURLE_OK && code >= 200 && code <= 299) {
        if (o && json_object_object_get_ex(o, "messages", &msgs) &&
            json_object_is_type(msgs, json_type_array) && json_object_array_length(msgs) > 0 &&
            json_object_object_get_ex(json_object_array_get_idx(msgs, 0), "id", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
            snprintf(j->provider_id, sizeof(j->provider_id), "%s", json_object_get_string(v));
            out->status = CHAN_ACCEPTED;
            out->provider_id = j->provider_id;
        } else {
            /* Taken or not, we cannot tell: retrying may send it twice,
             * not retrying may lose it. Say so; the router decides. */
            out->status = CHAN_FAILED;
            out->error = "bad_response";
            out->retryable = false;
        }
        json_object_put(o);
        return;
    }
    chan_http_failure(out, res, code);
    if (o && json_object_object_get_ex(o, "error", &err) &&
        json_object_object_get_ex(err, "code", &v) && json_object_is_type(v, json_type_int)) {
        int64_t ec = json_object_get_int64(v);
        snprintf(buf, sizeof(buf), "http_%ld_code_%lld", code, (long long)ec);
        out->error = buf;
        if (ec == 130429 || ec == 131056 || ec == 131000 || ec == 133004)
            out->retryable = true;
    }
    json_object_put(o);
}

static const struct chan_ops ott_ops = {
    .type = CHAN_OTT,
    .check = ott_check,
    .prepare = ott_prepare,
    .finish = ott_finish,
    .finish_cap = NULL,
    .free_impl = ott_free_impl,
};

struct chan *
chan_ott_new(struct event_base *base, struct curlev *curl, const struct chan_ott_cfg *cfg)
{
    struct ott_impl *im = calloc(1, sizeof(*im));

    if (!im)
        abort();
    im->cfg = *cfg;
    im->cfg.name = chan_strdup(cfg->name ? cfg->name : "ott");
    im->cfg.base_url = chan_strdup(cfg->base_url);
    im->cfg.phone_number_id = chan_strdup(cfg->phone_number_id);
    im->cfg.token = chan_strdup(cfg->token);
    im->cfg.ca_file = chan_strdup(cfg->ca_file);
    im->cfg.app_secret = NULL;      /* webhooks are core/chan_hooks' */
    im->cfg.verify_token = NULL;
    if (asprintf(&im->url, "%s/%s/messages", cfg->base_url, cfg->phone_number_id) < 0 ||
        asprintf(&im->auth, "Authorization: Bearer %s", cfg->token) < 0)
        abort();
    return chan_base_new(&ott_ops, im->cfg.name, base, curl, &cfg->lim, im);
}

/* ---------------------------------------------------------- webhooks */

static const char *
jstr(struct json_object *o, const char *k)
{
    struct json_object *v;

    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static struct json_object *
jarr(struct json_object *o, const char *k)
{
    struct json_object *v;

    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_array))
        return v;
    return NULL;
}

int
chan_ott_parse_webhook(const char *body, size_t len, chan_event_cb cb, void *arg)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root;
    int n = 0;

    if (!tok)
        abort();
    root = json_tokener_parse_ex(tok, body, (int)len);
    /* One complete value and nothing after it but white space. */
    bool complete = json_tokener_get_error(tok) == json_tokener_success;
    for (size_t i = complete ? json_tokener_get_parse_end(tok) : len; i < len; i++)
        if (!strchr(" \t\r\n", body[i]))
            complete = false;
    json_tokener_free(tok);
    struct json_object *entries = complete ? jarr(root, "entry") : NULL;
    if (!entries) {
        json_object_put(root);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        struct json_object *changes = jarr(json_object_array_get_idx(entries, i), "changes");
        for (size_t k = 0; changes && k < json_object_array_length(changes); k++) {
            struct json_object *value = NULL, *ch = json_object_array_get_idx(changes, k);
            if (!json_object_object_get_ex(ch, "value", &value))
                continue;
            struct json_object *sts = jarr(value, "statuses");
            for (size_t s = 0; sts && s < json_object_array_length(sts); s++) {
                struct json_object *st = json_object_array_get_idx(sts, s);
                const char *id = jstr(st, "id"), *status = jstr(st, "status");
                const char *ts = jstr(st, "timestamp");
                struct chan_event ev = { .provider_id = id,
                                         .recipient = jstr(st, "recipient_id") };
                char ebuf[160];

                if (!id || !status)
                    continue;
                if (strcmp(status, "sent") == 0)
                    ev.status = CHAN_SENT;
                else if (strcmp(status, "delivered") == 0)
                    ev.status = CHAN_DELIVERED;
                else if (strcmp(status, "read") == 0)
                    ev.status = CHAN_READ;
                else if (strcmp(status, "failed") == 0)
                    ev.status = CHAN_FAILED;
                else
                    continue;
                ev.ts = ts ? strtoll(ts, NULL, 10) : 0;
                struct json_object *errs = jarr(st, "errors"), *e0, *code;
                if (ev.status == CHAN_FAILED) {
                    e0 = errs && json_object_array_length(errs) ? json_object_array_get_idx(errs, 0)
                                                                : NULL;
                    const char *title = jstr(e0, "title");
                    long long c = e0 && json_object_object_get_ex(e0, "code", &code)
                                      ? (long long)json_object_get_int64(code) : 0;
                    snprintf(ebuf, sizeof(ebuf), "%lld %s", c, title ? title : "");
                    ev.error = ebuf;
                }
                cb(&ev, arg);
                n++;
            }
        }
    }
    json_object_put(root);
    return n;
}

bool
chan_ott_verify_signature(const char *body, size_t len, const char *header,
                          const char *app_secret)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];

    if (!header || !app_secret || !app_secret[0] || strncmp(header, "sha256=", 7) != 0)
        return false;
    if (!HMAC(EVP_sha256(), app_secret, (int)strlen(app_secret), (const unsigned char *)body,
              len, md, &mdlen))
        return false;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    const char *got = header + 7;
    if (strlen(got) != 2 * (size_t)mdlen)
        return false;
    /* Hex case from the sender may differ; compare lower-cased, in constant time. */
    char low[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < 2 * mdlen; i++)
        low[i] = (got[i] >= 'A' && got[i] <= 'F') ? (char)(got[i] + 32) : got[i];
    return CRYPTO_memcmp(low, hex, 2 * (size_t)mdlen) == 0;
}
