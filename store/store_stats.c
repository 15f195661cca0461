#include "store/store_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/store_msg.h"

static const uint64_t lat_bounds[STORE_STATS_LAT_NBOUNDS] = { STORE_STATS_LAT_BOUNDS };

static const char *const counter_names[STORE_STATS_NCOUNTERS] = {
    "submitted", "delivered", "undelivered", "expired", "rejected", "failed", "deleted",
    "unknown", "optouts",
};

const char *
store_stats_counter_name(enum store_stats_counter c)
{
    return (unsigned)c < STORE_STATS_NCOUNTERS ? counter_names[c] : "?";
}

unsigned
store_stats_lat_bucket(uint64_t ms)
{
    unsigned i = 0;

    while (i < STORE_STATS_LAT_NBOUNDS && ms >= lat_bounds[i])
        i++;
    return i;
}

void
store_stats_lat_range(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i > STORE_STATS_LAT_NBOUNDS)
        i = STORE_STATS_LAT_NBOUNDS;
    *lo = i == 0 ? 0 : lat_bounds[i - 1];
    *hi = i == STORE_STATS_LAT_NBOUNDS ? UINT64_MAX : lat_bounds[i];
}

bool
store_stats_quantile(const uint64_t hist[STORE_STATS_LAT_BUCKETS], double q, double *ms)
{
    uint64_t total = 0, cum = 0;

    for (unsigned i = 0; i < STORE_STATS_LAT_BUCKETS; i++)
        total += hist[i];
    if (total == 0)
        return false;
    uint64_t rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    if (rank > total)
        rank = total;
    for (unsigned i = 0; i < STORE_STATS_LAT_BUCKETS; i++) {
        if (hist[i] == 0 || cum + hist[i] < rank) {
            cum += hist[i];
            continue;
        }
        uint64_t lo, hi;
        store_stats_lat_range(i, &lo, &hi);
        if (hi == UINT64_MAX) {
            *ms = (double)lo;
        } else {
            /* the (rank - cum)-th of hist[i] values spread evenly over
             * [lo, hi), each at the middle of its share */
            *ms = (double)lo + (double)(hi - lo) * ((double)(rank - cum) - 0.5) /
                  (double)hist[i];
        }
        return true;
    }
    return false;       /* not reached: rank <= total */
}

uint64_t
store_stats_finals(const struct store_stats_agg *a)
{
    return a->c[STORE_STATS_DELIVERED] + a->c[STORE_STATS_UNDELIVERED] +
           a->c[STORE_STATS_EXPIRED] + a->c[STORE_STATS_REJECTED] + a->c[STORE_STATS_FAILED] +
           a->c[STORE_STATS_DELETED] + a->c[STORE_STATS_UNKNOWN];
}

/* ------------------------------------------------------------ reading */

/*
 * ARGV: prefix dim last nb1 nb2 ... Window w sums buckets last - nb_w + 1
 * .. last of the hash P stats:b:BUCKET:DIM. Answers one flat field/value
 * list per window.
 */
static struct store_script query_lua = { "stats_query",
    "local prefix, dim, last = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "local nw, maxn, sums = #ARGV - 3, 0, {}\n"
    "for w = 1, nw do\n"
    "  sums[w] = {}\n"
    "  maxn = math.max(maxn, tonumber(ARGV[3 + w]))\n"
    "end\n"
    "for i = 0, maxn - 1 do\n"
    "  local h = redis.call('HGETALL', prefix .. 'stats:b:' .. string.format('%d', last - i)\n"
    "    .. ':' .. dim)\n"
    "  if #h > 0 then\n"
    "    for w = 1, nw do\n"
    "      if i < tonumber(ARGV[3 + w]) then\n"
    "        local s = sums[w]\n"
    "        for j = 1, #h, 2 do s[h[j]] = (s[h[j]] or 0) + tonumber(h[j + 1]) end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "for w = 1, nw do\n"
    "  local flat = {}\n"
    "  for f, n in pairs(sums[w]) do\n"
    "    flat[#flat + 1] = f\n"
    "    flat[#flat + 1] = string.format('%d', n)\n"
    "  end\n"
    "  out[w] = flat\n"
    "end\n"
    "return out\n", "" };

struct query_ctx {
    store_stats_cb cb;
    void *arg;
    size_t n, pending;
    bool failed;
    struct store_stats_agg *rows;   /* n * STORE_STATS_NWIN */
    char **strs;                    /* reason codes, freed at the end */
    size_t nstrs, capstrs;
};

static struct query_ctx *
ctx_of(void *arg, size_t *index)
{
    /* arg is &slots[i]: each slot points back at its query */
    struct query_ctx **slot = arg;
    struct query_ctx *q = *slot;
    *index = (size_t)(slot - (struct query_ctx **)(q->rows + q->n * STORE_STATS_NWIN));
    return q;
}

