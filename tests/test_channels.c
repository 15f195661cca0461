/*
 * Fallback channel connectors against real servers on loopback:
 *  - SMTP: Debian's aiosmtpd (tests/channels/smtpd.py), one instance that
 *    requires STARTTLS and AUTH with a self-signed certificate made here,
 *    one plain; the test reads what each server received;
 *  - OTT and RCS: tests/channels/provider.py, which checks each request
 *    against the documented API shape and logs it; the test checks the
 *    exact request too, and drives failures (5xx, 429, 4xx codes, hangs,
 *    wrong token, refused connections).
 * No timing assertions: waits are bounded loops on what must happen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/cfg_group.h"
#include "core/config.h"
#include "core/curlev.h"
#include "core/metrics.h"
#include "router/channels/channel.h"
#include "router/channels/oauth.h"
#include "tests/gwfix.h"

#define PY "/usr/bin/python3"
#define TOKEN "tok-123"

static struct {
    char *dir;
    char cert[512], key[512], mail_tls[512], mail_plain[512], plog[512];
    char sa[512], sa_wrong[512], sa_pub[512];    /* service-account key files (RCS) */
    int smtp_tls, smtp_plain, http, closed;
    pid_t p_tls, p_plain, p_http;
    struct event_base *base;
    struct curlev *curl;
} G;

/* ------------------------------------------------------------ results */

#define MAXR 32
struct res {
    enum chan_status status;
    char provider_id[256], error[128], msg_id[64];
    bool retryable;
    long code;
};
static struct res R[MAXR];
static int nr;
static int caps[MAXR], ncaps;

static void
on_result(const struct chan_result *r, void *arg)
{
    (void)arg;
    if (nr >= MAXR)
        return;
    struct res *x = &R[nr++];
    x->status = r->status;
    snprintf(x->provider_id, sizeof(x->provider_id), "%s", r->provider_id ? r->provider_id : "");
    snprintf(x->error, sizeof(x->error), "%s", r->error ? r->error : "");
    snprintf(x->msg_id, sizeof(x->msg_id), "%s", r->msg_id ? r->msg_id : "");
    x->retryable = r->retryable;
    x->code = r->code;
}

static void
on_cap(int capable, void *arg)
{
    (void)arg;
    if (ncaps < MAXR)
        caps[ncaps++] = capable;
}

static void
reset(void)
{
    nr = 0;
    ncaps = 0;
    memset(R, 0, sizeof(R));
}

static void
wait_n(int n, int ms)
{
    TL_RUN_UNTIL(G.base, nr >= n, ms);
    if (nr < n)
        fail_msg("waited for %d results, got %d", n, nr);
}

/* ------------------------------------------------------------ helpers */

static struct json_object *
read_json(const char *path)
{
    struct json_object *o = json_object_from_file(path);
    if (!o)
        fail_msg("cannot read %s", path);
    return o;
}

static const char *
js(struct json_object *o, const char *path)
{
    /* "a.b.c" through objects */
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    struct json_object *cur = o;
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        if (!cur || !json_object_object_get_ex(cur, k, &cur))
            return NULL;
    return cur && json_object_is_type(cur, json_type_string) ? json_object_get_string(cur) : NULL;
}

/* A string at path in o equals want (a missing one fails, with its path). */
#define assert_js(o, path, want) do { \
        const char *got_ = js((o), (path)); \
        if (!got_) \
            fail_msg("%s: missing in %s", (path), json_object_to_json_string(o)); \
        assert_string_equal(got_, (want)); \
    } while (0)

/* fn(request, arg) for every request the provider logged whose path starts
 * with prefix, in order ("" for all); the object is freed after fn. */
static void
each_request(const char *prefix, void (*fn)(struct json_object *req, void *arg), void *arg)
{
    FILE *f = fopen(G.plog, "r");
    char line[65536];

    while (f && fgets(line, sizeof(line), f)) {
        struct json_object *o = json_tokener_parse(line);
        const char *p = js(o, "path");
        if (p && strncmp(p, prefix, strlen(prefix)) == 0)
            fn(o, arg);
        json_object_put(o);
    }
    if (f)
        fclose(f);
}

static void
keep_last(struct json_object *req, void *arg)
{
    struct json_object **hit = arg;
    json_object_put(*hit);
    *hit = json_object_get(req);
}

/* The last request the provider logged whose path starts with prefix. */
static struct json_object *
last_request(const char *prefix)
{
    struct json_object *hit = NULL;
    if (access(G.plog, R_OK) != 0)
        fail_msg("no provider log");
    each_request(prefix, keep_last, &hit);
    if (!hit)
        fail_msg("no request to %s logged", prefix);
    return hit;
}

static void
count_one(struct json_object *req, void *arg)
{
    (void)req;
    (*(int *)arg)++;
}

static int
count_requests(const char *prefix)
{
    int n = 0;
    each_request(prefix, count_one, &n);
    return n;
}

/* Compare the JSON body of a logged request with the expected JSON text. */
static void
assert_body(struct json_object *req, const char *expected)
{
    struct json_object *body = NULL, *want = json_tokener_parse(expected);
    assert_non_null(want);
    json_object_object_get_ex(req, "body", &body);
    if (!json_object_equal(body, want))
        fail_msg("body\n  got  %s\n  want %s", json_object_to_json_string(body),
                 json_object_to_json_string(want));
    json_object_put(want);
}

static char *
mail_path(const char *dir, int n)
{
    static char p[600];
    snprintf(p, sizeof(p), "%s/mail-%d.json", dir, n);
    return p;
}

static int
mail_count(const char *dir)
{
    struct stat st;
    int n = 0;
    while (stat(mail_path(dir, n + 1), &st) == 0)
        n++;
    return n;
}

static void
strip_cr(char *s)
{
    char *d = s;
    for (; *s; s++)
        if (*s != '\r')
            *d++ = *s;
    *d = '\0';
}

/* --------------------------------------------------------- fixture */

static void
start(pid_t *pid, char *const argv[], const char *log, int port)
{
    *pid = tl_spawn(argv, log);
    if (!tl_wait_port(port, 15000)) {
        tl_dump_file(log);
        fail_msg("%s did not start", argv[1]);
    }
}

#define SA_EMAIL "smsgw-rbm@acme-test.iam.gserviceaccount.com"

/* A service-account key file as the Google Cloud console exports it, for
 * the key in pem_path. */
static void
write_sa(const char *path, const char *pem_path)
{
    FILE *in = fopen(pem_path, "r");
    char pem[8192];
    size_t n = in ? fread(pem, 1, sizeof(pem) - 1, in) : 0;
    if (in)
        fclose(in);
    if (n == 0)
        fail_msg("no key in %s", pem_path);
    pem[n] = '\0';
    struct json_object *o = json_object_new_object();
    char uri[128];
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/token", G.http);
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "project_id", json_object_new_string("acme-test"));
    json_object_object_add(o, "private_key_id", json_object_new_string("0123abcd"));
    json_object_object_add(o, "private_key", json_object_new_string(pem));
    json_object_object_add(o, "client_email", json_object_new_string(SA_EMAIL));
    json_object_object_add(o, "token_uri", json_object_new_string(uri));
    if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY) != 0)
        fail_msg("cannot write %s", path);
    json_object_put(o);
}

/* Two RSA keys: the service account's (its public half for the token
 * endpoint stand-in) and another, for a key file the endpoint refuses. */
static void
make_service_accounts(void)
{
    char cmd[4096], k1[600], k2[600];
    snprintf(k1, sizeof(k1), "%s/sa-key.pem", G.dir);
    snprintf(k2, sizeof(k2), "%s/sa-wrong-key.pem", G.dir);
    snprintf(G.sa_pub, sizeof(G.sa_pub), "%s/sa-pub.pem", G.dir);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' && "
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '%s' && "
             "openssl pkey -in '%s' -pubout -out '%s'", k1, k2, k1, G.sa_pub);
    if (system(cmd) != 0)
        fail_msg("openssl could not make the RSA keys");
    snprintf(G.sa, sizeof(G.sa), "%s/sa.json", G.dir);
    snprintf(G.sa_wrong, sizeof(G.sa_wrong), "%s/sa-wrong.json", G.dir);
    write_sa(G.sa, k1);
    write_sa(G.sa_wrong, k2);
    /* for tests/channels/provider.py's token endpoint */
    setenv("PROVIDER_SA_EMAIL", SA_EMAIL, 1);
    setenv("PROVIDER_SA_PUB", G.sa_pub, 1);
    setenv("PROVIDER_TOKEN_TTL", "4", 1);
}

static int
group_setup(void **state)
{
    (void)state;
    char cmd[2048], log[600], p1[16], p2[16], p3[16], script[600];

    G.dir = tl_tmpdir();
    snprintf(G.cert, sizeof(G.cert), "%s/cert.pem", G.dir);
    snprintf(G.key, sizeof(G.key), "%s/key.pem", G.dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s' -out '%s' -days 2 -subj /CN=localhost "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
             G.key, G.cert);
    if (system(cmd) != 0)
        fail_msg("openssl could not make a certificate");
    snprintf(G.mail_tls, sizeof(G.mail_tls), "%s/mail-tls", G.dir);
    snprintf(G.mail_plain, sizeof(G.mail_plain), "%s/mail-plain", G.dir);
    mkdir(G.mail_tls, 0700);
    mkdir(G.mail_plain, 0700);
    snprintf(G.plog, sizeof(G.plog), "%s/provider.jsonl", G.dir);

    G.smtp_tls = tl_free_port();
    G.smtp_plain = tl_free_port();
    G.http = tl_free_port();
    G.closed = tl_free_port();      /* nobody listens there */
    snprintf(p1, sizeof(p1), "%d", G.smtp_tls);
    snprintf(p2, sizeof(p2), "%d", G.smtp_plain);
    snprintf(p3, sizeof(p3), "%d", G.http);
    make_service_accounts();

    snprintf(script, sizeof(script), "%s/tests/channels/smtpd.py", tl_top());
    snprintf(log, sizeof(log), "%s/smtpd-tls.log", G.dir);
    char *a1[] = { PY, script, p1, G.mail_tls, "tls", G.cert, G.key, "smsgw", "s3cret", NULL };
    start(&G.p_tls, a1, log, G.smtp_tls);
    snprintf(log, sizeof(log), "%s/smtpd-plain.log", G.dir);
    char *a2[] = { PY, script, p2, G.mail_plain, "plain", NULL };
    start(&G.p_plain, a2, log, G.smtp_plain);
    snprintf(script, sizeof(script), "%s/tests/channels/provider.py", tl_top());
    snprintf(log, sizeof(log), "%s/provider.log", G.dir);
    char *a3[] = { PY, script, p3, TOKEN, G.plog, NULL };
    start(&G.p_http, a3, log, G.http);

    G.base = event_base_new();
    G.curl = curlev_new(G.base);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    curlev_free(G.curl);
    event_base_free(G.base);
    tl_stop(G.p_tls, SIGTERM, 5000);
    tl_stop(G.p_plain, SIGTERM, 5000);
    tl_stop(G.p_http, SIGTERM, 5000);
    tl_cleanup_dir(G.dir);
    return 0;
}

