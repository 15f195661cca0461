/*
 * Logging: one line per event, logfmt (`ts= level= event= key=value ...`),
 * to stderr unless log_open() names a file. Every module logs through this,
 * with the session or message id on every line.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "debug", "info", "warn", "error"; false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);
/* Log to path (appending) instead of stderr; false on error (errno set). */
bool log_open(const char *path);
/* Tag every line with prog=NAME (e.g. "smsc-sim"). */
void log_set_prog(const char *name);

/*
 * log_event(LOG_INFO, "bind", "session=%u system_id=%s", id, sid);
 * fields is a printf format producing further key=value pairs; values with
 * spaces must be quoted by the caller (log_quote helps).
 */
void log_event(enum log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Write lines in blocks instead of one write(2) each (at thousands of
 * messages a second, the daemon's per-line writes were ~6% of its CPU):
 * a timer on base flushes every ms milliseconds, warn and error lines are
 * flushed at once, and so is everything at exit. A kill -9 loses at most
 * the last ms milliseconds of info lines. At level debug every line is
 * written at once (debugging wants the line before the effect).
 * log_unbuffer() flushes and drops
 * the timer (before the event base goes); lines are still buffered after
 * it and flushed by log_flush() or at exit.
 */
struct event_base;
void log_buffer(struct event_base *base, unsigned ms);
void log_unbuffer(void);
void log_flush(void);

/* Quote s for a logfmt value into buf (escapes " and \, drops controls). */
const char *log_quote(const char *s, char *buf, unsigned size);

/* fn(arg, line, len) for every warn and error line written (without its
 * newline): core/status keeps the last few for GET /status. NULL: none. */
void log_set_warn_hook(void (*fn)(void *arg, const char *line, size_t len), void *arg);

#define log_enabled(level) ((level) >= log_get_level())

/*
 * Trace: debug lines of these events only (config `log_trace`), written
 * like info lines (block-buffered), whatever the level. For a look at one
 * kind of event at full traffic, where level debug would write every debug
 * line of every module, each with its own write(2) (about five lines per
 * message at 10,000 submits a second). At most LOG_TRACE_MAX names; the
 * list is copied. n = 0 clears it.
 */
#define LOG_TRACE_MAX 16
void log_set_trace(const char *const *events, size_t n);
bool log_traced(const char *event);
/* Would log_event(level, event, ...) write a line? For guarding costly
 * field formatting. */
#define log_on(level, event) (log_enabled(level) || log_traced(event))

#endif
