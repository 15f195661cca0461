/*
 * `make install` (issue 6): run it into a scratch DESTDIR and check the tree
 * it leaves — the three programs, smsgwd(8), the example configs, the
 * systemd unit (paths rewritten, hardening present, accepted by
 * `systemd-analyze verify` when systemd is there) and the sysusers file;
 * a second install must not overwrite an edited /etc/smsgw/smsgw.conf; the
 * installed smsgwd accepts the installed config (-t); the man page renders
 * without a warning (groff -ww, man -l --warnings) when those are there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testlib.h"

static char *dest;

/* Run a shell command; its output (stdout and stderr) in *out (malloc'd). */
static int
run(char **out, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof(full), "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool
have(const char *prog)
{
    return run(NULL, "command -v %s >/dev/null", prog) == 0;
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(m);
    fclose(f);
    return buf;
}

static void
path_in(char *buf, size_t sz, const char *rel)
{
    snprintf(buf, sz, "%s%s", dest, rel);
}

/* make install into dest; a sub-make must not inherit make test's jobserver. */
static void
install(void)
{
    char *out = NULL;
    int rc = run(&out, "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install "
                       "DESTDIR='%s' PREFIX=/usr/local", tl_top(), dest);
    if (rc != 0)
        fprintf(stderr, "make install: rc=%d\n%s\n", rc, out);
    assert_int_equal(rc, 0);
    free(out);
}

static int
setup(void **state)
{
    (void)state;
    dest = tl_tmpdir();
    install();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tl_cleanup_dir(dest);
    return 0;
}

static void
test_install_tree(void **state)
{
    static const struct {
        const char *path;
        mode_t mode;
    } files[] = {
        { "/usr/local/bin/smsgwd", 0755 },
        { "/usr/local/bin/smsc-sim", 0755 },
        { "/usr/local/bin/smpp-load", 0755 },
        { "/usr/local/share/man/man8/smsgwd.8", 0644 },
        { "/usr/local/share/man/man8/smsgwctl.8", 0644 },
        { "/usr/local/share/doc/smsgw/smsgw.conf", 0644 },
        { "/usr/local/share/doc/smsgw/example-carrier.conf", 0644 },
        { "/usr/local/share/doc/smsgw/smsc-sim-accounts.conf", 0644 },
        { "/etc/smsgw/smsgw.conf", 0640 },
        { "/usr/local/lib/systemd/system/smsgwd.service", 0644 },
        { "/usr/local/lib/sysusers.d/smsgw.conf", 0644 },
    };
    char p[1024];
    (void)state;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct stat st;
        path_in(p, sizeof(p), files[i].path);
        if (stat(p, &st) != 0)
            fail_msg("missing after make install: %s", files[i].path);
        assert_true(S_ISREG(st.st_mode));
        if ((st.st_mode & 07777) != files[i].mode)
            fail_msg("%s: mode %o, want %o", files[i].path, (unsigned)(st.st_mode & 07777),
                     (unsigned)files[i].mode);
    }

    /* The installed daemon accepts the installed config. */
    char *out = NULL;
    int rc = run(&out, "'%s/usr/local/bin/smsgwd' -t -c '%s/etc/smsgw/smsgw.conf'", dest, dest);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "configuration OK"));
    free(out);
    rc = run(&out, "'%s/usr/local/bin/smsgwd' -h", dest);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "usage: smsgwd"));
    free(out);
}

static void
test_install_keeps_config(void **state)
{
    char p[1024];
    (void)state;

    path_in(p, sizeof(p), "/etc/smsgw/smsgw.conf");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("# the operator's own config\n", f);
    fclose(f);
    install();
    char *text = slurp(p);
    assert_non_null(text);
    assert_string_equal(text, "# the operator's own config\n");
    free(text);
    /* The examples are documentation: they are refreshed. */
    path_in(p, sizeof(p), "/usr/local/share/doc/smsgw/smsgw.conf");
    text = slurp(p);
    assert_non_null(text);
    assert_non_null(strstr(text, "instance"));
    free(text);
}