static struct chan_email_cfg
email_cfg(void)
{
    static char url[128], purl[128];
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", G.smtp_tls);
    snprintf(purl, sizeof(purl), "smtp://127.0.0.1:%d", G.smtp_plain);
    struct chan_email_cfg c = {
        .name = "email",
        .lim = { .timeout_ms = 10000 },
        .transactional = { .url = url, .starttls = true, .username = "smsgw",
                           .password = "s3cret", .from = "Alerts <alerts@example.com>",
                           .ca_file = G.cert, .verify = true },
        .subject = "Message from {{from}} to {{to}}",
        .body = "{{text}}\n-- ref {{id}}",
    };
    (void)purl;
    return c;
}

/* ------------------------------------------------------------ email */

static void
test_email_starttls_auth_delivers(void **state)
{
    (void)state;
    struct chan_email_cfg cfg = email_cfg();
    struct chan *c = chan_email_new(G.base, G.curl, &cfg);
    int before = mail_count(G.mail_tls);

    reset();
    struct chan_msg m = { .id = "m1", .email = "alice@example.org", .from = "12345",
                          .to = "+14155550100", .text = "Your code is 123456",
                          .transactional = true };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    assert_int_equal(nr, 0);                 /* never inside chan_send */
    wait_n(1, 20000);
    if (R[0].status != CHAN_ACCEPTED)
        fail_msg("email failed: %s code %ld", R[0].error, R[0].code);
    assert_string_equal(R[0].msg_id, "m1");
    assert_int_equal(strncmp(R[0].provider_id, "m1.", 3), 0);
    assert_true(strstr(R[0].provider_id, "@example.com") != NULL);
    assert_int_equal(mail_count(G.mail_tls), before + 1);

    struct json_object *mail = read_json(mail_path(G.mail_tls, before + 1)), *v;
    assert_js(mail, "mail_from", "alerts@example.com");
    json_object_object_get_ex(mail, "rcpt_tos", &v);
    assert_int_equal(json_object_array_length(v), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)),
                        "alice@example.org");
    json_object_object_get_ex(mail, "tls", &v);
    assert_true(json_object_get_boolean(v));
    assert_js(mail, "auth_user", "smsgw");
    assert_js(mail, "headers.From", "Alerts <alerts@example.com>");
    assert_js(mail, "headers.To", "alice@example.org");
    assert_js(mail, "headers.Subject", "Message from 12345 to +14155550100");
    assert_js(mail, "headers.X-Smsgw-Id", "m1");
    assert_js(mail, "headers.Auto-Submitted", "auto-generated");
    /* Python renders it back as charset="UTF-8". */
    assert_non_null(strstr(js(mail, "headers.Content-Type"), "text/plain; charset="));
    assert_non_null(strstr(js(mail, "headers.Content-Type"), "UTF-8"));
    char mid[300];
    snprintf(mid, sizeof(mid), "<%s>", R[0].provider_id);
    assert_js(mail, "headers.Message-ID", mid);
    assert_non_null(js(mail, "headers.Date"));
    assert_js(mail, "cte", "7bit");
    json_object_object_get_ex(mail, "raw_has_crlf_only", &v);
    assert_true(json_object_get_boolean(v));
    char body[512];
    snprintf(body, sizeof(body), "%s", js(mail, "body"));
    strip_cr(body);
    assert_string_equal(body, "Your code is 123456\n-- ref m1\n");
    json_object_put(mail);

    /* Non-ASCII subject and body; a line break in a header value. */
    reset();
    struct chan_msg u = { .id = "m2", .email = "bob@example.org", .from = "Zoë\r\nBcc: evil@x.org",
                          .to = "+447700900123", .text = "Grüße 👋\nline two",
                          .transactional = true };
    assert_int_equal(chan_send(c, &u, on_result, NULL), CHAN_OK);
    wait_n(1, 20000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    mail = read_json(mail_path(G.mail_tls, before + 2));
    assert_string_equal(js(mail, "headers.Subject"),
                        "Message from Zoë  Bcc: evil@x.org to +447700900123");
    assert_null(js(mail, "headers.Bcc"));
    json_object_object_get_ex(mail, "rcpt_tos", &v);
    assert_int_equal(json_object_array_length(v), 1);
    assert_int_equal(strncmp(js(mail, "raw_subject"), "=?UTF-8?B?", 10), 0);
    assert_js(mail, "cte", "base64");
    snprintf(body, sizeof(body), "%s", js(mail, "body"));
    strip_cr(body);
    assert_string_equal(body, "Grüße 👋\nline two\n-- ref m2\n");
    json_object_put(mail);
    chan_free(c);
}

static void
test_email_failures(void **state)
{
    (void)state;
    struct chan_email_cfg cfg = email_cfg();
    struct chan *c = chan_email_new(G.base, G.curl, &cfg);

    reset();
    struct chan_msg m = { .id = "f1", .email = "nobody@example.org", .text = "x",
                          .transactional = true };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    m.id = "f2";
    m.email = "busy@example.org";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(2, 20000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(R[i].status, CHAN_FAILED);
        if (strcmp(R[i].msg_id, "f1") == 0) {
            assert_int_equal(R[i].code, 550);
            assert_string_equal(R[i].error, "smtp_550");
            assert_false(R[i].retryable);
        } else {
            assert_int_equal(R[i].code, 451);
            assert_true(R[i].retryable);
        }
    }

    /* Refused before queuing: no marketing relay; malformed addresses. */
    m.transactional = false;
    m.email = "carol@example.org";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_EINVAL);
    m.transactional = true;
    const char *bad[] = { "carol@example.org\r\nRCPT TO:<x@y>", "no-at", "a@b@c", "<a@b>",
                          "a b@c", "@b", NULL };
    for (int i = 0; bad[i]; i++) {
        m.email = bad[i];
        assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_EINVAL);
    }
    m.email = NULL;
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_EINVAL);
    m.email = "carol@example.org";
    m.id = "bad id";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_EINVAL);
    assert_int_equal(chan_capability(c, "+14155550100", on_cap, NULL), CHAN_ENOTSUP);
    chan_free(c);

    /* Wrong password: the relay says 535, permanent. */
    cfg.transactional.password = "wrong";
    c = chan_email_new(G.base, G.curl, &cfg);
    reset();
    m.id = "f3";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 20000);
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_int_equal(R[0].code, 535);
    assert_false(R[0].retryable);
    chan_free(c);

    /* The self-signed certificate is not trusted without its CA file. */
    cfg = email_cfg();
    cfg.transactional.ca_file = NULL;
    c = chan_email_new(G.base, G.curl, &cfg);
    reset();
    m.id = "f4";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 20000);
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_string_equal(R[0].error, "tls_verify_failed");
    assert_false(R[0].retryable);
    chan_free(c);
}

static void
test_email_marketing_relay_and_starttls_required(void **state)
{
    (void)state;
    struct chan_email_cfg cfg = email_cfg();
    char purl[128];
    int before_plain = mail_count(G.mail_plain), before_tls = mail_count(G.mail_tls);

    snprintf(purl, sizeof(purl), "smtp://127.0.0.1:%d", G.smtp_plain);
    cfg.has_marketing = true;
    cfg.marketing = (struct chan_email_relay){ .url = purl, .starttls = false,
                                               .from = "news@example.com", .verify = true };
    struct chan *c = chan_email_new(G.base, G.curl, &cfg);
    reset();
    struct chan_msg m = { .id = "k1", .email = "dave@example.org", .from = "ACME",
                          .text = "50% off", .transactional = false };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    m.id = "k2";
    m.transactional = true;
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(2, 20000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    assert_int_equal(R[1].status, CHAN_ACCEPTED);
    /* Each went through its own relay. */
    assert_int_equal(mail_count(G.mail_plain), before_plain + 1);
    assert_int_equal(mail_count(G.mail_tls), before_tls + 1);
    struct json_object *mail = read_json(mail_path(G.mail_plain, before_plain + 1)), *v;
    assert_js(mail, "headers.X-Smsgw-Id", "k1");
    assert_js(mail, "mail_from", "news@example.com");
    json_object_object_get_ex(mail, "tls", &v);
    assert_false(json_object_get_boolean(v));
    json_object_put(mail);
    mail = read_json(mail_path(G.mail_tls, before_tls + 1));
    assert_js(mail, "headers.X-Smsgw-Id", "k2");
    json_object_put(mail);
    chan_free(c);

    /* starttls = true towards a relay that does not offer it: refused, not
     * sent in clear. */
    cfg.marketing.starttls = true;
    c = chan_email_new(G.base, G.curl, &cfg);
    reset();
    m.id = "k3";
    m.transactional = false;
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 20000);
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_string_equal(R[0].error, "starttls_unavailable");
    assert_int_equal(mail_count(G.mail_plain), before_plain + 1);
    chan_free(c);
}

/* -------------------------------------------------------------- OTT */

