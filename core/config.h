/*
 * smsgwd configuration: libconfig file → validated, immutable struct.
 *
 * config_load() reads and validates in one call and reports every problem,
 * not only the first, as `FILE:LINE: message` lines. A config that loads has
 * passed every check (names unique, references resolved, values in range),
 * so the rest of the daemon never re-validates it. Everything in a struct
 * gw_config is owned by it and freed by config_free().
 */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "router/channels/channel.h"
#include "smpp/smpp_dlr.h"
#include "smpp/smpp_text.h"

struct numplan;
#include "router/quiet.h"

enum sender_type {
    SENDER_SHORTCODE = 0,
    SENDER_TOLLFREE,
    SENDER_10DLC,
    SENDER_ALPHANUMERIC,
    SENDER_TYPE_COUNT
};
/* "shortcode", "tollfree", "10dlc", "alphanumeric" */
const char *sender_type_name(enum sender_type t);
bool sender_type_parse(const char *s, enum sender_type *out);

enum smsc_bind_mode { SMSC_BIND_TRX = 0, SMSC_BIND_TX_RX };

/* Error-rate failover of one SMSC (router/router_health.h,
 * docs/configuration.md "Error-rate failover"). */
struct cfg_error_rate {
    bool enabled;               /* default true */
    double threshold;           /* error share that suspends, 0 < t <= 1; default 0.5 */
    unsigned window_s;          /* sliding window; default 30 */
    unsigned min_samples;       /* outcomes in the window before it may suspend; default 20 */
    unsigned cooldown_s;        /* suspended this long before a probe; default 30 */
    unsigned cooldown_max_s;    /* cap of the doubling after failed probes; default 300 */
    unsigned probes;            /* probe messages let through at once; default 1 */
};

struct cfg_smsc {
    char *name;
    char *host;
    int port;
    bool tls;
    char *tls_ca_file;          /* NULL: system trust store */
    char *tls_cert_file;        /* optional client certificate */
    char *tls_key_file;
    bool tls_verify;            /* default true */
    char *system_id;
    char *password;
    char *system_type;          /* default "" */
    enum smsc_bind_mode bind_mode;  /* "trx" (default) or "tx+rx" */
    unsigned sessions;          /* bind slots (a tx+rx pair counts as one); default 1 */
    unsigned window;            /* default 64 */
    unsigned enquire_link_s;    /* default 30 */
    unsigned response_timeout_ms;   /* default 10000 */
    unsigned reconnect_min_ms;  /* default 500 */
    unsigned reconnect_max_ms;  /* default 30000 */
    uint8_t default_data_coding;    /* data_coding used for GSM 7-bit text: 0 (default) or 1 */
    enum smpp_text_concat concat;   /* "udh8" (default), "udh16", "sar", "payload" */
    enum smpp_dlr_id_format resp_id_format; /* ids in submit_sm_resp: "hex" (default), "decimal", "string" */
    enum smpp_dlr_id_format dlr_id_format;  /* ids in receipts: default = resp_id_format */
    bool short_code_ton_set;    /* override the TON/NPI of short codes on this SMSC */
    uint8_t short_code_ton, short_code_npi;
    struct cfg_error_rate error_rate;
    const char *file;           /* where it was defined, for messages */
    int line;
};

struct cfg_sender {
    char *address;              /* "12345", "+18885550100", "ACME" */
    enum sender_type type;
    uint8_t ton, npi;           /* from the type unless overridden */
    char **accounts;            /* account names allowed to send from it */
    size_t naccounts;
    unsigned mps;               /* 0: no per-sender limit */
    char **kw_words;            /* auto-responder keywords (e.g. "JOIN") ... */
    char **kw_replies;          /* ... and the reply sent to each */
    size_t nkw;
    const char *file;
    int line;
};

struct cfg_route_smsc {
    struct cfg_smsc *smsc;      /* resolved */
    unsigned priority;          /* lower number = preferred; default 0 */
    unsigned weight;            /* default 1 */
};

struct cfg_route {
    char *name;
    unsigned mps;               /* required, >= 1 */
    struct cfg_route_smsc *smscs;
    size_t nsmscs;
    char **prefixes;            /* destination prefixes in E.164 digits without '+'; "" = any */
    size_t nprefixes;
    unsigned sender_types;      /* bit (1u << enum sender_type); default all */
    unsigned retry_attempts;    /* default 5 */
    unsigned retry_backoff_ms;  /* first retry delay; default 1000, doubling */
    unsigned retry_backoff_max_ms;  /* default 60000 */
    unsigned validity_s;        /* default 172800 (48 h) */
    char **accounts;            /* only these accounts' messages; default any */
    size_t naccounts;
    char **classes;             /* only these classes ("transactional", "marketing"); default any */
    size_t nclasses;
    char **fallback;            /* channel names tried after SMS fails; default none */
    size_t nfallback;
    unsigned fallback_receipt_timeout_s;   /* no receipt by then: fallback; default 3600 */
    const char *file;
    int line;
};

