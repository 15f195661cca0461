#include "core/api.h"
#include "core/http_util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <json-c/json.h>

#include "core/admit.h"
#include "core/log.h"
#include "smpp/smpp_text.h"
#include "smpp/smpp_tls.h"

#define API_JSON_DEPTH      8
#define API_MAX_HEADERS     (16 * 1024)
#define API_TIMEOUT_S       30
#define API_ID_MAX          64
#define API_URL_MAX         2048
#define API_REF_MAX         64
#define API_VALIDITY_MIN    60
#define API_VALIDITY_MAX    604800
#define API_ECHO_MAX        40      /* client strings quoted back in messages */

#define MESSAGES_PATH       "/v1/messages"
#define BATCH_PATH          "/v1/messages/batch"
#define API_BATCH_MAX       1000    /* messages in one batch request */
#define OPTOUTS_PATH        "/v1/optouts"

/*
 * One request waiting for the backend. It is the `req` the backend hands
 * back to done, so the backend never sees an evhttp object.
 *
 * Why not evhttp_request_own(): libevent 2.1 frees an owned request neither
 * when the connection breaks nor after evhttp_send_reply() fails half-way,
 * so owning it trades a use-after-free for a leak. Instead we leave the
 * request to evhttp and watch its connection: evhttp_connection_free()
 * calls the close callback before it frees the requests still queued on
 * the connection, which is when `req` becomes NULL here. (If libevent has
 * already detached the request from the connection — its EOF/timeout path
 * for a request the user has not answered — the request is no longer
 * freed by evhttp, and we free it ourselves when done arrives.)
 */
struct api_call {
    struct api_server *srv;             /* NULL once api_server_free() ran */
    struct evhttp_request *req;         /* NULL once evhttp freed it */
    bool detached;                      /* req is ours to free */
    bool is_get;
    const struct gw_config *cfg;        /* the config the request was validated with */
    struct api_msg msg;
    void *owner;                        /* json-c object msg points into */
    unsigned air_segments;              /* SMS on the air, what the client is told */
    char id[API_ID_MAX + 1];            /* GET */
    char number[24];                    /* opt-out calls */
    char sender[40];
    struct batch_item *items;           /* POST /v1/messages/batch */
    unsigned nitems, pending;
    char **numbers;                     /* bulk import */
    size_t nnumbers;
    unsigned invalid;
    char account[64];
    char path[128];
    const char *method;
    struct timespec t0;
    struct api_call *prev, *next;       /* srv->calls */
};

/* One message of a batch request: validated, then stored or refused. */
struct batch_item {
    struct api_call *call;
    struct api_msg msg;
    int status;                         /* 202 / 200 stored, else the refusal */
    const char *code;
    char *message;                      /* what to fix (malloc'd), when refused */
    char id[API_ID_MAX + 1];
    unsigned air_segments;
};

struct api_server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    const struct gw_config *cfg;
    struct api_backend backend;
    void *bctx;
    int port;
    struct api_call *calls;             /* waiting for the backend */
    SSL_CTX *tls;                       /* HTTPS when set */
};

/* ------------------------------------------------------------------ helpers */

static void *
xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p)
        abort();
    return p;
}

/* Copy at most API_ECHO_MAX bytes of client input for a message, printable
 * ASCII only, so an echo can never carry controls or a cut UTF-8 sequence. */
static const char *
echo(const char *s, size_t len, char *buf, size_t bufsz)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 4 < bufsz && i < API_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > API_ECHO_MAX && o + 4 <= bufsz) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

struct verr {
    const char **code;
    char *msg;
    size_t msgsz;
};

