/*
 * The SMPP server for client ESMEs: accounts bind to smsgwd with their
 * smpp_system_id / smpp_password and submit messages over SMPP 3.4, as
 * they would POST them to the HTTP API.
 *
 *   bind_*      account by system_id (ESME_RINVSYSID), password
 *               (ESME_RINVPASWD), source address in smpp_allowed_ips and
 *               binds below smpp_max_binds (ESME_RBINDFAIL)
 *   submit_sm,  text decoded to UTF-8, sender and destination checked as
 *   data_sm     api_validate does, stored by store_msg_accept like an HTTP
 *               message; the resp carries our message id and is sent only
 *               once Redis has the message (ESME_RSUBMITFAIL when it cannot,
 *               ESME_RX_R_APPN when the subscriber opted out)
 *   query_sm    the account's message record: state as message_state,
 *               final_date once final (ESME_RQUERYFAIL: unknown id or
 *               another account's)
 *   cancel_sm   state "cancelled" while queued or retrying and not yet
 *               read by a dequeuer (ESME_RCANCELFAIL otherwise)
 *   replace_sm  ESME_RREPLACEFAIL for now
 *
 *   deliver_sm  receipts (for registered_delivery) and MO (accounts without
 *               mo_url) from P clientq:ACCOUNT to the account's RX/TRX
 *               binds, in order, at least once: an item leaves Redis only
 *               on deliver_sm_resp ESME_ROK
 *
 *   parts      UDH or SAR parts kept in Redis (store/store_parts.h) and
 *               stored as one message when the last arrives; every part's
 *               resp carries that message's id
 *
 *   schedule_delivery_time in the future: kept in Redis (store/store_sched.h)
 *               and stored as any message when due; validity_period caps
 *               the route's validity
 *
 * Binds: failed binds are limited and verified passwords cached
 * (core/smpp_bindguard.h). docs/smpp-server.md has the details.
 *
 * Ownership: the front owns its smpp_server and every session in it; cfg,
 * redis, mt and webhook are borrowed and must outlive smpp_front_free().
 * A submit still waiting for Redis when the front is freed completes into
 * nothing (its resp is not sent; the message, if stored, is sent anyway).
 */
#ifndef CORE_SMPP_FRONT_H
#define CORE_SMPP_FRONT_H

#include <stddef.h>

#include "core/config.h"

struct event_base;
struct store_redis;
struct mt_engine;
struct webhook;
struct smpp_front;

struct smpp_front_deps {
    struct event_base *base;
    const struct gw_config *cfg;    /* cfg->smpp_server.enabled */
    struct store_redis *redis;
    struct mt_engine *mt;
    struct webhook *webhook;        /* may be NULL */
};

/* Listen as cfg->smpp_server says. NULL on error, with the reason in err
 * (cannot listen, TLS certificate or key unusable). */
struct smpp_front *smpp_front_new(const struct smpp_front_deps *deps, char *err, size_t errsz);
/* The port actually bound (port 0 picks a free one). */
int smpp_front_port(const struct smpp_front *f);
/* Stop accepting binds and submits; unbind every client. */
void smpp_front_shutdown(struct smpp_front *f);
/*
 * Reload: use cfg (and engine mt) from now on; 0 (mt NULL: nothing done).
 * Accounts are matched by name, so they may be added, removed and
 * reordered: a kept account's binds stay (same sessions, its new
 * settings), a new one may bind, a removed one's binds are unbound. The
 * old config must stay alive: submits in progress and the binds being
 * unbound keep pointers into it.
 */
int smpp_front_set_config(struct smpp_front *f, const struct gw_config *cfg, struct mt_engine *mt);
/* fn for every account with SMPP access: its current binds (all kinds)
 * and receiver/transceiver binds. */
typedef void (*smpp_front_account_fn)(void *arg, const char *account, unsigned binds,
                                      unsigned rx_binds);
void smpp_front_accounts(const struct smpp_front *f, smpp_front_account_fn fn, void *arg);
/* Close every session now and free. */
void smpp_front_free(struct smpp_front *f);

#endif
