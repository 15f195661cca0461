#include "router/channels/oauth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "core/clock.h"
#include "core/curlev.h"
#include "core/log.h"
#include "core/metrics.h"
#include "router/channels/channel_impl.h"

#define RESP_MAX        65536
#define LIFETIME_S      3600        /* the longest Google accepts */
#define BACKOFF_MIN_S   1
#define BACKOFF_MAX_S   60
#define INVALIDATE_GAP_MS 5000

/* ------------------------------------------------------------ key file */

static char *
slurp(const char *path, size_t max, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "cannot read it: %m");
        return NULL;
    }
    char *buf = malloc(max + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        snprintf(err, errsz, "larger than %zu bytes: not a service-account key", max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static const char *
jget(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

int
oauth_sa_file_load(const char *path, struct oauth_sa_file *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    char *text = slurp(path, 65536, err, errsz);
    if (!text)
        return -1;
    struct json_object *o = json_tokener_parse(text);
    free(text);
    if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "not JSON: expected the service-account key file (JSON) from the "
                 "Google Cloud console");
        json_object_put(o);
        return -1;
    }
    const char *type = jget(o, "type"), *email = jget(o, "client_email");
    const char *pem = jget(o, "private_key"), *uri = jget(o, "token_uri");
    int rc = -1;
    if (type && strcmp(type, "service_account") != 0) {
        snprintf(err, errsz, "\"type\" is \"%.40s\", not \"service_account\"", type);
    } else if (!email || !*email) {
        snprintf(err, errsz, "no \"client_email\"");
    } else if (!pem || !*pem) {
        snprintf(err, errsz, "no \"private_key\"");
    } else if (!uri || (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)) {
        snprintf(err, errsz, "\"token_uri\" missing or not an http(s) URL");
    } else {
        BIO *b = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!k) {
            snprintf(err, errsz, "\"private_key\" is not a PEM private key");
        } else if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
            snprintf(err, errsz, "\"private_key\" is not an RSA key (RS256 needs one)");
            EVP_PKEY_free(k);
        } else {
            out->key = k;
            out->client_email = chan_strdup(email);
            out->token_uri = chan_strdup(uri);
            rc = 0;
        }
    }
    json_object_put(o);
    return rc;
}

void
oauth_sa_file_free(struct oauth_sa_file *f)
{
    if (!f)
        return;
    free(f->client_email);
    free(f->token_uri);
    EVP_PKEY_free(f->key);
    memset(f, 0, sizeof(*f));
}

/* ------------------------------------------------------------ JWT */

static char *
b64url(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        abort();
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

char *
oauth_sa_jwt(const struct oauth_sa_file *f, const char *scope, time_t now, unsigned lifetime_s)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "iss", json_object_new_string(f->client_email));
    json_object_object_add(c, "scope", json_object_new_string(scope));
    json_object_object_add(c, "aud", json_object_new_string(f->token_uri));
    json_object_object_add(c, "iat", json_object_new_int64((int64_t)now));
    json_object_object_add(c, "exp", json_object_new_int64((int64_t)now + lifetime_s));
    const char *claims = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    char *h64 = b64url((const unsigned char *)header, sizeof(header) - 1);
    char *c64 = b64url((const unsigned char *)claims, strlen(claims));
    json_object_put(c);

    size_t ilen = strlen(h64) + 1 + strlen(c64);
    char *input = malloc(ilen + 1);
    if (!input)
        abort();
    snprintf(input, ilen + 1, "%s.%s", h64, c64);
    free(h64);
    free(c64);

    unsigned char sig[1024];
    size_t slen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, f->key) == 1 &&
              EVP_DigestSign(md, sig, &slen, (const unsigned char *)input, ilen) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        free(input);
        return NULL;
    }
    char *s64 = b64url(sig, slen);
    char *jwt = malloc(ilen + 1 + strlen(s64) + 1);
    if (!jwt)
        abort();
    sprintf(jwt, "%s.%s", input, s64);
    free(input);
    free(s64);
    return jwt;
}

/* ------------------------------------------------------------ tokens */

struct oauth {
    struct event_base *base;
    struct curlev *curl;
    char *name, *scope, *ca_file;
    bool verify;
    struct oauth_sa_file sa;
    struct event *timer;
    CURL *easy;                 /* a token request in flight */
    struct curl_slist *hdrs;
    char *req, *resp;
    size_t resp_len;
    char *header;               /* "Authorization: Bearer ..." */
    uint64_t expires_ms;        /* monotonic */
    uint64_t last_ask_ms;
    uint64_t next_ask_ms;       /* when the timer fires */
    unsigned backoff_s;
    unsigned long tokens;
};