static int fail(const struct verr *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(const struct verr *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    *e->code = code;
    if (e->msgsz) {
        va_start(ap, fmt);
        vsnprintf(e->msg, e->msgsz, fmt, ap);
        va_end(ap);
    }
    return status;
}

static const char *
json_type_word(enum json_type t)
{
    switch (t) {
    case json_type_null:    return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:  return "a fractional number";
    case json_type_int:     return "an integer";
    case json_type_object:  return "an object";
    case json_type_array:   return "an array";
    case json_type_string:  return "a string";
    }
    return "unknown";
}

/*
 * Fetch an optional or required field of type want. Returns 0 with *out
 * set (NULL when absent or null: null means "not given"), else the HTTP
 * status of the error.
 */
static int
field(struct json_object *obj, const char *name, enum json_type want, bool required,
      const char *want_word, struct json_object **out, const struct verr *e)
{
    struct json_object *v = NULL;

    *out = NULL;
    if (!json_object_object_get_ex(obj, name, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return fail(e, 400, "missing_field", "`%s` is required", name);
        return 0;
    }
    if (!json_object_is_type(v, want))
        return fail(e, 400, "invalid_field", "`%s` must be %s, not %s", name, want_word,
                    json_type_word(json_object_get_type(v)));
    *out = v;
    return 0;
}

static const char *const known_fields[] = {
    "from", "to", "text", "callback_url", "client_ref", "validity", "class", "encoding",
    "send_at", "fallback", "email",
};

static bool
is_known_field(const char *key)
{
    for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
        if (strcmp(key, known_fields[i]) == 0)
            return true;
    return false;
}

/* "+" then 8..15 digits, the first 1..9. */
static bool
parse_e164(const char *s, size_t len, char digits[16])
{
    if (len < 9 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    memcpy(digits, s + 1, len - 1);
    digits[len - 1] = '\0';
    return true;
}

static bool
valid_callback_url(const char *s, size_t len)
{
    size_t skip;

    if (len > API_URL_MAX)
        return false;
    if (len > 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (s[skip] == '/' || s[skip] == '?' || s[skip] == '#')
        return false;                       /* no host */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* v (a json-c string) is exactly lit, embedded NULs included. */
static bool
jstr_is(struct json_object *v, const char *lit)
{
    return (size_t)json_object_get_string_len(v) == strlen(lit) &&
           strcmp(json_object_get_string(v), lit) == 0;
}

/* Length of the UTF-8 sequence starting with lead byte c (1 for garbage). */
static size_t
utf8_seq_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* ------------------------------------------------------------------ validation */

/* The body as JSON (any type), or a 400 with what is wrong and where. */
static int
parse_body(const char *body, size_t len, struct json_object **out, const struct verr *ep)
{
    const struct verr e = *ep;
    struct json_tokener *tok;
    struct json_object *obj;
    enum json_tokener_error jerr;
    char *copy;
    const char *s;
    size_t end;

    *out = NULL;

    if (len == 0)
        return fail(&e, 400, "bad_json", "the body is empty; send a JSON object such as "
                    "{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hello\"}");
    if (len > INT_MAX - 1)
        return fail(&e, 400, "bad_json", "the body is too large");
    if ((s = memchr(body, '\0', len)) != NULL)
        return fail(&e, 400, "bad_json", "the body is not valid JSON: NUL byte at offset %zu",
                    (size_t)(s - body));

    /* json-c wants the terminating NUL counted so a bare number can end. */
    copy = malloc(len + 1);
    if (!copy)
        abort();
    memcpy(copy, body, len);
    copy[len] = '\0';
    tok = json_tokener_new_ex(API_JSON_DEPTH);
    if (!tok)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, copy, (int)len + 1);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        free(copy);
        json_object_put(obj);
        if (jerr == json_tokener_error_depth)
            return fail(&e, 400, "bad_json", "the body is not valid JSON: nesting deeper "
                        "than %d levels at offset %zu", API_JSON_DEPTH, end);
        return fail(&e, 400, "bad_json", "the body is not valid JSON: %s at offset %zu",
                    json_tokener_error_desc(jerr), end);
    }
    for (size_t i = end; i < len; i++) {
        if (copy[i] != ' ' && copy[i] != '\t' && copy[i] != '\r' && copy[i] != '\n') {
            free(copy);
            json_object_put(obj);
            return fail(&e, 400, "bad_json", "the body is not valid JSON: unexpected data "
                        "after the object at offset %zu", i);
        }
    }
    free(copy);
    *out = obj;
    return 0;
}

/*
 * One message object: fields checked, message filled (strings point into
 * obj, which the caller keeps and frees). 0 or the 4xx status; on error
 * *e names the code and what to fix, prefixed with where when `where` is
 * set ("messages[3]: ").
 */
static int
validate_object(const struct gw_config *cfg, const struct cfg_account *account,
                struct json_object *obj, struct api_msg *m, const struct verr *ep,
                const char *where)
{
    const struct verr e = *ep;
    struct json_object *v;
    char buf[API_ECHO_MAX + 8];
    const char *s;
    size_t slen;
    int rc;

    memset(m, 0, sizeof(*m));
    m->account = account;
    if (!json_object_is_type(obj, json_type_object))
        return fail(&e, 400, "bad_json", "%sthe message must be a JSON object, not %s",
                    where ? where : "", json_type_word(json_object_get_type(obj)));
    {
        json_object_object_foreach(obj, key, val) {
            (void)val;
            if (!is_known_field(key))
                return fail(&e, 400, "unknown_field", "%sunknown field `%s`; fields are from, "
                            "to, text, callback_url, client_ref, validity, class, encoding",
                            where ? where : "", echo(key, strlen(key), buf, sizeof(buf)));
        }
    }

    const char *from = NULL, *text = NULL;
    size_t from_len = 0;
    enum smpp_text_enc want_enc = SMPP_TEXT_ENC_AUTO;

#define GET(name, type, req, word) \
    do { if ((rc = field(obj, name, type, req, word, &v, &e)) != 0) goto out; } while (0)

    /* from */
    GET("from", json_type_string, true, "a string");
    from = json_object_get_string(v);
    from_len = (size_t)json_object_get_string_len(v);

    /* to */
    GET("to", json_type_string, true, "a string");
    s = json_object_get_string(v);
    slen = (size_t)json_object_get_string_len(v);
    if (!parse_e164(s, slen, m->to)) {
        rc = fail(&e, 400, "invalid_to", "`to` must be E.164: '+' followed by 8 to 15 digits, "
                  "e.g. +14155550100 (got '%s')", echo(s, slen, buf, sizeof(buf)));
        goto out;
    }

    /* text */
    GET("text", json_type_string, true, "a string");
    text = json_object_get_string(v);
    m->text = text;
    m->text_len = (size_t)json_object_get_string_len(v);
    if (m->text_len == 0) {
        rc = fail(&e, 400, "invalid_text", "`text` must not be empty");
        goto out;
    }
    if ((s = memchr(text, '\0', m->text_len)) != NULL) {
        rc = fail(&e, 400, "invalid_text", "`text` contains U+0000 at byte %zu; remove it",
                  (size_t)(s - text));
        goto out;
    }
    {
        size_t off = 0;
        if (smpp_text_utf8_check(text, m->text_len, &off) != SMPP_TEXT_OK) {
            rc = fail(&e, 400, "invalid_text", "`text` is not valid UTF-8 at byte %zu (a lone "
                      "surrogate escape?); send Unicode text", off);
            goto out;
        }
    }

    /* callback_url */
    GET("callback_url", json_type_string, false, "a string");
    if (v) {
        s = json_object_get_string(v);
        slen = (size_t)json_object_get_string_len(v);
        if (!valid_callback_url(s, slen)) {
            rc = fail(&e, 400, "invalid_callback_url", "`callback_url` must be an http:// or "
                      "https:// URL with a host, without spaces, at most %d characters",
                      API_URL_MAX);
            goto out;
        }
        m->callback_url = s;
    } else {
        m->callback_url = account->callback_url;
    }

    /* client_ref */
    GET("client_ref", json_type_string, false, "a string");
    if (v) {
        s = json_object_get_string(v);
        slen = (size_t)json_object_get_string_len(v);
        bool ok = slen >= 1 && slen <= API_REF_MAX;
        for (size_t i = 0; ok && i < slen; i++)
            ok = s[i] >= 0x20 && s[i] < 0x7f;
        if (!ok) {
            rc = fail(&e, 400, "invalid_client_ref", "`client_ref` must be 1 to %d printable "
                      "ASCII characters", API_REF_MAX);
            goto out;
        }
        m->client_ref = s;
    }

    /* validity */
    GET("validity", json_type_int, false, "an integer number of seconds");
    if (v) {
        int64_t secs = json_object_get_int64(v);
        if (secs < API_VALIDITY_MIN || secs > API_VALIDITY_MAX) {
            rc = fail(&e, 400, "invalid_validity", "`validity` must be between %d and %d "
                      "seconds (1 minute to 7 days), got %lld", API_VALIDITY_MIN,
                      API_VALIDITY_MAX, (long long)secs);
            goto out;
        }
        m->validity_s = (unsigned)secs;
    }

    /* class */
    GET("class", json_type_string, false, "a string");
    m->msg_class = MSG_TRANSACTIONAL;
    if (v) {
        if (jstr_is(v, "marketing")) {
            m->msg_class = MSG_MARKETING;
        } else if (!jstr_is(v, "transactional")) {
            rc = fail(&e, 400, "invalid_class", "`class` must be \"transactional\" (the "
                      "default) or \"marketing\"");
            goto out;
        }
    }

    /* encoding */
    GET("encoding", json_type_string, false, "a string");
    if (v) {
        if (jstr_is(v, "gsm7")) {
            want_enc = SMPP_TEXT_ENC_GSM7;
        } else if (jstr_is(v, "ucs2")) {
            want_enc = SMPP_TEXT_ENC_UCS2;
        } else if (!jstr_is(v, "auto")) {
            rc = fail(&e, 400, "invalid_encoding", "`encoding` must be \"auto\" (the default), "
                      "\"gsm7\" or \"ucs2\"");
            goto out;
        }
    }

    /* send_at: RFC 3339 or epoch seconds (string or integer) */
    time_t send_at = 0;
    if (json_object_object_get_ex(obj, "send_at", &v) && !json_object_is_type(v, json_type_null)) {
        bool ok = false;
        if (json_object_is_type(v, json_type_int)) {
            send_at = (time_t)json_object_get_int64(v);
            ok = send_at > 0;
        } else if (json_object_is_type(v, json_type_string)) {
            ok = admit_parse_time(json_object_get_string(v),
                                  (size_t)json_object_get_string_len(v), &send_at);
        }
        if (!ok) {
            rc = fail(&e, 400, "invalid_send_at", "`send_at` must be an RFC 3339 time such as "
                      "\"2026-11-27T18:00:00Z\" or epoch seconds");
            goto out;
        }
    }

    /* fallback: channel names, each configured, at most 3, no repeats */
    GET("fallback", json_type_array, false, "an array of channel names");
    if (v) {
        size_t nf = json_object_array_length(v);
        const struct chan_config *cc = &cfg->channels;
        if (nf == 0 || nf > 3) {
            rc = fail(&e, 400, "invalid_fallback", "`fallback` must list 1 to 3 channels, "
                      "e.g. [\"rcs\", \"email\"]");
            goto out;
        }
        for (size_t i = 0; i < nf; i++) {
            struct json_object *it = json_object_array_get_idx(v, i);
            const char *nm = json_object_is_type(it, json_type_string)
                                 ? json_object_get_string(it) : "";
            bool known = (cc->has_email && strcmp(nm, cc->email.name) == 0) ||
                         (cc->has_ott && strcmp(nm, cc->ott.name) == 0) ||
                         (cc->has_rcs && strcmp(nm, cc->rcs.name) == 0);
            char pat[80];
            snprintf(pat, sizeof(pat), ",%s,", nm);
            char have[72];
            snprintf(have, sizeof(have), ",%s,", m->fallback);
            if (!known || strstr(have, pat)) {
                rc = fail(&e, 400, "invalid_fallback", "`fallback` entry '%s' is %s; the "
                          "channels configured here are:%s%s%s",
                          echo(nm, strlen(nm), buf, sizeof(buf)),
                          known ? "listed twice" : "not a configured channel",
                          cc->has_email ? " email" : "", cc->has_ott ? " ott" : "",
                          cc->has_rcs ? " rcs" : "");
                goto out;
            }
            size_t fl = strlen(m->fallback);
            snprintf(m->fallback + fl, sizeof(m->fallback) - fl, "%s%s", fl ? "," : "", nm);
        }
    }

    /* email: the address an email step writes to */
    GET("email", json_type_string, false, "a string");
    if (v) {
        s = json_object_get_string(v);
        slen = (size_t)json_object_get_string_len(v);
        const char *at = memchr(s, '@', slen);
        bool ok = slen >= 3 && slen <= 254 && at && at > s && at < s + slen - 1;
        for (size_t i = 0; ok && i < slen; i++)
            ok = s[i] > 0x20 && s[i] < 0x7f && !strchr("<>(),;:\"[]\\", s[i]);
        if (!ok) {
            rc = fail(&e, 400, "invalid_email", "`email` must be an address such as "
                      "\"ann@example.com\" (no spaces, at most 254 characters)");
            goto out;
        }
        m->email = s;
    }
    if (m->fallback[0] && cfg->channels.has_email) {
        char have[72], pat[80];
        snprintf(have, sizeof(have), ",%s,", m->fallback);
        snprintf(pat, sizeof(pat), ",%s,", cfg->channels.email.name);
        if (strstr(have, pat) && !m->email) {
            rc = fail(&e, 400, "missing_field", "`email` is required when `fallback` includes "
                      "'%s'", cfg->channels.email.name);
            goto out;
        }
    }
#undef GET

    /* The number against the numbering plan. */
    {
        const char *ncode = NULL;
        /* Validity first (400); capability once the route's fallback is known. */
        int nrc = admit_check_number(cfg, m->to, true, &m->no_sms, &ncode,
                                     e.msgsz ? e.msg : buf, e.msgsz ? e.msgsz : sizeof(buf));
        if (nrc) {
            rc = nrc;
            *e.code = ncode;
            goto out;
        }
    }

    /* Sender rules. */
    m->sender = strlen(from) == from_len ? config_sender(cfg, from) : NULL;
    if (!m->sender) {
        rc = fail(&e, 403, "unknown_sender", "`from` '%s' is not a configured sender; use one "
                  "of the senders your account was given", echo(from, from_len, buf, sizeof(buf)));
        goto out;
    }
    if (!config_account_may_use(account, m->sender)) {
        rc = fail(&e, 403, "sender_not_allowed", "account '%s' may not send from '%s'; use one "
                  "of the senders your account was given", account->name,
                  echo(from, from_len, buf, sizeof(buf)));
        goto out;
    }
    if (m->sender->type == SENDER_ALPHANUMERIC) {
        for (size_t i = 0; i < cfg->nalpha_forbidden; i++) {
            const char *cc = cfg->alpha_forbidden[i];
            if (*cc && strncmp(m->to, cc, strlen(cc)) == 0) {
                rc = fail(&e, 422, "alphanumeric_forbidden", "country code +%s does not accept "
                          "alphanumeric senders such as '%s'; send from a short code, "
                          "toll-free or 10DLC number", cc,
                          echo(from, from_len, buf, sizeof(buf)));
                goto out;
            }
        }
    }
    m->route = config_route_select(cfg, m->to, m->sender->type, account->name,
                                   m->msg_class == MSG_MARKETING ? "marketing" : "transactional");
    if (!m->route) {
        rc = fail(&e, 422, "no_route", "no route carries %s senders to +%s; use another sender "
                  "or ask for the destination to be enabled",
                  sender_type_name(m->sender->type), m->to);
        goto out;
    }
    if (!m->validity_s)
        m->validity_s = m->route->validity_s;
    if (!m->fallback[0] && m->route->nfallback) {
        for (size_t i = 0; i < m->route->nfallback; i++) {
            size_t fl = strlen(m->fallback);
            snprintf(m->fallback + fl, sizeof(m->fallback) - fl, "%s%s", fl ? "," : "",
                     m->route->fallback[i]);
        }
    }
    if (m->no_sms) {
        const char *ncode = NULL;
        /* A chain that needs an email address the request lacks cannot carry it. */
        bool chain = m->fallback[0] && (m->email || !cfg->channels.has_email ||
                                        strcmp(m->fallback, cfg->channels.email.name) != 0);
        rc = admit_check_number(cfg, m->to, chain, &m->no_sms, &ncode,
                                e.msgsz ? e.msg : buf, e.msgsz ? e.msgsz : sizeof(buf));
        if (rc) {
            *e.code = ncode;
            goto out;
        }
    }
    if (send_at) {
        time_t now = time(NULL);
        if (send_at <= now || send_at > now + (time_t)m->validity_s) {
            char when[32];
            admit_format_time(send_at, when);
            rc = fail(&e, 400, "invalid_send_at", "`send_at` %s must be in the future and at "
                      "most the validity (%u s) ahead; give a later time, or a longer "
                      "`validity`", when, m->validity_s);
            goto out;
        }
    }
    m->due_ms = admit_release(cfg, account, m->to, m->msg_class == MSG_MARKETING, send_at,
                              &m->hold_state, m->hold_detail, sizeof(m->hold_detail));

    /* Encoding and segments, cut the way the route's first SMSC will. */
    {
        enum smpp_text_concat concat = m->route->nsmscs ? m->route->smscs[0].smsc->concat
                                                        : SMPP_TEXT_CONCAT_UDH8;
        struct smpp_text_info info;
        size_t off = 0;
        int trc;

        memset(&info, 0, sizeof(info));
        trc = smpp_text_measure(text, m->text_len, want_enc, concat, &info, &off);
        if (trc == SMPP_TEXT_E_CHARSET) {
            size_t n = utf8_seq_len((unsigned char)text[off]);
            char ch[8] = { 0 };
            if (off + n <= m->text_len)
                memcpy(ch, text + off, n);
            rc = fail(&e, 422, "invalid_encoding", "`text` has '%s' at byte %zu, which GSM 03.38 "
                      "cannot encode; send with \"encoding\": \"auto\" or \"ucs2\"", ch, off);
            goto out;
        }
        if (trc == SMPP_TEXT_E_TOOLONG) {
            rc = fail(&e, 413, "text_too_long", "`text` takes %zu octets as %s, more than the "
                      "%d one message can carry on this route; shorten it",
                      info.octets, smpp_text_enc_name(info.enc), SMPP_TEXT_PAYLOAD_MAX);
            goto out;
        }
        if (trc != SMPP_TEXT_OK) {
            rc = fail(&e, 400, "invalid_text", "`text` cannot be encoded (%s)",
                      smpp_text_strerror(trc));
            goto out;
        }
        if (info.segments > cfg->max_segments) {
            rc = fail(&e, 413, "text_too_long", "`text` needs %u segments as %s (%zu characters); "
                      "the maximum is %u; shorten it", info.segments,
                      smpp_text_enc_name(info.enc), info.chars, cfg->max_segments);
            goto out;
        }
        m->encoding = info.enc;
        m->segments = info.pdus;
    }

    return 0;

out:
    if (where && e.msgsz) {
        /* "messages[3]: " before what the field check said */
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s%s", where, e.msg);
        snprintf(e.msg, e.msgsz, "%s", tmp);
    }
    memset(m, 0, sizeof(*m));
    m->account = account;
    return rc;
}

int
api_validate(const struct gw_config *cfg, const struct cfg_account *account,
             const char *body, size_t len, struct api_msg *m, void **owner,
             const char **code, char *message, size_t msgsz)
{
    const struct verr e = { code, message, msgsz };
    struct json_object *obj;
    int rc;

    *owner = NULL;
    *code = NULL;
    if (msgsz)
        message[0] = '\0';
    memset(m, 0, sizeof(*m));
    m->account = account;
    if ((rc = parse_body(body, len, &obj, &e)) != 0)
        return rc;
    if (!json_object_is_type(obj, json_type_object)) {
        rc = fail(&e, 400, "bad_json", "the body must be a JSON object, not %s",
                  json_type_word(json_object_get_type(obj)));
        json_object_put(obj);
        return rc;
    }
    if ((rc = validate_object(cfg, account, obj, m, &e, NULL)) != 0) {
        json_object_put(obj);
        return rc;
    }
    *owner = obj;
    return 0;
}

/* ------------------------------------------------------------------ replies */

static const char *
method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:     return "GET";
    case EVHTTP_REQ_POST:    return "POST";
    case EVHTTP_REQ_HEAD:    return "HEAD";
    case EVHTTP_REQ_PUT:     return "PUT";
    case EVHTTP_REQ_DELETE:  return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE:   return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH:   return "PATCH";
    }
    return "OTHER";
}

/* The request's line in the log; never the key. */
static void
log_request(const char *method, const char *path, int status, const char *account,
            const struct timespec *t0, const char *id, const char *code)
{
    char qp[160], qa[80];

    log_event(LOG_INFO, "http", "method=%s path=%s status=%d account=%s ms=%ld%s%s%s%s",
              method, log_quote(path, qp, sizeof(qp)), status,
              account && *account ? log_quote(account, qa, sizeof(qa)) : "-",
              http_elapsed_ms(t0), id ? " id=" : "", id ? id : "", code ? " code=" : "",
              code ? code : "");
}

static void
send_accepted(struct evhttp_request *req, int status, const char *id, unsigned segments,
              enum smpp_text_enc enc, const struct api_msg *m)
{
    struct json_object *root = json_object_new_object();
    char loc[sizeof(MESSAGES_PATH) + API_ID_MAX + 2];

    json_object_object_add(root, "id", json_object_new_string(id));
    json_object_object_add(root, "status", json_object_new_string(
        m->no_sms ? "no_sms" : m->due_ms && m->hold_state ? m->hold_state : "queued"));
    if (m->due_ms && !m->no_sms) {
        char when[32];
        admit_format_time((time_t)(m->due_ms / 1000u), when);
        json_object_object_add(root, "release_at", json_object_new_string(when));
    }
    json_object_object_add(root, "segments", json_object_new_int64(segments));
    json_object_object_add(root, "encoding", json_object_new_string(smpp_text_enc_name(enc)));
    snprintf(loc, sizeof(loc), MESSAGES_PATH "/%s", id);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
    http_send_json(req, status, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
}

/* ------------------------------------------------------------------ calls */

static void
call_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    struct api_call *c = arg;

    (void)evcon;
    http_conn_closed(&c->req, &c->detached);
}

static struct api_call *
call_new(struct api_server *s, struct evhttp_request *req, const char *method,
         const char *path, const struct cfg_account *account, const struct timespec *t0)
{
    struct api_call *c = xcalloc(1, sizeof(*c));

    c->srv = s;
    c->req = req;
    c->cfg = s->cfg;
    c->method = method;
    c->t0 = *t0;
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(c->account, sizeof(c->account), "%s", account->name);
    c->next = s->calls;
    if (s->calls)
        s->calls->prev = c;
    s->calls = c;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), call_conn_closed, c);
    return c;
}

