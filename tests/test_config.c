/*
 * Unit tests for core/config: the shipped configs load, defaults are filled,
 * every class of error is reported at its FILE:LINE (all of them, not only
 * the first), and the lookups (route by prefix and sender type, account by
 * API key, sender permissions) answer correctly.
 *
 * Configs are written to a scratch directory at test time; line numbers in
 * the assertions are the lines of those strings (line 1 = first line).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "tests/testlib.h"

static char *tmpdir;

struct loaded {
    char path[512];
    int n;                      /* config_load's result */
    char *errs;                 /* everything it wrote */
    size_t errlen;
    struct gw_config *cfg;
};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void
load_path(struct loaded *l, const char *path)
{
    FILE *errs = open_memstream(&l->errs, &l->errlen);

    assert_non_null(errs);
    snprintf(l->path, sizeof(l->path), "%s", path);
    l->cfg = NULL;
    l->n = config_load(path, &l->cfg, errs);
    fclose(errs);
}

static void
load_text(struct loaded *l, const char *name, const char *text)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    write_file(path, text);
    load_path(l, path);
}

static void
loaded_free(struct loaded *l)
{
    config_free(l->cfg);
    free(l->errs);
    l->cfg = NULL;
    l->errs = NULL;
}

static size_t
count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* True when errs holds a line "FILE:LINE: ...sub...". */
static bool
has_err(const char *errs, const char *file, int line, const char *sub)
{
    char head[600];
    size_t hl = (size_t)snprintf(head, sizeof(head), "%s:%d: ", file, line);
    const char *p = errs;

    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= hl && strncmp(p, head, hl) == 0) {
            char *one = strndup(p, len);
            bool ok = strstr(one, sub) != NULL;
            free(one);
            if (ok)
                return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

#define assert_err(l, line, sub) do { \
        if (!has_err((l)->errs, (l)->path, (line), (sub))) { \
            fprintf(stderr, "expected %s:%d: ...%s...\ngot:\n%s", (l)->path, (line), (sub), (l)->errs); \
            fail(); \
        } \
    } while (0)

#define assert_nerrs(l, want) do { \
        if ((l)->n != (want)) { \
            fprintf(stderr, "%s: expected %d error(s), got %d:\n%s", (l)->path, (want), (l)->n, (l)->errs); \
            fail(); \
        } \
    } while (0)

/* A valid base that the error tests append their own lists to. */
#define SMSC_SIM \
    "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = 2775; system_id = \"a\"; password = \"b\"; } );\n"

#define KEY_FOO "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define KEY_BAR "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"

static int
setup(void **state)
{
    (void)state;
    tmpdir = tl_tmpdir();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tl_cleanup_dir(tmpdir);     /* frees it */
    return 0;
}

/* ------------------------------------------------------------ shipped */

static void
test_shipped_demo(void **state)
{
    struct loaded l;
    char path[512];
    (void)state;

    snprintf(path, sizeof(path), "%s/conf/smsgw.conf", tl_top());
    load_path(&l, path);
    assert_nerrs(&l, 0);
    assert_string_equal(l.errs, "");
    struct gw_config *c = l.cfg;
    assert_string_equal(c->redis.host, "127.0.0.1");
    assert_int_equal(c->redis.port, 6390);
    assert_int_equal(c->http.port, 8080);
    assert_int_equal(c->nsmscs, 1);
    const struct cfg_smsc *sim = config_smsc(c, "sim");
    assert_non_null(sim);
    assert_int_equal(sim->port, 27750);
    assert_false(sim->tls);
    assert_string_equal(sim->system_id, "demo");
    assert_string_equal(sim->password, "demo123");
    assert_int_equal(sim->bind_mode, SMSC_BIND_TRX);

    const struct cfg_account *demo = config_account_by_key(c, "demo-key-change-me");
    assert_non_null(demo);
    assert_string_equal(demo->name, "demo");
    assert_null(config_account_by_key(c, "demo-key-change-m"));

    static const struct { const char *addr; enum sender_type t; int ton, npi; } want[] = {
        { "12345", SENDER_SHORTCODE, 3, 0 },
        { "+18885550100", SENDER_TOLLFREE, 1, 1 },
        { "+12125550100", SENDER_10DLC, 1, 1 },
        { "SMSGW", SENDER_ALPHANUMERIC, 5, 0 },
    };
    assert_int_equal(c->nsenders, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct cfg_sender *s = config_sender(c, want[i].addr);
        assert_non_null(s);
        assert_int_equal(s->type, want[i].t);
        assert_int_equal(s->ton, want[i].ton);
        assert_int_equal(s->npi, want[i].npi);
        assert_true(config_account_may_use(demo, s));
        const struct cfg_route *r = config_route_for(c, "447700900123", want[i].t);
        assert_non_null(r);
        assert_string_equal(r->name, "default");
        assert_int_equal(r->mps, 100);
        assert_int_equal(r->nsmscs, 1);
        assert_ptr_equal(r->smscs[0].smsc, sim);
    }
    loaded_free(&l);
}

