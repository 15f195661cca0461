#!/bin/bash
# bench/pacing.sh — pacing accuracy of smsgwd's routes (issue 3), one run.
#
# For route mps 10, 100, 1,000 and 10,000 (one smsgwd), and 1,000 shared by
# two smsgwd instances on one Redis:
#   1. fresh redis-server + smsgwd (log_level info, log_trace submit_sm:
#      one line per PDU, buffered; SMSC window 2048, sessions 2) with the
#      SMSC down (a closed port), so POSTs stay queued
#   2. queue QUEUE_S x mps + margin messages through the HTTP API (wrk)
#   3. start smsc-sim (--window 4096 --dlr-delay-ms 0, no throttle) on that
#      port; smsgwd binds and drains the route at its mps
#   4. after WINDOW_S s (+2 s) stop everything; bench/pacing_analyze.py reads
#      smsgwd's `event=submit_sm` debug lines (ms stamps, one per PDU):
#      sent in [t0, t0+W) vs W x mps, busiest sliding 1 s and 100 ms windows;
#      smsc-sim's stats every 100 ms give the receiver-side count
#
# Before each run it waits (up to IDLE_WAIT_S) until no other benchmark runs
# (pgrep -f 'bench/e2e.sh|wrk|smpp-load') and records the load average and
# the CPU used by processes other than ours during the window.
# Everything on 127.0.0.1, every step bounded, every process stopped by pid.
# Output: report on stdout; raw logs and JSON in build/bench/pacing/.
#
# Environment:
#   RATES="10 100 1000 10000"  WINDOW_S=60  TWO=1 (two-instance run at 1000)
#   W10K_S=60      window for 10,000 mps (the queue is sized from it)
#   IDLE_WAIT_S=1200
#   DIAG=0 DIAG_S=20 DIAG_RATES="1000 10000"   diagnostic runs with a
#                  libevent-clock shim (LD_PRELOAD; see the end of the runs)
#   REDIS_EXTRA="" more redis-server arguments, e.g. "--auto-aof-rewrite-percentage 0"
#                  (a diagnostic: no AOF rewrite inside the window; see
#                  docs/operations.md, "Redis for smsgwd")
#   PACING_LOG_LEVEL=info   smsgwd's log_level (debug: as before 2026-11-27 21:30)
#   PERF=0         1: perf record (-g, 999 Hz) smsgwd 1 and redis-server for
#                  PERF_S (20) s from the start of each window; reports in
#                  the run's directory (perf.smsgwd.txt, perf.redis.txt);
#                  PERF_CG=dwarf for call chains through -O2 code (callers
#                  of printf: perf.smsgwd.callers.txt), with a short PERF_S
#   PACING_BUILD=head|tree  head (default): build the committed HEAD apart
#                  (git archive + make all in build/bench/pacing/src), since
#                  the tree may hold others' uncommitted work; tree: make all
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
D=$ROOT/build/bench/pacing
mkdir -p "$D"
RATES=${RATES:-10 100 1000 10000}
WINDOW_S=${WINDOW_S:-60}
W10K_S=${W10K_S:-60}
TWO=${TWO:-1}
IDLE_WAIT_S=${IDLE_WAIT_S:-1200}
PACING_BUILD=${PACING_BUILD:-head}
DIAG=${DIAG:-0}
DIAG_S=${DIAG_S:-20}
DIAG_RATES=${DIAG_RATES:-1000 10000}
PERF=${PERF:-0}
REDIS_EXTRA=${REDIS_EXTRA:-}
PERF_S=${PERF_S:-20}
PERF_CG=${PERF_CG:-fp}
KEY=demo-key-change-me
KEY_HASH=sha256:090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4
RES=$D/results.txt
: >"$RES"

say() { echo "pacing: $*" >&2; }
put() { echo "$1=$2" >>"$RES"; }
die() { say "$*"; exit 1; }

for t in python3 redis-server redis-cli wrk; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing (wrk: apt-get install -y wrk)"
done

put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -qw hypervisor /proc/cpuinfo && echo virtualised || echo bare metal)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-linux}"), kernel $(uname -r)"
put redis_extra "${REDIS_EXTRA:-none}"
put software "$(redis-server --version | awk '{print $3}' | sed 's/v=/redis /'), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null), gcc $(gcc -dumpversion) -O2"

# ------------------------------------------------------------------ processes

# shellcheck source=bench/lib.sh
. bench/lib.sh    # the script runs from the repository root
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }   # user nice system irq softirq
HZ=$(getconf CLK_TCK)