/*
 * The backend answered. Returns the request to reply on, or NULL when
 * there is nobody left to answer (the client went away or the server was
 * freed); then the reason is logged here. Unlinks c from its server.
 */
static struct evhttp_request *
call_finish(struct api_call *c)
{
    struct evhttp_request *req = c->req;

    if (c->srv) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->srv->calls = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    if (req && !c->detached && c->srv) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
        return req;
    }
    if (req && c->detached)
        evhttp_request_free(req);
    {
        char qp[160], qa[80];
        log_event(LOG_INFO, "http", "method=%s path=%s status=0 account=%s ms=%ld reason=%s",
                  c->method, log_quote(c->path, qp, sizeof(qp)),
                  log_quote(c->account, qa, sizeof(qa)), http_elapsed_ms(&c->t0),
                  c->srv ? "client_gone" : "server_closed");
    }
    return NULL;
}

static void
call_free(struct api_call *c)
{
    for (unsigned i = 0; i < c->nitems; i++)
        free(c->items[i].message);
    free(c->items);
    json_object_put(c->owner);
    for (size_t i = 0; i < c->nnumbers; i++)
        free(c->numbers[i]);
    free(c->numbers);
    free(c);
}

static void
submit_done(void *arg, enum api_rc rc, const char *id)
{
    struct api_call *c = arg;
    struct evhttp_request *req = call_finish(c);
    int status;

    if (!req) {
        call_free(c);
        return;
    }
    if ((rc == API_OK || rc == API_EXISTING) && id && *id) {
        status = rc == API_OK ? 202 : 200;
        send_accepted(req, status, id, c->air_segments, c->msg.encoding, &c->msg);
        log_request(c->method, c->path, status, c->account, &c->t0, id, NULL);
    } else if (rc == API_EUNAVAILABLE) {
        status = 503;
        http_send_error(req, status, "unavailable", "the message store is unavailable; "
                   "retry after the Retry-After delay");
        log_request(c->method, c->path, status, c->account, &c->t0, NULL, "unavailable");
    } else if (rc == API_EFREQCAP) {
        char when[32], msg[200];
        status = 429;
        admit_format_time(id ? (time_t)strtoll(id, NULL, 10) : 0, when);
        snprintf(msg, sizeof(msg), "this account's marketing cap for the recipient is used up "
                 "for the period; it resets at %s", when);
        struct json_object *root = json_object_new_object(), *err = json_object_new_object();
        json_object_object_add(err, "code", json_object_new_string("frequency_cap"));
        json_object_object_add(err, "message", json_object_new_string(msg));
        json_object_object_add(err, "resets_at", json_object_new_string(when));
        json_object_object_add(root, "error", err);
        char ra[24];
        long long secs = id ? strtoll(id, NULL, 10) - (long long)time(NULL) : 3600;
        snprintf(ra, sizeof(ra), "%lld", secs > 0 ? secs : 1);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        http_send_json(req, status, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        log_request(c->method, c->path, status, c->account, &c->t0, NULL, "frequency_cap");
    } else if (rc == API_EOPTEDOUT) {
        status = 403;
        http_send_error(req, status, "opted_out", "the recipient has opted out of messages from this "
                   "sender (they texted STOP); they must text START to receive messages again");
        log_request(c->method, c->path, status, c->account, &c->t0, NULL, "opted_out");
    } else {
        status = 500;
        log_event(LOG_ERROR, "api_backend", "op=submit rc=%d id=%s", (int)rc, id ? "set" : "null");
        http_send_error(req, status, "internal", "internal error; the message may not have been "
                   "accepted: retry with the same client_ref");
        log_request(c->method, c->path, status, c->account, &c->t0, NULL, "internal");
    }
    call_free(c);
}

static void
get_done(void *arg, enum api_rc rc, const char *json)
{
    struct api_call *c = arg;
    struct evhttp_request *req = call_finish(c);
    char msg[160];
    int status;

    if (!req) {
        call_free(c);
        return;
    }
    if (rc == API_OK && json) {
        status = 200;
        http_send_json(req, status, json);
        log_request(c->method, c->path, status, c->account, &c->t0, c->id, NULL);
    } else if (rc == API_ENOTFOUND) {
        status = 404;
        snprintf(msg, sizeof(msg), "no message '%s' for this account", c->id);
        http_send_error(req, status, "not_found", msg);
        log_request(c->method, c->path, status, c->account, &c->t0, c->id, "not_found");
    } else if (rc == API_EUNAVAILABLE) {
        status = 503;
        http_send_error(req, status, "unavailable", "the message store is unavailable; "
                   "retry after the Retry-After delay");
        log_request(c->method, c->path, status, c->account, &c->t0, c->id, "unavailable");
    } else {
        status = 500;
        log_event(LOG_ERROR, "api_backend", "op=get rc=%d id=%s", (int)rc, c->id);
        http_send_error(req, status, "internal", "internal error; retry later");
        log_request(c->method, c->path, status, c->account, &c->t0, c->id, "internal");
    }
    call_free(c);
}

/* ------------------------------------------------------------------ routing */

static bool
valid_id(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char ch = s[n];
        if (n >= API_ID_MAX || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return n > 0;
}

/* The account whose API key the request carries, or NULL after answering
 * 401 (the key is wiped from the stack either way). */
static const struct cfg_account *
authenticate(struct evhttp_request *req, const struct gw_config *cfg, const char *method,
             const char *path, const struct timespec *t0)
{
    char keybuf[512];
    const char *key = http_bearer(req, keybuf, sizeof(keybuf));
    const struct cfg_account *account = key ? config_account_by_key(cfg, key) : NULL;

    explicit_bzero(keybuf, sizeof(keybuf));
    if (!account) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        http_send_error(req, 401, "unauthorized", key ? "the API key is not valid"
                   : "send your API key as `Authorization: Bearer <key>`");
        log_request(method, path, 401, NULL, t0, NULL, "unauthorized");
    }
    return account;
}

/* ------------------------------------------------------------ opt-outs */

/* "+14155550100" or "14155550100" → digits; false if not E.164. */
static bool
e164_digits(const char *s, size_t len, char out[24])
{
    size_t i = 0, o = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '"'))
        i++;
    while (len > i && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                       s[len - 1] == '"'))
        len--;
    if (i < len && s[i] == '+')
        i++;
    if (len - i < 8 || len - i > 15 || s[i] == '0')
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        out[o++] = s[i];
    }
    out[o] = 0;
    return true;
}