static struct chan_ott_cfg
ott_cfg(unsigned timeout_ms)
{
    static char base[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/wa", G.http);
    return (struct chan_ott_cfg){ .name = "whatsapp", .lim = { .timeout_ms = timeout_ms },
                                  .base_url = base, .phone_number_id = "PNID1",
                                  .token = TOKEN, .verify = true };
}

static void
test_ott_text_and_template(void **state)
{
    (void)state;
    struct chan_ott_cfg cfg = ott_cfg(5000);
    struct chan *c = chan_ott_new(G.base, G.curl, &cfg);

    assert_string_equal(chan_name(c), "whatsapp");
    assert_int_equal(chan_type(c), CHAN_OTT);
    reset();
    struct chan_msg m = { .id = "o1", .to = "+14155550100", .text = "Hello \"there\" / ü" };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    assert_int_equal(strncmp(R[0].provider_id, "wamid.TEST", 10), 0);
    assert_int_equal(R[0].code, 200);
    struct json_object *req = last_request("/wa/");
    assert_js(req, "method", "POST");
    assert_js(req, "path", "/wa/PNID1/messages");
    assert_js(req, "auth", "Bearer " TOKEN);
    assert_js(req, "ctype", "application/json");
    assert_body(req, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                     "\"to\":\"14155550100\",\"type\":\"text\","
                     "\"text\":{\"preview_url\":false,\"body\":\"Hello \\\"there\\\" / ü\"}}");
    json_object_put(req);

    reset();
    const char *params[] = { "Alice", "123456" };
    struct chan_msg t = { .id = "o2", .to = "+447700900123", .template_name = "otp_code",
                          .template_lang = "en_GB", .template_params = params,
                          .ntemplate_params = 2 };
    assert_int_equal(chan_send(c, &t, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    req = last_request("/wa/");
    assert_body(req, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                     "\"to\":\"447700900123\",\"type\":\"template\",\"template\":{"
                     "\"name\":\"otp_code\",\"language\":{\"code\":\"en_GB\"},"
                     "\"components\":[{\"type\":\"body\",\"parameters\":["
                     "{\"type\":\"text\",\"text\":\"Alice\"},{\"type\":\"text\",\"text\":\"123456\"}]}]}}");
    json_object_put(req);

    /* Refused before sending. */
    struct chan_msg bad = { .id = "o3", .to = "14155550100", .text = "x" };
    assert_int_equal(chan_send(c, &bad, on_result, NULL), CHAN_EINVAL);
    bad.to = "+14155550100";
    bad.text = NULL;
    assert_int_equal(chan_send(c, &bad, on_result, NULL), CHAN_EINVAL);
    chan_free(c);
}

static void
test_ott_failures(void **state)
{
    (void)state;
    struct chan_ott_cfg cfg = ott_cfg(1500);
    struct chan *c = chan_ott_new(G.base, G.curl, &cfg);
    struct {
        const char *to, *error;
        bool retryable;
        long code;
    } cases[] = {
        { "+14155550500", "http_500_code_1", true, 500 },
        { "+14155550429", "http_429_code_130429", true, 429 },
        { "+14155550131", "http_400_code_131047", false, 400 },
        { "+14155550408", "timeout", true, 0 },
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);

    reset();
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "e%zu", i);
        struct chan_msg m = { .id = id, .to = cases[i].to, .text = "x" };
        assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    }
    wait_n((int)n, 20000);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "e%zu", i);
        for (int k = 0; k < nr; k++) {
            if (strcmp(R[k].msg_id, id) != 0)
                continue;
            assert_int_equal(R[k].status, CHAN_FAILED);
            if (strcmp(R[k].error, cases[i].error) != 0)
                fail_msg("%s: error %s, want %s", cases[i].to, R[k].error, cases[i].error);
            assert_int_equal(R[k].retryable, cases[i].retryable);
            assert_int_equal(R[k].code, cases[i].code);
        }
    }
    chan_free(c);

    /* A wrong token: 401, permanent. */
    cfg.token = "wrong";
    c = chan_ott_new(G.base, G.curl, &cfg);
    reset();
    struct chan_msg m = { .id = "e9", .to = "+14155550100", .text = "x" };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_string_equal(R[0].error, "http_401_code_190");
    assert_false(R[0].retryable);
    struct json_object *req = last_request("/wa/");
    assert_js(req, "auth", "Bearer wrong");
    json_object_put(req);
    chan_free(c);

    /* Nobody listening: a transport error, retryable. */
    char base[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/wa", G.closed);
    cfg = ott_cfg(3000);
    cfg.base_url = base;
    c = chan_ott_new(G.base, G.curl, &cfg);
    reset();
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_int_equal(strncmp(R[0].error, "transport_", 10), 0);
    assert_true(R[0].retryable);
    chan_free(c);
}

/* -------------------------------------------------------------- RCS */

