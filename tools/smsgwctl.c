/*
 * smsgwctl: talk to a running smsgwd over its admin socket.
 *
 *   smsgwctl [-s SOCKET | --tcp HOST:PORT] [--json] COMMAND [ARG]
 *   smsgwctl hash-secret [--iterations N] [SECRET]
 *
 * Commands: status, binds, routes, queue ROUTE, pause ROUTE, resume ROUTE,
 * rebind SMSC, message ID, requeue ID, optout NUMBER, reload. Over TCP the token comes
 * from SMSGWCTL_TOKEN (never from the command line, where ps shows it).
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
#include <sys/un.h>
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
    if (wants != (nargs == 1)) {
        fprintf(stderr, "smsgwctl: %s %s\n", cmd, wants ? "needs one argument" : "takes no argument");
        return 2;
    }

    int fd = tcp ? connect_tcp(tcp) : connect_unix(sock);
    if (fd < 0) {
        fprintf(stderr, "smsgwctl: cannot connect to %s: %s%s\n", tcp ? tcp : sock,
                strerror(errno), !tcp && errno == EACCES
                ? " (the socket is mode 0600: run as smsgwd's user or root)" : "");
        return 3;
    }
    json_object *req = json_object_new_object();
    json_object_object_add(req, "cmd", json_object_new_string(cmd));
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