static void
optout_done(void *arg, enum api_rc rc, bool opted_out, unsigned count)
{
    struct api_call *c = arg;
    struct evhttp_request *req = call_finish(c);
    char body[512];

    if (!req) {
        call_free(c);
        return;
    }
    if (rc != API_OK) {
        http_send_error(req, 503, "unavailable", "the opt-out store is unavailable; retry after the "
                   "Retry-After delay");
        log_request(c->method, c->path, 503, c->account, &c->t0, NULL, "unavailable");
    } else if (c->numbers) {
        snprintf(body, sizeof(body), "{\"imported\":%u,\"invalid\":%u,\"scope\":\"%s\"}",
                 count, c->invalid, c->sender[0] ? c->sender : "account");
        http_send_json(req, 200, body);
        log_request(c->method, c->path, 200, c->account, &c->t0, NULL, NULL);
    } else {
        snprintf(body, sizeof(body), "{\"number\":\"+%s\",\"opted_out\":%s,\"scope\":\"%s\"}",
                 c->number, opted_out ? "true" : "false", c->sender[0] ? c->sender : "account");
        http_send_json(req, 200, body);
        log_request(c->method, c->path, 200, c->account, &c->t0, NULL, NULL);
    }
    call_free(c);
}

/*
 * GET|PUT|DELETE /v1/optouts/{number}[?sender=ADDR]: look up, opt out, opt
 * back in; without sender, the whole account. POST /v1/optouts[?sender=ADDR]
 * with a CSV body (one number per line, first column; a header line and
 * blank lines are skipped): bulk import of a list from another platform.
 */
