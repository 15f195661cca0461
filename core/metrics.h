/*
 * Metrics: counters, gauges and histograms, rendered in the Prometheus text
 * exposition format 0.0.4 (GET /metrics, core/status).
 *
 * Like core/log, the registry is process-wide: every module counts into it
 * where the event happens (a resp, a receipt, a Redis reply) without a
 * pointer threaded through every callback. It is touched on the event-loop
 * thread only. Every family is declared once, with its type and help text,
 * in the table in metrics.c; asking for an undeclared name aborts.
 *
 * Ownership: series are created on first use and live until exit
 * (metrics_free), so hot paths may keep the pointer metrics_counter() or
 * metrics_histo() returns. Gauges are recomputed at every scrape:
 * metrics_gauges_clear() drops them all first (so a removed route's gauges
 * disappear); never keep a pointer to a gauge.
 */
#ifndef CORE_METRICS_H
#define CORE_METRICS_H

#include <stddef.h>
#include <stdio.h>

#define METRICS_BUCKETS 14

struct metrics_histo {
    unsigned long long counts[METRICS_BUCKETS];     /* per bucket, not cumulative */
    unsigned long long count;
    double sum;
};

/* labels: the text between the braces, e.g. `route="default"` ("" for none),
 * made with metrics_labels(). */
double *metrics_counter(const char *name, const char *labels);
void metrics_inc(const char *name, const char *labels);
/* A counter kept elsewhere (e.g. a client's reconnects): set its value. */
void metrics_counter_set(const char *name, const char *labels, double v);
void metrics_gauge_set(const char *name, const char *labels, double v);
void metrics_gauges_clear(void);
struct metrics_histo *metrics_histo(const char *name, const char *labels);
void metrics_observe(struct metrics_histo *h, double seconds);

/* A message state transition seen by this instance (smsgw_messages_total). */
void metrics_msg_state(const char *state);

/* `k1="v1"` or `k1="v1",k2="v2"` (k2 NULL: one label), values escaped. */
const char *metrics_labels(char *buf, size_t size, const char *k1, const char *v1,
                           const char *k2, const char *v2);

/* Every family with its HELP and TYPE lines and its series. */
void metrics_render(FILE *out);
/* Value of one series (tests, status page); 0 when absent. */
double metrics_value(const char *name, const char *labels);
void metrics_free(void);

#endif
