/*
 * A client's concatenated submit (UDH or SAR parts over SMPP), kept in
 * Redis one part at a time until every part is there; core/smpp_front then
 * stores the whole text as one message (store_msg_accept), which the router
 * segments again with the outbound SMSC's own concatenation method.
 *
 *   P cparts:ACCOUNT:GROUP  hash: "id" our id for the whole message (fixed by
 *                           the first part to arrive), "p1".."pN" the parts'
 *                           texts (UTF-8), "done" once the message is stored.
 *                           Expires ttl_s after the first part.
 *
 * GROUP names the set as the client does (source, destination, reference,
 * total, and the kind of reference), so parts may arrive in any order and
 * on any bind of the account.
 */
#ifndef STORE_PARTS_H
#define STORE_PARTS_H

#include <stddef.h>

#include "store/store_redis.h"

/*
 * Keep part seq (1..total) of group. id_if_new is the id the set takes if
 * this is its first part. cb rc: -1 Redis failed (the part is not kept),
 * 0 kept, others missing, 1 every part is here: text is the whole (valid
 * during the callback), 2 the message was stored already (a part sent
 * again): nothing to do. id (valid during the callback) is the set's id
 * for 0, 1 and 2.
 */
typedef void (*store_parts_cb)(void *arg, int rc, const char *id, const char *text, size_t len);
void store_parts_add(struct store_redis *r, const char *account, const char *group,
                     unsigned total, unsigned seq, const char *id_if_new, const char *text,
                     size_t len, unsigned ttl_s, store_parts_cb cb, void *arg);

/* The whole message is stored: mark the set, so a part sent again is not
 * stored twice (fire and forget; the set still expires). */
void store_parts_done(struct store_redis *r, const char *account, const char *group);

#endif
