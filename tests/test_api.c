/*
 * Tests for core/api: api_validate() for every error code and the happy
 * paths, against a config written to a file and loaded with config_load();
 * then the HTTP server on a free port, driven over loopback with raw
 * sockets, on the daemon's own backend (core/api_store) and a real
 * redis-server per test; late answers come from stopping Redis (SIGSTOP)
 * and letting it go on, Redis unavailable from stopping it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "core/api.h"
#include "core/api_store.h"
#include "core/config.h"
#include "core/log.h"
#include "store/store_redis.h"
#include "tests/testlib.h"

#define KEY_ACME   "acme-test-key-0123456789"
#define KEY_OTHER  "other-test-key-9876543210"

static char *tmpdir;
static char logpath[512];
static struct gw_config *cfg;
static const struct cfg_account *acme;

/* ------------------------------------------------------------------ config */

static void
write_config(void)
{
    char path[600], h1[65], h2[65];
    FILE *f;

    config_sha256_hex(KEY_ACME, h1);
    config_sha256_hex(KEY_OTHER, h2);
    snprintf(path, sizeof(path), "%s/smsgwd.conf", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
        "max_segments = 10;\n"
        "http = { port = 0; max_body = 8192; };\n"
        "smsc = (\n"
        "  { name = \"udh\"; host = \"127.0.0.1\"; port = 2775; system_id = \"gw\"; password = \"pw\"; },\n"
        "  { name = \"pay\"; host = \"127.0.0.1\"; port = 2776; system_id = \"gw\"; password = \"pw\";\n"
        "    concat = \"payload\"; }\n"
        ");\n"
        "senders = (\n"
        "  { address = \"ACME\"; type = \"alphanumeric\"; accounts = [ \"acme\" ]; },\n"
        "  { address = \"12345\"; type = \"shortcode\"; accounts = [ \"acme\" ]; },\n"
        "  { address = \"+18885550100\"; type = \"tollfree\"; accounts = [ \"acme\" ]; },\n"
        "  { address = \"+12125550100\"; type = \"10dlc\"; accounts = [ \"acme\" ]; },\n"
        "  { address = \"OTHER\"; type = \"alphanumeric\"; accounts = [ \"other\" ]; }\n"
        ");\n"
        "routes = (\n"
        "  { name = \"us\"; mps = 10; smsc = [ \"udh\" ]; prefixes = [ \"1\" ];\n"
        "    sender_types = [ \"shortcode\", \"tollfree\" ]; },\n"
        "  { name = \"intl\"; mps = 10; smsc = [ \"udh\" ]; prefixes = [ \"44\", \"52\" ]; },\n"
        "  { name = \"de\"; mps = 10; smsc = [ \"pay\" ]; prefixes = [ \"49\" ]; validity_s = 3600; }\n"
        ");\n"
        "accounts = (\n"
        "  { name = \"acme\"; api_keys = [ \"sha256:%s\" ];\n"
        "    callback_url = \"https://acme.example/dlr\"; },\n"
        "  { name = \"other\"; api_keys = [ \"sha256:%s\" ]; }\n"
        ");\n", h1, h2);
    fclose(f);
    if (config_load(path, &cfg, stderr) != 0)
        fail_msg("config_load failed for %s", path);
    acme = config_account_by_key(cfg, KEY_ACME);
    assert_non_null(acme);
    assert_string_equal(acme->name, "acme");
}

static int
group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    tmpdir = tl_tmpdir();
    snprintf(logpath, sizeof(logpath), "%s/api.log", tmpdir);
    if (!log_open(logpath))
        return -1;
    write_config();
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    config_free(cfg);
    tl_cleanup_dir(tmpdir);
    return 0;
}

/* ------------------------------------------------------------------ api_validate */

struct vres {
    int status;
    const char *code;
    char msg[512];
    struct api_msg m;
    void *owner;
};

static int
validate(const char *body, struct vres *r)
{
    memset(r, 0, sizeof(*r));
    r->status = api_validate(cfg, acme, body, strlen(body), &r->m, &r->owner, &r->code,
                             r->msg, sizeof(r->msg));
    if (r->status == 0) {
        assert_non_null(r->owner);
        assert_null(r->code);
    } else {
        assert_null(r->owner);
        assert_non_null(r->code);
        assert_true(strlen(r->msg) > 10);
    }
    return r->status;
}

static void
vres_free(struct vres *r)
{
    json_object_put(r->owner);
    r->owner = NULL;
}

/* Expect status and code; message must contain `want` (may be NULL). */
static void
expect_err(const char *body, int status, const char *code, const char *want)
{
    struct vres r;

    validate(body, &r);
    if (r.status != status || !r.code || strcmp(r.code, code) != 0 ||
        (want && !strstr(r.msg, want)))
        fail_msg("body %.200s: got %d %s \"%s\", want %d %s containing \"%s\"", body, r.status,
                 r.code ? r.code : "(null)", r.msg, status, code, want ? want : "");
}

static char *
repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * n + 1);

    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = '\0';
    return s;
}

/* {"from":FROM,"to":TO,"text":TEXT<extra>} with text already JSON-safe. */
static char *
body3(const char *from, const char *to, const char *text, const char *extra)
{
    size_t n = strlen(from) + strlen(to) + strlen(text) + strlen(extra) + 64;
    char *b = malloc(n);

    assert_non_null(b);
    snprintf(b, n, "{\"from\":\"%s\",\"to\":\"%s\",\"text\":\"%s\"%s}", from, to, text, extra);
    return b;
}

static void
test_valid_gsm7_one_segment(void **state)
{
    struct vres r;

    (void)state;
    assert_int_equal(validate("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"Hello {world}\"}",
                              &r), 0);
    assert_ptr_equal(r.m.account, acme);
    assert_string_equal(r.m.sender->address, "ACME");
    assert_string_equal(r.m.route->name, "intl");
    assert_string_equal(r.m.to, "447700900123");
    assert_int_equal(r.m.text_len, 13);
    assert_memory_equal(r.m.text, "Hello {world}", 13);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(r.m.segments, 1);
    assert_string_equal(r.m.callback_url, "https://acme.example/dlr");  /* account default */
    assert_null(r.m.client_ref);
    assert_int_equal(r.m.validity_s, 172800);                          /* route default */
    assert_int_equal(r.m.msg_class, MSG_TRANSACTIONAL);
    vres_free(&r);
}

