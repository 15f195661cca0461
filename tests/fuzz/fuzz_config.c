/*
 * libFuzzer target for core/config: config_load() on arbitrary text (written
 * to a scratch file, as smsgwd -t reads one). Every outcome must be either a
 * config that validated (its references resolve: every route's SMSCs and
 * every sender's accounts exist) or a refusal that printed at least one
 * "FILE:LINE: ..." line. Inputs with @include are skipped: a config may
 * include any file, and the fuzzer must not read /dev/zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536 || memmem(data, size, "include", 7))
        return 0;
    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/fuzz_config_%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);

    char *err = NULL;
    size_t errlen = 0;
    FILE *errs = open_memstream(&err, &errlen);
    struct gw_config *cfg = NULL;
    int rc = config_load(path, &cfg, errs);
    fclose(errs);
    if (rc == 0) {
        CHECK(cfg != NULL);
        for (size_t i = 0; i < cfg->nroutes; i++)
            for (size_t k = 0; k < cfg->routes[i].nsmscs; k++)
                CHECK(cfg->routes[i].smscs[k].smsc != NULL);
        config_free(cfg);
    } else {
        CHECK(cfg == NULL);
        /* says where: "PATH:LINE: ..." (or PATH: for a file-level error) */
        CHECK(err != NULL && strstr(err, path) != NULL);
    }
    free(err);
    return 0;
}
