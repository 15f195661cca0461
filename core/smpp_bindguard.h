/*
 * What keeps bind verification cheap for core/smpp_front: PBKDF2 costs
 * 20-30 ms of the event loop per bind, so
 *
 *   - failed binds are counted per source address and per system_id in
 *     fixed windows of BINDGUARD_WINDOW_MS; after BINDGUARD_MAX_FAILS in one
 *     window the next binds from that address or for that system_id are
 *     refused at once, without PBKDF2, until the window ends;
 *   - successful verifications are remembered (at most BINDGUARD_CACHE of
 *     them, the oldest forgotten first) as an HMAC-SHA256, under a random
 *     key of this process, of system_id, password and the account's stored
 *     hash: a reconnecting client skips PBKDF2, nothing stored here reveals
 *     a password, and a changed smpp_password no longer matches.
 *
 * A client whose password is cached still binds while its system_id or
 * address is being refused for failures; one that is not cached waits for
 * the window to end.
 *
 * Ownership: bindguard_new() returns a guard freed by bindguard_free();
 * strings passed in are copied or hashed, never kept.
 */
#ifndef CORE_SMPP_BINDGUARD_H
#define CORE_SMPP_BINDGUARD_H

#include <stdbool.h>
#include <stdint.h>

#define BINDGUARD_MAX_FAILS 5
#define BINDGUARD_WINDOW_MS 60000
#define BINDGUARD_CACHE 256
#define BINDGUARD_TRACKED 1024      /* addresses and system_ids counted at once */

struct bindguard;

struct bindguard *bindguard_new(void);
void bindguard_free(struct bindguard *g);

/* NULL when a bind from ip for system_id may be verified; else what is
 * refused: "address" or "system_id". */
const char *bindguard_blocked(struct bindguard *g, const char *ip, const char *system_id,
                              uint64_t now_ms);
/* A failed bind from ip for system_id (NULL: an unknown system_id, counted
 * for the address only). */
void bindguard_failed(struct bindguard *g, const char *ip, const char *system_id, uint64_t now_ms);

/* True when this system_id and password were verified against stored (the
 * account's smpp_password setting) before. */
bool bindguard_cached(struct bindguard *g, const char *system_id, const char *password,
                      const char *stored);
void bindguard_remember(struct bindguard *g, const char *system_id, const char *password,
                        const char *stored);

#endif
