/*
 * smsgwd configuration: libconfig file -> validated, immutable gw_config.
 *
 * Three passes, each over the whole file, so that one run reports every
 * problem:
 *   1. parse   - every setting is declared once in a table below (name, type,
 *                range, default, field); a generic walker fills the structs,
 *                applies defaults and reports unknown keys, wrong types,
 *                values out of range, missing required settings and enum
 *                strings it does not know.
 *   2. validate - rules that span settings or objects: address formats per
 *                sender type, duplicate names, references between SMSCs,
 *                routes, senders and accounts, route overlap.
 *   3. finalize - derived values (receipt id format, sender<->account
 *                permissions merged so both sides list them).
 * Errors are collected with the file and line libconfig recorded for the
 * setting, sorted, and printed as `FILE:LINE: message`.
 */
#include "core/config.h"
#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/cfg_group.h"
#include "smpp/smpp_tls.h"
#include "router/numplan.h"
#include "router/quiet.h"

/* Enum fields are written through a generic int-sized store. */
_Static_assert(sizeof(enum smsc_bind_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum smpp_text_concat) == sizeof(int), "enum size");
_Static_assert(sizeof(enum smpp_dlr_id_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sender_type) == sizeof(int), "enum size");

#define MPS_MAX 100000
#define TON_MAX 6               /* 7 is reserved; libsmpp34 refuses to pack it */
#define NPI_MAX 18

/* ------------------------------------------------------------------ memory */

static void *
xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "config: out of memory\n");
        abort();
    }
    return p;
}

static void *
xreallocarray(void *p, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        abort();
    p = realloc(p, n && sz ? n * sz : 1);
    if (!p) {
        fprintf(stderr, "config: out of memory\n");
        abort();
    }
    return p;
}