static struct chan_rcs_cfg
rcs_cfg(void)
{
    static char base[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/rbm", G.http);
    return (struct chan_rcs_cfg){ .lim = { .timeout_ms = 5000 }, .base_url = base,
                                  .token = TOKEN, .agent_id = "acme_agent", .verify = true };
}

static void
test_rcs_capability_and_send(void **state)
{
    (void)state;
    struct chan_rcs_cfg cfg = rcs_cfg();
    struct chan *c = chan_rcs_new(G.base, G.curl, &cfg);

    assert_string_equal(chan_name(c), "rcs");
    reset();
    assert_int_equal(chan_capability(c, "+14155550100", on_cap, NULL), CHAN_OK);
    assert_int_equal(chan_capability(c, "+14155550404", on_cap, NULL), CHAN_OK);
    assert_int_equal(chan_capability(c, "+14155550500", on_cap, NULL), CHAN_OK);
    assert_int_equal(chan_capability(c, "4155550100", on_cap, NULL), CHAN_EINVAL);
    TL_RUN_UNTIL(G.base, ncaps >= 3, 10000);
    assert_int_equal(ncaps, 3);
    int seen[3] = { 0 };
    for (int i = 0; i < 3; i++)
        seen[caps[i] + 1]++;
    assert_int_equal(seen[0], 1);   /* -1: the 500 */
    assert_int_equal(seen[1], 1);   /* 0: the 404 */
    assert_int_equal(seen[2], 1);   /* 1 */
    struct json_object *req = last_request("/rbm/v1/phones/+14155550500/capabilities");
    assert_js(req, "method", "GET");
    assert_js(req, "auth", "Bearer " TOKEN);
    assert_js(req, "query.agentId", "acme_agent");
    assert_int_equal(strlen(js(req, "query.requestId")), 36);
    json_object_put(req);

    /* Text with suggestions. */
    reset();
    const char *sugg[] = { "Yes", "No thanks" };
    struct chan_msg m = { .id = "r-1/x", .to = "+14155550100", .text = "Confirm?",
                          .suggestions = sugg, .nsuggestions = 2 };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    assert_string_equal(R[0].provider_id, "r-1/x");
    req = last_request("/rbm/v1/phones/+14155550100/agentMessages");
    assert_js(req, "query.messageId", "r-1/x");    /* escaped on the wire */
    assert_js(req, "query.agentId", "acme_agent");
    assert_js(req, "ctype", "application/json");
    assert_body(req, "{\"contentMessage\":{\"text\":\"Confirm?\",\"suggestions\":["
                     "{\"reply\":{\"text\":\"Yes\",\"postbackData\":\"Yes\"}},"
                     "{\"reply\":{\"text\":\"No thanks\",\"postbackData\":\"No thanks\"}}]}}");
    json_object_put(req);

    /* A rich card. */
    reset();
    const char *one[] = { "Book now" };
    struct chan_msg card = { .id = "r2", .to = "+447700900123", .card_title = "Spring sale",
                             .card_description = "All rooms 20% off",
                             .card_media_url = "https://example.com/a.jpg", .suggestions = one,
                             .nsuggestions = 1 };
    assert_int_equal(chan_send(c, &card, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    req = last_request("/rbm/v1/phones/+447700900123/agentMessages");
    assert_body(req, "{\"contentMessage\":{\"richCard\":{\"standaloneCard\":{"
                     "\"cardOrientation\":\"VERTICAL\",\"cardContent\":{"
                     "\"title\":\"Spring sale\",\"description\":\"All rooms 20% off\","
                     "\"media\":{\"height\":\"MEDIUM\",\"contentInfo\":{\"fileUrl\":"
                     "\"https://example.com/a.jpg\"}},\"suggestions\":["
                     "{\"reply\":{\"text\":\"Book now\",\"postbackData\":\"Book now\"}}]}}}}}");
    json_object_put(req);

    /* Not capable on send: permanent, so the router falls through at once. */
    reset();
    m.id = "r3";
    m.to = "+14155550404";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    m.id = "r4";
    m.to = "+14155550500";
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    wait_n(2, 10000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(R[i].status, CHAN_FAILED);
        if (strcmp(R[i].msg_id, "r3") == 0) {
            assert_string_equal(R[i].error, "not_rcs_capable");
            assert_false(R[i].retryable);
        } else {
            assert_string_equal(R[i].error, "http_500");
            assert_true(R[i].retryable);
        }
    }
    /* Limits checked before queuing. */
    const char *five[] = { "a", "b", "c", "d", "e" };
    card.suggestions = five;
    card.nsuggestions = 5;
    assert_int_equal(chan_send(c, &card, on_result, NULL), CHAN_EINVAL);
    const char *longone[] = { "this suggestion is far too long" };
    m.suggestions = longone;
    m.nsuggestions = 1;
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_EINVAL);
    chan_free(c);
}

/* The "auth" of every logged request to prefix, in order (at most 16). */
struct auths {
    char v[16][64];
    int n;
};

static void
auth_one(struct json_object *req, void *arg)
{
    struct auths *a = arg;
    const char *v = js(req, "auth");
    if (a->n < 16)
        snprintf(a->v[a->n++], sizeof(a->v[0]), "%s", v ? v : "");
}

static int
request_auths(const char *prefix, struct auths *a)
{
    a->n = 0;
    each_request(prefix, auth_one, a);
    return a->n;
}

/* Token grants the endpoint answered with "grant": what (ok or the reason). */
struct grants {
    const char *what;
    int n;
};

static void
grant_one(struct json_object *req, void *arg)
{
    struct grants *g = arg;
    const char *v = js(req, "grant");
    g->n += v && strcmp(v, g->what) == 0;
}

static int
count_grants(const char *what)
{
    struct grants g = { what, 0 };
    each_request("/token", grant_one, &g);
    return g.n;
}

/*
 * RCS with a service-account key instead of a token (an access token lives
 * an hour): the connector gets its tokens from the token endpoint (a JWT
 * the stand-in verifies with the public key) and renews them before they
 * expire (here they live 4 s: renewed at 2 s). A send before the first
 * token fails retryable; a key the endpoint refuses leaves every send
 * failing retryable, never sending without a token.
 */
/* Send m as id to to and wait for its one result (in R[0]). */
static void
send_wait(struct chan *c, struct chan_msg *m, const char *id, const char *to)
{
    reset();
    m->id = id;
    m->to = to;
    assert_int_equal(chan_send(c, m, on_result, NULL), CHAN_OK);
    wait_n(1, 10000);
}

static void
test_rcs_service_account(void **state)
{
    (void)state;
    struct chan_rcs_cfg cfg = rcs_cfg();
    cfg.token = NULL;
    cfg.service_account_file = G.sa;
    struct chan *c = chan_rcs_new(G.base, G.curl, &cfg);
    int ok0 = count_grants("ok");

    /* Sent at once, the first message finds no token yet: retryable, as
     * the router would retry it. */
    struct chan_msg m = { .id = "sa-1", .to = "+14155550100", .text = "hello" };
    int unavailable = 0;
    for (int i = 0; i < 50; i++) {
        reset();
        assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
        wait_n(1, 10000);
        if (R[0].status == CHAN_ACCEPTED)
            break;
        assert_string_equal(R[0].error, "oauth_token_unavailable");
        assert_true(R[0].retryable);
        unavailable++;
        TL_RUN_UNTIL(G.base, false, 100);
    }
    assert_true(unavailable >= 1);
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    struct auths auths;
    int n = request_auths("/rbm/v1/phones/+14155550100/agentMessages", &auths);
    assert_true(n >= 1);
    char first[64];
    snprintf(first, sizeof(first), "%s", auths.v[n - 1]);
    assert_int_equal(strncmp(first, "Bearer sa-token-", 16), 0);
    assert_int_equal(count_grants("ok"), ok0 + 1);

    /* Past its half life, a new token is in use (and the old one would
     * expire at 4 s). */
    TL_RUN_UNTIL(G.base, count_grants("ok") >= ok0 + 2, 6000);
    assert_int_equal(count_grants("ok"), ok0 + 2);
    send_wait(c, &m, "sa-2", "+14155550101");
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    n = request_auths("/rbm/v1/phones/+14155550101/agentMessages", &auths);
    assert_int_equal(n, 1);
    assert_int_equal(strncmp(auths.v[0], "Bearer sa-token-", 16), 0);
    assert_string_not_equal(auths.v[0], first);

    /* The provider revokes the token in use (401): retryable, the token is
     * dropped at once (the next send waits for a new one instead of
     * meeting 401 again), and a new one comes: 5 s after the last request
     * at the latest, here the 2 s renewal's. */
    int ok1 = count_grants("ok");
    send_wait(c, &m, "sa-4", "+14155550401");
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_string_equal(R[0].error, "http_401");
    assert_true(R[0].retryable);
    if (count_grants("ok") == ok1) {     /* (no renewal in between) */
        send_wait(c, &m, "sa-5", "+14155550105");
        if (count_grants("ok") == ok1) {
            assert_int_equal(R[0].status, CHAN_FAILED);
            assert_string_equal(R[0].error, "oauth_token_unavailable");
        }
    }
    TL_RUN_UNTIL(G.base, count_grants("ok") > ok1, 6000);
    assert_true(count_grants("ok") > ok1);
    TL_RUN_UNTIL(G.base, metrics_value("smsgw_oauth_tokens_total", "channel=\"rcs\"") >= 3, 2000);
    assert_true(metrics_value("smsgw_oauth_tokens_total", "channel=\"rcs\"") >= 3);
    assert_true(metrics_value("smsgw_oauth_failures_total", "channel=\"rcs\"") <= 0);
    chan_free(c);

    /* A key the endpoint does not know: no token, every send retryable. */
    int bad0 = count_grants("bad signature");
    cfg.service_account_file = G.sa_wrong;
    c = chan_rcs_new(G.base, G.curl, &cfg);
    TL_RUN_UNTIL(G.base, count_grants("bad signature") > bad0, 5000);
    assert_true(count_grants("bad signature") > bad0);
    send_wait(c, &m, "sa-3", "+14155550102");
    assert_int_equal(R[0].status, CHAN_FAILED);
    assert_string_equal(R[0].error, "oauth_token_unavailable");
    assert_true(R[0].retryable);
    assert_int_equal(request_auths("/rbm/v1/phones/+14155550102/", &auths), 0);
    TL_RUN_UNTIL(G.base, metrics_value("smsgw_oauth_failures_total", "channel=\"rcs\"") >= 1, 3000);
    assert_true(metrics_value("smsgw_oauth_failures_total", "channel=\"rcs\"") >= 1);
    chan_free(c);
}

/* --------------------------------------------- limits, pacing, shutdown */

static void
test_concurrency_queue_and_shutdown(void **state)
{
    (void)state;
    struct chan_ott_cfg cfg = ott_cfg(60000);
    cfg.lim.concurrency = 2;
    cfg.lim.max_queue = 3;
    struct chan *c = chan_ott_new(G.base, G.curl, &cfg);
    struct chan_stats st;
    int before = count_requests("/wa/");

    reset();
    /* Hanging requests: two go out, three wait, the sixth is refused. */
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "h%d", i);
        struct chan_msg m = { .id = id, .to = "+14155550408", .text = "x" };
        int rc = chan_send(c, &m, on_result, NULL);
        if (i < 5) {
            /* queued (3 at most) before the loop has run even once... */
            if (i < 3)
                assert_int_equal(rc, CHAN_OK);
            else
                assert_int_equal(rc, CHAN_EFULL);
        } else {
            assert_int_equal(rc, CHAN_EFULL);
        }
    }
    TL_RUN_UNTIL(G.base, count_requests("/wa/") >= before + 2, 10000);
    chan_get_stats(c, &st);
    assert_int_equal(st.inflight, 2);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.refused_full, 3);
    /* ...and after two started, the queue has room again. */
    struct chan_msg m = { .id = "h9", .to = "+14155550408", .text = "x" };
    assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    /* Let the loop run a while: still never more than two on the wire. */
    TL_RUN_UNTIL(G.base, false, 300);
    chan_get_stats(c, &st);
    assert_int_equal(st.inflight, 2);
    assert_int_equal(count_requests("/wa/"), before + 2);
    assert_int_equal(nr, 0);
    /* Shutdown reports every message, retryable. */
    chan_free(c);
    assert_int_equal(nr, 4);
    for (int i = 0; i < nr; i++) {
        assert_int_equal(R[i].status, CHAN_FAILED);
        assert_string_equal(R[i].error, "shutdown");
        assert_true(R[i].retryable);
    }
    assert_int_equal(curlev_active(G.curl), 0);
}

static struct chan *free_me;

static void
free_on_first(const struct chan_result *r, void *arg)
{
    on_result(r, arg);
    chan_free(free_me);      /* from inside its own callback */
    chan_free(free_me);      /* and again: harmless */
}

static void
test_free_from_own_callback(void **state)
{
    (void)state;
    struct chan_ott_cfg cfg = ott_cfg(60000);
    free_me = chan_ott_new(G.base, G.curl, &cfg);

    reset();
    /* Two hanging requests and one that is answered at once. */
    struct chan_msg quick = { .id = "q0", .to = "+14155550100", .text = "x" };
    struct chan_msg hang = { .id = "q1", .to = "+14155550408", .text = "x" };
    assert_int_equal(chan_send(free_me, &hang, free_on_first, NULL), CHAN_OK);
    hang.id = "q2";
    assert_int_equal(chan_send(free_me, &hang, free_on_first, NULL), CHAN_OK);
    assert_int_equal(chan_send(free_me, &quick, free_on_first, NULL), CHAN_OK);
    wait_n(3, 10000);
    /* The quick one was answered; its callback freed the connector, which
     * reported the two hanging ones as shutdown first. */
    assert_string_equal(R[0].msg_id, "q0");
    assert_int_equal(R[0].status, CHAN_ACCEPTED);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(R[i].status, CHAN_FAILED);
        assert_string_equal(R[i].error, "shutdown");
    }
    assert_int_equal(curlev_active(G.curl), 0);
    /* The loop goes on without it. */
    TL_RUN_UNTIL(G.base, false, 100);
    assert_int_equal(nr, 3);
}

static void
test_mps_pacing(void **state)
{
    (void)state;
    struct chan_ott_cfg cfg = ott_cfg(5000);
    cfg.lim.mps = 1;
    struct chan *c = chan_ott_new(G.base, G.curl, &cfg);
    struct chan_stats st;

    reset();
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "p%d", i);
        struct chan_msg m = { .id = id, .to = "+14155550100", .text = "x" };
        assert_int_equal(chan_send(c, &m, on_result, NULL), CHAN_OK);
    }
    /* At 1 mps with nothing else limiting, the first answer comes back while
     * the other two still wait for their slots (with mps 0 all three would
     * be on the wire at once). */
    wait_n(1, 10000);
    chan_get_stats(c, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.inflight + st.queued, 2);
    assert_true(st.queued >= 1);
    /* All go eventually. */
    wait_n(3, 10000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(R[i].status, CHAN_ACCEPTED);
    assert_string_equal(R[0].msg_id, "p0");
    assert_string_equal(R[2].msg_id, "p2");
    chan_free(c);
}

