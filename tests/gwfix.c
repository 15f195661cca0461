#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/gwfix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct gwfix *
gwfix_new(unsigned flags)
{
    struct gwfix *g = calloc(1, sizeof(*g));

    assert_non_null(g);
    g->dir = tl_tmpdir();
    g->key = GWFIX_KEY;
    g->sim_system_id = "acme";
    g->sim_dlr_delay_ms = "20";
    g->redis.aof = (flags & GWFIX_AOF) != 0;
    if (!(flags & GWFIX_NO_REDIS))
        tl_redis_start(&g->redis);
    for (int i = 0; i < GWFIX_SIMS; i++) {
        g->sim[i].port = tl_free_port();
        g->sim[i].ctl_port = tl_free_port();
        if (i == 0)
            snprintf(g->sim[i].log, sizeof(g->sim[i].log), "%s/sim.log", g->dir);
        else
            snprintf(g->sim[i].log, sizeof(g->sim[i].log), "%s/sim%d.log", g->dir, i + 1);
    }
    g->http_port = tl_free_port();
    snprintf(g->conf, sizeof(g->conf), "%s/smsgw.conf", g->dir);
    snprintf(g->gwlog, sizeof(g->gwlog), "%s/smsgwd.log", g->dir);
    snprintf(g->sock, sizeof(g->sock), "%s/admin.sock", g->dir);
    return g;
}

void
gwfix_free(struct gwfix *g)
{
    if (g->gw > 0)
        tl_stop(g->gw, SIGKILL, 2000);
    for (int i = 0; i < GWFIX_SIMS; i++)
        if (g->sim[i].pid > 0)
            tl_stop(g->sim[i].pid, SIGKILL, 2000);
    if (g->redis.pid > 0)
        tl_redis_stop(&g->redis);
    else
        tl_cleanup_dir(g->redis.dir);
    tl_cleanup_dir(g->dir);
    free(g->ext);
    free(g);
}

int
gwfix_setup(void **state)
{
    *state = gwfix_new(0);
    return 0;
}

int
gwfix_teardown(void **state)
{
    gwfix_free(*state);
    return 0;
}

void
gwfix_start_sim(struct gwfix *g, int i, ...)
{
    struct gwfix_sim *s = &g->sim[i];
    char port[16], ctl[16];
    char *argv[40] = { (char *)tl_bin("smsc-sim"), "--port", port,
                       "--system-id", (char *)g->sim_system_id, "--password", "secret",
                       "--stats-interval-ms", "0", "--log-level", "warn",
                       "--control-port", ctl };
    int n = 13;
    va_list ap;

    assert_true(i >= 0 && i < GWFIX_SIMS);
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(ctl, sizeof(ctl), "%d", s->ctl_port);
    if (g->sim_dlr_delay_ms && *g->sim_dlr_delay_ms) {
        argv[n++] = "--dlr-delay-ms";
        argv[n++] = (char *)g->sim_dlr_delay_ms;
    }
    va_start(ap, i);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) {
        assert_true(n < 39);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    s->pid = tl_spawn(argv, s->log);
    if (!tl_wait_port(s->port, 10000)) {
        tl_dump_file(s->log);
        fail_msg("smsc-sim %d did not start", i);
    }
}

void
gwfix_stop_sim(struct gwfix *g, int i)
{
    tl_stop(g->sim[i].pid, SIGTERM, 5000);
    g->sim[i].pid = 0;
}

long long
gwfix_sim_stat(struct gwfix *g, int i, const char *key)
{
    return tl_jnum(tl_ctl(g->sim[i].ctl_port, "stats\n"), key);
}

void
gwfix_wait_sim_binds(struct gwfix *g, int i, long long want)
{
    for (int n = 0; n < 200 && gwfix_sim_stat(g, i, "binds_now") != want; n++)
        tl_sleep_ms(50);
    long long now = gwfix_sim_stat(g, i, "binds_now");
    if (now != want) {
        tl_dump_tail(g->gwlog);
        fail_msg("smsc-sim %d never had %lld binds (has %lld)", i, want, now);
    }
}