static void
handle_optouts(struct api_server *s, struct evhttp_request *req, const char *method,
               const char *path, const struct cfg_account *account, const struct timespec *t0)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *rest = path + sizeof(OPTOUTS_PATH) - 1;
    struct evkeyvalq q;
    const char *sender = NULL;
    char number[24] = "", msg[200];

    q.tqh_first = NULL;
    q.tqh_last = &q.tqh_first;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query && evhttp_parse_query_str(query, &q) == 0)
        sender = evhttp_find_header(&q, "sender");
    if (sender) {
        const struct cfg_sender *snd = config_sender(s->cfg, sender);
        if (!snd || !config_account_may_use(account, snd)) {
            snprintf(msg, sizeof(msg), "sender `%.40s` is not one of this account's senders",
                     sender);
            http_send_error(req, 403, "sender_not_allowed", msg);
            log_request(method, path, 403, account->name, t0, NULL, "sender_not_allowed");
            evhttp_clear_headers(&q);
            return;
        }
    }
    bool bulk = *rest == 0;
    if (!bulk && (*rest != '/' || !e164_digits(rest + 1, strlen(rest + 1), number))) {
        http_send_error(req, 400, "invalid_number", "use /v1/optouts/+E164 (e.g. /v1/optouts/+14155550100)");
        log_request(method, path, 400, account->name, t0, NULL, "invalid_number");
        evhttp_clear_headers(&q);
        return;
    }
    if ((bulk && cmd != EVHTTP_REQ_POST) ||
        (!bulk && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_PUT && cmd != EVHTTP_REQ_DELETE)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          bulk ? "POST" : "GET, PUT, DELETE");
        http_send_error(req, 405, "method_not_allowed", bulk ? "POST a CSV list to /v1/optouts"
                   : "use GET, PUT or DELETE on /v1/optouts/{number}");
        log_request(method, path, 405, account->name, t0, NULL, "method_not_allowed");
        evhttp_clear_headers(&q);
        return;
    }
    if (!s->backend.optout || !s->backend.ready(s->bctx)) {
        http_send_error(req, 503, "unavailable", "the opt-out store is unavailable; retry after the "
                   "Retry-After delay");
        log_request(method, path, 503, account->name, t0, NULL, "unavailable");
        evhttp_clear_headers(&q);
        return;
    }
    struct api_call *c = call_new(s, req, method, path, account, t0);
    snprintf(c->sender, sizeof(c->sender), "%s", sender ? sender : "");
    snprintf(c->number, sizeof(c->number), "%s", number);
    evhttp_clear_headers(&q);
    if (!bulk) {
        const char *one[] = { c->number };
        s->backend.optout(s->bctx, account, c->sender[0] ? c->sender : NULL, one, 1,
                          cmd == EVHTTP_REQ_GET ? API_OPTOUT_GET
                          : cmd == EVHTTP_REQ_PUT ? API_OPTOUT_PUT : API_OPTOUT_DELETE,
                          optout_done, c);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    size_t cap = 64;
    c->numbers = xcalloc(cap, sizeof(char *));
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && body[e] != '\n')
            e++;
        size_t f = i;
        while (f < e && body[f] != ',' && body[f] != ';')
            f++;
        char d[24];
        bool blank = true;
        for (size_t k = i; k < f; k++)
            if (body[k] != ' ' && body[k] != '\r' && body[k] != '\t')
                blank = false;
        if (!blank) {
            if (e164_digits(body + i, f - i, d)) {
                if (c->nnumbers == cap) {
                    cap *= 2;
                    c->numbers = realloc(c->numbers, cap * sizeof(char *));
                    if (!c->numbers)
                        abort();
                }
                c->numbers[c->nnumbers++] = strdup(d);
            } else if (c->nnumbers > 0 || c->invalid > 0 || (body[i] >= '0' && body[i] <= '9') ||
                       body[i] == '+') {
                c->invalid++;       /* a header line before any number is not counted */
            }
        }
        i = e + 1;
    }
    s->backend.optout(s->bctx, account, c->sender[0] ? c->sender : NULL,
                      (const char *const *)c->numbers, c->nnumbers, API_OPTOUT_PUT, optout_done, c);
}

