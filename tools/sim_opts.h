/*
 * smsc-sim: the command line. Every flag is declared once in long_opts,
 * parsed with its range in parse_opts(), and cross-checked after the loop;
 * every error is reported, not only the first.
 *
 * Included by tools/smsc-sim.c only; everything is static.
 */
#ifndef SIM_OPTS_H
#define SIM_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_pdu.h"
#include "tools/sim_util.h"

#define DLR_DELAY_MAX_MS    600000u

struct dlr_mix {
    unsigned n;
    enum smpp_dlr_stat stat[8];
    uint32_t cum[8];            /* cumulative weights (ppm) */
    uint32_t total;
};

struct opts {
    const char *addr;
    int port;                   /* -1: not given */
    const char *tls_cert, *tls_key, *tls_ca;
    bool tls_verify_client;
    const char *accounts_file;
    const char *system_id, *password;
    const char *smsc_id;
    unsigned dlr_delay_min, dlr_delay_max;
    struct dlr_mix mix;
    enum sim_id_format id_fmt, dlr_id_fmt;
    bool dlr_id_fmt_set;
    bool dlr_date_seconds;
    bool no_dlr_tlvs;           /* --no-dlr-tlvs: receipt text only */
    uint64_t id_start;
    bool id_start_set;
    unsigned throttle;
    unsigned close_after;
    bool close_unbind;          /* --unbind-after: unbind instead of dropping */
    unsigned resp_delay_ms;
    uint32_t withhold_ppm, reject_ppm;
    uint32_t reject_status;
    const char *mo_file;
    unsigned mo_rate;
    const char *mo_system_id;
    int control_port;           /* -1: off */
    unsigned stats_interval_ms;
    unsigned window, peer_window;
    unsigned max_binds, max_messages, dlr_queue;
    unsigned concat_max, concat_timeout_s;
    uint64_t seed;
    bool seed_set;
    enum log_level log_level;
    bool check;
};

static void
usage(FILE *f)
{
    fputs(
"usage: smsc-sim --port P [options]\n"
"\n"
"An SMPP 3.4 SMSC simulator for load and integration tests.\n"
"\n"
"Listening:\n"
"  --port P                 SMPP port (0: any free port, logged as smpp_listen)\n"
"  --addr A                 address to listen on (default 127.0.0.1)\n"
"  --tls-cert C --tls-key K TLS with this certificate and key\n"
"  --tls-ca CA              CA for client certificates\n"
"  --tls-verify-client      require a client certificate signed by --tls-ca\n"
"  --smsc-id ID             system_id in bind resps (default smsc-sim)\n"
"  --max-binds N            concurrent sessions (default 1024)\n"
"  --window N               our outstanding deliver_sm per bind (default 1024)\n"
"  --peer-window N          the ESME's unanswered requests per bind before the\n"
"                           session answers ESME_RTHROTTLED (default 1000000)\n"
"\n"
"Accounts (neither: any system_id and password are accepted):\n"
"  --accounts FILE          libconfig file: accounts = ( { system_id = \"x\";\n"
"                           password = \"y\"; throttle = 0; }, ... );\n"
"  --system-id ID --password PW   a single account\n"
"\n"
"Messages and receipts:\n"
"  --id-format hex|HEX|dec  message_id format (default hex, lowercase)\n"
"  --id-start N             first message id (default: from the clock)\n"
"  --dlr-delay-ms N|MIN-MAX receipt delay after the resp (default 0)\n"
"  --dlr-mix STAT=PCT,...   outcomes, e.g. DELIVRD=90,UNDELIV=5,EXPIRED=3,REJECTD=2\n"
"                           (default DELIVRD=100)\n"
"  --dlr-id-format hex|HEX|dec  id form in receipts (default: as --id-format)\n"
"  --dlr-date-seconds       12-digit receipt dates (YYMMDDhhmmss)\n"
"  --no-dlr-tlvs            receipts carry the text only, no receipted_message_id\n"
"                           or message_state TLVs (as some SMSCs send them)\n"
"  --dlr-queue N            receipts held per system_id while no receiver is\n"
"                           bound or the window is full (default 100000)\n"
"  --max-messages N         recent-messages table for query/cancel/replace and\n"
"                           scheduled receipts, rounded up to a power of two\n"
"                           (default 524288)\n"
"  --concat-max N           open concatenated messages tracked (default 65536)\n"
"  --concat-timeout-s N     expire incomplete ones after this (default 60)\n"
"\n"
"Faults:\n"
"  --throttle N             submit_sm per second per bind, then ESME_RTHROTTLED\n"
"  --close-after N          drop the connection (TCP close) after N submit_sm on\n"
"                           a bind; resps the peer has not read may be lost\n"
"  --unbind-after N         the same, but unbind first (the N resps arrive)\n"
"  --resp-delay-ms N        delay every submit_sm_resp by N ms\n"
"  --withhold-pct P         never answer P% of submit_sm\n"
"  --reject-pct P           answer P% of submit_sm with --reject-status\n"
"  --reject-status S        the status (default 0x45 ESME_RSUBMITFAIL)\n"
"  --seed N                 random seed (default: from the clock)\n"
"\n"
"MO and control:\n"
"  --mo-file FILE           lines from,to,text sent as deliver_sm to receivers\n"
"  --mo-rate N              MO per second from --mo-file (default 10)\n"
"  --mo-system-id ID        send MO only to binds of this system_id\n"
"  --control-port P         loopback line protocol: mo FROM TO TEXT | reject PCT [STATUS] |\n"
"                           stats | quit | help\n"
"\n"
"Output:\n"
"  --stats-interval-ms N    stats line to stderr every N ms (default 1000, 0 off)\n"
"  --log-level L            debug, info, warn, error (default info)\n"
"  --check                  validate flags and files, then exit\n"
"  --help                   this text\n"
"\n"
"On SIGINT/SIGTERM it unbinds every session and prints a JSON summary on stdout.\n",
          f);
}

