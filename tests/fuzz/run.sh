#!/bin/sh
# Build and run smsgw's libFuzzer targets.
#
#   sh tests/fuzz/run.sh SECONDS [--raw] [fuzz_NAME ...]
#
#   SECONDS  how long to fuzz each target; 0 builds the targets and replays
#            their corpus once without fuzzing (a quick regression check).
#   NAME     basenames of tests/fuzz/fuzz_*.c (the Makefile passes them all).
#   --raw    also build and run tests/fuzz/raw/fuzz_smpp34_raw.c, which feeds
#            bytes straight to libsmpp34 with no guard. It is EXPECTED to
#            crash: it shows why the guard exists. `make fuzz` never passes it.
#   FUZZ_ARGS (environment) extra libFuzzer flags for every target, e.g.
#            FUZZ_ARGS=-detect_leaks=0 sh tests/fuzz/run.sh 120 --raw
#
# The targets link an ASan+UBSan build of libsmpp34 made from Debian's source
# package of the version installed here (with Debian's patches applied), so
# that the sanitizers see inside the library our guard protects. The source
# is fetched with a private apt configuration under build/fuzz/apt: the
# system's apt setup is never changed. Nothing from libsmpp34 leaves build/,
# which is git-ignored: never commit it.
#
# Everything lands in build/fuzz/:
#   src/libsmpp34/         extracted Debian source tree (cached)
#   libsmpp34-asan.a       the sanitized library
#   libsmsgw-fuzz.a        the project's library code, sanitized + coverage
#   bin/NAME               fuzz targets
#   corpus/NAME/           new inputs found (the repo corpus stays small)
#   artifacts/NAME-*       crashing / leaking / slow inputs
#   logs/NAME.log          full libFuzzer output of the last run
#
# Rebuilds are make-like: an object is recompiled only when its source or a
# header it includes (from clang's .d file) is newer, or the flags changed.
set -eu

# Work from the repository root whatever the caller's directory.
cd "$(dirname "$0")/../.."

B=build/fuzz
LIBSRC=$B/src/libsmpp34
LIBA=$B/libsmpp34-asan.a
PROJA=$B/libsmsgw-fuzz.a
RAW_NAME=fuzz_smpp34_raw
RAW_SRC=tests/fuzz/raw/$RAW_NAME.c
# Not $CC: make exports a CC=gcc from the environment, and libFuzzer is clang's.
FUZZ_CC=${FUZZ_CC:-clang}

say() { printf 'fuzz: %s\n' "$*"; }
die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }
usage() {
    echo "usage: sh tests/fuzz/run.sh SECONDS [--raw] [fuzz_NAME ...]" >&2
    exit 2
}

# ------------------------------------------------------------------ arguments
[ $# -ge 1 ] || usage
secs=$1; shift   # not $SECONDS: bash would make that a clock
case $secs in ''|*[!0-9]*) usage ;; esac
want_raw=0
targets=""
for arg in "$@"; do
    case $arg in
        --raw) want_raw=1 ;;
        -*) usage ;;
        *)  # accept "fuzz_x", "fuzz_x.c" or "tests/fuzz/fuzz_x.c"
            name=$(basename "$arg" .c)
            case $name in
                fuzz_*) ;;
                *) die "'$arg' is not a fuzz target (tests/fuzz/fuzz_*.c)" ;;
            esac
            [ -f "tests/fuzz/$name.c" ] || die "no such target: tests/fuzz/$name.c"
            case " $targets " in *" $name "*) ;; *) targets="$targets $name" ;; esac
            ;;
    esac
done

# --------------------------------------------------------------------- tools
command -v "$FUZZ_CC" >/dev/null 2>&1 ||
    die "$FUZZ_CC not found: install clang and libclang-rt-14-dev (make deps)"
command -v pkg-config >/dev/null 2>&1 || die "pkg-config not found (make deps)"
mkdir -p $B/src $B/obj $B/bin $B/logs $B/artifacts $B/corpus

