/*
 * core/log.c: logfmt lines to a file, block buffering (flushed by the timer,
 * at once for warn), and the warn flood limit: at most 50 warn lines of one
 * event a second, the rest counted in one log_suppressed line, info lines
 * never dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "tests/testlib.h"

static int
count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    if (f)
        fclose(f);
    return n;
}

static void
wait_next_second(void)
{
    time_t t = time(NULL);
    while (time(NULL) == t)
        usleep(10000);
}

static void
test_warn_flood_is_summarised(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), path[600];
    snprintf(path, sizeof(path), "%s/log", dir);
    assert_true(log_open(path));
    struct event_base *base = event_base_new();
    log_buffer(base, 100);

    wait_next_second();     /* all 500 in one second (well under a second of work) */
    for (int i = 0; i < 500; i++) {
        log_event(LOG_WARN, "flood_test", "n=%d", i);
        log_event(LOG_INFO, "msg_state", "msg_id=m%d state=queued", i);
    }
    /* warn lines go out at once; info lines wait for the timer */
    assert_int_equal(count(path, "event=flood_test"), 50);
    TL_RUN_UNTIL(base, count(path, "event=msg_state") == 500, 2000);
    assert_int_equal(count(path, "event=msg_state"), 500);
    /* the summary comes once that second is over */
    wait_next_second();
    TL_RUN_UNTIL(base, count(path, "event=log_suppressed") == 1, 2000);
    assert_int_equal(count(path, "event=log_suppressed suppressed_event=flood_test lines=450"), 1);
    /* a new second: lines flow again */
    log_event(LOG_WARN, "flood_test", "n=again");
    assert_int_equal(count(path, "n=again"), 1);
    assert_int_equal(count(path, "level=warn prog="), 0);      /* no prog set */
    log_unbuffer();
    event_base_free(base);
    tl_cleanup_dir(dir);
}

/* log_trace: the named debug events at level info, written buffered like
 * info lines; other debug events stay out; n = 0 clears the list. */
static void
test_trace_events(void **state)
{
    (void)state;
    char *dir = tl_tmpdir(), path[600];
    snprintf(path, sizeof(path), "%s/log", dir);
    assert_true(log_open(path));
    struct event_base *base = event_base_new();
    log_buffer(base, 100);
    log_set_level(LOG_INFO);

    const char *ev[] = { "submit_sm", "pacer_grant" };
    log_set_trace(ev, 2);
    assert_true(log_traced("submit_sm"));
    assert_false(log_traced("submit_sm_resp"));
    assert_true(log_on(LOG_DEBUG, "pacer_grant"));
    assert_false(log_on(LOG_DEBUG, "pacer_wait"));
    assert_true(log_on(LOG_INFO, "pacer_wait"));
    for (int i = 0; i < 20; i++) {
        log_event(LOG_DEBUG, "submit_sm", "n=%d", i);
        log_event(LOG_DEBUG, "pacer_wait", "n=%d", i);
        log_event(LOG_DEBUG, "submit_sm_resp", "n=%d", i);
    }
    assert_int_equal(count(path, "event=submit_sm "), 0);     /* buffered, not yet out */
    TL_RUN_UNTIL(base, count(path, "event=submit_sm ") == 20, 2000);
    assert_int_equal(count(path, "level=debug event=submit_sm n="), 20);
    assert_int_equal(count(path, "event=pacer_wait"), 0);
    assert_int_equal(count(path, "event=submit_sm_resp"), 0);

    log_set_trace(NULL, 0);
    assert_false(log_on(LOG_DEBUG, "submit_sm"));
    log_event(LOG_DEBUG, "submit_sm", "n=late");
    log_flush();
    assert_int_equal(count(path, "n=late"), 0);
    /* at level debug everything is written, traced or not */
    log_set_level(LOG_DEBUG);
    log_event(LOG_DEBUG, "pacer_wait", "n=debug");
    assert_int_equal(count(path, "n=debug"), 1);
    log_set_level(LOG_INFO);
    log_unbuffer();
    event_base_free(base);
    tl_cleanup_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warn_flood_is_summarised),
        cmocka_unit_test(test_trace_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