/* At most count marketing messages per subscriber per calendar period
 * (store/store_caps). count 0: no cap (the default). */
enum cfg_cap_period { CAP_PERIOD_MONTH = 0, CAP_PERIOD_DAY };
struct cfg_cap {
    unsigned count;
    int period;                 /* enum cfg_cap_period */
};

struct cfg_account {
    char *name;
    char **api_key_sha256;      /* lowercase hex SHA-256 of each API key */
    size_t napi_keys;
    char **senders;             /* addresses of senders it may use (also listed on the sender) */
    size_t nsenders;
    char *callback_url;         /* default for messages without one; may be NULL */
    char *mo_url;               /* where MO for its numbers is POSTed; NULL: stored only */
    char *help_text;            /* the HELP reply's first sentence; NULL: a default */
    int optout_scope;           /* 0 "number": STOP covers the number texted; 1 "account": all its numbers */
    unsigned mps;               /* 0: no cap (also the SMPP submit_sm rate cap) */
    /* SMPP clients (core/smpp_front). No smpp_system_id: no SMPP access. */
    char *smpp_system_id;       /* <= 15 characters, unique across accounts */
    char *smpp_password;        /* "pbkdf2-sha256:ITER:SALT_HEX:HASH_HEX" as written */
    unsigned smpp_pbkdf2_iter;  /* parsed from smpp_password */
    uint8_t smpp_salt[64];
    size_t smpp_salt_len;
    uint8_t smpp_hash[32];
    struct cfg_cidr *smpp_allowed_ips;  /* IPv4 ranges a bind may come from; none: any */
    size_t nsmpp_allowed_ips;
    unsigned smpp_max_binds;    /* concurrent binds; default 4 */
    unsigned smpp_window;       /* submits awaiting our resp per bind; default 64 */
    struct cfg_cap marketing_cap;   /* frequency cap on class marketing; default off */
    int smpp_marketing;         /* 1: its SMPP submits are class marketing ("smpp_class") */
    bool quiet_set;             /* "quiet_hours": its own sending window for marketing */
    struct quiet_window quiet;  /* (else the country's, else the default) */
    const char *file;
    int line;
};

/* An IPv4 range, host byte order: ip & mask == net. */
struct cfg_cidr {
    uint32_t net, mask;
};

/* The SMPP listener for client ESMEs; absent from the file: no listener. */
struct cfg_smpp_server {
    bool enabled;               /* the group is present */
    char *listen;               /* default "127.0.0.1" */
    int port;                   /* default 2775; 0 = any free port */
    unsigned bind_timeout_ms;   /* default 10000 */
    unsigned max_pdu;           /* default 65536 */
    char *tls_cert_file;        /* both set: TLS */
    char *tls_key_file;
};

/* Where MO to one of our numbers goes: to account, for every MO to number
 * or only those whose first word is keyword. Without a matching mo_route an
 * MO goes to the first account allowed to use the number. */
struct cfg_mo_route {
    char *number;               /* a sender address, as configured */
    char *keyword;              /* NULL: any */
    char *account;
    const char *file;
    int line;
};

struct cfg_http {
    char *listen;               /* address, default "127.0.0.1" */
    int port;                   /* default 8080 */
    size_t max_body;            /* default 65536 */
    char *tls_cert_file;        /* both set: HTTPS on the listener */
    char *tls_key_file;
};

struct cfg_redis {
    char *host;                 /* default "127.0.0.1" */
    int port;                   /* default 6379 */
    char *unix_socket;          /* if set, used instead of host:port */
    char *password;             /* optional AUTH */
    char *prefix;               /* key prefix, default "smsgw:" */
    unsigned timeout_ms;        /* command watchdog, default 2000 */
    bool tls;                   /* TLS to host:port (store/store_tls bridge) */
    char *tls_ca_file;          /* NULL: the system's trust store */
    char *tls_cert_file;        /* client certificate (tls-auth-clients), with tls_key_file */
    char *tls_key_file;
    bool tls_verify;            /* default true */
    char *tls_server_name;      /* name checked and sent as SNI; default host */
};

/* Operations (docs/operations.md): the admin socket smsgwctl talks to, an
 * optional TCP admin listener with a token, and who may read GET /metrics
 * and GET /status on the HTTP listener. */
struct cfg_admin {
    char *socket;               /* default "/run/smsgw/admin.sock"; "" = none */
    char *tcp_listen;           /* default "127.0.0.1" */
    int tcp_port;               /* 0 (default): no TCP admin listener */
    char *token_sha256;         /* lowercase hex SHA-256 of the TCP token; required with tcp_port */
    char *http_token_sha256;    /* set: /metrics and /status need this bearer token */
};

