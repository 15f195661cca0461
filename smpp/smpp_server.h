/*
 * SMSC role: accept connections and run a session on each (plain or TLS).
 * The server owns its sessions and frees them when they close.
 */
#ifndef SMPP_SERVER_H
#define SMPP_SERVER_H

#include "smpp/smpp_session.h"

struct smpp_server;

struct smpp_server_cfg {
    const char *addr;          /* e.g. "127.0.0.1" or "0.0.0.0" */
    int port;                  /* 0: pick a free port (see smpp_server_port) */
    SSL_CTX *ssl_ctx;          /* NULL: plain TCP. Not owned. */
    const char *system_id;     /* answered in bind resps */
    struct smpp_session_cfg session;
    unsigned max_sessions;     /* 0: no limit */
};

/* ops: as for sessions; ops->on_closed is called before the server frees
 * the session (the application drops its references there). NULL on error
 * (errno set). */
struct smpp_server *smpp_server_new(struct event_base *base, const struct smpp_server_cfg *cfg,
                                    const struct smpp_session_ops *ops, void *ctx);
int smpp_server_port(const struct smpp_server *srv);
unsigned smpp_server_sessions(const struct smpp_server *srv);
/* Stop accepting; unbind every session. */
void smpp_server_shutdown(struct smpp_server *srv);
/* Close the listener and every session now, then free. */
void smpp_server_free(struct smpp_server *srv);

/* Call fn for each live session. */
void smpp_server_foreach(struct smpp_server *srv,
                         void (*fn)(struct smpp_session *s, void *arg), void *arg);

#endif