/* What the client is billed for: SMS on the air. m->segments counts
 * submit_sm PDUs, which differ only for message_payload routes. */
static unsigned
air_segments(const struct api_msg *m)
{
    struct smpp_text_info info;
    const struct cfg_route *r = m->route;
    enum smpp_text_concat concat = r->nsmscs ? r->smscs[0].smsc->concat : SMPP_TEXT_CONCAT_UDH8;

    if (smpp_text_measure(m->text, m->text_len, m->encoding, concat, &info, NULL) == SMPP_TEXT_OK)
        return info.segments;
    return m->segments;
}

/* ------------------------------------------------------------------ batch */

static void
batch_reply(struct api_call *c)
{
    struct evhttp_request *req = call_finish(c);
    unsigned ok = 0, refused = 0;

    if (!req) {
        call_free(c);
        return;
    }
    struct json_object *root = json_object_new_object(), *res = json_object_new_array();
    for (unsigned i = 0; i < c->nitems; i++) {
        struct batch_item *it = &c->items[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_int(it->status));
        if (it->status == 202 || it->status == 200) {
            ok++;
            json_object_object_add(o, "id", json_object_new_string(it->id));
            json_object_object_add(o, "state", json_object_new_string(
                it->msg.no_sms ? "no_sms" : it->msg.due_ms && it->msg.hold_state
                                                ? it->msg.hold_state : "queued"));
            json_object_object_add(o, "segments", json_object_new_int64(it->air_segments));
            json_object_object_add(o, "encoding",
                                   json_object_new_string(smpp_text_enc_name(it->msg.encoding)));
            if (it->status == 200)
                json_object_object_add(o, "existing", json_object_new_boolean(1));
        } else {
            refused++;
            struct json_object *err = json_object_new_object();
            json_object_object_add(err, "code", json_object_new_string(it->code));
            json_object_object_add(err, "message",
                                   json_object_new_string(it->message ? it->message : ""));
            json_object_object_add(o, "error", err);
        }
        json_object_array_add(res, o);
    }
    json_object_object_add(root, "accepted", json_object_new_int64(ok));
    json_object_object_add(root, "refused", json_object_new_int64(refused));
    json_object_object_add(root, "results", res);
    int status = refused ? 207 : 202;
    http_send_json(req, status, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    {
        char qp[160], qa[80];
        log_event(LOG_INFO, "http", "method=%s path=%s status=%d account=%s ms=%ld "
                  "messages=%u accepted=%u refused=%u", c->method,
                  log_quote(c->path, qp, sizeof(qp)), status, log_quote(c->account, qa, sizeof(qa)),
                  http_elapsed_ms(&c->t0), c->nitems, ok, refused);
    }
    call_free(c);
}

static void
item_refuse(struct batch_item *it, int status, const char *code, const char *message)
{
    it->status = status;
    it->code = code;
    free(it->message);
    it->message = strdup(message);
}

static void
item_done(void *arg, enum api_rc rc, const char *id)
{
    struct batch_item *it = arg;
    struct api_call *c = it->call;

    if ((rc == API_OK || rc == API_EXISTING) && id && *id) {
        it->status = rc == API_OK ? 202 : 200;
        snprintf(it->id, sizeof(it->id), "%s", id);
    } else if (rc == API_EFREQCAP) {
        char when[32], msg[160];
        admit_format_time(id ? (time_t)strtoll(id, NULL, 10) : 0, when);
        snprintf(msg, sizeof(msg), "this account's marketing cap for the recipient is used up; "
                 "it resets at %s", when);
        item_refuse(it, 429, "frequency_cap", msg);
    } else if (rc == API_EOPTEDOUT) {
        item_refuse(it, 403, "opted_out", "the recipient has opted out of messages from this "
                    "sender (they texted STOP)");
    } else if (rc == API_EUNAVAILABLE) {
        item_refuse(it, 503, "unavailable", "the message store is unavailable; not accepted: "
                    "send it again (with its client_ref)");
    } else {
        log_event(LOG_ERROR, "api_backend", "op=submit rc=%d id=%s", (int)rc, id ? "set" : "null");
        item_refuse(it, 500, "internal", "internal error; the message may not have been "
                    "accepted: retry with the same client_ref");
    }
    if (--c->pending == 0)
        batch_reply(c);
}

/*
 * POST /v1/messages/batch {"messages":[{...}, ...]}: each message is
 * validated and stored on its own, exactly as by POST /v1/messages; one
 * answer lists every message's outcome in order. 202 when all were
 * accepted, 207 when some were not; a body that is not such a list is 400.
 */
static void
handle_batch(struct api_server *s, struct evhttp_request *req, const char *method,
             const char *path, const struct cfg_account *account, const struct timespec *t0)
{
    const struct gw_config *cfg = s->cfg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    const char *code = NULL;
    char msg[512];
    const struct verr e = { &code, msg, sizeof(msg) };
    struct json_object *root, *list = NULL;
    int status;

    if ((status = parse_body(body, len, &root, &e)) != 0) {
        http_send_error(req, status, code, msg);
        log_request(method, path, status, account->name, t0, NULL, code);
        return;
    }
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "messages", &list) ||
        !json_object_is_type(list, json_type_array) || json_object_object_length(root) != 1) {
        json_object_put(root);
        http_send_error(req, 400, "bad_batch", "send {\"messages\": [ {message}, ... ]}: an object "
                   "whose only field is `messages`, an array of the objects POST /v1/messages "
                   "takes");
        log_request(method, path, 400, account->name, t0, NULL, "bad_batch");
        return;
    }
    size_t n = json_object_array_length(list);
    if (n == 0 || n > API_BATCH_MAX) {
        json_object_put(root);
        snprintf(msg, sizeof(msg), "`messages` has %zu messages; send 1 to %d per request", n,
                 API_BATCH_MAX);
        http_send_error(req, n ? 413 : 400, "bad_batch", msg);
        log_request(method, path, n ? 413 : 400, account->name, t0, NULL, "bad_batch");
        return;
    }
    if (!s->backend.ready(s->bctx)) {
        json_object_put(root);
        http_send_error(req, 503, "unavailable", "the message store is unavailable; "
                   "retry after the Retry-After delay");
        log_request(method, path, 503, account->name, t0, NULL, "unavailable");
        return;
    }
    struct api_call *c = call_new(s, req, method, path, account, t0);
    c->owner = root;
    c->items = xcalloc(n, sizeof(*c->items));
    c->nitems = (unsigned)n;
    c->pending = c->nitems + 1;     /* + 1 until every message went out */
    for (size_t i = 0; i < n; i++) {
        struct batch_item *it = &c->items[i];
        char where[32];
        it->call = c;
        snprintf(where, sizeof(where), "messages[%zu]: ", i);
        status = validate_object(cfg, account, json_object_array_get_idx(list, i), &it->msg, &e,
                                 where);
        if (status) {
            item_refuse(it, status, code, msg);
            c->pending--;
            continue;
        }
        it->air_segments = air_segments(&it->msg);
        s->backend.submit(s->bctx, &it->msg, item_done, it);
    }
    if (--c->pending == 0)
        batch_reply(c);
}

