/*
 * libFuzzer target for the parsers of issue 5 that read outside input:
 * provider webhook bodies (WhatsApp, RBM — anyone can POST to the endpoint
 * until the signature is checked; RBM's check decodes the envelope itself),
 * destination numbers, quiet-hours
 * windows and channel templates. The first byte picks the parser; the
 * rest is its input. Promises checked (abort = crash report):
 *   - a webhook parser's return value is -1 or the number of events it
 *     reported, and every event has a provider id and a known status;
 *   - a valid number has a calling code, an ISO code, a zone, and a length
 *     within E.164; an invalid one says why;
 *   - a parsed window is within the day;
 *   - a template expands to a string no longer than the worst case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/channels/channel.h"
#include "router/numplan.h"
#include "router/quiet.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int events;

static void
on_event(const struct chan_event *ev, void *arg)
{
    (void)arg;
    CHECK(ev->provider_id != NULL);
    CHECK(ev->status == CHAN_SENT || ev->status == CHAN_DELIVERED || ev->status == CHAN_READ ||
          ev->status == CHAN_FAILED);
    CHECK(ev->status != CHAN_FAILED || ev->error != NULL);
    events++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct numplan *np;
    if (size < 1)
        return 0;
    if (!np) {
        np = numplan_new();
        numplan_add_range(np, "4420", NUMPLAN_LANDLINE);
        numplan_add_range(np, "1900", NUMPLAN_NO_SMS);
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *s = malloc(len + 1);      /* NUL-terminated copy for string APIs */
    if (!s)
        abort();
    memcpy(s, body, len);
    s[len] = '\0';

    switch (data[0] % 5) {
    case 0: {
        events = 0;
        int n = chan_ott_parse_webhook(body, len, on_event, NULL);
        CHECK(n == -1 ? events == 0 : n == events);
        break;
    }
    case 1: {
        events = 0;
        int n = chan_rcs_parse_webhook(body, len, on_event, NULL);
        CHECK(n == -1 ? events == 0 : n == events && n <= 1);
        /* The signature check reads the envelope too, before anything is trusted. */
        CHECK(!chan_rcs_verify_signature(body, len, "AAAA", "client-token-0123"));
        break;
    }
    case 2: {
        struct numplan_info in;
        numplan_lookup(np, s, &in);
        CHECK(in.valid == (in.why == NUMPLAN_OK));
        if (in.valid) {
            CHECK(in.cc[0] && strlen(in.iso) == 2 && in.tz);
            CHECK(strlen(in.cc) + in.nsn_len <= 15);
        }
        if (in.why == NUMPLAN_E_SYNTAX || in.why == NUMPLAN_E_COUNTRY)
            CHECK(!in.sms_capable && !in.tz && !in.cc[0]);
        else
            CHECK(in.sms_capable == (in.kind == NUMPLAN_UNKNOWN || in.kind == NUMPLAN_MOBILE));
        break;
    }
    case 3: {
        struct quiet_window w;
        if (quiet_window_parse(s, &w))
            CHECK(w.start_min <= 1440 && w.end_min <= 1440);
        break;
    }
    case 4: {
        struct chan_msg m = { .id = "id-1", .from = "12345", .to = "+14155550100",
                              .text = "{{text}}{{id}}" };
        char *out = chan_template(s, &m);
        /* Each input byte expands at most to the longest value (14 bytes). */
        CHECK(strlen(out) <= 14 * strlen(s));
        free(out);
        break;
    }
    }
    free(s);
    return 0;
}