static void
test_valid_all_fields(void **state)
{
    struct vres r;

    (void)state;
    assert_int_equal(validate("{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"hi\","
                              "\"callback_url\":\"http://cb.example/x?y=1\",\"client_ref\":\"order 42\","
                              "\"validity\":60,\"class\":\"marketing\",\"encoding\":\"ucs2\"}", &r), 0);
    assert_string_equal(r.m.to, "14155550100");
    assert_string_equal(r.m.route->name, "us");
    assert_string_equal(r.m.callback_url, "http://cb.example/x?y=1");
    assert_string_equal(r.m.client_ref, "order 42");
    assert_int_equal(r.m.validity_s, 60);
    assert_int_equal(r.m.msg_class, MSG_MARKETING);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_UCS2);
    vres_free(&r);

    /* Explicit defaults and nulls behave like absent fields. */
    assert_int_equal(validate("{\"from\":\"+18885550100\",\"to\":\"+14155550100\",\"text\":\"x\","
                              "\"validity\":604800,\"class\":\"transactional\",\"encoding\":\"auto\","
                              "\"callback_url\":null,\"client_ref\":null}", &r), 0);
    assert_int_equal(r.m.validity_s, 604800);
    assert_string_equal(r.m.callback_url, "https://acme.example/dlr");
    assert_null(r.m.client_ref);
    vres_free(&r);

    /* The route's validity when the request has none. */
    assert_int_equal(validate("{\"from\":\"ACME\",\"to\":\"+4915112345678\",\"text\":\"x\"}", &r), 0);
    assert_int_equal(r.m.validity_s, 3600);
    vres_free(&r);
}

static void
test_valid_segments(void **state)
{
    struct vres r;
    char *t, *b;

    (void)state;
    /* 160 GSM characters: one segment; 161: two (153 per part with UDH). */
    t = repeat("a", 160);
    b = body3("ACME", "+447700900123", t, "");
    assert_int_equal(validate(b, &r), 0);
    assert_int_equal(r.m.segments, 1);
    vres_free(&r);
    free(b);
    free(t);
    t = repeat("a", 161);
    b = body3("ACME", "+447700900123", t, "");
    assert_int_equal(validate(b, &r), 0);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(r.m.segments, 2);
    vres_free(&r);
    free(b);
    free(t);

    /* An emoji forces UCS-2: 69 + 2 units = 71 > 70, so two segments. */
    t = repeat("a", 69);
    {
        char text[200];
        snprintf(text, sizeof(text), "%s\xF0\x9F\x98\x80", t);
        b = body3("ACME", "+447700900123", text, "");
    }
    assert_int_equal(validate(b, &r), 0);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_UCS2);
    assert_int_equal(r.m.segments, 2);
    vres_free(&r);
    free(b);
    free(t);

    /* The same emoji written as a JSON surrogate-pair escape. */
    assert_int_equal(validate("{\"from\":\"ACME\",\"to\":\"+447700900123\","
                              "\"text\":\"smile \\ud83d\\ude00\"}", &r), 0);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_UCS2);
    assert_int_equal(r.m.segments, 1);
    assert_int_equal(r.m.text_len, 10);
    vres_free(&r);

    /* Exactly max_segments (10 x 153) passes. */
    t = repeat("a", 1530);
    b = body3("ACME", "+447700900123", t, "");
    assert_int_equal(validate(b, &r), 0);
    assert_int_equal(r.m.segments, 10);
    vres_free(&r);
    free(b);
    free(t);

    /* A message_payload route sends one PDU for a 3-segment text. */
    t = repeat("a", 400);
    b = body3("ACME", "+4915112345678", t, "");
    assert_int_equal(validate(b, &r), 0);
    assert_string_equal(r.m.route->name, "de");
    assert_int_equal(r.m.segments, 1);
    vres_free(&r);
    free(b);
    free(t);
}

static void
test_bad_json(void **state)
{
    struct vres r;
    char deep[64];

    (void)state;
    expect_err("{", 400, "bad_json", "offset");
    expect_err("{\"from\":}", 400, "bad_json", "offset 8");
    expect_err("{\"from\":\"ACME\",}", 400, "bad_json", NULL);         /* strict: trailing comma */
    expect_err("{} {}", 400, "bad_json", NULL);
    expect_err("{}x", 400, "bad_json", NULL);
    expect_err("[1,2]", 400, "bad_json", "object");
    expect_err("\"text\"", 400, "bad_json", "object");
    expect_err("42", 400, "bad_json", "object");
    expect_err("", 400, "bad_json", "empty");
    expect_err("{\"text\":\"\xff\"}", 400, "bad_json", NULL);          /* not UTF-8 */
    /* Nine levels of nesting against a limit of eight. */
    snprintf(deep, sizeof(deep), "{\"a\":%s1%s}", "[[[[[[[[", "]]]]]]]]");
    expect_err(deep, 400, "bad_json", "nesting");

    /* A raw NUL byte in the body. */
    static const char nul[] = "{\"from\":\"A\0\"}";
    memset(&r, 0, sizeof(r));
    r.status = api_validate(cfg, acme, nul, sizeof(nul) - 1, &r.m, &r.owner, &r.code,
                            r.msg, sizeof(r.msg));
    assert_int_equal(r.status, 400);
    assert_string_equal(r.code, "bad_json");
    assert_null(r.owner);
}

static void
test_unknown_and_missing_fields(void **state)
{
    (void)state;
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"txt\":\"hi\"}", 400,
               "unknown_field", "`txt`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"Validity\":60}", 400,
               "unknown_field", "`Validity`");
    expect_err("{\"to\":\"+447700900123\",\"text\":\"hi\"}", 400, "missing_field", "`from`");
    expect_err("{\"from\":\"ACME\",\"text\":\"hi\"}", 400, "missing_field", "`to`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\"}", 400, "missing_field", "`text`");
    expect_err("{\"from\":null,\"to\":\"+447700900123\",\"text\":\"hi\"}", 400, "missing_field",
               "`from`");
    expect_err("{}", 400, "missing_field", "`from`");
}