static void
handle(struct evhttp_request *req, void *arg)
{
    struct api_server *s = arg;
    const struct gw_config *cfg = s->cfg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *method = method_name(cmd);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const struct cfg_account *account;
    const char *id = NULL;
    char msg[512];
    struct timespec t0;
    bool post_route;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!path || !*path)
        path = "/";

    if (s->backend.other && s->backend.other(s->bctx, req, path))
        return;
    if (strcmp(path, OPTOUTS_PATH) == 0 ||
        strncmp(path, OPTOUTS_PATH "/", sizeof(OPTOUTS_PATH)) == 0) {
        account = authenticate(req, cfg, method, path, &t0);
        if (account)
            handle_optouts(s, req, method, path, account, &t0);
        return;
    }
    if (strcmp(path, BATCH_PATH) == 0) {
        if (cmd != EVHTTP_REQ_POST) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
            snprintf(msg, sizeof(msg), "%s is not allowed here; use POST " BATCH_PATH, method);
            http_send_error(req, 405, "method_not_allowed", msg);
            log_request(method, path, 405, NULL, &t0, NULL, "method_not_allowed");
            return;
        }
        account = authenticate(req, cfg, method, path, &t0);
        if (account)
            handle_batch(s, req, method, path, account, &t0);
        return;
    }
    post_route = strcmp(path, MESSAGES_PATH) == 0;
    if (!post_route && strncmp(path, MESSAGES_PATH "/", sizeof(MESSAGES_PATH)) == 0 &&
        valid_id(path + sizeof(MESSAGES_PATH)))
        id = path + sizeof(MESSAGES_PATH);
    if (!post_route && !id) {
        http_send_error(req, 404, "not_found", "no such endpoint; the API has POST /v1/messages, "
                   "POST /v1/messages/batch and GET /v1/messages/{id} (id: 1 to 64 of A-Z a-z 0-9 _ -)");
        log_request(method, path, 404, NULL, &t0, NULL, "not_found");
        return;
    }
    if ((post_route && cmd != EVHTTP_REQ_POST) || (id && cmd != EVHTTP_REQ_GET)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          post_route ? "POST" : "GET");
        snprintf(msg, sizeof(msg), "%s is not allowed here; use %s", method,
                 post_route ? "POST /v1/messages" : "GET /v1/messages/{id}");
        http_send_error(req, 405, "method_not_allowed", msg);
        log_request(method, path, 405, NULL, &t0, NULL, "method_not_allowed");
        return;
    }

    account = authenticate(req, cfg, method, path, &t0);
    if (!account)
        return;

    if (id) {
        struct api_call *c = call_new(s, req, method, path, account, &t0);
        c->is_get = true;
        snprintf(c->id, sizeof(c->id), "%s", id);
        s->backend.get(s->bctx, account, c->id, get_done, c);
        return;     /* c may be gone already */
    }

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
    struct api_msg m;
    const char *code;
    void *owner;
    int status;

    status = api_validate(cfg, account, body, len, &m, &owner, &code, msg, sizeof(msg));
    if (status) {
        http_send_error(req, status, code, msg);
        log_request(method, path, status, account->name, &t0, NULL, code);
        return;
    }
    if (!s->backend.ready(s->bctx)) {
        json_object_put(owner);
        http_send_error(req, 503, "unavailable", "the message store is unavailable; "
                   "retry after the Retry-After delay");
        log_request(method, path, 503, account->name, &t0, NULL, "unavailable");
        return;
    }

    struct api_call *c = call_new(s, req, method, path, account, &t0);
    c->msg = m;
    c->owner = owner;
    c->air_segments = air_segments(&m);
    s->backend.submit(s->bctx, &c->msg, submit_done, c);
    /* c may be gone already */
}

