/*
 * TLS to Redis (issue 6; store/store_tls): a real redis-server listening
 * with TLS only, certificates made here with the openssl CLI, smsc-sim and
 * smsgwd.
 *
 *   - verified TLS: a POST is accepted (202) and the message is delivered;
 *     the bridge's socket is 0600 in a 0700 directory removed at exit
 *   - a CA that did not sign Redis's certificate, or a server name the
 *     certificate does not carry: redis_tls_failed "certificate verify
 *     failed: ..." and POST answers 503, never 202
 *   - tls_verify = false: the wrong CA is accepted, with a warning
 *   - tls-auth-clients yes: without a client certificate 503, with one 202
 *   - redis-server restarted: smsgwd reconnects through the bridge
 *   - config errors at file:line (smsgwd -t), and -t passes a good config
 *   - in process (store_redis): values far larger than the bridge's
 *     watermarks go both ways intact; with a failing handshake the link
 *     is never reported ready, not even for a moment
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/config.h"
#include "store/store_redis.h"
#include "tests/gwfix.h"

#define KEY "acme-key-0123"

/* This program's own paths, in the fixture's ext: TMPDIR of smsgwd (where
 * the bridges' directories go) and the certificates. */
struct tlsfx {
    char tmp[4200];
    char ca[4200], ca2[4200], srv[4200], srvkey[4200], cli[4200], clikey[4200];
};

static struct tlsfx *
tx(struct gwfix *g)
{
    return g->ext;
}

static void
make_certs(const char *dir)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=smsgw-test-ca >/dev/null 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca2.key -out ca2.pem -days 2 "
             "-subj /CN=smsgw-other-ca >/dev/null 2>&1 && "
             "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
             "-subj /CN=redis.test >/dev/null 2>&1 && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:redis.test\\n' > ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile ext.cnf >/dev/null 2>&1 && "
             "openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr "
             "-subj /CN=smsgwd >/dev/null 2>&1 && "
             "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out cli.pem -days 2 >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0)
        fail_msg("openssl could not make the certificates");
}

static int
setup(void **state)
{
    struct gwfix *g = gwfix_new(GWFIX_AOF | GWFIX_NO_REDIS);
    struct tlsfx *t = g->ext = calloc(1, sizeof(struct tlsfx));
    g->key = KEY;
    g->sim_system_id = "gw";
    g->sim_dlr_delay_ms = "50";
    make_certs(g->dir);
#define P(f, n) snprintf(t->f, sizeof(t->f), "%s/" n, g->dir)
    P(ca, "ca.pem");
    P(ca2, "ca2.pem");
    P(srv, "srv.pem");
    P(srvkey, "srv.key");
    P(cli, "cli.pem");
    P(clikey, "cli.key");
    P(tmp, "tmp");
#undef P
    mkdir(t->tmp, 0700);
    g->redis.tls_cert = t->srv;
    g->redis.tls_key = t->srvkey;
    g->redis.tls_ca = t->ca;
    *state = g;
    return 0;
}

/* redis_extra: more settings inside the redis group. */
static void
write_config_host(struct gwfix *g, const char *host, const char *redis_extra)
{
    char h[65];
    config_sha256_hex(KEY, h);
    gwfix_write_conf(g, "instance = \"tls-1\";\n"
               "redis = { host = \"%s\"; port = %d; prefix = \"t:\"; timeout_ms = 1000;\n"
               "  %s\n"
               "};\n"
               "http = { listen = \"127.0.0.1\"; port = %d; };\n"
               "admin = { socket = \"\"; };\n"
               "smsc = ( { name = \"sim\"; host = \"127.0.0.1\"; port = %d; system_id = \"gw\";\n"
               "    password = \"secret\"; window = 16; reconnect_min_ms = 100;\n"
               "    reconnect_max_ms = 500; } );\n"
               "senders = ( { address = \"12345\"; type = \"shortcode\"; accounts = [\"acme\"]; } );\n"
               "routes = ( { name = \"good\"; mps = 100; smsc = [\"sim\"]; prefixes = [\"1415\"]; } );\n"
               "accounts = ( { name = \"acme\"; api_keys = [\"sha256:%s\"]; } );\n",
            host, g->redis.port, redis_extra, g->http_port, g->sim[0].port, h);
}

static void
write_config(struct gwfix *g, const char *redis_extra)
{
    write_config_host(g, "127.0.0.1", redis_extra);
}

