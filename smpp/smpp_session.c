#include "smpp/smpp_session.h"
#include "smpp/smpp_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/dns.h"
#include "core/log.h"

/* Output above this stops us reading (the peer is not taking our resps) and
 * makes send() say AGAIN; below OUT_LOW we resume. */
#define OUT_HIGH (512u * 1024u)
#define OUT_LOW  (128u * 1024u)

/* A request we sent that awaits its resp. Slots sit in a FIFO by send time:
 * every request has the same timeout, so the head is always the next to
 * expire and one timer serves the whole window. */
struct req_slot {
    uint32_t seq;               /* 0: free */
    uint32_t command_id;
    smpp_req_cb cb;
    void *arg;
    uint64_t deadline_ms;
    int prev, next;             /* FIFO links, or free-list link in next */
};

struct smpp_session {
    unsigned id;
    enum smpp_role role;
    enum smpp_state state;
    struct event_base *base;
    struct bufferevent *bev;
    struct smpp_session_cfg cfg;
    const struct smpp_session_ops *ops;
    void *ctx;
    void *udata;

    /* window */
    struct req_slot *slots;
    unsigned nslots;
    int free_head;
    int fifo_head, fifo_tail;
    unsigned outstanding;
    int32_t *htab;              /* seq -> slot index, -1 empty; linear probing */
    unsigned hmask;
    unsigned hshift;            /* 32 - log2(table size) */
    struct event *timeout_ev;
    uint32_t next_seq;
    bool window_blocked;

    /* control requests outside the window: bind, unbind, enquire_link */
    uint32_t ctl_seq;
    uint32_t ctl_cmd;
    uint32_t enquire_seq;
    uint64_t enquire_sent_ms;
    uint64_t last_rx_ms;
    struct event *tick_ev;      /* enquire_link, liveness, bind/unbind timeouts */
    uint64_t state_deadline_ms; /* OPEN/BINDING/UNBINDING timeouts; 0 = none */

    /* ESME role: bind once connected */
    bool connected;
    bool want_bind;
    enum smpp_bind_mode bind_mode;
    char bind_system_id[16], bind_password[9], bind_system_type[13], bind_range[41];
    uint8_t bind_ton, bind_npi;

    unsigned peer_outstanding;
    bool reading_paused;
    bool flush_then_close;
    struct event *close_ev;     /* deferred teardown and on_closed */
    struct evdns_getaddrinfo_request *dns_req;  /* connecting to a name: its lookup */
    bool freed_bev;

    char peer[64];
    char peer_system_id[16];
    char system_id[16];
    char close_reason[160];
};

static unsigned next_session_id;

static uint64_t
now_ms(struct smpp_session *s)
{
    struct timeval tv;

    event_base_gettimeofday_cached(s->base, &tv);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

const char *
smpp_state_name(enum smpp_state st)
{
    switch (st) {
    case SMPP_OPEN: return "OPEN";
    case SMPP_BINDING: return "BINDING";
    case SMPP_BOUND_TX: return "BOUND_TX";
    case SMPP_BOUND_RX: return "BOUND_RX";
    case SMPP_BOUND_TRX: return "BOUND_TRX";
    case SMPP_UNBINDING: return "UNBINDING";
    case SMPP_CLOSED: return "CLOSED";
    }
    return "?";
}

void
smpp_session_cfg_defaults(struct smpp_session_cfg *c)
{
    c->window = 64;
    c->resp_timeout_ms = 10000;
    c->enquire_ms = 30000;
    c->dead_ms = 10000;
    c->unbind_timeout_ms = 5000;
    c->bind_timeout_ms = 10000;
    c->max_pdu = SMPP_DEFAULT_MAX_PDU;
    c->peer_window = 256;
}

/* ------------------------------------------------------------ state */

static void
set_state(struct smpp_session *s, enum smpp_state to, const char *reason)
{
    enum smpp_state from = s->state;

    if (from == to)
        return;
    s->state = to;
    bool clean = reason && (strcmp(reason, "unbound") == 0 || strcmp(reason, "peer unbound") == 0);
    log_event(to == SMPP_CLOSED && !clean ? LOG_WARN : LOG_INFO, "smpp_state",
              "session=%u role=%s peer=%s system_id=%s from=%s to=%s reason=\"%s\"",
              s->id, s->role == SMPP_ROLE_ESME ? "esme" : "smsc", s->peer,
              s->peer_system_id[0] ? s->peer_system_id : "-",
              smpp_state_name(from), smpp_state_name(to), reason ? reason : "");
    if (s->ops && s->ops->on_state)
        s->ops->on_state(s, from, to, reason, s->ctx);
}

bool
smpp_session_is_bound(const struct smpp_session *s)
{
    return s->state == SMPP_BOUND_TX || s->state == SMPP_BOUND_RX ||
           s->state == SMPP_BOUND_TRX;
}

static bool
can_transmit(const struct smpp_session *s)
{
    return s->state == SMPP_BOUND_TX || s->state == SMPP_BOUND_TRX;
}

static bool
can_receive(const struct smpp_session *s)
{
    return s->state == SMPP_BOUND_RX || s->state == SMPP_BOUND_TRX;
}

/* ------------------------------------------------------------ window */

/* Sequence numbers are consecutive, so `seq & mask` would pack the whole
 * window into one probe run and every delete would walk it; a
 * multiplicative hash spreads them. */
static unsigned
hslot(const struct smpp_session *s, uint32_t seq)
{
    return (unsigned)((seq * 0x9E3779B1u) >> s->hshift);
}

static int32_t
htab_find(const struct smpp_session *s, uint32_t seq)
{
    for (unsigned i = hslot(s, seq);; i = (i + 1) & s->hmask) {
        int32_t v = s->htab[i];
        if (v < 0)
            return -1;
        if (s->slots[v].seq == seq)
            return v;
    }
}

static void
htab_put(struct smpp_session *s, uint32_t seq, int32_t slot)
{
    unsigned i = hslot(s, seq);

    while (s->htab[i] >= 0)
        i = (i + 1) & s->hmask;
    s->htab[i] = slot;
}

/* Remove seq, shifting later entries of its probe run back (no tombstones). */
static void
htab_del(struct smpp_session *s, uint32_t seq)
{
    unsigned i = hslot(s, seq);

    while (s->htab[i] >= 0 && s->slots[s->htab[i]].seq != seq)
        i = (i + 1) & s->hmask;
    if (s->htab[i] < 0)
        return;
    s->htab[i] = -1;
    for (unsigned j = (i + 1) & s->hmask; s->htab[j] >= 0; j = (j + 1) & s->hmask) {
        int32_t v = s->htab[j];
        unsigned home = hslot(s, s->slots[v].seq);
        /* Move v back to i if its home is not in (i, j] cyclically. */
        bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            s->htab[i] = v;
            s->htab[j] = -1;
            i = j;
        }
    }
}