static char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xcalloc(1, n);
    memcpy(d, s, n);
    return d;
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void
strv_push(char ***v, size_t *n, const char *s)
{
    *v = xreallocarray(*v, *n + 1, sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* ----------------------------------------------------------- sender types */

static const char *const sender_type_names[] = {
    [SENDER_SHORTCODE] = "shortcode",
    [SENDER_TOLLFREE] = "tollfree",
    [SENDER_10DLC] = "10dlc",
    [SENDER_ALPHANUMERIC] = "alphanumeric",
    NULL
};

const char *
sender_type_name(enum sender_type t)
{
    return (unsigned)t < SENDER_TYPE_COUNT ? sender_type_names[t] : "unknown";
}

bool
sender_type_parse(const char *s, enum sender_type *out)
{
    for (int i = 0; i < SENDER_TYPE_COUNT; i++)
        if (s && strcmp(s, sender_type_names[i]) == 0) {
            *out = (enum sender_type)i;
            return true;
        }
    return false;
}

/* TON/NPI a sender type gets unless the sender overrides them. */
static const uint8_t type_ton[SENDER_TYPE_COUNT] = { 3, 1, 1, 5 };
static const uint8_t type_npi[SENDER_TYPE_COUNT] = { 0, 1, 1, 0 };

/* -------------------------------------------------------- loader context */

/*
 * The gw_config handed out is the first member of this, so that the file
 * names every object's `file` points at live exactly as long as the config.
 */
struct config_priv {
    struct gw_config pub;
    char **files;
    size_t nfiles;
};

struct cerr {
    size_t file_idx;
    int line;
    size_t seq;
    char *msg;
};

/* A route's SMSC reference, resolved once every SMSC is known. */
struct smsc_ref {
    size_t route, idx;
    char *name;
    const config_setting_t *s;
};

struct srcfile {
    char *text;                 /* whole file, for the integer literal check */
    bool tried;
};

struct ctx {
    struct config_priv *cp;
    struct cerr *errs;
    size_t nerrs;
    struct srcfile *src;        /* parallel to cp->files */
    /* libconfig settings of each list item, parallel to the cfg arrays */
    const config_setting_t **smsc_s, **sender_s, **route_s, **account_s, **mo_route_s;
    struct smsc_ref *refs;
    size_t nrefs;
    char *incdir;               /* directory of the main file, for @include */
};

static size_t
file_index(struct ctx *x, const char *f)
{
    struct config_priv *cp = x->cp;
    char joined[4096];

    if (!f)
        f = cp->pub.path;
    /* libconfig records an @include'd file by the name written in the
     * directive; name it by its path from here, as the main file is. */
    if (x->incdir && f[0] != '/' && f != cp->pub.path && strcmp(f, cp->pub.path) != 0 &&
        (size_t)snprintf(joined, sizeof(joined), "%s/%s", x->incdir, f) < sizeof(joined))
        f = joined;
    for (size_t i = 0; i < cp->nfiles; i++)
        if (strcmp(cp->files[i], f) == 0)
            return i;
    strv_push(&cp->files, &cp->nfiles, f);
    x->src = xreallocarray(x->src, cp->nfiles, sizeof(*x->src));
    x->src[cp->nfiles - 1] = (struct srcfile){ 0 };
    return cp->nfiles - 1;
}

static const char *
file_of(struct ctx *x, const config_setting_t *s)
{
    return x->cp->files[file_index(x, config_setting_source_file(s))];
}

static void
verr_at(struct ctx *x, const char *file, int line, const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    x->errs = xreallocarray(x->errs, x->nerrs + 1, sizeof(*x->errs));
    x->errs[x->nerrs] = (struct cerr){ file_index(x, file), line, x->nerrs, xstrdup(buf) };
    x->nerrs++;
}

static void err_at(struct ctx *x, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
err_at(struct ctx *x, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_at(x, file, line, fmt, ap);
    va_end(ap);
}

/* An error about setting s, at the file and line it was written on. */
static void err_s(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
err_s(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_at(x, config_setting_source_file(s), config_setting_source_line(s), fmt, ap);
    va_end(ap);
}

static int
cerr_cmp(const void *a, const void *b)
{
    const struct cerr *p = a, *q = b;

    if (p->file_idx != q->file_idx)
        return p->file_idx < q->file_idx ? -1 : 1;
    if (p->line != q->line)
        return p->line < q->line ? -1 : 1;
    return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* ------------------------------------------------------------- helpers */

static const char *
type_desc(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
    case CONFIG_TYPE_LIST: return "a list ( ... )";
    default: return "nothing";
    }
}

/* Optimal string alignment distance, capped: enough for "did you mean". */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t d[33][33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* " (did you mean "x"?)" when exactly one candidate is one edit away. */
static const char *
suggest(char *buf, size_t size, const char *got, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t nbest = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (edit_distance(got, cands[i]) == 1) {
            best = cands[i];
            nbest++;
        }
    if (nbest == 1)
        snprintf(buf, size, " (did you mean \"%s\"?)", best);
    return buf;
}

static void
join_names(char *buf, size_t size, const char *const *names)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; names[i] && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s\"%s\"", i ? ", " : "", names[i]);
}

static bool
all_digits(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/*
 * libconfig 1.5 reads a decimal literal that does not fit in 32 bits and has
 * no L suffix as a 32-bit int, silently truncated (5000000000 -> 705032704).
 * A truncated value may even land inside the valid range, so for every
 * integer setting we find its literal on its source line and, when the text
 * says something else, use what the user wrote: the range check then reports
 * the number they can see in the file.
 */
static const char *
src_line(struct ctx *x, const config_setting_t *s)
{
    size_t fi = file_index(x, config_setting_source_file(s));
    struct srcfile *sf = &x->src[fi];
    int line = config_setting_source_line(s);

    if (!sf->tried) {
        FILE *f = fopen(x->cp->files[fi], "r");
        sf->tried = true;
        if (f) {
            size_t cap = 4096, len = 0, n;
            sf->text = xcalloc(1, cap + 1);
            while ((n = fread(sf->text + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap) {
                    cap *= 2;
                    sf->text = xreallocarray(sf->text, cap + 1, 1);
                }
            }
            sf->text[len] = '\0';
            fclose(f);
        }
    }
    if (!sf->text || line < 1)
        return NULL;
    const char *p = sf->text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return p;
}

static long long
int_literal(struct ctx *x, const config_setting_t *s, long long v)
{
    const char *name = config_setting_name(s);
    const char *line = src_line(x, s), *end, *p;
    size_t nlen;

    if (!name || !line || config_setting_type(s) != CONFIG_TYPE_INT)
        return v;
    end = strchr(line, '\n');
    if (!end)
        end = line + strlen(line);
    nlen = strlen(name);
    for (p = line; p + nlen <= end; p++) {
        if (strncmp(p, name, nlen) != 0 ||
            (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-' ||
                          p[-1] == '*')))
            continue;
        const char *q = p + nlen;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q >= end || (*q != '=' && *q != ':'))
            continue;
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        const char *digits = q + (*q == '-' || *q == '+');
        if (!isdigit((unsigned char)*digits) || (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')))
            return v;
        char *e;
        errno = 0;
        long long lit = strtoll(q, &e, 10);
        if (errno == ERANGE)
            return lit;         /* LLONG_MIN/MAX: out of every range */
        if (*e == 'L' || *e == '.' || *e == 'e' || *e == 'E')
            return v;
        return lit != v && (int)lit == (int)v ? lit : v;
    }
    return v;
}

/* ------------------------------------------------------ the settings table */

enum kind {
    K_STR,          /* char *; min..max = length range (max 0: any) */
    K_BOOL,         /* bool */
    K_INT,          /* int */
    K_UINT,         /* unsigned */
    K_U8,           /* uint8_t */
    K_SIZE,         /* size_t */
    K_ENUM,         /* an enum, from a string among names[] */
    K_STRS,         /* char ** + size_t count at off2; each non-empty */
    K_GROUP,        /* nested struct, described by sub */
    K_FN,           /* custom: fn(x, s, obj, label) parses; fn(x, NULL, obj, label) sets the default */
};

#define F_REQUIRED 1u
#define F_NONEMPTY 2u  /* K_STRS: at least one element */

struct section;
struct key;
typedef void (*key_fn)(struct ctx *x, const config_setting_t *s, void *obj, const char *label);

struct key {
    const char *name;
    enum kind kind;
    size_t off, off2;
    long long min, max;
    long long def;              /* ints, bools, enums */
    const char *defstr;         /* strings; NULL: no default */
    const char *const *names;   /* K_ENUM values; K_STR allowed values */
    unsigned flags;
    key_fn fn;
    const struct section *sub;
};

struct section {
    const char *what;           /* "smsc", "redis", ... for messages */
    const struct key *keys;
    size_t nkeys;
};

#define KSTR(n, T, f, lo, hi, d, fl) { .name = n, .kind = K_STR, .off = offsetof(T, f), .min = lo, .max = hi, .defstr = d, .flags = fl }
#define KSTRIN(n, T, f, d, nm) { .name = n, .kind = K_STR, .off = offsetof(T, f), .defstr = d, .names = nm }
#define KBOOL(n, T, f, d) { .name = n, .kind = K_BOOL, .off = offsetof(T, f), .def = d }
#define KNUM(k, n, T, f, lo, hi, d, fl) { .name = n, .kind = k, .off = offsetof(T, f), .min = lo, .max = hi, .def = d, .flags = fl }
#define KENUM(n, T, f, nm, d) { .name = n, .kind = K_ENUM, .off = offsetof(T, f), .names = nm, .def = d }
#define KSTRS(n, T, f, cnt, fl) { .name = n, .kind = K_STRS, .off = offsetof(T, f), .off2 = offsetof(T, cnt), .flags = fl }
#define KGROUP(n, T, f, sec) { .name = n, .kind = K_GROUP, .off = offsetof(T, f), .sub = &sec }
#define KFN(n, f, fl) { .name = n, .kind = K_FN, .fn = f, .flags = fl }
#define SECTION(w, k) { w, k, sizeof(k) / sizeof(k[0]) }

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const bind_modes[] = { [SMSC_BIND_TRX] = "trx", [SMSC_BIND_TX_RX] = "tx+rx", NULL };
static const char *const concat_names[] = {
    [SMPP_TEXT_CONCAT_UDH8] = "udh8", [SMPP_TEXT_CONCAT_UDH16] = "udh16",
    [SMPP_TEXT_CONCAT_SAR] = "sar", [SMPP_TEXT_CONCAT_PAYLOAD] = "payload", NULL
};
static const char *const optout_scopes[] = { "number", "account", NULL };
static const char *const id_formats[] = {
    [SMPP_DLR_ID_HEX] = "hex", [SMPP_DLR_ID_DEC] = "decimal", [SMPP_DLR_ID_STRING] = "string", NULL
};

static void parse_alpha_forbidden(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_log_trace(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_smsc_list(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_sender_list(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_route_list(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_account_list(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_mo_route_list(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_sender_type(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_route_smscs(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_prefixes(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_sender_types(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_api_keys(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_keywords(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_smpp_password(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_smpp_allowed_ips(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_numbering(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_quiet_hours(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_account_quiet(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_channels(struct ctx *, const config_setting_t *, void *, const char *);
static void parse_error_threshold(struct ctx *, const config_setting_t *, void *, const char *);

static const struct key redis_keys[] = {
    KSTR("host", struct cfg_redis, host, 1, 255, "127.0.0.1", 0),
    KNUM(K_INT, "port", struct cfg_redis, port, 1, 65535, 6379, 0),
    KSTR("unix_socket", struct cfg_redis, unix_socket, 1, 107, NULL, 0),
    KSTR("password", struct cfg_redis, password, 0, 0, NULL, 0),
    KSTR("prefix", struct cfg_redis, prefix, 0, 64, "smsgw:", 0),
    KNUM(K_UINT, "timeout_ms", struct cfg_redis, timeout_ms, 1, 600000, 2000, 0),
    KBOOL("tls", struct cfg_redis, tls, false),
    KSTR("tls_ca_file", struct cfg_redis, tls_ca_file, 1, 0, NULL, 0),
    KSTR("tls_cert_file", struct cfg_redis, tls_cert_file, 1, 0, NULL, 0),
    KSTR("tls_key_file", struct cfg_redis, tls_key_file, 1, 0, NULL, 0),
    KBOOL("tls_verify", struct cfg_redis, tls_verify, true),
    KSTR("tls_server_name", struct cfg_redis, tls_server_name, 1, 255, NULL, 0),
};
static const struct section redis_section = SECTION("redis", redis_keys);

static const struct key http_keys[] = {
    KSTR("listen", struct cfg_http, listen, 1, 255, "127.0.0.1", 0),
    KNUM(K_INT, "port", struct cfg_http, port, 0, 65535, 8080, 0),
    KNUM(K_SIZE, "max_body", struct cfg_http, max_body, 1024, 64 << 20, 65536, 0),
    KSTR("tls_cert_file", struct cfg_http, tls_cert_file, 1, 0, NULL, 0),
    KSTR("tls_key_file", struct cfg_http, tls_key_file, 1, 0, NULL, 0),
};
static const struct section http_section = SECTION("http", http_keys);

/* enabled: the group is present (smpp_server_check) */
static const struct key smpp_server_keys[] = {
    KSTR("listen", struct cfg_smpp_server, listen, 1, 255, "127.0.0.1", 0),
    KNUM(K_INT, "port", struct cfg_smpp_server, port, 0, 65535, 2775, 0),
    KNUM(K_UINT, "bind_timeout_ms", struct cfg_smpp_server, bind_timeout_ms, 100, 600000, 10000, 0),
    KNUM(K_UINT, "max_pdu", struct cfg_smpp_server, max_pdu, 1024, 1 << 20, 65536, 0),
    KSTR("tls_cert_file", struct cfg_smpp_server, tls_cert_file, 1, 0, NULL, 0),
    KSTR("tls_key_file", struct cfg_smpp_server, tls_key_file, 1, 0, NULL, 0),
};
static const struct section smpp_server_section = SECTION("smpp_server", smpp_server_keys);

/* Tokens are checked and reduced to their hex digest in admin_check. */
static const struct key admin_keys[] = {
    KSTR("socket", struct cfg_admin, socket, 0, 107, "/run/smsgw/admin.sock", 0),
    KSTR("tcp_listen", struct cfg_admin, tcp_listen, 1, 255, "127.0.0.1", 0),
    KNUM(K_INT, "tcp_port", struct cfg_admin, tcp_port, 0, 65535, 0, 0),
    KSTR("token", struct cfg_admin, token_sha256, 1, 80, NULL, 0),
    KSTR("http_token", struct cfg_admin, http_token_sha256, 1, 80, NULL, 0),
};
static const struct section admin_section = SECTION("admin", admin_keys);

/* smsc.error_rate: error-rate failover (router/router_health). */
static const struct key error_rate_keys[] = {
    KBOOL("enabled", struct cfg_error_rate, enabled, true),
    KFN("threshold", parse_error_threshold, 0),     /* 0 < t <= 1, default 0.5 */
    KNUM(K_UINT, "window_s", struct cfg_error_rate, window_s, 1, 3600, 30, 0),
    KNUM(K_UINT, "min_samples", struct cfg_error_rate, min_samples, 1, 1000000, 20, 0),
    KNUM(K_UINT, "cooldown_s", struct cfg_error_rate, cooldown_s, 1, 86400, 30, 0),
    KNUM(K_UINT, "cooldown_max_s", struct cfg_error_rate, cooldown_max_s, 1, 86400, 300, 0),
    KNUM(K_UINT, "probes", struct cfg_error_rate, probes, 1, 100, 1, 0),
};
static const struct section error_rate_section = SECTION("error_rate", error_rate_keys);

/* SMPP 3.4 5.2.1-5.2.3: system_id 16, password 9, system_type 13 octets with the NUL. */
static const struct key smsc_keys[] = {
    KSTR("name", struct cfg_smsc, name, 1, 64, NULL, F_REQUIRED),
    KSTR("host", struct cfg_smsc, host, 1, 255, NULL, F_REQUIRED),
    KNUM(K_INT, "port", struct cfg_smsc, port, 1, 65535, 0, F_REQUIRED),
    KBOOL("tls", struct cfg_smsc, tls, false),
    KSTR("tls_ca_file", struct cfg_smsc, tls_ca_file, 1, 0, NULL, 0),
    KSTR("tls_cert_file", struct cfg_smsc, tls_cert_file, 1, 0, NULL, 0),
    KSTR("tls_key_file", struct cfg_smsc, tls_key_file, 1, 0, NULL, 0),
    KBOOL("tls_verify", struct cfg_smsc, tls_verify, true),
    KSTR("system_id", struct cfg_smsc, system_id, 1, 15, NULL, F_REQUIRED),
    KSTR("password", struct cfg_smsc, password, 0, 8, NULL, F_REQUIRED),
    KSTR("system_type", struct cfg_smsc, system_type, 0, 12, "", 0),
    KENUM("bind", struct cfg_smsc, bind_mode, bind_modes, SMSC_BIND_TRX),
    KNUM(K_UINT, "sessions", struct cfg_smsc, sessions, 1, 64, 1, 0),
    KNUM(K_UINT, "window", struct cfg_smsc, window, 1, 10000, 64, 0),
    KNUM(K_UINT, "enquire_link_s", struct cfg_smsc, enquire_link_s, 1, 3600, 30, 0),
    KNUM(K_UINT, "response_timeout_ms", struct cfg_smsc, response_timeout_ms, 100, 600000, 10000, 0),
    KNUM(K_UINT, "reconnect_min_ms", struct cfg_smsc, reconnect_min_ms, 10, 3600000, 500, 0),
    KNUM(K_UINT, "reconnect_max_ms", struct cfg_smsc, reconnect_max_ms, 10, 3600000, 30000, 0),
    KNUM(K_U8, "data_coding", struct cfg_smsc, default_data_coding, 0, 1, 0, 0),
    KENUM("concat", struct cfg_smsc, concat, concat_names, SMPP_TEXT_CONCAT_UDH8),
    KENUM("message_id_format", struct cfg_smsc, resp_id_format, id_formats, SMPP_DLR_ID_HEX),
    /* default: message_id_format (finalize) */
    KENUM("receipt_id_format", struct cfg_smsc, dlr_id_format, id_formats, SMPP_DLR_ID_HEX),
    /* either one sets short_code_ton_set (finalize) */
    KNUM(K_U8, "short_code_ton", struct cfg_smsc, short_code_ton, 0, TON_MAX, 3, 0),
    KNUM(K_U8, "short_code_npi", struct cfg_smsc, short_code_npi, 0, NPI_MAX, 0, 0),
    KGROUP("error_rate", struct cfg_smsc, error_rate, error_rate_section),
};
static const struct section smsc_section = SECTION("smsc", smsc_keys);

static const struct key sender_keys[] = {
    KSTR("address", struct cfg_sender, address, 1, 32, NULL, F_REQUIRED),
    KFN("type", parse_sender_type, F_REQUIRED),
    KSTRS("accounts", struct cfg_sender, accounts, naccounts, 0),
    KNUM(K_UINT, "mps", struct cfg_sender, mps, 1, MPS_MAX, 0, 0),      /* 0: no limit */
    KFN("keywords", parse_keywords, 0),
    /* defaults: by type (finalize) */
    KNUM(K_U8, "ton", struct cfg_sender, ton, 0, TON_MAX, 0, 0),
    KNUM(K_U8, "npi", struct cfg_sender, npi, 0, NPI_MAX, 0, 0),
};
static const struct section sender_section = SECTION("sender", sender_keys);

static const struct key route_keys[] = {
    KSTR("name", struct cfg_route, name, 1, 64, NULL, F_REQUIRED),
    KNUM(K_UINT, "mps", struct cfg_route, mps, 1, MPS_MAX, 0, F_REQUIRED),
    KFN("smsc", parse_route_smscs, F_REQUIRED),
    KFN("prefixes", parse_prefixes, 0),
    KFN("sender_types", parse_sender_types, 0),
    KNUM(K_UINT, "retry_attempts", struct cfg_route, retry_attempts, 0, 100, 5, 0),
    KNUM(K_UINT, "retry_backoff_ms", struct cfg_route, retry_backoff_ms, 10, 86400000, 1000, 0),
    KNUM(K_UINT, "retry_backoff_max_ms", struct cfg_route, retry_backoff_max_ms, 10, 86400000, 60000, 0),
    KNUM(K_UINT, "validity_s", struct cfg_route, validity_s, 60, 2592000, 172800, 0),
    KSTRS("accounts", struct cfg_route, accounts, naccounts, 0),
    KSTRS("classes", struct cfg_route, classes, nclasses, 0),
    KSTRS("fallback", struct cfg_route, fallback, nfallback, 0),
    KNUM(K_UINT, "fallback_receipt_timeout_s", struct cfg_route, fallback_receipt_timeout_s, 1,
         604800, 3600, 0),
};
static const struct section route_section = SECTION("route", route_keys);

static const char *const cap_periods[] = { [CAP_PERIOD_MONTH] = "month", [CAP_PERIOD_DAY] = "day",
                                            NULL };
static const struct key cap_keys[] = {
    KNUM(K_UINT, "count", struct cfg_cap, count, 0, 1000000, 0, 0),
    KENUM("period", struct cfg_cap, period, cap_periods, CAP_PERIOD_MONTH),
};
static const struct section cap_section = SECTION("marketing_cap", cap_keys);

static const char *const smpp_classes[] = { "transactional", "marketing", NULL };

static const struct key account_keys[] = {
    KSTR("name", struct cfg_account, name, 1, 64, NULL, F_REQUIRED),
    KFN("api_keys", parse_api_keys, F_REQUIRED),
    KSTRS("senders", struct cfg_account, senders, nsenders, 0),
    KSTR("callback_url", struct cfg_account, callback_url, 8, 2048, NULL, 0),
    KSTR("mo_url", struct cfg_account, mo_url, 8, 2048, NULL, 0),
    KSTR("help_text", struct cfg_account, help_text, 1, 120, NULL, 0),
    KENUM("optout_scope", struct cfg_account, optout_scope, optout_scopes, 0),
    KNUM(K_UINT, "mps", struct cfg_account, mps, 1, MPS_MAX, 0, 0),     /* 0: no cap */
    /* SMPP 3.4 5.2.1: system_id 16 octets with the NUL. Password and
     * system_id go together (validate). */
    KSTR("smpp_system_id", struct cfg_account, smpp_system_id, 1, 15, NULL, 0),
    KFN("smpp_password", parse_smpp_password, 0),
    KFN("smpp_allowed_ips", parse_smpp_allowed_ips, 0),
    KNUM(K_UINT, "smpp_max_binds", struct cfg_account, smpp_max_binds, 1, 1000, 4, 0),
    KNUM(K_UINT, "smpp_window", struct cfg_account, smpp_window, 1, 10000, 64, 0),
    KGROUP("marketing_cap", struct cfg_account, marketing_cap, cap_section),
    /* SMPP has no class field: the account says what its binds send. */
    KENUM("smpp_class", struct cfg_account, smpp_marketing, smpp_classes, 0),
    /* Its marketing is held outside this local window instead of the
     * country's or the default (quiet_hours group). */
    KFN("quiet_hours", parse_account_quiet, 0),
};
static const struct section account_section = SECTION("account", account_keys);

static const struct key mo_route_keys[] = {
    KSTR("number", struct cfg_mo_route, number, 1, 32, NULL, F_REQUIRED),
    KSTR("keyword", struct cfg_mo_route, keyword, 1, 32, NULL, 0),
    KSTR("account", struct cfg_mo_route, account, 1, 64, NULL, F_REQUIRED),
};
static const struct section mo_route_section = SECTION("mo_route", mo_route_keys);

static const struct key top_keys[] = {
    KSTR("instance", struct gw_config, instance, 1, 64, NULL, 0),  /* default hostname-pid (finalize) */
    KSTRIN("log_level", struct gw_config, log_level, "info", log_levels),
    KSTR("log_file", struct gw_config, log_file, 1, 0, NULL, 0),
    KFN("log_trace", parse_log_trace, 0),
    KNUM(K_UINT, "max_segments", struct gw_config, max_segments, 1, 255, 10, 0),
    KNUM(K_UINT, "fallback_resume_s", struct gw_config, fallback_resume_s, 5, 86400, 600, 0),
    /* A submitted message with no final receipt this long after its
     * validity ends takes the final state "unknown". */
    KNUM(K_UINT, "receipt_grace_s", struct gw_config, receipt_grace_s, 0, 604800, 3600, 0),
    KFN("alphanumeric_forbidden", parse_alpha_forbidden, 0),
    KGROUP("redis", struct gw_config, redis, redis_section),
    KGROUP("http", struct gw_config, http, http_section),
    KGROUP("smpp_server", struct gw_config, smpp_server, smpp_server_section),
    KGROUP("admin", struct gw_config, admin, admin_section),
    KFN("smsc", parse_smsc_list, 0),
    KFN("senders", parse_sender_list, 0),
    KFN("routes", parse_route_list, 0),
    KFN("accounts", parse_account_list, 0),
    KFN("mo_routes", parse_mo_route_list, 0),
    KFN("numbering", parse_numbering, 0),
    KFN("quiet_hours", parse_quiet_hours, 0),
    KFN("channels", parse_channels, 0),
};
static const struct section top_section = SECTION(NULL, top_keys);

/* ------------------------------------------------------------ the walker */

/* "smsc \"sim\": port" or "max_segments". */
static const char *
where(char *buf, size_t size, const char *label, const char *key)
{
    if (label && *label)
        snprintf(buf, size, "%s: %s", label, key);
    else
        snprintf(buf, size, "%s", key);
    return buf;
}

static void
set_default(const struct key *k, void *obj, const char *label, struct ctx *x)
{
    char *p = (char *)obj + k->off;

    switch (k->kind) {
    case K_STR:
        free(*(char **)p);
        *(char **)p = k->defstr ? xstrdup(k->defstr) : NULL;
        break;
    case K_BOOL: *(bool *)p = k->def != 0; break;
    case K_INT: *(int *)p = (int)k->def; break;
    case K_UINT: *(unsigned *)p = (unsigned)k->def; break;
    case K_U8: *(uint8_t *)p = (uint8_t)k->def; break;
    case K_SIZE: *(size_t *)p = (size_t)k->def; break;
    case K_ENUM: {
        int v = (int)k->def;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case K_STRS:
        strv_free(*(char ***)p, *(size_t *)((char *)obj + k->off2));
        *(char ***)p = NULL;
        *(size_t *)((char *)obj + k->off2) = 0;
        break;
    case K_GROUP:
        for (size_t i = 0; i < k->sub->nkeys; i++)
            set_default(&k->sub->keys[i], p, k->sub->what, x);
        break;
    case K_FN:
        k->fn(x, NULL, obj, label);
        break;
    }
}

static void parse_section(struct ctx *x, const struct section *sec, const config_setting_t *grp,
                          void *obj, const char *label);

/* Parse one present setting s for key k. Defaults are already in place. */
static void
parse_key(struct ctx *x, const struct key *k, const config_setting_t *s, void *obj,
          const char *label)
{
    char *p = (char *)obj + k->off;
    char w[160];
    char names[256];
    int t = config_setting_type(s);

    where(w, sizeof(w), label, k->name);
    switch (k->kind) {
    case K_STR: {
        if (t != CONFIG_TYPE_STRING) {
            err_s(x, s, "%s must be a string, not %s", w, type_desc(s));
            return;
        }
        const char *v = config_setting_get_string(s);
        size_t len = strlen(v);
        if (k->names) {
            bool ok = false;
            for (size_t i = 0; k->names[i]; i++)
                ok |= strcmp(k->names[i], v) == 0;
            if (!ok) {
                join_names(names, sizeof(names), k->names);
                err_s(x, s, "%s \"%s\" is not one of: %s", w, v, names);
                return;
            }
        } else if ((long long)len < k->min) {
            err_s(x, s, "%s must not be empty", w);
            return;
        } else if (k->max && (long long)len > k->max) {
            err_s(x, s, "%s is %zu characters long; at most %lld allowed", w, len, k->max);
            return;
        }
        free(*(char **)p);
        *(char **)p = xstrdup(v);
        return;
    }
    case K_BOOL:
        if (t != CONFIG_TYPE_BOOL) {
            err_s(x, s, "%s must be true or false, not %s", w, type_desc(s));
            return;
        }
        *(bool *)p = config_setting_get_bool(s);
        return;
    case K_INT:
    case K_UINT:
    case K_U8:
    case K_SIZE: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            err_s(x, s, "%s must be an integer, not %s", w, type_desc(s));
            return;
        }
        long long v = int_literal(x, s, config_setting_get_int64(s));
        if (v < k->min || v > k->max) {
            err_s(x, s, "%s %lld is out of range %lld..%lld", w, v, k->min, k->max);
            return;
        }
        if (k->kind == K_INT)
            *(int *)p = (int)v;
        else if (k->kind == K_UINT)
            *(unsigned *)p = (unsigned)v;
        else if (k->kind == K_U8)
            *(uint8_t *)p = (uint8_t)v;
        else
            *(size_t *)p = (size_t)v;
        return;
    }
    case K_ENUM: {
        join_names(names, sizeof(names), k->names);
        if (t != CONFIG_TYPE_STRING) {
            err_s(x, s, "%s must be a string, one of: %s", w, names);
            return;
        }
        const char *v = config_setting_get_string(s);
        for (int i = 0; k->names[i]; i++)
            if (strcmp(k->names[i], v) == 0) {
                memcpy(p, &i, sizeof(i));
                return;
            }
        err_s(x, s, "%s \"%s\" is not one of: %s", w, v, names);
        return;
    }
    case K_STRS: {
        char ***vp = (char ***)p;
        size_t *np = (size_t *)((char *)obj + k->off2);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
            err_s(x, s, "%s must be an array of strings [ \"...\", ... ], not %s", w, type_desc(s));
            return;
        }
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            const char *v = config_setting_get_string(e);
            if (!v) {
                err_s(x, e, "%s: element %d must be a string, not %s", w, i + 1, type_desc(e));
                continue;
            }
            if (!*v) {
                err_s(x, e, "%s: element %d is empty", w, i + 1);
                continue;
            }
            if (strv_has(*vp, *np, v)) {
                err_s(x, e, "%s: \"%s\" is listed twice", w, v);
                continue;
            }
            strv_push(vp, np, v);
        }
        if ((k->flags & F_NONEMPTY) && config_setting_length(s) == 0)
            err_s(x, s, "%s must not be empty", w);
        return;
    }
    case K_GROUP:
        if (t != CONFIG_TYPE_GROUP) {
            err_s(x, s, "%s must be a group { ... }, not %s", w, type_desc(s));
            return;
        }
        parse_section(x, k->sub, s, p, k->sub->what);
        return;
    case K_FN:
        k->fn(x, s, obj, label);
        return;
    }
}

/* Fill obj from grp according to sec: defaults, then every member of grp. */
static void
parse_section(struct ctx *x, const struct section *sec, const config_setting_t *grp, void *obj,
              const char *label)
{
    const char *cands[32];
    char sug[96];

    if (sec->nkeys > sizeof(cands) / sizeof(cands[0]))
        abort();                /* a table grew: grow cands */
    for (size_t i = 0; i < sec->nkeys; i++) {
        cands[i] = sec->keys[i].name;
        set_default(&sec->keys[i], obj, label, x);
    }
    for (int i = 0; i < config_setting_length(grp); i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct key *k = NULL;
        for (size_t j = 0; j < sec->nkeys && name; j++)
            if (strcmp(sec->keys[j].name, name) == 0)
                k = &sec->keys[j];
        if (!k) {
            err_s(x, s, "%s%sunknown setting \"%s\"%s", label ? label : "", label ? ": " : "",
                  name ? name : "?", suggest(sug, sizeof(sug), name ? name : "", cands, sec->nkeys));
            continue;
        }
        parse_key(x, k, s, obj, label);
    }
    for (size_t i = 0; i < sec->nkeys; i++)
        if ((sec->keys[i].flags & F_REQUIRED) && !config_setting_get_member(grp, sec->keys[i].name))
            err_s(x, grp, "%s%smissing required setting \"%s\"", label ? label : "",
                  label ? ": " : "", sec->keys[i].name);
}

/* ------------------------------------------------------ custom settings */

/* error_rate.threshold: a share of errors, 0.5 or 1 (an integer 1 reads as 1.0). */
static void
parse_error_threshold(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_error_rate *er = obj;
    char w[160];
    double v;

    if (!s) {
        er->threshold = 0.5;
        return;
    }
    where(w, sizeof(w), label, "threshold");
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(s);
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else {
        err_s(x, s, "%s must be a number such as 0.5, not %s", w, type_desc(s));
        return;
    }
    if (!(v > 0 && v <= 1)) {
        err_s(x, s, "%s %g is out of range: more than 0, at most 1 (a share of errors, 0.5 = half)",
              w, v);
        return;
    }
    er->threshold = v;
}

static void
parse_alpha_forbidden(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;

    if (!s) {
        strv_push(&c->alpha_forbidden, &c->nalpha_forbidden, "1");     /* US, CA */
        strv_push(&c->alpha_forbidden, &c->nalpha_forbidden, "52");    /* MX */
        return;
    }
    strv_free(c->alpha_forbidden, c->nalpha_forbidden);
    c->alpha_forbidden = NULL;
    c->nalpha_forbidden = 0;
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "alphanumeric_forbidden must be an array of calling codes [ \"1\", ... ], not %s",
              type_desc(s));
        return;
    }
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        if (!v || !*v || strlen(v) > 6 || !all_digits(v)) {
            err_s(x, e, "alphanumeric_forbidden: element %d must be a calling code of 1 to 6 digits as a string, like \"44\"",
                  i + 1);
            continue;
        }
        if (!strv_has(c->alpha_forbidden, c->nalpha_forbidden, v))
            strv_push(&c->alpha_forbidden, &c->nalpha_forbidden, v);
    }
    (void)label;
}

/* log_trace = [ "submit_sm", ... ]: event names (core/log.h). */
static void
parse_log_trace(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;

    (void)label;
    if (!s)
        return;
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "log_trace must be an array of event names [ \"submit_sm\", ... ], not %s",
              type_desc(s));
        return;
    }
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        bool ok = v && *v && strlen(v) < 48;
        for (const char *p = v; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok) {
            err_s(x, e, "log_trace: element %d must be an event name as a string (lowercase "
                  "letters, digits and _, as after event= in the log), like \"submit_sm\"", i + 1);
            continue;
        }
        if (c->nlog_trace == LOG_TRACE_MAX) {
            err_s(x, e, "log_trace: at most %d events", LOG_TRACE_MAX);
            return;
        }
        if (!strv_has(c->log_trace, c->nlog_trace, v))
            strv_push(&c->log_trace, &c->nlog_trace, v);
    }
}

static void
parse_sender_type(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_sender *snd = obj;
    char names[128], w[160];

    if (!s) {
        snd->type = SENDER_SHORTCODE;
        return;
    }
    join_names(names, sizeof(names), sender_type_names);
    where(w, sizeof(w), label, "type");
    const char *v = config_setting_get_string(s);
    if (!v)
        err_s(x, s, "%s must be a string, one of: %s", w, names);
    else if (!sender_type_parse(v, &snd->type))
        err_s(x, s, "%s \"%s\" is not one of: %s", w, v, names);
}

static void
parse_prefixes(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_route *r = obj;
    char w[160];

    if (!s) {
        strv_push(&r->prefixes, &r->nprefixes, "");
        return;
    }
    strv_free(r->prefixes, r->nprefixes);
    r->prefixes = NULL;
    r->nprefixes = 0;
    where(w, sizeof(w), label, "prefixes");
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "%s must be an array of strings [ \"44\", ... ], not %s", w, type_desc(s));
        return;
    }
    if (config_setting_length(s) == 0)
        err_s(x, s, "%s must not be empty (use [ \"\" ] for any destination)", w);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        if (v && strcmp(v, "*") == 0)
            v = "";
        if (!v || strlen(v) > 15 || !all_digits(v)) {
            err_s(x, e, "%s: element %d must be a string of up to 15 digits without '+' (\"\" or \"*\" for any)",
                  w, i + 1);
            continue;
        }
        if (strv_has(r->prefixes, r->nprefixes, v)) {
            err_s(x, e, "%s: \"%s\" is listed twice", w, v);
            continue;
        }
        strv_push(&r->prefixes, &r->nprefixes, v);
    }
}

/* keywords = { JOIN = "Welcome to ACME alerts! ..."; DEALS = "..."; };
 * auto-responders: an MO that is just the word gets the reply. */
static void
parse_keywords(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_sender *snd = obj;
    char w[160];
    size_t nreplies = 0;

    if (!s)
        return;
    where(w, sizeof(w), label, "keywords");
    if (!config_setting_is_group(s)) {
        err_s(x, s, "%s must be a group { WORD = \"reply\"; ... }, not %s", w, type_desc(s));
        return;
    }
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *word = config_setting_name(e), *reply = config_setting_get_string(e);
        static const char *const reserved[] = { "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END",
                                                "QUIT", "START", "UNSTOP", "YES", "HELP", "INFO" };
        bool bad = false;
        for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
            if (strcasecmp(word, reserved[k]) == 0)
                bad = true;
        if (bad) {
            err_s(x, e, "%s: %s is a compliance keyword smsgw answers itself (STOP, START, HELP "
                  "and their synonyms); use help_text on the account for HELP", w, word);
            continue;
        }
        if (!reply || !*reply || strlen(reply) > 640) {
            err_s(x, e, "%s: %s must be a reply text of 1 to 640 characters", w, word);
            continue;
        }
        strv_push(&snd->kw_words, &snd->nkw, word);
        strv_push(&snd->kw_replies, &nreplies, reply);
    }
}

static void
parse_sender_types(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_route *r = obj;
    char w[160], names[128];

    r->sender_types = (1u << SENDER_TYPE_COUNT) - 1;
    if (!s)
        return;
    where(w, sizeof(w), label, "sender_types");
    join_names(names, sizeof(names), sender_type_names);
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "%s must be an array of sender types [ \"shortcode\", ... ], not %s", w, type_desc(s));
        return;
    }
    if (config_setting_length(s) == 0) {
        err_s(x, s, "%s must not be empty (leave it out for all types)", w);
        return;
    }
    r->sender_types = 0;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        enum sender_type t;
        if (!v)
            err_s(x, e, "%s: element %d must be a string, one of: %s", w, i + 1, names);
        else if (!sender_type_parse(v, &t))
            err_s(x, e, "%s: \"%s\" is not one of: %s", w, v, names);
        else
            r->sender_types |= 1u << t;
    }
}

static void
parse_api_keys(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_account *a = obj;
    static const char pfx[] = "sha256:";
    char w[160], hex[65];

    if (!s)
        return;
    where(w, sizeof(w), label, "api_keys");
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "%s must be an array of strings [ \"sha256:<64 hex digits>\", ... ], not %s", w,
              type_desc(s));
        return;
    }
    if (config_setting_length(s) == 0)
        err_s(x, s, "%s must list at least one key", w);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        bool ok = v && strncmp(v, pfx, sizeof(pfx) - 1) == 0 && strlen(v) == sizeof(pfx) - 1 + 64;
        for (size_t j = 0; ok && j < 64; j++) {
            char ch = v[sizeof(pfx) - 1 + j];
            ok = isxdigit((unsigned char)ch);
            hex[j] = (char)tolower((unsigned char)ch);
        }
        if (!ok) {
            err_s(x, e, "%s: element %d must be \"sha256:\" followed by 64 hex digits "
                  "(printf %%s KEY | sha256sum)", w, i + 1);
            continue;
        }
        hex[64] = '\0';
        if (strv_has(a->api_key_sha256, a->napi_keys, hex)) {
            err_s(x, e, "%s: element %d is listed twice", w, i + 1);
            continue;
        }
        strv_push(&a->api_key_sha256, &a->napi_keys, hex);
    }
}

/* n octets from 2n hex digits (either case); false if s is anything else. */
static bool
hex_decode(const char *s, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    for (size_t i = 0; i < n; i++) {
        char b[3] = { s[2 * i], s[2 * i + 1], 0 };
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
    return true;
}

/*
 * smpp_password = "pbkdf2-sha256:ITER:SALT_HEX:HASH_HEX": the password is
 * never in the file; PBKDF2-HMAC-SHA256 with ITER iterations over the salt
 * (8 to 64 octets) must give the 32-octet HASH.
 */
static void
parse_smpp_password(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_account *a = obj;
    static const char pfx[] = "pbkdf2-sha256:";
    char w[160];
    const char *v, *iter, *salt, *hash;
    char *end = NULL;

    if (!s) {
        free(a->smpp_password);
        a->smpp_password = NULL;
        return;
    }
    where(w, sizeof(w), label, "smpp_password");
    v = config_setting_get_string(s);
    if (!v) {
        err_s(x, s, "%s must be a string \"pbkdf2-sha256:ITER:SALT_HEX:HASH_HEX\", not %s", w,
              type_desc(s));
        return;
    }
    bool ok = strncmp(v, pfx, sizeof(pfx) - 1) == 0;
    iter = v + sizeof(pfx) - 1;
    salt = ok ? strchr(iter, ':') : NULL;
    hash = salt ? strchr(salt + 1, ':') : NULL;
    errno = 0;
    unsigned long it = ok && isdigit((unsigned char)*iter) ? strtoul(iter, &end, 10) : 0;
    ok = hash && end == salt && errno == 0;
    if (ok) {
        size_t slen = (size_t)(hash - salt - 1);
        ok = slen >= 16 && slen <= 128 && slen % 2 == 0 &&
             hex_decode(salt + 1, slen, a->smpp_salt, slen / 2) &&
             hex_decode(hash + 1, strlen(hash + 1), a->smpp_hash, sizeof(a->smpp_hash));
        a->smpp_salt_len = slen / 2;
    }
    if (!ok) {
        err_s(x, s, "%s must be \"pbkdf2-sha256:ITER:SALT_HEX:HASH_HEX\" (salt 8 to 64 octets, "
              "hash 32 octets, in hex); see docs/configuration.md for how to make one", w);
        return;
    }
    if (it < CONFIG_SMPP_ITER_MIN || it > CONFIG_SMPP_ITER_MAX) {
        err_s(x, s, "%s: iterations %lu are out of range %d..%d", w, it, CONFIG_SMPP_ITER_MIN,
              CONFIG_SMPP_ITER_MAX);
        return;
    }
    a->smpp_pbkdf2_iter = (unsigned)it;
    free(a->smpp_password);
    a->smpp_password = xstrdup(v);
}

/* "A.B.C.D" or "A.B.C.D/N" into r; false when it is neither. */
static bool
parse_cidr(const char *v, struct cfg_cidr *r)
{
    unsigned o[4], bits = 32;
    int n = 0;
    char tail;

    if (sscanf(v, "%3u.%3u.%3u.%3u%n", &o[0], &o[1], &o[2], &o[3], &n) != 4)
        return false;
    if (v[n] == '/') {
        const char *b = v + n + 1;
        if (!isdigit((unsigned char)*b) || strlen(b) > 2 || sscanf(b, "%u%c", &bits, &tail) != 1 ||
            bits > 32)
            return false;
    } else if (v[n] != '\0') {
        return false;
    }
    for (int i = 0; i < 4; i++)
        if (o[i] > 255)
            return false;
    r->mask = bits ? 0xFFFFFFFFu << (32 - bits) : 0;
    r->net = ((uint32_t)o[0] << 24 | (uint32_t)o[1] << 16 | (uint32_t)o[2] << 8 | o[3]) & r->mask;
    return true;
}

static void
parse_account_quiet(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_account *a = obj;
    char w[160];
    const char *v;

    a->quiet_set = false;
    if (!s)
        return;
    where(w, sizeof(w), label, "quiet_hours");
    v = config_setting_get_string(s);
    if (!v || !quiet_window_parse(v, &a->quiet)) {
        err_s(x, s, "%s must be a local window \"HH:MM-HH:MM\" such as \"10:00-20:00\"%s%s", w,
              v ? ", not " : "", v ? v : "");
        return;
    }
    a->quiet_set = true;
}

static void
parse_smpp_allowed_ips(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_account *a = obj;
    char w[160];

    free(a->smpp_allowed_ips);
    a->smpp_allowed_ips = NULL;
    a->nsmpp_allowed_ips = 0;
    if (!s)
        return;
    where(w, sizeof(w), label, "smpp_allowed_ips");
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "%s must be an array of IPv4 ranges [ \"192.0.2.0/24\", ... ], not %s", w,
              type_desc(s));
        return;
    }
    if (config_setting_length(s) == 0) {
        err_s(x, s, "%s must not be empty (leave it out to allow any address)", w);
        return;
    }
    a->smpp_allowed_ips = xcalloc((size_t)config_setting_length(s), sizeof(*a->smpp_allowed_ips));
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);
        struct cfg_cidr r;
        if (!v || !parse_cidr(v, &r)) {
            err_s(x, e, "%s: element %d must be an IPv4 address or range such as \"192.0.2.0/24\"",
                  w, i + 1);
            continue;
        }
        a->smpp_allowed_ips[a->nsmpp_allowed_ips++] = r;
    }
}

/*
 * Groups whose modules parse them (router/numplan, router/quiet,
 * router/channels): their errors come back through a cfg_errs sink into
 * this file's list, so they sort and print with all the others. Called
 * with s NULL when the group is absent: the defaults.
 */
static void
module_err(void *arg, const char *file, int line, const char *msg)
{
    err_at(arg, file, line, "%s", msg);
}

static void
parse_numbering(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    struct cfg_errs e = { .sink = module_err, .sink_arg = x };

    (void)label;
    if (!c->numplan)
        c->numplan = numplan_new();
    numplan_config(c->numplan, s, &e);
}

static void
parse_quiet_hours(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    struct cfg_errs e = { .sink = module_err, .sink_arg = x };

    (void)label;
    /* numbering is parsed first (table order), so its ranges are there. */
    if (!c->numplan)
        c->numplan = numplan_new();
    if (!c->quiet)
        c->quiet = quiet_new(c->numplan);
    quiet_config(c->quiet, s, &e);
}

static void
parse_channels(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    struct cfg_errs e = { .sink = module_err, .sink_arg = x };

    (void)label;
    chan_config_free(&c->channels);
    chan_config_parse(&c->channels, s, &e);
}

static void
add_ref(struct ctx *x, size_t route, size_t idx, const char *name, const config_setting_t *s)
{
    x->refs = xreallocarray(x->refs, x->nrefs + 1, sizeof(*x->refs));
    x->refs[x->nrefs++] = (struct smsc_ref){ route, idx, xstrdup(name), s };
}

static const struct key route_smsc_keys[] = {
    { .name = "name", .kind = K_STR, .min = 1, .flags = F_REQUIRED },
    KNUM(K_UINT, "priority", struct cfg_route_smsc, priority, 0, 1000, 0, 0),
    KNUM(K_UINT, "weight", struct cfg_route_smsc, weight, 1, 1000, 1, 0),
};

/*
 * smsc = [ "a", "b" ]  or  smsc = ( { name = "a"; priority = 0; weight = 3; }, "b" )
 * The name of a group element is read here rather than stored through the
 * table, since it becomes a pointer to the SMSC once all SMSCs are known.
 */
static void
parse_route_smscs(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct cfg_route *r = obj;
    size_t route = x->cp->pub.nroutes;      /* the route being parsed */
    char w[160], sub[200];
    const char *cands[4] = { "name", "priority", "weight" }, *name;

    if (!s)
        return;
    where(w, sizeof(w), label, "smsc");
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        err_s(x, s, "%s must be an array of SMSC names [ \"a\", ... ] or a list of groups "
              "( { name = \"a\"; priority = 0; weight = 1; }, ... ), not %s", w, type_desc(s));
        return;
    }
    if (config_setting_length(s) == 0)
        err_s(x, s, "%s must name at least one SMSC", w);
    r->smscs = xcalloc((size_t)config_setting_length(s), sizeof(*r->smscs));
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct cfg_route_smsc rs = { .priority = 0, .weight = 1 };
        name = NULL;
        if (config_setting_type(e) == CONFIG_TYPE_STRING) {
            name = config_setting_get_string(e);
        } else if (config_setting_is_group(e)) {
            snprintf(sub, sizeof(sub), "%s[%d]", w, i + 1);
            for (int j = 0; j < config_setting_length(e); j++) {
                const config_setting_t *m = config_setting_get_elem(e, (unsigned)j);
                const char *mn = config_setting_name(m);
                char sug[96];
                if (strcmp(mn, "name") == 0) {
                    if (config_setting_type(m) != CONFIG_TYPE_STRING)
                        err_s(x, m, "%s: name must be a string, not %s", sub, type_desc(m));
                    else
                        name = config_setting_get_string(m);
                } else if (strcmp(mn, "priority") == 0 || strcmp(mn, "weight") == 0) {
                    parse_key(x, &route_smsc_keys[mn[0] == 'p' ? 1 : 2], m, &rs, sub);
                } else {
                    err_s(x, m, "%s: unknown setting \"%s\"%s", sub, mn,
                          suggest(sug, sizeof(sug), mn, cands, 3));
                }
            }
            if (!config_setting_get_member(e, "name"))
                err_s(x, e, "%s: missing required setting \"name\"", sub);
        } else {
            err_s(x, e, "%s: element %d must be an SMSC name or a group { name = ...; }, not %s",
                  w, i + 1, type_desc(e));
        }
        if (name && !*name) {
            err_s(x, e, "%s: element %d: SMSC name is empty", w, i + 1);
            name = NULL;
        }
        if (name)
            add_ref(x, route, r->nsmscs, name, e);
        r->smscs[r->nsmscs++] = rs;
    }
}

