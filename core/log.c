#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

static enum log_level min_level = LOG_INFO;
static FILE *out;
static const char *prog;

/* log_buffer(): lines collect here and go out in one write. */
static char lbuf[64 * 1024];
static size_t llen;
static bool buffered;
static struct event *flush_ev;

static const char *const names[] = { "debug", "info", "warn", "error" };
static char trace[LOG_TRACE_MAX][48];
static size_t ntrace;
static void (*warn_hook)(void *, const char *, size_t);
static void *warn_hook_arg;

void
log_set_warn_hook(void (*fn)(void *arg, const char *line, size_t len), void *arg)
{
    warn_hook = fn;
    warn_hook_arg = arg;
}

void
log_set_level(enum log_level level)
{
    min_level = level;
}

enum log_level
log_get_level(void)
{
    return min_level;
}

void
log_set_trace(const char *const *events, size_t n)
{
    ntrace = 0;
    for (size_t i = 0; i < n && ntrace < LOG_TRACE_MAX; i++)
        snprintf(trace[ntrace++], sizeof(trace[0]), "%s", events[i]);
}

bool
log_traced(const char *event)
{
    for (size_t i = 0; i < ntrace; i++)
        if (strcmp(trace[i], event) == 0)
            return true;
    return false;
}

bool
log_level_parse(const char *s, enum log_level *lv)
{
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *lv = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool
log_open(const char *path)
{
    FILE *f = fopen(path, "a");

    if (!f)
        return false;
    setvbuf(f, NULL, _IOLBF, 0);
    if (out && out != stderr)
        fclose(out);
    out = f;
    return true;
}

void
log_set_prog(const char *name)
{
    prog = name;
}

/*
 * Warn and error lines of one event are limited to WARN_PER_S a second; the
 * rest of that second is counted and reported in one log_suppressed line
 * (a client flooding garbage wrote ~12,000 warn lines a second). Info lines
 * (every message's transitions) are never dropped.
 */
#define WARN_PER_S 50
#define WARN_EVENTS 64

struct warn_rate {
    const char *event;      /* the caller's string (a literal) */
    time_t second;
    unsigned n, suppressed;
};

static struct warn_rate rates[WARN_EVENTS];

static void emit(enum log_level level, const char *event, const char *fields, va_list ap);

static void
emit_fmt(enum log_level level, const char *event, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    emit(level, event, fields, ap);
    va_end(ap);
}

static void
report_suppressed(struct warn_rate *r)
{
    unsigned n = r->suppressed;

    if (!n)
        return;
    r->suppressed = 0;      /* first: emitting flushes, which reports again */
    emit_fmt(LOG_WARN, "log_suppressed", "suppressed_event=%s lines=%u", r->event, n);
}

/* Summaries of seconds that ended (all of them when force). */
static void
report_all_suppressed(bool force)
{
    time_t now = time(NULL);
    for (unsigned i = 0; i < WARN_EVENTS; i++)
        if (rates[i].event && (force || rates[i].second != now))
            report_suppressed(&rates[i]);
}

/* True when this line may go out. */
static bool
warn_allowed(const char *event, time_t now)
{
    struct warn_rate *r = NULL, *free_slot = NULL;

    for (unsigned i = 0; i < WARN_EVENTS; i++) {
        if (rates[i].event && strcmp(rates[i].event, event) == 0) {
            r = &rates[i];
            break;
        }
        if (!rates[i].event && !free_slot)
            free_slot = &rates[i];
    }
    if (!r) {
        if (!free_slot)
            return true;    /* table full: no limit for this one */
        r = free_slot;
        r->event = event;
        r->second = now;
    }
    if (r->second != now) {
        report_suppressed(r);
        r->second = now;
        r->n = 0;
    }
    if (r->n < WARN_PER_S) {
        r->n++;
        return true;
    }
    r->suppressed++;
    return false;
}

void
log_event(enum log_level level, const char *event, const char *fields, ...)
{
    va_list ap;

    if (level < min_level && !(ntrace && log_traced(event)))
        return;
    if (level >= LOG_WARN && !warn_allowed(event, time(NULL)))
        return;
    va_start(ap, fields);
    emit(level, event, fields, ap);
    va_end(ap);
}

static void
emit(enum log_level level, const char *event, const char *fields, va_list ap)
{
    char line[2048], ts[32];
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = (size_t)snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s%s%s event=%s",
                         ts, (long)(tv.tv_usec / 1000), names[level],
                         prog ? " prog=" : "", prog ? prog : "", event);
    if (fields && *fields && n < sizeof(line) - 2) {
        line[n++] = ' ';
        int k = vsnprintf(line + n, sizeof(line) - n, fields, ap);
        if (k > 0)
            n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (level >= LOG_WARN && warn_hook)
        warn_hook(warn_hook_arg, line, n - 1);
    if (!buffered || min_level == LOG_DEBUG) {
        if (llen)
            log_flush();
        fwrite(line, 1, n, out ? out : stderr);
        return;
    }
    if (llen + n > sizeof(lbuf))
        log_flush();
    memcpy(lbuf + llen, line, n);
    llen += n;
    if (level >= LOG_WARN)
        log_flush();
}

void
log_flush(void)
{
    report_all_suppressed(false);
    if (llen) {
        fwrite(lbuf, 1, llen, out ? out : stderr);
        llen = 0;
    }
    fflush(out ? out : stderr);
}

static void
log_flush_all(void)
{
    report_all_suppressed(true);
    log_flush();
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    log_flush();
}

void
log_buffer(struct event_base *base, unsigned ms)
{
    struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

    if (flush_ev)
        return;
    flush_ev = event_new(base, -1, EV_PERSIST, flush_cb, NULL);
    if (!flush_ev)
        return;
    event_add(flush_ev, &tv);
    if (!buffered)
        atexit(log_flush_all);
    buffered = true;
}

void
log_unbuffer(void)
{
    log_flush_all();
    if (flush_ev)
        event_free(flush_ev);
    flush_ev = NULL;
}

const char *
log_quote(const char *s, char *buf, unsigned size)
{
    unsigned o = 0;

    if (size < 3) {
        if (size)
            buf[0] = 0;
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s && o + 3 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            continue;
        if (c == '"' || c == '\\')
            buf[o++] = '\\';
        buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
}