static void
start_gw(struct gwfix *g)
{
    /* The bridge's private directory goes under TMPDIR: here, tx(g)->tmp. */
    setenv("TMPDIR", tx(g)->tmp, 1);
    unsetenv("RUNTIME_DIRECTORY");
    gwfix_start_gw(g);
    unsetenv("TMPDIR");
}

/* POST one message; the status, and its id in id (if 202). */
static int
post(struct gwfix *g, char *id, size_t idsz)
{
    char *body = NULL;
    int st = gwfix_post(g, "{\"from\":\"12345\",\"to\":\"+14155550101\",\"text\":\"tls test\"}",
                        &body);
    if (id)
        snprintf(id, idsz, "%s", st == 202 ? tl_jstr(body, "id") : "");
    free(body);
    return st;
}

/* POST until it answers 202 (Redis links come up after the listener). */
static void
post_accepted(struct gwfix *g, char *id, size_t idsz)
{
    int st = -1;
    for (int i = 0; i < 200 && (st = post(g, id, idsz)) != 202; i++)
        tl_sleep_ms(50);
    if (st != 202) {
        tl_dump_tail(g->gwlog);
        fail_msg("POST never accepted (last status %d)", st);
    }
}

static void
wait_state(struct gwfix *g, const char *id, const char *want)
{
    free(gwfix_wait_state(g, id, want, 15000));
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Redis is up with TLS but unusable for smsgwd: every POST in a few
 * seconds answers 503 (never 202) and the log says why. */
static void
assert_refused(struct gwfix *g, const char *why)
{
    if (!gwfix_log_wait(g, why, 1, 8000)) {
        tl_dump_tail(g->gwlog);
        fail_msg("smsgwd never logged: %s", why);
    }
    for (int i = 0; i < 20; i++) {
        int st = post(g, NULL, 0);
        if (st != 503) {
            tl_dump_tail(g->gwlog);
            fail_msg("POST answered %d while Redis's TLS fails (want 503)", st);
        }
        tl_sleep_ms(50);
    }
}

/* The bridges' directories under tx(g)->tmp (one per Redis connection: main,
 * router and pacer): each 0700 with one 0600 socket. Returns how many. */
static int
check_bridge_dirs(struct gwfix *g)
{
    DIR *d = opendir(tx(g)->tmp);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "smsgw-redis-", 12) != 0)
            continue;
        char bd[4500], sock[4800];
        struct stat st;
        snprintf(bd, sizeof(bd), "%s/%s", tx(g)->tmp, e->d_name);
        assert_int_equal(stat(bd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        DIR *in = opendir(bd);
        struct dirent *s;
        int socks = 0;
        assert_non_null(in);
        while ((s = readdir(in))) {
            if (s->d_name[0] == '.')
                continue;
            snprintf(sock, sizeof(sock), "%s/%s", bd, s->d_name);
            assert_int_equal(stat(sock, &st), 0);
            assert_true(S_ISSOCK(st.st_mode));
            assert_int_equal(st.st_mode & 0777, 0600);
            socks++;
        }
        closedir(in);
        assert_int_equal(socks, 1);
        n++;
    }
    closedir(d);
    return n;
}

/* A Redis with TLS (and the test's settings), smsc-sim, and smsgwd on
 * Redis at host with the redis group's extra settings (printf-style). */
static void start_tls_gw(struct gwfix *g, const char *host, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
start_tls_gw(struct gwfix *g, const char *host, const char *fmt, ...)
{
    char extra[9000];
    va_list ap;

    tl_redis_start(&g->redis);
    gwfix_start_sim(g, 0, NULL);
    va_start(ap, fmt);
    vsnprintf(extra, sizeof(extra), fmt, ap);
    va_end(ap);
    write_config_host(g, host, extra);
    start_gw(g);
}

static void
test_tls_delivered(void **state)
{
    struct gwfix *g = *state;
    char id[128];

    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\";", tx(g)->ca);
    post_accepted(g, id, sizeof(id));
    wait_state(g, id, "delivered");
    assert_true(gwfix_log_wait(g, "redis_ready conn=main addr=127.0.0.1:", 1, 1000));
    assert_true(gwfix_log_wait(g, "tls=yes", 1, 1000));

    assert_int_equal(check_bridge_dirs(g), 3);     /* main, router, pacer */

    int status = tl_stop(g->gw, SIGTERM, 10000);
    g->gw = 0;
    assert_true(tl_exited_ok(status));
    assert_int_equal(check_bridge_dirs(g), 0);     /* removed at exit */
}

/* TLS and a Redis password together: AUTH goes through the bridge on every
 * connection before anything else; a wrong password is refused (503, and
 * the log says so), the right one delivers. */