/* ------------------------------------------------------------ the lists */

static void
item_label(char *buf, size_t size, const char *what, const config_setting_t *grp, const char *key,
           int idx)
{
    const config_setting_t *m = config_setting_get_member(grp, key);
    const char *v = m ? config_setting_get_string(m) : NULL;
    if (v && *v)
        snprintf(buf, size, "%s \"%s\"", what, v);
    else
        snprintf(buf, size, "%s #%d", what, idx + 1);
}

/*
 * Common walk over smsc / senders / routes / accounts: a list of groups,
 * each parsed by sec into a new element of *arr (elemsz bytes).
 */
static void
parse_list(struct ctx *x, const config_setting_t *s, const char *listname, const struct section *sec,
           const char *key, void **arr, size_t *n, size_t elemsz, const config_setting_t ***sets)
{
    char label[128];

    if (!s)
        return;
    if (!config_setting_is_list(s) && !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
        err_s(x, s, "%s must be a list of groups: %s = ( { ... }, { ... } ); not %s", listname,
              listname, type_desc(s));
        return;
    }
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        if (!config_setting_is_group(g)) {
            err_s(x, g, "%s: element %d must be a group { ... }, not %s", listname, i + 1, type_desc(g));
            continue;
        }
        item_label(label, sizeof(label), sec->what, g, key, i);
        *arr = xreallocarray(*arr, *n + 1, elemsz);
        *sets = xreallocarray(*sets, *n + 1, sizeof(**sets));
        void *obj = (char *)*arr + *n * elemsz;
        memset(obj, 0, elemsz);
        (*sets)[*n] = g;
        parse_section(x, sec, g, obj, label);
        (*n)++;
    }
}

