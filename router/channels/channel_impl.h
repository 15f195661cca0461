/*
 * Inside the channel connectors: the shared engine (queue, concurrency,
 * pacing, timeouts, result delivery) in channel.c and the per-connector
 * hooks in email.c, ott.c, rcs.c. Not for use outside router/channels/.
 */
#ifndef ROUTER_CHANNELS_CHANNEL_IMPL_H
#define ROUTER_CHANNELS_CHANNEL_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "router/channels/channel.h"

#define CHAN_RESP_MAX  65536        /* a provider answer larger than this is an error */

struct chan_job {
    TAILQ_ENTRY(chan_job) link;
    struct chan *c;
    bool capability;                /* chan_capability(), not a send */
    struct chan_msg m;              /* deep copy: every string owned */
    chan_send_cb cb;
    chan_cap_cb capcb;
    void *arg;
    CURL *easy;                     /* while in flight */
    struct curl_slist *hdrs, *rcpt;
    char *req;                      /* request body (JSON, or the mail for SMTP) */
    size_t req_len, req_off;
    char *resp;                     /* response body, NUL-terminated */
    size_t resp_len;
    bool resp_overflow;
    char provider_id[256];          /* filled by prepare (email, RCS) or finish (OTT) */
    bool prepare_retryable;         /* prepare refused for now (no OAuth token yet) */
    uint64_t start_ms;
};

TAILQ_HEAD(chan_jobs, chan_job);

struct chan_ops {
    enum chan_type type;
    /* Is m complete for this connector? NULL if so, else the reason. */
    const char *(*check)(const struct chan *c, const struct chan_msg *m);
    /* Set URL, method, headers, body on j->easy (common options already
     * set). false: the job fails permanently with *err. */
    bool (*prepare)(struct chan *c, struct chan_job *j, const char **err);
    /* A send finished: fill out (msg_id and channel are set). */
    void (*finish)(struct chan *c, struct chan_job *j, CURLcode res, long code,
                   struct chan_result *out);
    /* A capability check finished: 1, 0, -1. */
    int (*finish_cap)(struct chan *c, struct chan_job *j, CURLcode res, long code);
    void (*free_impl)(void *impl);
};

struct chan {
    const struct chan_ops *ops;
    char *name;
    struct event_base *base;
    struct curlev *curl;
    struct chan_limits lim;
    struct router_pacer *pacer;     /* NULL: no mps limit */
    struct event kick_ev;           /* pump from the loop, never inside chan_send */
    struct event pace_ev;           /* wait for the next pacer slot */
    struct chan_jobs queue, inflight;
    unsigned long nqueued, ninflight;
    struct chan_stats st;
    void *impl;                     /* the connector's own config */
    bool closing;                   /* chan_free() called: refuse, start nothing */
    unsigned depth;                 /* user callbacks running now */
    bool free_pending;              /* chan_free() from a callback: free on the way out */
};

/* Build the common part; impl is owned (freed by ops->free_impl). */
struct chan *chan_base_new(const struct chan_ops *ops, const char *name,
                           struct event_base *base, struct curlev *curl,
                           const struct chan_limits *lim, void *impl);

/* Append p[0..n) to the NUL-terminated *buf of *len bytes; false (nothing
 * appended) if that would pass max. For curl write callbacks. */
bool chan_buf_add(char **buf, size_t *len, const char *p, size_t n, size_t max);

/* TLS options shared by the HTTP connectors and email. */
void chan_set_tls(CURL *e, const char *ca_file, bool verify);

/* Append a header or abort. */
struct curl_slist *chan_hdr(struct curl_slist *h, const char *line);

/* Copy helpers that never return NULL (NULL in, NULL out for chan_strdup). */
char *chan_strdup(const char *s);

/* Map a finished HTTP transfer that was not a success to a failure:
 * retryable for transport errors, 408, 429, 5xx. */
void chan_http_failure(struct chan_result *out, CURLcode res, long code);

#endif
