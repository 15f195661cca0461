/*
 * RCS in the shape of Google's RCS Business Messaging (RBM) API:
 *   GET  {base_url}/v1/phones/{msisdn}/capabilities?requestId={uuid}
 *        200: the phone can take RCS from us; 404: it cannot
 *   POST {base_url}/v1/phones/{msisdn}/agentMessages?messageId={our id}
 *        {"contentMessage":{"text":"...","suggestions":[...]}} or
 *        {"contentMessage":{"richCard":{"standaloneCard":{...}}}}
 *   Authorization: Bearer {token}; agentId={agent_id} on both when set.
 * Our message id is the RBM messageId, so webhook events name our message
 * directly and a retried POST of the same id cannot deliver twice (RBM
 * refuses a messageId it has seen with 409, which we count as accepted).
 * A 404 on send means the phone is not RCS-capable: permanent, so the
 * router can fall through to the next channel at once.
 */
#include "router/channels/channel_impl.h"
#include "router/channels/oauth.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define RCS_TEXT_MAX        3072
#define RCS_SUGGESTIONS_MAX 11
#define RCS_CARD_SUGG_MAX   4
#define RCS_SUGG_TEXT_MAX   25

struct rcs_impl {
    struct chan_rcs_cfg cfg;
    char *auth;                 /* static token's header; NULL with a service account */
    struct oauth *oauth;        /* service account: renewed tokens */
};

static void
rcs_free_impl(void *p)
{
    struct rcs_impl *im = p;

    free(im->cfg.name);
    free(im->cfg.base_url);
    free(im->cfg.token);
    free(im->cfg.agent_id);
    free(im->cfg.ca_file);
    free(im->cfg.service_account_file);
    free(im->cfg.token_scope);
    free(im->auth);
    oauth_free(im->oauth);
    free(im);
}

static size_t
utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static const char *
rcs_check(const struct chan *c, const struct chan_msg *m)
{
    bool card = m->card_title || m->card_description;

    (void)c;
    if (!chan_e164_ok(m->to))
        return "rcs: to must be E.164 (+ and 6..15 digits)";
    if (!card && !m->text)
        return "rcs: text or a card required";
    if (m->text && utf8_chars(m->text) > RCS_TEXT_MAX)
        return "rcs: text longer than 3072 characters";
    if (m->nsuggestions > (card ? RCS_CARD_SUGG_MAX : RCS_SUGGESTIONS_MAX))
        return "rcs: too many suggestions (11, 4 on a card)";
    for (size_t i = 0; i < m->nsuggestions; i++)
        if (!m->suggestions[i][0] || utf8_chars(m->suggestions[i]) > RCS_SUGG_TEXT_MAX)
            return "rcs: a suggestion must be 1 to 25 characters";
    return NULL;
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *
suggestions(const struct chan_msg *m)
{
    struct json_object *a = json_object_new_array();

    for (size_t i = 0; i < m->nsuggestions; i++) {
        struct json_object *s = json_object_new_object(), *r = json_object_new_object();
        add_str(r, "text", m->suggestions[i]);
        add_str(r, "postbackData", m->suggestions[i]);
        json_object_object_add(s, "reply", r);
        json_object_array_add(a, s);
    }
    return a;
}

static char *
build_body(const struct chan_msg *m, size_t *len)
{
    struct json_object *root = json_object_new_object(), *cm = json_object_new_object();

    if (m->card_title || m->card_description) {
        struct json_object *rc = json_object_new_object(), *sc = json_object_new_object(),
                           *cc = json_object_new_object();
        add_str(sc, "cardOrientation", "VERTICAL");
        if (m->card_title)
            add_str(cc, "title", m->card_title);
        if (m->card_description)
            add_str(cc, "description", m->card_description);
        if (m->card_media_url) {
            struct json_object *media = json_object_new_object(), *ci = json_object_new_object();
            add_str(media, "height", "MEDIUM");
            add_str(ci, "fileUrl", m->card_media_url);
            json_object_object_add(media, "contentInfo", ci);
            json_object_object_add(cc, "media", media);
        }
        if (m->nsuggestions)
            json_object_object_add(cc, "suggestions", suggestions(m));
        json_object_object_add(sc, "cardContent", cc);
        json_object_object_add(rc, "standaloneCard", sc);
        json_object_object_add(cm, "richCard", rc);
    } else {
        add_str(cm, "text", m->text);
        if (m->nsuggestions)
            json_object_object_add(cm, "suggestions", suggestions(m));
    }
    json_object_object_add(root, "contentMessage", cm);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = chan_strdup(s);
    *len = strlen(d);
    json_object_put(root);
    return d;
}

static void
common(struct rcs_impl *im, struct chan_job *j, const char *url, const char *auth)
{
    j->hdrs = chan_hdr(j->hdrs, auth);
    curl_easy_setopt(j->easy, CURLOPT_URL, url);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    chan_set_tls(j->easy, im->cfg.ca_file, im->cfg.verify);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
}

static bool
rcs_prepare(struct chan *c, struct chan_job *j, const char **err)
{
    struct rcs_impl *im = c->impl;
    char *url = NULL, agent[200] = "";

    const char *auth = im->auth;
    if (!auth) {
        /* Service account: the current token, or none yet (the first is
         * on its way, or the token endpoint fails): a retryable failure,
         * so the router tries again later, durably. */
        auth = im->oauth ? oauth_header(im->oauth) : NULL;
        if (!auth) {
            *err = "oauth_token_unavailable";
            j->prepare_retryable = true;
            return false;
        }
    }
    if (im->cfg.agent_id)
        snprintf(agent, sizeof(agent), "&agentId=%s", im->cfg.agent_id);
    if (j->capability) {
        unsigned char r[16];
        char uuid[40];
        if (RAND_bytes(r, sizeof(r)) != 1)
            abort();
        r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);   /* version 4 */
        r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
                 r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                 r[14], r[15]);
        if (asprintf(&url, "%s/v1/phones/%s/capabilities?requestId=%s%s", im->cfg.base_url,
                     j->m.to, uuid, agent) < 0)
            abort();
        common(im, j, url, auth);
        curl_easy_setopt(j->easy, CURLOPT_HTTPGET, 1L);
        free(url);
        return true;
    }
    char *eid = curl_easy_escape(j->easy, j->m.id, 0);
    if (!eid)
        abort();
    if (asprintf(&url, "%s/v1/phones/%s/agentMessages?messageId=%s%s", im->cfg.base_url,
                 j->m.to, eid, agent) < 0)
        abort();
    curl_free(eid);
    snprintf(j->provider_id, sizeof(j->provider_id), "%s", j->m.id);
    j->req = build_body(&j->m, &j->req_len);
    j->hdrs = chan_hdr(j->hdrs, "Content-Type: application/json");
    j->hdrs = chan_hdr(j->hdrs, "Expect:");
    common(im, j, url, auth);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->req);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->req_len);
    free(url);
    return true;
}

