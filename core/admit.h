/*
 * Admission policy for a message the API (or the SMPP front) is accepting:
 * the checks that need the numbering plan and the clock rather than the
 * request's syntax. Pure and synchronous; the Redis parts (frequency caps)
 * are the backend's.
 *
 *   - the destination through router/numplan: invalid → 400 invalid_to with
 *     the reason; a configured no-SMS range → 422 not_sms_capable (unless
 *     the message has a fallback chain, which then carries it);
 *   - send_at: in the future, at most the validity ahead;
 *   - quiet hours (router/quiet) for marketing messages: held until the
 *     number's local window opens.
 *
 * The clock quiet hours are judged by is time(NULL) plus the environment
 * variable SMSGW_TEST_NOW_OFFSET_S (seconds, may be negative), read once.
 * It exists for tests only ("make it 23:00 in New York"); never set it in
 * production. Due times stored in Redis are always real time.
 */
#ifndef CORE_ADMIT_H
#define CORE_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cfg_account;
struct gw_config;

/* The test clock offset (0 unless SMSGW_TEST_NOW_OFFSET_S is set). */
long admit_clock_offset(void);

/*
 * RFC 3339 date-time ("2026-11-27T18:00:00Z", "...T13:00:00.5-05:00") or
 * epoch seconds as digits → *out (UTC seconds). false if malformed.
 */
bool admit_parse_time(const char *s, size_t len, time_t *out);

/* "2026-11-27T18:00:00Z" */
void admit_format_time(time_t t, char out[32]);

/*
 * Check digits (E.164 without '+') against the numbering plan. Returns 0,
 * or the HTTP status (400 invalid number, 422 not SMS-capable when
 * !has_fallback) with *code and msg (what to fix) set. *no_sms is set when
 * the number cannot take SMS (so a fallback chain must carry it).
 */
int admit_check_number(const struct gw_config *cfg, const char *digits, bool has_fallback,
                       bool *no_sms, const char **code, char *msg, size_t msgsz);

/*
 * When may the message go (real epoch ms; 0 = now)? send_at (0: none) and,
 * for marketing, quiet hours at the later of now and send_at, in acct's own
 * window when it has one (acct may be NULL). hold_state
 * is set to "scheduled" or "held" (NULL when 0 is returned) and detail to
 * the history text ("send_at=..." or "quiet_hours release=... zone=...").
 */
uint64_t admit_release(const struct gw_config *cfg, const struct cfg_account *acct,
                       const char *digits, bool marketing, time_t send_at,
                       const char **hold_state, char *detail, size_t detailsz);

#endif