static void
fifo_unlink(struct smpp_session *s, int k)
{
    struct req_slot *r = &s->slots[k];

    if (r->prev >= 0)
        s->slots[r->prev].next = r->next;
    else
        s->fifo_head = r->next;
    if (r->next >= 0)
        s->slots[r->next].prev = r->prev;
    else
        s->fifo_tail = r->prev;
}

/* Take slot k out of the window and return it to the free list. The
 * caller has copied what it needs. */
static void
slot_release(struct smpp_session *s, int k)
{
    struct req_slot *r = &s->slots[k];

    htab_del(s, r->seq);
    fifo_unlink(s, k);
    r->seq = 0;
    r->cb = NULL;
    r->next = s->free_head;
    s->free_head = k;
    s->outstanding--;
}

static void
arm_timeout(struct smpp_session *s)
{
    if (s->fifo_head < 0 || evtimer_pending(s->timeout_ev, NULL))
        return;
    uint64_t now = now_ms(s), dl = s->slots[s->fifo_head].deadline_ms;
    uint64_t ms = dl > now ? dl - now : 0;
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
    evtimer_add(s->timeout_ev, &tv);
}

static void
complete(struct smpp_session *s, int k, enum smpp_req_result res, const struct smpp_pdu *resp)
{
    smpp_req_cb cb = s->slots[k].cb;
    void *arg = s->slots[k].arg;
    bool was_full = s->outstanding >= s->cfg.window;

    slot_release(s, k);
    if (cb)
        cb(s, res, resp, arg);
    if (was_full && s->window_blocked && s->state != SMPP_CLOSED &&
        s->outstanding < s->cfg.window &&
        evbuffer_get_length(bufferevent_get_output(s->bev)) < OUT_HIGH) {
        s->window_blocked = false;
        if (s->ops && s->ops->on_window)
            s->ops->on_window(s, s->ctx);
    }
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smpp_session *s = arg;
    uint64_t now = now_ms(s);

    (void)fd;
    (void)what;
    while (s->fifo_head >= 0 && s->slots[s->fifo_head].deadline_ms <= now) {
        int k = s->fifo_head;
        log_event(LOG_WARN, "smpp_resp_timeout", "session=%u seq=%u command=%s",
                  s->id, s->slots[k].seq, smpp_command_name(s->slots[k].command_id));
        complete(s, k, SMPP_REQ_TIMEOUT, NULL);
        if (s->state == SMPP_CLOSED)
            return;
    }
    arm_timeout(s);
}

static uint32_t
take_seq(struct smpp_session *s)
{
    for (;;) {
        uint32_t seq = s->next_seq;
        s->next_seq = seq >= SMPP_SEQ_MAX ? 1 : seq + 1;
        /* After a wrap a number may still be in use by a slow request. */
        if (seq != s->ctl_seq && seq != s->enquire_seq && htab_find(s, seq) < 0)
            return seq;
    }
}

/* ------------------------------------------------------------ output */

static struct evbuffer *
output(struct smpp_session *s)
{
    return bufferevent_get_output(s->bev);
}

static int
write_pdu(struct smpp_session *s, struct smpp_pdu *p)
{
    if (s->state == SMPP_CLOSED || s->freed_bev)
        return -1;
    if (smpp_pdu_pack(p, output(s)) != 0) {
        log_event(LOG_ERROR, "smpp_pack_failed", "session=%u command=%s seq=%u status=%s",
                  s->id, smpp_command_name(p->hdr.command_id), p->hdr.sequence_number,
                  smpp_status_name(p->hdr.command_status));
        return -1;
    }
    return 0;
}

static void
send_generic_nack(struct smpp_session *s, uint32_t seq, uint32_t status)
{
    struct smpp_pdu p;

    if (seq == 0) {
        /* libsmpp34 (rightly) packs no PDU with sequence number 0. */
        return;
    }
    smpp_pdu_init(&p, GENERIC_NACK, status, seq);
    write_pdu(s, &p);
}

