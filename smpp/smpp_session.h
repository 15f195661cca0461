/*
 * SMPP sessions on libevent bufferevents, for both roles: the ESME (we bind
 * to a carrier's SMSC) and the SMSC (clients bind to us). One state machine:
 *
 *   OPEN -> BINDING -> BOUND_TX | BOUND_RX | BOUND_TRX -> UNBINDING -> CLOSED
 *
 * A session frames PDUs (command_length bounded before a byte more is
 * buffered), decodes them through smpp_pdu (guarded libsmpp34), enforces
 * which PDUs each state may send and receive, keeps a window of outstanding
 * requests with one timeout each, answers and sends enquire_link, and closes
 * with a reason. Plain TCP or TLS (smpp_tls.h).
 *
 * Ownership: a session is created by smpp_client (ESME role, reconnecting)
 * or smpp_server (SMSC role, accepting), or directly with
 * smpp_session_new() by code that owns the fd. It is never freed inside one
 * of its own callbacks: after CLOSED, ops->on_closed runs from a fresh event
 * and is where the owner calls smpp_session_free().
 */
#ifndef SMPP_SESSION_H
#define SMPP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "smpp/smpp_pdu.h"

struct event_base;
struct smpp_session;

enum smpp_role { SMPP_ROLE_ESME, SMPP_ROLE_SMSC };

enum smpp_state {
    SMPP_OPEN,
    SMPP_BINDING,
    SMPP_BOUND_TX,
    SMPP_BOUND_RX,
    SMPP_BOUND_TRX,
    SMPP_UNBINDING,
    SMPP_CLOSED,
};

enum smpp_bind_mode { SMPP_BIND_TX, SMPP_BIND_RX, SMPP_BIND_TRX };

/* Three-way result of non-blocking calls. */
enum smpp_rc { SMPP_OK = 0, SMPP_AGAIN = 1, SMPP_ERROR = -1 };

/* How a request we sent ended. Reported exactly once per request. */
enum smpp_req_result {
    SMPP_REQ_RESP,          /* resp (or generic_nack) arrived; see resp->hdr */
    SMPP_REQ_TIMEOUT,       /* no resp within resp_timeout_ms */
    SMPP_REQ_CONN_LOST,     /* the session closed first */
};

struct smpp_session_cfg {
    unsigned window;            /* outstanding requests we may have; >= 1 */
    unsigned resp_timeout_ms;   /* per request */
    unsigned enquire_ms;        /* send enquire_link after this much idleness; 0 = never */
    unsigned dead_ms;           /* no enquire_link_resp within this: the peer is dead */
    unsigned unbind_timeout_ms; /* wait this long for unbind_resp before closing */
    unsigned bind_timeout_ms;   /* SMSC role: time a new connection has to bind;
                                   ESME role: time the bind_resp may take */
    unsigned max_pdu;           /* largest command_length accepted from the peer */
    unsigned peer_window;       /* requests from the peer awaiting our resp; above it
                                   they are answered ESME_RTHROTTLED */
};

/* Defaults: window 64, resp 10 s, enquire 30 s, dead 10 s, unbind 5 s,
 * bind 10 s, max_pdu 64 KiB, peer_window 256. */
void smpp_session_cfg_defaults(struct smpp_session_cfg *cfg);

typedef void (*smpp_req_cb)(struct smpp_session *s, enum smpp_req_result result,
                            const struct smpp_pdu *resp, void *arg);

struct smpp_session_ops {
    /*
     * SMSC role: a bind_* arrived in OPEN. Return ESME_ROK to accept (the
     * session answers and moves to BOUND_*), or the status to refuse with
     * (ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL...; the session
     * answers and closes). system_id for the resp comes from
     * smpp_session_set_system_id().
     */
    uint32_t (*on_bind)(struct smpp_session *s, const struct smpp_pdu *bind, void *ctx);
    /*
     * A request the application handles: submit_sm, data_sm, query_sm,
     * cancel_sm, replace_sm (SMSC role), deliver_sm, data_sm (ESME role).
     * alert_notification and outbind arrive here too (they have no resp).
     * The application answers with smpp_session_respond(), now or later;
     * the session keeps the peer's outstanding count for flood control.
     * NULL: every such request is answered ESME_RSYSERR.
     */
    void (*on_request)(struct smpp_session *s, const struct smpp_pdu *req, void *ctx);
    /* Every state transition (also logged by the session). */
    void (*on_state)(struct smpp_session *s, enum smpp_state from, enum smpp_state to,
                     const char *reason, void *ctx);
    /* The window had no room and now has (after SMPP_AGAIN from send). */
    void (*on_window)(struct smpp_session *s, void *ctx);
    /* The session is CLOSED and every request completed: free it here. */
    void (*on_closed)(struct smpp_session *s, void *ctx);
};

