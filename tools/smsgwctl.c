/*
 * smsgwctl: talk to a running smsgwd over its admin socket.
 *
 *   smsgwctl [-s SOCKET | --tcp HOST:PORT] [--json] COMMAND [ARG]
 *   smsgwctl [...] requeue --cause CODE [--route R] [--smsc S] [--since TIME]
 *            [--until TIME] [--limit N] [--dry-run]
 *   smsgwctl hash-secret [--iterations N] [SECRET]
 *
 * Commands: status, binds, routes, queue ROUTE, pause ROUTE, resume ROUTE,
 * rebind SMSC, message ID, requeue ID, requeue --cause, optout NUMBER,
 * reload. Over TCP the token comes from SMSGWCTL_TOKEN (never from the
 * command line, where ps shows it).
 *
 * Exit status: 0 done, 1 smsgwd refused or failed the command (its reason
 * on stderr), 2 usage, 3 no connection to smsgwd.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/config.h"

#define DEFAULT_SOCKET "/run/smsgw/admin.sock"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: smsgwctl [-s SOCKET | --tcp HOST:PORT] [--json] COMMAND [ARG]\n"
            "       smsgwctl hash-secret [--iterations N] [SECRET]\n"
            "\n"
            "commands:\n"
            "  status          instance, uptime, binds, routes\n"
            "  binds           SMSC bind slots and SMPP client binds\n"
            "  routes          routes: state, current and allowed mps, queue depth\n"
            "  queue ROUTE     the route's Redis queue: depth, oldest, pending\n"
            "  pause ROUTE     stop sending on ROUTE (messages stay queued in Redis)\n"
            "  resume ROUTE    send again\n"
            "  rebind SMSC     unbind SMSC's sessions; they bind again\n"
            "  message ID      a message's record and history\n"
            "  requeue ID      send a failed/rejected/expired/undelivered message again\n"
            "  requeue --cause CODE [--route R] [--smsc S] [--since TIME] [--until TIME]\n"
            "          [--limit N] [--dry-run]\n"
            "                  send again every message that failed by CODE (an SMPP\n"
            "                  status 0x0000000b or ESME_RINVDSTADR, a receipt stat\n"
            "                  UNDELIV, a receipt err 001, a state rejected, or * for\n"
            "                  any) in the time range; TIME: unix seconds, ISO-8601\n"
            "                  (UTC unless it says), or an age such as 90m, 2h, 3d\n"
            "  optout NUMBER   where NUMBER is opted out\n"
            "  reload          re-read the config (as SIGHUP); errors as FILE:LINE\n"
            "  hash-secret     print sha256:... (api_keys, admin tokens) and\n"
            "                  pbkdf2-sha256:... (smpp_password) for SECRET (or stdin)\n"
            "\n"
            "options:\n"
            "  -s, --socket PATH   admin socket (default " DEFAULT_SOCKET ")\n"
            "  --tcp HOST:PORT     TCP admin listener; token from $SMSGWCTL_TOKEN\n"
            "  --json              print smsgwd's JSON answer as it is\n"
            "exit status: 0 ok, 1 command failed, 2 usage, 3 cannot reach smsgwd\n");
}

static int
connect_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int
connect_tcp(const char *spec)
{
    char host[256], *port;
    snprintf(host, sizeof(host), "%s", spec);
    port = strrchr(host, ':');
    if (!port) {
        errno = EINVAL;
        return -1;
    }
    *port++ = 0;
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strcspn(h, "]")] = 0;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    if (getaddrinfo(h, port, &hints, &res) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* One line of reply (malloc'd), or NULL. */
static char *
read_line(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        if (memchr(buf, '\n', len))
            break;
    }
    if (len == 0) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

static const char *
js(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !v)
        return "-";
    return json_object_get_string(v);
}

static long long
jn(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : -1;
}

static double
jd(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_double(v) : -1;
}

static json_object *
jarr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_array) ? v
                                                                                           : NULL;
}