int
smpp_session_respond(struct smpp_session *s, struct smpp_pdu *resp)
{
    bool app_request = resp->hdr.command_id != GENERIC_NACK &&
                       resp->hdr.command_id != ENQUIRE_LINK_RESP &&
                       resp->hdr.command_id != UNBIND_RESP &&
                       resp->hdr.command_id != BIND_TRANSMITTER_RESP &&
                       resp->hdr.command_id != BIND_RECEIVER_RESP &&
                       resp->hdr.command_id != BIND_TRANSCEIVER_RESP;

    if (app_request && s->peer_outstanding > 0)
        s->peer_outstanding--;
    return write_pdu(s, resp);
}

int
smpp_session_respond_status(struct smpp_session *s, const struct smpp_hdr *req, uint32_t status)
{
    uint32_t rid = smpp_resp_id(req->command_id);
    struct smpp_pdu p;

    if (!rid) {
        send_generic_nack(s, req->sequence_number, status);
        return 0;
    }
    smpp_pdu_init(&p, rid, status, req->sequence_number);
    if (rid == BIND_TRANSMITTER_RESP || rid == BIND_RECEIVER_RESP ||
        rid == BIND_TRANSCEIVER_RESP)
        snprintf((char *)p.u.bind_transmitter_resp.system_id,
                 sizeof(p.u.bind_transmitter_resp.system_id), "%s", s->system_id);
    return smpp_session_respond(s, &p);
}

/* ------------------------------------------------------------ close */

static void
closed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smpp_session *s = arg;

    (void)fd;
    (void)what;
    if (s->bev && !s->freed_bev) {
        bufferevent_free(s->bev);
        s->freed_bev = true;
    }
    if (s->ops && s->ops->on_closed)
        s->ops->on_closed(s, s->ctx);
}

void
smpp_session_close(struct smpp_session *s, const char *reason)
{
    if (s->state == SMPP_CLOSED)
        return;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason ? reason : "closed");
    if (s->dns_req) {
        struct evdns_getaddrinfo_request *q = s->dns_req;
        s->dns_req = NULL;
        evdns_getaddrinfo_cancel(q);
    }
    if (s->bev)
        bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    evtimer_del(s->timeout_ev);
    evtimer_del(s->tick_ev);
    set_state(s, SMPP_CLOSED, s->close_reason);
    /* Every outstanding request ends exactly once, oldest first. */
    while (s->fifo_head >= 0)
        complete(s, s->fifo_head, SMPP_REQ_CONN_LOST, NULL);
    event_active(s->close_ev, EV_TIMEOUT, 0);
}

/* Let what is queued reach the peer (a generic_nack, an unbind_resp, a
 * refused bind_resp), then close; bounded by a short timer in case the
 * peer does not read. */
static void
close_after_flush(struct smpp_session *s, const char *reason)
{
    if (s->state == SMPP_CLOSED || s->flush_then_close)
        return;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
    s->flush_then_close = true;
    bufferevent_disable(s->bev, EV_READ);
    s->state_deadline_ms = now_ms(s) + 1000;
    if (evbuffer_get_length(output(s)) == 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s", s->close_reason);
        smpp_session_close(s, why);
    }
}

/* ------------------------------------------------------------ binding */

static uint32_t
bind_cmd(enum smpp_bind_mode m)
{
    return m == SMPP_BIND_TX ? BIND_TRANSMITTER : m == SMPP_BIND_RX ? BIND_RECEIVER
                                                                    : BIND_TRANSCEIVER;
}

static enum smpp_state
bound_state(uint32_t bind_command)
{
    switch (bind_command & 0x7FFFFFFFu) {
    case BIND_TRANSMITTER: return SMPP_BOUND_TX;
    case BIND_RECEIVER: return SMPP_BOUND_RX;
    default: return SMPP_BOUND_TRX;
    }
}

static void
send_bind(struct smpp_session *s)
{
    struct smpp_pdu p;
    uint32_t cmd = bind_cmd(s->bind_mode);
    /* bind_transmitter_t, bind_receiver_t and bind_transceiver_t share one
     * layout; fill through the transmitter view. */
    bind_transmitter_t *b = &p.u.bind_transmitter;

    s->want_bind = false;
    s->ctl_seq = take_seq(s);
    s->ctl_cmd = cmd;
    smpp_pdu_init(&p, cmd, ESME_ROK, s->ctl_seq);
    memcpy(b->system_id, s->bind_system_id, sizeof(s->bind_system_id));
    memcpy(b->password, s->bind_password, sizeof(s->bind_password));
    memcpy(b->system_type, s->bind_system_type, sizeof(s->bind_system_type));
    b->interface_version = 0x34;
    b->addr_ton = s->bind_ton;
    b->addr_npi = s->bind_npi;
    memcpy(b->address_range, s->bind_range, sizeof(s->bind_range));
    if (write_pdu(s, &p) != 0) {
        smpp_session_close(s, "bind did not pack");
        return;
    }
    s->state_deadline_ms = now_ms(s) + s->cfg.bind_timeout_ms;
    set_state(s, SMPP_BINDING, "bind sent");
}

int
smpp_session_bind(struct smpp_session *s, const struct smpp_bind_params *bp)
{
    if (s->role != SMPP_ROLE_ESME || s->state != SMPP_OPEN)
        return -1;
    s->bind_mode = bp->mode;
    snprintf(s->bind_system_id, sizeof(s->bind_system_id), "%s", bp->system_id ? bp->system_id : "");
    snprintf(s->bind_password, sizeof(s->bind_password), "%s", bp->password ? bp->password : "");
    snprintf(s->bind_system_type, sizeof(s->bind_system_type), "%s",
             bp->system_type ? bp->system_type : "");
    snprintf(s->bind_range, sizeof(s->bind_range), "%s", bp->address_range ? bp->address_range : "");
    s->bind_ton = bp->addr_ton;
    s->bind_npi = bp->addr_npi;
    memcpy(s->peer_system_id, s->bind_system_id, sizeof(s->peer_system_id));
    if (s->connected)
        send_bind(s);
    else
        s->want_bind = true;
    return 0;
}