# Wait until no other benchmark runs; put "RUN_idle=..." with what was seen.
wait_idle() {
    local run=$1 waited=0 others
    while :; do
        others=$(pgrep -af 'bench/e2e.sh|wrk|smpp-load' | grep -v "^$$ " || true)
        [ -z "$others" ] && break
        if [ "$waited" -ge "$IDLE_WAIT_S" ]; then
            put "${run}_idle" "NOT idle after ${IDLE_WAIT_S}s: $(echo "$others" | head -3 | tr '\n' ';')"
            return
        fi
        [ "$waited" = 0 ] && say "$run: waiting for another benchmark to finish: $(echo "$others" | head -2 | tr '\n' ';')"
        sleep 10; waited=$((waited + 10))
    done
    put "${run}_idle" "no other benchmark (waited ${waited}s); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
}

wait_idle build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')
if [ "$PACING_BUILD" = tree ]; then
    say "building the working tree (make all)"
    timeout 600 make -s all >"$D/make.log" 2>&1 || die "make all failed; see $D/make.log"
    put commit "working tree at $COMMIT${DIRTY:+ (modified: $DIRTY)}"
    SRC=$ROOT
else
    # Others may be editing the tree: measure the committed HEAD, built apart.
    say "building HEAD $COMMIT in $D/src (git archive; make all)"
    rm -rf "$D/src" && mkdir -p "$D/src"
    git archive HEAD | tar -x -C "$D/src" || die "git archive failed"
    (cd "$D/src" && timeout 600 make -s -j"$(nproc)" all) >"$D/make.log" 2>&1 ||
        die "make all failed; see $D/make.log"
    put commit "$COMMIT (HEAD, built from git archive; uncommitted changes not measured${DIRTY:+: $DIRTY})"
    SRC=$D/src
fi
# Copies, so that a rebuild of the tree during the run changes nothing.
mkdir -p "$D/bin"
cp "$SRC/bin/smsgwd" "$SRC/bin/smsc-sim" "$D/bin/" || die "no binaries in $SRC/bin"
BIN=$D/bin