static void
test_invalid_types(void **state)
{
    (void)state;
    expect_err("{\"from\":1,\"to\":\"+447700900123\",\"text\":\"hi\"}", 400, "invalid_field",
               "`from` must be a string");
    expect_err("{\"from\":\"ACME\",\"to\":447700900123,\"text\":\"hi\"}", 400, "invalid_field",
               "`to`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":[\"hi\"]}", 400,
               "invalid_field", "not an array");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":\"3600\"}",
               400, "invalid_field", "`validity` must be an integer");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":3600.5}",
               400, "invalid_field", "`validity`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"class\":true}",
               400, "invalid_field", "`class`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"client_ref\":7}",
               400, "invalid_field", "`client_ref`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"callback_url\":{}}",
               400, "invalid_field", "`callback_url`");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"encoding\":8}",
               400, "invalid_field", "`encoding`");
}

static void
test_invalid_to(void **state)
{
    static const char *const bad[] = {
        "447700900123", "+0447700900123", "+1234567", "+1234567890123456", "+44 7700900123",
        "+44-7700900123", "", "+", "++447700900123", "+4477009001a3",
    };
    char body[200];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"from\":\"ACME\",\"to\":\"%s\",\"text\":\"hi\"}", bad[i]);
        expect_err(body, 400, "invalid_to", "`to` must be E.164: '+' followed by 8 to 15 digits, "
                   "e.g. +14155550100");
    }
    /* 15 digits is the most E.164 allows (Germany: up to 13 after +49). */
    struct vres r;
    assert_int_equal(validate("{\"from\":\"ACME\",\"to\":\"+491234567890123\",\"text\":\"hi\"}", &r), 0);
    assert_string_equal(r.m.to, "491234567890123");
    vres_free(&r);
    /* Well-formed E.164, but not a valid number by the numbering plan:
     * the reason is in the message. */
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123456\",\"text\":\"hi\"}", 400,
               "invalid_to", "is too long for GB (+44): national numbers there have 9 to 10 "
               "digits after the country code, this one has 13 (reason: too_long)");
    expect_err("{\"from\":\"12345\",\"to\":\"+11125550100\",\"text\":\"hi\"}", 400,
               "invalid_to", "(reason: format): NANP area codes");
}

static void
test_invalid_values(void **state)
{
    char *url, *b, *ref;

    (void)state;
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"\"}", 400, "invalid_text",
               "empty");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"a\\u0000b\"}", 400,
               "invalid_text", "U+0000");
    /* A lone surrogate escape must not reach the encoder as bad UTF-8. */
    {
        struct vres r;
        validate("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"a\\ud800b\"}", &r);
        if (r.status == 0) {
            assert_int_equal(smpp_text_utf8_check(r.m.text, r.m.text_len, NULL), 0);
            vres_free(&r);
        } else {
            assert_int_equal(r.status, 400);
        }
    }

    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"callback_url\":\"ftp://x.example/\"}",
               400, "invalid_callback_url", "http://");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"callback_url\":\"https://\"}",
               400, "invalid_callback_url", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"callback_url\":\"https://a b/\"}",
               400, "invalid_callback_url", NULL);
    url = repeat("a", 2049);
    memcpy(url, "https://", 8);
    {
        char extra[2200];
        snprintf(extra, sizeof(extra), ",\"callback_url\":\"%s\"", url);
        b = body3("ACME", "+447700900123", "hi", extra);
        expect_err(b, 400, "invalid_callback_url", "2048");
        free(b);
        url[strlen(url) - 1] = '\0';                      /* 2048: fine */
        snprintf(extra, sizeof(extra), ",\"callback_url\":\"%s\"", url);
        b = body3("ACME", "+447700900123", "hi", extra);
        struct vres r;
        assert_int_equal(validate(b, &r), 0);
        assert_int_equal(strlen(r.m.callback_url), 2048);
        vres_free(&r);
        free(b);
    }
    free(url);

    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"client_ref\":\"\"}",
               400, "invalid_client_ref", "1 to 64");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"client_ref\":\"\\u00e9\"}",
               400, "invalid_client_ref", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"client_ref\":\"a\\nb\"}",
               400, "invalid_client_ref", NULL);
    ref = repeat("r", 65);
    {
        char extra[200];
        snprintf(extra, sizeof(extra), ",\"client_ref\":\"%s\"", ref);
        b = body3("ACME", "+447700900123", "hi", extra);
        expect_err(b, 400, "invalid_client_ref", NULL);
        free(b);
        ref[64] = '\0';
        snprintf(extra, sizeof(extra), ",\"client_ref\":\"%s\"", ref);
        b = body3("ACME", "+447700900123", "hi", extra);
        struct vres r;
        assert_int_equal(validate(b, &r), 0);
        assert_string_equal(r.m.client_ref, ref);
        vres_free(&r);
        free(b);
    }
    free(ref);

    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":59}",
               400, "invalid_validity", "between 60 and 604800");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":604801}",
               400, "invalid_validity", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":-1}",
               400, "invalid_validity", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"validity\":99999999999999999999}",
               400, "invalid_validity", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"class\":\"promo\"}",
               400, "invalid_class", "marketing");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"class\":\"marketing\\u0000x\"}",
               400, "invalid_class", NULL);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"encoding\":\"latin1\"}",
               400, "invalid_encoding", "ucs2");
}

static void
test_sender_rules(void **state)
{
    (void)state;
    expect_err("{\"from\":\"NOPE\",\"to\":\"+447700900123\",\"text\":\"hi\"}", 403,
               "unknown_sender", "'NOPE'");
    expect_err("{\"from\":\"ACME\\u0000X\",\"to\":\"+447700900123\",\"text\":\"hi\"}", 403,
               "unknown_sender", NULL);
    expect_err("{\"from\":\"OTHER\",\"to\":\"+447700900123\",\"text\":\"hi\"}", 403,
               "sender_not_allowed", "'OTHER'");
    expect_err("{\"from\":\"ACME\",\"to\":\"+14155550100\",\"text\":\"hi\"}", 422,
               "alphanumeric_forbidden", "+1 ");
    expect_err("{\"from\":\"ACME\",\"to\":\"+525512345678\",\"text\":\"hi\"}", 422,
               "alphanumeric_forbidden", "+52");
    /* No route to France for anything; none for 10DLC into +1 either. */
    expect_err("{\"from\":\"ACME\",\"to\":\"+33612345678\",\"text\":\"hi\"}", 422, "no_route",
               "+33612345678");
    expect_err("{\"from\":\"+12125550100\",\"to\":\"+14155550100\",\"text\":\"hi\"}", 422,
               "no_route", "10dlc");
}