/* SMSC role: a bind_* arrived. */
static void
handle_bind(struct smpp_session *s, const struct smpp_pdu *p)
{
    uint32_t st;
    char why[96];

    if (s->role != SMPP_ROLE_SMSC) {
        smpp_session_respond_status(s, &p->hdr, ESME_RINVBNDSTS);
        return;
    }
    if (s->state != SMPP_OPEN) {
        smpp_session_respond_status(s, &p->hdr, smpp_session_is_bound(s) ? ESME_RALYBND
                                                                          : ESME_RINVBNDSTS);
        return;
    }
    snprintf(s->peer_system_id, sizeof(s->peer_system_id), "%s",
             (const char *)p->u.bind_transmitter.system_id);
    st = s->ops && s->ops->on_bind ? s->ops->on_bind(s, p, s->ctx) : ESME_RBINDFAIL;
    smpp_session_respond_status(s, &p->hdr, st);
    if (st == ESME_ROK) {
        s->state_deadline_ms = 0;
        set_state(s, bound_state(p->hdr.command_id), smpp_command_name(p->hdr.command_id));
    } else {
        snprintf(why, sizeof(why), "bind refused: %s", smpp_status_name(st));
        log_event(LOG_WARN, "smpp_bind_refused", "session=%u peer=%s system_id=%s status=%s",
                  s->id, s->peer, s->peer_system_id, smpp_status_name(st));
        close_after_flush(s, why);
    }
}

static void
handle_ctl_resp(struct smpp_session *s, const struct smpp_pdu *p)
{
    char why[96];
    uint32_t cmd = s->ctl_cmd;

    s->ctl_seq = 0;
    s->ctl_cmd = 0;
    if (cmd == UNBIND) {
        smpp_session_close(s, "unbound");
        return;
    }
    /* a bind_*_resp, or a generic_nack to our bind */
    if (p->hdr.command_status != ESME_ROK) {
        snprintf(why, sizeof(why), "bind refused: %s", smpp_status_name(p->hdr.command_status));
        smpp_session_close(s, why);
        return;
    }
    if (p->hdr.command_id != (cmd | 0x80000000u)) {
        smpp_session_close(s, "bind answered with the wrong command");
        return;
    }
    s->state_deadline_ms = 0;
    s->last_rx_ms = now_ms(s);
    set_state(s, bound_state(cmd), "bind_resp ESME_ROK");
    if (s->window_blocked && s->ops && s->ops->on_window) {
        s->window_blocked = false;
        s->ops->on_window(s, s->ctx);
    }
}

void
smpp_session_unbind(struct smpp_session *s)
{
    struct smpp_pdu p;

    if (s->state == SMPP_CLOSED || s->state == SMPP_UNBINDING)
        return;
    if (!smpp_session_is_bound(s)) {
        smpp_session_close(s, "closed before bound");
        return;
    }
    s->ctl_seq = take_seq(s);
    s->ctl_cmd = UNBIND;
    smpp_pdu_init(&p, UNBIND, ESME_ROK, s->ctl_seq);
    if (write_pdu(s, &p) != 0) {
        smpp_session_close(s, "unbind did not pack");
        return;
    }
    s->state_deadline_ms = now_ms(s) + s->cfg.unbind_timeout_ms;
    set_state(s, SMPP_UNBINDING, "unbind sent");
}

/* ------------------------------------------------------------ input */

/* May the peer send us this request in our current state and role? */
static bool
inbound_allowed(const struct smpp_session *s, uint32_t cmd)
{
    switch (cmd) {
    case ENQUIRE_LINK:
    case UNBIND:
        return smpp_session_is_bound(s);
    case SUBMIT_SM: case QUERY_SM: case CANCEL_SM: case REPLACE_SM:
        return s->role == SMPP_ROLE_SMSC && can_transmit(s);
    case DATA_SM:
        return s->role == SMPP_ROLE_SMSC ? can_transmit(s) : can_receive(s);
    case DELIVER_SM: case ALERT_NOTIFICATION:
        return s->role == SMPP_ROLE_ESME && can_receive(s);
    case OUTBIND:
        return s->role == SMPP_ROLE_ESME && s->state == SMPP_OPEN;
    default:
        return false;
    }
}

static void
handle_resp(struct smpp_session *s, const uint8_t *buf, size_t len)
{
    struct smpp_pdu p;
    uint32_t st = smpp_pdu_decode(buf, len, &p);
    uint32_t seq = p.hdr.sequence_number;
    int32_t k;

    if (st != ESME_ROK && p.hdr.command_status == ESME_ROK)
        log_event(LOG_WARN, "smpp_resp_unreadable", "session=%u command=%s seq=%u why=%s",
                  s->id, smpp_command_name(p.hdr.command_id), seq, smpp_status_name(st));
    if (seq != 0 && seq == s->enquire_seq) {
        s->enquire_seq = 0;
        return;
    }
    if (seq != 0 && seq == s->ctl_seq) {
        handle_ctl_resp(s, &p);
        return;
    }
    k = seq ? htab_find(s, seq) : -1;
    if (k < 0) {
        /* A generic_nack with seq 0 answers a PDU the peer could not read at
         * all; nothing to match, and nothing to do but say so. */
        log_event(LOG_WARN, "smpp_resp_unmatched", "session=%u command=%s seq=%u status=%s",
                  s->id, smpp_command_name(p.hdr.command_id), seq,
                  smpp_status_name(p.hdr.command_status));
        return;
    }
    complete(s, k, SMPP_REQ_RESP, &p);
}