/* ------------------------------------------------------------ webhooks */

#define MAXE 16
static struct chan_event E[MAXE];
static char E_id[MAXE][128], E_err[MAXE][128], E_rcpt[MAXE][64];
static int ne;

static void
on_event(const struct chan_event *ev, void *arg)
{
    (void)arg;
    if (ne >= MAXE)
        return;
    E[ne] = *ev;
    snprintf(E_id[ne], sizeof(E_id[0]), "%s", ev->provider_id ? ev->provider_id : "");
    snprintf(E_err[ne], sizeof(E_err[0]), "%s", ev->error ? ev->error : "");
    snprintf(E_rcpt[ne], sizeof(E_rcpt[0]), "%s", ev->recipient ? ev->recipient : "");
    ne++;
}

static int
parse_ott(const char *s)
{
    ne = 0;
    return chan_ott_parse_webhook(s, strlen(s), on_event, NULL);
}

static int
parse_rcs(const char *s)
{
    ne = 0;
    return chan_rcs_parse_webhook(s, strlen(s), on_event, NULL);
}

static void
test_ott_webhook(void **state)
{
    (void)state;
    const char *body =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"WABA\",\"changes\":["
        "{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"phone_number_id\":\"PNID1\"},"
        "\"statuses\":["
        "{\"id\":\"wamid.A\",\"status\":\"sent\",\"timestamp\":\"1767225600\",\"recipient_id\":\"14155550100\"},"
        "{\"id\":\"wamid.A\",\"status\":\"delivered\",\"timestamp\":\"1767225601\",\"recipient_id\":\"14155550100\"},"
        "{\"id\":\"wamid.A\",\"status\":\"read\",\"timestamp\":\"1767225602\",\"recipient_id\":\"14155550100\"},"
        "{\"id\":\"wamid.B\",\"status\":\"failed\",\"timestamp\":\"1767225603\",\"recipient_id\":\"447700900123\","
        "\"errors\":[{\"code\":131026,\"title\":\"Message undeliverable\"}]},"
        "{\"id\":\"wamid.C\",\"status\":\"deleted\"},"
        "{\"status\":\"sent\"}]},\"field\":\"messages\"},"
        "{\"value\":{\"messaging_product\":\"whatsapp\",\"messages\":[{\"from\":\"14155550100\","
        "\"id\":\"wamid.IN\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]},\"field\":\"messages\"}"
        "]}]}";

    assert_int_equal(parse_ott(body), 4);
    assert_int_equal(E[0].status, CHAN_SENT);
    assert_int_equal(E[1].status, CHAN_DELIVERED);
    assert_int_equal(E[2].status, CHAN_READ);
    assert_int_equal(E[3].status, CHAN_FAILED);
    assert_string_equal(E_id[0], "wamid.A");
    assert_string_equal(E_id[3], "wamid.B");
    assert_string_equal(E_rcpt[3], "447700900123");
    assert_string_equal(E_err[3], "131026 Message undeliverable");
    assert_int_equal(E[2].ts, 1767225602);

    assert_int_equal(parse_ott("{\"entry\":[]}"), 0);
    assert_int_equal(parse_ott("{\"object\":\"x\"}"), -1);
    assert_int_equal(parse_ott("{\"entry\":[{\"changes\":["), -1);
    assert_int_equal(parse_ott("not json"), -1);
    assert_int_equal(parse_ott(""), -1);
    /* Trailing garbage after a valid object is refused, not half-read. */
    assert_int_equal(parse_ott("{\"entry\":[]} {\"entry\":[]}"), -1);

    /* X-Hub-Signature-256: a published HMAC-SHA256 test vector. */
    const char *fox = "The quick brown fox jumps over the lazy dog";
    const char *sig = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
    assert_true(chan_ott_verify_signature(fox, strlen(fox), sig, "key"));
    assert_true(chan_ott_verify_signature(
        fox, strlen(fox), "sha256=F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8",
        "key"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox), sig, "other"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox) - 1, sig, "key"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox), sig + 7, "key"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox), "sha256=f7bc", "key"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox), NULL, "key"));
    assert_false(chan_ott_verify_signature(fox, strlen(fox), sig, ""));
}

static void
test_rcs_webhook(void **state)
{
    (void)state;
    assert_int_equal(parse_rcs("{\"agentId\":\"a1\",\"eventType\":\"DELIVERED\",\"eventId\":\"e1\","
                               "\"messageId\":\"m-41\",\"senderPhoneNumber\":\"+14155550100\","
                               "\"sendTime\":\"2026-03-01T10:00:00.123456Z\"}"),
                     1);
    assert_int_equal(E[0].status, CHAN_DELIVERED);
    assert_string_equal(E_id[0], "m-41");
    assert_string_equal(E_rcpt[0], "+14155550100");
    assert_int_equal(E[0].ts, 1772359200);

    /* Pub/Sub push envelope with the event in base64. */
    assert_int_equal(
        parse_rcs("{\"message\":{\"attributes\":{},\"data\":\"eyJhZ2VudElkIjoiYTEiLCJldmVudFR5cGUiOiJSRUFEIiwiZXZlbnRJZCI6ImUyIiwibWVzc2FnZUlkIjoibS00MiIsInNlbmRlclBob25lTnVtYmVyIjoiKzE0MTU1NTUwMTAwIiwic2VuZFRpbWUiOiIyMDI2LTAzLTAxVDEwOjAwOjAwLjVaIn0=\","
                  "\"messageId\":\"123\",\"publishTime\":\"2026-03-01T10:00:01Z\"},"
                  "\"subscription\":\"projects/p/subscriptions/s\"}"),
        1);
    assert_int_equal(E[0].status, CHAN_READ);
    assert_string_equal(E_id[0], "m-42");

    /* Not status events: typing, a user's message. */
    assert_int_equal(parse_rcs("{\"eventType\":\"IS_TYPING\",\"messageId\":\"x\"}"), 0);
    assert_int_equal(parse_rcs("{\"senderPhoneNumber\":\"+14155550100\",\"messageId\":\"u1\","
                               "\"text\":\"hello\"}"), 0);
    /* Malformed. */
    assert_int_equal(parse_rcs("{\"message\":{\"data\":\"!!!not base64\"}}"), -1);
    assert_int_equal(parse_rcs("{\"message\":{\"data\":\"bm90IGpzb24=\"}}"), -1);   /* "not json" */
    assert_int_equal(parse_rcs("[1,2]"), -1);
    assert_int_equal(parse_rcs("{}"), -1);
    assert_int_equal(parse_rcs("{\"eventType\":"), -1);
}

/* -------------------------------------------------------- template, config */

static void
test_template(void **state)
{
    (void)state;
    struct chan_msg m = { .id = "m7", .from = "12345", .to = "+1415", .text = "hi {{to}}" };
    char *s = chan_template("{{from}}->{{to}}: {{text}} [{{id}}] {{other}} {{ {{text", &m);
    assert_string_equal(s, "12345->+1415: hi {{to}} [m7] {{other}} {{ {{text");
    free(s);
    m.from = NULL;
    s = chan_template("<{{from}}>", &m);
    assert_string_equal(s, "<>");
    free(s);
}

