/*
 * bench/store_cost.c — what a message's life costs Redis, step by step,
 * without HTTP or SMPP in the way: the same store/ calls smsgwd makes
 * (accept, queue read, part submitted + job submitted, receipt), driven as
 * fast as Redis answers, N messages per step, against a real redis-server.
 *
 * For each step it prints the Redis CPU time per message (INFO cpu of the
 * server: user + sys, main thread and children, so an AOF rewrite counts),
 * this process's CPU per message (getrusage), the wall time, and the
 * commands Redis ran per message (INFO commandstats deltas).
 *
 *   build/bench/store_cost PORT [N]        (bench/store_cost.sh runs it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "core/log.h"
#include "store/store_msg.h"
#include "store/store_redis.h"

#define INFLIGHT 512

static struct event_base *base;
static struct store_redis *r;
static redisContext *sync_c;
static unsigned total, started, finished;
static struct store_job *jobs;
static unsigned njobs;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double
info_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    return p ? atof(p + strlen(name) + 1) : 0;
}

static double
redis_cpu(void)
{
    redisReply *rep = redisCommand(sync_c, "INFO cpu");
    double v = info_field(rep->str, "used_cpu_user") + info_field(rep->str, "used_cpu_sys") +
               info_field(rep->str, "used_cpu_user_children") +
               info_field(rep->str, "used_cpu_sys_children");
    freeReplyObject(rep);
    return v;
}

/* Commands run since the last call: "name calls ..." */
static char *
cmdstats(void)
{
    redisReply *rep = redisCommand(sync_c, "INFO commandstats");
    char *s = strdup(rep->str);
    freeReplyObject(rep);
    freeReplyObject(redisCommand(sync_c, "CONFIG RESETSTAT"));
    return s;
}

static void
print_cmds(const char *stats, unsigned n)
{
    const char *p = stats;
    double sum = 0;

    printf("    commands per message:");
    while ((p = strstr(p, "cmdstat_")) != NULL) {
        char name[64];
        unsigned long calls = 0;
        if (sscanf(p, "cmdstat_%63[^:]:calls=%lu", name, &calls) == 2 &&
            strcmp(name, "config|resetstat") != 0 && strcmp(name, "info") != 0) {
            printf(" %s=%.2f", name, (double)calls / n);
            sum += (double)calls / n;
        }
        p += 8;
    }
    printf(" (all %.2f)\n", sum);
}

struct step {
    const char *name;
    double t0, c0, r0;
};

static void
step_start(struct step *s, const char *name)
{
    free(cmdstats());
    s->name = name;
    s->r0 = redis_cpu();
    s->c0 = self_cpu();
    s->t0 = now_s();
}

static void
step_end(struct step *s, unsigned n)
{
    double t = now_s() - s->t0, c = self_cpu() - s->c0, rc = redis_cpu() - s->r0;
    char *st = cmdstats();
    printf("%-10s %8u msgs  %8.0f /s  redis %6.1f us/msg  client %6.1f us/msg\n", s->name, n,
           n / t, rc * 1e6 / n, c * 1e6 / n);
    print_cmds(st, n);
    free(st);
    fflush(stdout);
}

/* ------------------------------------------------------------- accept */

static void accept_more(void);

static void
accepted(void *arg, int rc, const char *id)
{
    (void)arg;
    (void)id;
    if (rc != 0) {
        fprintf(stderr, "accept failed: rc %d\n", rc);
        exit(1);
    }
    finished++;
    accept_more();
}

static void
accept_more(void)
{
    static const char text[] = "Your verification code is 123456. It expires in 10 minutes.";
    while (started < total && started - finished < INFLIGHT) {
        char to[24];
        snprintf(to, sizeof(to), "1415%07u", started);
        struct store_msg_new m = {
            .account = "bench", .from = "12345", .ton = 3, .npi = 0, .to = to, .text = text,
            .text_len = sizeof(text) - 1, .encoding = "gsm7", .segments = 1, .route = "bench",
            .msg_class = "transactional", .validity_s = 86400,
        };
        started++;
        store_msg_accept(r, &m, accepted, NULL);
    }
    if (finished == total)
        event_base_loopbreak(base);
}