static void
test_encoding_and_length(void **state)
{
    char *t, *b;
    struct vres r;

    (void)state;
    /* é is in GSM 03.38, ł and emoji are not. */
    assert_int_equal(validate("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"caf\xc3\xa9\","
                              "\"encoding\":\"gsm7\"}", &r), 0);
    assert_int_equal(r.m.encoding, SMPP_TEXT_ENC_GSM7);
    vres_free(&r);
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"ab\xc5\x82\","
               "\"encoding\":\"gsm7\"}", 422, "invalid_encoding", "byte 2");
    expect_err("{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"\xF0\x9F\x98\x80\","
               "\"encoding\":\"gsm7\"}", 422, "invalid_encoding", "ucs2");

    /* 10 x 153 + 1 characters: 11 segments against a maximum of 10. */
    t = repeat("a", 1531);
    b = body3("ACME", "+447700900123", t, "");
    expect_err(b, 413, "text_too_long", "11 segments");
    expect_err(b, 413, "text_too_long", "maximum is 10");
    free(b);
    free(t);
    /* UCS-2: 10 x 67 = 670 units fit, 671 do not. */
    t = repeat("\xd0\x96", 671);
    b = body3("ACME", "+447700900123", t, "");
    expect_err(b, 413, "text_too_long", "ucs2");
    free(b);
    free(t);
    /* message_payload carries at most 1024 octets. */
    t = repeat("\xd0\x96", 513);
    b = body3("ACME", "+4915112345678", t, "");
    expect_err(b, 413, "text_too_long", NULL);
    free(b);
    free(t);
}

/* ------------------------------------------------------------------ backend */

/*
 * The daemon's own backend (core/api_store) on a real redis-server, with
 * what the API hands it noted on the way (what was validated and how it
 * was routed). Answers come from Redis: a test that needs them late stops
 * the server (SIGSTOP) and lets it go on (SIGCONT).
 */
struct rec {
    int nsubmit, nget, nready;
    char account[64], sender[40], route[64], to[16], text[2048], client_ref[80], get_id[80];
    char callback_url[2100];
    size_t text_len;
    enum smpp_text_enc encoding;
    unsigned segments, validity_s;
    enum msg_class msg_class;
    struct api_store store;
};

static void
rec_submit(void *bctx, const struct api_msg *m, api_submit_done done, void *req)
{
    struct rec *r = bctx;

    r->nsubmit++;
    snprintf(r->account, sizeof(r->account), "%s", m->account->name);
    snprintf(r->sender, sizeof(r->sender), "%s", m->sender->address);
    snprintf(r->route, sizeof(r->route), "%s", m->route->name);
    snprintf(r->to, sizeof(r->to), "%s", m->to);
    snprintf(r->text, sizeof(r->text), "%.*s", (int)m->text_len, m->text);
    snprintf(r->client_ref, sizeof(r->client_ref), "%s", m->client_ref ? m->client_ref : "");
    snprintf(r->callback_url, sizeof(r->callback_url), "%s", m->callback_url ? m->callback_url : "");
    r->text_len = m->text_len;
    r->encoding = m->encoding;
    r->segments = m->segments;
    r->validity_s = m->validity_s;
    r->msg_class = m->msg_class;
    api_store_backend.submit(&r->store, m, done, req);
}

static void
rec_get(void *bctx, const struct cfg_account *account, const char *id, api_get_done done,
        void *req)
{
    struct rec *r = bctx;

    r->nget++;
    snprintf(r->account, sizeof(r->account), "%s", account->name);
    snprintf(r->get_id, sizeof(r->get_id), "%s", id);
    api_store_backend.get(&r->store, account, id, done, req);
}

static void
rec_optout(void *bctx, const struct cfg_account *account, const char *sender,
           const char *const *numbers, size_t n, enum api_optout_op op, api_optout_done done,
           void *req)
{
    struct rec *r = bctx;
    api_store_backend.optout(&r->store, account, sender, numbers, n, op, done, req);
}

static bool
rec_ready(void *bctx)
{
    struct rec *r = bctx;

    r->nready++;
    return api_store_backend.ready(&r->store);
}

static const struct api_backend rec_backend = {
    .submit = rec_submit, .get = rec_get, .optout = rec_optout, .ready = rec_ready,
};

/* ------------------------------------------------------------------ HTTP over loopback */

struct srv {
    struct event_base *base;
    struct api_server *api;
    struct rec rec;
    struct tl_redis redis;
    struct store_redis *store;
    int port;
};

struct resp {
    int status;
    char raw[16384];
    size_t len;
    const char *body;               /* into raw */
    struct json_object *json;       /* body parsed, or NULL */
};

static int
srv_setup(void **state)
{
    struct srv *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    s->base = event_base_new();
    assert_non_null(s->base);
    s->redis.aof = true;                /* so that a test can stop and restart it */
    tl_redis_start(&s->redis);
    struct cfg_redis rc = { .host = (char *)"127.0.0.1", .port = s->redis.port,
                            .prefix = (char *)"t:", .timeout_ms = 1500 };
    s->store = store_redis_new(s->base, &rc, "main");
    TL_RUN_UNTIL(s->base, store_redis_ready(s->store), 5000);
    assert_true(store_redis_ready(s->store));
    s->rec.store = (struct api_store){ .redis = s->store };
    s->api = api_server_new(s->base, cfg, &rec_backend, &s->rec);
    assert_non_null(s->api);
    s->port = api_server_port(s->api);
    assert_true(s->port > 0);
    *state = s;
    return 0;
}