static config_t *
load_conf(const char *text)
{
    static config_t cfg;
    char path[600];
    snprintf(path, sizeof(path), "%s/c.conf", G.dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    config_init(&cfg);
    if (!config_read_file(&cfg, path))
        fail_msg("%s:%d %s", config_error_file(&cfg), config_error_line(&cfg),
                 config_error_text(&cfg));
    return &cfg;
}

static void
test_config(void **state)
{
    (void)state;
    struct cfg_errs errs = { 0 };
    struct chan_config cc;
    config_t *c = load_conf(
        "channels = {\n"
        "  email = {\n"
        "    transactional = { url = \"smtp://smtp.example.com:587\"; username = \"u\";\n"
        "                      password = \"p\"; from = \"Alerts <a@example.com>\"; };\n"
        "    marketing = { url = \"smtps://mkt.example.com\"; from = \"news@example.com\"; };\n"
        "    subject = \"From {{from}}\"; body = \"{{text}}\"; timeout_ms = 20000; mps = 5;\n"
        "  };\n"
        "  ott = { base_url = \"https://graph.facebook.com/v19.0/\"; phone_number_id = \"1055\";\n"
        "          token = \"EAAB\"; concurrency = 8; app_secret = \"s3cret-app\";\n"
        "          verify_token = \"vt\"; retry_attempts = 5; retry_backoff_ms = 250; };\n"
        "  rcs = { base_url = \"https://rcsbusinessmessaging.googleapis.com\"; token = \"ya29\";\n"
        "          agent_id = \"acme\"; max_queue = 500; client_token = \"SJENCPGJESMGUFPY\";\n"
        "          webhook_verify = false; };\n"
        "};\n");
    chan_config_parse(&cc, config_lookup(c, "channels"), &errs);
    cfg_errs_print(&errs, stderr);
    assert_int_equal(errs.n, 0);
    assert_true(cc.has_email && cc.has_ott && cc.has_rcs);
    assert_true(cc.email.transactional.starttls);
    assert_true(cc.email.has_marketing);
    assert_int_equal(cc.email.lim.timeout_ms, 20000);
    assert_int_equal(cc.email.lim.mps, 5);
    assert_int_equal(cc.email.lim.concurrency, 16);
    assert_string_equal(cc.ott.base_url, "https://graph.facebook.com/v19.0");
    assert_int_equal(cc.ott.lim.concurrency, 8);
    assert_int_equal(cc.ott.lim.timeout_ms, 10000);
    assert_int_equal(cc.rcs.lim.max_queue, 500);
    assert_string_equal(cc.rcs.name, "rcs");
    /* Webhook and retry settings; defaults where not given. */
    assert_string_equal(cc.ott.app_secret, "s3cret-app");
    assert_string_equal(cc.ott.verify_token, "vt");
    assert_true(cc.ott.webhook_verify);
    assert_int_equal(cc.ott.lim.retry_attempts, 5);
    assert_int_equal(cc.ott.lim.retry_backoff_ms, 250);
    assert_string_equal(cc.rcs.client_token, "SJENCPGJESMGUFPY");
    assert_false(cc.rcs.webhook_verify);
    assert_int_equal(cc.rcs.lim.retry_attempts, 3);
    assert_int_equal(cc.email.lim.retry_attempts, 3);
    assert_int_equal(cc.email.lim.retry_backoff_ms, 1000);
    chan_config_free(&cc);
    config_destroy(c);

    c = load_conf(
        "channels = {\n"
        "  email = {\n"
        "    transactional = { url = \"http://smtp.example.com\"; from = \"nobody\";\n"
        "                      username = \"u\"; };\n"
        "    marketing = { url = \"smtp://m\"; from = \"a@b\"; username = \"u\"; password = \"p\";\n"
        "                  starttls = false; };\n"
        "    subject = 7;\n"
        "  };\n"
        "  ott = { base_url = \"ftp://example\"; phone_number_id = \"a/b\"; concurrency = 0;\n"
        "          timeout_ms = 1.5; };\n"
        "  rcs = { token = \"has space\"; name = \"ott\"; colour = \"blue\"; };\n"
        "  sms = { };\n"
        "};\n"
        "more = { ott = { base_url = \"https://x\"; phone_number_id = \"1\"; token = \"t\";\n"
        "                 app_secret = \"short\"; retry_attempts = 0; webhook_verify = 1; };\n"
        "       };\n");
    chan_config_parse(&cc, config_lookup(c, "channels"), &errs);
    struct chan_config more;
    chan_config_parse(&more, config_lookup(c, "more"), &errs);
    chan_config_free(&more);
    cfg_errs_print(&errs, stderr);
    const char *want[] = {
        "c.conf:3: channels.email.transactional: \"url\" must start with smtp:// or smtps://",
        "c.conf:3: channels.email.transactional: \"from\" must be",
        "c.conf:3: channels.email.transactional: \"username\" and \"password\" go together",
        "c.conf:6: channels.email.marketing: AUTH without TLS",
        "c.conf:7: channels.email: \"subject\" must be a string",
        "c.conf:9: channels.ott: \"base_url\" must start with https:// or http://",
        "c.conf:9: channels.ott: \"phone_number_id\" must be letters",
        "c.conf:9: channels.ott: \"concurrency\" must be 1 to 1000",
        "c.conf:10: channels.ott: \"timeout_ms\" must be an integer",
        "c.conf:9: channels.ott: missing required setting \"token\"",
        "c.conf:11: channels.rcs: missing required setting \"base_url\"",
        "c.conf:11: channels.rcs: \"token\" must not contain spaces",
        "c.conf:11: channels.rcs: unknown setting \"colour\"",
        "c.conf:12: channels: unknown setting \"sms\"",
        "channels: name \"ott\" used twice",
        "c.conf:15: channels.ott: \"app_secret\" must be",
        "c.conf:15: channels.ott: \"retry_attempts\" must be 1 to 20",
        "c.conf:15: channels.ott: \"webhook_verify\" must be",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!cfg_errs_has(&errs, want[i]))
            fail_msg("missing error: %s", want[i]);
    assert_int_equal(errs.n, sizeof(want) / sizeof(want[0]));
    cfg_errs_free(&errs);
    chan_config_free(&cc);
    config_destroy(c);

    /* Absent group: nothing configured, no error. */
    chan_config_parse(&cc, NULL, &errs);
    assert_false(cc.has_email || cc.has_ott || cc.has_rcs);
    assert_int_equal(errs.n, 0);
}

/* The token endpoint's answers: a token only from a 200 with a usable
 * token and lifetime; otherwise the reason and Google's error text. */
static void
test_oauth_parse_answer(void **state)
{
    (void)state;
    char *tok, why[64], detail[300];
    long long exp;

    assert_int_equal(oauth_parse_answer(200, "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,"
                                             "\"token_type\":\"Bearer\"}", &tok, &exp, why,
                                        sizeof(why), detail, sizeof(detail)), 0);
    assert_string_equal(tok, "ya29.abc");
    assert_int_equal(exp, 3599);
    free(tok);
    assert_int_equal(oauth_parse_answer(400, "{\"error\":\"invalid_grant\",\"error_description\":"
                                             "\"Invalid JWT Signature.\"}", &tok, &exp, why,
                                        sizeof(why), detail, sizeof(detail)), -1);
    assert_null(tok);
    assert_string_equal(why, "http_400");
    assert_string_equal(detail, "invalid_grant: Invalid JWT Signature.");
    const char *bad[] = {
        "{\"access_token\":\"two words\",\"expires_in\":3599}",   /* would break the header */
        "{\"access_token\":\"t\",\"expires_in\":\"3599\"}",          /* lifetime not a number */
        "{\"access_token\":\"t\",\"expires_in\":0}",
        "{\"expires_in\":3599}",
        "[\"access_token\"]",
        "not json",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(oauth_parse_answer(200, bad[i], &tok, &exp, why, sizeof(why), detail,
                                            sizeof(detail)), -1);
        assert_null(tok);
        assert_string_equal(why, "bad_answer");
    }
    assert_int_equal(oauth_parse_answer(200, NULL, &tok, &exp, why, sizeof(why), detail,
                                        sizeof(detail)), -1);
    assert_string_equal(detail, "no body");
}

/* channels.rcs with a service-account key: checked when the config is
 * (the file read, its key usable), and not together with a token. */
static void
test_rcs_service_account_config(void **state)
{
    (void)state;
    struct chan_config cc;
    struct cfg_errs errs = { 0 };
    char text[4096], notjson[600];

    snprintf(text, sizeof(text),
             "channels = { rcs = { base_url = \"https://rcs.example\";\n"
             "  service_account_file = \"%s\"; }; };\n", G.sa);
    config_t *c = load_conf(text);
    chan_config_parse(&cc, config_lookup(c, "channels"), &errs);
    cfg_errs_print(&errs, stderr);
    assert_int_equal(errs.n, 0);
    assert_string_equal(cc.rcs.service_account_file, G.sa);
    assert_null(cc.rcs.token);
    chan_config_free(&cc);
    config_destroy(c);

    snprintf(notjson, sizeof(notjson), "%s/notjson.json", G.dir);
    FILE *f = fopen(notjson, "w");
    fputs("-----BEGIN PRIVATE KEY-----\n", f);
    fclose(f);
    snprintf(text, sizeof(text),
             "channels = {\n"
             "  rcs = { base_url = \"https://rcs.example\"; token = \"ya29\";\n"
             "          service_account_file = \"%s\"; };\n"
             "};\n"
             "b = { rcs = { base_url = \"https://rcs.example\";\n"
             "              service_account_file = \"%s/none.json\"; }; };\n"
             "d = { rcs = { base_url = \"https://rcs.example\";\n"
             "              service_account_file = \"%s\"; }; };\n",
             G.sa, G.dir, notjson);
    c = load_conf(text);
    chan_config_parse(&cc, config_lookup(c, "channels"), &errs);
    chan_config_free(&cc);
    chan_config_parse(&cc, config_lookup(c, "b"), &errs);
    chan_config_free(&cc);
    chan_config_parse(&cc, config_lookup(c, "d"), &errs);
    chan_config_free(&cc);
    cfg_errs_print(&errs, stderr);
    char want_none[700];
    snprintf(want_none, sizeof(want_none),
             "c.conf:6: channels.rcs: service_account_file \"%s/none.json\": cannot read it: "
             "No such file or directory", G.dir);
    const char *want[] = {
        "c.conf:2: channels.rcs: \"token\" and \"service_account_file\" both set",
        want_none,
        "not JSON: expected the service-account key file",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!cfg_errs_has(&errs, want[i]))
            fail_msg("missing error: %s", want[i]);
    assert_int_equal(errs.n, 3);
    cfg_errs_free(&errs);
    config_destroy(c);
}


/* ================================================= smsgwd with the channels
 *
 * The fallback chain in the daemon, against the same provider and SMTP
 * servers: provider webhooks (OTT, RCS) mapped back to the record, and
 * retryable failures retried on the same channel. Numbers in 1212555 are
 * no-SMS (numbering.no_sms), so the chain runs at accept without an SMSC;
 * status callbacks go to the provider stand-in's /cb/ path, which logs them.
 */

#define KEY GWFIX_KEY
#define APP_SECRET "app-secret-0123"
#define CLIENT_TOKEN "client-token-0123"

static const char *gw_log;      /* the running smsgwd's, for failure reports */

static void
gw_start(struct gwfix *g)
{
    gw_log = g->gwlog;
    gwfix_start_gw(g);
}

/* smsgwd with its own Redis; its one SMSC port (sim 0's) has nothing
 * listening: numbers here are no-SMS. */
static int
gw_setup(void **state)
{
    struct gwfix *g = gwfix_new(0);
    char hash[65];

    config_sha256_hex(KEY, hash);
    gwfix_write_conf(g,
            "instance = \"test-1\";\n"
            "log_level = \"debug\";\n"
            "redis = { host = \"127.0.0.1\"; port = %d; prefix = \"t:\"; timeout_ms = 1000; };\n"
            "http = { listen = \"127.0.0.1\"; port = %d; };\n"
            "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"acme\";\n"
            "           password = \"secret\"; reconnect_min_ms = 1000; reconnect_max_ms = 5000; } );\n"
            "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
            "routes = ( { name = \"default\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"\"]; } );\n"
            "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; } );\n"
            "numbering = { no_sms = ( { prefix = \"1212555\"; kind = \"landline\"; } ); };\n"
            "channels = {\n"
            "  email = { transactional = { url = \"smtp://127.0.0.1:%d\"; starttls = false;\n"
            "            from = \"Alerts <alerts@example.com>\"; }; timeout_ms = 5000; };\n"
            "  ott = { base_url = \"http://127.0.0.1:%d/wa\"; phone_number_id = \"1055\";\n"
            "          token = \"%s\"; timeout_ms = 5000; app_secret = \"%s\";\n"
            "          verify_token = \"vt-1\"; retry_backoff_ms = 200; };\n"
            "  rcs = { base_url = \"http://127.0.0.1:%d/rbm\"; token = \"%s\";\n"
            "          timeout_ms = 5000; client_token = \"%s\"; };\n"
            "};\n",
            g->redis.port, g->http_port, g->sim[0].port, hash, G.smtp_plain, G.http, TOKEN,
            APP_SECRET, G.http, TOKEN, CLIENT_TOKEN);
    gw_start(g);
    *state = g;
    return 0;
}

static int
gw_teardown(void **state)
{
    struct gwfix *g = *state;
    int rc = 0;
    /* A clean stop: exit 0, nothing for ASan to report. */
    if (g->gw > 0 && !tl_exited_ok(tl_stop(g->gw, SIGTERM, 10000))) {
        tl_dump_tail(g->gwlog);
        fprintf(stderr, "smsgwd did not exit cleanly\n");
        rc = -1;
    }
    g->gw = 0;
    gw_log = NULL;
    gwfix_free(g);
    return rc;
}

/* The history entries of a record with this state, in order, as
 * "detail" strings into out (at most max); returns how many. */
static int
history(const char *record, const char *state, char out[][320], int max)
{
    struct json_object *o = json_tokener_parse(record), *h;
    int n = 0;
    if (!o || !json_object_object_get_ex(o, "history", &h))
        fail_msg("no history in %s", record);
    for (size_t i = 0; i < json_object_array_length(h) && n < max; i++) {
        struct json_object *e = json_object_array_get_idx(h, i);
        const char *st = js(e, "state"), *d = js(e, "detail");
        if (st && strcmp(st, state) == 0)
            snprintf(out[n++], 320, "%s", d ? d : "");
    }
    json_object_put(o);
    return n;
}

/* The provider id the chain's accepted step recorded ("provider_id=X "). */
static char *
accepted_provider_id(const char *record)
{
    static char pid[256];
    char d[8][320];
    int n = history(record, "fallback", d, 8);
    for (int i = 0; i < n; i++) {
        const char *p = strstr(d[i], "result=accepted provider_id=");
        if (p) {
            p += strlen("result=accepted provider_id=");
            snprintf(pid, sizeof(pid), "%.*s", (int)strcspn(p, " "), p);
            return pid;
        }
    }
    fail_msg("no accepted step in %s", record);
    return NULL;
}

/* One raw HTTP POST (or GET when body is NULL) with one extra header;
 * returns the status, the response body into resp (size bytes). */
static int
raw_http(int port, const char *method, const char *path, const char *hname, const char *hval,
         const char *body, char *resp, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        fail_msg("cannot connect to %d", port);
    size_t bl = body ? strlen(body) : 0;
    char *req = malloc(bl + 1024);
    int n = snprintf(req, 1024, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
                     method, path, bl, hname ? hname : "", hname ? ": " : "",
                     hname ? hval : "");
    if (hname)
        n += snprintf(req + n, 8, "\r\n");
    if (bl)
        memcpy(req + n, body, bl);
    for (size_t off = 0; off < (size_t)n + bl;) {
        ssize_t w = write(fd, req + off, (size_t)n + bl - off);
        if (w <= 0)
            fail_msg("write failed");
        off += (size_t)w;
    }
    free(req);
    static char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        if (gw_log)
            tl_dump_tail(gw_log);
        fail_msg("no HTTP answer to %s %s: %s", method, path, buf);
    }
    const char *b = strstr(buf, "\r\n\r\n");
    if (resp)
        snprintf(resp, size, "%s", b ? b + 4 : "");
    return status;
}