static void
test_tls_with_password(void **state)
{
    struct gwfix *g = *state;
    char extra[9000], id[128];

    g->redis.password = "s3cret-redis";
    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\"; password = \"wrong\";",
             tx(g)->ca);
    assert_refused(g, "redis_auth_failed conn=main");
    int status = tl_stop(g->gw, SIGTERM, 10000);
    g->gw = 0;
    assert_true(tl_exited_ok(status));
    int refused = gwfix_log_count(g, "redis_auth_failed");
    assert_int_equal(gwfix_log_count(g, "redis_ready"), 0);

    snprintf(extra, sizeof(extra), "tls = true; tls_ca_file = \"%s\"; password = \"s3cret-redis\";",
             tx(g)->ca);
    write_config(g, extra);
    start_gw(g);
    post_accepted(g, id, sizeof(id));
    wait_state(g, id, "delivered");
    assert_true(gwfix_log_wait(g, "redis_ready conn=pacer", 1, 1000));
    assert_int_equal(gwfix_log_count(g, "redis_auth_failed"), refused);    /* none in this run */
}

static void
test_tls_wrong_ca(void **state)
{
    struct gwfix *g = *state;

    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\";", tx(g)->ca2);
    assert_refused(g, "redis_tls_failed conn=main addr=127.0.0.1:");
    assert_true(gwfix_log_wait(g, "reason=\"certificate verify failed: ", 1, 100));
}

/* tls_verify = false (a lab): any certificate, and a warning. */
static void
test_tls_unverified(void **state)
{
    struct gwfix *g = *state;
    char id[128];

    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\"; tls_verify = false;",
             tx(g)->ca2);
    post_accepted(g, id, sizeof(id));
    assert_true(gwfix_log_wait(g, "redis_tls_unverified conn=main", 1, 1000));
}

static void
test_tls_wrong_name(void **state)
{
    struct gwfix *g = *state;

    start_tls_gw(g, "127.0.0.1",
                 "tls = true; tls_ca_file = \"%s\"; tls_server_name = \"other.test\";", tx(g)->ca);
    assert_refused(g, "certificate verify failed: hostname mismatch");
}

static void
test_tls_server_name(void **state)
{
    struct gwfix *g = *state;
    char id[128];

    start_tls_gw(g, "127.0.0.1",
                 "tls = true; tls_ca_file = \"%s\"; tls_server_name = \"redis.test\";", tx(g)->ca);
    post_accepted(g, id, sizeof(id));
}

/* Redis given by name: the bridge resolves it without blocking
 * (core/dns.h; "localhost" from /etc/hosts, its IPv4 address), and the
 * certificate is checked against tls_server_name. An unresolvable name is
 * refused with the reason. */
static void
test_tls_host_name(void **state)
{
    struct gwfix *g = *state;
    char extra[9000], id[128];

    snprintf(extra, sizeof(extra),
             "tls = true; tls_ca_file = \"%s\"; tls_server_name = \"redis.test\";", tx(g)->ca);
    start_tls_gw(g, "redis.invalid", "%s", extra);
    if (!gwfix_log_wait(g, "reason=\"cannot resolve redis.invalid: ", 1, 15000)) {
        tl_dump_tail(g->gwlog);
        fail_msg("no redis_tls_failed for the unresolvable name");
    }
    assert_int_equal(post(g, NULL, 0), 503);
    int status = tl_stop(g->gw, SIGTERM, 10000);
    g->gw = 0;
    assert_true(tl_exited_ok(status));

    write_config_host(g, "localhost", extra);
    start_gw(g);
    post_accepted(g, id, sizeof(id));
    wait_state(g, id, "delivered");
    assert_true(gwfix_log_wait(g, "redis_ready conn=pacer", 1, 1000));
}

static void
test_tls_client_cert_required(void **state)
{
    struct gwfix *g = *state;

    g->redis.tls_auth_clients = true;
    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\";", tx(g)->ca);
    assert_refused(g, "redis_tls_failed conn=main");
}

static void
test_tls_client_cert(void **state)
{
    struct gwfix *g = *state;
    char id[128];

    g->redis.tls_auth_clients = true;
    start_tls_gw(g, "127.0.0.1",
                 "tls = true; tls_ca_file = \"%s\"; tls_cert_file = \"%s\"; tls_key_file = \"%s\";",
             tx(g)->ca, tx(g)->cli, tx(g)->clikey);
    post_accepted(g, id, sizeof(id));
    wait_state(g, id, "delivered");
}