static int
srv_teardown(void **state)
{
    struct srv *s = *state;

    if (s->redis.pid > 0)
        kill(s->redis.pid, SIGCONT);
    if (s->api)
        api_server_free(s->api);
    store_redis_free(s->store);
    event_base_loop(s->base, EVLOOP_NONBLOCK);
    event_base_free(s->base);
    tl_redis_stop(&s->redis);
    free(s);
    return 0;
}

/* Redis stops answering (SIGSTOP) until redis_go(): answers come late. */
static void
redis_hold(struct srv *s)
{
    assert_int_equal(kill(s->redis.pid, SIGSTOP), 0);
}

static void
redis_go(struct srv *s)
{
    assert_int_equal(kill(s->redis.pid, SIGCONT), 0);
}

/* Redis gone: wait until the store knows. */
static void
redis_down(struct srv *s)
{
    tl_redis_pause(&s->redis);
    TL_RUN_UNTIL(s->base, !store_redis_ready(s->store), 5000);
    assert_false(store_redis_ready(s->store));
}

/* A real record id: "m" and hex. */
static void
assert_msg_id(const char *id)
{
    assert_non_null(id);
    assert_true(id[0] == 'm' && strlen(id) == 21);
}

static int
http_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

/* Send all of req while running the server's loop; false on timeout. */
static bool
http_send(struct srv *s, int fd, const char *req, size_t len)
{
    size_t off = 0;

    for (int i = 0; i < 500 && off < len; i++) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return false;
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(s->base, &tv);
        event_base_dispatch(s->base);
    }
    return off == len;
}

/* Read until the server closes (every request says Connection: close). */
static void
http_recv(struct srv *s, int fd, struct resp *r)
{
    bool eof = false;

    memset(r, 0, sizeof(*r));
    for (int i = 0; i < 500 && !eof; i++) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(s->base, &tv);
        event_base_dispatch(s->base);
        for (;;) {
            ssize_t n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
            if (n > 0) {
                r->len += (size_t)n;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                eof = true;
            break;
        }
    }
    assert_true(eof);
    r->raw[r->len] = '\0';
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d", &r->status), 1);
    char *sep = strstr(r->raw, "\r\n\r\n");
    assert_non_null(sep);
    r->body = sep + 4;
    r->json = *r->body ? json_tokener_parse(r->body) : NULL;
}

static void
resp_free(struct resp *r)
{
    json_object_put(r->json);
    r->json = NULL;
}

/* The value of header name in the response, copied into buf, or NULL. */
static const char *
resp_header(const struct resp *r, const char *name, char *buf, size_t bufsz)
{
    const char *p = strstr(r->raw, "\r\n"), *end = strstr(r->raw, "\r\n\r\n");
    size_t nl = strlen(name);

    while (p && p < end) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(buf, bufsz, "%.*s", (int)(e - v), v);
            return buf;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

/* One request: method path, key (NULL: no Authorization), body (NULL: none). */
static void
http_do(struct srv *s, const char *method, const char *path, const char *key, const char *body,
        struct resp *r)
{
    size_t blen = body ? strlen(body) : 0, cap = blen + 1024;
    char *req = malloc(cap);
    int fd, n;

    assert_non_null(req);
    n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                 "%s%s%s" "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 method, path, key ? "Authorization: Bearer " : "", key ? key : "",
                 key ? "\r\n" : "", blen);
    assert_true(n > 0 && (size_t)n + blen < cap);
    memcpy(req + n, body ? body : "", blen);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n + blen));
    http_recv(s, fd, r);
    close(fd);
    free(req);
}

static const char *
jstr(struct json_object *o, const char *a, const char *b)
{
    struct json_object *v = NULL;

    if (!o || !json_object_object_get_ex(o, a, &v))
        return NULL;
    if (b && !json_object_object_get_ex(v, b, &v))
        return NULL;
    return json_object_get_string(v);
}

static void
expect_json_ct(const struct resp *r)
{
    char h[128];

    assert_non_null(resp_header(r, "Content-Type", h, sizeof(h)));
    assert_string_equal(h, "application/json");
    assert_non_null(r->json);
}

static void
expect_error(const struct resp *r, int status, const char *code)
{
    if (r->status != status || !jstr(r->json, "error", "code") ||
        strcmp(jstr(r->json, "error", "code"), code) != 0)
        fail_msg("want %d %s, got:\n%s", status, code, r->raw);
    expect_json_ct(r);
    assert_true(strlen(jstr(r->json, "error", "message")) > 10);
}

static const char ok_body[] = "{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"Hello\","
                              "\"client_ref\":\"c-1\"}";

static void
test_http_post_accepted(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char h[128];

    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    assert_int_equal(r.status, 202);
    expect_json_ct(&r);
    char id[64], loc[96];
    snprintf(id, sizeof(id), "%s", jstr(r.json, "id", NULL));
    assert_msg_id(id);
    assert_string_equal(jstr(r.json, "status", NULL), "queued");
    assert_string_equal(jstr(r.json, "encoding", NULL), "gsm7");
    assert_string_equal(jstr(r.json, "segments", NULL), "1");
    assert_non_null(resp_header(&r, "Location", h, sizeof(h)));
    snprintf(loc, sizeof(loc), "/v1/messages/%s", id);
    assert_string_equal(h, loc);
    resp_free(&r);
    /* In Redis: the record, as the account reads it back. */
    http_do(s, "GET", loc, KEY_ACME, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "state", NULL), "queued");
    resp_free(&r);

    assert_int_equal(s->rec.nsubmit, 1);
    assert_string_equal(s->rec.account, "acme");
    assert_string_equal(s->rec.sender, "ACME");
    assert_string_equal(s->rec.route, "intl");
    assert_string_equal(s->rec.to, "447700900123");
    assert_string_equal(s->rec.text, "Hello");
    assert_string_equal(s->rec.client_ref, "c-1");
    assert_string_equal(s->rec.callback_url, "https://acme.example/dlr");
    assert_int_equal(s->rec.encoding, SMPP_TEXT_ENC_GSM7);
    assert_int_equal(s->rec.segments, 1);

    /* UCS-2, two segments. */
    http_do(s, "POST", "/v1/messages", KEY_ACME,
            "{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
            "\xd0\x96\"}", &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(r.json, "encoding", NULL), "ucs2");
    assert_string_equal(jstr(r.json, "segments", NULL), "2");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, 2);
}