static void
test_shipped_example(void **state)
{
    struct loaded l;
    char path[512];
    (void)state;

    snprintf(path, sizeof(path), "%s/conf/example-carrier.conf", tl_top());
    load_path(&l, path);
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;

    assert_int_equal(c->nsmscs, 4);
    const struct cfg_smsc *sc = config_smsc(c, "sc-carrier"), *agg = config_smsc(c, "aggregator");
    const struct cfg_smsc *intl = config_smsc(c, "intl"), *bak = config_smsc(c, "intl-backup");
    assert_non_null(sc);
    assert_non_null(agg);
    assert_non_null(intl);
    assert_non_null(bak);
    assert_true(sc->tls);
    assert_string_equal(sc->tls_ca_file, "/etc/smsgw/tls/sc-carrier-ca.pem");
    assert_true(sc->short_code_ton_set);
    assert_int_equal(sc->short_code_ton, 0);
    assert_int_equal(sc->short_code_npi, 1);
    assert_false(agg->short_code_ton_set);
    assert_int_equal(agg->bind_mode, SMSC_BIND_TX_RX);
    assert_int_equal(agg->sessions, 4);
    assert_int_equal(agg->default_data_coding, 1);
    assert_int_equal(agg->resp_id_format, SMPP_DLR_ID_STRING);
    assert_int_equal(agg->dlr_id_format, SMPP_DLR_ID_STRING);
    assert_int_equal(intl->concat, SMPP_TEXT_CONCAT_UDH16);
    assert_int_equal(intl->resp_id_format, SMPP_DLR_ID_DEC);
    assert_int_equal(intl->dlr_id_format, SMPP_DLR_ID_HEX);
    assert_int_equal(bak->dlr_id_format, SMPP_DLR_ID_DEC);   /* follows message_id_format */
    assert_null(intl->tls_ca_file);

    assert_string_equal(c->redis.unix_socket, "/run/redis/redis-server.sock");
    assert_int_equal(c->nalpha_forbidden, 3);
    assert_string_equal(c->alpha_forbidden[2], "91");

    const struct cfg_route *r = config_route_for(c, "14155550100", SENDER_SHORTCODE);
    assert_non_null(r);
    assert_string_equal(r->name, "us-shortcode");
    assert_int_equal(r->mps, 30);
    assert_string_equal(config_route_for(c, "14155550100", SENDER_10DLC)->name, "us-10dlc");
    assert_int_equal(config_route_for(c, "14155550100", SENDER_10DLC)->mps, 75);
    assert_string_equal(config_route_for(c, "18005550100", SENDER_TOLLFREE)->name, "us-tollfree");
    r = config_route_for(c, "4915112345678", SENDER_ALPHANUMERIC);
    assert_non_null(r);
    assert_string_equal(r->name, "intl-alpha");
    assert_int_equal(r->nsmscs, 2);
    assert_ptr_equal(r->smscs[0].smsc, intl);
    assert_int_equal(r->smscs[1].priority, 1);
    assert_ptr_equal(r->smscs[1].smsc, bak);
    assert_null(config_route_for(c, "14155550100", SENDER_ALPHANUMERIC));
    assert_null(config_route_for(c, "4915112345678", SENDER_SHORTCODE));

    const struct cfg_account *acme = config_account_by_key(c, "foo");
    const struct cfg_account *globex = config_account_by_key(c, "baz");
    assert_non_null(acme);
    assert_non_null(globex);
    assert_string_equal(acme->name, "acme");
    assert_ptr_equal(config_account_by_key(c, "bar"), acme);
    assert_string_equal(globex->name, "globex");
    /* written in upper case in the file, stored lower case */
    assert_string_equal(globex->api_key_sha256[0],
                        "baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096");
    assert_null(config_account_by_key(c, "qux"));
    assert_null(config_account_by_key(c, ""));

    const struct cfg_sender *dlc = config_sender(c, "+13125550187");
    const struct cfg_sender *sc88 = config_sender(c, "88001");
    const struct cfg_sender *tf = config_sender(c, "+18885550123");
    const struct cfg_sender *gc = config_sender(c, "Globex Corp");
    assert_true(config_account_may_use(acme, dlc));        /* listed on the account */
    assert_false(config_account_may_use(globex, dlc));
    assert_true(config_account_may_use(globex, sc88));     /* listed on the sender */
    assert_false(config_account_may_use(acme, sc88));
    assert_true(config_account_may_use(acme, tf));
    assert_true(config_account_may_use(globex, tf));
    assert_true(config_account_may_use(globex, gc));
    assert_int_equal(gc->ton, 5);
    assert_int_equal(gc->npi, 0);
    assert_int_equal(dlc->mps, 10);
    loaded_free(&l);
}

/* ------------------------------------------------------------ defaults */

static void
test_defaults(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "defaults.conf",
              SMSC_SIM
              "senders = ( { address = \"ACME\"; type = \"alphanumeric\"; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; } );\n"
              "accounts = ( { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; senders = [ \"ACME\" ]; } );\n");
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;
    assert_non_null(c->instance);
    assert_true(strlen(c->instance) > 0);
    assert_string_equal(c->log_level, "info");
    assert_null(c->log_file);
    assert_int_equal(c->max_segments, 10);
    assert_int_equal(c->nalpha_forbidden, 2);
    assert_string_equal(c->alpha_forbidden[0], "1");
    assert_string_equal(c->alpha_forbidden[1], "52");
    assert_string_equal(c->redis.host, "127.0.0.1");
    assert_int_equal(c->redis.port, 6379);
    assert_null(c->redis.unix_socket);
    assert_null(c->redis.password);
    assert_string_equal(c->redis.prefix, "smsgw:");
    assert_int_equal(c->redis.timeout_ms, 2000);
    assert_string_equal(c->http.listen, "127.0.0.1");
    assert_int_equal(c->http.port, 8080);
    assert_int_equal(c->http.max_body, 65536);

    const struct cfg_smsc *m = &c->smscs[0];
    assert_false(m->tls);
    assert_true(m->tls_verify);
    assert_null(m->tls_ca_file);
    assert_string_equal(m->system_type, "");
    assert_int_equal(m->bind_mode, SMSC_BIND_TRX);
    assert_int_equal(m->sessions, 1);
    assert_int_equal(m->window, 64);
    assert_int_equal(m->enquire_link_s, 30);
    assert_int_equal(m->response_timeout_ms, 10000);
    assert_int_equal(m->reconnect_min_ms, 500);
    assert_int_equal(m->reconnect_max_ms, 30000);
    assert_int_equal(m->default_data_coding, 0);
    assert_int_equal(m->concat, SMPP_TEXT_CONCAT_UDH8);
    assert_int_equal(m->resp_id_format, SMPP_DLR_ID_HEX);
    assert_int_equal(m->dlr_id_format, SMPP_DLR_ID_HEX);
    assert_false(m->short_code_ton_set);
    assert_int_equal(m->line, 1);
    assert_string_equal(m->file, l.path);

    const struct cfg_route *r = &c->routes[0];
    assert_int_equal(r->nprefixes, 1);
    assert_string_equal(r->prefixes[0], "");
    assert_int_equal(r->sender_types, (1u << SENDER_TYPE_COUNT) - 1);
    assert_int_equal(r->retry_attempts, 5);
    assert_int_equal(r->retry_backoff_ms, 1000);
    assert_int_equal(r->retry_backoff_max_ms, 60000);
    assert_int_equal(r->validity_s, 172800);
    assert_int_equal(r->smscs[0].priority, 0);
    assert_int_equal(r->smscs[0].weight, 1);
    assert_int_equal(r->line, 3);

    const struct cfg_sender *s = &c->senders[0];
    assert_int_equal(s->mps, 0);
    assert_int_equal(s->ton, 5);
    assert_int_equal(s->npi, 0);
    /* permission given on the account shows on the sender too */
    assert_int_equal(s->naccounts, 1);
    assert_string_equal(s->accounts[0], "a");
    const struct cfg_account *a = &c->accounts[0];
    assert_null(a->callback_url);
    assert_int_equal(a->mps, 0);
    assert_int_equal(a->line, 4);
    loaded_free(&l);
}

/* 64-bit literals: with L they are read; without L, libconfig truncates
 * them, and the loader must still see the number that was written. */
static void
test_int64(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "int64ok.conf",
              "http = { port = 8081L; max_body = 1048576L; };\n"
              "redis = { timeout_ms = 5000; };\n");
    assert_nerrs(&l, 0);
    assert_int_equal(l.cfg->http.port, 8081);
    assert_int_equal(l.cfg->http.max_body, 1048576);
    loaded_free(&l);

    load_text(&l, "int64bad.conf",
              "http = {\n"
              "  max_body = 5000000000;\n"     /* truncates to 705032704 */
              "  port = 4294975376;\n"         /* 2^32 + 8080: truncates to 8080 */
              "};\n"
              "redis = { timeout_ms = 9000000000L; };\n");
    assert_nerrs(&l, 3);
    assert_err(&l, 2, "http: max_body 5000000000 is out of range 1024..67108864");
    assert_err(&l, 3, "http: port 4294975376 is out of range 0..65535");
    assert_err(&l, 5, "redis: timeout_ms 9000000000 is out of range");
    loaded_free(&l);
}