static void
test_tls_redis_restart(void **state)
{
    struct gwfix *g = *state;
    char id[128], id2[128];

    start_tls_gw(g, "127.0.0.1", "tls = true; tls_ca_file = \"%s\";", tx(g)->ca);
    post_accepted(g, id, sizeof(id));
    wait_state(g, id, "delivered");

    tl_redis_pause(&g->redis);
    assert_true(gwfix_log_wait(g, "redis_lost conn=main", 1, 5000));
    /* Down: the bridge says why, and nothing is accepted meanwhile. */
    assert_refused(g, "redis_tls_failed conn=main addr=127.0.0.1:");
    if (!gwfix_log_wait(g, "reason=\"connect failed: Connection refused\"", 1, 100)) {
        tl_dump_tail(g->gwlog);
        fail_msg("no connect failed: Connection refused");
    }

    tl_redis_start(&g->redis);
    post_accepted(g, id2, sizeof(id2));
    wait_state(g, id2, "delivered");
    wait_state(g, id, "delivered");    /* the record survived (AOF) */
}

/* smsgwd -t on redis_extra: its exit status, and stderr in out. */
static int
check_config(struct gwfix *g, const char *redis_extra, char **out)
{
    char cmd[9000], outp[4300];
    write_config(g, redis_extra);
    snprintf(outp, sizeof(outp), "%s/check.out", g->dir);
    snprintf(cmd, sizeof(cmd), "'%s' -t -c '%s' >'%s' 2>&1", tl_bin("smsgwd"), g->conf, outp);
    int rc = system(cmd);
    *out = slurp(outp);
    return rc;
}

static void
expect_error(struct gwfix *g, const char *redis_extra, const char *want)
{
    char *out, where[4300];
    int rc = check_config(g, redis_extra, &out);
    /* Every redis setting of these configs is on the file's line 3. */
    snprintf(where, sizeof(where), "%s:3: ", g->conf);
    bool ok = rc != 0 && strstr(out, where) && strstr(out, want);
    if (!ok)
        fprintf(stderr, "config with [%s]: rc %d, wanted \"%s%s\", got:\n%s", redis_extra, rc,
                where, want, out);
    free(out);
    assert_true(ok);
}

static void
test_tls_config(void **state)
{
    struct gwfix *g = *state;
    char extra[20000], *out;

    g->redis.port = 6390;
    snprintf(extra, sizeof(extra), "tls = true; tls_ca_file = \"%s\"; tls_cert_file = \"%s\"; "
             "tls_key_file = \"%s\"; tls_server_name = \"redis.test\";", tx(g)->ca, tx(g)->cli,
             tx(g)->clikey);
    int rc = check_config(g, extra, &out);
    if (rc != 0)
        fail_msg("a good TLS config failed -t: %s", out);
    free(out);

    snprintf(extra, sizeof(extra), "tls = true; tls_cert_file = \"%s\";", tx(g)->cli);
    expect_error(g, extra, "tls_cert_file and tls_key_file go together");
    snprintf(extra, sizeof(extra), "tls = true; tls_key_file = \"%s\";", tx(g)->clikey);
    expect_error(g, extra, "tls_cert_file and tls_key_file go together");
    snprintf(extra, sizeof(extra), "tls_ca_file = \"%s\";", tx(g)->ca);
    expect_error(g, extra, "redis: tls_ca_file is set but tls is false");
    expect_error(g, "tls = true; tls_ca_file = \"/nonexistent/ca.pem\";",
                 "cannot load CA file /nonexistent/ca.pem");
    snprintf(extra, sizeof(extra), "tls = true; tls_ca_file = \"%s\"; tls_cert_file = \"%s\"; "
             "tls_key_file = \"%s\";", tx(g)->ca, tx(g)->cli, tx(g)->srvkey);
    expect_error(g, extra, "cannot load client key");
    expect_error(g, "tls = \"yes\";", "tls");
    expect_error(g, "tls_verify = false;", "redis: tls_verify is set but tls is false");

    /* A unix_socket has no TLS: its own group, without host and port. */
    gwfix_write_conf(g, "instance = \"tls-1\";\n"
               "redis = {\n"
               "  unix_socket = \"/run/redis.sock\"; tls = true;\n"
               "};\n");
    char cmd[9000], outp[4300], where[4300];
    snprintf(outp, sizeof(outp), "%s/check.out", g->dir);
    snprintf(cmd, sizeof(cmd), "'%s' -t -c '%s' >'%s' 2>&1", tl_bin("smsgwd"), g->conf, outp);
    rc = system(cmd);
    out = slurp(outp);
    snprintf(where, sizeof(where), "%s:3: redis: tls needs host and port", g->conf);
    if (rc == 0 || !strstr(out, where))
        fail_msg("unix_socket with tls: rc %d, wanted \"%s\", got:\n%s", rc, where, out);
    free(out);
}

