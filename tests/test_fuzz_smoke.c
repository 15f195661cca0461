/*
 * Every libFuzzer target for a short run, as part of `make test` (issue 6:
 * CI runs each target briefly): tests/fuzz/run.sh builds the target against
 * the ASan build of libsmpp34 from Debian's source (fetched once into
 * build/fuzz), replays the corpus and fuzzes for FUZZ_SMOKE_S seconds
 * (default 10). A crash, leak, timeout or failed check fails the test; the
 * input is kept under build/fuzz/artifacts. Longer runs: make fuzz.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/testlib.h"

static void
run_target(void **state)
{
    const char *name = *state;
    const char *secs = getenv("FUZZ_SMOKE_S") ? getenv("FUZZ_SMOKE_S") : "10";
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "cd '%s' && sh tests/fuzz/run.sh %s %s 2>&1 | tail -15", tl_top(),
             secs, name);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024], last[1024] = "";
    while (fgets(line, sizeof(line), p)) {
        fputs(line, stderr);
        if (strstr(line, "passed,"))
            snprintf(last, sizeof(last), "%s", line);
    }
    pclose(p);
    if (strstr(last, "1 passed, 0 failed") == NULL)
        fail_msg("%s: %s", name, last[0] ? last : "run.sh printed no result");
}

int
main(void)
{
    static char names[32][64];
    struct CMUnitTest tests[32];
    int n = 0;
    char dir[600];

    snprintf(dir, sizeof(dir), "%s/tests/fuzz", tl_top());
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 32;) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "fuzz_", 5) != 0 || l < 3 || strcmp(e->d_name + l - 2, ".c") != 0)
            continue;
        snprintf(names[n], sizeof(names[n]), "%.*s", (int)(l - 2), e->d_name);
        tests[n] = (struct CMUnitTest){ .name = names[n], .test_func = run_target,
                                        .initial_state = names[n] };
        n++;
    }
    closedir(d);
    return _cmocka_run_group_tests("fuzz_smoke", tests, (size_t)n, NULL, NULL);
}