/* ------------------------------------------------------------- errors */

static void
test_unknown_keys(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "unknown.conf",
              "log_levle = \"info\";\n"
              "redis = { hots = \"x\"; };\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  windw = 5;\n"
              "  frobnicate = true;\n"
              "} );\n"
              "senders = ( { address = \"12345\"; type = \"shortcode\"; acounts = [ ]; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = ( { name = \"sim\"; wieght = 2; } ); } );\n"
              "smscs = ();\n");
    assert_nerrs(&l, 7);
    assert_int_equal(count_lines(l.errs), 7);
    assert_err(&l, 1, "unknown setting \"log_levle\" (did you mean \"log_level\"?)");
    assert_err(&l, 2, "redis: unknown setting \"hots\" (did you mean \"host\"?)");
    assert_err(&l, 5, "smsc \"sim\": unknown setting \"windw\" (did you mean \"window\"?)");
    assert_err(&l, 6, "smsc \"sim\": unknown setting \"frobnicate\"");
    assert_null(strstr(l.errs, "frobnicate\" (did you mean"));
    assert_err(&l, 8, "sender \"12345\": unknown setting \"acounts\" (did you mean \"accounts\"?)");
    assert_err(&l, 9, "unknown setting \"wieght\" (did you mean \"weight\"?)");
    assert_err(&l, 10, "unknown setting \"smscs\" (did you mean \"smsc\"?)");
    loaded_free(&l);
}

static void
test_wrong_types(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "types.conf",
              "max_segments = \"10\";\n"
              "http = { port = 80.5; };\n"
              "redis = \"localhost\";\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  tls = \"yes\";\n"
              "  host = 5;\n"
              "} );\n");
    /* a duplicate key is a libconfig parse error: check it separately */
    assert_nerrs(&l, 1);
    assert_err(&l, 7, "duplicate setting name");
    loaded_free(&l);

    load_text(&l, "types.conf",
              "max_segments = \"10\";\n"
              "http = { port = 80.5; };\n"
              "redis = \"localhost\";\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = 5; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  tls = \"yes\";\n"
              "} );\n"
              "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = \"demo\"; } );\n"
              "routes = { name = \"r\"; };\n"
              "accounts = ( \"x\" );\n");
    assert_nerrs(&l, 8);
    assert_err(&l, 1, "max_segments must be an integer, not a string");
    assert_err(&l, 2, "http: port must be an integer, not a float");
    assert_err(&l, 3, "redis must be a group { ... }, not a string");
    assert_err(&l, 5, "smsc \"sim\": host must be a string, not an integer");
    assert_err(&l, 6, "smsc \"sim\": tls must be true or false, not a string");
    assert_err(&l, 8, "sender \"12345\": accounts must be an array of strings");
    assert_err(&l, 9, "routes must be a list of groups");
    assert_err(&l, 10, "accounts: element 1 must be a group");
    loaded_free(&l);
}

static void
test_missing_required(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "missing.conf",
              "smsc = (\n"
              "  { name = \"sim\"; },\n"
              "  {\n"
              "    host = \"h\"; port = 2775; system_id = \"s\"; password = \"p\";\n"
              "  }\n"
              ");\n"
              "senders = ( { type = \"shortcode\"; }, { address = \"12345\"; } );\n"
              "routes = ( { name = \"r\"; } );\n"
              "accounts = ( { name = \"a\"; } );\n");
    assert_err(&l, 2, "smsc \"sim\": missing required setting \"host\"");
    assert_err(&l, 2, "smsc \"sim\": missing required setting \"port\"");
    assert_err(&l, 2, "smsc \"sim\": missing required setting \"system_id\"");
    assert_err(&l, 2, "smsc \"sim\": missing required setting \"password\"");
    assert_err(&l, 3, "smsc #2: missing required setting \"name\"");
    assert_err(&l, 7, "sender #1: missing required setting \"address\"");
    assert_err(&l, 7, "sender \"12345\": missing required setting \"type\"");
    assert_err(&l, 8, "route \"r\": missing required setting \"mps\"");
    assert_err(&l, 8, "route \"r\": missing required setting \"smsc\"");
    assert_err(&l, 9, "account \"a\": missing required setting \"api_keys\"");
    assert_nerrs(&l, 10);
    loaded_free(&l);

    load_text(&l, "nokeys.conf", "accounts = ( { name = \"a\"; api_keys = [ ]; } );\n");
    assert_nerrs(&l, 1);
    assert_err(&l, 1, "account \"a\": api_keys must list at least one key");
    loaded_free(&l);
}

static void
test_ranges(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "ranges.conf",
              "max_segments = 256;\n"
              "http = { port = 0; };\n"                            /* 0 is fine: any free port */
              "redis = { port = 0; };\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = \"h\"; port = 65536; system_id = \"a\"; password = \"b\";\n"
              "  window = 10001;\n"
              "  sessions = 0;\n"
              "  data_coding = 3;\n"
              "  short_code_ton = 7;\n"
              "} );\n"
              "senders = ( { address = \"12345\"; type = \"shortcode\"; mps = 0; } );\n"
              "routes = (\n"
              "  { name = \"r\"; mps = 100001; smsc = [ \"sim\" ]; },\n"
              "  { name = \"q\"; mps = -1; smsc = [ \"sim\" ]; prefixes = [ \"9\" ]; }\n"
              ");\n"
              "accounts = ( { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; mps = 100001; } );\n");
    assert_err(&l, 1, "max_segments 256 is out of range 1..255");
    assert_err(&l, 3, "redis: port 0 is out of range 1..65535");
    assert_err(&l, 5, "smsc \"sim\": port 65536 is out of range 1..65535");
    assert_err(&l, 6, "smsc \"sim\": window 10001 is out of range 1..10000");
    assert_err(&l, 7, "smsc \"sim\": sessions 0 is out of range 1..64");
    assert_err(&l, 8, "smsc \"sim\": data_coding 3 is out of range 0..1");
    assert_err(&l, 9, "smsc \"sim\": short_code_ton 7 is out of range 0..6");
    assert_err(&l, 11, "sender \"12345\": mps 0 is out of range 1..100000");
    assert_err(&l, 13, "route \"r\": mps 100001 is out of range 1..100000");
    assert_err(&l, 14, "route \"q\": mps -1 is out of range 1..100000");
    assert_err(&l, 16, "account \"a\": mps 100001 is out of range 1..100000");
    assert_nerrs(&l, 11);
    assert_false(has_err(l.errs, l.path, 2, ""));
    loaded_free(&l);

    load_text(&l, "ranges-ok.conf",
              "http = { port = 0; };\n"
              "smsc = ( { name = \"s\"; host = \"h\"; port = 65535; system_id = \"a\"; password = \"b\";\n"
              "  window = 10000; sessions = 64; } );\n"
              "routes = ( { name = \"r\"; mps = 100000; smsc = [ \"s\" ]; } );\n");
    assert_nerrs(&l, 0);
    assert_int_equal(l.cfg->http.port, 0);
    loaded_free(&l);
}