/* ------------------------------------------------------- in process */

#define BIG_N   4
#define BIG_LEN (3u << 20)      /* 3 MiB each: 12 MiB each way, past the 1 MiB marks */

struct big {
    int set_ok, got_ok, answers;
    const char *val;
};

static void
big_set_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    struct big *b = arg;
    (void)r;
    b->answers++;
    if (reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0)
        b->set_ok++;
}

static void
big_get_cb(struct store_redis *r, redisReply *reply, void *arg)
{
    struct big *b = arg;
    (void)r;
    b->answers++;
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len == BIG_LEN &&
        memcmp(reply->str, b->val, BIG_LEN) == 0)
        b->got_ok++;
}

static struct cfg_redis
inproc_cfg(struct gwfix *g, const char *ca)
{
    struct cfg_redis cfg = { .host = (char *)"127.0.0.1", .port = g->redis.port,
                             .prefix = (char *)"t:", .timeout_ms = 10000, .tls = true,
                             .tls_ca_file = (char *)ca, .tls_verify = true };
    return cfg;
}

static void
test_bridge_large_values(void **state)
{
    struct gwfix *g = *state;
    struct big b = { 0 };

    tl_redis_start(&g->redis);
    struct event_base *base = event_base_new();
    struct cfg_redis cfg = inproc_cfg(g, tx(g)->ca);
    struct store_redis *r = store_redis_new(base, &cfg, "big");
    TL_RUN_UNTIL(base, store_redis_ready(r), 5000);
    assert_true(store_redis_ready(r));

    char *val = malloc(BIG_LEN);
    assert_non_null(val);
    for (size_t i = 0; i < BIG_LEN; i++)
        val[i] = (char)('a' + (i * 7 + i / 4093) % 26);
    b.val = val;
    /* All pipelined at once while Redis is stopped: the bridge holds at
     * most its high mark, stops reading hiredis, and must start again when
     * Redis reads (a bridge that never resumes stalls here). Then Redis
     * answers 12 MiB the other way. */
    kill(g->redis.pid, SIGSTOP);
    for (int i = 0; i < BIG_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "t:big%d", i);
        const char *argv[] = { "SET", key, val };
        size_t lens[] = { 3, strlen(key), BIG_LEN };
        assert_int_equal(store_redis_argv(r, big_set_cb, &b, 3, argv, lens), 0);
    }
    for (int i = 0; i < BIG_N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "t:big%d", i);
        const char *argv[] = { "GET", key };
        size_t lens[] = { 3, strlen(key) };
        assert_int_equal(store_redis_argv(r, big_get_cb, &b, 2, argv, lens), 0);
    }
    TL_RUN_UNTIL(base, false, 1000);
    kill(g->redis.pid, SIGCONT);
    TL_RUN_UNTIL(base, b.answers == 2 * BIG_N, 60000);
    assert_int_equal(b.answers, 2 * BIG_N);
    assert_int_equal(b.set_ok, BIG_N);
    assert_int_equal(b.got_ok, BIG_N);
    assert_true(store_redis_ready(r));
    free(val);
    store_redis_free(r);
    event_base_free(base);
}

static void
count_ready(struct store_redis *r, void *arg)
{
    (void)r;
    (*(int *)arg)++;
}

static void
test_bridge_never_ready_on_failure(void **state)
{
    struct gwfix *g = *state;
    bool ever = false;

    tl_redis_start(&g->redis);
    struct event_base *base = event_base_new();
    struct cfg_redis cfg = inproc_cfg(g, tx(g)->ca2);
    struct store_redis *r = store_redis_new(base, &cfg, "bad");
    /* The bridge's socket accepts at once; only Redis's answer through it
     * makes the link ready. Over 1.5 s of retries, never. */
    int readies = 0;
    store_redis_on_ready(r, count_ready, &readies);
    TL_RUN_UNTIL(base, (ever = ever || store_redis_ready(r)), 1500);
    assert_false(ever);
    assert_int_equal(readies, 0);
    store_redis_free(r);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_config, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_delivered, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_with_password, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_wrong_ca, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_wrong_name, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_unverified, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_server_name, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_host_name, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_cert_required, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_cert, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_tls_redis_restart, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_large_values, setup, gwfix_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_never_ready_on_failure, setup, gwfix_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
