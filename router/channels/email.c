/*
 * Email through an SMTP relay with libcurl: STARTTLS required on smtp://
 * (CURLUSESSL_ALL: a relay that does not offer it fails the send rather
 * than receive the mail in clear), implicit TLS on smtps://, AUTH when
 * credentials are configured. Transactional and marketing mail go through
 * separate relays so that complaints about marketing cannot hurt the
 * reputation of the relay that carries one-time codes; without a marketing
 * relay, marketing mail is refused rather than sent through the other.
 *
 * The mail is built here: subject and body from the templates, the subject
 * RFC 2047-encoded when it is not ASCII, the body 7bit when it is ASCII with
 * short lines, otherwise base64; CRLF line ends throughout. Values that
 * reach headers cannot contain CR or LF (addresses are checked, the
 * subject's line breaks become spaces), so no header can be injected.
 */
#include "router/channels/channel_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

struct email_impl {
    struct chan_email_cfg cfg;
};

static void
relay_copy(struct chan_email_relay *d, const struct chan_email_relay *s)
{
    *d = *s;
    d->url = chan_strdup(s->url);
    d->username = chan_strdup(s->username);
    d->password = chan_strdup(s->password);
    d->from = chan_strdup(s->from);
    d->ca_file = chan_strdup(s->ca_file);
}

static void
relay_free(struct chan_email_relay *r)
{
    free(r->url);
    free(r->username);
    free(r->password);
    free(r->from);
    free(r->ca_file);
}

static void
email_free_impl(void *p)
{
    struct email_impl *im = p;

    relay_free(&im->cfg.transactional);
    relay_free(&im->cfg.marketing);
    free(im->cfg.name);
    free(im->cfg.subject);
    free(im->cfg.body);
    free(im);
}

static bool
address_ok(const char *a)
{
    const char *at = a ? strchr(a, '@') : NULL;
    size_t n = a ? strlen(a) : 0;

    if (!at || at == a || !at[1] || strchr(at + 1, '@') || n > 254)
        return false;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("<>(),;:\"[]\\", *p))
            return false;
    return true;
}

static const char *
email_check(const struct chan *c, const struct chan_msg *m)
{
    const struct email_impl *im = c->impl;

    if (!address_ok(m->email))
        return "email: recipient address missing or malformed";
    if (!m->text)
        return "email: text missing";
    if (!m->transactional && !im->cfg.has_marketing)
        return "email: marketing mail and no marketing relay";
    return NULL;
}