static void
parse_smsc_list(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    void *arr = c->smscs;

    parse_list(x, s, "smsc", &smsc_section, "name", &arr, &c->nsmscs, sizeof(*c->smscs), &x->smsc_s);
    c->smscs = arr;
    for (size_t i = 0; s && i < c->nsmscs; i++) {
        c->smscs[i].file = file_of(x, x->smsc_s[i]);
        c->smscs[i].line = config_setting_source_line(x->smsc_s[i]);
    }
    (void)label;
}

static void
parse_sender_list(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    void *arr = c->senders;

    parse_list(x, s, "senders", &sender_section, "address", &arr, &c->nsenders, sizeof(*c->senders),
               &x->sender_s);
    c->senders = arr;
    for (size_t i = 0; s && i < c->nsenders; i++) {
        c->senders[i].file = file_of(x, x->sender_s[i]);
        c->senders[i].line = config_setting_source_line(x->sender_s[i]);
    }
    (void)label;
}

static void
parse_route_list(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    void *arr = c->routes;

    parse_list(x, s, "routes", &route_section, "name", &arr, &c->nroutes, sizeof(*c->routes), &x->route_s);
    c->routes = arr;
    for (size_t i = 0; s && i < c->nroutes; i++) {
        c->routes[i].file = file_of(x, x->route_s[i]);
        c->routes[i].line = config_setting_source_line(x->route_s[i]);
    }
    (void)label;
}