static void
test_http_payload_segments(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char *t = repeat("a", 400), *b = body3("ACME", "+4915112345678", t, "");

    /* The client is told what goes on the air; the backend gets PDUs. */
    http_do(s, "POST", "/v1/messages", KEY_ACME, b, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(r.json, "segments", NULL), "3");
    assert_int_equal(s->rec.segments, 1);
    resp_free(&r);
    free(b);
    free(t);
}

static void
test_http_existing_and_unavailable(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char h[64];

    /* The same client_ref again: the first message's id, 200. */
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    assert_int_equal(r.status, 202);
    char first[64];
    snprintf(first, sizeof(first), "%s", jstr(r.json, "id", NULL));
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    assert_int_equal(r.status, 200);
    expect_json_ct(&r);
    assert_string_equal(jstr(r.json, "id", NULL), first);
    assert_string_equal(jstr(r.json, "status", NULL), "queued");
    assert_string_equal(jstr(r.json, "segments", NULL), "1");
    assert_string_equal(jstr(r.json, "encoding", NULL), "gsm7");
    resp_free(&r);

    /* Redis stops answering after the message went to it: the store's
     * watchdog gives up (timeout_ms) and the client gets 503. */
    redis_hold(s);
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    redis_go(s);
    expect_error(&r, 503, "unavailable");
    assert_non_null(resp_header(&r, "Retry-After", h, sizeof(h)));
    assert_string_equal(h, "1");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, 3);

    /* Not ready (Redis gone): 503 without calling submit. */
    redis_down(s);
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    expect_error(&r, 503, "unavailable");
    assert_non_null(resp_header(&r, "Retry-After", h, sizeof(h)));
    assert_string_equal(h, "1");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, 3);
    assert_true(s->rec.nready >= 4);
}

/* A batch: each message validated and submitted on its own, one answer in
 * order; 202 when all were accepted, 207 when some were not. */
static void
test_http_batch(void **state)
{
    struct srv *s = *state;
    struct resp r;
    struct json_object *res, *it;

    http_do(s, "POST", "/v1/messages/batch", KEY_ACME,
            "{\"messages\":[{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"one\"},"
            "{\"from\":\"ACME\",\"to\":\"12\",\"text\":\"two\"},"
            "{\"from\":\"ACME\",\"to\":\"+447700900125\",\"text\":\"three\"}]}", &r);
    assert_int_equal(r.status, 207);
    expect_json_ct(&r);
    assert_string_equal(jstr(r.json, "accepted", NULL), "2");
    assert_string_equal(jstr(r.json, "refused", NULL), "1");
    assert_true(json_object_object_get_ex(r.json, "results", &res));
    assert_int_equal(json_object_array_length(res), 3);
    it = json_object_array_get_idx(res, 0);
    assert_string_equal(jstr(it, "status", NULL), "202");
    assert_msg_id(jstr(it, "id", NULL));
    assert_string_equal(jstr(it, "segments", NULL), "1");
    it = json_object_array_get_idx(res, 1);
    assert_string_equal(jstr(it, "status", NULL), "400");
    assert_string_equal(jstr(it, "error", "code"), "invalid_to");
    assert_true(strncmp(jstr(it, "error", "message"), "messages[1]: `to` must be E.164", 31) == 0);
    it = json_object_array_get_idx(res, 2);
    assert_string_equal(jstr(it, "status", NULL), "202");
    assert_int_equal(s->rec.nsubmit, 2);                /* the invalid one never was */
    assert_string_equal(s->rec.to, "447700900125");     /* in order */
    assert_string_equal(s->rec.text, "three");
    resp_free(&r);

    /* All accepted: 202. Opted out per message: 207 with 403 inside. */
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME,
            "{\"messages\":[{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"x\"}]}", &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    /* The number opted out of the account (STOP): refused per message. */
    http_do(s, "PUT", "/v1/optouts/+447700900123", KEY_ACME, NULL, &r);
    assert_true(r.status == 200 || r.status == 204);
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME,
            "{\"messages\":[{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"x\"}]}", &r);
    assert_int_equal(r.status, 207);
    assert_true(json_object_object_get_ex(r.json, "results", &res));
    assert_string_equal(jstr(json_object_array_get_idx(res, 0), "error", "code"), "opted_out");
    resp_free(&r);

    /* The body itself wrong: 400, nothing submitted. */
    int before = s->rec.nsubmit;
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME, "[1,2]", &r);
    expect_error(&r, 400, "bad_batch");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME, "{\"messages\":[]}", &r);
    expect_error(&r, 400, "bad_batch");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME, "{\"messages\":[], \"x\":1}", &r);
    expect_error(&r, 400, "bad_batch");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME, "{\"messages\":", &r);
    expect_error(&r, 400, "bad_json");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME, "{\"messages\":[7]}", &r);
    assert_int_equal(r.status, 207);
    assert_true(json_object_object_get_ex(r.json, "results", &res));
    assert_string_equal(jstr(json_object_array_get_idx(res, 0), "error", "code"), "bad_json");
    resp_free(&r);
    http_do(s, "GET", "/v1/messages/batch", KEY_ACME, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/batch", NULL, "{\"messages\":[{}]}", &r);
    expect_error(&r, 401, "unauthorized");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, before);

    /* Store unavailable before: 503 for the whole request. */
    redis_down(s);
    http_do(s, "POST", "/v1/messages/batch", KEY_ACME,
            "{\"messages\":[{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"x\"}]}", &r);
    expect_error(&r, 503, "unavailable");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, before);
}