/* WhatsApp's signature header value for body. */
static const char *
wa_sign(const char *body, const char *secret)
{
    static char hdr[80 + 2 * EVP_MAX_MD_SIZE];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, strlen(body),
         md, &len);
    int n = snprintf(hdr, sizeof(hdr), "sha256=");
    for (unsigned i = 0; i < len; i++)
        n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "%02x", md[i]);
    return hdr;
}

/* A WhatsApp status webhook for one status. */
static const char *
wa_status(const char *wamid, const char *status, const char *errors)
{
    static char b[2048];
    snprintf(b, sizeof(b),
             "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"8856\",\"changes\":"
             "[{\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{\"phone_number_id\":"
             "\"1055\"},\"statuses\":[{\"id\":\"%s\",\"status\":\"%s\",\"timestamp\":"
             "\"1795787068\",\"recipient_id\":\"12125550100\"%s%s}]},\"field\":\"messages\"}]}]}",
             wamid, status, errors ? ",\"errors\":" : "", errors ? errors : "");
    return b;
}

static int
post_ott_hook(struct gwfix *g, const char *body, const char *signature, char *resp, size_t size)
{
    return raw_http(g->http_port, "POST", "/v1/webhooks/ott", "X-Hub-Signature-256", signature, body,
                    resp, size);
}

/* The callbacks the provider stand-in received for msg id, in order, as
 * "state,state,..." */
static const char *
callbacks_for(const char *id)
{
    static char out[1024];
    FILE *f = fopen(G.plog, "r");
    char line[65536];
    out[0] = 0;
    if (!f)
        return out;
    while (fgets(line, sizeof(line), f)) {
        struct json_object *o = json_tokener_parse(line);
        const char *p = js(o, "path"), *mid = js(o, "body.id"), *st = js(o, "body.state");
        if (p && strncmp(p, "/cb/", 4) == 0 && mid && st && strcmp(mid, id) == 0)
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? "," : "",
                     st);
        json_object_put(o);
    }
    fclose(f);
    return out;
}

static void
wait_callback(const char *id, const char *states)
{
    for (int i = 0; i < 200 && !strstr(callbacks_for(id), states); i++)
        tl_sleep_ms(50);
    if (!strstr(callbacks_for(id), states))
        fail_msg("callbacks for %s: \"%s\", wanted \"%s\" in them", id, callbacks_for(id), states);
}

static void
test_gw_ott_delivered_read(void **state)
{
    struct gwfix *g = *state;
    char msg[512], resp[4096], d[8][320];

    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+12125550100\",\"text\":\"hi ott\","
             "\"fallback\":[\"ott\"],\"callback_url\":\"http://127.0.0.1:%d/cb/a\"}", G.http);
    char *id = gwfix_post_ok(g, msg);
    char *rec = gwfix_wait_state(g, id, "sent_ott", 15000);
    char wamid[256];
    snprintf(wamid, sizeof(wamid), "%s", accepted_provider_id(rec));
    assert_int_equal(strncmp(wamid, "wamid.", 6), 0);
    free(rec);

    /* A wrong signature: 401, nothing recorded. */
    const char *body = wa_status(wamid, "delivered", NULL);
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, "not-the-secret"), resp,
                                   sizeof(resp)), 401);
    assert_non_null(strstr(resp, "bad_signature"));
    assert_int_equal(raw_http(g->http_port, "POST", "/v1/webhooks/ott", NULL, NULL, body, resp,
                              sizeof(resp)), 401);
    rec = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(rec, "state"), "sent_ott");
    assert_int_equal(history(rec, "delivered_ott", d, 8), 0);
    free(rec);

    /* Signed: delivered, then read; each a state and a callback. */
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    rec = gwfix_wait_state(g, id, "delivered_ott", 5000);
    assert_int_equal(history(rec, "delivered_ott", d, 8), 1);
    char want[300];
    snprintf(want, sizeof(want), "provider_id=%s provider_ts=1795787068", wamid);
    assert_string_equal(d[0], want);
    free(rec);
    wait_callback(id, "sent_ott,delivered_ott");

    body = wa_status(wamid, "read", NULL);
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    free(gwfix_wait_state(g, id, "read_ott", 5000));
    wait_callback(id, "sent_ott,delivered_ott,read_ott");

    /* A late "delivered" does not move it back. */
    body = wa_status(wamid, "delivered", NULL);
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    rec = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(rec, "state"), "read_ott");
    assert_int_equal(history(rec, "delivered_ott", d, 8), 2);
    free(rec);

    /* Unknown ids: 200 (the provider would retry for days), counted. */
    body = wa_status("wamid.NOSUCH", "delivered", NULL);
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "\"unknown\":1"));
    char *metrics = NULL;
    assert_int_equal(tl_http(g->http_port, "GET", "/metrics", NULL, NULL, &metrics, NULL), 200);
    assert_non_null(strstr(metrics,
                           "smsgw_channel_events_total{channel=\"ott\",result=\"unknown\"} 1"));
    assert_non_null(strstr(metrics,
                           "smsgw_channel_events_total{channel=\"ott\",result=\"bad_signature\"} 2"));
    free(metrics);

    /* Malformed (signed, so the parse is what refuses it): 400. */
    body = "{\"entry\":";
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 400);
    assert_non_null(strstr(resp, "bad_json"));

    /* Meta's subscription handshake. */
    assert_int_equal(raw_http(g->http_port, "GET", "/v1/webhooks/ott?hub.mode=subscribe&"
                              "hub.verify_token=vt-1&hub.challenge=1158201444", NULL, NULL, NULL,
                              resp, sizeof(resp)), 200);
    assert_string_equal(resp, "1158201444");
    assert_int_equal(raw_http(g->http_port, "GET", "/v1/webhooks/ott?hub.mode=subscribe&"
                              "hub.verify_token=wrong&hub.challenge=1", NULL, NULL, NULL,
                              resp, sizeof(resp)), 403);
    free(id);
}

/* The provider says the accepted OTT message failed: the chain goes on
 * to its next step (email). */