static void
test_unit(void **state)
{
    static const char *const want[] = {
        "Type=simple\n", "Restart=on-failure\n", "User=smsgw\n", "NoNewPrivileges=yes\n",
        "ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n",
        "PrivateDevices=yes\n", "ProtectKernelTunables=yes\n", "ProtectKernelModules=yes\n",
        "ProtectKernelLogs=yes\n", "ProtectControlGroups=yes\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n", "LimitNOFILE=",
        "TimeoutStopSec=30s\n", "KillSignal=SIGTERM\n",
        "ExecStart=/usr/local/bin/smsgwd -c /etc/smsgw/smsgw.conf\n",
        "ExecStartPre=/usr/local/bin/smsgwd -t -c /etc/smsgw/smsgw.conf\n",
    };
    char p[1024];
    (void)state;

    path_in(p, sizeof(p), "/usr/local/lib/systemd/system/smsgwd.service");
    char *unit = slurp(p);
    assert_non_null(unit);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(unit, want[i]))
            fail_msg("smsgwd.service lacks %s", want[i]);
    free(unit);

    /* PREFIX=/usr rewrites the paths in the unit. */
    char *d2 = tl_tmpdir(), *out = NULL;
    int rc = run(&out, "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install "
                       "DESTDIR='%s' PREFIX=/usr SYSCONFDIR=/etc/sms && "
                       "grep -x 'ExecStart=/usr/bin/smsgwd -c /etc/sms/smsgw.conf' "
                       "'%s/usr/lib/systemd/system/smsgwd.service' && "
                       "test -f '%s/etc/sms/smsgw.conf' && test -x '%s/usr/bin/smsgwd'",
                 tl_top(), d2, d2, d2, d2);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    tl_cleanup_dir(d2);

    if (!have("systemd-analyze")) {
        fprintf(stderr, "systemd-analyze not installed: unit not verified\n");
        return;
    }
    /* verify checks that ExecStart's program exists: point the copy at the
     * DESTDIR's binaries. */
    char *dir = tl_tmpdir();
    rc = run(&out, "sed 's|/usr/local/bin/|%s/usr/local/bin/|g' "
                   "'%s/usr/local/lib/systemd/system/smsgwd.service' >'%s/smsgwd.service' && "
                   "systemd-analyze verify --man=no '%s/smsgwd.service'",
             dest, dest, dir, dir);
    if (rc != 0 || out[0])
        fprintf(stderr, "systemd-analyze verify: rc=%d\n%s\n", rc, out);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    free(out);
    tl_cleanup_dir(dir);
}

/* The page renders with groff and man, without a warning. */
static void
renders_clean(const char *p)
{
    char *out = NULL;
    int rc;

    if (have("groff")) {
        rc = run(&out, "groff -man -ww -z '%s'", p);
        if (rc != 0 || out[0])
            fprintf(stderr, "groff: rc=%d\n%s\n", rc, out);
        assert_int_equal(rc, 0);
        assert_string_equal(out, "");
        free(out);
    } else {
        fprintf(stderr, "groff not installed: man page not rendered\n");
    }
    if (have("man")) {
        rc = run(&out, "MANWIDTH=80 man --warnings -l '%s' >/dev/null", p);
        if (rc != 0 || out[0])
            fprintf(stderr, "man: rc=%d\n%s\n", rc, out);
        assert_int_equal(rc, 0);
        assert_string_equal(out, "");
        free(out);
    }
}

static void
test_man_page(void **state)
{
    char p[1024];
    (void)state;

    path_in(p, sizeof(p), "/usr/local/share/man/man8/smsgwd.8");
    char *page = slurp(p);
    assert_non_null(page);
    /* Accurate to core/smsgwd.c: its options and signals. */
    assert_non_null(strstr(page, ".B \\-t"));
    assert_non_null(strstr(page, ".BI \\-c \" file\""));
    assert_non_null(strstr(page, "SIGTERM"));
    assert_non_null(strstr(page, "SIGHUP"));
    assert_non_null(strstr(page, "SIGUSR1"));
    free(page);
    renders_clean(p);

    /* smsgwctl(8): every command of tools/smsgwctl.c's usage. */
    path_in(p, sizeof(p), "/usr/local/share/man/man8/smsgwctl.8");
    page = slurp(p);
    assert_non_null(page);
    static const char *const cmds[] = { ".B status", ".B binds", ".B routes", ".BI queue",
                                        ".BI pause", ".BI resume", ".BI rebind", ".BI message",
                                        ".BI optout", ".B reload", ".B hash\\-secret",
                                        "SMSGWCTL_TOKEN" };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strstr(page, cmds[i]))
            fail_msg("smsgwctl.8 lacks %s", cmds[i]);
    free(page);
    renders_clean(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_tree),
        cmocka_unit_test(test_install_keeps_config),
        cmocka_unit_test(test_unit),
        cmocka_unit_test(test_man_page),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