static void
handle_request(struct smpp_session *s, const uint8_t *buf, size_t len)
{
    struct smpp_pdu p;
    uint32_t st = smpp_pdu_decode(buf, len, &p);
    uint32_t cmd = p.hdr.command_id;

    if (st == ESME_RINVCMDID) {
        log_event(LOG_WARN, "smpp_unknown_command", "session=%u command_id=0x%08X seq=%u",
                  s->id, cmd, p.hdr.sequence_number);
        send_generic_nack(s, p.hdr.sequence_number, ESME_RINVCMDID);
        return;
    }
    if (cmd == BIND_TRANSMITTER || cmd == BIND_RECEIVER || cmd == BIND_TRANSCEIVER) {
        if (st != ESME_ROK) {
            smpp_session_respond_status(s, &p.hdr, st);
            close_after_flush(s, "malformed bind");
            return;
        }
        handle_bind(s, &p);
        return;
    }
    if (!inbound_allowed(s, cmd)) {
        log_event(LOG_WARN, "smpp_out_of_state", "session=%u command=%s seq=%u state=%s",
                  s->id, smpp_command_name(cmd), p.hdr.sequence_number,
                  smpp_state_name(s->state));
        smpp_session_respond_status(s, &p.hdr, ESME_RINVBNDSTS);
        return;
    }
    if (st != ESME_ROK) {
        log_event(LOG_WARN, "smpp_malformed", "session=%u command=%s seq=%u status=%s",
                  s->id, smpp_command_name(cmd), p.hdr.sequence_number, smpp_status_name(st));
        smpp_session_respond_status(s, &p.hdr, st);
        return;
    }
    switch (cmd) {
    case ENQUIRE_LINK:
        smpp_session_respond_status(s, &p.hdr, ESME_ROK);
        return;
    case UNBIND:
        smpp_session_respond_status(s, &p.hdr, ESME_ROK);
        set_state(s, SMPP_UNBINDING, "peer unbind");
        close_after_flush(s, "peer unbound");
        return;
    case OUTBIND:
    case ALERT_NOTIFICATION:
        if (s->ops && s->ops->on_request)
            s->ops->on_request(s, &p, s->ctx);
        return;
    default:
        break;
    }
    if (s->peer_outstanding >= s->cfg.peer_window) {
        smpp_session_respond_status(s, &p.hdr, ESME_RTHROTTLED);
        return;
    }
    if (!s->ops || !s->ops->on_request) {
        smpp_session_respond_status(s, &p.hdr, ESME_RSYSERR);
        return;
    }
    s->peer_outstanding++;
    s->ops->on_request(s, &p, s->ctx);
}

static void
pause_reading(struct smpp_session *s)
{
    s->reading_paused = true;
    bufferevent_disable(s->bev, EV_READ);
}

static void
read_pdus(struct smpp_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);

    while (s->state != SMPP_CLOSED && !s->flush_then_close) {
        size_t have = evbuffer_get_length(in);
        uint8_t h[SMPP_HEADER_LEN];
        uint32_t len;

        if (have < SMPP_HEADER_LEN) {
            bufferevent_setwatermark(s->bev, EV_READ, SMPP_HEADER_LEN, 0);
            return;
        }
        evbuffer_copyout(in, h, SMPP_HEADER_LEN);
        memcpy(&len, h, 4);
        len = ntohl(len);
        if (len < SMPP_HEADER_LEN || len > s->cfg.max_pdu) {
            struct smpp_hdr hd;
            char why[96];
            smpp_pdu_header(h, &hd);
            log_event(LOG_WARN, "smpp_bad_length", "session=%u peer=%s command_length=%u max=%u",
                      s->id, s->peer, len, s->cfg.max_pdu);
            send_generic_nack(s, hd.sequence_number, ESME_RINVCMDLEN);
            snprintf(why, sizeof(why), "invalid command_length %u", len);
            close_after_flush(s, why);
            return;
        }
        if (have < len) {
            /* Wait for the whole PDU, and not a byte more than max_pdu. */
            bufferevent_setwatermark(s->bev, EV_READ, len, 0);
            return;
        }
        const uint8_t *buf = evbuffer_pullup(in, len);
        s->last_rx_ms = now_ms(s);
        uint32_t cmd;
        memcpy(&cmd, buf + 4, 4);
        cmd = ntohl(cmd);
        if (smpp_is_resp(cmd))
            handle_resp(s, buf, len);
        else
            handle_request(s, buf, len);
        if (s->state == SMPP_CLOSED)
            return;     /* the buffer belongs to a session that is going */
        evbuffer_drain(in, len);
        if (evbuffer_get_length(output(s)) > OUT_HIGH) {
            pause_reading(s);
            return;
        }
    }
}

/* ------------------------------------------------------------ events */

