/*
 * The admin interface smsgwctl talks to: a Unix socket (admin.socket,
 * mode 0600, so only smsgwd's user and root can connect) and optionally
 * TCP (admin.tcp_port) where every request must carry the token whose
 * SHA-256 is admin.token.
 *
 * Protocol: one JSON object per line each way.
 *   -> {"cmd":"queue","arg":"default"}             (TCP: ,"token":"...")
 *   <- {"ok":true,"route":"default","depth":12,...}
 *   <- {"ok":false,"error":"no route \"x\""}
 * Commands: status, binds, routes, queue ROUTE, pause ROUTE, resume ROUTE,
 * rebind SMSC, message ID, optout NUMBER, reload (docs/operations.md).
 * Requests on one connection are answered in order.
 *
 * Ownership: admin_new() returns an object freed by admin_free(), which
 * also frees what reloads replaced (core/reload.h): call it after the
 * current engine is freed. Everything in deps is borrowed.
 */
#ifndef CORE_ADMIN_H
#define CORE_ADMIN_H

#include "core/reload.h"

struct store_redis;
struct admin;

struct admin_deps {
    struct reload_deps r;           /* also what the commands look at */
    struct store_redis *redis;      /* message, optout and queue look-ups */
};

/* Listen as (*deps->r.cfg)->admin says. A socket that cannot be made is
 * logged and skipped (the daemon runs without it); NULL never. */
struct admin *admin_new(const struct admin_deps *deps);
/* SIGHUP: reload, result logged. */
void admin_reload(struct admin *a);
void admin_free(struct admin *a);
/* The Unix socket path in use, or NULL. */
const char *admin_socket_path(const struct admin *a);

#endif