# ------------------------------------------------------------------ one run
# run_case NAME MPS WINDOW_S INSTANCES [PRELOAD]
run_case() {
    local name=$1 mps=$2 win=$3 ninst=$4 preload=${5:-}
    local R=$D/$name i
    rm -rf "$R" && mkdir -p "$R/redis"
    wait_idle "$name"
    local RP SP CP HP=() GW=() REDIS SIM WRK
    RP=$(free_port); SP=$(free_port); CP=$(free_port)
    redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
        --dir "$R/redis" --logfile "$R/redis.log" $REDIS_EXTRA &
    REDIS=$!; PIDS+=("$REDIS")
    wait_port "$RP" "$REDIS" 10 || die "redis-server did not start; see $R/redis.log"
    for i in $(seq 1 "$ninst"); do
        HP[$i]=$(free_port)
        cat >"$R/smsgw$i.conf" <<EOF
# bench/pacing.sh: conf/smsgw.conf's structure; route mps $mps; SMSC window
# 2048 x 2 sessions; one log line per submit_sm (log_trace). Generated.
instance  = "pacing-$i";
log_level = "${PACING_LOG_LEVEL:-info}";
log_trace = [ "submit_sm" ];
max_segments = 10;
redis = { host = "127.0.0.1"; port = $RP; prefix = "smsgw:"; timeout_ms = 2000; };
http = { listen = "127.0.0.1"; port = ${HP[$i]}; max_body = 65536; };
smsc = (
  { name = "sim"; host = "127.0.0.1"; port = $SP; tls = false;
    system_id = "bench"; password = "bench"; bind = "trx";
    sessions = 2; window = 2048; reconnect_min_ms = 100; reconnect_max_ms = 500; }
);
senders = (
  { address = "12345"; type = "shortcode"; accounts = [ "demo" ]; }
);
routes = (
  { name = "default"; mps = $mps; prefixes = [ "" ]; smsc = [ "sim" ]; }
);
accounts = (
  { name = "demo"; api_keys = [ "$KEY_HASH" ]; }   # key: $KEY
);
EOF
        "$BIN/smsgwd" -t -c "$R/smsgw$i.conf" >/dev/null || die "config rejected: $R/smsgw$i.conf"
        env ${preload:+LD_PRELOAD=$preload} "$BIN/smsgwd" -c "$R/smsgw$i.conf" 2>"$R/smsgwd$i.log" &
        GW[$i]=$!; PIDS+=("${GW[$i]}")
        wait_port "${HP[$i]}" "${GW[$i]}" 10 || die "smsgwd $i did not start; see $R/smsgwd$i.log"
    done

    # Queue: more than the route can send in the window (+5 s and 2% margin).
    local want=$(( mps * (win + 5) * 102 / 100 + 200 ))
    say "$name: queueing $want messages with the SMSC down (wrk -t1 -c64)"
    local q0=$SECONDS k
    # wrk runs for -d even after every thread stopped (STOP_AFTER): interrupt
    # it once the stream holds enough (or after 200 s).
    COUNTS_FILE="$R/queue.counts" SMSGW_KEY="$KEY" STOP_AFTER="$want" \
        wrk -t1 -c64 -d200s --timeout 10s -s "$ROOT/bench/http_post.lua" \
        "http://127.0.0.1:${HP[1]}/v1/messages" >"$R/queue.wrk" 2>&1 &
    WRK=$!; PIDS+=("$WRK")
    local ql=0
    while kill -0 "$WRK" 2>/dev/null && [ $((SECONDS - q0)) -lt 210 ]; do
        sleep 0.5
        ql=$(timeout 5 redis-cli -p "$RP" xlen smsgw:q:default 2>/dev/null || echo 0)
        [ "${ql:-0}" -ge "$want" ] && break
    done
    kill -INT "$WRK" 2>/dev/null
    for k in $(seq 1 100); do kill -0 "$WRK" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$WRK" 5
    local queued
    queued=$(timeout 30 redis-cli -p "$RP" xlen smsgw:q:default)
    put "${name}_queue" "$queued queued in $((SECONDS - q0)) s ($(head -c 200 "$R/queue.counts" 2>/dev/null))"
    [ "${queued:-0}" -ge $((mps * win)) ] || die "$name: only $queued queued"
    sleep 2

    # Measure.
    put "${name}_load_before" "$(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; includes our own queueing just before)"
    "$BIN/smsc-sim" --port "$SP" --system-id bench --password bench --window 4096 \
        --dlr-delay-ms 0 --dlr-queue 1000000 --max-messages 1048576 \
        --control-port "$CP" --stats-interval-ms 100 >"$R/smsc-sim.json" 2>"$R/smsc-sim.log" &
    SIM=$!; PIDS+=("$SIM")
    wait_port "$SP" "$SIM" 10 || die "smsc-sim did not start; see $R/smsc-sim.log"
    for k in $(seq 1 300); do
        grep -q ' event=submit_sm ' "$R/smsgwd1.log" && break
        sleep 0.05
    done
    grep -q ' event=submit_sm ' "$R/smsgwd1.log" || die "$name: no submit_sm within 15 s; see $R/"
    local b0 g0=0 r0 s0 b1 g1=0 r1 s1 ours
    b0=$(busy_ticks); r0=$(ticks "$REDIS"); s0=$(ticks "$SIM")
    for i in $(seq 1 "$ninst"); do g0=$((g0 + $(ticks "${GW[$i]}"))); done
    say "$name: sending; watching for $((win + 2)) s"
    local PF=()
    if [ "$PERF" = 1 ]; then
        perf record -q -F 999 --call-graph "$PERF_CG" -p "${GW[1]}" -o "$R/perf.smsgwd.data" -- sleep "$PERF_S" >/dev/null 2>&1 &
        PF+=($!)
        perf record -q -F 999 -g -p "$REDIS" -o "$R/perf.redis.data" -- sleep "$PERF_S" >/dev/null 2>&1 &
        PF+=($!)
    fi
    # sleep through the window, noting any other benchmark that starts meanwhile
    local t_end=$((SECONDS + win)) seen=""
    while [ "$SECONDS" -lt "$t_end" ]; do
        sleep 1
        [ -z "$seen" ] && seen=$(pgrep -af 'bench/e2e.sh|wrk|smpp-load' | head -1)
    done
    put "${name}_others_during" "${seen:-none}"
    if [ "${#PF[@]}" -gt 0 ]; then
        wait "${PF[@]}" 2>/dev/null
        for k in smsgwd redis; do
            perf report -i "$R/perf.$k.data" --no-children --sort symbol --stdio 2>/dev/null |
                grep -v '^$' | head -400 >"$R/perf.$k.txt"
            perf report -i "$R/perf.$k.data" --no-children --sort dso --stdio 2>/dev/null |
                grep -v '^#' | grep -v '^$' | head -20 >"$R/perf.$k.dso.txt"
        done
        perf report -i "$R/perf.smsgwd.data" --children --sort symbol --stdio -G 2>/dev/null |
            grep -v '^$' | head -1500 >"$R/perf.smsgwd.callers.txt"
    fi
    b1=$(busy_ticks); r1=$(ticks "$REDIS"); s1=$(ticks "$SIM")
    for i in $(seq 1 "$ninst"); do g1=$((g1 + $(ticks "${GW[$i]}"))); done
    sleep 2
    for i in $(seq 1 "$ninst"); do kill -0 "${GW[$i]}" 2>/dev/null || die "$name: smsgwd $i died; see $R/"; done
    ours=$(( (g1 - g0) + (r1 - r0) + (s1 - s0) ))
    put "${name}_cpu" "smsgwd=$(( (g1 - g0) * 100 / HZ / win ))% redis=$(( (r1 - r0) * 100 / HZ / win ))% smsc-sim=$(( (s1 - s0) * 100 / HZ / win ))% of one core; whole machine busy $(( (b1 - b0) * 100 / HZ / win ))% of one core (of $(nproc)*100%), ours included"
    put "${name}_load_after" "$(cut -d' ' -f1-3 /proc/loadavg)"
    for i in $(seq 1 "$ninst"); do stop_pid "${GW[$i]}" 15; done
    stop_pid "$SIM" 5
    stop_pid "$REDIS" 30
    put "${name}_sim" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s=%s" % (k, d.get(k)) for k in ("submit_sm","accepted","throttled","submit_sm_per_s_peak","receipts_sent","receipts_dropped")))' "$R/smsc-sim.json" 2>/dev/null)"
    put "${name}_warn" "$(cat "$R"/smsgwd*.log | grep -E 'level=(warn|error)' | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
    local logs=()
    for i in $(seq 1 "$ninst"); do logs+=(--log "$R/smsgwd$i.log"); done
    python3 "$ROOT/bench/pacing_analyze.py" --mps "$mps" --window-s "$win" "${logs[@]}" \
        --sim-stats "$R/smsc-sim.log" --queued "$queued" --json "$R/analysis.json" >"$R/analysis.line" ||
        die "$name: analysis failed"
    put "${name}_analysis" "$(cat "$R/analysis.line")"
    # AOF rewrites (fork + a child busy for seconds) inside the window, and
    # the share of the rate in the whole seconds that no rewrite touched.
    put "${name}_aof" "$(python3 - "$R/redis.log" "$R/analysis.json" <<'EOF2'
import datetime, json, re, sys
a = json.load(open(sys.argv[2]))
t0 = a["t0_ms"] / 1000.0
spans, start = [], None
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"(\d+ \w+ \d{4} \d\d:\d\d:\d\d\.\d+)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp() - t0
    if "Background append only file rewriting started" in line:
        start = t
    elif "Background AOF rewrite terminated" in line and start is not None:
        spans.append((start, t))
        start = None
ps = a.get("per_second", [])
inside = [(round(s, 1), round(e, 1)) for s, e in spans if e > 0 and s < len(ps)]
clean = [v for i, v in enumerate(ps) if i > 0 and not any(s - 1 < i + 1 and e + 1 > i for s, e in spans)]
share = sum(clean) / (len(clean) * a["mps"]) if clean else float("nan")
print(f"rewrites in the window (s from t0): {inside}; whole seconds untouched by one (+-1 s, 1st s left out): {len(clean)} of {len(ps)}, share of the rate in them {share:.4f}")
EOF2
)"
}

