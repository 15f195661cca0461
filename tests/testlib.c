#include "tests/testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
die(const char *what)
{
    fprintf(stderr, "testlib: %s: %s\n", what, strerror(errno));
    abort();
}

/*
 * Ports come from below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range), not from bind(0): a port handed out by
 * bind(0) is one the kernel also gives to outgoing connections, so between
 * this call and the child's listen any connect() on the machine (another
 * test, a bench, a client reconnecting to a daemon that is down) may take
 * it, and the child fails with EADDRINUSE — seen with several worktrees
 * running tests at once (smsc-sim "cannot listen on control port").
 */
static int
port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

    if (fd < 0)
        die("socket");
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
    close(fd);
    return ok;
}

int
tl_free_port(void)
{
    static int recent[64], nrecent;
    static unsigned seed;
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 32768;
        fclose(f);
    }
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int tries = 0; lo > 11000 && tries < 1000; tries++) {
        int p = 10000 + (int)(rand_r(&seed) % (unsigned)(lo - 10000)), seen = 0;
        for (int i = 0; i < nrecent && i < 64; i++)
            seen |= recent[i] == p;     /* not twice in one test program */
        if (seen || !port_bindable(p))
            continue;
        recent[nrecent++ % 64] = p;
        return p;
    }
    /* No room below the ephemeral range: let the kernel choose. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);

    if (fd < 0)
        die("socket");
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        die("bind");
    close(fd);
    return ntohs(sin.sin_port);
}

void
tl_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

bool
tl_wait_port(int port, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons((uint16_t)port) };
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
            close(fd);
            return true;
        }
        close(fd);
        tl_sleep_ms(20);
    }
    return false;
}

pid_t
tl_spawn(char *const argv[], const char *logpath)
{
    pid_t pid = fork();

    if (pid < 0)
        die("fork");
    if (pid == 0) {
        /* A test that fails midway skips its cleanup: the servers it
         * started must still not outlive the test program. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        if (logpath) {
            int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        execv(argv[0], argv);
        fprintf(stderr, "testlib: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int
tl_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;

    if (pid <= 0)
        return -1;
    kill(pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        tl_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

bool
tl_exited_ok(int status)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

const char *
tl_top(void)
{
    const char *top = getenv("SMSGW_TOP");
    return top && *top ? top : ".";
}

const char *
tl_bin(const char *name)
{
    static char path[8][4096];
    static int next;
    char *p = path[next++ % 8];

    snprintf(p, sizeof(path[0]), "%s/build/asan/bin/%s", tl_top(), name);
    return p;
}

char *
tl_tmpdir(void)
{
    char tmpl[] = "/tmp/smsgw-test-XXXXXX";
    char *d = mkdtemp(tmpl);

    if (!d)
        die("mkdtemp");
    return strdup(d);
}

void
tl_cleanup_dir(char *dir)
{
    char cmd[4200];

    if (!dir)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "testlib: could not remove %s\n", dir);
    free(dir);
}

void
tl_dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];

    if (!f)
        return;
    fprintf(stderr, "----- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fprintf(stderr, "-----\n");
    fclose(f);
}

void
tl_redis_start(struct tl_redis *r)
{
    char port[16], log[4200];

    if (!r->dir)
        r->dir = tl_tmpdir();
    if (!r->port)
        r->port = tl_free_port();
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    char *argv[32] = { "/usr/bin/redis-server", "--port", port, "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", r->aof ? "yes" : "no",
                       "--appendfsync", "always", "--dir", r->dir,
                       "--daemonize", "no", NULL };
    if (r->tls_cert) {
        char **a = argv + 15;
        argv[1] = "--tls-port";
        *a++ = "--port";
        *a++ = "0";
        *a++ = "--tls-cert-file";
        *a++ = (char *)r->tls_cert;
        *a++ = "--tls-key-file";
        *a++ = (char *)r->tls_key;
        *a++ = "--tls-ca-cert-file";
        *a++ = (char *)r->tls_ca;
        *a++ = "--tls-auth-clients";
        *a++ = r->tls_auth_clients ? "yes" : "no";
        *a = NULL;
    }
    if (r->password) {
        char **a = argv;
        while (*a)
            a++;
        *a++ = "--requirepass";
        *a++ = (char *)r->password;
        *a = NULL;
    }
    r->pid = tl_spawn(argv, log);
    if (!tl_wait_port(r->port, 10000)) {
        tl_dump_file(log);
        fprintf(stderr, "testlib: redis-server did not start\n");
        abort();
    }
}

void
tl_redis_pause(struct tl_redis *r)
{
    tl_stop(r->pid, SIGTERM, 5000);
    r->pid = 0;
}

void
tl_redis_stop(struct tl_redis *r)
{
    tl_stop(r->pid, SIGTERM, 5000);
    tl_cleanup_dir(r->dir);
    r->dir = NULL;
    r->pid = 0;
}

int
tl_http(int port, const char *method, const char *path, const char *bearer, const char *body,
        char **resp_body, char **resp_headers)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    size_t blen = body ? strlen(body) : 0, cap = 8192, len = 0;
    char *req, *buf;
    ssize_t n;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (resp_body)
        *resp_body = NULL;
    if (resp_headers)
        *resp_headers = NULL;
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    if (asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       "%s%s%s"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 method, path, bearer ? "Authorization: Bearer " : "", bearer ? bearer : "",
                 bearer ? "\r\n" : "", blen) < 0)
        abort();
    if (write(fd, req, strlen(req)) < 0 || (blen && write(fd, body, blen) < 0)) {
        free(req);
        close(fd);
        return -1;
    }
    free(req);
    buf = malloc(cap);
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    close(fd);
    buf[len] = 0;
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        free(buf);
        return -1;
    }
    char *sep = strstr(buf, "\r\n\r\n");
    if (resp_body)
        *resp_body = strdup(sep ? sep + 4 : "");
    if (resp_headers) {
        if (sep)
            *sep = 0;
        *resp_headers = strdup(buf);
    }
    free(buf);
    return status;
}

void
tl_dump_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[4097];
    size_t n;

    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > 4096 ? sz - 4096 : 0, SEEK_SET);
    n = fread(buf, 1, 4096, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "----- tail of %s\n%s\n-----\n", path, buf);
}

char *
tl_jstr(const char *json, const char *key)
{
    static char out[8][256];
    static int k;
    char pat[64], *o = out[k++ % 8];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    o[0] = 0;
    if (!p)
        return o;
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != '"' && i < 255)
        o[i++] = *p++;
    o[i] = 0;
    return o;
}

long long
tl_jnum(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

char *
tl_ctl(int port, const char *cmd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    static char buf[8192];
    size_t len = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        write(fd, cmd, strlen(cmd)) <= 0) {
        fprintf(stderr, "testlib: control port %d does not answer\n", port);
        abort();
    }
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(buf, '\n', len))
            break;
    }
    buf[len] = 0;
    close(fd);
    return buf;
}

int
tl_count_lines(const char *path, const char *needle1, const char *needle2)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;

    if (!f)
        return 0;
    while (getline(&line, &cap, f) >= 0)
        n += strstr(line, needle1) && (!needle2 || strstr(line, needle2));
    free(line);
    fclose(f);
    return n;
}
