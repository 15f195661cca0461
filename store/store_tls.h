/*
 * TLS to Redis for hiredis 0.14, which has none (Debian 12 ships no
 * hiredis_ssl): an in-process bridge. It listens on a private Unix socket
 * (mode 0600, in a 0700 directory of its own under $RUNTIME_DIRECTORY (systemd's
 * RuntimeDirectory=), $TMPDIR or /tmp, removed by store_tls_free); store_redis points hiredis at that socket, and every
 * connection accepted there is joined to a new TLS connection to the real
 * Redis host:port (OpenSSL through smpp/smpp_tls: TLS >= 1.2, certificate
 * and host name verified unless tls_verify is false, optional client
 * certificate for Redis's tls-auth-clients).
 *
 * The hiredis side is not read until the TLS handshake is done. A failed
 * connect, handshake or verification closes the hiredis side, which store_redis
 * sees as a lost connection (it reconnects with backoff), and is logged as
 * redis_tls_failed with the reason ("certificate verify failed: ...").
 * Each direction stops reading while the other side has more than 1 MiB
 * queued for writing, so a slow peer does not make the bridge buffer
 * without bound.
 */
#ifndef STORE_TLS_H
#define STORE_TLS_H

#include <stddef.h>

#include "core/config.h"

struct event_base;
struct store_tls;

/* NULL on error, with the reason in err. name labels the log lines. */
struct store_tls *store_tls_new(struct event_base *base, const struct cfg_redis *cfg,
                                const char *name, char *err, size_t errsz);
/* The Unix socket hiredis connects to. */
const char *store_tls_path(const struct store_tls *t);
/* Closes every bridged connection and removes the socket and its directory. */
void store_tls_free(struct store_tls *t);

#endif