/* log_trace: event names as strings, at most 16, repeats kept once. */
static void
test_log_trace(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "trace.conf",
              "log_trace = [ \"submit_sm\", \"pacer_grant\", \"submit_sm\" ];\n"
              SMSC_SIM
              "senders = ( { address = \"12345\"; type = \"shortcode\"; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; } );\n");
    assert_nerrs(&l, 0);
    assert_int_equal(l.cfg->nlog_trace, 2);
    assert_string_equal(l.cfg->log_trace[0], "submit_sm");
    assert_string_equal(l.cfg->log_trace[1], "pacer_grant");
    loaded_free(&l);

    load_text(&l, "trace_bad.conf",
              "log_trace = [ \"submit_sm\", \"Submit SM\" ];\n"
              SMSC_SIM
              "senders = ( { address = \"12345\"; type = \"shortcode\"; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; } );\n");
    assert_nerrs(&l, 1);
    assert_err(&l, 1, "log_trace: element 2 must be an event name as a string (lowercase letters, "
               "digits and _, as after event= in the log), like \"submit_sm\"");
    loaded_free(&l);

    load_text(&l, "trace_type.conf",
              "log_trace = \"submit_sm\";\n"
              SMSC_SIM
              "senders = ( { address = \"12345\"; type = \"shortcode\"; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; } );\n");
    assert_nerrs(&l, 1);
    assert_err(&l, 1, "log_trace must be an array of event names");
    loaded_free(&l);

    char text[2048] = "log_trace = [ ";
    for (int i = 0; i < 17; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\"e%d\"", i ? ", " : "", i);
    snprintf(text + strlen(text), sizeof(text) - strlen(text), " ];\n%s%s%s", SMSC_SIM,
             "senders = ( { address = \"12345\"; type = \"shortcode\"; } );\n",
             "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; } );\n");
    load_text(&l, "trace_many.conf", text);
    assert_nerrs(&l, 1);
    assert_err(&l, 1, "log_trace: at most 16 events");
    loaded_free(&l);
}

static void
test_enums(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "enums.conf",
              "log_level = \"verbose\";\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  bind = \"tx\";\n"
              "  concat = \"udh7\";\n"
              "  message_id_format = \"hexadecimal\";\n"
              "  receipt_id_format = 1;\n"
              "} );\n"
              "senders = ( { address = \"12345\"; type = \"short\"; } );\n"
              "routes = ( { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; sender_types = [ \"sms\" ]; } );\n");
    assert_nerrs(&l, 7);
    assert_err(&l, 1, "log_level \"verbose\" is not one of: \"debug\", \"info\", \"warn\", \"error\"");
    assert_err(&l, 4, "smsc \"sim\": bind \"tx\" is not one of: \"trx\", \"tx+rx\"");
    assert_err(&l, 5, "concat \"udh7\" is not one of: \"udh8\", \"udh16\", \"sar\", \"payload\"");
    assert_err(&l, 6, "message_id_format \"hexadecimal\" is not one of: \"hex\", \"decimal\", \"string\"");
    assert_err(&l, 7, "receipt_id_format must be a string, one of: \"hex\", \"decimal\", \"string\"");
    assert_err(&l, 9, "sender \"12345\": type \"short\" is not one of: \"shortcode\", \"tollfree\", \"10dlc\", \"alphanumeric\"");
    assert_err(&l, 10, "route \"r\": sender_types: \"sms\" is not one of: \"shortcode\"");
    /* the route also has no type left: route overlap is not reported for it */
    loaded_free(&l);
}

static void
test_duplicates(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "dups.conf",
              "smsc = (\n"
              "  { name = \"sim\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\"; },\n"
              "  { name = \"sim\"; host = \"h\"; port = 2; system_id = \"a\"; password = \"b\"; }\n"
              ");\n"
              "senders = (\n"
              "  { address = \"12345\"; type = \"shortcode\"; },\n"
              "  { address = \"12345\"; type = \"shortcode\"; }\n"
              ");\n"
              "routes = (\n"
              "  { name = \"r\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ]; },\n"
              "  { name = \"r\"; mps = 1; smsc = [ \"sim\", \"sim\" ]; prefixes = [ \"2\" ]; }\n"
              ");\n"
              "accounts = (\n"
              "  { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; },\n"
              "  { name = \"a\"; api_keys = [ \"" KEY_BAR "\" ]; }\n"
              ");\n");
    char first[600];
    assert_err(&l, 3, "duplicate smsc name \"sim\"");
    snprintf(first, sizeof(first), "(first defined at %s:2)", l.path);
    assert_err(&l, 3, first);
    assert_err(&l, 7, "duplicate sender address \"12345\"");
    assert_err(&l, 11, "duplicate route name \"r\"");
    assert_err(&l, 11, "route \"r\": smsc \"sim\" is listed twice");
    assert_err(&l, 15, "duplicate account name \"a\"");
    assert_nerrs(&l, 5);
    loaded_free(&l);

    /* the same API key on two accounts; the same prefix and type on two routes */
    load_text(&l, "dups2.conf",
              SMSC_SIM
              "routes = (\n"
              "  { name = \"us\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ]; sender_types = [ \"shortcode\" ]; },\n"
              "  { name = \"us2\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ]; sender_types = [ \"10dlc\" ]; },\n"
              "  { name = \"us3\"; mps = 1; smsc = [ \"sim\" ];\n"
              "    prefixes = [ \"44\", \"1\" ]; }\n"
              ");\n"
              "accounts = (\n"
              "  { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; },\n"
              "  { name = \"b\"; api_keys = [ \"" KEY_FOO "\" ]; }\n"
              ");\n");
    assert_nerrs(&l, 3);
    assert_err(&l, 6, "route \"us3\": prefix \"1\" for shortcode senders is already routed by route \"us\"");
    assert_err(&l, 6, "route \"us3\": prefix \"1\" for 10dlc senders is already routed by route \"us2\"");
    assert_err(&l, 10, "account \"b\": an api key is also used by account \"a\"");
    loaded_free(&l);
}

static void
test_references(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "refs.conf",
              SMSC_SIM
              "senders = (\n"
              "  { address = \"12345\"; type = \"shortcode\";\n"
              "    accounts = [ \"acme\", \"nobody\" ]; }\n"
              ");\n"
              "routes = (\n"
              "  { name = \"r\"; mps = 1; smsc = [ \"simm\" ]; prefixes = [ \"1\" ]; },\n"
              "  { name = \"q\"; mps = 1; smsc = ( { name = \"other\"; } ); prefixes = [ \"2\" ]; }\n"
              ");\n"
              "accounts = (\n"
              "  { name = \"acme\"; api_keys = [ \"" KEY_FOO "\" ];\n"
              "    senders = [ \"12345\",\n"
              "                \"12346\" ]; }\n"
              ");\n");
    assert_nerrs(&l, 4);
    assert_err(&l, 4, "sender \"12345\": unknown account \"nobody\"");
    assert_err(&l, 7, "route \"r\": unknown smsc \"simm\" (did you mean \"sim\"?)");
    assert_err(&l, 8, "route \"q\": unknown smsc \"other\"");
    assert_err(&l, 13, "account \"acme\": unknown sender \"12346\" (did you mean \"12345\"?)");
    loaded_free(&l);
}