/* ------------------------------------------------------------------ server */

/* HTTPS: every connection is a TLS server bufferevent (evhttp does the rest). */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
    struct api_server *s = arg;
    SSL *ssl = SSL_new(s->tls);

    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

struct api_server *
api_server_new(struct event_base *base, const struct gw_config *cfg,
               const struct api_backend *backend, void *bctx)
{
    struct api_server *s = xcalloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int err;

    s->base = base;
    s->cfg = cfg;
    s->backend = *backend;
    s->bctx = bctx;
    s->http = evhttp_new(base);
    if (!s->http) {
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    /* Every method evhttp knows except TRACE and CONNECT reaches handle(),
     * which answers 405 with Allow for anything but GET/POST on our routes.
     * Left to evhttp, other methods would get a 501 HTML page. */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->http.max_body);
    evhttp_set_max_headers_size(s->http, API_MAX_HEADERS);
    evhttp_set_timeout(s->http, API_TIMEOUT_S);
    evhttp_set_gencb(s->http, handle, s);
    if (cfg->http.tls_cert_file) {
        char terr[256] = "";
        struct smpp_tls_server_cfg tc = { .cert_file = cfg->http.tls_cert_file,
                                          .key_file = cfg->http.tls_key_file };
        s->tls = smpp_tls_server_ctx(&tc, terr, sizeof(terr));
        if (!s->tls) {
            log_event(LOG_ERROR, "http_tls_failed", "cert=%s error=\"%s\"",
                      cfg->http.tls_cert_file, terr);
            evhttp_free(s->http);
            free(s);
            errno = EINVAL;
            return NULL;
        }
        evhttp_set_bevcb(s->http, tls_bev, s);
    }

    errno = 0;
    s->sock = evhttp_bind_socket_with_handle(s->http, cfg->http.listen ? cfg->http.listen
                                             : "127.0.0.1", (ev_uint16_t)cfg->http.port);
    if (!s->sock ||
        getsockname(evhttp_bound_socket_get_fd(s->sock), (struct sockaddr *)&ss, &sl) != 0) {
        err = errno ? errno : EADDRNOTAVAIL;
        evhttp_free(s->http);
        if (s->tls)
            SSL_CTX_free(s->tls);
        free(s);
        errno = err;
        return NULL;
    }
    if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    log_event(LOG_INFO, "http_listen", "addr=%s port=%d tls=%s",
              cfg->http.listen ? cfg->http.listen : "127.0.0.1", s->port, s->tls ? "yes" : "no");
    return s;
}

int
api_server_port(const struct api_server *s)
{
    return s->port;
}

void
api_server_set_config(struct api_server *s, const struct gw_config *cfg)
{
    s->cfg = cfg;
    evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->http.max_body);
}

void
api_server_free(struct api_server *s)
{
    if (!s)
        return;
    /* Calls still waiting for the backend stay alive until it answers
     * (it must: done is called exactly once); they just no longer reply. */
    for (struct api_call *c = s->calls, *next; c; c = next) {
        next = c->next;
        c->srv = NULL;
        c->prev = c->next = NULL;
    }
    s->calls = NULL;
    /* Frees every connection: the close callbacks clear each call's req. */
    evhttp_free(s->http);
    if (s->tls)
        SSL_CTX_free(s->tls);
    free(s);
}
