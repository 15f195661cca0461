#include "core/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* One resolver per event base (smsgwd has one base; tests make several). */
#define MAX_BASES 16
static struct {
    struct event_base *base;
    struct evdns_base *dns;
} reg[MAX_BASES];

struct evdns_base *
dns_get(struct event_base *base)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_BASES; i++) {
        if (reg[i].base == base)
            return reg[i].dns;
        if (!reg[i].base && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return NULL;
    struct evdns_base *dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!dns)
        return NULL;
    evdns_base_set_option(dns, "timeout:", "2");
    evdns_base_set_option(dns, "attempts:", "2");
    reg[free_slot].base = base;
    reg[free_slot].dns = dns;
    return dns;
}

void
dns_free(struct event_base *base)
{
    for (int i = 0; i < MAX_BASES; i++) {
        if (reg[i].base == base) {
            evdns_base_free(reg[i].dns, 0);
            reg[i].base = NULL;
            reg[i].dns = NULL;
        }
    }
}

bool
dns_is_literal(const char *host)
{
    unsigned char b[16];
    return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

const struct evutil_addrinfo *
dns_pick(const struct evutil_addrinfo *ai)
{
    for (const struct evutil_addrinfo *a = ai; a; a = a->ai_next)
        if (a->ai_family == AF_INET)
            return a;
    return ai;
}