# ASan reports need llvm-symbolizer for file:line; Debian may only ship it
# under /usr/lib/llvm-N/bin.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null 2>&1; then
    for p in /usr/lib/llvm-*/bin/llvm-symbolizer; do
        [ -x "$p" ] && ASAN_SYMBOLIZER_PATH=$p && export ASAN_SYMBOLIZER_PATH
    done
fi
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export UBSAN_OPTIONS
# Known leaks inside libraries on malformed input (see the file).
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0}
export LSAN_OPTIONS

now() { date +%s; }

# --------------------------------------------------------- make-like helpers
# stale OUT DEP...: true when OUT is missing or older than one of the DEPs.
# `test -nt` is not in POSIX but dash, bash, busybox and ksh all have it; the
# portable `find -newer` would fork once per dependency.
# shellcheck disable=SC3013
stale() {
    s_out=$1; shift
    [ -e "$s_out" ] || return 0
    for s_dep in "$@"; do
        if [ "$s_dep" -nt "$s_out" ]; then return 0; fi
    done
    return 1
}

# stale_obj OBJ: true when OBJ must be recompiled, judged from the
# dependency list clang wrote next to it (OBJ.d, from -MMD).
# shellcheck disable=SC3013
stale_obj() {
    [ -e "$1" ] && [ -e "$1.d" ] || return 0
    set -f   # the dependency words are paths, not patterns
    # Join continuation lines' words, drop the "obj:" target.
    so_deps=$(sed -e 's/\\$//' -e 's/^[^:]*://' "$1.d")
    # A header that has since disappeared forces a rebuild.
    for so_dep in $so_deps; do
        if [ ! -e "$so_dep" ] || [ "$so_dep" -nt "$1" ]; then set +f; return 0; fi
    done
    set +f
    return 1
}

# compile_all "FLAGS" SRC OBJ [SRC OBJ ...]: compile each SRC whose OBJ is
# out of date, $JOBS at a time through xargs -P (libsmpp34's three big files
# take ~10 s each under the sanitizers). Sets built=1 when it compiled
# something. Each job's output goes to OBJ.log and is shown afterwards, so
# warnings from parallel jobs never interleave.
JOBS=$(nproc 2>/dev/null || echo 2)
compile_all() {
    CA_FLAGS=$1; shift
    ca_todo=""
    ca_list=$B/obj/.todo
    : >"$ca_list"
    while [ $# -ge 2 ]; do
        if stale_obj "$2"; then
            mkdir -p "$(dirname "$2")"
            rm -f "$2" "$2.log"
            echo "  CC  $1"
            printf '%s\0%s\0' "$1" "$2" >>"$ca_list"
            ca_todo="$ca_todo $2"
            built=1
        fi
        shift 2
    done
    [ -n "$ca_todo" ] || return 0
    export CA_FLAGS FUZZ_CC
    ca_rc=0
    # shellcheck disable=SC2016 # $0/$1 are expanded by the inner sh
    xargs -0 -n 2 -P "$JOBS" sh -c '
        # shellcheck disable=SC2086 # CA_FLAGS is a word list on purpose
        "$FUZZ_CC" $CA_FLAGS -MMD -MF "$1.d" -c "$0" -o "$1" >"$1.log" 2>&1 ||
            { echo "fuzz: error: compiling $0 failed:" >>"$1.log"; rm -f "$1"; exit 1; }
    ' <"$ca_list" || ca_rc=1
    for ca_obj in $ca_todo; do
        [ -s "$ca_obj.log" ] && cat "$ca_obj.log" >&2
    done
    return $ca_rc
}

# archive A OBJ...: (re)create static archive A when a member is newer or
# the member list changed (a deleted source must not linger in it).
archive() {
    a_out=$1; shift
    a_list="$*"
    if stale "$a_out" "$@" || [ "$(cat "$a_out.members" 2>/dev/null || true)" != "$a_list" ]; then
        echo "  AR  $a_out"
        rm -f "$a_out"
        ar rcs "$a_out" "$@" || return 1
        printf '%s\n' "$a_list" >"$a_out.members"
    fi
}

# ---------------------------------------------- 1. libsmpp34's Debian source
# Which version do we fuzz? The one installed (libsmpp34-dev), so the
# sanitized library is the code our daemon really links.
installed_ver=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' libsmpp34-dev 2>/dev/null |
                sed -n 's/^ii *//p' || true)