static void
test_http_auth(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char h[64];

    http_do(s, "POST", "/v1/messages", NULL, ok_body, &r);
    expect_error(&r, 401, "unauthorized");
    assert_non_null(resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
    assert_string_equal(h, "Bearer");
    resp_free(&r);

    http_do(s, "POST", "/v1/messages", "wrong-key", ok_body, &r);
    expect_error(&r, 401, "unauthorized");
    assert_non_null(resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
    resp_free(&r);

    http_do(s, "GET", "/v1/messages/msg_0001", "wrong-key", NULL, &r);
    expect_error(&r, 401, "unauthorized");
    resp_free(&r);

    /* Another account's key works, but not with acme's sender. */
    http_do(s, "POST", "/v1/messages", KEY_OTHER, ok_body, &r);
    expect_error(&r, 403, "sender_not_allowed");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, 0);
    assert_int_equal(s->rec.nget, 0);
}

static void
test_http_invalid_not_submitted(void **state)
{
    struct srv *s = *state;
    struct resp r;

    http_do(s, "POST", "/v1/messages", KEY_ACME, "{\"from\":", &r);
    expect_error(&r, 400, "bad_json");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME,
            "{\"from\":\"ACME\",\"to\":\"+447700900123\",\"text\":\"hi\",\"clientref\":\"x\"}", &r);
    expect_error(&r, 400, "unknown_field");
    assert_non_null(strstr(jstr(r.json, "error", "message"), "clientref"));
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME,
            "{\"from\":\"ACME\",\"to\":\"07700900123\",\"text\":\"hi\"}", &r);
    expect_error(&r, 400, "invalid_to");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME,
            "{\"from\":\"ACME\",\"to\":\"+14155550100\",\"text\":\"hi\"}", &r);
    expect_error(&r, 422, "alphanumeric_forbidden");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME, NULL, &r);
    expect_error(&r, 400, "bad_json");
    resp_free(&r);
    {
        char *t = repeat("a", 1531), *b = body3("ACME", "+447700900123", t, "");
        http_do(s, "POST", "/v1/messages", KEY_ACME, b, &r);
        expect_error(&r, 413, "text_too_long");
        resp_free(&r);
        free(b);
        free(t);
    }
    /* Over http.max_body (8192): evhttp refuses it before we see it. */
    {
        char *t = repeat("a", 9000), *b = body3("ACME", "+447700900123", t, "");
        http_do(s, "POST", "/v1/messages", KEY_ACME, b, &r);
        assert_int_equal(r.status, 413);
        resp_free(&r);
        free(b);
        free(t);
    }
    assert_int_equal(s->rec.nsubmit, 0);
}