static const char *
keep_str(struct query_ctx *q, const char *s, size_t len)
{
    if (q->nstrs == q->capstrs) {
        q->capstrs = q->capstrs ? q->capstrs * 2 : 16;
        q->strs = realloc(q->strs, q->capstrs * sizeof(*q->strs));
        if (!q->strs)
            abort();
    }
    char *c = malloc(len + 1);
    if (!c)
        abort();
    memcpy(c, s, len);
    c[len] = 0;
    q->strs[q->nstrs++] = c;
    return c;
}

static int
cmp_reason(const void *a, const void *b)
{
    const struct store_stats_reason *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->code, y->code);
}

static void
fill_agg(struct query_ctx *q, struct store_stats_agg *a, const redisReply *flat)
{
    if (flat->type != REDIS_REPLY_ARRAY)
        return;
    size_t nr = 0;
    for (size_t j = 0; j + 1 < flat->elements; j += 2)
        if (flat->element[j]->type == REDIS_REPLY_STRING && strncmp(flat->element[j]->str, "e:", 2) == 0)
            nr++;
    if (nr) {
        a->reasons = calloc(nr, sizeof(*a->reasons));
        if (!a->reasons)
            abort();
    }
    for (size_t j = 0; j + 1 < flat->elements; j += 2) {
        const redisReply *f = flat->element[j], *v = flat->element[j + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        uint64_t n = strtoull(v->str, NULL, 10);
        if (strncmp(f->str, "e:", 2) == 0) {
            a->reasons[a->nreasons].code = keep_str(q, f->str + 2, f->len - 2);
            a->reasons[a->nreasons++].n = n;
            continue;
        }
        if (f->str[0] == 'l' && f->str[1] >= '0' && f->str[1] <= '9') {
            unsigned long i = strtoul(f->str + 1, NULL, 10);
            if (i < STORE_STATS_LAT_BUCKETS)
                a->lat[i] += n;
            continue;
        }
        for (unsigned c = 0; c < STORE_STATS_NCOUNTERS; c++)
            if (strcmp(f->str, counter_names[c]) == 0)
                a->c[c] += n;
    }
    if (a->nreasons > 1)
        qsort(a->reasons, a->nreasons, sizeof(*a->reasons), cmp_reason);
}

static void
query_finish(struct query_ctx *q)
{
    q->cb(q->arg, q->failed ? -1 : 0, q->failed ? NULL : q->rows);
    for (size_t i = 0; i < q->n * STORE_STATS_NWIN; i++)
        free(q->rows[i].reasons);
    for (size_t i = 0; i < q->nstrs; i++)
        free(q->strs[i]);
    free(q->strs);
    free(q->rows);
    free(q);
}

static void
query_reply(struct store_redis *r, redisReply *reply, void *arg)
{
    size_t i;
    struct query_ctx *q = ctx_of(arg, &i);
    (void)r;

    if (store_reply_failed(reply) || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != STORE_STATS_NWIN) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            log_event(LOG_ERROR, "redis_error", "op=stats_query error=\"%s\"", reply->str);
        q->failed = true;
    } else {
        for (unsigned w = 0; w < STORE_STATS_NWIN; w++)
            fill_agg(q, &q->rows[i * STORE_STATS_NWIN + w], reply->element[w]);
    }
    if (--q->pending == 0)
        query_finish(q);
}

void
store_stats_query(struct store_redis *r, uint64_t now_ms, const struct store_stats_dim *dims,
                  size_t n, store_stats_cb cb, void *arg)
{
    /* rows, then one back-pointer slot per dimension value: a reply's arg
     * is its slot, which names both the query and the index. */
    size_t rows_sz = n * STORE_STATS_NWIN * sizeof(struct store_stats_agg);
    struct query_ctx *q = calloc(1, sizeof(*q));
    char last[24], hour[8], day[8], dim[160];

    if (!q)
        abort();
    q->rows = calloc(1, rows_sz + (n ? n : 1) * sizeof(struct query_ctx *));
    if (!q->rows)
        abort();
    q->cb = cb;
    q->arg = arg;
    q->n = n;
    q->pending = 1;     /* released below, after the loop */
    struct query_ctx **slots = (struct query_ctx **)(q->rows + n * STORE_STATS_NWIN);
    snprintf(last, sizeof(last), "%llu",
             (unsigned long long)((now_ms ? now_ms : store_now_ms()) / (STORE_STATS_BUCKET_S * 1000ull)));
    snprintf(hour, sizeof(hour), "%d", STORE_STATS_HOUR_BUCKETS);
    snprintf(day, sizeof(day), "%d", STORE_STATS_DAY_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        slots[i] = q;
        snprintf(dim, sizeof(dim), "%c:%s", dims[i].dim, dims[i].name);
        const char *argv[] = { store_redis_prefix(r), dim, last, hour, day };
        q->pending++;
        if (store_redis_eval(r, &query_lua, query_reply, &slots[i], 0, 5, argv, NULL) != 0) {
            q->pending--;
            q->failed = true;
            break;
        }
    }
    if (--q->pending == 0)
        query_finish(q);
}