static void ask(struct oauth *o);

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ask(arg);
}

static void
schedule(struct oauth *o, unsigned ms)
{
    struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
    evtimer_del(o->timer);
    evtimer_add(o->timer, &tv);
    o->next_ask_ms = clock_mono_ms() + ms;
}

static size_t
resp_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct oauth *o = ud;
    size_t n = size * nmemb;
    return chan_buf_add(&o->resp, &o->resp_len, ptr, n, RESP_MAX) ? n : 0;
}

static void
request_free(struct oauth *o)
{
    if (o->easy)
        curl_easy_cleanup(o->easy);
    curl_slist_free_all(o->hdrs);
    free(o->req);
    free(o->resp);
    o->easy = NULL;
    o->hdrs = NULL;
    o->req = o->resp = NULL;
    o->resp_len = 0;
}

static void
count(struct oauth *o, const char *name)
{
    char l[160];
    metrics_inc(name, metrics_labels(l, sizeof(l), "channel", o->name, NULL, NULL));
}

static void
failed(struct oauth *o, const char *reason, const char *detail)
{
    char q[300];
    count(o, "smsgw_oauth_failures_total");
    log_event(LOG_WARN, "oauth_token_failed", "channel=%s token_uri=%s reason=%s detail=%s "
              "retry_s=%u token_valid=%s", o->name, o->sa.token_uri, reason,
              log_quote(detail ? detail : "", q, sizeof(q)), o->backoff_s,
              oauth_header(o) ? "yes" : "no");
    schedule(o, o->backoff_s * 1000u);
    o->backoff_s = o->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : o->backoff_s * 2;
}

int
oauth_parse_answer(long code, const char *body, char **token, long long *expires_in, char *why,
                   size_t whysz, char *detail, size_t detailsz)
{
    struct json_object *j = body ? json_tokener_parse(body) : NULL;
    const char *tok = j && json_object_is_type(j, json_type_object) ? jget(j, "access_token") : NULL;
    struct json_object *ev;
    long long expires = tok && json_object_object_get_ex(j, "expires_in", &ev) &&
                                json_object_is_type(ev, json_type_int)
                            ? (long long)json_object_get_int64(ev) : 0;
    *token = NULL;
    *expires_in = 0;
    if (code == 200 && tok && *tok && strlen(tok) <= 4096 && !strpbrk(tok, "\r\n ") &&
        expires > 0 && expires <= 86400) {
        *token = chan_strdup(tok);
        *expires_in = expires;
        json_object_put(j);
        return 0;
    }
    /* Google's errors: {"error":"invalid_grant","error_description":"..."} */
    const char *e = j && json_object_is_type(j, json_type_object) ? jget(j, "error") : NULL;
    const char *d = j && json_object_is_type(j, json_type_object) ? jget(j, "error_description")
                                                                  : NULL;
    snprintf(detail, detailsz, "%.100s%s%.150s", e ? e : (body && *body ? "" : "no body"),
             d ? ": " : "", d ? d : "");
    if (code != 200)
        snprintf(why, whysz, "http_%ld", code);
    else
        snprintf(why, whysz, "bad_answer");
    json_object_put(j);
    return -1;
}

static void
done_cb(CURL *easy, CURLcode res, void *arg)
{
    struct oauth *o = arg;
    long code = 0;
    char why[64], detail[300];
    char *tok;
    long long expires;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (res != CURLE_OK) {
        snprintf(why, sizeof(why), "transport_%d", (int)res);
        failed(o, why, curl_easy_strerror(res));
        request_free(o);
        return;
    }
    if (oauth_parse_answer(code, o->resp, &tok, &expires, why, sizeof(why), detail,
                           sizeof(detail)) != 0) {
        failed(o, why, detail);
        request_free(o);
        return;
    }
    free(o->header);
    if (asprintf(&o->header, "Authorization: Bearer %s", tok) < 0)
        abort();
    free(tok);
    uint64_t now = clock_mono_ms();
    o->expires_ms = now + (uint64_t)expires * 1000u;
    o->tokens++;
    count(o, "smsgw_oauth_tokens_total");
    o->backoff_s = BACKOFF_MIN_S;
    /* Renew 5 minutes early, or at half its life when it is shorter. */
    uint64_t renew_s = expires > 600 ? (uint64_t)expires - 300 : (uint64_t)expires / 2;
    schedule(o, (unsigned)(renew_s ? renew_s * 1000u : 500u));
    log_event(LOG_INFO, "oauth_token", "channel=%s expires_in=%lld renew_in_s=%llu", o->name,
              expires, (unsigned long long)renew_s);
    request_free(o);
}