static void
parse_account_list(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    void *arr = c->accounts;

    parse_list(x, s, "accounts", &account_section, "name", &arr, &c->naccounts, sizeof(*c->accounts),
               &x->account_s);
    c->accounts = arr;
    for (size_t i = 0; s && i < c->naccounts; i++) {
        c->accounts[i].file = file_of(x, x->account_s[i]);
        c->accounts[i].line = config_setting_source_line(x->account_s[i]);
    }
    (void)label;
}

static void
parse_mo_route_list(struct ctx *x, const config_setting_t *s, void *obj, const char *label)
{
    struct gw_config *c = obj;
    void *arr = c->mo_routes;

    parse_list(x, s, "mo_routes", &mo_route_section, "number", &arr, &c->nmo_routes,
               sizeof(*c->mo_routes), &x->mo_route_s);
    c->mo_routes = arr;
    for (size_t i = 0; s && i < c->nmo_routes; i++) {
        c->mo_routes[i].file = file_of(x, x->mo_route_s[i]);
        c->mo_routes[i].line = config_setting_source_line(x->mo_route_s[i]);
    }
    (void)label;
}

/* ----------------------------------------------------------- validation */

static const config_setting_t *
member_or(const config_setting_t *g, const char *name)
{
    const config_setting_t *m = config_setting_get_member(g, name);
    return m ? m : g;
}

static bool
is_e164(const char *a)
{
    size_t n = strlen(a);
    return a[0] == '+' && n >= 9 && n <= 16 && a[1] != '0' && all_digits(a + 1);
}

static void
validate_sender_address(struct ctx *x, const struct cfg_sender *s, const config_setting_t *g)
{
    const config_setting_t *at = member_or(g, "address");
    const char *a = s->address;
    size_t n = strlen(a);

    switch (s->type) {
    case SENDER_SHORTCODE:
        if (n < 3 || n > 8 || !all_digits(a))
            err_s(x, at, "sender \"%s\": a shortcode must be 3 to 8 digits", a);
        break;
    case SENDER_TOLLFREE:
        if (!is_e164(a))
            err_s(x, at, "sender \"%s\": a tollfree address must be E.164: '+' then 8 to 15 digits, "
                  "the first not 0", a);
        break;
    case SENDER_10DLC:
        if (!is_e164(a))
            err_s(x, at, "sender \"%s\": a 10dlc address must be E.164: '+' then 8 to 15 digits, "
                  "the first not 0", a);
        else if (a[1] != '1' || n != 12)
            err_s(x, at, "sender \"%s\": a 10dlc address must be a US/CA number: +1 and 10 digits", a);
        break;
    case SENDER_ALPHANUMERIC: {
        bool ok = n >= 1 && n <= 11;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)a[i]) || a[i] == ' ';
        if (!ok)
            err_s(x, at, "sender \"%s\": an alphanumeric sender must be 1 to 11 characters of "
                  "A-Z a-z 0-9 and space", a);
        break;
    }
    default:
        break;
    }
}