/* 401 with a service account: the token was refused (revoked, or expired
 * early): a new one is asked for, and the send is worth retrying. */
static bool
token_refused(struct chan *c, CURLcode res, long code)
{
    struct rcs_impl *im = c->impl;
    if (res != CURLE_OK || code != 401 || !im->oauth)
        return false;
    oauth_invalidate(im->oauth);
    return true;
}

static void
rcs_finish(struct chan *c, struct chan_job *j, CURLcode res, long code, struct chan_result *out)
{
    out->code = code;
    /* 409: RBM has this messageId already (a retry of a send whose answer
     * we lost): the message is there. */
    if (res == CURLE_OK && ((code >= 200 && code <= 299) || code == 409)) {
        out->status = CHAN_ACCEPTED;
        out->provider_id = j->provider_id;
        return;
    }
    chan_http_failure(out, res, code);
    if (token_refused(c, res, code))
        out->retryable = true;
    if (res == CURLE_OK && code == 404) {
        out->error = "not_rcs_capable";
        out->retryable = false;
    }
}

static int
rcs_finish_cap(struct chan *c, struct chan_job *j, CURLcode res, long code)
{
    (void)j;
    token_refused(c, res, code);
    if (res != CURLE_OK)
        return -1;
    if (code == 200)
        return 1;
    if (code == 404)
        return 0;
    return -1;
}

static const struct chan_ops rcs_ops = {
    .type = CHAN_RCS,
    .check = rcs_check,
    .prepare = rcs_prepare,
    .finish = rcs_finish,
    .finish_cap = rcs_finish_cap,
    .free_impl = rcs_free_impl,
};

struct chan *
chan_rcs_new(struct event_base *base, struct curlev *curl, const struct chan_rcs_cfg *cfg)
{
    struct rcs_impl *im = calloc(1, sizeof(*im));

    if (!im)
        abort();
    im->cfg = *cfg;
    im->cfg.name = chan_strdup(cfg->name ? cfg->name : "rcs");
    im->cfg.base_url = chan_strdup(cfg->base_url);
    im->cfg.token = chan_strdup(cfg->token);
    im->cfg.agent_id = chan_strdup(cfg->agent_id);
    im->cfg.ca_file = chan_strdup(cfg->ca_file);
    im->cfg.client_token = NULL;    /* webhooks are core/chan_hooks' */
    im->cfg.service_account_file = chan_strdup(cfg->service_account_file);
    im->cfg.token_scope = chan_strdup(cfg->token_scope);
    if (cfg->service_account_file) {
        struct oauth_sa_file f;
        char why[256];
        if (oauth_sa_file_load(cfg->service_account_file, &f, why, sizeof(why)) == 0) {
            im->oauth = oauth_new(base, curl, im->cfg.name, &f, cfg->token_scope, cfg->ca_file,
                                  cfg->verify);
        } else {
            /* (checked with the config; changed since) every send fails
             * retryable until a reload with a good file */
            log_event(LOG_ERROR, "oauth_key_unreadable", "channel=%s file=%s reason=\"%s\"",
                      im->cfg.name, cfg->service_account_file, why);
            oauth_sa_file_free(&f);
        }
    } else if (asprintf(&im->auth, "Authorization: Bearer %s", cfg->token) < 0) {
        abort();
    }
    return chan_base_new(&rcs_ops, im->cfg.name, base, curl, &cfg->lim, im);
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
parse_exact(const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new();

    if (!tok)
        abort();
    struct json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    bool ok = json_tokener_get_error(tok) == json_tokener_success;
    /* One complete value and nothing after it but white space. */
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : len; i < len; i++)
        if (!strchr(" \t\r\n", s[i]))
            ok = false;
    if (!ok) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* "2024-05-01T12:00:00.123456Z" → Unix seconds (fraction and zone Z only). */
static int64_t
rfc3339(const char *s)
{
    struct tm tm = { 0 };
    int y, mo, d, h, mi, sec;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm);
}