static void
read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    read_pdus(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
    struct smpp_session *s = arg;
    size_t out = evbuffer_get_length(bufferevent_get_output(bev));

    if (s->flush_then_close && out == 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s", s->close_reason);
        smpp_session_close(s, why);
        return;
    }
    if (out > OUT_LOW)
        return;
    if (s->reading_paused && !s->flush_then_close) {
        s->reading_paused = false;
        bufferevent_enable(s->bev, EV_READ);
        read_pdus(s);
        if (s->state == SMPP_CLOSED)
            return;
    }
    if (s->window_blocked && s->outstanding < s->cfg.window &&
        (smpp_session_is_bound(s))) {
        s->window_blocked = false;
        if (s->ops && s->ops->on_window)
            s->ops->on_window(s, s->ctx);
    }
}

static void
ssl_errors(struct bufferevent *bev, char *buf, size_t size)
{
    unsigned long e;
    size_t n = 0;

    buf[0] = 0;
    while ((e = bufferevent_get_openssl_error(bev)) != 0 && n + 2 < size) {
        char one[256];
        ERR_error_string_n(e, one, sizeof(one));
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "; " : "", one);
    }
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct smpp_session *s = arg;
    char why[512];

    if (what & BEV_EVENT_CONNECTED) {
        s->connected = true;
        s->last_rx_ms = now_ms(s);
        log_event(LOG_INFO, "smpp_connected", "session=%u peer=%s tls=%s", s->id, s->peer,
                  bufferevent_openssl_get_ssl(bev) ? "yes" : "no");
        if (s->want_bind)
            send_bind(s);
        else
            s->state_deadline_ms = 0;
        return;
    }
    if (what & BEV_EVENT_EOF) {
        smpp_session_close(s, s->flush_then_close ? s->close_reason : "peer closed the connection");
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char ssl[400];
        int err = EVUTIL_SOCKET_ERROR();
        ssl_errors(bev, ssl, sizeof(ssl));
        if (ssl[0])
            snprintf(why, sizeof(why), "tls error: %s", ssl);
        else
            snprintf(why, sizeof(why), "%s: %s", s->connected ? "connection error" : "connect failed",
                     err ? evutil_socket_error_to_string(err) : "unknown");
        smpp_session_close(s, why);
        return;
    }
}

static void
send_enquire(struct smpp_session *s, uint64_t now)
{
    struct smpp_pdu p;

    s->enquire_seq = take_seq(s);
    s->enquire_sent_ms = now;
    smpp_pdu_init(&p, ENQUIRE_LINK, ESME_ROK, s->enquire_seq);
    write_pdu(s, &p);
}

/* One timer per session for everything slow: enquire_link, the peer's
 * liveness, and the bind / unbind / flush deadlines. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smpp_session *s = arg;
    uint64_t now = now_ms(s);

    (void)fd;
    (void)what;
    if (s->state_deadline_ms && now >= s->state_deadline_ms) {
        const char *why = s->flush_then_close ? s->close_reason
                          : s->state == SMPP_UNBINDING ? "unbind_resp timeout"
                          : s->state == SMPP_BINDING ? "bind_resp timeout"
                          : s->role == SMPP_ROLE_SMSC ? "no bind within bind timeout"
                          : "connect timeout";
        char copy[160];
        snprintf(copy, sizeof(copy), "%s", why);
        smpp_session_close(s, copy);
        return;
    }
    if (smpp_session_is_bound(s) && s->cfg.enquire_ms) {
        if (s->enquire_seq && now - s->enquire_sent_ms >= s->cfg.dead_ms) {
            smpp_session_close(s, "enquire_link timeout: peer is not answering");
            return;
        }
        if (!s->enquire_seq && now - s->last_rx_ms >= s->cfg.enquire_ms)
            send_enquire(s, now);
    }
}

/* ------------------------------------------------------------ lifecycle */

static void
peer_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(buf, size, "%s:%d", host, port);
}

static struct smpp_session *
session_alloc(struct event_base *base, enum smpp_role role, const struct smpp_session_cfg *cfg,
              const struct smpp_session_ops *ops, void *ctx)
{
    struct smpp_session *s = calloc(1, sizeof(*s));
    unsigned hsize = 16, hbits = 4;

    if (!s)
        abort();
    s->id = ++next_session_id;
    s->role = role;
    s->state = SMPP_OPEN;
    s->base = base;
    s->cfg = *cfg;
    if (s->cfg.window == 0)
        s->cfg.window = 1;
    if (s->cfg.max_pdu < SMPP_HEADER_LEN)
        s->cfg.max_pdu = SMPP_DEFAULT_MAX_PDU;
    s->ops = ops;
    s->ctx = ctx;
    s->nslots = s->cfg.window;
    s->slots = calloc(s->nslots, sizeof(*s->slots));
    while (hsize < 2 * s->nslots) {
        hsize <<= 1;
        hbits++;
    }
    s->hshift = 32 - hbits;
    s->htab = malloc(hsize * sizeof(*s->htab));
    if (!s->slots || !s->htab)
        abort();
    memset(s->htab, 0xff, hsize * sizeof(*s->htab));
    s->hmask = hsize - 1;
    for (unsigned i = 0; i < s->nslots; i++)
        s->slots[i].next = i + 1 < s->nslots ? (int)i + 1 : -1;
    s->free_head = 0;
    s->fifo_head = s->fifo_tail = -1;
    s->next_seq = 1;
    s->timeout_ev = evtimer_new(base, timeout_cb, s);
    s->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, s);
    s->close_ev = event_new(base, -1, 0, closed_cb, s);
    if (!s->timeout_ev || !s->tick_ev || !s->close_ev)
        abort();
    return s;
}