/*
 * A session over an fd already connected (accepted, or connect() started).
 * With ssl_ctx it runs TLS in the given role (client: handshake as client,
 * verifying `host` when verify_host is set). Takes ownership of fd.
 */
struct smpp_session *smpp_session_new(struct event_base *base, int fd, enum smpp_role role,
                                      const struct smpp_session_cfg *cfg,
                                      SSL_CTX *ssl_ctx, const char *host,
                                      const struct smpp_session_ops *ops, void *ctx);

/* Start a session that connects to host:port itself (ESME role). */
struct smpp_session *smpp_session_connect(struct event_base *base, const char *host,
                                          int port, const struct smpp_session_cfg *cfg,
                                          SSL_CTX *ssl_ctx, const struct smpp_session_ops *ops,
                                          void *ctx);

void smpp_session_free(struct smpp_session *s);

/*
 * ESME role: send bind_* once connected (queued if the connection is still
 * being made). The result arrives as a state change to BOUND_* or CLOSED
 * (reason "bind refused: ESME_R...").
 */
struct smpp_bind_params {
    enum smpp_bind_mode mode;
    const char *system_id;
    const char *password;
    const char *system_type;
    uint8_t addr_ton, addr_npi;
    const char *address_range;
};
int smpp_session_bind(struct smpp_session *s, const struct smpp_bind_params *bp);

/*
 * Send a request (submit_sm, deliver_sm, data_sm, query_sm, ...). The
 * session sets its sequence number (returned in *seq when not NULL) and
 * calls cb exactly once. Returns SMPP_OK, SMPP_AGAIN when the window is
 * full or output is backed up (on_window follows), SMPP_ERROR when the
 * state does not allow this command or the PDU does not pack.
 */
enum smpp_rc smpp_session_send(struct smpp_session *s, struct smpp_pdu *req,
                               smpp_req_cb cb, void *arg, uint32_t *seq);

/* Answer a request delivered by on_request. resp->hdr.sequence_number
 * must be the request's. */
int smpp_session_respond(struct smpp_session *s, struct smpp_pdu *resp);
/* Answer req with an empty resp of the right type and this status. */
int smpp_session_respond_status(struct smpp_session *s, const struct smpp_hdr *req,
                                uint32_t status);

/* Unbind (waits for unbind_resp up to unbind_timeout_ms) and close. */
void smpp_session_unbind(struct smpp_session *s);
/* Close now; outstanding requests complete with SMPP_REQ_CONN_LOST. */
void smpp_session_close(struct smpp_session *s, const char *reason);

enum smpp_state smpp_session_state(const struct smpp_session *s);
bool smpp_session_is_bound(const struct smpp_session *s);
unsigned smpp_session_id(const struct smpp_session *s);
unsigned smpp_session_outstanding(const struct smpp_session *s);
unsigned smpp_session_window(const struct smpp_session *s);
enum smpp_role smpp_session_role(const struct smpp_session *s);
/* The peer's system_id (from its bind, or from our bind in the ESME role). */
const char *smpp_session_peer_system_id(const struct smpp_session *s);
/* SMSC role: the system_id we answer binds with. */
void smpp_session_set_system_id(struct smpp_session *s, const char *system_id);
/* Peer address as "ip:port". */
const char *smpp_session_peer(const struct smpp_session *s);
/* The reason the session closed (or NULL). */
const char *smpp_session_close_reason(const struct smpp_session *s);
/* The ctx given to the ops (owned by whoever created the session). */
void *smpp_session_ctx(const struct smpp_session *s);
void smpp_session_set_ctx(struct smpp_session *s, void *ctx);
/* One pointer for the application's per-session data (not touched by
 * smpp_client or smpp_server, which use ctx themselves). */
void *smpp_session_udata(const struct smpp_session *s);
void smpp_session_set_udata(struct smpp_session *s, void *udata);
const char *smpp_state_name(enum smpp_state st);

#endif