static void
ask(struct oauth *o)
{
    if (o->easy)
        return;
    o->last_ask_ms = clock_mono_ms();
    char *jwt = oauth_sa_jwt(&o->sa, o->scope, time(NULL), LIFETIME_S);
    if (!jwt) {
        failed(o, "sign_failed", "RS256 signing with the key failed");
        return;
    }
    if (!(o->easy = curl_easy_init()))
        abort();
    char *a = curl_easy_escape(o->easy, jwt, 0);
    free(jwt);
    if (!a || asprintf(&o->req, "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3A"
                       "jwt-bearer&assertion=%s", a) < 0)
        abort();
    curl_free(a);
    o->hdrs = chan_hdr(NULL, "Content-Type: application/x-www-form-urlencoded");
    o->hdrs = chan_hdr(o->hdrs, "Expect:");
    curl_easy_setopt(o->easy, CURLOPT_URL, o->sa.token_uri);
    curl_easy_setopt(o->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(o->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(o->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(o->easy, CURLOPT_USERAGENT, "smsgw/0.1");
    curl_easy_setopt(o->easy, CURLOPT_HTTPHEADER, o->hdrs);
    curl_easy_setopt(o->easy, CURLOPT_POSTFIELDS, o->req);
    curl_easy_setopt(o->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(o->req));
    curl_easy_setopt(o->easy, CURLOPT_WRITEFUNCTION, resp_cb);
    curl_easy_setopt(o->easy, CURLOPT_WRITEDATA, o);
    chan_set_tls(o->easy, o->ca_file, o->verify);
    curlev_add(o->curl, o->easy, done_cb, o);
}

struct oauth *
oauth_new(struct event_base *base, struct curlev *curl, const char *name,
          struct oauth_sa_file *sa, const char *scope, const char *ca_file, bool verify)
{
    struct oauth *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->base = base;
    o->curl = curl;
    o->name = chan_strdup(name);
    o->scope = chan_strdup(scope ? scope : OAUTH_RBM_SCOPE);
    o->ca_file = chan_strdup(ca_file);
    o->verify = verify;
    o->sa = *sa;
    memset(sa, 0, sizeof(*sa));
    o->backoff_s = BACKOFF_MIN_S;
    o->timer = evtimer_new(base, timer_cb, o);
    if (!o->timer)
        abort();
    schedule(o, 0);     /* the first token now, from the loop */
    return o;
}

const char *
oauth_header(struct oauth *o)
{
    return o->header && clock_mono_ms() + 1000u < o->expires_ms ? o->header : NULL;
}

void
oauth_invalidate(struct oauth *o)
{
    if (!o->header)
        return;         /* dropped already: a new one is on its way */
    free(o->header);
    o->header = NULL;
    log_event(LOG_WARN, "oauth_token_refused", "channel=%s note=\"the provider answered 401: "
              "asking for a new token\"", o->name);
    if (o->easy)
        return;         /* a request is out: its answer is the new token */
    /* At once, but not more often than every 5 s (a key without the right
     * to the API gets 401 for every token), and never later than the
     * renewal already planned. */
    uint64_t now = clock_mono_ms(), since = now - o->last_ask_ms;
    unsigned wait = since >= INVALIDATE_GAP_MS ? 0 : (unsigned)(INVALIDATE_GAP_MS - since);
    if (!evtimer_pending(o->timer, NULL) || now + wait < o->next_ask_ms)
        schedule(o, wait);
}

unsigned long
oauth_tokens(const struct oauth *o)
{
    return o->tokens;
}

void
oauth_free(struct oauth *o)
{
    if (!o)
        return;
    if (o->easy)
        curlev_cancel(o->curl, o->easy);
    request_free(o);
    event_free(o->timer);
    oauth_sa_file_free(&o->sa);
    free(o->header);
    free(o->name);
    free(o->scope);
    free(o->ca_file);
    free(o);
}