/* --------------------------------------------------------------- read */

static bool reading;

static void
read_cb(void *arg, int n, struct store_job *got)
{
    (void)arg;
    reading = false;
    if (n < 0) {
        fprintf(stderr, "read failed\n");
        exit(1);
    }
    memcpy(jobs + njobs, got, (size_t)n * sizeof(*got));
    njobs += (unsigned)n;
    if (n == 0 || njobs >= total) {
        event_base_loopbreak(base);
        return;
    }
    reading = true;
    store_queue_read(r, "bench", "c1", 256, NULL, read_cb, NULL);
}

/* ---------------------------------------------------------- submitted */

static void submit_more(void);

static void
submitted(void *arg, int rc)
{
    (void)arg;
    if (rc != 0) {
        fprintf(stderr, "submitted failed\n");
        exit(1);
    }
    finished++;
    submit_more();
}

static void
submit_more(void)
{
    while (started < njobs && started - finished < INFLIGHT) {
        char sid[32], raw[32];
        snprintf(raw, sizeof(raw), "%08X", started + 1);
        snprintf(sid, sizeof(sid), "%08x", started + 1);
        store_part_submitted(r, "sim", sid, raw, &jobs[started], 0, 86400);
        store_job_submitted(r, "bench", &jobs[started], "sim", jobs[started].deadline_ms + 3600000,
                            submitted, NULL);
        started++;
    }
    if (finished == njobs)
        event_base_loopbreak(base);
}

/* ------------------------------------------------------------ receipt */

static void receipt_more(void);

static void
receipted(void *arg, int rc, const struct store_receipt_info *info)
{
    (void)arg;
    (void)info;
    if (rc != 1) {
        fprintf(stderr, "receipt not matched: rc %d\n", rc);
        exit(1);
    }
    finished++;
    receipt_more();
}

static void
receipt_more(void)
{
    while (started < njobs && started - finished < INFLIGHT) {
        char sid[32];
        snprintf(sid, sizeof(sid), "%08x", started + 1);
        store_receipt(r, "sim", sid, "DELIVRD", "000", receipted, NULL);
        started++;
    }
    if (finished == njobs)
        event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [N]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    total = argc > 2 ? (unsigned)atoi(argv[2]) : 200000;
    log_set_level(LOG_WARN);
    base = event_base_new();
    struct cfg_redis cfg = { .host = (char *)"127.0.0.1", .port = port,
                             .prefix = (char *)"smsgw:", .timeout_ms = 10000 };
    r = store_redis_new(base, &cfg, "bench");
    sync_c = redisConnect("127.0.0.1", port);
    if (!sync_c || sync_c->err) {
        fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port);
        return 1;
    }
    while (!store_redis_ready(r)) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    store_queue_init(r, "bench");
    jobs = calloc(total, sizeof(*jobs));
    if (!jobs)
        abort();

    struct step s;
    step_start(&s, "accept");
    started = finished = 0;
    accept_more();
    event_base_dispatch(base);
    step_end(&s, total);

    step_start(&s, "read");
    reading = true;
    store_queue_read(r, "bench", "c1", 256, NULL, read_cb, NULL);
    event_base_dispatch(base);
    step_end(&s, njobs);

    step_start(&s, "submitted");
    started = finished = 0;
    submit_more();
    event_base_dispatch(base);
    step_end(&s, njobs);

    step_start(&s, "receipt");
    started = finished = 0;
    receipt_more();
    event_base_dispatch(base);
    step_end(&s, njobs);

    redisReply *rep = redisCommand(sync_c, "INFO memory");
    printf("redis used_memory per message: %.0f B\n",
           info_field(rep->str, "used_memory") / total);
    freeReplyObject(rep);
    free(jobs);
    store_redis_free(r);
    redisFree(sync_c);
    event_base_free(base);
    return 0;
}