static void
print_requeue_bulk(json_object *o)
{
    json_object *a = jarr(o, "messages");
    bool dry = strcmp(js(o, "dry_run"), "true") == 0;
    size_t n = json_object_array_length(a);

    if (dry && n > 0)
        printf("%-24s %-16s %-12s %-20s %-20s %s\n", "ID", "ROUTE", "STATE", "ERROR",
               "FAILED_AT", "RESULT");
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(a, i);
        const char *res = js(m, "result");
        if (dry) {
            char when[32] = "-";
            time_t t = (time_t)(jn(m, "failed_ms") / 1000);
            struct tm tm;
            if (gmtime_r(&t, &tm))
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%-24s %-16s %-12s %-20s %-20s %s%s%s\n", js(m, "id"), js(m, "route"),
                   js(m, "state"), *js(m, "error") ? js(m, "error") : "-", when,
                   strcmp(res, "would_requeue") == 0 ? "would requeue" : res,
                   strcmp(res, "skipped") == 0 ? ": " : "",
                   strcmp(res, "skipped") == 0 ? js(m, "reason") : "");
        } else if (strcmp(res, "skipped") == 0) {
            printf("skipped %s: %s\n", js(m, "id"), js(m, "reason"));
        }
    }
    if (jn(o, "messages_not_listed") > 0)
        printf("(%lld more not listed)\n", jn(o, "messages_not_listed"));
    printf("matched %lld requeued %lld skipped %lld%s\n", jn(o, "matched"), jn(o, "requeued"),
           jn(o, "skipped"), dry ? " (dry run: nothing was requeued)" : "");
    if (strcmp(js(o, "limit_reached"), "true") == 0)
        printf("the limit was reached: there may be more; run it again%s\n",
               dry ? "" : " for the rest");
}