static void
test_http_routes_and_methods(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char h[64];

    http_do(s, "GET", "/", KEY_ACME, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    http_do(s, "POST", "/v1/message", KEY_ACME, ok_body, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    http_do(s, "GET", "/v1/messages/", KEY_ACME, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    http_do(s, "GET", "/v1/messages/bad.id", KEY_ACME, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    {
        char path[128];
        char *id = repeat("x", 65);
        snprintf(path, sizeof(path), "/v1/messages/%s", id);
        http_do(s, "GET", path, KEY_ACME, NULL, &r);
        expect_error(&r, 404, "not_found");
        resp_free(&r);
        id[64] = '\0';
        snprintf(path, sizeof(path), "/v1/messages/%s", id);
        http_do(s, "GET", path, KEY_ACME, NULL, &r);
        assert_int_equal(r.status, 404);    /* looked up (nget below), not there */
        resp_free(&r);
        free(id);
    }

    http_do(s, "GET", "/v1/messages", KEY_ACME, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_non_null(resp_header(&r, "Allow", h, sizeof(h)));
    assert_string_equal(h, "POST");
    resp_free(&r);
    http_do(s, "POST", "/v1/messages/msg_0001", KEY_ACME, ok_body, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_non_null(resp_header(&r, "Allow", h, sizeof(h)));
    assert_string_equal(h, "GET");
    resp_free(&r);
    http_do(s, "DELETE", "/v1/messages/msg_0001", KEY_ACME, NULL, &r);
    expect_error(&r, 405, "method_not_allowed");
    assert_non_null(resp_header(&r, "Allow", h, sizeof(h)));
    assert_string_equal(h, "GET");
    resp_free(&r);
    http_do(s, "PUT", "/v1/messages", KEY_ACME, ok_body, &r);
    expect_error(&r, 405, "method_not_allowed");
    resp_free(&r);
    assert_int_equal(s->rec.nsubmit, 0);
    assert_int_equal(s->rec.nget, 1);
}

static void
test_http_get(void **state)
{
    struct srv *s = *state;
    struct resp r;
    char h[64];

    char path[96];
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    assert_int_equal(r.status, 202);
    snprintf(path, sizeof(path), "/v1/messages/%s", jstr(r.json, "id", NULL));
    resp_free(&r);
    http_do(s, "GET", path, KEY_ACME, NULL, &r);
    assert_int_equal(r.status, 200);
    expect_json_ct(&r);
    assert_string_equal(jstr(r.json, "state", NULL), "queued");
    resp_free(&r);
    assert_string_equal(s->rec.get_id, path + strlen("/v1/messages/"));
    assert_string_equal(s->rec.account, "acme");

    /* Another account's message is not there for it. */
    http_do(s, "GET", path, KEY_OTHER, NULL, &r);
    expect_error(&r, 404, "not_found");
    resp_free(&r);
    assert_string_equal(s->rec.account, "other");

    redis_down(s);
    http_do(s, "GET", path, KEY_ACME, NULL, &r);
    expect_error(&r, 503, "unavailable");
    assert_non_null(resp_header(&r, "Retry-After", h, sizeof(h)));
    resp_free(&r);
    assert_int_equal(s->rec.nget, 3);
}

static void
test_http_deferred_done(void **state)
{
    struct srv *s = *state;
    struct resp r;
    int fd;
    char req[512];
    int n;

    redis_hold(s);
    n = snprintf(req, sizeof(req), "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer " KEY_ACME "\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(ok_body), ok_body);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n));
    TL_RUN_UNTIL(s->base, s->rec.nsubmit == 1, 2000);
    assert_int_equal(s->rec.nsubmit, 1);
    /* Nothing is answered until the backend is. */
    TL_RUN_UNTIL(s->base, false, 100);
    assert_int_equal(recv(fd, req, sizeof(req), 0), -1);
    redis_go(s);
    http_recv(s, fd, &r);
    close(fd);
    assert_int_equal(r.status, 202);
    assert_msg_id(jstr(r.json, "id", NULL));
    resp_free(&r);
}

/* The client hangs up while the backend works: done must still be safe. */
static void
test_http_client_gone(void **state)
{
    struct srv *s = *state;
    char req[512];
    int fd, n;

    redis_hold(s);
    n = snprintf(req, sizeof(req), "POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer " KEY_ACME "\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(ok_body), ok_body);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n));
    TL_RUN_UNTIL(s->base, s->rec.nsubmit == 1, 2000);
    assert_int_equal(s->rec.nsubmit, 1);
    {
        struct linger lg = { 1, 0 };    /* RST, not FIN */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
    TL_RUN_UNTIL(s->base, false, 100);
    redis_go(s);                            /* the answer, for nobody */
    TL_RUN_UNTIL(s->base, false, 200);

    /* The server still serves: the message is stored. */
    struct resp r;
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    assert_int_equal(r.status, 200);        /* its client_ref: the orphan's id */
    char path[96];
    snprintf(path, sizeof(path), "/v1/messages/%s", jstr(r.json, "id", NULL));
    resp_free(&r);
    http_do(s, "GET", path, KEY_ACME, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* Same for a GET, with the client closing politely. */
    redis_hold(s);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer " KEY_ACME "\r\n\r\n", path);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n));
    TL_RUN_UNTIL(s->base, s->rec.nget == 2, 2000);
    assert_int_equal(s->rec.nget, 2);
    close(fd);
    TL_RUN_UNTIL(s->base, false, 100);
    redis_go(s);
    TL_RUN_UNTIL(s->base, false, 200);
}

/* The server is freed while a request waits: the late done is harmless. */
static void
test_http_server_freed_first(void **state)
{
    struct srv *s = *state;
    char req[512];
    int fd, n;

    redis_hold(s);
    n = snprintf(req, sizeof(req), "POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer " KEY_ACME "\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(ok_body), ok_body);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n));
    TL_RUN_UNTIL(s->base, s->rec.nsubmit == 1, 2000);
    assert_int_equal(s->rec.nsubmit, 1);
    api_server_free(s->api);
    s->api = NULL;
    redis_go(s);                            /* the store's answer comes after */
    TL_RUN_UNTIL(s->base, false, 200);
    /* The connection was closed without an answer. */
    char buf[64];
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    assert_true(got <= 0);
    close(fd);
}

static void
test_http_keepalive(void **state)
{
    struct srv *s = *state;
    char req[1024], buf[8192];
    size_t got = 0;
    int fd, n;

    /* Two requests on one connection, the second closing it. */
    char a1[64], a2[64];
    struct resp r;
    http_do(s, "POST", "/v1/messages", KEY_ACME, ok_body, &r);
    snprintf(a1, sizeof(a1), "%s", jstr(r.json, "id", NULL));
    resp_free(&r);
    http_do(s, "POST", "/v1/messages", KEY_ACME,
            "{\"from\":\"ACME\",\"to\":\"+447700900124\",\"text\":\"two\"}", &r);
    snprintf(a2, sizeof(a2), "%s", jstr(r.json, "id", NULL));
    resp_free(&r);
    n = snprintf(req, sizeof(req),
                 "GET /v1/messages/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " KEY_ACME "\r\n\r\n"
                 "GET /v1/messages/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer " KEY_ACME "\r\n\r\n", a1, a2);
    fd = http_connect(s->port);
    assert_true(http_send(s, fd, req, (size_t)n));
    for (int i = 0; i < 200; i++) {
        TL_RUN_UNTIL(s->base, false, 10);
        ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (k == 0)
            break;
        if (k > 0)
            got += (size_t)k;
    }
    buf[got] = '\0';
    close(fd);
    assert_int_equal(s->rec.nget, 2);
    assert_string_equal(s->rec.get_id, a2);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(strstr(buf, "HTTP/1.1 200") + 1, "HTTP/1.1 200"));
}

static void
test_http_port_in_use(void **state)
{
    struct srv *s = *state;
    struct gw_config copy = *cfg;

    copy.http.port = s->port;
    errno = 0;
    assert_null(api_server_new(s->base, &copy, &rec_backend, &s->rec));
    assert_int_equal(errno, EADDRINUSE);
}

/* Runs last: every request above left one log line, and no key. */
static void
test_log_lines(void **state)
{
    FILE *f = fopen(logpath, "r");
    char line[2048];
    int http = 0, accepted = 0, unauth = 0;

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, KEY_ACME) || strstr(line, KEY_OTHER) || strstr(line, "wrong-key"))
            fail_msg("an API key was logged: %s", line);
        if (!strstr(line, "event=http "))
            continue;
        http++;
        assert_non_null(strstr(line, " method="));
        assert_non_null(strstr(line, " path="));
        assert_non_null(strstr(line, " status="));
        assert_non_null(strstr(line, " account="));
        assert_non_null(strstr(line, " ms="));
        if (strstr(line, "status=202") && strstr(line, "account=\"acme\"") &&
            strstr(line, " id=m") && strstr(line, "path=\"/v1/messages\""))
            accepted++;
        if (strstr(line, "status=401 account=-"))
            unauth++;
    }
    fclose(f);
    assert_true(http >= 30);
    assert_true(accepted >= 1);
    assert_int_equal(unauth, 4);     /* test_http_auth 3, test_http_batch 1 */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_gsm7_one_segment),
        cmocka_unit_test(test_valid_all_fields),
        cmocka_unit_test(test_valid_segments),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_unknown_and_missing_fields),
        cmocka_unit_test(test_invalid_types),
        cmocka_unit_test(test_invalid_to),
        cmocka_unit_test(test_invalid_values),
        cmocka_unit_test(test_sender_rules),
        cmocka_unit_test(test_encoding_and_length),
        cmocka_unit_test_setup_teardown(test_http_post_accepted, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_payload_segments, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_existing_and_unavailable, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_batch, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_auth, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_invalid_not_submitted, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_routes_and_methods, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_get, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_deferred_done, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_client_gone, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_server_freed_first, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_keepalive, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_port_in_use, srv_setup, srv_teardown),
        cmocka_unit_test(test_log_lines),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