tree_ver() { sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$LIBSRC/debian/changelog" 2>/dev/null || true; }

# apt-get with a private source list and private index/cache dirs, so that
# adding deb-src entries never touches /etc/apt or /var/lib/apt. apt resolves
# relative Dir:: paths against its own root, hence the absolute paths.
APTDIR=$(pwd)/$B/apt
apt_private() {
    apt-get -q \
        -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d" \
        -o "Dir::Etc::SourceList=$APT_LIST" \
        -o "Dir::State::Lists=$APTDIR/lists" \
        -o "Dir::Cache=$APTDIR/cache" \
        "$@"
}

fetch_libsmpp34() {
    log=$(pwd)/$B/logs/libsmpp34-fetch.log
    : >"$log"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot fetch libsmpp34's source"
    command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source not found: install dpkg-dev (make deps)"
    rm -rf "$APTDIR"
    mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # Debian 12: deb822 stanzas saying "Types: deb"; ask for sources too.
        sed '/^Types:/{/deb-src/!s/$/ deb-src/;}' /etc/apt/sources.list.d/debian.sources \
            >"$APTDIR/sources.list.d/debian.sources"
        APT_LIST=/dev/null
    elif [ -f /etc/apt/sources.list ]; then
        # One-line format: add a deb-src twin of every deb line.
        awk '{ print }
             /^[ \t]*deb[ \t]/ { l = $0; sub(/deb/, "deb-src", l); print l }' \
            /etc/apt/sources.list | awk '!seen[$0]++' >"$APTDIR/sources.list"
        APT_LIST=$APTDIR/sources.list
    else
        die "no /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list to derive deb-src entries from"
    fi

    say "fetching libsmpp34 ${installed_ver:-(latest)} source from Debian (log: $B/logs/libsmpp34-fetch.log)"
    apt_private update >>"$log" 2>&1 ||
        die "apt-get update with the private deb-src list failed (network?); see $log"
    # Leftovers of an interrupted download would confuse the .dsc pick below.
    rm -f $B/src/libsmpp34_*
    # Pin the installed version; fall back to the newest if the mirror no
    # longer carries it. (apt warns that _apt cannot read the .dsc in this
    # directory and downloads unsandboxed: harmless.)
    got=0
    if [ -n "$installed_ver" ]; then
        if (cd $B/src && apt_private source --download-only "libsmpp34=$installed_ver") >>"$log" 2>&1; then
            got=1
        else
            say "warning: libsmpp34 $installed_ver is not on the mirror any more; fuzzing the newest source instead"
        fi
    fi
    if [ $got -eq 0 ]; then
        (cd $B/src && apt_private source --download-only libsmpp34) >>"$log" 2>&1 ||
            die "apt-get source libsmpp34 failed; see $log"
    fi
    dsc=""
    for f in "$B"/src/libsmpp34_*.dsc; do [ -f "$f" ] && dsc=$f; done
    [ -n "$dsc" ] || die "no libsmpp34 .dsc was downloaded; see $log"

    # dpkg-source -x applies debian/patches. Extract beside and rename, so an
    # interrupted run never leaves a half tree that looks cached.
    rm -rf "$LIBSRC.tmp" "$LIBSRC"
    dpkg-source -x "$dsc" "$LIBSRC.tmp" >>"$log" 2>&1 || die "dpkg-source -x $dsc failed; see $log"
    mv "$LIBSRC.tmp" "$LIBSRC"
    printf '%s\n' "$installed_ver" >"$LIBSRC.wanted"
    # The tarball's files carry old mtimes: objects built from a previous tree
    # would look up to date. Drop them.
    rm -rf $B/obj/libsmpp34 "$LIBA"
    # The package indexes (~20 MB) are only needed to fetch.
    rm -rf "$APTDIR/lists" "$APTDIR/cache"
    say "libsmpp34 $(tree_ver) extracted to $LIBSRC ($(grep -vc '^#' "$LIBSRC/debian/patches/series" 2>/dev/null || true) Debian patch(es) applied)"
}

t0=$(now)
have_ver=$(tree_ver)
wanted_before=$(cat "$LIBSRC.wanted" 2>/dev/null || true)
if [ -f "$LIBSRC/src/smpp34.h" ] &&
   { [ -z "$installed_ver" ] || [ "$installed_ver" = "$have_ver" ] || [ "$installed_ver" = "$wanted_before" ]; }; then
    : # cached; the version matches what is installed (or what we last asked for)
else
    [ -f "$LIBSRC/src/smpp34.h" ] &&
        say "cached libsmpp34 source is $have_ver, installed is $installed_ver: fetching again"
    fetch_libsmpp34
fi

# ----------------------------------------------------- 2. libsmpp34-asan.a
# Flags for the library: sanitizers plus coverage (fuzzer-no-link) so the
# fuzzer is guided by the library's branches too. -w: not our code to lint.
# The -D's are what upstream's src/Makefile.am passes. Headers include
# "def_frame/..." and "def_list/..." relative to the tree root.
# -mllvm -disable-cgp: smpp34_pack/unpack/dumpPdu.c each expand into one
# huge function, and clang 14's CodeGenPrepare pass is quadratic on it with
# UBSan's check blocks (about 50 s of a 70 s compile per file). That pass
# only tunes instruction selection (it does not run at -O0 at all), so
# skipping it changes no sanitizer check; it makes the first build ~5x faster.
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link"
#
# -fno-sanitize=array-bounds: the library reads a TLV's length through
# `value.octet - 2` (OCTET16 in smpp34_unpack.c), i.e. index -2 of a
# uint8_t[1024] that lands on the `length` member just before it. UBSan flags
# that on every variable-length TLV (receipted_message_id, message_payload),
# which would make every guarded target "crash" on valid PDUs. ASan still
# catches any access outside an object.
LIB_CFLAGS="$SAN -fno-sanitize=array-bounds -mllvm -disable-cgp -w -D_REENTRANT -DBSD_COMP -D_POSIX_PTHREAD_SEMANTICS -I$LIBSRC -I$LIBSRC/src"

# Flags of the project code and the targets. Our extracted headers come
# before /usr/include/libsmpp34 so they match the library we link; both
# `#include <smpp34.h>` and `#include <libsmpp34/smpp34.h>` resolve to them.
PKG_CF="libevent_openssl libevent_core openssl hiredis libconfig json-c libcurl"
PKG_LD="libevent_openssl libevent_core libevent_extra openssl hiredis libconfig json-c libcurl"
# shellcheck disable=SC2086 # package lists
pc_cflags=$(pkg-config --cflags $PKG_CF 2>/dev/null) ||
    die "pkg-config cannot find one of: $PKG_CF (make deps)"
# shellcheck disable=SC2086
pc_libs=$(pkg-config --libs $PKG_LD 2>/dev/null) ||
    die "pkg-config cannot find one of: $PKG_LD (make deps)"
INC="-I. -I$B/include -I$LIBSRC/src -I$LIBSRC $pc_cflags -I/usr/include/libsmpp34"
CFLAGS_FUZZ="-std=c11 -D_GNU_SOURCE $SAN -Wall -Wextra -Wno-unused-parameter $INC"
LDFLAGS_FUZZ="-g -fsanitize=fuzzer,address,undefined"
LDLIBS_FUZZ="$pc_libs -lm"

mkdir -p $B/include
[ -L $B/include/libsmpp34 ] || ln -s ../src/libsmpp34/src $B/include/libsmpp34

# Changed flags (or compiler) invalidate every object: timestamps can't see that.
flags_now="$FUZZ_CC $($FUZZ_CC --version 2>/dev/null | head -1) | $LIB_CFLAGS | $CFLAGS_FUZZ | $LDFLAGS_FUZZ | $LDLIBS_FUZZ"
if [ "$(cat $B/flags 2>/dev/null || true)" != "$flags_now" ]; then
    rm -rf "${B:?}/obj" "${B:?}/bin" "$LIBA" "$PROJA" "$LIBA.members" "$PROJA.members"
    mkdir -p $B/obj $B/bin
    printf '%s\n' "$flags_now" >$B/flags
fi

built=0
lib_objs=""
set --
for src in "$LIBSRC"/src/*.c; do
    obj=$B/obj/libsmpp34/$(basename "$src" .c).o
    set -- "$@" "$src" "$obj"
    lib_objs="$lib_objs $obj"
done
compile_all "$LIB_CFLAGS" "$@" || die "building libsmpp34-asan failed"
# shellcheck disable=SC2086
archive "$LIBA" $lib_objs || die "ar $LIBA failed"
if [ $built -eq 1 ]; then
    say "built $LIBA from libsmpp34 $(tree_ver) ($(( $(now) - t0 ))s)"
else
    say "$LIBA is up to date (libsmpp34 $(tree_ver))"
fi

# ---------------------------------------- 3. project library + fuzz targets
# All library code of the project, the same set the Makefile uses
# (program mains excluded), as one archive so a target links what it needs.
proj_objs=""
if [ -n "$targets" ]; then
    t1=$(now); built=0
    set --
    for src in smpp/*.c store/*.c router/*.c router/channels/*.c core/*.c; do
        [ -f "$src" ] || continue            # unmatched glob
        [ "$src" = core/smsgwd.c ] && continue
        obj=$B/obj/proj/${src%.c}.o
        set -- "$@" "$src" "$obj"
        proj_objs="$proj_objs $obj"
    done
    compile_all "$CFLAGS_FUZZ" "$@" || die "compiling the project's library code for fuzzing failed"
    if [ -n "$proj_objs" ]; then
        # shellcheck disable=SC2086
        archive "$PROJA" $proj_objs || die "ar $PROJA failed"
        [ $built -eq 1 ] && say "built $PROJA ($(( $(now) - t1 ))s)"
    fi
fi

# build_target NAME SRC WITH_PROJECT: compile and link build/fuzz/bin/NAME.
# The raw target links libsmpp34 only: it must not depend on our code.
build_target() {
    bt_src=$2; bt_obj=$B/obj/targets/$1.o; bt_bin=$B/bin/$1
    compile_all "$CFLAGS_FUZZ" "$bt_src" "$bt_obj" || return 1
    bt_archives=$LIBA
    if [ "$3" = yes ] && [ -n "$proj_objs" ]; then bt_archives="$PROJA $LIBA"; fi
    # shellcheck disable=SC2086
    if stale "$bt_bin" "$bt_obj" $bt_archives; then
        echo "  LD  $bt_bin"
        # shellcheck disable=SC2086
        "$FUZZ_CC" $LDFLAGS_FUZZ -o "$bt_bin" "$bt_obj" $bt_archives $LDLIBS_FUZZ || return 1
    fi
}

# --------------------------------------------------------------- 4. fuzz
passed=0
failed=0

# summary NAME SECONDS RESULT [EXECS]: the one line per target.
summary() {
    printf 'fuzz: %-22s %5ss %12s execs  %s\n' "$1" "$2" "${4:--}" "$3"
}

# run_target NAME: fuzz one built target and print its summary line.
run_target() {
    rt_name=$1; rt_bin=$B/bin/$1
    rt_corpus=tests/fuzz/corpus/$1       # seeds, committed
    rt_scratch=$B/corpus/$1              # first dir: libFuzzer writes new units here
    rt_log=$B/logs/$1.log
    mkdir -p "$rt_corpus" "$rt_scratch"

    set -- "-artifact_prefix=$B/artifacts/$rt_name-" -timeout=10 -rss_limit_mb=2048 \
           -print_final_stats=1
    if [ "$secs" -gt 0 ]; then
        set -- "$@" "-max_total_time=$secs"
    else
        set -- "$@" -runs=0             # replay the corpus once, no fuzzing
    fi
    [ -f "tests/fuzz/$rt_name.dict" ] && set -- "$@" "-dict=tests/fuzz/$rt_name.dict"
    set -- "$@" "$rt_scratch" "$rt_corpus"
    # Inputs that crashed the unguarded library are seeds for every guarded
    # target (they must be rejected cleanly). Not for the raw one: there they
    # would only replay the known crash instead of showing the fuzzer find it.
    if [ "$rt_name" != "$RAW_NAME" ] && [ -d tests/fuzz/crashers ]; then
        set -- "$@" tests/fuzz/crashers
    fi

    # Extra libFuzzer flags from the caller, e.g. FUZZ_ARGS=-detect_leaks=0
    # to get past a known leak to the next bug.
    # shellcheck disable=SC2086
    set -- "$@" ${FUZZ_ARGS:-}

    echo "fuzz: running $rt_name for ${secs}s (log: $rt_log)"
    rt_rc=0
    rt_t0=$(now)
    # timeout: a safety net in case libFuzzer itself wedges past its budget.
    timeout -k 10 $((secs + 300)) "$rt_bin" "$@" >"$rt_log" 2>&1 || rt_rc=$?
    rt_secs=$(( $(now) - rt_t0 ))

    rt_execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$rt_log" | tail -1)
    [ -n "$rt_execs" ] || rt_execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$rt_log" | tail -1)
    rt_art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$rt_log" | tail -1)

    if [ $rt_rc -eq 0 ]; then
        summary "$rt_name" "$rt_secs" ok "$rt_execs"
        passed=$((passed + 1))
        return 0
    fi
    failed=$((failed + 1))
    if [ -n "$rt_art" ]; then
        # artifact names are PREFIX + crash|leak|timeout|oom + -sha1
        rt_kind=$(basename "$rt_art"); rt_kind=${rt_kind#"$rt_name"-}; rt_kind=${rt_kind%%-*}
        summary "$rt_name" "$rt_secs" "FAILED ($rt_kind)" "$rt_execs"
        grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$rt_log" |
            sed 's/^/    /' || true
        grep -m1 '^SUMMARY: ' "$rt_log" | sed 's/^/    /' || true
        echo "    input:     $rt_art"
        echo "    reproduce: $rt_bin $rt_art"
        echo "    minimize:  $rt_bin -minimize_crash=1 -runs=100000 $rt_art"
        echo "    full log:  $rt_log"
    else
        summary "$rt_name" "$rt_secs" "FAILED (exit $rt_rc, no crash input written)" "$rt_execs"
        tail -n 15 "$rt_log" | sed 's/^/    /'
    fi
    if [ "$rt_name" = "$RAW_NAME" ]; then
        echo "    (expected: $RAW_NAME calls libsmpp34 without our guard)"
    fi
}

all=""
for name in $targets; do all="$all $name:yes:tests/fuzz/$name.c"; done
if [ $want_raw -eq 1 ]; then
    [ -f "$RAW_SRC" ] || die "$RAW_SRC is missing"
    all="$all $RAW_NAME:no:$RAW_SRC"
fi

for entry in $all; do
    name=${entry%%:*}; rest=${entry#*:}; with_proj=${rest%%:*}; src=${rest#*:}
    built=0
    if ! build_target "$name" "$src" "$with_proj"; then
        failed=$((failed + 1))
        summary "$name" 0 "FAILED (build)"
        continue
    fi
    run_target "$name"
done

echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