static void
print_human(const char *cmd, json_object *o)
{
    if (strcmp(cmd, "status") == 0) {
        printf("instance      %s (pid %lld)\nconfig        %s\nuptime        %lld s\n"
               "redis         %s\nsmsc binds    %lld of %lld bound (%lld SMSCs)\n"
               "routes        %lld (%lld paused)\naccounts      %lld, %lld client binds\n",
               js(o, "instance"), jn(o, "pid"), js(o, "config"), jn(o, "uptime_s"),
               strcmp(js(o, "redis"), "true") == 0 ? "connected" : "DOWN", jn(o, "sessions_bound"),
               jn(o, "sessions"), jn(o, "smscs"), jn(o, "routes"), jn(o, "routes_paused"),
               jn(o, "accounts"), jn(o, "client_binds"));
    } else if (strcmp(cmd, "binds") == 0) {
        json_object *a = jarr(o, "smsc");
        printf("%-20s %-24s %-14s %8s %11s %10s %-9s\n", "SMSC", "SLOT", "STATE", "SESSION",
               "OUT/WINDOW", "RECONNECTS", "HEALTH");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
            json_object *s = json_object_array_get_idx(a, i);
            char ow[32];
            snprintf(ow, sizeof(ow), "%lld/%lld", jn(s, "outstanding"), jn(s, "window"));
            printf("%-20s %-24s %-14s %8lld %11s %10lld %-9s\n", js(s, "smsc"), js(s, "slot"),
                   js(s, "state"), jn(s, "session"), ow, jn(s, "reconnects"), js(s, "health"));
        }
        a = jarr(o, "smsc_health");
        if (a && json_object_array_length(a)) {
            printf("\n%-20s %-9s %10s %7s %15s %10s %11s\n", "SMSC", "HEALTH", "ERROR_RATE",
                   "SAMPLES", "RATE_SUSPENDED", "PROBE_IN_S", "SUSPENSIONS");
            for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                printf("%-20s %-9s %10.2f %7lld %15.2f %10.1f %11lld\n", js(s, "smsc"),
                       js(s, "health"), jd(s, "error_rate"), jn(s, "samples"),
                       jd(s, "rate_at_suspend"), jd(s, "probe_in_s"), jn(s, "suspensions"));
            }
        }
        a = jarr(o, "clients");
        if (a && json_object_array_length(a)) {
            printf("\n%-24s %6s %9s\n", "ACCOUNT", "BINDS", "RX_BINDS");
            for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                printf("%-24s %6lld %9lld\n", js(s, "account"), jn(s, "binds"), jn(s, "rx_binds"));
            }
        }
    } else if (strcmp(cmd, "routes") == 0) {
        json_object *a = jarr(o, "routes");
        printf("%-20s %-8s %9s %7s %9s %9s %9s %10s %9s %9s\n", "ROUTE", "STATE", "MPS_NOW", "MPS",
               "QUEUED", "OLDEST_S", "IN_MEM", "SUBMITTED", "THROTTLED", "SUSPENDED");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
            json_object *r = json_object_array_get_idx(a, i);
            char susp[32];
            snprintf(susp, sizeof(susp), "%lld/%lld", jn(r, "smscs_suspended"), jn(r, "smscs"));
            printf("%-20s %-8s %9.1f %7lld %9s %9s %9lld %10lld %9lld %9s\n", js(r, "route"),
                   js(r, "state"), jd(r, "current_mps"), jn(r, "mps"), js(r, "depth"),
                   js(r, "oldest_s"), jn(r, "in_memory"), jn(r, "submitted"), jn(r, "throttled"),
                   susp);
        }
    } else if (strcmp(cmd, "queue") == 0) {
        printf("route       %s%s\nqueued      %lld (XLEN)\npending     %lld (read, awaiting "
               "outcome)\noldest      %.1f s\nin memory   %lld\nmps         %lld\n",
               js(o, "route"), strcmp(js(o, "paused"), "true") == 0 ? " (PAUSED)" : "",
               jn(o, "depth"), jn(o, "pending"), jd(o, "oldest_s"), jn(o, "in_memory"),
               jn(o, "mps"));
    } else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
        printf("route %s %s\n", js(o, "route"),
               strcmp(js(o, "paused"), "true") == 0 ? "paused" : "resumed");
    } else if (strcmp(cmd, "rebind") == 0) {
        printf("smsc %s: %lld session(s) unbound; they bind again\n", js(o, "smsc"),
               jn(o, "unbound"));
    } else if (strcmp(cmd, "message") == 0) {
        json_object *rec = NULL;
        if (!json_object_object_get_ex(o, "record", &rec) ||
            !json_object_is_type(rec, json_type_object))
            return;
        printf("message %s\n", js(o, "id"));
        json_object_object_foreach(rec, k, v) {
            if (strncmp(k, "h:", 2) != 0)
                printf("  %-20s %s\n", k, json_object_get_string(v));
        }
        printf("history:\n");
        json_object_object_foreach(rec, k2, v2) {
            if (strncmp(k2, "h:", 2) == 0)
                printf("  %-32s %s\n", k2 + 2, json_object_get_string(v2));
        }
    } else if (strcmp(cmd, "requeue") == 0 && jarr(o, "messages")) {
        print_requeue_bulk(o);
    } else if (strcmp(cmd, "requeue") == 0) {
        printf("message %s queued again on route %s\n", js(o, "id"), js(o, "route"));
    } else if (strcmp(cmd, "optout") == 0) {
        json_object *a = jarr(o, "opted_out");
        size_t n = a ? json_object_array_length(a) : 0;
        if (n == 0)
            printf("+%s is not opted out of any sender or account\n", js(o, "number"));
        for (size_t i = 0; i < n; i++) {
            json_object *x = json_object_array_get_idx(a, i);
            if (strcmp(js(x, "scope"), "number") == 0)
                printf("+%s opted out of sender %s\n", js(o, "number"), js(x, "sender"));
            else
                printf("+%s opted out of account %s\n", js(o, "number"), js(x, "account"));
        }
    } else if (strcmp(cmd, "reload") == 0) {
        printf("reloaded: smsc kept %lld, new %lld, removed %lld; routes added %lld, removed "
               "%lld\n", jn(o, "smscs_kept"), jn(o, "smscs_new"), jn(o, "smscs_removed"),
               jn(o, "routes_added"), jn(o, "routes_removed"));
        if (*js(o, "restart_needed"))
            printf("not applied until a restart: %s\n", js(o, "restart_needed"));
    }
}