static void
dup_names(struct ctx *x, const char *what, const char *key, size_t n, const char *(*name_of)(const struct gw_config *, size_t),
          const config_setting_t **sets)
{
    const struct gw_config *c = &x->cp->pub;

    for (size_t i = 0; i < n; i++) {
        const char *a = name_of(c, i);
        if (!a)
            continue;
        for (size_t j = 0; j < i; j++) {
            const char *b = name_of(c, j);
            if (b && strcmp(a, b) == 0) {
                err_s(x, member_or(sets[i], key), "duplicate %s %s \"%s\" (first defined at %s:%d)",
                      what, key, a, file_of(x, sets[j]), config_setting_source_line(sets[j]));
                break;
            }
        }
    }
}

static const char *smsc_name(const struct gw_config *c, size_t i) { return c->smscs[i].name; }
static const char *route_name(const struct gw_config *c, size_t i) { return c->routes[i].name; }
static const char *account_name(const struct gw_config *c, size_t i) { return c->accounts[i].name; }
static const char *sender_addr(const struct gw_config *c, size_t i) { return c->senders[i].address; }

/* Two route scopes (account or class lists) overlap at the same specificity:
 * both unrestricted, or both restricted with a name in common. */
static bool
same_scope(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return na == 0 && nb == 0;
    for (size_t i = 0; i < na; i++)
        if (strv_has(b, nb, a[i]))
            return true;
    return false;
}

static void
validate(struct ctx *x)
{
    struct gw_config *c = &x->cp->pub;
    char sug[96];

    /* A route's fallback chain names configured channels (docs/channels.md);
     * its accounts exist; its classes are known. */
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct cfg_route *r = &c->routes[i];
        for (size_t j = 0; j < r->nclasses; j++)
            if (strcmp(r->classes[j], "transactional") != 0 &&
                strcmp(r->classes[j], "marketing") != 0)
                err_at(x, r->file, r->line, "route \"%s\": class \"%s\" must be "
                       "\"transactional\" or \"marketing\"", r->name ? r->name : "?",
                       r->classes[j]);
        for (size_t j = 0; j < r->naccounts; j++) {
            bool known = false;
            for (size_t k = 0; k < c->naccounts && !known; k++)
                known = c->accounts[k].name && strcmp(c->accounts[k].name, r->accounts[j]) == 0;
            if (!known)
                err_at(x, r->file, r->line, "route \"%s\": unknown account \"%s\"",
                       r->name ? r->name : "?", r->accounts[j]);
        }
        const struct chan_config *cc = &c->channels;
        for (size_t j = 0; j < r->nfallback; j++) {
            const char *n = r->fallback[j];
            if (!((cc->has_email && strcmp(n, cc->email.name) == 0) ||
                  (cc->has_ott && strcmp(n, cc->ott.name) == 0) ||
                  (cc->has_rcs && strcmp(n, cc->rcs.name) == 0)))
                err_at(x, r->file, r->line, "route \"%s\": fallback \"%s\" is not a configured "
                       "channel (channels.email, channels.ott, channels.rcs)",
                       r->name ? r->name : "?", n);
        }
    }

    for (size_t i = 0; i < c->nmo_routes; i++) {
        const struct cfg_mo_route *r = &c->mo_routes[i];
        if (r->number && !config_sender(c, r->number))
            err_s(x, member_or(x->mo_route_s[i], "number"),
                  "mo_route: number \"%s\" is not one of the senders", r->number);
        bool known = false;
        for (size_t j = 0; r->account && j < c->naccounts && !known; j++)
            known = c->accounts[j].name && strcmp(c->accounts[j].name, r->account) == 0;
        if (r->account && !known)
            err_s(x, member_or(x->mo_route_s[i], "account"),
                  "mo_route: unknown account \"%s\"", r->account);
        for (size_t j = 0; j < i; j++) {
            const struct cfg_mo_route *o = &c->mo_routes[j];
            if (r->number && o->number && strcmp(r->number, o->number) == 0 &&
                ((!r->keyword && !o->keyword) ||
                 (r->keyword && o->keyword && strcasecmp(r->keyword, o->keyword) == 0)))
                err_s(x, x->mo_route_s[i], "mo_route: number \"%s\"%s%s%s is routed twice (line %d)",
                      r->number, r->keyword ? " keyword \"" : "", r->keyword ? r->keyword : "",
                      r->keyword ? "\"" : "", o->line);
        }
    }

    for (size_t i = 0; i < c->nsmscs; i++) {
        const struct cfg_smsc *m = &c->smscs[i];
        const config_setting_t *g = x->smsc_s[i];
        if (m->tls_key_file && !m->tls_cert_file)
            err_s(x, member_or(g, "tls_key_file"), "smsc \"%s\": tls_key_file is set but tls_cert_file is not",
                  m->name ? m->name : "?");
        if (!m->tls && (m->tls_ca_file || m->tls_cert_file || m->tls_key_file))
            err_s(x, g, "smsc \"%s\": tls_ca_file, tls_cert_file or tls_key_file is set but tls is false",
                  m->name ? m->name : "?");
        if (m->reconnect_min_ms > m->reconnect_max_ms)
            err_s(x, member_or(g, "reconnect_min_ms"), "smsc \"%s\": reconnect_min_ms (%u) is greater than reconnect_max_ms (%u)",
                  m->name ? m->name : "?", m->reconnect_min_ms, m->reconnect_max_ms);
        if (m->error_rate.cooldown_s > m->error_rate.cooldown_max_s) {
            const config_setting_t *er = config_setting_get_member(g, "error_rate");
            err_s(x, er ? member_or(er, "cooldown_s") : g,
                  "smsc \"%s\": error_rate cooldown_s (%u) is greater than cooldown_max_s (%u)",
                  m->name ? m->name : "?", m->error_rate.cooldown_s, m->error_rate.cooldown_max_s);
        }
    }
    dup_names(x, "smsc", "name", c->nsmscs, smsc_name, x->smsc_s);

    for (size_t i = 0; i < c->nsenders; i++)
    {
        /* Only when the type itself was valid, or the message would be about a guess. */
        const config_setting_t *ts = config_setting_get_member(x->sender_s[i], "type");
        enum sender_type t;
        if (c->senders[i].address && ts && sender_type_parse(config_setting_get_string(ts), &t))
            validate_sender_address(x, &c->senders[i], x->sender_s[i]);
    }
    dup_names(x, "sender", "address", c->nsenders, sender_addr, x->sender_s);

    for (size_t i = 0; i < c->nroutes; i++) {
        const struct cfg_route *r = &c->routes[i];
        if (r->retry_backoff_ms > r->retry_backoff_max_ms)
            err_s(x, member_or(x->route_s[i], "retry_backoff_ms"),
                  "route \"%s\": retry_backoff_ms (%u) is greater than retry_backoff_max_ms (%u)",
                  r->name ? r->name : "?", r->retry_backoff_ms, r->retry_backoff_max_ms);
    }
    dup_names(x, "route", "name", c->nroutes, route_name, x->route_s);

    /* Route -> SMSC references. */
    const char **snames = xcalloc(c->nsmscs + 1, sizeof(*snames));
    for (size_t i = 0; i < c->nsmscs; i++)
        snames[i] = c->smscs[i].name ? c->smscs[i].name : "";
    for (size_t i = 0; i < x->nrefs; i++) {
        struct smsc_ref *ref = &x->refs[i];
        struct cfg_route *r = &c->routes[ref->route];
        struct cfg_smsc *found = NULL;
        for (size_t j = 0; j < c->nsmscs && !found; j++)
            if (c->smscs[j].name && strcmp(c->smscs[j].name, ref->name) == 0)
                found = &c->smscs[j];
        if (!found) {
            err_s(x, ref->s, "route \"%s\": unknown smsc \"%s\"%s", r->name ? r->name : "?", ref->name,
                  suggest(sug, sizeof(sug), ref->name, snames, c->nsmscs));
            continue;
        }
        for (size_t j = 0; j < ref->idx; j++)
            if (r->smscs[j].smsc == found) {
                err_s(x, ref->s, "route \"%s\": smsc \"%s\" is listed twice", r->name ? r->name : "?", ref->name);
                break;
            }
        r->smscs[ref->idx].smsc = found;
    }
    free(snames);

    /*
     * Two routes carrying the same sender type for the same prefix would make
     * config_route_for() pick one arbitrarily: refuse the ambiguity.
     */
    for (size_t i = 0; i < c->nroutes; i++)
        for (size_t p = 0; p < c->routes[i].nprefixes; p++)
            for (size_t j = 0; j < i; j++) {
                unsigned both = c->routes[i].sender_types & c->routes[j].sender_types;
                if (!both || !strv_has(c->routes[j].prefixes, c->routes[j].nprefixes, c->routes[i].prefixes[p]))
                    continue;
                /* Routes for different accounts or classes, or one for all and one
                 * narrower, are told apart; the same scope twice is not. */
                if (!same_scope(c->routes[i].accounts, c->routes[i].naccounts,
                                c->routes[j].accounts, c->routes[j].naccounts) ||
                    !same_scope(c->routes[i].classes, c->routes[i].nclasses,
                                c->routes[j].classes, c->routes[j].nclasses))
                    continue;
                int t = __builtin_ctz(both);
                const config_setting_t *ps = config_setting_get_member(x->route_s[i], "prefixes");
                const config_setting_t *at = ps ? config_setting_get_elem(ps, (unsigned)p) : NULL;
                err_s(x, at ? at : x->route_s[i],
                      "route \"%s\": prefix \"%s\" for %s senders is already routed by route \"%s\" (%s:%d)",
                      c->routes[i].name ? c->routes[i].name : "?", c->routes[i].prefixes[p],
                      sender_type_name((enum sender_type)t), c->routes[j].name ? c->routes[j].name : "?",
                      c->routes[j].file, c->routes[j].line);
            }

    dup_names(x, "account", "name", c->naccounts, account_name, x->account_s);
    for (size_t i = 0; i < c->naccounts; i++) {
        const struct cfg_account *a = &c->accounts[i];
        if (a->mo_url && strncmp(a->mo_url, "http://", 7) != 0 &&
            strncmp(a->mo_url, "https://", 8) != 0)
            err_s(x, member_or(x->account_s[i], "mo_url"),
                  "account \"%s\": mo_url must start with http:// or https://", a->name ? a->name : "?");
        if (a->callback_url && strncmp(a->callback_url, "http://", 7) != 0 &&
            strncmp(a->callback_url, "https://", 8) != 0)
            err_s(x, member_or(x->account_s[i], "callback_url"),
                  "account \"%s\": callback_url must start with http:// or https://", a->name ? a->name : "?");
        /* The same key on two accounts would make the caller's identity ambiguous. */
        for (size_t k = 0; k < a->napi_keys; k++)
            for (size_t j = 0; j < i; j++)
                if (strv_has(c->accounts[j].api_key_sha256, c->accounts[j].napi_keys, a->api_key_sha256[k])) {
                    err_s(x, member_or(x->account_s[i], "api_keys"),
                          "account \"%s\": an api key is also used by account \"%s\"",
                          a->name ? a->name : "?", c->accounts[j].name ? c->accounts[j].name : "?");
                    break;
                }
        /* A bind names its account by system_id: it must be unambiguous. */
        /* (present but invalid was reported where it is written) */
        if (a->smpp_system_id && !config_setting_get_member(x->account_s[i], "smpp_password"))
            err_s(x, member_or(x->account_s[i], "smpp_system_id"),
                  "account \"%s\": smpp_system_id needs smpp_password", a->name ? a->name : "?");
        if (config_setting_get_member(x->account_s[i], "smpp_password") &&
            !config_setting_get_member(x->account_s[i], "smpp_system_id"))
            err_s(x, member_or(x->account_s[i], "smpp_password"),
                  "account \"%s\": smpp_password needs smpp_system_id", a->name ? a->name : "?");
        for (size_t j = 0; a->smpp_system_id && j < i; j++)
            if (c->accounts[j].smpp_system_id &&
                strcmp(c->accounts[j].smpp_system_id, a->smpp_system_id) == 0) {
                err_s(x, member_or(x->account_s[i], "smpp_system_id"),
                      "account \"%s\": smpp_system_id \"%s\" is also used by account \"%s\" (%s:%d)",
                      a->name ? a->name : "?", a->smpp_system_id,
                      c->accounts[j].name ? c->accounts[j].name : "?", c->accounts[j].file,
                      c->accounts[j].line);
                break;
            }
    }

    /* Sender -> account and account -> sender references. */
    const char **anames = xcalloc(c->naccounts + 1, sizeof(*anames));
    for (size_t i = 0; i < c->naccounts; i++)
        anames[i] = c->accounts[i].name ? c->accounts[i].name : "";
    for (size_t i = 0; i < c->nsenders; i++) {
        const struct cfg_sender *s = &c->senders[i];
        const config_setting_t *arr = config_setting_get_member(x->sender_s[i], "accounts");
        for (size_t k = 0; k < s->naccounts; k++) {
            bool ok = false;
            for (size_t j = 0; j < c->naccounts && !ok; j++)
                ok = c->accounts[j].name && strcmp(c->accounts[j].name, s->accounts[k]) == 0;
            if (ok)
                continue;
            /* element k of the stored array is the k-th valid one: find its setting */
            const config_setting_t *at = arr;
            for (int e = 0; arr && e < config_setting_length(arr); e++) {
                const char *v = config_setting_get_string_elem(arr, e);
                if (v && strcmp(v, s->accounts[k]) == 0) {
                    at = config_setting_get_elem(arr, (unsigned)e);
                    break;
                }
            }
            err_s(x, at ? at : x->sender_s[i], "sender \"%s\": unknown account \"%s\"%s",
                  s->address ? s->address : "?", s->accounts[k],
                  suggest(sug, sizeof(sug), s->accounts[k], anames, c->naccounts));
        }
    }
    free(anames);
    const char **addrs = xcalloc(c->nsenders + 1, sizeof(*addrs));
    for (size_t i = 0; i < c->nsenders; i++)
        addrs[i] = c->senders[i].address ? c->senders[i].address : "";
    for (size_t i = 0; i < c->naccounts; i++) {
        const struct cfg_account *a = &c->accounts[i];
        const config_setting_t *arr = config_setting_get_member(x->account_s[i], "senders");
        for (size_t k = 0; k < a->nsenders; k++) {
            bool ok = false;
            for (size_t j = 0; j < c->nsenders && !ok; j++)
                ok = c->senders[j].address && strcmp(c->senders[j].address, a->senders[k]) == 0;
            if (ok)
                continue;
            const config_setting_t *at = arr;
            for (int e = 0; arr && e < config_setting_length(arr); e++) {
                const char *v = config_setting_get_string_elem(arr, e);
                if (v && strcmp(v, a->senders[k]) == 0) {
                    at = config_setting_get_elem(arr, (unsigned)e);
                    break;
                }
            }
            err_s(x, at ? at : x->account_s[i], "account \"%s\": unknown sender \"%s\"%s",
                  a->name ? a->name : "?", a->senders[k],
                  suggest(sug, sizeof(sug), a->senders[k], addrs, c->nsenders));
        }
    }
    free(addrs);
}