/* A Pub/Sub push envelope's message.data, base64-decoded (malloc'd, *n
 * bytes, NUL-terminated); NULL with *bad false when root is no envelope,
 * with *bad true when its data is not base64. */
static unsigned char *
envelope_data(struct json_object *root, size_t *n, bool *bad)
{
    struct json_object *msg;

    *bad = false;
    if (!json_object_object_get_ex(root, "message", &msg) || !jstr(msg, "data"))
        return NULL;
    const char *data = jstr(msg, "data");
    size_t dl = strlen(data);
    *bad = true;
    if (dl % 4 != 0 || dl > 1 << 20)
        return NULL;
    unsigned char *dec = malloc(dl / 4 * 3 + 1);
    if (!dec)
        abort();
    int k = EVP_DecodeBlock(dec, (const unsigned char *)data, (int)dl);
    if (k < 0) {
        free(dec);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    while (dl && data[dl - 1] == '=' && k > 0) {
        k--;
        dl--;
    }
    dec[k] = '\0';
    *n = (size_t)k;
    *bad = false;
    return dec;
}

int
chan_rcs_parse_webhook(const char *body, size_t len, chan_event_cb cb, void *arg)
{
    struct json_object *root = parse_exact(body, len), *ev = NULL;

    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return -1;
    }
    /* Pub/Sub push envelope: the event is base64 in message.data. */
    size_t n = 0;
    bool bad;
    unsigned char *dec = envelope_data(root, &n, &bad);
    if (dec || bad) {
        json_object_put(root);
        ev = dec ? parse_exact((const char *)dec, n) : NULL;
        free(dec);
        if (!ev || !json_object_is_type(ev, json_type_object)) {
            json_object_put(ev);
            return -1;
        }
    } else {
        ev = root;
    }
    const char *type = jstr(ev, "eventType"), *id = jstr(ev, "messageId");
    int count = 0;
    if (type && id) {
        struct chan_event e = { .provider_id = id, .recipient = jstr(ev, "senderPhoneNumber"),
                                .ts = rfc3339(jstr(ev, "sendTime")) };
        bool known = true;
        if (strcmp(type, "DELIVERED") == 0)
            e.status = CHAN_DELIVERED;
        else if (strcmp(type, "READ") == 0)
            e.status = CHAN_READ;
        else
            known = false;          /* IS_TYPING and the like */
        if (known) {
            cb(&e, arg);
            count = 1;
        }
    } else if (!jstr(ev, "senderPhoneNumber")) {
        /* Neither an event nor a user message. */
        count = -1;
    }
    json_object_put(ev);
    return count;
}

bool
chan_rcs_verify_signature(const char *body, size_t len, const char *header,
                          const char *client_token)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char want[4 * EVP_MAX_MD_SIZE / 3 + 8];

    if (!header || !client_token || !client_token[0])
        return false;
    /* What RBM signs: the event itself, inside the envelope when there is one. */
    struct json_object *root = parse_exact(body, len);
    size_t n = 0;
    bool bad = false;
    unsigned char *dec = root && json_object_is_type(root, json_type_object)
                             ? envelope_data(root, &n, &bad) : NULL;
    json_object_put(root);
    if (bad)
        return false;
    const unsigned char *signed_part = dec ? dec : (const unsigned char *)body;
    size_t signed_len = dec ? n : len;
    bool ok = HMAC(EVP_sha512(), client_token, (int)strlen(client_token), signed_part,
                   signed_len, md, &mdlen) != NULL;
    free(dec);
    if (!ok)
        return false;
    int wl = EVP_EncodeBlock((unsigned char *)want, md, (int)mdlen);
    /* Constant time over the expected length; a different length is no match. */
    return wl > 0 && strlen(header) == (size_t)wl &&
           CRYPTO_memcmp(header, want, (size_t)wl) == 0;
}