enum {
    O_PORT = 256, O_ADDR, O_TLS_CERT, O_TLS_KEY, O_TLS_CA, O_TLS_VERIFY, O_ACCOUNTS,
    O_SYSTEM_ID, O_PASSWORD, O_SMSC_ID, O_DLR_DELAY, O_DLR_MIX, O_ID_FORMAT, O_DLR_ID_FORMAT,
    O_ID_START, O_THROTTLE, O_CLOSE_AFTER, O_RESP_DELAY, O_WITHHOLD, O_REJECT, O_REJECT_STATUS,
    O_MO_FILE, O_MO_RATE, O_MO_SYSTEM_ID, O_CONTROL_PORT, O_STATS_INTERVAL, O_WINDOW,
    O_PEER_WINDOW, O_MAX_BINDS, O_MAX_MESSAGES, O_DLR_QUEUE, O_CONCAT_MAX, O_CONCAT_TIMEOUT,
    O_SEED, O_LOG_LEVEL, O_CHECK, O_HELP, O_DLR_DATE_SECONDS, O_UNBIND_AFTER, O_NO_DLR_TLVS,
};

static const struct option long_opts[] = {
    { "port", required_argument, NULL, O_PORT },
    { "addr", required_argument, NULL, O_ADDR },
    { "tls-cert", required_argument, NULL, O_TLS_CERT },
    { "tls-key", required_argument, NULL, O_TLS_KEY },
    { "tls-ca", required_argument, NULL, O_TLS_CA },
    { "tls-verify-client", no_argument, NULL, O_TLS_VERIFY },
    { "accounts", required_argument, NULL, O_ACCOUNTS },
    { "system-id", required_argument, NULL, O_SYSTEM_ID },
    { "password", required_argument, NULL, O_PASSWORD },
    { "smsc-id", required_argument, NULL, O_SMSC_ID },
    { "dlr-delay-ms", required_argument, NULL, O_DLR_DELAY },
    { "dlr-mix", required_argument, NULL, O_DLR_MIX },
    { "id-format", required_argument, NULL, O_ID_FORMAT },
    { "dlr-id-format", required_argument, NULL, O_DLR_ID_FORMAT },
    { "dlr-date-seconds", no_argument, NULL, O_DLR_DATE_SECONDS },
    { "no-dlr-tlvs", no_argument, NULL, O_NO_DLR_TLVS },
    { "id-start", required_argument, NULL, O_ID_START },
    { "throttle", required_argument, NULL, O_THROTTLE },
    { "close-after", required_argument, NULL, O_CLOSE_AFTER },
    { "unbind-after", required_argument, NULL, O_UNBIND_AFTER },
    { "resp-delay-ms", required_argument, NULL, O_RESP_DELAY },
    { "withhold-pct", required_argument, NULL, O_WITHHOLD },
    { "reject-pct", required_argument, NULL, O_REJECT },
    { "reject-status", required_argument, NULL, O_REJECT_STATUS },
    { "mo-file", required_argument, NULL, O_MO_FILE },
    { "mo-rate", required_argument, NULL, O_MO_RATE },
    { "mo-system-id", required_argument, NULL, O_MO_SYSTEM_ID },
    { "control-port", required_argument, NULL, O_CONTROL_PORT },
    { "stats-interval-ms", required_argument, NULL, O_STATS_INTERVAL },
    { "window", required_argument, NULL, O_WINDOW },
    { "peer-window", required_argument, NULL, O_PEER_WINDOW },
    { "max-binds", required_argument, NULL, O_MAX_BINDS },
    { "max-messages", required_argument, NULL, O_MAX_MESSAGES },
    { "dlr-queue", required_argument, NULL, O_DLR_QUEUE },
    { "concat-max", required_argument, NULL, O_CONCAT_MAX },
    { "concat-timeout-s", required_argument, NULL, O_CONCAT_TIMEOUT },
    { "seed", required_argument, NULL, O_SEED },
    { "log-level", required_argument, NULL, O_LOG_LEVEL },
    { "check", no_argument, NULL, O_CHECK },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

static bool
parse_id_format(const char *s, enum sim_id_format *f)
{
    if (strcmp(s, "hex") == 0)
        *f = SIM_ID_HEX;
    else if (strcmp(s, "HEX") == 0)
        *f = SIM_ID_HEX_UPPER;
    else if (strcmp(s, "dec") == 0)
        *f = SIM_ID_DEC;
    else
        return false;
    return true;
}

static bool
parse_delay(const char *s, unsigned *lo, unsigned *hi)
{
    const char *dash = strchr(s, '-');
    char a[24];

    if (!dash)
        return sim_parse_uint(s, 0, DLR_DELAY_MAX_MS, lo) && (*hi = *lo, true);
    if ((size_t)(dash - s) >= sizeof(a))
        return false;
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = '\0';
    return sim_parse_uint(a, 0, DLR_DELAY_MAX_MS, lo) &&
           sim_parse_uint(dash + 1, 0, DLR_DELAY_MAX_MS, hi) && *lo <= *hi;
}

/* STAT=PCT,STAT=PCT,... with final stats only; weights need not sum to 100. */
static bool
parse_mix(const char *s, struct dlr_mix *m, char *err, size_t errsz)
{
    uint32_t sum = 0;

    memset(m, 0, sizeof(*m));
    while (*s) {
        const char *comma = strchr(s, ','), *eq = strchr(s, '=');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        enum smpp_dlr_stat st;
        uint32_t ppm;

        if (!eq || eq > s + len) {
            snprintf(err, errsz, "`%.*s`: expected STAT=PERCENT", (int)len, s);
            return false;
        }
        st = smpp_dlr_stat_from_name(s, (size_t)(eq - s));
        if (st == SMPP_DLR_STAT_NONE || st == SMPP_DLR_STAT_ENROUTE) {
            snprintf(err, errsz, "`%.*s`: not a final state (DELIVRD, UNDELIV, EXPIRED, "
                     "REJECTD, DELETED, UNKNOWN, ACCEPTD)", (int)(eq - s), s);
            return false;
        }
        if (!sim_parse_pct(eq + 1, len - (size_t)(eq + 1 - s), &ppm)) {
            snprintf(err, errsz, "`%.*s`: percentage 0..100 expected", (int)len, s);
            return false;
        }
        for (unsigned k = 0; k < m->n; k++) {
            if (m->stat[k] == st) {
                snprintf(err, errsz, "%s given twice", smpp_dlr_stat_name(st));
                return false;
            }
        }
        if (m->n == 8) {
            snprintf(err, errsz, "too many entries");
            return false;
        }
        if (ppm) {
            sum += ppm;
            m->stat[m->n] = st;
            m->cum[m->n] = sum;
            m->n++;
        }
        s += len;
        if (*s == ',')
            s++;
    }
    if (sum == 0) {
        snprintf(err, errsz, "the weights add up to zero");
        return false;
    }
    m->total = sum;
    return true;
}

static uint32_t
round_pow2(uint32_t v)
{
    uint32_t p = 1;

    while (p < v && p < (1u << 31))
        p <<= 1;
    return p;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error (reported). */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
    int c, errors = 0;
    char err[200];

#define BAD(...) do { fprintf(stderr, "smsc-sim: " __VA_ARGS__); fputc('\n', stderr); \
                      errors++; } while (0)
    memset(o, 0, sizeof(*o));
    o->addr = "127.0.0.1";
    o->port = -1;
    o->smsc_id = "smsc-sim";
    o->mix.n = 1;
    o->mix.stat[0] = SMPP_DLR_STAT_DELIVRD;
    o->mix.cum[0] = o->mix.total = 1000000;
    o->id_fmt = SIM_ID_HEX;
    o->reject_status = ESME_RSUBMITFAIL;
    o->mo_rate = 10;
    o->control_port = -1;
    o->stats_interval_ms = 1000;
    o->window = 1024;
    o->peer_window = 1000000;
    o->max_binds = 1024;
    o->max_messages = 524288;
    o->dlr_queue = 100000;
    o->concat_max = 65536;
    o->concat_timeout_s = 60;
    o->log_level = LOG_INFO;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        unsigned u;
        switch (c) {
        case O_PORT:
            if (!sim_parse_uint(optarg, 0, 65535, &u))
                BAD("--port: expected 0..65535, got `%s`", optarg);
            o->port = (int)u;
            break;
        case O_ADDR: o->addr = optarg; break;
        case O_TLS_CERT: o->tls_cert = optarg; break;
        case O_TLS_KEY: o->tls_key = optarg; break;
        case O_TLS_CA: o->tls_ca = optarg; break;
        case O_TLS_VERIFY: o->tls_verify_client = true; break;
        case O_ACCOUNTS: o->accounts_file = optarg; break;
        case O_SYSTEM_ID:
            if (!*optarg || strlen(optarg) > 15)
                BAD("--system-id: 1 to 15 characters");
            o->system_id = optarg;
            break;
        case O_PASSWORD:
            if (strlen(optarg) > 8)
                BAD("--password: at most 8 characters");
            o->password = optarg;
            break;
        case O_SMSC_ID:
            if (!*optarg || strlen(optarg) > 15)
                BAD("--smsc-id: 1 to 15 characters");
            o->smsc_id = optarg;
            break;
        case O_DLR_DELAY:
            if (!parse_delay(optarg, &o->dlr_delay_min, &o->dlr_delay_max))
                BAD("--dlr-delay-ms: expected N or MIN-MAX within 0..%u, got `%s`",
                    DLR_DELAY_MAX_MS, optarg);
            break;
        case O_DLR_MIX:
            if (!parse_mix(optarg, &o->mix, err, sizeof(err)))
                BAD("--dlr-mix: %s", err);
            break;
        case O_ID_FORMAT:
            if (!parse_id_format(optarg, &o->id_fmt))
                BAD("--id-format: hex, HEX or dec, not `%s`", optarg);
            break;
        case O_DLR_ID_FORMAT:
            if (!parse_id_format(optarg, &o->dlr_id_fmt))
                BAD("--dlr-id-format: hex, HEX or dec, not `%s`", optarg);
            o->dlr_id_fmt_set = true;
            break;
        case O_DLR_DATE_SECONDS: o->dlr_date_seconds = true; break;
        case O_NO_DLR_TLVS: o->no_dlr_tlvs = true; break;
        case O_ID_START:
            if (!sim_parse_u64(optarg, 1, UINT64_MAX / 2, &o->id_start))
                BAD("--id-start: expected a positive number, got `%s`", optarg);
            o->id_start_set = true;
            break;
        case O_THROTTLE:
            if (!sim_parse_uint(optarg, 0, 10000000, &o->throttle))
                BAD("--throttle: expected 0..10000000, got `%s`", optarg);
            break;
        case O_CLOSE_AFTER:
        case O_UNBIND_AFTER:
            if (o->close_after)
                BAD("--close-after and --unbind-after: give one, once");
            if (!sim_parse_uint(optarg, 1, UINT32_MAX, &o->close_after))
                BAD("%s: expected a count >= 1, got `%s`", argv[optind - 1], optarg);
            o->close_unbind = c == O_UNBIND_AFTER;
            break;
        case O_RESP_DELAY:
            if (!sim_parse_uint(optarg, 0, 600000, &o->resp_delay_ms))
                BAD("--resp-delay-ms: expected 0..600000, got `%s`", optarg);
            break;
        case O_WITHHOLD:
            if (!sim_parse_pct(optarg, strlen(optarg), &o->withhold_ppm))
                BAD("--withhold-pct: expected 0..100, got `%s`", optarg);
            break;
        case O_REJECT:
            if (!sim_parse_pct(optarg, strlen(optarg), &o->reject_ppm))
                BAD("--reject-pct: expected 0..100, got `%s`", optarg);
            break;
        case O_REJECT_STATUS: {
            uint64_t v;
            if (!sim_parse_u64(optarg, 1, UINT32_MAX, &v))
                BAD("--reject-status: expected a non-zero status such as 0x45, got `%s`",
                    optarg);
            o->reject_status = (uint32_t)v;
            break;
        }
        case O_MO_FILE: o->mo_file = optarg; break;
        case O_MO_RATE:
            if (!sim_parse_uint(optarg, 1, 1000000, &o->mo_rate))
                BAD("--mo-rate: expected 1..1000000, got `%s`", optarg);
            break;
        case O_MO_SYSTEM_ID: o->mo_system_id = optarg; break;
        case O_CONTROL_PORT:
            if (!sim_parse_uint(optarg, 0, 65535, &u))
                BAD("--control-port: expected 0..65535, got `%s`", optarg);
            o->control_port = (int)u;
            break;
        case O_STATS_INTERVAL:
            if (!sim_parse_uint(optarg, 0, 3600000, &o->stats_interval_ms))
                BAD("--stats-interval-ms: expected 0..3600000, got `%s`", optarg);
            break;
        case O_WINDOW:
            if (!sim_parse_uint(optarg, 1, 65536, &o->window))
                BAD("--window: expected 1..65536, got `%s`", optarg);
            break;
        case O_PEER_WINDOW:
            if (!sim_parse_uint(optarg, 1, 100000000, &o->peer_window))
                BAD("--peer-window: expected 1..100000000, got `%s`", optarg);
            break;
        case O_MAX_BINDS:
            if (!sim_parse_uint(optarg, 1, 60000, &o->max_binds))
                BAD("--max-binds: expected 1..60000, got `%s`", optarg);
            break;
        case O_MAX_MESSAGES:
            if (!sim_parse_uint(optarg, 1024, 1u << 26, &o->max_messages))
                BAD("--max-messages: expected 1024..67108864, got `%s`", optarg);
            break;
        case O_DLR_QUEUE:
            if (!sim_parse_uint(optarg, 0, 1u << 26, &o->dlr_queue))
                BAD("--dlr-queue: expected 0..67108864, got `%s`", optarg);
            break;
        case O_CONCAT_MAX:
            if (!sim_parse_uint(optarg, 0, 1u << 24, &o->concat_max))
                BAD("--concat-max: expected 0..16777216, got `%s`", optarg);
            break;
        case O_CONCAT_TIMEOUT:
            if (!sim_parse_uint(optarg, 1, 86400, &o->concat_timeout_s))
                BAD("--concat-timeout-s: expected 1..86400, got `%s`", optarg);
            break;
        case O_SEED:
            if (!sim_parse_u64(optarg, 0, UINT64_MAX, &o->seed))
                BAD("--seed: expected a number, got `%s`", optarg);
            o->seed_set = true;
            break;
        case O_LOG_LEVEL:
            if (!log_level_parse(optarg, &o->log_level))
                BAD("--log-level: debug, info, warn or error, not `%s`", optarg);
            break;
        case O_CHECK: o->check = true; break;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 1;
        case ':':
            BAD("%s needs a value", argv[optind - 1]);
            break;
        case '?':
        default:
            BAD("unknown option `%s`", argv[optind - 1]);
            break;
        }
    }
    if (optind < argc)
        BAD("unexpected argument `%s`", argv[optind]);
    if (o->port < 0)
        BAD("--port is required");
    if (!o->tls_cert != !o->tls_key)
        BAD("--tls-cert and --tls-key go together");
    if ((o->tls_ca || o->tls_verify_client) && !o->tls_cert)
        BAD("--tls-ca and --tls-verify-client need --tls-cert and --tls-key");
    if (o->tls_verify_client && !o->tls_ca)
        BAD("--tls-verify-client needs --tls-ca");
    if (o->accounts_file && (o->system_id || o->password))
        BAD("--accounts and --system-id/--password exclude each other");
    if (!o->system_id != !o->password)
        BAD("--system-id and --password go together");
    if (o->mo_system_id && (strlen(o->mo_system_id) == 0 || strlen(o->mo_system_id) > 15))
        BAD("--mo-system-id: 1 to 15 characters");
    if ((uint64_t)o->withhold_ppm + o->reject_ppm > 1000000)
        BAD("--withhold-pct and --reject-pct add up to more than 100");
    if (o->control_port >= 0 && o->control_port == o->port && o->port != 0)
        BAD("--control-port must differ from --port");
    if (!o->dlr_id_fmt_set)
        o->dlr_id_fmt = o->id_fmt;
    o->max_messages = round_pow2(o->max_messages);
    if (o->reject_status) {
        /* libsmpp34 packs only the statuses it knows: find out now. */
        struct smpp_pdu p;
        uint8_t buf[64];
        size_t n;
        smpp_pdu_init(&p, SUBMIT_SM_RESP, o->reject_status, 1);
        if (smpp_pdu_pack_buf(&p, buf, sizeof(buf), &n) != 0)
            BAD("--reject-status 0x%X: not a status the PDU layer can send", o->reject_status);
    }
#undef BAD
    if (errors) {
        fprintf(stderr, "smsc-sim: see --help\n");
        return 2;
    }
    return 0;
}

#endif
