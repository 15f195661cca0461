/*
 * Interoperability with an SMPP implementation not written here: node-smpp
 * (npm `smpp`, pinned in tests/interop/package-lock.json), both ways:
 *   - our ESME session binds to node-smpp's server, submits, gets receipts;
 *   - node-smpp's client binds to our smsc-sim, submits, gets receipts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "smpp/smpp_client.h"
#include "tests/testlib.h"

struct ix {
    struct event_base *base;
    enum smpp_state state;
    unsigned resp_ok, receipts, matched;
    char ids[8][66];
    unsigned nids;
};

#define RUN_UNTIL(x, cond, ms) TL_RUN_UNTIL((x)->base, cond, ms)

static void
on_state(struct smpp_session *s, enum smpp_state from, enum smpp_state to, const char *reason,
         void *ctx)
{
    struct ix *x = ctx;
    (void)s;
    (void)from;
    (void)reason;
    x->state = to;
}

static void
on_request(struct smpp_session *s, const struct smpp_pdu *req, void *ctx)
{
    struct ix *x = ctx;

    if (req->hdr.command_id == DELIVER_SM && (req->u.deliver_sm.esm_class & 0x04)) {
        x->receipts++;
        for (unsigned i = 0; i < x->nids; i++)
            if ((req->tlv.present & SMPP_TLV_RECEIPTED_MESSAGE_ID) &&
                strcmp(req->tlv.receipted_message_id, x->ids[i]) == 0)
                x->matched++;
    }
    smpp_session_respond_status(s, &req->hdr, ESME_ROK);
}

static void
on_resp(struct smpp_session *s, enum smpp_req_result r, const struct smpp_pdu *resp, void *arg)
{
    struct ix *x = arg;
    (void)s;
    if (r == SMPP_REQ_RESP && resp->hdr.command_status == ESME_ROK && resp->has_body &&
        x->nids < 8) {
        x->resp_ok++;
        snprintf(x->ids[x->nids++], 66, "%s", (const char *)resp->u.submit_sm_resp.message_id);
    }
}

static const struct smpp_session_ops ops = { .on_state = on_state, .on_request = on_request };

static bool
file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;

    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void
test_our_esme_binds_to_node_smpp_server(void **state)
{
    struct ix x = { 0 };
    char *dir = tl_tmpdir(), log[4200], script[4200], portstr[16];
    int port = tl_free_port();
    (void)state;

    snprintf(log, sizeof(log), "%s/node-server.log", dir);
    snprintf(script, sizeof(script), "%s/tests/interop/server.js", tl_top());
    snprintf(portstr, sizeof(portstr), "%d", port);
    char *argv[] = { "/usr/bin/env", "node", script, portstr, "acme", "secret", NULL };
    pid_t pid = tl_spawn(argv, log);
    if (!tl_wait_port(port, 10000)) {
        tl_dump_file(log);
        fail_msg("node-smpp server did not start");
    }

    x.base = event_base_new();
    struct smpp_client_cfg cc = {
        .name = "node", .host = "127.0.0.1", .port = port,
        .bind = { .mode = SMPP_BIND_TRX, .system_id = "acme", .password = "secret" },
    };
    smpp_session_cfg_defaults(&cc.session);
    struct smpp_client *c = smpp_client_new(x.base, &cc, &ops, &x);
    smpp_client_start(c);
    RUN_UNTIL(&x, x.state == SMPP_BOUND_TRX, 5000);
    assert_int_equal(x.state, SMPP_BOUND_TRX);

    for (int i = 0; i < 3; i++) {
        static struct smpp_pdu p;
        smpp_pdu_init(&p, SUBMIT_SM, 0, 0);
        strcpy((char *)p.u.submit_sm.source_addr, "12345");
        p.u.submit_sm.source_addr_ton = 3;
        snprintf((char *)p.u.submit_sm.destination_addr, 21, "1415555010%d", i % 10);
        p.u.submit_sm.dest_addr_ton = 1;
        p.u.submit_sm.dest_addr_npi = 1;
        p.u.submit_sm.registered_delivery = 1;
        p.u.submit_sm.sm_length = 11;
        memcpy(p.u.submit_sm.short_message, "hello node!", 11);
        assert_int_equal(smpp_session_send(smpp_client_session(c), &p, on_resp, &x, NULL),
                         SMPP_OK);
    }
    RUN_UNTIL(&x, x.resp_ok == 3 && x.receipts == 3, 5000);
    assert_int_equal(x.resp_ok, 3);
    assert_int_equal(x.receipts, 3);
    assert_int_equal(x.matched, 3);

    smpp_client_stop(c, NULL, NULL);
    RUN_UNTIL(&x, x.state == SMPP_CLOSED, 5000);
    assert_int_equal(x.state, SMPP_CLOSED);
    smpp_client_free(c);
    event_base_free(x.base);
    tl_stop(pid, SIGTERM, 3000);
    if (!file_contains(log, "\"event\":\"unbind\"") ||
        !file_contains(log, "\"text\":\"hello node!\"")) {
        tl_dump_file(log);
        fail_msg("node-smpp server did not see our submit_sm and unbind");
    }
    tl_cleanup_dir(dir);
}

static void
test_node_smpp_client_binds_to_smsc_sim(void **state)
{
    char *dir = tl_tmpdir(), simlog[4200], nodelog[4200], script[4200], portstr[16];
    int port = tl_free_port();
    (void)state;

    snprintf(simlog, sizeof(simlog), "%s/sim.log", dir);
    snprintf(nodelog, sizeof(nodelog), "%s/node-client.log", dir);
    snprintf(script, sizeof(script), "%s/tests/interop/client.js", tl_top());
    snprintf(portstr, sizeof(portstr), "%d", port);
    char *sim[] = { (char *)tl_bin("smsc-sim"), "--port", portstr, "--system-id", "acme",
                    "--password", "secret", "--dlr-delay-ms", "50", "--stats-interval-ms", "0",
                    NULL };
    pid_t spid = tl_spawn(sim, simlog);
    if (!tl_wait_port(port, 10000)) {
        tl_dump_file(simlog);
        fail_msg("smsc-sim did not start");
    }
    char *node[] = { "/usr/bin/env", "node", script, portstr, "acme", "secret", "5", NULL };
    pid_t npid = tl_spawn(node, nodelog);
    int st = tl_stop(npid, 0, 20000);   /* signal 0: just wait for it */
    (void)st;
    int simst = tl_stop(spid, SIGTERM, 10000);
    if (!file_contains(nodelog, "\"bound\":true") || !file_contains(nodelog, "\"resp_ok\":5") ||
        !file_contains(nodelog, "\"receipts\":5") || !file_contains(nodelog, "\"unbound\":true")) {
        tl_dump_file(nodelog);
        tl_dump_file(simlog);
        fail_msg("node-smpp client against smsc-sim did not complete");
    }
    if (!file_contains(nodelog, "\"stats\":[\"DELIVRD\",\"DELIVRD\",\"DELIVRD\",\"DELIVRD\","
                                "\"DELIVRD\"]")) {
        tl_dump_file(nodelog);
        fail_msg("receipts were not DELIVRD");
    }
    /* smsc-sim exits cleanly (and, built with ASan, without a report) */
    if (!tl_exited_ok(simst)) {
        tl_dump_file(simlog);
        fail_msg("smsc-sim did not exit cleanly (status %d)", simst);
    }
    tl_cleanup_dir(dir);
}

int
main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_our_esme_binds_to_node_smpp_server),
        cmocka_unit_test(test_node_smpp_client_binds_to_smsc_sim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
