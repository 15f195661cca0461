/*
 * Compliance keywords in MO text (CTIA / TCPA practice): STOP and its
 * synonyms opt a subscriber out, START and its synonyms back in, HELP asks
 * for help. A message is a keyword only when, case folded and without the
 * spaces and punctuation around it, it is the keyword and nothing else:
 * "Stop." and "  STOP!! " are, "stop by at 5" is not.
 */
#ifndef ROUTER_KEYWORDS_H
#define ROUTER_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>

enum mo_keyword { MO_KW_NONE = 0, MO_KW_STOP, MO_KW_START, MO_KW_HELP };

/* True when text, trimmed like the compliance keywords, is word (any case). */
bool mo_keyword_is(const char *text, size_t len, const char *word);

/* Classify UTF-8 text. */
enum mo_keyword mo_keyword_of(const char *text, size_t len);
const char *mo_keyword_name(enum mo_keyword k);   /* "stop", "start", "help", "" */

/* The confirmation texts sent back (GSM 7-bit, one segment each). help_text
 * is the account's first sentence (NULL: a generic one). Writes into buf. */
const char *mo_keyword_reply(enum mo_keyword k, const char *help_text, char *buf, size_t size);

#endif