/* ------------------------------------------------------------- finalize */

static void
finalize(struct ctx *x)
{
    struct gw_config *c = &x->cp->pub;

    if (!c->instance) {
        char host[256] = "localhost", buf[320];
        if (gethostname(host, sizeof(host) - 1) != 0)
            strcpy(host, "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(buf, sizeof(buf), "%s-%ld", host, (long)getpid());
        c->instance = xstrdup(buf);
    }
    for (size_t i = 0; i < c->nsmscs; i++) {
        struct cfg_smsc *m = &c->smscs[i];
        const config_setting_t *g = x->smsc_s[i];
        if (!config_setting_get_member(g, "receipt_id_format"))
            m->dlr_id_format = m->resp_id_format;
        m->short_code_ton_set = config_setting_get_member(g, "short_code_ton") ||
                                config_setting_get_member(g, "short_code_npi");
    }
    for (size_t i = 0; i < c->nsenders; i++) {
        struct cfg_sender *s = &c->senders[i];
        const config_setting_t *g = x->sender_s[i];
        if (!config_setting_get_member(g, "ton"))
            s->ton = type_ton[s->type];
        if (!config_setting_get_member(g, "npi"))
            s->npi = type_npi[s->type];
    }
    /* Permission may be written on either side: make both sides list it. */
    for (size_t i = 0; i < c->nsenders; i++) {
        struct cfg_sender *s = &c->senders[i];
        for (size_t j = 0; j < c->naccounts; j++) {
            struct cfg_account *a = &c->accounts[j];
            bool on_s = strv_has(s->accounts, s->naccounts, a->name);
            bool on_a = strv_has(a->senders, a->nsenders, s->address);
            if (on_s && !on_a)
                strv_push(&a->senders, &a->nsenders, s->address);
            else if (on_a && !on_s)
                strv_push(&s->accounts, &s->naccounts, a->name);
        }
    }
}

/* ----------------------------------------------------------------- load */

static void
redis_check(struct ctx *x, const config_setting_t *root)
{
    const config_setting_t *g = config_setting_get_member(root, "redis");
    const config_setting_t *us = g && config_setting_is_group(g) ? config_setting_get_member(g, "unix_socket") : NULL;
    const config_setting_t *h = g && config_setting_is_group(g) ? config_setting_get_member(g, "host") : NULL;

    if (us && h)
        err_s(x, us, "redis: unix_socket and host are both set; set only one");
    else if (us && config_setting_get_member(g, "port"))
        err_s(x, us, "redis: unix_socket and port are both set; set only one");
    if (!g || !config_setting_is_group(g))
        return;

    const struct cfg_redis *rc = &x->cp->pub.redis;
    if (!rc->tls) {
        static const char *const tk[] = { "tls_ca_file", "tls_cert_file", "tls_key_file",
                                          "tls_verify", "tls_server_name" };
        for (size_t i = 0; i < sizeof(tk) / sizeof(tk[0]); i++) {
            const config_setting_t *m = config_setting_get_member(g, tk[i]);
            if (m) {
                err_s(x, m, "redis: %s is set but tls is false; set tls = true or remove it",
                      tk[i]);
                break;
            }
        }
        return;
    }
    if (us) {
        err_s(x, member_or(g, "tls"), "redis: tls needs host and port; a unix_socket is "
              "local and has no TLS (remove tls or unix_socket)");
        return;
    }
    if (!rc->tls_cert_file != !rc->tls_key_file) {
        err_s(x, member_or(g, rc->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
              "redis: tls_cert_file and tls_key_file go together (the client certificate "
              "for tls-auth-clients); set both or neither");
        return;
    }
    /* Load the files now, so a wrong path or PEM is a config error (and
     * smsgwd -t finds it) rather than a connection that never comes up. */
    struct smpp_tls_client_cfg tc = { .ca_file = rc->tls_ca_file, .cert_file = rc->tls_cert_file,
                                      .key_file = rc->tls_key_file, .verify = rc->tls_verify };
    char terr[320] = "";
    SSL_CTX *ctx = smpp_tls_client_ctx(&tc, terr, sizeof(terr));
    if (!ctx) {
        const char *k = strstr(terr, "CA") ? "tls_ca_file"
                        : strstr(terr, "client key") ? "tls_key_file"
                        : strstr(terr, "client") ? "tls_cert_file" : "tls";
        err_s(x, member_or(g, k), "redis: %s", terr);
        return;
    }
    SSL_CTX_free(ctx);
}

static void
http_check(struct ctx *x, const config_setting_t *root)
{
    const config_setting_t *g = config_setting_get_member(root, "http");
    const struct cfg_http *h = &x->cp->pub.http;

    if (g && !h->tls_cert_file != !h->tls_key_file)
        err_s(x, member_or(g, h->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
              "http: tls_cert_file and tls_key_file go together; set both for HTTPS, "
              "neither for plain HTTP");
}

static void
smpp_server_check(struct ctx *x, const config_setting_t *root)
{
    const config_setting_t *g = config_setting_get_member(root, "smpp_server");
    struct cfg_smpp_server *ss = &x->cp->pub.smpp_server;

    ss->enabled = g && config_setting_is_group(g);
    if (ss->enabled && !ss->tls_cert_file != !ss->tls_key_file)
        err_s(x, member_or(g, ss->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
              "smpp_server: tls_cert_file and tls_key_file go together; set both for TLS, "
              "neither for plain TCP");
}

/* "sha256:<64 hex>" -> the lowercase hex, in place. */
static bool
sha256_setting(char *v)
{
    static const char pfx[] = "sha256:";
    if (!v || strncmp(v, pfx, sizeof(pfx) - 1) != 0 || strlen(v) != sizeof(pfx) - 1 + 64)
        return false;
    for (size_t j = 0; j < 64; j++) {
        char ch = v[sizeof(pfx) - 1 + j];
        if (!isxdigit((unsigned char)ch))
            return false;
        v[j] = (char)tolower((unsigned char)ch);
    }
    v[64] = '\0';
    return true;
}

static void
admin_check(struct ctx *x, const config_setting_t *root)
{
    const config_setting_t *g = config_setting_get_member(root, "admin");
    struct cfg_admin *ad = &x->cp->pub.admin;

    if (ad->token_sha256 && !sha256_setting(ad->token_sha256))
        err_s(x, member_or(g, "token"), "admin: token must be \"sha256:\" followed by 64 hex "
              "digits (smsgwctl hash-secret TOKEN)");
    if (ad->http_token_sha256 && !sha256_setting(ad->http_token_sha256))
        err_s(x, member_or(g, "http_token"), "admin: http_token must be \"sha256:\" followed "
              "by 64 hex digits (smsgwctl hash-secret TOKEN)");
    if (ad->tcp_port && !ad->token_sha256)
        err_s(x, member_or(g, "tcp_port"), "admin: tcp_port needs a token (anyone who can "
              "connect could otherwise reload or pause routes)");
}

static void
free_all(struct gw_config *c)
{
    struct config_priv *cp = (struct config_priv *)c;

    free(c->path);
    free(c->instance);
    free(c->log_level);
    strv_free(c->log_trace, c->nlog_trace);
    free(c->log_file);
    strv_free(c->alpha_forbidden, c->nalpha_forbidden);
    free(c->redis.host);
    free(c->redis.unix_socket);
    free(c->redis.password);
    free(c->redis.prefix);
    free(c->redis.tls_ca_file);
    free(c->redis.tls_cert_file);
    free(c->redis.tls_key_file);
    free(c->redis.tls_server_name);
    free(c->http.listen);
    free(c->http.tls_cert_file);
    free(c->http.tls_key_file);
    free(c->smpp_server.listen);
    free(c->smpp_server.tls_cert_file);
    free(c->smpp_server.tls_key_file);
    free(c->admin.socket);
    free(c->admin.tcp_listen);
    free(c->admin.token_sha256);
    free(c->admin.http_token_sha256);
    for (size_t i = 0; i < c->nsmscs; i++) {
        struct cfg_smsc *m = &c->smscs[i];
        free(m->name);
        free(m->host);
        free(m->tls_ca_file);
        free(m->tls_cert_file);
        free(m->tls_key_file);
        free(m->system_id);
        free(m->password);
        free(m->system_type);
    }
    free(c->smscs);
    for (size_t i = 0; i < c->nsenders; i++) {
        free(c->senders[i].address);
        strv_free(c->senders[i].accounts, c->senders[i].naccounts);
        strv_free(c->senders[i].kw_words, c->senders[i].nkw);
        strv_free(c->senders[i].kw_replies, c->senders[i].nkw);
    }
    free(c->senders);
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i].name);
        free(c->routes[i].smscs);
        strv_free(c->routes[i].prefixes, c->routes[i].nprefixes);
        strv_free(c->routes[i].fallback, c->routes[i].nfallback);
        strv_free(c->routes[i].accounts, c->routes[i].naccounts);
        strv_free(c->routes[i].classes, c->routes[i].nclasses);
    }
    free(c->routes);
    for (size_t i = 0; i < c->naccounts; i++) {
        struct cfg_account *a = &c->accounts[i];
        free(a->name);
        strv_free(a->api_key_sha256, a->napi_keys);
        strv_free(a->senders, a->nsenders);
        free(a->callback_url);
        free(a->mo_url);
        free(a->help_text);
        free(a->smpp_system_id);
        free(a->smpp_password);
        free(a->smpp_allowed_ips);
    }
    free(c->accounts);
    for (size_t i = 0; i < c->nmo_routes; i++) {
        free(c->mo_routes[i].number);
        free(c->mo_routes[i].keyword);
        free(c->mo_routes[i].account);
    }
    free(c->mo_routes);
    quiet_free(c->quiet);
    numplan_free(c->numplan);
    chan_config_free(&c->channels);
    strv_free(cp->files, cp->nfiles);
    free(cp);
}

void
config_free(struct gw_config *cfg)
{
    if (cfg)
        free_all(cfg);
}

int
config_load(const char *path, struct gw_config **out, FILE *errs)
{
    struct ctx x = { 0 };
    config_t lc;
    int n;

    x.cp = xcalloc(1, sizeof(*x.cp));
    x.cp->pub.path = xstrdup(path);
    file_index(&x, path);

    config_init(&lc);
    /* @include "x.conf" is relative to the directory of the main file. */
    {
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        if (slash) {
            slash[slash == dir] = '\0';
            config_set_include_dir(&lc, dir);
            x.incdir = dir;
        } else {
            free(dir);
        }
    }
    FILE *probe = fopen(path, "r");
    long nul_line = 0;
    if (probe) {
        /* A NUL byte means binary data, not a config; libconfig would also
         * leak its string buffer on it (found by fuzz_config). */
        long line = 1;
        for (int c; (c = getc(probe)) != EOF && !nul_line;) {
            if (c == '\n')
                line++;
            else if (c == 0)
                nul_line = line;
        }
    }
    if (!probe) {
        err_at(&x, path, 0, "cannot open: %s", strerror(errno));
    } else if (nul_line) {
        fclose(probe);
        err_at(&x, path, (int)nul_line, "a NUL byte: this is not a text file");
    } else {
        fclose(probe);
        if (!config_read_file(&lc, path)) {
            const char *ef = config_error_file(&lc);
            err_at(&x, ef ? ef : path, config_error_line(&lc), "%s", config_error_text(&lc));
        } else {
            const config_setting_t *root = config_root_setting(&lc);
            parse_section(&x, &top_section, root, &x.cp->pub, NULL);
            redis_check(&x, root);
            smpp_server_check(&x, root);
            http_check(&x, root);
            admin_check(&x, root);
            validate(&x);
            if (x.nerrs == 0)
                finalize(&x);
        }
    }

    n = (int)x.nerrs;
    if (x.nerrs)
        qsort(x.errs, x.nerrs, sizeof(*x.errs), cerr_cmp);
    for (size_t i = 0; i < x.nerrs; i++) {
        if (errs)
            fprintf(errs, "%s:%d: %s\n", x.cp->files[x.errs[i].file_idx], x.errs[i].line, x.errs[i].msg);
        free(x.errs[i].msg);
    }
    if (errs && n)
        fflush(errs);
    free(x.errs);
    for (size_t i = 0; i < x.nrefs; i++)
        free(x.refs[i].name);
    free(x.refs);
    for (size_t i = 0; i < x.cp->nfiles; i++)
        free(x.src[i].text);
    free(x.src);
    free(x.smsc_s);
    free(x.sender_s);
    free(x.route_s);
    free(x.account_s);
    free(x.mo_route_s);
    free(x.incdir);
    config_destroy(&lc);

    if (n) {
        free_all(&x.cp->pub);
        return n;
    }
    *out = &x.cp->pub;
    return 0;
}

/* -------------------------------------------------------------- lookups */

const struct cfg_smsc *
config_smsc(const struct gw_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nsmscs; i++)
        if (strcmp(c->smscs[i].name, name) == 0)
            return &c->smscs[i];
    return NULL;
}