static int
hash_secret(int argc, char **argv, bool as_json)
{
    unsigned iter = 100000;
    char secret[1024];
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--json") == 0)
            continue;
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iter = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i < argc) {
        snprintf(secret, sizeof(secret), "%s", argv[i]);
    } else {
        if (isatty(0))
            fprintf(stderr, "secret: ");
        if (!fgets(secret, sizeof(secret), stdin)) {
            fprintf(stderr, "smsgwctl: no secret on stdin\n");
            return 2;
        }
        secret[strcspn(secret, "\r\n")] = 0;
    }
    if (!*secret) {
        fprintf(stderr, "smsgwctl: the secret is empty\n");
        return 2;
    }
    char hex[65], pb[CONFIG_SMPP_HASH_MAX];
    config_sha256_hex(secret, hex);
    if (config_hash_smpp_password(secret, iter, pb, sizeof(pb)) != 0) {
        fprintf(stderr, "smsgwctl: --iterations must be %u..%u\n", CONFIG_SMPP_ITER_MIN,
                CONFIG_SMPP_ITER_MAX);
        return 2;
    }
    memset(secret, 0, sizeof(secret));
    if (as_json)
        printf("{\"sha256\":\"sha256:%s\",\"pbkdf2\":\"%s\"}\n", hex, pb);
    else
        printf("sha256:%s\n%s\n", hex, pb);
    return 0;
}

static long long
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * TIME as epoch ms: unix seconds ("1764265200"), ISO-8601
 * ("2026-11-27T18:00:00Z", "2026-11-27 18:00", "2026-11-27T18:00:00+01:00",
 * "2026-11-27"; UTC when no zone is given) or an age before now ("90s",
 * "30m", "2h", "3d", "1w").
 */
static bool
parse_time(const char *s, long long now, long long *out)
{
    size_t n = strlen(s), digits = strspn(s, "0123456789");

    if (n == 0)
        return false;
    if (digits == n) {
        if (n > 11)
            return false;
        *out = strtoll(s, NULL, 10) * 1000;
        return true;
    }
    if (digits > 0 && digits <= 7 && n == digits + 1) {
        static const struct { char c; long long ms; } units[] = {
            { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
            { 'w', 604800000 },
        };
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (s[n - 1] == units[i].c) {
                *out = now - strtoll(s, NULL, 10) * units[i].ms;
                return *out >= 0;
            }
        }
        return false;
    }
    struct tm tm = { 0 };
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    const char *p = s;
    if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return false;
    p += used;
    if (*p == 'T' || *p == ' ') {
        used = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &used) != 2 || used != 5)
            return false;
        p += 1 + used;
        if (*p == ':') {
            used = 0;
            if (sscanf(p + 1, "%2d%n", &sec, &used) != 1 || used != 2)
                return false;
            p += 1 + used;
            if (*p == '.' || *p == ',') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                    return false;
                while (*p >= '0' && *p <= '9')
                    p++;        /* fractions of a second: the index keeps ms, we take s */
            }
        }
    }
    long long off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        used = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &used) == 2 && used == 5) {
            ;
        } else if (sscanf(p + 1, "%2d%2d%n", &oh, &om, &used) == 2 && used == 4) {
            ;
        } else if (sscanf(p + 1, "%2d%n", &oh, &used) == 1 && used == 2) {
            om = 0;
        } else {
            return false;
        }
        if (oh > 23 || om > 59)
            return false;
        off_s = (oh * 3600LL + om * 60LL) * (*p == '-' ? -1 : 1);
        p += 1 + used;
    }
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d)     /* timegm normalised a 31 February */
        return false;
    *out = ((long long)t - off_s) * 1000;
    return *out >= 0;
}

