#include "core/smpp_bindguard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* One counted address ("a:" + ip) or system_id ("s:" + id). */
struct fails {
    char key[96];
    unsigned n;
    uint64_t start_ms;          /* the window's start; 0: free slot */
};

struct bindguard {
    uint8_t secret[32];
    uint8_t cache[BINDGUARD_CACHE][32];
    bool used[BINDGUARD_CACHE];
    unsigned next;              /* the ring's next slot */
    struct fails fails[BINDGUARD_TRACKED];
};

struct bindguard *
bindguard_new(void)
{
    struct bindguard *g = calloc(1, sizeof(*g));

    if (!g)
        abort();
    if (RAND_bytes(g->secret, sizeof(g->secret)) != 1)
        abort();
    return g;
}

void
bindguard_free(struct bindguard *g)
{
    if (!g)
        return;
    OPENSSL_cleanse(g, sizeof(*g));
    free(g);
}

static void
fkey(char *out, size_t size, char kind, const char *v)
{
    snprintf(out, size, "%c:%s", kind, v ? v : "");
}

static struct fails *
fails_find(struct bindguard *g, const char *key, uint64_t now)
{
    for (size_t i = 0; i < BINDGUARD_TRACKED; i++) {
        struct fails *f = &g->fails[i];
        if (f->start_ms && strcmp(f->key, key) == 0) {
            if (now - f->start_ms >= BINDGUARD_WINDOW_MS) {
                f->start_ms = 0;        /* the window is over */
                return NULL;
            }
            return f;
        }
    }
    return NULL;
}

static bool
over(struct bindguard *g, char kind, const char *v, uint64_t now)
{
    char k[96];
    fkey(k, sizeof(k), kind, v);
    struct fails *f = fails_find(g, k, now);
    return f && f->n >= BINDGUARD_MAX_FAILS;
}

static void
count(struct bindguard *g, char kind, const char *v, uint64_t now)
{
    char k[96];
    fkey(k, sizeof(k), kind, v);
    struct fails *f = fails_find(g, k, now);
    if (!f) {
        /* A free or expired slot, else the one whose window is oldest. */
        struct fails *oldest = &g->fails[0];
        for (size_t i = 0; i < BINDGUARD_TRACKED; i++) {
            struct fails *c = &g->fails[i];
            if (!c->start_ms || now - c->start_ms >= BINDGUARD_WINDOW_MS) {
                oldest = c;
                break;
            }
            if (c->start_ms < oldest->start_ms)
                oldest = c;
        }
        f = oldest;
        snprintf(f->key, sizeof(f->key), "%s", k);
        f->n = 0;
        f->start_ms = now ? now : 1;
    }
    f->n++;
}

const char *
bindguard_blocked(struct bindguard *g, const char *ip, const char *system_id, uint64_t now_ms)
{
    if (over(g, 'a', ip, now_ms))
        return "address";
    if (system_id && over(g, 's', system_id, now_ms))
        return "system_id";
    return NULL;
}

void
bindguard_failed(struct bindguard *g, const char *ip, const char *system_id, uint64_t now_ms)
{
    count(g, 'a', ip, now_ms);
    if (system_id)
        count(g, 's', system_id, now_ms);
}

static void
digest(const struct bindguard *g, const char *system_id, const char *password,
       const char *stored, uint8_t out[32])
{
    unsigned len = 32;
    /* Fields separated by NUL: no two triples give the same input. */
    size_t a = strlen(system_id) + 1, b = strlen(password) + 1, c = strlen(stored) + 1;
    uint8_t *buf = malloc(a + b + c);
    if (!buf)
        abort();
    memcpy(buf, system_id, a);
    memcpy(buf + a, password, b);
    memcpy(buf + a + b, stored, c);
    if (!HMAC(EVP_sha256(), g->secret, sizeof(g->secret), buf, a + b + c, out, &len))
        abort();
    OPENSSL_cleanse(buf, a + b + c);
    free(buf);
}

bool
bindguard_cached(struct bindguard *g, const char *system_id, const char *password,
                 const char *stored)
{
    uint8_t d[32];
    bool hit = false;

    if (!system_id || !password || !stored)
        return false;
    digest(g, system_id, password, stored, d);
    for (size_t i = 0; i < BINDGUARD_CACHE; i++)
        if (g->used[i] && CRYPTO_memcmp(g->cache[i], d, sizeof(d)) == 0)
            hit = true;
    OPENSSL_cleanse(d, sizeof(d));
    return hit;
}

void
bindguard_remember(struct bindguard *g, const char *system_id, const char *password,
                   const char *stored)
{
    if (!system_id || !password || !stored || bindguard_cached(g, system_id, password, stored))
        return;
    digest(g, system_id, password, stored, g->cache[g->next]);
    g->used[g->next] = true;
    g->next = (g->next + 1) % BINDGUARD_CACHE;
}
