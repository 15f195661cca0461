#include "core/metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM };

struct series {
    struct series *next;
    char *labels;
    double value;
    struct metrics_histo h;
};

struct family {
    const char *name;
    enum mtype type;
    const char *help;
    struct series *head, *tail;     /* in creation order: stable output */
};

/* Every metric smsgwd exports (docs/operations.md lists them too). */
static struct family families[] = {
    { "smsgw_smsc_session_up", M_GAUGE,
      "1 when the SMSC bind slot has a bound session, else 0", NULL, NULL },
    { "smsgw_smsc_session_state", M_GAUGE,
      "1 for the bind slot's current session state (open, binding, bound_tx, bound_rx, "
      "bound_trx, unbinding, closed, disconnected)", NULL, NULL },
    { "smsgw_smsc_reconnects_total", M_COUNTER,
      "Connection attempts after the first, per bind slot", NULL, NULL },
    { "smsgw_smsc_outstanding", M_GAUGE,
      "Requests awaiting their resp on the bind slot's session", NULL, NULL },
    { "smsgw_submit_resp_total", M_COUNTER,
      "submit_sm outcomes per SMSC: ok, throttled, temporary, permanent, timeout, conn_lost",
      NULL, NULL },
    { "smsgw_submit_resp_seconds", M_HISTOGRAM,
      "Time from submit_sm written to its resp, per SMSC", NULL, NULL },
    { "smsgw_smsc_suspended", M_GAUGE,
      "1 while the SMSC is out of route selection for its error rate (suspended or probing), "
      "else 0", NULL, NULL },
    { "smsgw_smsc_error_rate", M_GAUGE,
      "Share of errors among the SMSC's submit outcomes in its error_rate window", NULL, NULL },
    { "smsgw_smsc_suspensions_total", M_COUNTER,
      "Times the SMSC was taken out of route selection for its error rate", NULL, NULL },
    { "smsgw_route_submitted_total", M_COUNTER,
      "submit_sm PDUs sent on the route (one per segment)", NULL, NULL },
    { "smsgw_route_throttled_total", M_COUNTER,
      "ESME_RTHROTTLED and ESME_RMSGQFUL resps on the route", NULL, NULL },
    { "smsgw_route_queue_depth", M_GAUGE,
      "Entries in the route's Redis stream (XLEN, at most ~1 s old)", NULL, NULL },
    { "smsgw_route_oldest_queued_seconds", M_GAUGE,
      "Age of the oldest entry in the route's Redis stream (0 when empty)", NULL, NULL },
    { "smsgw_route_in_memory", M_GAUGE,
      "Jobs read from the route's queue by this instance and not yet finished", NULL, NULL },
    { "smsgw_route_mps_limit", M_GAUGE, "The route's configured mps", NULL, NULL },
    { "smsgw_route_paused", M_GAUGE, "1 while the route is paused (smsgwctl pause)", NULL, NULL },
    { "smsgw_messages_total", M_COUNTER,
      "Message state transitions seen by this instance, by new state", NULL, NULL },
    { "smsgw_receipts_total", M_COUNTER,
      "Delivery receipts from SMSCs: matched, unmatched, unreadable, deferred", NULL, NULL },
    { "smsgw_channel_events_total", M_COUNTER,
      "Fallback channel provider webhook events: matched, unknown, error, bad_signature, "
      "malformed", NULL, NULL },
    { "smsgw_client_binds", M_GAUGE, "SMPP client binds per account", NULL, NULL },
    { "smsgw_redis_commands_total", M_COUNTER, "Redis commands sent, per connection", NULL, NULL },
    { "smsgw_oauth_tokens_total", M_COUNTER,
      "OAuth access tokens obtained from a service-account key (RCS)", NULL, NULL },
    { "smsgw_oauth_failures_total", M_COUNTER,
      "Token requests that failed (the token in hand is used until it expires)", NULL, NULL },
    { "smsgw_redis_failures_total", M_COUNTER,
      "Redis commands without a reply (connection lost or watchdog timeout)", NULL, NULL },
    { "smsgw_redis_errors_total", M_COUNTER,
      "Redis error replies (not counting the expected NOSCRIPT and BUSYGROUP)", NULL, NULL },
    { "smsgw_redis_seconds", M_HISTOGRAM, "Redis round trip per command", NULL, NULL },
    { "smsgw_redis_up", M_GAUGE, "1 when the Redis connection is ready", NULL, NULL },
    { "smsgw_config_reloads_total", M_COUNTER, "Configuration reloads, by result", NULL, NULL },
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bounds[METRICS_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

static struct family *
family(const char *name)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    fprintf(stderr, "metrics: undeclared metric %s\n", name);
    abort();
}

static struct series *
series(const char *name, const char *labels, enum mtype want)
{
    struct family *f = family(name);

    if (f->type != want) {
        fprintf(stderr, "metrics: %s used with the wrong type\n", name);
        abort();
    }
    for (struct series *s = f->head; s; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            return s;
    struct series *s = calloc(1, sizeof(*s));
    if (!s || !(s->labels = strdup(labels)))
        abort();
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    return s;
}

double *
metrics_counter(const char *name, const char *labels)
{
    return &series(name, labels, M_COUNTER)->value;
}

void
metrics_inc(const char *name, const char *labels)
{
    series(name, labels, M_COUNTER)->value += 1;
}

void
metrics_counter_set(const char *name, const char *labels, double v)
{
    series(name, labels, M_COUNTER)->value = v;
}

void
metrics_gauge_set(const char *name, const char *labels, double v)
{
    series(name, labels, M_GAUGE)->value = v;
}

static void
drop_series(struct family *f)
{
    for (struct series *s = f->head, *next; s; s = next) {
        next = s->next;
        free(s->labels);
        free(s);
    }
    f->head = f->tail = NULL;
}

void
metrics_gauges_clear(void)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        if (families[i].type == M_GAUGE)
            drop_series(&families[i]);
}

struct metrics_histo *
metrics_histo(const char *name, const char *labels)
{
    return &series(name, labels, M_HISTOGRAM)->h;
}

void
metrics_observe(struct metrics_histo *h, double seconds)
{
    unsigned b = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > bounds[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum += seconds;
}

void
metrics_msg_state(const char *state)
{
    char l[96];
    metrics_inc("smsgw_messages_total", metrics_labels(l, sizeof(l), "state", state, NULL, NULL));
}

static size_t
escape(char *out, size_t size, const char *v)
{
    size_t n = 0;
    for (; v && *v && n + 3 < size; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
            out[n++] = *v;
        } else if (*v == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *v;
        }
    }
    out[n] = 0;
    return n;
}

const char *
metrics_labels(char *buf, size_t size, const char *k1, const char *v1, const char *k2,
               const char *v2)
{
    char e1[256], e2[256];
    int n;
    escape(e1, sizeof(e1), v1);
    if (k2) {
        escape(e2, sizeof(e2), v2);
        n = snprintf(buf, size, "%s=\"%s\",%s=\"%s\"", k1, e1, k2, e2);
    } else {
        n = snprintf(buf, size, "%s=\"%s\"", k1, e1);
    }
    if (n < 0 || (size_t)n >= size)
        buf[0] = 0;     /* names are bounded by the config (64): cannot happen */
    return buf;
}

/* Prometheus wants +Inf, NaN spelled so, and integers are easier to read
 * without an exponent. */
static void
number(FILE *out, double v)
{
    if (v < 9e15 && v > -9e15 && v == (double)(long long)v)
        fprintf(out, "%lld", (long long)v);
    else
        fprintf(out, "%.9g", v);
}

void
metrics_render(FILE *out)
{
    static const char *const tnames[] = { "counter", "gauge", "histogram" };

    for (size_t i = 0; i < NFAMILIES; i++) {
        const struct family *f = &families[i];
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, tnames[f->type]);
        for (const struct series *s = f->head; s; s = s->next) {
            if (f->type != M_HISTOGRAM) {
                fprintf(out, "%s%s%s%s ", f->name, *s->labels ? "{" : "", s->labels,
                        *s->labels ? "}" : "");
                number(out, s->value);
                fputc('\n', out);
                continue;
            }
            const char *sep = *s->labels ? "," : "";
            unsigned long long cum = 0;
            for (unsigned b = 0; b < METRICS_BUCKETS; b++) {
                cum += s->h.counts[b];
                if (b < METRICS_BUCKETS - 1)
                    fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, s->labels, sep,
                            bounds[b], cum);
                else
                    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep,
                            cum);
            }
            fprintf(out, "%s_sum%s%s%s %.9g\n", f->name, *s->labels ? "{" : "", s->labels,
                    *s->labels ? "}" : "", s->h.sum);
            fprintf(out, "%s_count%s%s%s %llu\n", f->name, *s->labels ? "{" : "", s->labels,
                    *s->labels ? "}" : "", s->h.count);
        }
    }
}

double
metrics_value(const char *name, const char *labels)
{
    const struct family *f = family(name);
    for (const struct series *s = f->head; s; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            return f->type == M_HISTOGRAM ? (double)s->h.count : s->value;
    return 0;
}

void
metrics_free(void)
{
    for (size_t i = 0; i < NFAMILIES; i++)
        drop_series(&families[i]);
}
