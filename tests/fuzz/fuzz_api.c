/*
 * libFuzzer target for core/api's request handling: api_validate() (the JSON
 * body of POST /v1/messages, and the per-message check that
 * POST /v1/messages/batch runs on every element) on arbitrary bytes, against
 * a fixed config with every sender kind, a payload route and a UCS-2 limit.
 * Checks: an accepted message has a route, a sender of the account, E.164
 * digits and a text inside the body; a refused one has a code and a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/api.h"
#include "core/config.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw_config *cfg;

static const char conf[] =
    "max_segments = 6;\n"
    "http = { port = 0; max_body = 65536; };\n"
    "smsc = (\n"
    "  { name = \"udh\"; host = \"127.0.0.1\"; port = 2775; system_id = \"gw\"; password = \"pw\"; },\n"
    "  { name = \"pay\"; host = \"127.0.0.1\"; port = 2776; system_id = \"gw\"; password = \"pw\";\n"
    "    concat = \"payload\"; }\n"
    ");\n"
    "senders = (\n"
    "  { address = \"ACME\"; type = \"alphanumeric\"; accounts = [ \"acme\" ]; },\n"
    "  { address = \"12345\"; type = \"shortcode\"; accounts = [ \"acme\" ]; },\n"
    "  { address = \"+18885550100\"; type = \"tollfree\"; accounts = [ \"acme\" ]; },\n"
    "  { address = \"+14155550100\"; type = \"10dlc\"; accounts = [ \"acme\" ]; }\n"
    ");\n"
    "routes = (\n"
    "  { name = \"uk\"; mps = 10; prefixes = [ \"44\" ]; smsc = [ \"pay\" ]; },\n"
    "  { name = \"rest\"; mps = 10; prefixes = [ \"\" ]; smsc = [ \"udh\" ]; }\n"
    ");\n"
    "accounts = (\n"
    "  { name = \"acme\"; api_keys = [ \"sha256:0000000000000000000000000000000000000000000000000000000000000000\" ]; }\n"
    ");\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/fuzz_api_XXXXXX";
    int fd = mkstemp(path);
    (void)argc;
    (void)argv;
    if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1))
        abort();
    close(fd);
    if (config_load(path, &cfg, stderr) != 0)
        abort();
    unlink(path);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct cfg_account *acme = &cfg->accounts[0];
    struct api_msg m;
    void *owner = NULL;
    const char *code = NULL;
    char msg[512];

    int st = api_validate(cfg, acme, (const char *)data, size, &m, &owner, &code, msg, sizeof(msg));
    if (st == 0) {
        CHECK(owner != NULL);
        CHECK(m.route != NULL && m.sender != NULL);
        CHECK(m.account == acme);
        size_t tl = strlen(m.to);
        CHECK(tl >= 8 && tl <= 15);
        for (size_t i = 0; i < tl; i++)
            CHECK(m.to[i] >= '0' && m.to[i] <= '9');
        CHECK(m.text != NULL);
        CHECK(m.segments >= 1 && m.segments <= 6);
        json_object_put(owner);
    } else {
        CHECK(owner == NULL);
        CHECK(st >= 400 && st < 500);
        CHECK(code != NULL && *code);
        CHECK(strlen(msg) > 5);
    }
    return 0;
}
