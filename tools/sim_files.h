/*
 * smsc-sim: reading the accounts file and the MO file.
 *
 * Both report every error as `file:line: message` on stderr, not only the
 * first, and return -1 if there was any.
 *
 * Included by tools/smsc-sim.c only; everything is static.
 */
#ifndef SIM_FILES_H
#define SIM_FILES_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "smpp/smpp_text.h"

/* source_addr / destination_addr with their NUL */
#define SIM_ADDR_LEN        21
/* The most parts an MO message may be split into. */
#define SIM_MO_MAX_PARTS    16

/*
 * Called for each valid account, in file order. Returns 0, or -1 with a
 * message in why (a repeated system_id, too many accounts).
 */
typedef int (*sim_account_fn)(void *arg, const char *system_id, const char *password,
                              long throttle, int line, char *why, size_t whysz);

/* One MO line; the strings point into mo_file.buf. */
struct mo_line {
    const char *from, *to, *text;
    size_t text_len;
};

/* Owns buf and line; free both with free(). */
struct mo_file {
    char *buf;
    struct mo_line *line;
    size_t n;
};


static void
cfg_error(const char *file, int line, int *errors, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cfg_error(const char *file, int line, int *errors, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    (*errors)++;
}

/*
 * accounts = ( { system_id = "x"; password = "y"; throttle = 0; }, ... );
 * Every error is reported (file:line: message), not only the first.
 */
static int
load_accounts(const char *path, sim_account_fn add, void *arg)
{
    config_t cfg;
    config_setting_t *list;
    int errors = 0, n;

    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        else
            fprintf(stderr, "%s:%d: %s\n",
                    config_error_file(&cfg) ? config_error_file(&cfg) : path,
                    config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return -1;
    }
    list = config_lookup(&cfg, "accounts");
    if (!list || !(config_setting_is_list(list) || config_setting_is_array(list))) {
        cfg_error(path, list ? (int)config_setting_source_line(list) : 1, &errors,
                  "`accounts` must be a list: accounts = ( { system_id = \"...\"; "
                  "password = \"...\"; }, ... );");
        config_destroy(&cfg);
        return -1;
    }
    n = config_setting_length(list);
    if (n == 0)
        cfg_error(path, (int)config_setting_source_line(list), &errors, "no accounts");
    for (int k = 0; k < n; k++) {
        config_setting_t *g = config_setting_get_elem(list, (unsigned)k), *m;
        int line = (int)config_setting_source_line(g);
        const char *sid = NULL, *pw = NULL;
        long long thr = -1;
        bool ok = true, sid_seen = false, pw_seen = false;

        if (!config_setting_is_group(g)) {
            cfg_error(path, line, &errors, "account %d: expected { system_id = ...; }", k + 1);
            continue;
        }
        for (int f = 0; (m = config_setting_get_elem(g, (unsigned)f)) != NULL; f++) {
            const char *name = config_setting_name(m);
            int ml = (int)config_setting_source_line(m);
            if (strcmp(name, "system_id") == 0 || strcmp(name, "password") == 0) {
                if (name[0] == 's')
                    sid_seen = true;
                else
                    pw_seen = true;
                if (config_setting_type(m) != CONFIG_TYPE_STRING) {
                    cfg_error(path, ml, &errors, "%s: expected a string", name);
                    ok = false;
                } else if (name[0] == 's') {
                    sid = config_setting_get_string(m);
                } else {
                    pw = config_setting_get_string(m);
                }
            } else if (strcmp(name, "throttle") == 0) {
                if (config_setting_type(m) != CONFIG_TYPE_INT &&
                    config_setting_type(m) != CONFIG_TYPE_INT64) {
                    cfg_error(path, ml, &errors, "throttle: expected an integer");
                    ok = false;
                } else {
                    thr = config_setting_get_int64(m);
                    if (thr < 0 || thr > 10000000) {
                        cfg_error(path, ml, &errors, "throttle: %lld is out of range 0..10000000",
                                  thr);
                        ok = false;
                    }
                }
            } else {
                cfg_error(path, ml, &errors, "unknown setting `%s` (system_id, password, "
                          "throttle)", name);
                ok = false;
            }
        }
        if (sid ? !*sid || strlen(sid) > 15 : !sid_seen) {
            cfg_error(path, line, &errors, "system_id: required, 1 to 15 characters");
            ok = false;
        }
        if (pw ? strlen(pw) > 8 : !pw_seen) {
            cfg_error(path, line, &errors, "password: required, at most 8 characters");
            ok = false;
        }
        if (!ok)
            continue;
        char why[160];
        if (add(arg, sid, pw, (long)thr, line, why, sizeof(why)) != 0)
            cfg_error(path, line, &errors, "%s", why);
    }
    config_destroy(&cfg);
    return errors ? -1 : 0;
}

/* --mo-file: lines `from,to,text` (text may hold commas); # comments. */
static int
load_mo_file(const char *path, struct mo_file *mf)
{
    FILE *f = fopen(path, "r");
    size_t cap = 0, len = 0, lines = 0;
    int errors = 0, lineno = 0;
    char *line;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Read it whole; the lines point into this one buffer. */
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            mf->buf = realloc(mf->buf, cap);
            if (!mf->buf)
                abort();
        }
        size_t k = fread(mf->buf + len, 1, cap - len - 1, f);
        if (k == 0)
            break;
        len += k;
    }
    fclose(f);
    mf->buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (mf->buf[i] == '\n')
            lines++;
    mf->line = calloc(lines + 1, sizeof(*mf->line));
    if (!mf->line)
        abort();
    for (char *p = mf->buf; p && *p; p = line) {
        char *nl = strchr(p, '\n'), *c1, *c2;
        struct smpp_text_info info;
        size_t off;

        line = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r')
            p[--n] = '\0';
        if (n == 0 || p[0] == '#')
            continue;
        c1 = strchr(p, ',');
        c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c2) {
            cfg_error(path, lineno, &errors, "expected from,to,text");
            continue;
        }
        *c1 = *c2 = '\0';
        if (!*p || strlen(p) >= SIM_ADDR_LEN || !c1[1] || strlen(c1 + 1) >= SIM_ADDR_LEN) {
            cfg_error(path, lineno, &errors, "from and to: 1 to 20 characters each");
            continue;
        }
        int rc = smpp_text_measure(c2 + 1, strlen(c2 + 1), SMPP_TEXT_ENC_AUTO,
                                   SMPP_TEXT_CONCAT_UDH8, &info, &off);
        if (rc != 0) {
            cfg_error(path, lineno, &errors, "text: %s at byte %zu", smpp_text_strerror(rc), off);
            continue;
        }
        if (info.segments > SIM_MO_MAX_PARTS) {
            cfg_error(path, lineno, &errors, "text needs %u parts; at most %d", info.segments,
                      SIM_MO_MAX_PARTS);
            continue;
        }
        mf->line[mf->n].from = p;
        mf->line[mf->n].to = c1 + 1;
        mf->line[mf->n].text = c2 + 1;
        mf->line[mf->n].text_len = strlen(c2 + 1);
        mf->n++;
    }
    return errors ? -1 : 0;
}

#endif