for mps in $RATES; do
    w=$WINDOW_S
    [ "$mps" -ge 10000 ] && w=$W10K_S
    run_case "r$mps" "$mps" "$w" 1
done
[ "$TWO" = 1 ] && run_case "two1000" 1000 "$WINDOW_S" 2

# Diagnostic, not part of the contract figures: libevent 2.1 reads
# CLOCK_MONOTONIC_COARSE for its timers unless the base is created with
# EVENT_BASE_FLAG_PRECISE_TIMER (smsgwd uses event_base_new()); that clock
# ticks every 1/CONFIG_HZ s (4 ms at HZ=250). The same binary, with a shim
# that makes CLOCK_MONOTONIC_COARSE read CLOCK_MONOTONIC, shows how much of
# a shortfall is timer granularity. DIAG_S-second windows.
put coarse_clock_res_s "$(python3 -c 'import time; print(time.clock_getres(6))' 2>/dev/null)"
if [ "$DIAG" = 1 ]; then
    cat >"$D/precise_clock.c" <<'EOF2'
/* bench/pacing.sh diagnostic: CLOCK_MONOTONIC_COARSE reads CLOCK_MONOTONIC. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
int
clock_gettime(clockid_t c, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(c == CLOCK_MONOTONIC_COARSE ? CLOCK_MONOTONIC : c, ts);
}
EOF2
    gcc -O2 -shared -fPIC -o "$D/precise_clock.so" "$D/precise_clock.c" -ldl ||
        die "could not build the diagnostic shim"
    for mps in $DIAG_RATES; do
        run_case "diag$mps" "$mps" "$DIAG_S" 1 "$D/precise_clock.so"
    done
fi

# ------------------------------------------------------------------ report
python3 - "$RES" "$D" <<'EOF'
import json, sys, os
res, D = sys.argv[1], sys.argv[2]
kv = {}
for line in open(res):
    k, _, v = line.rstrip("\n").partition("=")
    kv[k] = v
for k in ("commit", "date", "machine", "software", "redis_extra", "coarse_clock_res_s"):
    print(f"{k}: {kv.get(k, '')}")
print()
print("| run | mps | window | sent (smsgwd) | sent / expected | max any 1 s (cap) | max any 100 ms (cap) | received (smsc-sim) / expected | smsc-sim busiest 1 s (lower bound) |")
print("|---|---|---|---|---|---|---|---|---|")
names = [n for n in sorted({k.split("_")[0] for k in kv if k.endswith("_analysis")},
                           key=lambda n: (n.startswith("diag"), n.startswith("two"), int(''.join(c for c in n if c.isdigit()))))]
for n in names:
    a = json.loads(kv[n + "_analysis"])
    ok1 = "" if a["max_1s"] <= a["cap_1s"] else " **over**"
    ok100 = "" if a["max_100ms"] <= a["cap_100ms"] else " **over**"
    okr = "" if abs(a["ratio"] - 1) <= 0.01 else " **off >1%**"
    print(f"| {n} | {a['mps']:,} | {a['window_s']:g} s | {a['sent_in_window']:,} of {a['expected']:,.0f} | "
          f"{a['ratio']:.4f}{okr} | {a['max_1s']:,} ({a['cap_1s']:,}){ok1} | {a['max_100ms']:,} ({a['cap_100ms']:,}){ok100} | "
          f"{a.get('sim_ratio', float('nan')):.4f} | {a.get('sim_max_1s_lower_bound', '-')} |")
print()
for n in names:
    a = json.loads(kv[n + "_analysis"])
    print(f"{n}: idle: {kv.get(n + '_idle', '')}")
    print(f"{n}: queue: {kv.get(n + '_queue', '')}; left unsent at stop: {a.get('queue_left_at_stop')}")
    print(f"{n}: load before/after: {kv.get(n + '_load_before', '')} / {kv.get(n + '_load_after', '')}")
    print(f"{n}: cpu: {kv.get(n + '_cpu', '')}; other benchmark seen during the window: {kv.get(n + '_others_during', '')}")
    print(f"{n}: AOF: {kv.get(n + '_aof', '')}")
    print(f"{n}: smsc-sim: {kv.get(n + '_sim', '')}; smsgwd warnings: {kv.get(n + '_warn', '') or 'none'}")
    print(f"{n}: per log: {a['per_log']}")
    print(f"{n}: ratio after the 1st s {a.get('ratio_after_1st_s', 0):.4f}; per whole second min {a['per_second_min']} max {a['per_second_max']}; "
          f"sends per distinct ms p50 {a['sends_per_ms_p50']} max {a['sends_per_ms_max']}; gap max {a.get('gap_ms_max')} ms, "
          f"p99 {a.get('gap_ms_p99')} ms, gaps > 10 ms: {a.get('gaps_over_10ms')}; max outstanding submit_sm {a['max_outstanding']}")
    print(f"{n}: busiest 1 s starts at +{a['max_1s_at_s']:.3f} s, busiest 100 ms at +{a['max_100ms_at_s']:.3f} s")
    if a["excess_1s_runs"] or a["excess_100ms_runs"]:
        print(f"{n}: OVER: 1 s: {a['excess_1s_runs']} runs {a['excess_1s']}; 100 ms: {a['excess_100ms_runs']} runs {a['excess_100ms']}")
    print()
print(f"raw: {D}")
EOF