/*
 * requeue's own arguments (after the command): an ID, or --cause and its
 * filters, into req. Returns 0, or 2 after a message on stderr.
 */
static int
requeue_args(int argc, char **argv, json_object *req)
{
    const char *id = NULL, *cause = NULL, *route = NULL, *smsc = NULL, *since = NULL,
               *until = NULL, *limit = NULL;
    bool dry = false;
    struct { const char *name; const char **dst; } vals[] = {
        { "--cause", &cause }, { "--route", &route }, { "--smsc", &smsc },
        { "--since", &since }, { "--until", &until }, { "--limit", &limit },
    };

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            continue;
        if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
            dry = true;
            continue;
        }
        bool took = false;
        for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]) && !took; k++) {
            size_t l = strlen(vals[k].name);
            if (strncmp(a, vals[k].name, l) != 0 || (a[l] && a[l] != '='))
                continue;
            took = true;
            if (a[l] == '=') {
                *vals[k].dst = a + l + 1;
            } else if (i + 1 < argc) {
                *vals[k].dst = argv[++i];
            } else {
                fprintf(stderr, "smsgwctl: requeue: %s needs a value\n", vals[k].name);
                return 2;
            }
        }
        if (took)
            continue;
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "smsgwctl: requeue: unknown option %s (--cause, --route, --smsc, "
                    "--since, --until, --limit, --dry-run, --json)\n", a);
            return 2;
        }
        if (id) {
            fprintf(stderr, "smsgwctl: requeue takes one message id\n");
            return 2;
        }
        id = a;
    }
    bool filters = cause || route || smsc || since || until || limit || dry;
    if (id && filters) {
        fprintf(stderr, "smsgwctl: requeue takes a message id or --cause with its filters, "
                "not both\n");
        return 2;
    }
    if (id) {
        json_object_object_add(req, "arg", json_object_new_string(id));
        return 0;
    }
    if (!cause) {
        fprintf(stderr, "smsgwctl: requeue needs a message id or --cause CODE (e.g. --cause "
                "0x0000000b, --cause UNDELIV, --cause '*' for any)\n");
        return 2;
    }
    if (!*cause) {
        fprintf(stderr, "smsgwctl: requeue: --cause is empty\n");
        return 2;
    }
    json_object_object_add(req, "cause", json_object_new_string(cause));
    if (route)
        json_object_object_add(req, "route", json_object_new_string(route));
    if (smsc)
        json_object_object_add(req, "smsc", json_object_new_string(smsc));
    long long now = now_ms(), t0 = 0, t1 = now;
    if (since && !parse_time(since, now, &t0)) {
        fprintf(stderr, "smsgwctl: requeue: --since \"%s\" is not a time (unix seconds, "
                "ISO-8601 such as 2026-11-27T18:00:00Z, or an age such as 2h)\n", since);
        return 2;
    }
    if (until && !parse_time(until, now, &t1)) {
        fprintf(stderr, "smsgwctl: requeue: --until \"%s\" is not a time (unix seconds, "
                "ISO-8601 such as 2026-11-27T18:00:00Z, or an age such as 2h)\n", until);
        return 2;
    }
    if (t0 > t1) {
        fprintf(stderr, "smsgwctl: requeue: --since is after --until\n");
        return 2;
    }
    if (since)
        json_object_object_add(req, "since_ms", json_object_new_int64(t0));
    if (until)
        json_object_object_add(req, "until_ms", json_object_new_int64(t1));
    if (limit) {
        char *end;
        long long v = strtoll(limit, &end, 10);
        if (!*limit || *end || v < 1 || v > 1000000) {
            fprintf(stderr, "smsgwctl: requeue: --limit must be 1..1000000\n");
            return 2;
        }
        json_object_object_add(req, "limit", json_object_new_int64(v));
    }
    if (dry)
        json_object_object_add(req, "dry_run", json_object_new_boolean(1));
    return 0;
}

