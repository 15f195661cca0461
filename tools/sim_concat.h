/*
 * smsc-sim: counting concatenated messages as their parts arrive.
 *
 * A part is known by (account, source, destination, reference, total),
 * whether the reference came from a UDH (IEI 0x00 or 0x08) or from the SAR
 * TLVs. A group is complete when every sequence number 1..total has been
 * seen; then it counts once in `complete` and its slot is reused.
 *
 * Memory is bounded: groups live in an array allocated once, found through
 * a chained hash, and kept on an age list. Incomplete groups older than
 * the timeout are expired by concat_expire(); when every slot is taken the
 * oldest group is expired to make room. Both count in `expired`.
 *
 * Included by tools/smsc-sim.c only; everything is static.
 */
#ifndef SIM_CONCAT_H
#define SIM_CONCAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim_util.h"

#define CONCAT_ADDR 21

struct concat_group {
    uint32_t hnext;             /* hash chain, or free list */
    uint32_t aprev, anext;      /* age list, oldest first */
    uint32_t hash;
    uint32_t first_s;           /* when its first part arrived (monotonic s) */
    uint16_t acct;
    uint16_t ref;
    uint8_t total, got;
    bool used;
    char src[CONCAT_ADDR], dst[CONCAT_ADDR];
    uint8_t seen[32];           /* bit seq-1 for seq 1..255 */
};

struct concat {
    struct concat_group *g;
    uint32_t cap;
    uint32_t *bucket;
    uint32_t bmask;
    uint32_t free_head, age_head, age_tail;
    uint32_t open;              /* groups in use */
    uint32_t timeout_s;
    uint64_t parts, complete, expired, duplicates;
};

/* Allocates cap groups once (calloc: pages are touched only when used). */
static void
concat_init(struct concat *c, uint32_t cap, uint32_t timeout_s)
{
    uint32_t nb = 16;

    memset(c, 0, sizeof(*c));
    while (nb < cap * 2u && nb < (1u << 30))
        nb <<= 1;
    c->g = calloc(cap, sizeof(*c->g));
    c->bucket = malloc(nb * sizeof(*c->bucket));
    if (!c->g || !c->bucket)
        abort();
    memset(c->bucket, 0xff, nb * sizeof(*c->bucket));
    c->cap = cap;
    c->bmask = nb - 1;
    c->timeout_s = timeout_s;
    for (uint32_t i = 0; i < cap; i++)
        c->g[i].hnext = i + 1 < cap ? i + 1 : SIM_NIL;
    c->free_head = cap ? 0 : SIM_NIL;
    c->age_head = c->age_tail = SIM_NIL;
}

static void
concat_free(struct concat *c)
{
    free(c->g);
    free(c->bucket);
    memset(c, 0, sizeof(*c));
}

static uint32_t
concat_hash(uint16_t acct, uint16_t ref, uint8_t total, const char *src, const char *dst)
{
    uint32_t h = 2166136261u;   /* FNV-1a */

    h = (h ^ acct) * 16777619u;
    h = (h ^ ref) * 16777619u;
    h = (h ^ total) * 16777619u;
    for (; *src; src++)
        h = (h ^ (uint8_t)*src) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (; *dst; dst++)
        h = (h ^ (uint8_t)*dst) * 16777619u;
    return h;
}

/* Take group i off its hash chain and the age list, back to the free list. */
static void
concat_release(struct concat *c, uint32_t i)
{
    struct concat_group *g = &c->g[i];
    uint32_t *pp = &c->bucket[g->hash & c->bmask];

    while (*pp != i)
        pp = &c->g[*pp].hnext;
    *pp = g->hnext;
    if (g->aprev != SIM_NIL)
        c->g[g->aprev].anext = g->anext;
    else
        c->age_head = g->anext;
    if (g->anext != SIM_NIL)
        c->g[g->anext].aprev = g->aprev;
    else
        c->age_tail = g->aprev;
    g->used = false;
    g->hnext = c->free_head;
    c->free_head = i;
    c->open--;
}

/* Expire incomplete groups whose first part is older than the timeout. */
static void
concat_expire(struct concat *c, uint32_t now_s)
{
    while (c->age_head != SIM_NIL && now_s - c->g[c->age_head].first_s >= c->timeout_s) {
        concat_release(c, c->age_head);
        c->expired++;
    }
}

/* One part arrived. src and dst are NUL-terminated (cut to 20 characters). */
static void
concat_part(struct concat *c, uint16_t acct, const char *src, const char *dst, uint16_t ref,
            uint8_t total, uint8_t seq, uint32_t now_s)
{
    uint32_t h, i;
    struct concat_group *g;

    if (!c->cap || total == 0 || seq == 0 || seq > total)
        return;
    c->parts++;
    if (total == 1) {
        c->complete++;
        return;
    }
    h = concat_hash(acct, ref, total, src, dst);
    for (i = c->bucket[h & c->bmask]; i != SIM_NIL; i = c->g[i].hnext) {
        g = &c->g[i];
        if (g->hash == h && g->acct == acct && g->ref == ref && g->total == total &&
            strcmp(g->src, src) == 0 && strcmp(g->dst, dst) == 0)
            break;
    }
    if (i == SIM_NIL) {
        if (c->free_head == SIM_NIL) {
            concat_release(c, c->age_head);
            c->expired++;
        }
        i = c->free_head;
        g = &c->g[i];
        c->free_head = g->hnext;
        memset(g->seen, 0, sizeof(g->seen));
        g->hash = h;
        g->acct = acct;
        g->ref = ref;
        g->total = total;
        g->got = 0;
        g->first_s = now_s;
        g->used = true;
        snprintf(g->src, sizeof(g->src), "%s", src);
        snprintf(g->dst, sizeof(g->dst), "%s", dst);
        g->hnext = c->bucket[h & c->bmask];
        c->bucket[h & c->bmask] = i;
        g->anext = SIM_NIL;
        g->aprev = c->age_tail;
        if (c->age_tail != SIM_NIL)
            c->g[c->age_tail].anext = i;
        else
            c->age_head = i;
        c->age_tail = i;
        c->open++;
    }
    g = &c->g[i];
    unsigned bit = seq - 1u;
    if (g->seen[bit >> 3] & (1u << (bit & 7))) {
        c->duplicates++;
        return;
    }
    g->seen[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    if (++g->got == g->total) {
        c->complete++;
        concat_release(c, i);
    }
}

#endif
