/*
 * Helpers shared by the test programs: free ports, child processes (the real
 * redis-server, smsc-sim, smsgwd, node peers), scratch directories.
 * Every test binary links testlib.o; include <cmocka.h> after the usual
 * <stdarg.h> <stddef.h> <setjmp.h> <stdint.h>.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdbool.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tl_free_port(void);

/* Wait until 127.0.0.1:port accepts a connection; false after timeout_ms. */
bool tl_wait_port(int port, int timeout_ms);

/*
 * Start argv[0] (a path) with argv; stdout and stderr go to logpath (appended)
 * when it is not NULL. Returns the child's pid; aborts the test on failure.
 */
pid_t tl_spawn(char *const argv[], const char *logpath);

/*
 * Send sig to pid and wait up to timeout_ms for it to exit (SIGKILL after).
 * Returns the exit status as from waitpid, or -1 if it had to be killed.
 */
int tl_stop(pid_t pid, int sig, int timeout_ms);

/* True when the status from tl_stop is a clean exit with code 0. */
bool tl_exited_ok(int status);

/* Path of a program built for tests: build/asan/bin/NAME under the top dir. */
const char *tl_bin(const char *name);

/* The project's top directory (SMSGW_TOP, or the current directory). */
const char *tl_top(void);

/* A new scratch directory under /tmp, removed by tl_cleanup_dir(). */
char *tl_tmpdir(void);
void tl_cleanup_dir(char *dir);

/* Print a file's contents to stderr (for failing tests' diagnostics). */
void tl_dump_file(const char *path);

/*
 * Run a libevent loop in 10 ms slices until cond holds or about ms pass
 * (include <event2/event.h> to use it).
 */
#define TL_RUN_UNTIL(base, cond, ms) do { \
        for (int tl_i_ = 0; tl_i_ < (ms) / 10 && !(cond); tl_i_++) { \
            struct timeval tl_tv_ = { 0, 10000 }; \
            event_base_loopexit((base), &tl_tv_); \
            event_base_dispatch((base)); \
        } \
    } while (0)

/*
 * A real redis-server on a loopback port (a free one unless port is set),
 * in its own directory; with aof, appendonly with fsync always, so it can be
 * stopped with tl_redis_pause() and started again on the same port and data.
 * Zero-initialise before the first start.
 * With password set, clients must AUTH with it (requirepass).
 * With tls_cert set, it listens with TLS only (tls-port; the plain port is
 * off), using tls_key and tls_ca (which verifies client certificates, and
 * with tls_auth_clients they are required).
 */
struct tl_redis {
    pid_t pid;
    int port;
    char *dir;
    bool aof;
    const char *tls_cert, *tls_key, *tls_ca;
    bool tls_auth_clients;
    const char *password;       /* requirepass, when set */
};
void tl_redis_start(struct tl_redis *r);
void tl_redis_pause(struct tl_redis *r);
void tl_redis_stop(struct tl_redis *r);

/*
 * One HTTP/1.1 request to 127.0.0.1:port (Connection: close). bearer and
 * body may be NULL. Returns the status code (or -1 on a connection error);
 * the response body (malloc'd, NUL-terminated) goes to *resp_body and the
 * raw headers to *resp_headers when those are not NULL.
 */
int tl_http(int port, const char *method, const char *path, const char *bearer,
            const char *body, char **resp_body, char **resp_headers);

/*
 * The string value of "key" in a flat JSON text (first match; at most 255
 * bytes, no unescaping), or "" when absent. The result lives in one of 8
 * rotating static buffers.
 */
char *tl_jstr(const char *json, const char *key);
/* The integer value of "key": in json (first occurrence), or -1. */
long long tl_jnum(const char *json, const char *key);

/*
 * Send cmd to a line-protocol control port on 127.0.0.1 (smsc-sim's) and
 * return the first answer line (a static buffer); aborts the test if the
 * port does not answer.
 */
char *tl_ctl(int port, const char *cmd);

/* Print the tail of a log file (last ~4 KiB) to stderr. */
void tl_dump_tail(const char *path);

/* Sleep ms milliseconds. */
void tl_sleep_ms(int ms);

/*
 * The lines of the file at path that contain needle1 and, when it is not
 * NULL, needle2 (0 when the file cannot be read).
 */
int tl_count_lines(const char *path, const char *needle1, const char *needle2);

#endif