int
main(int argc, char **argv)
{
    const char *sock = getenv("SMSGWCTL_SOCKET") ? getenv("SMSGWCTL_SOCKET") : DEFAULT_SOCKET;
    const char *tcp = NULL;
    bool as_json = false;
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "tcp", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    /* "+": options end at the command (hash-secret has its own). */
    while ((opt = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 's': sock = optarg; break;
        case 't': tcp = optarg; break;
        case 'j': as_json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    /* --json may also follow the command. */
    int nargs = 0;
    const char *arg = NULL;
    for (int i = optind + 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = true;
        else if (nargs++ == 0)
            arg = argv[i];
    }
    if (strcmp(cmd, "hash-secret") == 0)
        return hash_secret(argc - optind, argv + optind, as_json);
    static const char *const with_arg[] = { "queue", "pause", "resume", "rebind", "message",
                                            "optout", "requeue", NULL };
    static const char *const no_arg[] = { "status", "binds", "routes", "reload", NULL };
    bool known = false, wants = false;
    for (size_t i = 0; with_arg[i]; i++)
        if (strcmp(cmd, with_arg[i]) == 0)
            known = wants = true;
    for (size_t i = 0; no_arg[i]; i++)
        if (strcmp(cmd, no_arg[i]) == 0)
            known = true;
    if (!known) {
        fprintf(stderr, "smsgwctl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    json_object *req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string(cmd));
    if (strcmp(cmd, "requeue") == 0) {
        int rc = requeue_args(argc - optind - 1, argv + optind + 1, req);
        if (rc != 0) {
            json_object_put(req);
            return rc;
        }
        arg = NULL;     /* in req already */
    } else if (wants != (nargs == 1)) {
        fprintf(stderr, "smsgwctl: %s %s\n", cmd, wants ? "needs one argument" : "takes no argument");
        json_object_put(req);
        return 2;
    }

    int fd = tcp ? connect_tcp(tcp) : connect_unix(sock);
    if (fd < 0) {
        fprintf(stderr, "smsgwctl: cannot connect to %s: %s%s\n", tcp ? tcp : sock,
                strerror(errno), !tcp && errno == EACCES
                ? " (the socket is mode 0600: run as smsgwd's user or root)" : "");
        json_object_put(req);
        return 3;
    }
    if (arg)
        json_object_object_add(req, "arg", json_object_new_string(arg));
    if (tcp && getenv("SMSGWCTL_TOKEN"))
        json_object_object_add(req, "token", json_object_new_string(getenv("SMSGWCTL_TOKEN")));
    const char *line = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(line);
    bool wrote = write(fd, line, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    json_object_put(req);
    char *resp = wrote ? read_line(fd) : NULL;
    close(fd);
    if (!resp) {
        fprintf(stderr, "smsgwctl: no answer from smsgwd\n");
        return 3;
    }
    json_object *o = json_tokener_parse(resp);
    if (!o) {
        fprintf(stderr, "smsgwctl: unreadable answer: %s", resp);
        free(resp);
        return 3;
    }
    json_object *okv;
    bool ok = json_object_object_get_ex(o, "ok", &okv) && json_object_get_boolean(okv);
    if (ok && strcmp(cmd, "message") == 0 && strcmp(js(o, "found"), "true") != 0) {
        if (as_json)
            fputs(resp, stdout);
        else
            fprintf(stderr, "smsgwctl: no message %s\n", arg);
        json_object_put(o);
        free(resp);
        return 1;
    }
    if (as_json) {
        fputs(resp, stdout);
    } else if (ok) {
        print_human(cmd, o);
    } else {
        const char *err = js(o, "error");
        fprintf(stderr, "smsgwctl: %s%s", err, err[strlen(err) - (*err ? 1 : 0)] == '\n' ? "" : "\n");
    }
    json_object_put(o);
    free(resp);
    return ok ? 0 : 1;
}
