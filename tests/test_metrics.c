/*
 * core/metrics: the Prometheus text it renders (HELP/TYPE lines, label
 * escaping, cumulative histogram buckets, gauges dropped by a clear).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

static char *
render(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    metrics_render(f);
    fclose(f);
    return text;
}

static void
test_counters_and_escaping(void **state)
{
    char l[200];
    (void)state;
    metrics_labels(l, sizeof(l), "route", "we\"ird\\name\n", NULL, NULL);
    assert_string_equal(l, "route=\"we\\\"ird\\\\name\\n\"");
    double *c = metrics_counter("smsgw_route_submitted_total", l);
    (*c)++;
    (*c)++;
    metrics_inc("smsgw_route_submitted_total", l);
    assert_true(metrics_counter("smsgw_route_submitted_total", l) == c);
    char *t = render();
    assert_non_null(strstr(t, "# HELP smsgw_route_submitted_total "));
    assert_non_null(strstr(t, "# TYPE smsgw_route_submitted_total counter\n"));
    assert_non_null(strstr(t, "smsgw_route_submitted_total{route=\"we\\\"ird\\\\name\\n\"} 3\n"));
    free(t);
    metrics_msg_state("delivered");
    metrics_msg_state("delivered");
    assert_true(metrics_value("smsgw_messages_total", "state=\"delivered\"") == 2);
    metrics_free();
    assert_true(metrics_value("smsgw_messages_total", "state=\"delivered\"") == 0);
}

static void
test_histogram_buckets_cumulative(void **state)
{
    (void)state;
    struct metrics_histo *h = metrics_histo("smsgw_submit_resp_seconds", "smsc=\"a\"");
    metrics_observe(h, 0.0004);     /* first bucket */
    metrics_observe(h, 0.003);      /* le 0.005 */
    metrics_observe(h, 99);         /* +Inf only */
    char *t = render();
    assert_non_null(strstr(t, "# TYPE smsgw_submit_resp_seconds histogram\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_bucket{smsc=\"a\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_bucket{smsc=\"a\",le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_bucket{smsc=\"a\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_bucket{smsc=\"a\",le=\"5\"} 2\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_bucket{smsc=\"a\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_count{smsc=\"a\"} 3\n"));
    assert_non_null(strstr(t, "smsgw_submit_resp_seconds_sum{smsc=\"a\"} 99.0034\n"));
    free(t);
    metrics_free();
}

static void
test_gauges_cleared(void **state)
{
    (void)state;
    metrics_gauge_set("smsgw_route_queue_depth", "route=\"gone\"", 12);
    metrics_counter_set("smsgw_smsc_reconnects_total", "smsc=\"s\",session=\"s#1\"", 4);
    char *t = render();
    assert_non_null(strstr(t, "smsgw_route_queue_depth{route=\"gone\"} 12\n"));
    free(t);
    metrics_gauges_clear();
    t = render();
    assert_null(strstr(t, "route=\"gone\""));
    /* counters survive a clear */
    assert_non_null(strstr(t, "smsgw_smsc_reconnects_total{smsc=\"s\",session=\"s#1\"} 4\n"));
    free(t);
    metrics_free();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_and_escaping),
        cmocka_unit_test(test_histogram_buckets_cumulative),
        cmocka_unit_test(test_gauges_cleared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