static void
test_sender_formats(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "senders.conf",
              "senders = (\n"
              "  { address = \"TwelveChars1\"; type = \"alphanumeric\"; },\n"   /* 2 */
              "  { address = \"ACME-CO\"; type = \"alphanumeric\"; },\n"        /* 3 */
              "  { address = \"ACME CO 11c\"; type = \"alphanumeric\"; },\n"    /* ok */
              "  { address = \"12\"; type = \"shortcode\"; },\n"                /* 5 */
              "  { address = \"123456789\"; type = \"shortcode\"; },\n"         /* 6 */
              "  { address = \"1234a\"; type = \"shortcode\"; },\n"             /* 7 */
              "  { address = \"123\"; type = \"shortcode\"; },\n"               /* ok */
              "  { address = \"18885550100\"; type = \"tollfree\"; },\n"        /* 9 */
              "  { address = \"+08885550100\"; type = \"tollfree\"; },\n"       /* 10 */
              "  { address = \"+1888555\"; type = \"tollfree\"; },\n"           /* 11 */
              "  { address = \"+4480012345\"; type = \"tollfree\"; },\n"        /* ok */
              "  { address = \"+442071234567\"; type = \"10dlc\"; },\n"         /* 13 */
              "  { address = \"+1212555010\"; type = \"10dlc\"; },\n"           /* 14 */
              "  { address = \"+1212555O100\"; type = \"10dlc\"; },\n"          /* 15 */
              "  { address = \"+1234567890123456\"; type = \"tollfree\"; }\n"   /* 16 */
              ");\n");
    assert_nerrs(&l, 12);
    assert_err(&l, 2, "sender \"TwelveChars1\": an alphanumeric sender must be 1 to 11 characters");
    assert_err(&l, 3, "sender \"ACME-CO\": an alphanumeric sender must be 1 to 11 characters of A-Z a-z 0-9 and space");
    assert_err(&l, 5, "sender \"12\": a shortcode must be 3 to 8 digits");
    assert_err(&l, 6, "sender \"123456789\": a shortcode must be 3 to 8 digits");
    assert_err(&l, 7, "sender \"1234a\": a shortcode must be 3 to 8 digits");
    assert_err(&l, 9, "sender \"18885550100\": a tollfree address must be E.164");
    assert_err(&l, 10, "a tollfree address must be E.164");
    assert_err(&l, 11, "a tollfree address must be E.164");
    assert_err(&l, 13, "sender \"+442071234567\": a 10dlc address must be a US/CA number: +1");
    assert_err(&l, 14, "a 10dlc address must be a US/CA number");
    assert_err(&l, 15, "a 10dlc address must be E.164");
    assert_err(&l, 16, "a tollfree address must be E.164");    /* 16 digits: one too many */
    loaded_free(&l);
}

static void
test_api_key_format(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "keys.conf",
              "accounts = ( { name = \"a\"; api_keys = [\n"
              "  \"demo-key-change-me\",\n"
              "  \"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7a\",\n"
              "  \"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ag\",\n"
              "  \"sha1:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\",\n"
              "  \"" KEY_FOO "\"\n"
              "] } );\n");
    assert_nerrs(&l, 4);
    assert_err(&l, 2, "account \"a\": api_keys: element 1 must be \"sha256:\" followed by 64 hex digits");
    assert_err(&l, 3, "element 2 must be \"sha256:\" followed by 64 hex digits");
    assert_err(&l, 4, "element 3 must be");
    assert_err(&l, 5, "element 4 must be");
    loaded_free(&l);
}

static void
test_tls_and_redis(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "tls.conf",
              "redis = {\n"
              "  host = \"10.0.0.1\";\n"
              "  unix_socket = \"/run/redis.sock\";\n"
              "};\n"
              "smsc = ( {\n"
              "  name = \"sim\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  tls = true;\n"
              "  tls_key_file = \"/etc/k.pem\";\n"
              "}, {\n"
              "  name = \"plain\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  tls_ca_file = \"/etc/ca.pem\";\n"
              "} );\n");
    assert_nerrs(&l, 3);
    assert_err(&l, 3, "redis: unix_socket and host are both set");
    assert_err(&l, 8, "smsc \"sim\": tls_key_file is set but tls_cert_file is not");
    assert_err(&l, 9, "smsc \"plain\": tls_ca_file, tls_cert_file or tls_key_file is set but tls is false");
    loaded_free(&l);

    /* a unix socket alone is fine, and the default host stays in the struct */
    load_text(&l, "unix.conf", "redis = { unix_socket = \"/run/redis.sock\"; };\n");
    assert_nerrs(&l, 0);
    assert_string_equal(l.cfg->redis.unix_socket, "/run/redis.sock");
    loaded_free(&l);
}

/* SMPP clients: the listener group, the account settings and their checks,
 * and a password hashed by config_hash_smpp_password() verifies. */
