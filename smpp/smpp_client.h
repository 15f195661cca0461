/*
 * ESME role: one bind slot towards an SMSC that stays bound.
 *
 * A client connects, binds, and after any loss (refused connect, failed or
 * refused bind, enquire_link timeout, peer close) reconnects with
 * exponential backoff and jitter. It never holds more than one session: a
 * new connection is made only after the previous one is fully closed.
 */
#ifndef SMPP_CLIENT_H
#define SMPP_CLIENT_H

#include "smpp/smpp_session.h"

struct smpp_client;

struct smpp_client_cfg {
    const char *name;               /* for logs, e.g. "tmo-sc#1" */
    const char *host;
    int port;
    SSL_CTX *ssl_ctx;               /* NULL: plain TCP. Not owned. */
    struct smpp_bind_params bind;   /* strings copied */
    struct smpp_session_cfg session;
    unsigned backoff_min_ms;        /* first retry delay (default 500) */
    unsigned backoff_max_ms;        /* cap (default 30000) */
};

/* The application's callbacks, as for a session (on_bind and on_closed are
 * not used: the client owns its sessions). on_state tells when it is bound. */
struct smpp_client *smpp_client_new(struct event_base *base, const struct smpp_client_cfg *cfg,
                                    const struct smpp_session_ops *ops, void *ctx);
/* Connect now (and keep reconnecting). */
void smpp_client_start(struct smpp_client *c);
/*
 * Stop: unbind the current session (waiting for unbind_resp up to its
 * timeout) and do not reconnect. done(c, arg) runs once it is closed.
 */
void smpp_client_stop(struct smpp_client *c, void (*done)(struct smpp_client *, void *),
                      void *arg);
void smpp_client_free(struct smpp_client *c);

/* The bound session, or NULL while not bound. */
struct smpp_session *smpp_client_session(const struct smpp_client *c);
unsigned smpp_client_reconnects(const struct smpp_client *c);
/* Delay before the next attempt, for tests and status (0 when connected). */
unsigned smpp_client_next_delay_ms(const struct smpp_client *c);
const char *smpp_client_name(const struct smpp_client *c);
/* Hand the client to another owner: later callbacks get ctx (reload moves
 * unchanged SMSC binds to a new engine this way). */
void smpp_client_set_ctx(struct smpp_client *c, void *ctx);

#endif