struct gw_config {
    char *path;
    char *instance;             /* consumer name; default hostname-pid */
    char *log_level;            /* default "info" */
    char **log_trace;           /* debug events logged at any level (core/log.h) */
    size_t nlog_trace;
    char *log_file;             /* NULL: stderr */
    unsigned max_segments;      /* default 10 */
    unsigned fallback_resume_s; /* a fallback chain without progress this long is resumed; 600 */
    unsigned receipt_grace_s;   /* no receipt by validity end + this: state unknown; 3600 */
    char **alpha_forbidden;     /* calling codes refusing alphanumeric senders; default 1, 52 */
    size_t nalpha_forbidden;
    struct cfg_redis redis;
    struct cfg_http http;
    struct cfg_smpp_server smpp_server;
    struct cfg_admin admin;
    struct cfg_smsc *smscs;
    size_t nsmscs;
    struct cfg_sender *senders;
    size_t nsenders;
    struct cfg_route *routes;
    size_t nroutes;
    struct cfg_account *accounts;
    size_t naccounts;
    struct cfg_mo_route *mo_routes;
    size_t nmo_routes;
    /* Parsed by their modules (docs/numbering.md, docs/channels.md); always set. */
    struct numplan *numplan;    /* "numbering": no-SMS ranges over the built-in plan */
    struct quiet *quiet;        /* "quiet_hours": windows; uses numplan */
    struct chan_config channels;    /* "channels": email, ott, rcs */
};

/*
 * Load and validate path. On success returns 0 and sets *out. Otherwise
 * writes every problem to errs as "FILE:LINE: message" and returns the
 * number of problems (*out untouched).
 */
int config_load(const char *path, struct gw_config **out, FILE *errs);
void config_free(struct gw_config *cfg);

/* Lookups (linear; configs are small). NULL when not found. */
const struct cfg_smsc *config_smsc(const struct gw_config *c, const char *name);
const struct cfg_sender *config_sender(const struct gw_config *c, const char *address);
const struct cfg_account *config_account_by_key(const struct gw_config *c, const char *api_key);
bool config_account_may_use(const struct cfg_account *a, const struct cfg_sender *s);
/* The route for a destination (E.164 digits, no '+') and sender type:
 * the longest matching prefix among routes carrying that type. */
const struct cfg_route *config_route_for(const struct gw_config *c, const char *dest_digits,
                                         enum sender_type t);
/* The route for a message: the longest matching prefix among routes that
 * carry the sender type and, when they list them, the account and class
 * (msg_class "transactional" / "marketing"); at the same prefix a route
 * naming the account wins over one that does not, then one naming the
 * class. account or msg_class NULL: routes are not filtered on it. */
const struct cfg_route *config_route_select(const struct gw_config *c, const char *dest_digits,
                                            enum sender_type t, const char *account,
                                            const char *msg_class);
const struct cfg_route *config_route(const struct gw_config *c, const char *name);
/* The account an MO to sender with this text goes to (mo_routes: a keyword
 * match on the first word first, then a route without keyword; else the
 * first account allowed to use the sender). NULL when none. */
const struct cfg_account *config_mo_account(const struct gw_config *c,
                                            const struct cfg_sender *sender,
                                            const char *text, size_t len);

/* Lowercase hex SHA-256 of s into out[65]. */
void config_sha256_hex(const char *s, char out[65]);

/* The account an SMPP bind's system_id names, or NULL. */
const struct cfg_account *config_account_by_smpp_id(const struct gw_config *c,
                                                    const char *system_id);
/* True when password matches the account's smpp_password (PBKDF2-HMAC-SHA256,
 * compared in constant time). Costs the configured iterations. */
bool config_smpp_password_ok(const struct cfg_account *a, const char *password);
/* True when the dotted IPv4 address ip may bind as a (any address when the
 * account lists no smpp_allowed_ips; never a non-IPv4 one when it does). */
bool config_smpp_ip_allowed(const struct cfg_account *a, const char *ip);
/*
 * The smpp_password setting for password: "pbkdf2-sha256:ITER:SALT:HASH" with
 * a random 16-octet salt, written to out (CONFIG_SMPP_HASH_MAX octets suffice).
 * Returns 0, or -1 when iterations is out of range or out is too small.
 */
#define CONFIG_SMPP_HASH_MAX 192
#define CONFIG_SMPP_ITER_MIN 1000
#define CONFIG_SMPP_ITER_MAX 10000000
int config_hash_smpp_password(const char *password, unsigned iterations, char *out,
                              size_t outsz);

#endif
