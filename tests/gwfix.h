/*
 * The fixture of the end-to-end tests: one scratch directory, a real
 * redis-server, up to GWFIX_SIMS smsc-sim processes and smsgwd on free
 * loopback ports, and the HTTP, control-port, smsgwctl and log helpers the
 * tests use to drive and watch them. Each test program writes its own
 * config text (gwfix_write_conf) from the ports and paths here.
 *
 * The helpers fail the running test (cmocka's fail_msg) when what they wait
 * for does not happen, after printing the tail of smsgwd's log; include
 * <cmocka.h> (after <stdarg.h> <stddef.h> <setjmp.h> <stdint.h>) before
 * this header.
 */
#ifndef GWFIX_H
#define GWFIX_H

#include <stdbool.h>
#include <sys/types.h>

#include "tests/testlib.h"

#define GWFIX_SIMS 3

/* The API key gwfix_new puts in gwfix.key (the accounts' key in most configs). */
#define GWFIX_KEY "test-key-0123"

/* One smsc-sim: its ports are chosen by gwfix_new, the process started by
 * gwfix_start_sim; its stdout and stderr go to log. */
struct gwfix_sim {
    pid_t pid;
    int port, ctl_port;
    char log[4200];
};

struct gwfix {
    char *dir;                      /* scratch directory, removed by gwfix_free */
    struct tl_redis redis;
    pid_t gw;                       /* smsgwd of gwfix_start_gw */
    int http_port;
    struct gwfix_sim sim[GWFIX_SIMS];
    const char *key;                /* bearer of the HTTP helpers; GWFIX_KEY */
    const char *sim_system_id;      /* smsc-sim --system-id; "acme" */
    const char *sim_dlr_delay_ms;   /* smsc-sim --dlr-delay-ms; "20", "" for none */
    /* dir/smsgw.conf, dir/smsgwd.log, dir/admin.sock (smsgwctl's default) */
    char conf[4200], gwlog[4200], sock[4200];
    void *ext;                      /* the test program's own state; freed by gwfix_free */
};

enum {
    GWFIX_AOF = 1 << 0,             /* Redis with appendonly, so tl_redis_pause works */
    GWFIX_NO_REDIS = 1 << 1,        /* the test starts g->redis itself */
};

/* A fixture with its directory, ports and paths, Redis started unless
 * GWFIX_NO_REDIS; nothing else runs yet. Free with gwfix_free. */
struct gwfix *gwfix_new(unsigned flags);

/* SIGKILL what still runs (smsgwd, the smsc-sims), stop Redis, remove the
 * directory, free ext and g. */
void gwfix_free(struct gwfix *g);

/* cmocka setup and teardown of a plain gwfix_new(0) fixture in *state. */
int gwfix_setup(void **state);
int gwfix_teardown(void **state);

/*
 * smsc-sim number i on its ports (the same on every start), bound by
 * system_id / "secret", with the control port on, and the extra arguments
 * (a NULL-terminated list) after the fixture's own. Fails the test unless
 * its port opens.
 */
void gwfix_start_sim(struct gwfix *g, int i, ...) __attribute__((sentinel));

/* SIGTERM smsc-sim i and wait for it (up to 5 s). */
void gwfix_stop_sim(struct gwfix *g, int i);

/* The numeric field key of smsc-sim i's control-port "stats" answer (-1: absent). */
long long gwfix_sim_stat(struct gwfix *g, int i, const char *key);

/* Wait up to 10 s until smsc-sim i has want binds now; fails the test otherwise. */
void gwfix_wait_sim_binds(struct gwfix *g, int i, long long want);

/* Write g->conf: the printf of fmt. */
void gwfix_write_conf(struct gwfix *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* smsgwd -c g->conf with its log in g->gwlog; fails the test unless the
 * HTTP port opens within 10 s. */
void gwfix_start_gw(struct gwfix *g);

/* SIGTERM smsgwd; fails the test unless it exits 0 within 15 s. */
void gwfix_stop_gw_clean(struct gwfix *g);

/* POST /v1/messages with json; the status, the body in *body (malloc'd). */
int gwfix_post(struct gwfix *g, const char *json, char **body);

/* POST that must answer want; the body (the caller frees it). */
char *gwfix_post_expect(struct gwfix *g, const char *json, int want);

/* POST that must answer 202; the new message's id (the caller frees it). */
char *gwfix_post_ok(struct gwfix *g, const char *json);

/* GET /v1/messages/id, which must answer 200; the body (the caller frees it). */
char *gwfix_get_msg(struct gwfix *g, const char *id);

/* The message's state now ("" when GET fails); a static buffer. */
const char *gwfix_msg_state(struct gwfix *g, const char *id);

/* Poll GET /v1/messages/id every 50 ms for up to ms until its state is
 * want; the last body (the caller frees it). Fails the test otherwise. */
char *gwfix_wait_state(struct gwfix *g, const char *id, const char *want, int ms);

/*
 * Run smsgwctl with the printf of fmt as its arguments, after -s g->sock
 * unless they start with --tcp; stdout and stderr go to *out (malloc'd).
 * Returns the exit status (-1: it did not exit).
 */
int gwfix_ctl(struct gwfix *g, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* gwfix_ctl that must exit 0. */
#define GWFIX_CTL_OK(g, out, ...) do { \
        int gwfix_rc_ = gwfix_ctl((g), (out), __VA_ARGS__); \
        if (gwfix_rc_ != 0) { tl_dump_tail((g)->gwlog); \
            fail_msg("smsgwctl " #__VA_ARGS__ " -> %d: %s", gwfix_rc_, *(out)); } \
    } while (0)

/* Lines of smsgwd's log that contain needle. */
int gwfix_log_count(struct gwfix *g, const char *needle);

/* Poll every 50 ms for up to ms until the log has count lines with needle. */
bool gwfix_log_wait(struct gwfix *g, const char *needle, int count, int ms);

/* gwfix_log_wait that fails the test on a timeout. */
void gwfix_wait_log(struct gwfix *g, const char *needle, int count, int ms);

#endif