void
gwfix_write_conf(struct gwfix *g, const char *fmt, ...)
{
    FILE *f = fopen(g->conf, "w");
    va_list ap;

    assert_non_null(f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

void
gwfix_start_gw(struct gwfix *g)
{
    char *argv[] = { (char *)tl_bin("smsgwd"), "-c", g->conf, NULL };

    g->gw = tl_spawn(argv, g->gwlog);
    if (!tl_wait_port(g->http_port, 10000)) {
        tl_dump_tail(g->gwlog);
        fail_msg("smsgwd did not start");
    }
}

void
gwfix_stop_gw_clean(struct gwfix *g)
{
    int st = tl_stop(g->gw, SIGTERM, 15000);

    g->gw = 0;
    if (!tl_exited_ok(st)) {
        tl_dump_tail(g->gwlog);
        fail_msg("smsgwd did not exit cleanly (status %d)", st);
    }
}

int
gwfix_post(struct gwfix *g, const char *json, char **body)
{
    return tl_http(g->http_port, "POST", "/v1/messages", g->key, json, body, NULL);
}

char *
gwfix_post_expect(struct gwfix *g, const char *json, int want)
{
    char *body = NULL;
    int st = gwfix_post(g, json, &body);

    if (st != want) {
        tl_dump_tail(g->gwlog);
        fail_msg("POST %s -> %d %s (wanted %d)", json, st, body ? body : "", want);
    }
    return body;
}

char *
gwfix_post_ok(struct gwfix *g, const char *json)
{
    char *body = gwfix_post_expect(g, json, 202);
    char *id = strdup(tl_jstr(body, "id"));

    free(body);
    return id;
}

static int
get_msg(struct gwfix *g, const char *id, char **body)
{
    char path[160];

    snprintf(path, sizeof(path), "/v1/messages/%s", id);
    return tl_http(g->http_port, "GET", path, g->key, NULL, body, NULL);
}

char *
gwfix_get_msg(struct gwfix *g, const char *id)
{
    char *body = NULL;

    assert_int_equal(get_msg(g, id, &body), 200);
    return body;
}

const char *
gwfix_msg_state(struct gwfix *g, const char *id)
{
    static char st[64];
    char *body = NULL;

    get_msg(g, id, &body);
    snprintf(st, sizeof(st), "%s", tl_jstr(body, "state"));
    free(body);
    return st;
}

char *
gwfix_wait_state(struct gwfix *g, const char *id, const char *want, int ms)
{
    char *body = NULL;

    for (int waited = 0; waited <= ms; waited += 50) {
        free(body);
        body = NULL;
        if (get_msg(g, id, &body) == 200 && strcmp(tl_jstr(body, "state"), want) == 0)
            return body;
        tl_sleep_ms(50);
    }
    tl_dump_tail(g->gwlog);
    fail_msg("message %s never reached %s; last: %s", id, want, body ? body : "(none)");
    return NULL;
}

int
gwfix_ctl(struct gwfix *g, char **out, const char *fmt, ...)
{
    char args[1024], cmd[6000];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (strncmp(args, "--tcp", 5) == 0)
        snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tl_bin("smsgwctl"), args);
    else
        snprintf(cmd, sizeof(cmd), "%s -s %s %s 2>&1", tl_bin("smsgwctl"), g->sock, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - 1 - len, p)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
gwfix_log_count(struct gwfix *g, const char *needle)
{
    return tl_count_lines(g->gwlog, needle, NULL);
}

bool
gwfix_log_wait(struct gwfix *g, const char *needle, int count, int ms)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        if (gwfix_log_count(g, needle) >= count)
            return true;
        tl_sleep_ms(50);
    }
    return false;
}

void
gwfix_wait_log(struct gwfix *g, const char *needle, int count, int ms)
{
    if (!gwfix_log_wait(g, needle, count, ms)) {
        tl_dump_tail(g->gwlog);
        fail_msg("log never had %d x \"%s\"", count, needle);
    }
}
