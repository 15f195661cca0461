#include "router/router_keywords.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *word;
    enum mo_keyword kw;
} words[] = {
    { "STOP", MO_KW_STOP }, { "STOPALL", MO_KW_STOP }, { "UNSUBSCRIBE", MO_KW_STOP },
    { "CANCEL", MO_KW_STOP }, { "END", MO_KW_STOP }, { "QUIT", MO_KW_STOP },
    { "START", MO_KW_START }, { "UNSTOP", MO_KW_START }, { "YES", MO_KW_START },
    { "HELP", MO_KW_HELP }, { "INFO", MO_KW_HELP },
};

/* Spaces and ASCII punctuation around the word, and the non-breaking space
 * phones insert, do not count. */
static size_t
skip_edge(const unsigned char *s, size_t len, size_t i, int dir)
{
    for (;;) {
        if (dir > 0 ? i >= len : i == 0)
            return i;
        size_t at = dir > 0 ? i : i - 1;
        unsigned char c = s[at];
        if (isspace(c) || ispunct(c)) {
            i = dir > 0 ? i + 1 : i - 1;
            continue;
        }
        /* U+00A0 as UTF-8: C2 A0 */
        if (dir > 0 && c == 0xC2 && at + 1 < len && s[at + 1] == 0xA0) {
            i += 2;
            continue;
        }
        if (dir < 0 && c == 0xA0 && at >= 1 && s[at - 1] == 0xC2) {
            i -= 2;
            continue;
        }
        return i;
    }
}

bool
mo_keyword_is(const char *text, size_t len, const char *word)
{
    const unsigned char *s = (const unsigned char *)text;

    if (!text || !word)
        return false;
    size_t a = skip_edge(s, len, 0, +1), b = skip_edge(s, len, len, -1);
    return b > a && strlen(word) == b - a && strncasecmp(text + a, word, b - a) == 0;
}

enum mo_keyword
mo_keyword_of(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;

    if (!text)
        return MO_KW_NONE;
    size_t a = skip_edge(s, len, 0, +1), b = skip_edge(s, len, len, -1);

    if (b <= a || b - a > 16)
        return MO_KW_NONE;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i].word) == b - a && strncasecmp(text + a, words[i].word, b - a) == 0)
            return words[i].kw;
    return MO_KW_NONE;
}

const char *
mo_keyword_name(enum mo_keyword k)
{
    switch (k) {
    case MO_KW_STOP: return "stop";
    case MO_KW_START: return "start";
    case MO_KW_HELP: return "help";
    default: return "";
    }
}

const char *
mo_keyword_reply(enum mo_keyword k, const char *help_text, char *buf, size_t size)
{
    switch (k) {
    case MO_KW_STOP:
        snprintf(buf, size, "You are unsubscribed and will receive no more messages from this "
                            "number. Reply START to resubscribe.");
        break;
    case MO_KW_START:
        snprintf(buf, size, "You are subscribed again. Reply HELP for help, STOP to opt out. "
                            "Msg&data rates may apply.");
        break;
    case MO_KW_HELP:
        snprintf(buf, size, "%s Reply STOP to opt out. Msg&data rates may apply.",
                 help_text && *help_text ? help_text : "Customer care: reply with your question.");
        break;
    default:
        if (size)
            buf[0] = 0;
    }
    return buf;
}