static void
test_gw_ott_failed_next_step(void **state)
{
    struct gwfix *g = *state;
    char msg[512], resp[4096], d[8][320];

    int mails = mail_count(G.mail_plain);
    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+12125550102\",\"text\":\"on ott\","
             "\"fallback\":[\"ott\",\"email\"],\"email\":\"fay@example.org\","
             "\"callback_url\":\"http://127.0.0.1:%d/cb/b\"}", G.http);
    char *id = gwfix_post_ok(g, msg);
    char *rec = gwfix_wait_state(g, id, "sent_ott", 15000);
    char wamid[256];
    snprintf(wamid, sizeof(wamid), "%s", accepted_provider_id(rec));
    free(rec);

    const char *body = wa_status(wamid, "failed",
                                 "[{\"code\":131026,\"title\":\"Message undeliverable\"}]");
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    rec = gwfix_wait_state(g, id, "sent_email", 15000);
    assert_int_equal(history(rec, "failed_ott", d, 8), 1);
    assert_non_null(strstr(d[0], "error=131026 Message undeliverable"));
    int n = history(rec, "fallback", d, 8);
    assert_true(n >= 4);
    assert_non_null(strstr(d[1], "channel=ott result=accepted"));
    assert_string_equal(d[2], "provider_failed step=1");
    assert_non_null(strstr(d[3], "channel=email result=accepted"));
    free(rec);
    for (int i = 0; i < 100 && mail_count(G.mail_plain) == mails; i++)
        tl_sleep_ms(50);
    assert_int_equal(mail_count(G.mail_plain), mails + 1);
    wait_callback(id, "sent_ott,sent_email");

    /* A failure reported again (the provider retries) changes nothing more. */
    assert_int_equal(post_ott_hook(g, body, wa_sign(body, APP_SECRET), resp, sizeof(resp)), 200);
    rec = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(rec, "state"), "sent_email");
    assert_int_equal(history(rec, "failed_ott", d, 8), 2);
    free(rec);
    free(id);
}

/* 503 (Retry-After: 1) twice, then 200: the same channel three times, no
 * fallback to the next step. */
static void
test_gw_retry_same_channel(void **state)
{
    struct gwfix *g = *state;
    char d[8][320];

    int before = count_requests("/wa/");
    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+12125550503\",\"text\":\"again\","
                          "\"fallback\":[\"ott\",\"email\"],\"email\":\"gus@example.org\"}");
    char *rec = gwfix_wait_state(g, id, "sent_ott", 20000);
    int n = history(rec, "fallback", d, 8);
    /* start, failed 1, retry 2, failed 2, retry 3, accepted 3 */
    assert_int_equal(n, 6);
    assert_string_equal(d[1], "channel=ott result=failed error=http_503 retryable=1 attempt=1 "
                              "retry_in_ms=1000");
    assert_string_equal(d[2], "retry step=0 attempt=2");
    assert_string_equal(d[3], "channel=ott result=failed error=http_503 retryable=1 attempt=2 "
                              "retry_in_ms=1000");
    assert_string_equal(d[4], "retry step=0 attempt=3");
    assert_non_null(strstr(d[5], "channel=ott result=accepted provider_id=wamid."));
    assert_non_null(strstr(d[5], " attempt=3"));
    assert_null(strstr(rec, "channel=email"));
    free(rec);
    assert_int_equal(count_requests("/wa/") - before, 3);
    free(id);
}

/* The retry waits in Redis: smsgwd killed while it waits, the next run
 * sends it when it is due. */
static void
test_gw_retry_survives_crash(void **state)
{
    struct gwfix *g = *state;
    char d[8][320];

    char *id = gwfix_post_ok(g, "{\"from\":\"12345\",\"to\":\"+12125550502\",\"text\":\"durable\","
                          "\"fallback\":[\"ott\"]}");
    char *rec = NULL;
    for (int i = 0; i < 200; i++) {
        free(rec);
        rec = gwfix_get_msg(g, id);
        if (strstr(rec, "retry_in_ms=3000"))
            break;
        tl_sleep_ms(50);
    }
    assert_non_null(strstr(rec, "channel=ott result=failed error=http_503 retryable=1 attempt=1 "
                                "retry_in_ms=3000"));
    free(rec);
    tl_stop(g->gw, SIGKILL, 2000);
    gw_start(g);
    rec = gwfix_wait_state(g, id, "sent_ott", 20000);
    int n = history(rec, "fallback", d, 8);
    assert_int_equal(n, 4);
    assert_string_equal(d[2], "retry step=0 attempt=2");
    assert_non_null(strstr(d[3], "channel=ott result=accepted provider_id=wamid."));
    assert_non_null(strstr(d[3], " attempt=2"));
    free(rec);
    free(id);
}

/* An RBM DELIVERED event, in the Pub/Sub envelope RBM posts, signed with
 * the clientToken; and RBM's registration check. */
static void
test_gw_rcs_delivered(void **state)
{
    struct gwfix *g = *state;
    char msg[512], resp[4096], d[8][320];

    /* Registration: answer the secret when the clientToken is ours. */
    assert_int_equal(raw_http(g->http_port, "POST", "/v1/webhooks/rcs", NULL, NULL,
                              "{\"clientToken\":\"" CLIENT_TOKEN "\",\"secret\":\"1234567890\"}",
                              resp, sizeof(resp)), 200);
    assert_string_equal(resp, "1234567890");
    assert_int_equal(raw_http(g->http_port, "POST", "/v1/webhooks/rcs", NULL, NULL,
                              "{\"clientToken\":\"other\",\"secret\":\"1234567890\"}",
                              resp, sizeof(resp)), 401);

    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+12125550101\",\"text\":\"hi rcs\","
             "\"fallback\":[\"rcs\"],\"callback_url\":\"http://127.0.0.1:%d/cb/c\"}", G.http);
    char *id = gwfix_post_ok(g, msg);
    free(gwfix_wait_state(g, id, "sent_rcs", 15000));

    char event[512], data[1024], body[1400], sig[200];
    snprintf(event, sizeof(event),
             "{\"senderPhoneNumber\":\"+12125550101\",\"eventType\":\"DELIVERED\","
             "\"eventId\":\"MxKbfEtgELSNi0aQKm8gzUng\",\"messageId\":\"%s\","
             "\"sendTime\":\"2026-11-27T18:00:00.123456Z\",\"agentId\":\"acme_agent\"}", id);
    EVP_EncodeBlock((unsigned char *)data, (const unsigned char *)event, (int)strlen(event));
    snprintf(body, sizeof(body), "{\"message\":{\"data\":\"%s\",\"messageId\":\"1\","
             "\"publishTime\":\"2026-11-27T18:00:00.2Z\"},\"subscription\":\"projects/rbm/"
             "subscriptions/acme\"}", data);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha512(), CLIENT_TOKEN, (int)strlen(CLIENT_TOKEN), (const unsigned char *)event,
         strlen(event), md, &len);
    EVP_EncodeBlock((unsigned char *)sig, md, (int)len);

    /* Signed with another token: 401, nothing recorded. */
    char bad[200];
    HMAC(EVP_sha512(), "x-token-0123", 12, (const unsigned char *)event, strlen(event), md, &len);
    EVP_EncodeBlock((unsigned char *)bad, md, (int)len);
    assert_int_equal(raw_http(g->http_port, "POST", "/v1/webhooks/rcs", "X-Goog-Signature", bad, body,
                              resp, sizeof(resp)), 401);
    char *rec = gwfix_get_msg(g, id);
    assert_string_equal(tl_jstr(rec, "state"), "sent_rcs");
    free(rec);

    assert_int_equal(raw_http(g->http_port, "POST", "/v1/webhooks/rcs", "X-Goog-Signature", sig, body,
                              resp, sizeof(resp)), 200);
    rec = gwfix_wait_state(g, id, "delivered_rcs", 5000);
    assert_int_equal(history(rec, "delivered_rcs", d, 8), 1);
    char want[200];
    snprintf(want, sizeof(want), "provider_id=%s provider_ts=1795802400", id);
    assert_string_equal(d[0], want);
    free(rec);
    wait_callback(id, "sent_rcs,delivered_rcs");
    free(id);
}

/* A send_at message released to its queue: the callback gets "queued". */
static void
test_gw_release_callback(void **state)
{
    struct gwfix *g = *state;
    char msg[512];

    snprintf(msg, sizeof(msg), "{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"later\","
             "\"send_at\":%lld,\"callback_url\":\"http://127.0.0.1:%d/cb/d\"}",
             (long long)time(NULL) + 2, G.http);
    char *id = gwfix_post_ok(g, msg);
    wait_callback(id, "scheduled");
    free(gwfix_wait_state(g, id, "queued", 10000));
    wait_callback(id, "scheduled,queued");
    free(id);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_starttls_auth_delivers),
        cmocka_unit_test(test_email_failures),
        cmocka_unit_test(test_email_marketing_relay_and_starttls_required),
        cmocka_unit_test(test_ott_text_and_template),
        cmocka_unit_test(test_ott_failures),
        cmocka_unit_test(test_rcs_capability_and_send),
        cmocka_unit_test(test_rcs_service_account),
        cmocka_unit_test(test_rcs_service_account_config),
        cmocka_unit_test(test_oauth_parse_answer),
        cmocka_unit_test(test_concurrency_queue_and_shutdown),
        cmocka_unit_test(test_free_from_own_callback),
        cmocka_unit_test(test_mps_pacing),
        cmocka_unit_test(test_ott_webhook),
        cmocka_unit_test(test_rcs_webhook),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_config),
        cmocka_unit_test_setup_teardown(test_gw_ott_delivered_read, gw_setup, gw_teardown),
        cmocka_unit_test_setup_teardown(test_gw_ott_failed_next_step, gw_setup, gw_teardown),
        cmocka_unit_test_setup_teardown(test_gw_retry_same_channel, gw_setup, gw_teardown),
        cmocka_unit_test_setup_teardown(test_gw_retry_survives_crash, gw_setup, gw_teardown),
        cmocka_unit_test_setup_teardown(test_gw_rcs_delivered, gw_setup, gw_teardown),
        cmocka_unit_test_setup_teardown(test_gw_release_callback, gw_setup, gw_teardown),
    };
    /* CHAN_TEST=pattern runs only the tests whose names match (cmocka's filter). */
    if (getenv("CHAN_TEST"))
        cmocka_set_test_filter(getenv("CHAN_TEST"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