static void
start_tick(struct smpp_session *s)
{
    unsigned g = 1000;

    if (s->cfg.enquire_ms && s->cfg.enquire_ms / 4 < g)
        g = s->cfg.enquire_ms / 4;
    if (s->cfg.dead_ms && s->cfg.dead_ms / 4 < g)
        g = s->cfg.dead_ms / 4;
    if (s->cfg.bind_timeout_ms && s->cfg.bind_timeout_ms / 4 < g)
        g = s->cfg.bind_timeout_ms / 4;
    if (g < 20)
        g = 20;
    struct timeval tv = { g / 1000, (suseconds_t)(g % 1000) * 1000 };
    evtimer_add(s->tick_ev, &tv);
}

static struct bufferevent *
make_bev(struct smpp_session *s, int fd, SSL_CTX *ssl_ctx, const char *host)
{
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

    if (!ssl_ctx)
        return bufferevent_socket_new(s->base, fd, opts);
    /* As the ESME we check the SMSC's name (or IP) and send SNI. */
    SSL *ssl = smpp_tls_client_ssl(ssl_ctx, s->role == SMPP_ROLE_ESME ? host : NULL);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(s->base, fd, ssl,
                                          s->role == SMPP_ROLE_ESME ? BUFFEREVENT_SSL_CONNECTING
                                                                    : BUFFEREVENT_SSL_ACCEPTING,
                                          opts);
}