static void
test_smpp_server_and_accounts(void **state)
{
    struct loaded l;
    char hash[CONFIG_SMPP_HASH_MAX], text[2048];
    (void)state;

    assert_int_equal(config_hash_smpp_password("s3cret", 1000, hash, sizeof(hash)), 0);
    assert_int_equal(strncmp(hash, "pbkdf2-sha256:1000:", 19), 0);
    assert_int_equal(config_hash_smpp_password("s3cret", 10, hash, sizeof(hash)), -1);
    assert_int_equal(config_hash_smpp_password("s3cret", 1000, hash, 40), -1);
    assert_int_equal(config_hash_smpp_password("s3cret", 1000, hash, sizeof(hash)), 0);

    /* absent: no listener */
    load_text(&l, "nosmpp.conf", "accounts = ( { name = \"a\"; api_keys = [\"" KEY_FOO "\"]; } );\n");
    assert_nerrs(&l, 0);
    assert_false(l.cfg->smpp_server.enabled);
    assert_null(l.cfg->accounts[0].smpp_system_id);
    assert_int_equal(l.cfg->accounts[0].smpp_max_binds, 4);
    assert_int_equal(l.cfg->accounts[0].smpp_window, 64);
    loaded_free(&l);

    snprintf(text, sizeof(text),
             "smpp_server = { port = 0; };\n"
             "accounts = ( { name = \"a\"; api_keys = [\"" KEY_FOO "\"];\n"
             "  smpp_system_id = \"client_a\"; smpp_password = \"%s\";\n"
             "  smpp_allowed_ips = [ \"127.0.0.1\", \"10.1.0.0/16\" ]; smpp_max_binds = 2; smpp_window = 8; } );\n",
             hash);
    load_text(&l, "smpp.conf", text);
    assert_nerrs(&l, 0);
    const struct gw_config *c = l.cfg;
    assert_true(c->smpp_server.enabled);
    assert_string_equal(c->smpp_server.listen, "127.0.0.1");
    assert_int_equal(c->smpp_server.port, 0);
    assert_int_equal(c->smpp_server.bind_timeout_ms, 10000);
    assert_int_equal(c->smpp_server.max_pdu, 65536);
    const struct cfg_account *a = config_account_by_smpp_id(c, "client_a");
    assert_ptr_equal(a, &c->accounts[0]);
    assert_null(config_account_by_smpp_id(c, "client_b"));
    assert_true(config_smpp_password_ok(a, "s3cret"));
    assert_false(config_smpp_password_ok(a, "s3cre"));
    assert_false(config_smpp_password_ok(a, ""));
    assert_true(config_smpp_ip_allowed(a, "127.0.0.1"));
    assert_true(config_smpp_ip_allowed(a, "10.1.255.3"));
    assert_false(config_smpp_ip_allowed(a, "10.2.0.1"));
    assert_false(config_smpp_ip_allowed(a, "::1"));
    assert_int_equal(a->smpp_max_binds, 2);
    assert_int_equal(a->smpp_window, 8);
    loaded_free(&l);

    load_text(&l, "smpperr.conf",
              "smpp_server = { port = 70000; tls_cert_file = \"/etc/c.pem\"; };\n"
              "accounts = ( { name = \"a\"; api_keys = [\"" KEY_FOO "\"];\n"
              "  smpp_system_id = \"same\";\n"
              "  smpp_password = \"pbkdf2-sha256:1000:0011:ab\";\n"
              "  smpp_allowed_ips = [ \"10.0.0.0/33\", \"localhost\" ];\n"
              "}, { name = \"b\"; api_keys = [\"" KEY_BAR "\"];\n"
              "  smpp_system_id = \"same\";\n"
              "  smpp_password = \"pbkdf2-sha256:10:00112233445566778899:"
              "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\";\n"
              "}, { name = \"c\"; api_keys = [\"sha256:"
              "0000000000000000000000000000000000000000000000000000000000000000\"];\n"
              "  smpp_system_id = \"sixteen-chars-xx\"; smpp_max_binds = 0;\n"
              "} );\n");
    assert_nerrs(&l, 9);
    assert_err(&l, 1, "smpp_server: port 70000 is out of range 0..65535");
    assert_err(&l, 1, "smpp_server: tls_cert_file and tls_key_file go together");
    assert_err(&l, 4, "account \"a\": smpp_password must be \"pbkdf2-sha256:ITER:SALT_HEX:HASH_HEX\"");
    assert_err(&l, 5, "account \"a\": smpp_allowed_ips: element 1 must be an IPv4 address or range");
    assert_err(&l, 5, "element 2 must be an IPv4 address");
    assert_err(&l, 7, "account \"b\": smpp_system_id \"same\" is also used by account \"a\"");
    assert_err(&l, 8, "account \"b\": smpp_password: iterations 10 are out of range");
    assert_err(&l, 10, "account \"c\": smpp_system_id is 16 characters long; at most 15 allowed");
    assert_err(&l, 10, "account \"c\": smpp_max_binds 0 is out of range 1..1000");
    loaded_free(&l);

    /* An account's own quiet-hours window. */
    load_text(&l, "quiet.conf",
              "accounts = ( { name = \"a\"; api_keys = [\"" KEY_FOO "\"];\n"
              "  quiet_hours = \"10:00-19:30\"; },\n"
              "  { name = \"b\"; api_keys = [\"" KEY_BAR "\"];\n"
              "  quiet_hours = \"10-20\"; } );\n");
    assert_nerrs(&l, 1);
    assert_err(&l, 4, "account \"b\": quiet_hours must be a local window \"HH:MM-HH:MM\"");
    loaded_free(&l);
    load_text(&l, "quiet2.conf",
              "accounts = ( { name = \"a\"; api_keys = [\"" KEY_FOO "\"];\n"
              "  quiet_hours = \"10:00-19:30\"; } );\n");
    assert_nerrs(&l, 0);
    assert_true(l.cfg->accounts[0].quiet_set);
    assert_int_equal(l.cfg->accounts[0].quiet.start_min, 600);
    assert_int_equal(l.cfg->accounts[0].quiet.end_min, 19 * 60 + 30);
    loaded_free(&l);
}

/* Many errors in one file: all are reported, sorted by line, one per line. */
static void
test_all_errors_reported(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "many.conf",
              "max_segments = 0;\n"
              "log_level = \"loud\";\n"
              "bogus = 1;\n"
              "http = { port = 70000; };\n"
              "smsc = ( { name = \"x\"; host = \"h\"; port = 0; system_id = \"a\"; } );\n"
              "senders = ( { address = \"ACME!\"; type = \"alphanumeric\"; accounts = [ \"zz\" ]; } );\n"
              "routes = ( { name = \"r\"; mps = 0; smsc = [ \"y\" ]; } );\n"
              "accounts = ( { name = \"a\"; api_keys = [ \"nope\" ]; } );\n");
    assert_nerrs(&l, 11);
    assert_int_equal(count_lines(l.errs), 11);
    assert_err(&l, 1, "max_segments 0");
    assert_err(&l, 2, "log_level");
    assert_err(&l, 3, "bogus");
    assert_err(&l, 4, "http: port 70000");
    assert_err(&l, 5, "port 0 is out of range");
    assert_err(&l, 5, "missing required setting \"password\"");
    assert_err(&l, 6, "an alphanumeric sender must be");
    assert_err(&l, 6, "unknown account \"zz\"");
    assert_err(&l, 7, "mps 0");
    assert_err(&l, 7, "unknown smsc \"y\"");
    assert_err(&l, 8, "api_keys: element 1");
    /* sorted by line */
    char head[600];
    snprintf(head, sizeof(head), "%s:1: ", l.path);
    assert_int_equal(strncmp(l.errs, head, strlen(head)), 0);
    assert_null(l.cfg);
    loaded_free(&l);
}

static void
test_syntax_error(void **state)
{
    struct loaded l;
    char inc[512];
    (void)state;

    load_text(&l, "syntax.conf",
              "log_level = \"info\";\n"
              "http = { port = 8080 };\n"     /* missing ';' inside the group is fine in libconfig */
              "redis = { port = ; };\n");
    assert_nerrs(&l, 1);
    assert_err(&l, 3, "syntax error");
    loaded_free(&l);

    /* an error inside an @include'd file names that file */
    snprintf(inc, sizeof(inc), "%s/part.conf", tmpdir);
    write_file(inc, "routes = (\n  { name = \"r\"; mps = ; }\n);\n");
    load_text(&l, "main.conf", "log_level = \"info\";\n@include \"part.conf\"\n");
    assert_nerrs(&l, 1);
    assert_true(strstr(l.errs, "part.conf:2: syntax error") != NULL);
    loaded_free(&l);

    /* validation errors inside an included file point into it too */
    write_file(inc, "routes = (\n  { name = \"r\"; mps = 0; smsc = [ \"s\" ]; }\n);\n");
    load_text(&l, "main.conf", "log_level = \"info\";\n@include \"part.conf\"\n");
    assert_nerrs(&l, 2);
    assert_true(strstr(l.errs, "part.conf:2: route \"r\": mps 0 is out of range") != NULL);
    assert_true(strstr(l.errs, "part.conf:2: route \"r\": unknown smsc \"s\"") != NULL);
    loaded_free(&l);

    char missing[512];
    snprintf(missing, sizeof(missing), "%s/nonexistent.conf", tmpdir);
    load_path(&l, missing);
    assert_nerrs(&l, 1);
    assert_err(&l, 0, "cannot open: No such file or directory");
    loaded_free(&l);
}