/* The address part of "Name <a@b>" or "a@b". */
static void
from_addr(const char *from, char *buf, size_t size)
{
    const char *lt = strchr(from, '<');

    if (lt) {
        const char *gt = strchr(lt, '>');
        snprintf(buf, size, "%.*s", (int)(gt ? gt - lt - 1 : 0), lt + 1);
    } else {
        snprintf(buf, size, "%s", from);
    }
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        if (!(b->p = realloc(b->p, b->cap)))
            abort();
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static bool
is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static void
b64(struct sbuf *b, const unsigned char *in, size_t n)
{
    char out[4 * 48 / 3 + 4];

    while (n) {
        size_t k = n > 48 ? 48 : n;
        int w = EVP_EncodeBlock((unsigned char *)out, in, (int)k);
        sb_add(b, out, (size_t)w);
        in += k;
        n -= k;
    }
}

/* RFC 2047 encoded words of at most ~45 input bytes each, never splitting
 * a UTF-8 sequence, folded onto continuation lines. */
static void
subject_header(struct sbuf *b, const char *subj)
{
    sb_str(b, "Subject: ");
    if (is_ascii(subj)) {
        sb_str(b, subj);
        sb_str(b, "\r\n");
        return;
    }
    const unsigned char *p = (const unsigned char *)subj;
    size_t n = strlen(subj);
    bool first = true;
    while (n) {
        size_t k = n > 45 ? 45 : n;
        while (k < n && (p[k] & 0xC0) == 0x80)
            k--;
        if (!first)
            sb_str(b, "\r\n ");
        sb_str(b, "=?UTF-8?B?");
        b64(b, p, k);
        sb_str(b, "?=");
        first = false;
        p += k;
        n -= k;
    }
    sb_str(b, "\r\n");
}

static char *
build_mail(const struct email_impl *im, const struct chan_email_relay *relay,
           const struct chan_msg *m, char *msgid, size_t msgid_size, size_t *len_out)
{
    struct sbuf b = { 0 };
    char line[1200], addr[330], date[64], rnd_hex[17];
    unsigned char rnd[8];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        abort();
    for (int i = 0; i < 8; i++)
        snprintf(rnd_hex + 2 * i, 3, "%02x", rnd[i]);
    from_addr(relay->from, addr, sizeof(addr));
    const char *dom = strchr(addr, '@');
    snprintf(msgid, msgid_size, "%s.%s@%s", m->id, rnd_hex, dom ? dom + 1 : "smsgw");

    snprintf(line, sizeof(line), "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, relay->from,
             m->email);
    sb_str(&b, line);
    char *subj = chan_template(im->cfg.subject, m);
    for (char *s = subj; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\t')
            *s = ' ';
    subject_header(&b, subj);
    free(subj);
    snprintf(line, sizeof(line),
             "Message-ID: <%s>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
             "X-Smsgw-Id: %s\r\nContent-Type: text/plain; charset=UTF-8\r\n", msgid, m->id);
    sb_str(&b, line);

    /* The body with CRLF line ends. */
    char *text = chan_template(im->cfg.body, m);
    struct sbuf body = { 0 };
    size_t run = 0, longest = 0;
    sb_str(&body, "");
    for (const char *s = text; *s; s++) {
        if (*s == '\r' && s[1] == '\n')
            continue;
        if (*s == '\n' || *s == '\r') {
            sb_str(&body, "\r\n");
            run = 0;
            continue;
        }
        sb_add(&body, s, 1);
        if (++run > longest)
            longest = run;
    }
    free(text);
    if (body.len < 2 || memcmp(body.p + body.len - 2, "\r\n", 2) != 0)
        sb_str(&body, "\r\n");
    if (is_ascii(body.p) && longest <= 998) {
        sb_str(&b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
        sb_add(&b, body.p, body.len);
    } else {
        sb_str(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
        for (size_t off = 0; off < body.len; off += 57) {
            size_t k = body.len - off > 57 ? 57 : body.len - off;
            b64(&b, (const unsigned char *)body.p + off, k);
            sb_str(&b, "\r\n");
        }
    }
    free(body.p);
    *len_out = b.len;
    return b.p;
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    struct chan_job *j = ud;
    size_t room = size * nitems, left = j->req_len - j->req_off;
    size_t n = left < room ? left : room;

    memcpy(buf, j->req + j->req_off, n);
    j->req_off += n;
    return n;
}

static bool
email_prepare(struct chan *c, struct chan_job *j, const char **err)
{
    struct email_impl *im = c->impl;
    const struct chan_email_relay *r = j->m.transactional ? &im->cfg.transactional
                                                          : &im->cfg.marketing;
    char addr[330], rcpt[300];
    CURL *e = j->easy;

    (void)err;
    from_addr(r->from, addr, sizeof(addr));
    j->req = build_mail(im, r, &j->m, j->provider_id, sizeof(j->provider_id), &j->req_len);
    snprintf(rcpt, sizeof(rcpt), "<%s>", j->m.email);
    j->rcpt = chan_hdr(NULL, rcpt);
    char mf[340];
    snprintf(mf, sizeof(mf), "<%s>", addr);

    curl_easy_setopt(e, CURLOPT_URL, r->url);
    /* One SMTP session per mail. libcurl 7.88 reuses a cached plain-text
     * SMTP connection for a transfer that requires STARTTLS (seen in
     * test_email_marketing_relay_and_starttls_required): the mail would go
     * out in clear. Fallback mail volumes make the extra handshake cheap. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (strncmp(r->url, "smtp://", 7) == 0 && r->starttls)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    chan_set_tls(e, r->ca_file, r->verify);
    if (r->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, r->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, mf);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)j->req_len);
    return true;
}

static void
email_finish(struct chan *c, struct chan_job *j, CURLcode res, long code, struct chan_result *out)
{
    static char buf[48];

    (void)c;
    out->code = code;
    if (res == CURLE_OK) {
        out->status = CHAN_ACCEPTED;
        out->provider_id = j->provider_id;
        return;
    }
    out->status = CHAN_FAILED;
    if (res == CURLE_OPERATION_TIMEDOUT) {
        out->error = "timeout";
        out->retryable = true;
    } else if (res == CURLE_USE_SSL_FAILED) {
        out->error = "starttls_unavailable";
    } else if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE) {
        out->error = "tls_verify_failed";
    } else if (code >= 400 && code <= 599) {
        /* The relay's own word: 4xx is "try later", 5xx is "no". */
        snprintf(buf, sizeof(buf), "smtp_%ld", code);
        out->error = res == CURLE_LOGIN_DENIED ? "auth_failed" : buf;
        out->retryable = code < 500;
    } else {
        snprintf(buf, sizeof(buf), "transport_%d", (int)res);
        out->error = buf;
        out->retryable = true;
    }
}

static const struct chan_ops email_ops = {
    .type = CHAN_EMAIL,
    .check = email_check,
    .prepare = email_prepare,
    .finish = email_finish,
    .finish_cap = NULL,
    .free_impl = email_free_impl,
};

struct chan *
chan_email_new(struct event_base *base, struct curlev *curl, const struct chan_email_cfg *cfg)
{
    struct email_impl *im = calloc(1, sizeof(*im));

    if (!im)
        abort();
    im->cfg = *cfg;
    im->cfg.name = chan_strdup(cfg->name ? cfg->name : "email");
    im->cfg.subject = chan_strdup(cfg->subject ? cfg->subject : "Message from {{from}}");
    im->cfg.body = chan_strdup(cfg->body ? cfg->body : "{{text}}");
    relay_copy(&im->cfg.transactional, &cfg->transactional);
    relay_copy(&im->cfg.marketing, &cfg->marketing);
    return chan_base_new(&email_ops, im->cfg.name, base, curl, &cfg->lim, im);
}