static void
setup_bev(struct smpp_session *s)
{
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_setwatermark(s->bev, EV_READ, SMPP_HEADER_LEN, 0);
    bufferevent_setwatermark(s->bev, EV_WRITE, OUT_LOW, 0);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

struct smpp_session *
smpp_session_new(struct event_base *base, int fd, enum smpp_role role,
                 const struct smpp_session_cfg *cfg, SSL_CTX *ssl_ctx, const char *host,
                 const struct smpp_session_ops *ops, void *ctx)
{
    struct smpp_session *s = session_alloc(base, role, cfg, ops, ctx);
    int one = 1;

    evutil_make_socket_nonblocking(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    peer_name(fd, s->peer, sizeof(s->peer));
    s->bev = make_bev(s, fd, ssl_ctx, host);
    if (!s->bev) {
        close(fd);
        free(s->slots);
        free(s->htab);
        event_free(s->timeout_ev);
        event_free(s->tick_ev);
        event_free(s->close_ev);
        free(s);
        return NULL;
    }
    s->connected = true;        /* accepted sockets are; TLS handshakes on */
    s->last_rx_ms = now_ms(s);
    if (role == SMPP_ROLE_SMSC && s->cfg.bind_timeout_ms)
        s->state_deadline_ms = s->last_rx_ms + s->cfg.bind_timeout_ms;
    setup_bev(s);
    start_tick(s);
    log_event(LOG_INFO, "smpp_session_open", "session=%u role=%s peer=%s tls=%s", s->id,
              role == SMPP_ROLE_ESME ? "esme" : "smsc", s->peer, ssl_ctx ? "yes" : "no");
    return s;
}

/* This attempt fails like a refused connection: closed from the loop (by
 * the tick), not inside the caller's call or a resolver callback. */
static void
connect_failed(struct smpp_session *s, const char *why)
{
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", why);
    s->flush_then_close = true;
    s->state_deadline_ms = now_ms(s);
}

static void
connect_addr(struct smpp_session *s, const struct sockaddr *sa, int len)
{
    s->state_deadline_ms = now_ms(s) + (s->cfg.bind_timeout_ms ? s->cfg.bind_timeout_ms : 10000);
    if (bufferevent_socket_connect(s->bev, sa, len) != 0) {
        connect_failed(s, "connect failed");
    } else {
        int fd = bufferevent_getfd(s->bev), one = 1;
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void
resolved_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
    struct smpp_session *s = arg;
    char why[sizeof(s->close_reason)];

    if (result == EVUTIL_EAI_CANCEL)
        return;         /* closed or freed meanwhile */
    s->dns_req = NULL;
    if (result != 0 || !ai) {
        snprintf(why, sizeof(why), "cannot resolve %.60s: %.80s", s->peer,
                 evutil_gai_strerror(result));
        connect_failed(s, why);
    } else {
        const struct evutil_addrinfo *a = dns_pick(ai);
        connect_addr(s, a->ai_addr, (int)a->ai_addrlen);
    }
    if (ai)
        evutil_freeaddrinfo(ai);
}

struct smpp_session *
smpp_session_connect(struct event_base *base, const char *host, int port,
                     const struct smpp_session_cfg *cfg, SSL_CTX *ssl_ctx,
                     const struct smpp_session_ops *ops, void *ctx)
{
    struct smpp_session *s = session_alloc(base, SMPP_ROLE_ESME, cfg, ops, ctx);
    char portstr[16];

    snprintf(s->peer, sizeof(s->peer), "%s:%d", host, port);
    snprintf(portstr, sizeof(portstr), "%d", port);
    s->bev = make_bev(s, -1, ssl_ctx, host);
    if (!s->bev)
        abort();
    setup_bev(s);
    start_tick(s);
    log_event(LOG_INFO, "smpp_connecting", "session=%u peer=%s tls=%s", s->id, s->peer,
              ssl_ctx ? "yes" : "no");
    /* Configured SMSC addresses are resolved when connecting, without
     * blocking (core/dns.h); a name that does not resolve fails this
     * attempt like a refused connection. The lookup is bounded by the
     * resolver's own timeout (2 x 2 s) and by the bind timeout. */
    s->state_deadline_ms = now_ms(s) + (cfg->bind_timeout_ms ? cfg->bind_timeout_ms : 10000);
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                     .ai_protocol = IPPROTO_TCP };
    if (dns_is_literal(host)) {
        struct evutil_addrinfo *ai = NULL;
        hints.ai_flags = EVUTIL_AI_NUMERICHOST;     /* no lookup: cannot block */
        int rc = evutil_getaddrinfo(host, portstr, &hints, &ai);
        if (rc != 0 || !ai) {
            char why[sizeof(s->close_reason)];
            snprintf(why, sizeof(why), "bad address %.60s: %.80s", host, evutil_gai_strerror(rc));
            connect_failed(s, why);
        } else {
            connect_addr(s, ai->ai_addr, (int)ai->ai_addrlen);
        }
        if (ai)
            evutil_freeaddrinfo(ai);
        return s;
    }
    struct evdns_base *dns = dns_get(base);
    if (!dns) {
        connect_failed(s, "no DNS resolver");
        return s;
    }
    /* (answered from /etc/hosts, the callback runs inside this and it
     * returns NULL) */
    s->dns_req = evdns_getaddrinfo(dns, host, portstr, &hints, resolved_cb, s);
    return s;
}

void
smpp_session_free(struct smpp_session *s)
{
    if (!s)
        return;
    if (s->state != SMPP_CLOSED) {
        /* Freed while open: end every request, but no on_closed. */
        const struct smpp_session_ops *ops = s->ops;
        s->ops = NULL;
        smpp_session_close(s, "freed");
        s->ops = ops;
    }
    if (s->dns_req)
        evdns_getaddrinfo_cancel(s->dns_req);
    if (s->bev && !s->freed_bev)
        bufferevent_free(s->bev);
    event_free(s->timeout_ev);
    event_free(s->tick_ev);
    event_free(s->close_ev);
    free(s->slots);
    free(s->htab);
    free(s);
}

/* ------------------------------------------------------------ sending */

static bool
outbound_allowed(const struct smpp_session *s, uint32_t cmd)
{
    switch (cmd) {
    case SUBMIT_SM: case QUERY_SM: case CANCEL_SM: case REPLACE_SM:
        return s->role == SMPP_ROLE_ESME && can_transmit(s);
    case DATA_SM:
        return s->role == SMPP_ROLE_ESME ? can_transmit(s) : can_receive(s);
    case DELIVER_SM:
        return s->role == SMPP_ROLE_SMSC && can_receive(s);
    case ENQUIRE_LINK:
        return smpp_session_is_bound(s);
    default:
        return false;
    }
}

enum smpp_rc
smpp_session_send(struct smpp_session *s, struct smpp_pdu *req, smpp_req_cb cb, void *arg,
                  uint32_t *seqp)
{
    uint32_t cmd = req->hdr.command_id;

    if (s->state == SMPP_CLOSED || s->flush_then_close)
        return SMPP_ERROR;
    if (!outbound_allowed(s, cmd)) {
        /* Still binding: the caller may queue and retry on on_window. */
        if (s->state == SMPP_OPEN || s->state == SMPP_BINDING) {
            s->window_blocked = true;
            return SMPP_AGAIN;
        }
        return SMPP_ERROR;
    }
    if (s->outstanding >= s->cfg.window || s->free_head < 0 ||
        evbuffer_get_length(output(s)) > OUT_HIGH) {
        s->window_blocked = true;
        return SMPP_AGAIN;
    }
    uint32_t seq = take_seq(s);
    req->hdr.sequence_number = seq;
    req->hdr.command_status = ESME_ROK;
    if (write_pdu(s, req) != 0)
        return SMPP_ERROR;

    int k = s->free_head;
    struct req_slot *r = &s->slots[k];
    s->free_head = r->next;
    r->seq = seq;
    r->command_id = cmd;
    r->cb = cb;
    r->arg = arg;
    r->deadline_ms = now_ms(s) + s->cfg.resp_timeout_ms;
    r->next = -1;
    r->prev = s->fifo_tail;
    if (s->fifo_tail >= 0)
        s->slots[s->fifo_tail].next = k;
    else
        s->fifo_head = k;
    s->fifo_tail = k;
    htab_put(s, seq, k);
    s->outstanding++;
    arm_timeout(s);
    if (seqp)
        *seqp = seq;
    return SMPP_OK;
}

/* ------------------------------------------------------------ accessors */

enum smpp_state smpp_session_state(const struct smpp_session *s) { return s->state; }
unsigned smpp_session_id(const struct smpp_session *s) { return s->id; }
unsigned smpp_session_outstanding(const struct smpp_session *s) { return s->outstanding; }
unsigned smpp_session_window(const struct smpp_session *s) { return s->cfg.window; }
enum smpp_role smpp_session_role(const struct smpp_session *s) { return s->role; }
const char *smpp_session_peer_system_id(const struct smpp_session *s) { return s->peer_system_id; }
const char *smpp_session_peer(const struct smpp_session *s) { return s->peer; }
void *smpp_session_ctx(const struct smpp_session *s) { return s->ctx; }
void smpp_session_set_ctx(struct smpp_session *s, void *ctx) { s->ctx = ctx; }
void *smpp_session_udata(const struct smpp_session *s) { return s->udata; }
void smpp_session_set_udata(struct smpp_session *s, void *udata) { s->udata = udata; }

const char *
smpp_session_close_reason(const struct smpp_session *s)
{
    return s->close_reason[0] ? s->close_reason : NULL;
}

void
smpp_session_set_system_id(struct smpp_session *s, const char *system_id)
{
    snprintf(s->system_id, sizeof(s->system_id), "%s", system_id ? system_id : "");
}