/* ------------------------------------------------------------- lookups */

static void
test_route_for(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "routing.conf",
              SMSC_SIM
              "routes = (\n"
              "  { name = \"any\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"*\" ]; },\n"
              "  { name = \"uk\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"44\" ]; },\n"
              "  { name = \"uk-mobile\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"447\", \"4478\" ];\n"
              "    sender_types = [ \"alphanumeric\" ]; },\n"
              "  { name = \"us-sc\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ]; sender_types = [ \"shortcode\" ]; }\n"
              ");\n");
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;
    assert_string_equal(config_route(c, "any")->prefixes[0], "");   /* "*" is stored as "" */
    assert_string_equal(config_route_for(c, "447700900123", SENDER_ALPHANUMERIC)->name, "uk-mobile");
    assert_string_equal(config_route_for(c, "447800900123", SENDER_ALPHANUMERIC)->name, "uk-mobile");
    assert_string_equal(config_route_for(c, "447700900123", SENDER_TOLLFREE)->name, "uk");
    assert_string_equal(config_route_for(c, "442071234567", SENDER_ALPHANUMERIC)->name, "uk");
    assert_string_equal(config_route_for(c, "4912345", SENDER_ALPHANUMERIC)->name, "any");
    assert_string_equal(config_route_for(c, "14155550100", SENDER_SHORTCODE)->name, "us-sc");
    assert_string_equal(config_route_for(c, "14155550100", SENDER_10DLC)->name, "any");
    assert_string_equal(config_route_for(c, "", SENDER_10DLC)->name, "any");
    assert_string_equal(config_route_for(c, "44", SENDER_ALPHANUMERIC)->name, "uk");
    assert_null(config_route(c, "nope"));
    assert_null(config_smsc(c, "nope"));
    assert_null(config_sender(c, "nope"));
    loaded_free(&l);

    /* no catch-all: an unmatched destination has no route */
    load_text(&l, "routing2.conf",
              SMSC_SIM
              "routes = ( { name = \"uk\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"44\" ]; } );\n");
    assert_nerrs(&l, 0);
    assert_null(config_route_for(l.cfg, "4912345", SENDER_SHORTCODE));
    assert_null(config_route_for(l.cfg, "4", SENDER_SHORTCODE));
    assert_non_null(config_route_for(l.cfg, "44", SENDER_SHORTCODE));
    loaded_free(&l);
}

/* Routes for one account or one class, next to general ones (issue 5). */
static void
test_route_select(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "select.conf",
              SMSC_SIM
              "routes = (\n"
              "  { name = \"any\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"\" ]; },\n"
              "  { name = \"us\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ]; },\n"
              "  { name = \"us-mkt\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ];\n"
              "    classes = [ \"marketing\" ]; },\n"
              "  { name = \"us-b\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ];\n"
              "    accounts = [ \"b\" ]; },\n"
              "  { name = \"b-any\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"\" ];\n"
              "    accounts = [ \"b\" ]; classes = [ \"marketing\" ]; }\n"
              ");\n"
              "accounts = ( { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; },\n"
              "             { name = \"b\"; api_keys = [ \"" KEY_BAR "\" ]; } );\n");
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;
    assert_string_equal(config_route_select(c, "14155550100", SENDER_SHORTCODE, "a",
                                            "transactional")->name, "us");
    assert_string_equal(config_route_select(c, "14155550100", SENDER_SHORTCODE, "a",
                                            "marketing")->name, "us-mkt");
    /* The account's own route wins over the class's at the same prefix. */
    assert_string_equal(config_route_select(c, "14155550100", SENDER_SHORTCODE, "b",
                                            "marketing")->name, "us-b");
    assert_string_equal(config_route_select(c, "14155550100", SENDER_SHORTCODE, "b",
                                            "transactional")->name, "us-b");
    /* A longer prefix still wins over a narrower scope. */
    assert_string_equal(config_route_select(c, "447700900123", SENDER_SHORTCODE, "b",
                                            "marketing")->name, "b-any");
    assert_string_equal(config_route_select(c, "447700900123", SENDER_SHORTCODE, "b",
                                            "transactional")->name, "any");
    assert_string_equal(config_route_select(c, "447700900123", SENDER_SHORTCODE, "a",
                                            "marketing")->name, "any");
    loaded_free(&l);

    /* The same scope twice is ambiguous; unknown accounts and classes are errors. */
    load_text(&l, "select2.conf",
              SMSC_SIM
              "routes = (\n"
              "  { name = \"m1\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ];\n"
              "    classes = [ \"marketing\" ]; },\n"
              "  { name = \"m2\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"1\" ];\n"
              "    classes = [ \"marketing\", \"transactional\" ]; },\n"
              "  { name = \"x\"; mps = 1; smsc = [ \"sim\" ]; prefixes = [ \"44\" ];\n"
              "    classes = [ \"promo\" ]; accounts = [ \"nobody\" ]; }\n"
              ");\n"
              "accounts = ( { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; } );\n");
    assert_nerrs(&l, 3);
    assert_true(strstr(l.errs, "route \"m2\": prefix \"1\"") != NULL);
    assert_true(strstr(l.errs, "class \"promo\" must be") != NULL);
    assert_true(strstr(l.errs, "unknown account \"nobody\"") != NULL);
    loaded_free(&l);
}

static void
test_ton_npi(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "ton.conf",
              "senders = (\n"
              "  { address = \"12345\"; type = \"shortcode\"; },\n"
              "  { address = \"54321\"; type = \"shortcode\"; ton = 0; },\n"
              "  { address = \"+18885550100\"; type = \"tollfree\"; npi = 0; },\n"
              "  { address = \"+12125550100\"; type = \"10dlc\"; },\n"
              "  { address = \"ACME\"; type = \"alphanumeric\"; ton = 5; npi = 9; }\n"
              ");\n"
              "smsc = ( { name = \"s\"; host = \"h\"; port = 1; system_id = \"a\"; password = \"b\";\n"
              "  short_code_npi = 1; } );\n");
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;
    static const int want[][2] = { { 3, 0 }, { 0, 0 }, { 1, 0 }, { 1, 1 }, { 5, 9 } };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(c->senders[i].ton, want[i][0]);
        assert_int_equal(c->senders[i].npi, want[i][1]);
    }
    assert_string_equal(c->senders[2].address, "+18885550100");   /* stored with '+' */
    assert_true(c->smscs[0].short_code_ton_set);
    assert_int_equal(c->smscs[0].short_code_ton, 3);
    assert_int_equal(c->smscs[0].short_code_npi, 1);
    loaded_free(&l);
}

