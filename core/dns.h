/*
 * Host names resolved without blocking the event loop. glibc's
 * getaddrinfo() (and hiredis 0.14's connect, which calls it) waits for the
 * DNS server in the caller: with a slow or unreachable server every
 * reconnect to an SMSC or to Redis would stop the daemon for seconds
 * (binds, enquire_links, pacing, the API). These go through libevent's
 * evdns instead: /etc/hosts first, then the servers of /etc/resolv.conf,
 * 2 s a try, 2 tries.
 */
#ifndef CORE_DNS_H
#define CORE_DNS_H

#include <stdbool.h>

#include <event2/dns.h>
#include <event2/util.h>

/*
 * The resolver of base, created on first use (NULL if it cannot be): one
 * per event base, shared, and kept until dns_free(base), because a
 * cancelled lookup's callback still runs from the loop later and needs it.
 * It does not keep the loop alive while idle. Owners cancel their pending
 * lookups (evdns_getaddrinfo_cancel: the callback then gets
 * EVUTIL_EAI_CANCEL and must touch nothing) and never free the resolver.
 */
struct evdns_base *dns_get(struct event_base *base);
/* Free base's resolver, once the loop no longer runs (before
 * event_base_free; run the loop once first so cancelled lookups finish). */
void dns_free(struct event_base *base);

/* True for an IPv4 or IPv6 address literal (nothing to resolve). */
bool dns_is_literal(const char *host);

/*
 * Of the addresses a name resolved to, the one to connect to: the first
 * IPv4 one, else the first. "localhost" and many names resolve to IPv6
 * too, servers often listen on IPv4 only (Redis binds 127.0.0.1 by
 * default), and a connect is not retried on the next address.
 */
const struct evutil_addrinfo *dns_pick(const struct evutil_addrinfo *ai);

#endif
