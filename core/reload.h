/*
 * Configuration reload (SIGHUP, `smsgwctl reload`).
 *
 * The file is read and validated as at start. With errors, nothing
 * changes: the old config stays in force and every error is returned and
 * logged as FILE:LINE: message. Otherwise the new config is applied:
 *
 *   SMSCs    an SMSC whose bind settings are unchanged keeps its binds
 *            (the same TCP connections); a new one connects; a removed
 *            one, or one whose bind settings changed, is unbound once its
 *            submits on the wire have their resps and (if changed) bound
 *            again with the new settings
 *   routes   added and removed; queued messages stay in Redis (a removed
 *            route's queue waits there until a config has it again)
 *   accounts API keys, senders, caps, passwords: at once (with
 *            smpp_server, only when the accounts are the same and in the
 *            same order; otherwise the reload is refused)
 *   log_level  at once
 *
 * The dequeuers stop while the old engine's submits on the wire are
 * answered (milliseconds normally, at most ~10 s), then the new engine
 * starts and re-reads this instance's pending entries: nothing queued or
 * in flight is lost. Listeners (http, smpp_server, admin), redis and
 * instance are not changed by a reload: the reply names them under
 * restart_needed.
 *
 * Ownership: the reloader keeps every replaced engine and config until
 * reloader_free() (in-flight API requests and late resps point into them);
 * free it after the current engine.
 */
#ifndef CORE_RELOAD_H
#define CORE_RELOAD_H

#include <stdbool.h>

struct event_base;
struct gw_config;
struct mt_engine;
struct api_server;
struct smpp_front;
struct status;

/* What a reload acts on: the daemon's fields, swapped in place. */
struct reload_deps {
    struct event_base *base;
    const char *config_path;
    struct gw_config **cfg;
    struct mt_engine **mt;
    struct api_server *api;
    struct smpp_front *smpp;        /* may be NULL */
    struct status *status;
    const bool *stopping;           /* the daemon is shutting down */
};

struct reload_result {
    bool ok;
    const char *errors;             /* FILE:LINE: message lines when !ok */
    unsigned smscs_kept, smscs_new, smscs_removed;
    unsigned routes_added, routes_removed;
    const char *restart_needed;     /* "http, redis" or "" */
};
typedef void (*reload_done_fn)(void *arg, const struct reload_result *r);

struct reloader;
struct reloader *reloader_new(const struct reload_deps *deps);
/* Reload now; done(arg, result) once applied (or refused), maybe before
 * this returns. A reload while one is being applied is refused. */
void reloader_run(struct reloader *rl, reload_done_fn done, void *arg);
void reloader_free(struct reloader *rl);

#endif