static void
test_may_use_and_keys(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "perm.conf",
              "senders = (\n"
              "  { address = \"11111\"; type = \"shortcode\"; accounts = [ \"a\" ]; },\n"
              "  { address = \"22222\"; type = \"shortcode\"; },\n"
              "  { address = \"33333\"; type = \"shortcode\"; accounts = [ \"b\" ]; }\n"
              ");\n"
              "accounts = (\n"
              "  { name = \"a\"; api_keys = [ \"" KEY_FOO "\" ]; },\n"
              "  { name = \"b\"; api_keys = [ \"" KEY_BAR "\" ]; senders = [ \"22222\", \"33333\" ]; }\n"
              ");\n");
    assert_nerrs(&l, 0);
    struct gw_config *c = l.cfg;
    const struct cfg_account *a = config_account_by_key(c, "foo");
    const struct cfg_account *b = config_account_by_key(c, "bar");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->name, "a");
    assert_string_equal(b->name, "b");
    assert_null(config_account_by_key(c, "Foo"));
    assert_null(config_account_by_key(c, "foo "));
    assert_null(config_account_by_key(c, NULL));
    const struct cfg_sender *s1 = config_sender(c, "11111"), *s2 = config_sender(c, "22222"),
                            *s3 = config_sender(c, "33333");
    assert_true(config_account_may_use(a, s1));
    assert_false(config_account_may_use(a, s2));
    assert_false(config_account_may_use(a, s3));
    assert_false(config_account_may_use(b, s1));
    assert_true(config_account_may_use(b, s2));
    assert_true(config_account_may_use(b, s3));
    assert_false(config_account_may_use(NULL, s1));
    /* both sides list the permission after loading, without duplicates */
    assert_int_equal(s2->naccounts, 1);
    assert_string_equal(s2->accounts[0], "b");
    assert_int_equal(s3->naccounts, 1);
    assert_int_equal(a->nsenders, 1);
    assert_string_equal(a->senders[0], "11111");
    assert_int_equal(b->nsenders, 2);
    loaded_free(&l);
}

static void
test_sha256_hex(void **state)
{
    char out[65];
    (void)state;

    config_sha256_hex("abc", out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    config_sha256_hex("", out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    config_sha256_hex("demo-key-change-me", out);
    assert_string_equal(out, "090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4");
}

static void
test_sender_type_names(void **state)
{
    enum sender_type t;
    (void)state;

    for (int i = 0; i < SENDER_TYPE_COUNT; i++) {
        assert_true(sender_type_parse(sender_type_name((enum sender_type)i), &t));
        assert_int_equal(t, i);
    }
    assert_string_equal(sender_type_name(SENDER_10DLC), "10dlc");
    assert_false(sender_type_parse("Shortcode", &t));
    assert_false(sender_type_parse(NULL, &t));
}

/* Auto-responder keywords on a sender: loaded, and compliance words refused. */
static void
test_sender_keywords(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "kw.conf",
              "senders = ( { address = \"12345\"; type = \"shortcode\";\n"
              "  keywords = { JOIN = \"Welcome!\"; DEALS = \"Today: 2 for 1\"; }; } );\n");
    assert_int_equal(l.n, 0);
    assert_int_equal(l.cfg->senders[0].nkw, 2);
    assert_string_equal(l.cfg->senders[0].kw_words[0], "JOIN");
    assert_string_equal(l.cfg->senders[0].kw_replies[1], "Today: 2 for 1");
    loaded_free(&l);

    load_text(&l, "kw2.conf",
              "senders = ( { address = \"12345\"; type = \"shortcode\";\n"
              "  keywords = { stop = \"no\";\n"
              "               JOIN = \"\"; }; } );\n");
    assert_int_equal(l.n, 2);
    assert_true(has_err(l.errs, l.path, 2, "compliance keyword"));
    assert_true(has_err(l.errs, l.path, 3, "JOIN must be a reply text"));
    loaded_free(&l);
}

/* mo_routes: parsed, validated at file:line, and the account an MO goes to. */
static void
test_mo_routes(void **state)
{
    struct loaded l;
    (void)state;

    load_text(&l, "mo.conf",
              "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"a\", \"b\"]; } );\n"
              "accounts = ( { name = \"a\"; api_keys = [\"sha256:" "0000000000000000000000000000000000000000000000000000000000000001\"]; },\n"
              "             { name = \"b\"; api_keys = [\"sha256:" "0000000000000000000000000000000000000000000000000000000000000002\"]; } );\n"
              "mo_routes = ( { number = \"12345\"; keyword = \"PIZZA\"; account = \"b\"; } );\n");
    assert_int_equal(l.n, 0);
    const struct cfg_sender *snd = config_sender(l.cfg, "12345");
    assert_non_null(snd);
    assert_string_equal(config_mo_account(l.cfg, snd, "pizza please", 12)->name, "b");
    assert_string_equal(config_mo_account(l.cfg, snd, "  Pizza!", 8)->name, "b");
    assert_string_equal(config_mo_account(l.cfg, snd, "pizzas", 6)->name, "a");
    assert_string_equal(config_mo_account(l.cfg, snd, "hello", 5)->name, "a");
    assert_null(config_mo_account(l.cfg, NULL, "hello", 5));
    loaded_free(&l);

    load_text(&l, "mo2.conf",
              "senders = ( { address = \"12345\"; type = \"shortcode\"; } );\n"
              "mo_routes = ( { number = \"99999\"; account = \"nobody\"; } );\n");
    assert_int_equal(l.n, 2);
    assert_true(has_err(l.errs, l.path, 2, "not one of the senders"));
    assert_true(has_err(l.errs, l.path, 2, "unknown account \"nobody\""));
    loaded_free(&l);
}

/* A NUL byte (binary data in the file) is refused at its line, before
 * libconfig sees it (libconfig leaked a buffer on it: fuzz_config). */
static void
test_nul_byte(void **state)
{
    struct loaded l;
    char path[512];
    static const char text[] = "max_segments = 3;\n# a comment\ninstance = \"a\0b\";\n";

    (void)state;
    snprintf(path, sizeof(path), "%s/nul.conf", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
    fclose(f);
    load_path(&l, path);
    assert_nerrs(&l, 1);
    assert_err(&l, 3, "NUL byte");
    assert_null(l.cfg);
    loaded_free(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_shipped_demo),
        cmocka_unit_test(test_sender_keywords),
        cmocka_unit_test(test_mo_routes),
        cmocka_unit_test(test_shipped_example),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_log_trace),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_sender_formats),
        cmocka_unit_test(test_api_key_format),
        cmocka_unit_test(test_tls_and_redis),
        cmocka_unit_test(test_smpp_server_and_accounts),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_route_for),
        cmocka_unit_test(test_route_select),
        cmocka_unit_test(test_ton_npi),
        cmocka_unit_test(test_may_use_and_keys),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_sender_type_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
