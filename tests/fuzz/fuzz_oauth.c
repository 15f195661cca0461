/*
 * libFuzzer target for the OAuth token endpoint's answer
 * (router/channels/oauth.c: oauth_parse_answer), which comes from the
 * network. The first byte picks the HTTP code (even: 200, odd: 400); the
 * rest is the body. Promises checked (abort = crash report):
 *   - a token is returned only for 200, non-empty, at most 4 KiB, without
 *     spaces or line breaks (it goes into a header), with a lifetime of
 *     1 s to a day;
 *   - otherwise the reason is set and the detail is a bounded string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/channels/oauth.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    long code = data[0] % 2 ? 400 : 200;
    char *body = malloc(size);
    if (!body)
        abort();
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';

    char *tok = NULL, why[64] = "", detail[300] = "";
    long long exp = -1;
    int rc = oauth_parse_answer(code, body, &tok, &exp, why, sizeof(why), detail, sizeof(detail));
    if (rc == 0) {
        CHECK(code == 200 && tok && *tok && strlen(tok) <= 4096);
        CHECK(!strpbrk(tok, "\r\n "));
        CHECK(exp >= 1 && exp <= 86400);
    } else {
        CHECK(rc == -1 && !tok && exp == 0 && why[0]);
        CHECK(strlen(detail) < sizeof(detail));
    }
    free(tok);
    free(body);
    return 0;
}