const struct cfg_sender *
config_sender(const struct gw_config *c, const char *address)
{
    for (size_t i = 0; c && address && i < c->nsenders; i++)
        if (strcmp(c->senders[i].address, address) == 0)
            return &c->senders[i];
    return NULL;
}

const struct cfg_route *
config_route(const struct gw_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nroutes; i++)
        if (strcmp(c->routes[i].name, name) == 0)
            return &c->routes[i];
    return NULL;
}

void
config_sha256_hex(const char *s, char out[65])
{
    static const char hexd[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) || len != 32) {
        fprintf(stderr, "config: SHA-256 failed\n");
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hexd[md[i] >> 4];
        out[2 * i + 1] = hexd[md[i] & 15];
    }
    out[64] = '\0';
}

/*
 * Every stored hash is compared, in constant time, whatever matched before:
 * the time taken says nothing about which account (if any) a key belongs to.
 */
const struct cfg_account *
config_account_by_key(const struct gw_config *c, const char *api_key)
{
    const struct cfg_account *found = NULL;
    char hex[65];

    if (!c || !api_key || !*api_key)
        return NULL;
    config_sha256_hex(api_key, hex);
    for (size_t i = 0; i < c->naccounts; i++)
        for (size_t k = 0; k < c->accounts[i].napi_keys; k++)
            if (CRYPTO_memcmp(hex, c->accounts[i].api_key_sha256[k], 64) == 0)
                found = &c->accounts[i];
    return found;
}

bool
config_account_may_use(const struct cfg_account *a, const struct cfg_sender *s)
{
    if (!a || !s)
        return false;
    return strv_has(s->accounts, s->naccounts, a->name) ||
           strv_has(a->senders, a->nsenders, s->address);
}

const struct cfg_route *
config_route_for(const struct gw_config *c, const char *dest_digits, enum sender_type t)
{
    return config_route_select(c, dest_digits, t, NULL, NULL);
}

const struct cfg_route *
config_route_select(const struct gw_config *c, const char *dest_digits, enum sender_type t,
                    const char *account, const char *msg_class)
{
    const struct cfg_route *best = NULL;
    size_t best_score = 0;

    if (!c || !dest_digits || (unsigned)t >= SENDER_TYPE_COUNT)
        return NULL;
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct cfg_route *r = &c->routes[i];
        if (!(r->sender_types & (1u << t)))
            continue;
        size_t spec = 0;
        if (account && r->naccounts) {
            if (!strv_has(r->accounts, r->naccounts, account))
                continue;
            spec += 2;
        }
        if (msg_class && r->nclasses) {
            if (!strv_has(r->classes, r->nclasses, msg_class))
                continue;
            spec += 1;
        }
        for (size_t p = 0; p < r->nprefixes; p++) {
            size_t len = strlen(r->prefixes[p]);
            size_t score = len * 4 + spec;
            if (strncmp(dest_digits, r->prefixes[p], len) == 0 && (!best || score > best_score)) {
                best = r;
                best_score = score;
            }
        }
    }
    return best;
}

/* ------------------------------------------------------------ SMPP clients */

const struct cfg_account *
config_account_by_smpp_id(const struct gw_config *c, const char *system_id)
{
    for (size_t i = 0; c && system_id && i < c->naccounts; i++)
        if (c->accounts[i].smpp_system_id && strcmp(c->accounts[i].smpp_system_id, system_id) == 0)
            return &c->accounts[i];
    return NULL;
}

bool
config_smpp_password_ok(const struct cfg_account *a, const char *password)
{
    uint8_t got[32];
    bool ok;

    if (!a || !a->smpp_password || !password)
        return false;
    if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), a->smpp_salt, (int)a->smpp_salt_len,
                           (int)a->smpp_pbkdf2_iter, EVP_sha256(), sizeof(got), got))
        return false;
    ok = CRYPTO_memcmp(got, a->smpp_hash, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

bool
config_smpp_ip_allowed(const struct cfg_account *a, const char *ip)
{
    struct cfg_cidr r;

    if (!a)
        return false;
    if (a->nsmpp_allowed_ips == 0)
        return true;
    if (!ip || strchr(ip, '/') || !parse_cidr(ip, &r))
        return false;
    for (size_t i = 0; i < a->nsmpp_allowed_ips; i++)
        if ((r.net & a->smpp_allowed_ips[i].mask) == a->smpp_allowed_ips[i].net)
            return true;
    return false;
}

int
config_hash_smpp_password(const char *password, unsigned iterations, char *out, size_t outsz)
{
    static const char hexd[] = "0123456789abcdef";
    uint8_t salt[16], hash[32];
    char shex[33], hhex[65];

    if (!password || iterations < CONFIG_SMPP_ITER_MIN || iterations > CONFIG_SMPP_ITER_MAX)
        return -1;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        !PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), (int)iterations,
                           EVP_sha256(), sizeof(hash), hash))
        return -1;
    for (size_t i = 0; i < sizeof(salt); i++) {
        shex[2 * i] = hexd[salt[i] >> 4];
        shex[2 * i + 1] = hexd[salt[i] & 15];
    }
    shex[32] = '\0';
    for (size_t i = 0; i < sizeof(hash); i++) {
        hhex[2 * i] = hexd[hash[i] >> 4];
        hhex[2 * i + 1] = hexd[hash[i] & 15];
    }
    hhex[64] = '\0';
    int n = snprintf(out, outsz, "pbkdf2-sha256:%u:%s:%s", iterations, shex, hhex);
    return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* The first word of an MO: letters and digits after leading spaces and
 * punctuation. */
static bool
first_word_is(const char *text, size_t len, const char *word)
{
    size_t i = 0, n = strlen(word);

    while (i < len && !isalnum((unsigned char)text[i]))
        i++;
    if (len - i < n || strncasecmp(text + i, word, n) != 0)
        return false;
    return i + n == len || !isalnum((unsigned char)text[i + n]);
}

const struct cfg_account *
config_mo_account(const struct gw_config *c, const struct cfg_sender *sender, const char *text,
                  size_t len)
{
    const char *any = NULL, *kw = NULL;

    if (!sender)
        return NULL;
    for (size_t i = 0; i < c->nmo_routes; i++) {
        const struct cfg_mo_route *r = &c->mo_routes[i];
        if (strcmp(r->number, sender->address) != 0)
            continue;
        if (r->keyword && !kw && first_word_is(text, len, r->keyword))
            kw = r->account;
        else if (!r->keyword && !any)
            any = r->account;
    }
    const char *name = kw ? kw : any ? any : sender->naccounts ? sender->accounts[0] : NULL;
    for (size_t i = 0; name && i < c->naccounts; i++)
        if (strcmp(c->accounts[i].name, name) == 0)
            return &c->accounts[i];
    return NULL;
}
