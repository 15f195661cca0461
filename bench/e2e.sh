#!/bin/bash
# bench/e2e.sh — smsgwd end to end (issue 3), in one run on this machine.
#
#   0. build the committed HEAD (git archive into build/bench/e2e/src, make
#      all there) so that uncommitted work in the tree is not measured;
#      E2E_BUILD=tree uses the working tree's `make all` instead
#   1. raw ceiling: bin/smpp-load -> bin/smsc-sim, one bind, window 512,
#      500,000 messages, (r1) TRX with a receipt for each, (r2) TX without
#   2. sessions sweep: smsgwd with route mps 100000, SMSC window 512,
#      sessions 1, 2, 4 (each a fresh Redis + smsc-sim + smsgwd), wrk at full
#      speed for SWEEP_S seconds; the config with the most submit_sm/s wins
#   3. main e2e run with the winning config: wrk POST /v1/messages at full
#      speed for MAIN_S seconds; figures from the first part, `perf record -g`
#      on smsgwd for 10 s in the second part; then DRAIN_OBS_S seconds
#      without HTTP load to see the dequeue rate alone
#   4. paced run at ~70% of what phase 3 could submit: every accepted message
#      must reach `delivered` (smsc-sim sends a receipt for each); accept ->
#      submit latency from ~2,000 ids; Redis commands and CPU per message
#   5. 1,000,000 messages queued with the SMSC down (a closed port): VmRSS of
#      smsgwd, used_memory of Redis
#
# Everything listens on 127.0.0.1; every step is bounded in time; every
# process started here is stopped (by pid) on exit. Output: a report on
# stdout, raw files in build/bench/e2e/.
#
# Environment:
#   E2E_BUILD=head|tree   what to measure (default head)
#   SWEEP_SESSIONS="1 2 4" SWEEP_S=10  MAIN_S=32  DRAIN_OBS_S=20  PACED_S=20
#   WRK_THREADS=1 WRK_CONNS=64         wrk at full speed
#   QUEUE_N=1000000                    phase 5's message count
#   PERF=1                             0 skips the profile
#   PHASES="raw sweep main paced queue"
#   E2E_BATCH=N                        wrk posts N messages per request to
#                                      /v1/messages/batch (0: one per POST)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
D=$ROOT/build/bench/e2e
mkdir -p "$D"

E2E_BUILD=${E2E_BUILD:-head}
SWEEP_SESSIONS=${SWEEP_SESSIONS:-1 2 4}
SWEEP_S=${SWEEP_S:-10}
MAIN_S=${MAIN_S:-32}
DRAIN_OBS_S=${DRAIN_OBS_S:-20}
PACED_S=${PACED_S:-20}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-64}
QUEUE_N=${QUEUE_N:-1000000}
PERF=${PERF:-1}
PHASES=${PHASES:-raw sweep main paced queue}
E2E_BATCH=${E2E_BATCH:-0}      # N > 0: POST /v1/messages/batch with N messages per request
export BATCH=$E2E_BATCH         # read by bench/http_post.lua
if [ "$E2E_BATCH" -gt 0 ]; then WRK_PATH=/v1/messages/batch; else WRK_PATH=/v1/messages; fi
KEY=demo-key-change-me
KEY_HASH=sha256:090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4
DLR_DELAY_MS=200
RES=$D/results.txt           # key=value lines, rendered at the end
: >"$RES"

say() { echo "e2e: $*" >&2; }
put() { echo "$1=$2" >>"$RES"; }
die() { say "$*"; exit 1; }

# ------------------------------------------------------------------ tools
for t in python3 redis-server redis-cli curl; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
need_pkgs=""
command -v wrk >/dev/null 2>&1 || need_pkgs="$need_pkgs wrk"
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null 2>&1; then need_pkgs="$need_pkgs linux-perf"; fi
if [ -n "$need_pkgs" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing$need_pkgs"
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends $need_pkgs >&2 ||
            { timeout 120 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends $need_pkgs >&2; } ||
            die "could not install$need_pkgs"
    else
        die "missing Debian packages; as root run: apt-get install -y$need_pkgs"
    fi
fi
command -v wrk >/dev/null 2>&1 || die "wrk is missing: apt-get install -y wrk"

# ------------------------------------------------------------------ build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')
if [ "$E2E_BUILD" = tree ]; then
    say "building the working tree (make all)"
    timeout 600 make -s all >"$D/make.log" 2>&1 || die "make all failed; see $D/make.log"
    BIN=$ROOT/bin
    put build "working tree at $COMMIT${DIRTY:+ (modified: $DIRTY)}"
else
    say "building HEAD $COMMIT in $D/src"
    rm -rf "$D/src" && mkdir -p "$D/src"
    git archive HEAD | tar -x -C "$D/src" || die "git archive failed"
    (cd "$D/src" && timeout 600 make -s -j"$(nproc)" all) >"$D/make.log" 2>&1 ||
        die "make all failed; see $D/make.log"
    BIN=$D/src/bin
    put build "HEAD $COMMIT (git archive; uncommitted changes in the tree not measured${DIRTY:+: $DIRTY})"
fi
for b in smsgwd smsc-sim smpp-load; do [ -x "$BIN/$b" ] || die "$BIN/$b missing"; done

put commit "$COMMIT"
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -qw hypervisor /proc/cpuinfo && echo virtualised || echo bare metal)), $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-linux}"), kernel $(uname -r)"
put software "$(redis-server --version | awk '{print $3}' | sed 's/v=/redis /'), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null), gcc $(gcc -dumpversion) -O2"
put load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------ processes

# shellcheck source=bench/lib.sh
. bench/lib.sh    # the script runs from the repository root
now_s() { date +%s.%N; }

# ------------------------------------------------------------------ stack
# stack_start DIR SESSIONS SMSC_PORT(with smsc-sim | "closed")
RP= SP= CP= HP= REDIS= SIM= GW=
rcli() { timeout 60 redis-cli -p "$RP" "$@"; }
sim_stats() {
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$CP"'; echo stats >&3; head -1 <&3' 2>/dev/null
}
sim_field() { sim_stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1" 2>/dev/null || echo 0; }

stack_start() {
    local dir=$1 sessions=$2 mode=$3 smsc_port
    rm -rf "$dir" && mkdir -p "$dir/redis"
    RP=$(free_port); HP=$(free_port)
    redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
        --dir "$dir/redis" --logfile "$dir/redis.log" &
    REDIS=$!; PIDS+=("$REDIS")
    wait_port "$RP" "$REDIS" 10 || die "redis-server did not start; see $dir/redis.log"
    SIM=
    if [ "$mode" = closed ]; then
        smsc_port=$(free_port)      # nothing listens there
    else
        SP=$(free_port); CP=$(free_port); smsc_port=$SP
        "$BIN/smsc-sim" --port "$SP" --system-id bench --password bench \
            --dlr-delay-ms "$DLR_DELAY_MS" --dlr-queue 1000000 --max-messages 1048576 \
            --control-port "$CP" --stats-interval-ms 0 >"$dir/smsc-sim.json" 2>"$dir/smsc-sim.log" &
        SIM=$!; PIDS+=("$SIM")
        wait_port "$SP" "$SIM" 10 && wait_port "$CP" "$SIM" 10 || die "smsc-sim did not start; see $dir/smsc-sim.log"
    fi
    cat >"$dir/smsgw.conf" <<EOF
# bench/e2e.sh: conf/smsgw.conf's structure, the route unlimited (mps 100000),
# SMSC window 512, $sessions session(s). Generated; see bench/e2e.sh.
instance  = "bench";
log_level = "${E2E_LOG_LEVEL:-info}";
max_segments = 10;
redis = { host = "127.0.0.1"; port = $RP; prefix = "smsgw:"; timeout_ms = 2000; };
http = { listen = "127.0.0.1"; port = $HP; max_body = 1048576; };
smsc = (
  { name = "sim"; host = "127.0.0.1"; port = $smsc_port; tls = false;
    system_id = "bench"; password = "bench"; bind = "trx";
    sessions = $sessions; window = 512; }
);
senders = (
  { address = "12345"; type = "shortcode"; accounts = [ "demo" ]; }
);
routes = (
  { name = "default"; mps = 100000; prefixes = [ "" ]; smsc = [ "sim" ]; }
);
accounts = (
  { name = "demo"; api_keys = [ "$KEY_HASH" ]; }   # key: $KEY
);
EOF
    "$BIN/smsgwd" -t -c "$dir/smsgw.conf" >/dev/null || die "config rejected: $dir/smsgw.conf"
    "$BIN/smsgwd" -c "$dir/smsgw.conf" 2>"$dir/smsgwd.log" &
    GW=$!; PIDS+=("$GW")
    wait_port "$HP" "$GW" 10 || die "smsgwd did not start; see $dir/smsgwd.log"
    if [ "$mode" != closed ]; then
        local i
        for i in $(seq 1 200); do
            [ "$(grep -c 'to=BOUND_TRX' "$dir/smsgwd.log")" -ge "$sessions" ] && break
            sleep 0.05
        done
        [ "$(grep -c 'to=BOUND_TRX' "$dir/smsgwd.log")" -ge "$sessions" ] || die "smsgwd did not bind $sessions sessions"
    fi
    sleep 0.5
}
stack_stop() {
    stop_pid "$GW" 15; GW=
    [ -n "$SIM" ] && stop_pid "$SIM" 5; SIM=
    stop_pid "$REDIS" 30; REDIS=
}

# run_wrk DIR NAME SECONDS THREADS CONNS [VAR=value...]: wrk in the background, pid in WRK
WRK=
run_wrk() {
    local dir=$1 name=$2 secs=$3 th=$4 co=$5
    shift 5
    env "$@" COUNTS_FILE="$dir/$name.counts" IDS_FILE="$dir/$name.ids" SMSGW_KEY="$KEY" \
        timeout --signal=INT --kill-after=10 $((secs + 30)) \
        wrk -t"$th" -c"$co" -d"${secs}s" --timeout 10s -s "$ROOT/bench/http_post.lua" \
        "http://127.0.0.1:$HP$WRK_PATH" >"$dir/$name.wrk" 2>&1 &
    WRK=$!; PIDS+=("$WRK")
}
count_field() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" "$1" 2>/dev/null | head -1; }

# Lua helpers run inside Redis after a run (read-only).
cat >"$D/sample.lua" <<'EOF'
-- ARGV: ids. Per id: "id created submitted_ms delivered_ms state" (- when absent)
local out = {}
for _, id in ipairs(ARGV) do
  local m = redis.call('HMGET', 'smsgw:msg:' .. id, 'created', 'state')
  local sub, del = '-', '-'
  local h = redis.call('HGETALL', 'smsgw:msg:' .. id)
  for i = 1, #h, 2 do
    local ts, st = string.match(h[i], '^h:(%d+):(%a+)$')
    if st == 'submitted' and (sub == '-' or tonumber(ts) < tonumber(sub)) then sub = ts end
    if st == 'delivered' and (del == '-' or tonumber(ts) < tonumber(del)) then del = ts end
  end
  out[#out + 1] = id .. ' ' .. (m[1] or '-') .. ' ' .. sub .. ' ' .. del .. ' ' .. (m[2] or 'missing')
end
return out
EOF
cat >"$D/states.lua" <<'EOF'
-- ARGV: cursor. One SCAN step over smsgw:msg:*; returns "cursor state=n ..."
local r = redis.call('SCAN', ARGV[1], 'MATCH', 'smsgw:msg:*', 'COUNT', 20000)
local c = {}
for _, k in ipairs(r[2]) do
  local s = redis.call('HGET', k, 'state') or 'none'
  c[s] = (c[s] or 0) + 1
end
local out = r[1]
for s, n in pairs(c) do out = out .. ' ' .. s .. '=' .. n end
return out
EOF
states() {     # every message's state, counted: "delivered=N submitted=N ..."
    local cur=0 line all=""
    for _ in $(seq 1 10000); do
        line=$(rcli --eval "$D/states.lua" , "$cur") || break
        cur=${line%% *}
        [ "$line" = "$cur" ] || all="$all ${line#* }"
        [ "$cur" = 0 ] && break
    done
    echo "$all" | tr ' ' '\n' | awk -F= 'NF==2{c[$1]+=$2} END{for(k in c) printf "%s=%d ", k, c[k]}'
}
cmdstats() { rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/\1 \2/p'; }

# Per-second counts from smsgwd's log: "epoch_s accepted submitted delivered"
log_rates() {
    python3 - "$1" <<'EOF'
import sys, calendar, time, collections
acc, sub, dlv = collections.Counter(), collections.Counter(), collections.Counter()
for line in open(sys.argv[1], errors='replace'):
    if not line.startswith('ts='): continue
    ts = line[3:22]
    if 'event=msg_state' in line and 'state=queued' in line: c = acc
    elif 'event=msg_state' in line and 'state=submitted' in line: c = sub
    elif 'event=msg_state' in line and 'state=delivered' in line: c = dlv
    else: continue
    c[calendar.timegm(time.strptime(ts, '%Y-%m-%dT%H:%M:%S'))] += 1
for s in sorted(set(acc) | set(sub) | set(dlv)):
    print(s, acc[s], sub[s], dlv[s])
EOF
}
# median of column COL of the rates file over whole seconds [from, to)
rate_median() {
    awk -v f="$2" -v t="$3" -v c="$4" '$1 >= f && $1 < t {print $c}' "$1" | sort -n |
        awk '{a[NR]=$1} END{if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'
}

# ================================================================== 1. raw
if [[ " $PHASES " == *" raw "* ]]; then
    R=$D/raw; rm -rf "$R"; mkdir -p "$R"
    SP=$(free_port)
    "$BIN/smsc-sim" --port "$SP" --system-id bench --password bench --dlr-queue 1000000 \
        --max-messages 1048576 --stats-interval-ms 0 >"$R/smsc-sim.json" 2>"$R/smsc-sim.log" &
    SIM=$!; PIDS+=("$SIM")
    wait_port "$SP" "$SIM" 10 || die "smsc-sim did not start"
    say "raw r1: smpp-load TRX, window 512, 500000 messages with receipts"
    timeout --signal=INT --kill-after=15 180 "$BIN/smpp-load" --host 127.0.0.1 --port "$SP" \
        --system-id bench --password bench --bind-mode trx --window 512 --count 500000 \
        --registered-delivery 1 --json-only >"$R/r1.json" 2>"$R/r1.log"
    say "raw r2: smpp-load TX, window 512, 500000 messages, no receipts"
    timeout --signal=INT --kill-after=15 180 "$BIN/smpp-load" --host 127.0.0.1 --port "$SP" \
        --system-id bench --password bench --bind-mode tx --window 512 --count 500000 \
        --json-only >"$R/r2.json" 2>"$R/r2.log"
    stop_pid "$SIM" 5; SIM=
    for r in r1 r2; do
        put "raw_${r}_json" "$(head -c 2000 "$R/$r.json" | tr -d '\n')"
    done
fi

# ================================================================== 2. sweep
BEST_S=${BEST_SESSIONS:-2}
if [[ " $PHASES " == *" sweep "* ]]; then
    best_rate=-1
    for s in $SWEEP_SESSIONS; do
        W=$D/sweep-s$s
        say "sweep: sessions=$s, wrk -t$WRK_THREADS -c$WRK_CONNS for ${SWEEP_S}s"
        stack_start "$W" "$s" sim
        sub0=$(sim_field submit_sm); t0=$(now_s)
        run_wrk "$W" load "$SWEEP_S" "$WRK_THREADS" "$WRK_CONNS"
        wait "$WRK"
        sub1=$(sim_field submit_sm); t1=$(now_s)
        ok=$(count_field "$W/load.counts" ok); dur=$(count_field "$W/load.counts" duration_us)
        acc=$(python3 -c "print(round(${ok:-0}/(${dur:-1}/1e6)))")
        subr=$(python3 -c "print(round(($sub1-$sub0)/($t1-$t0)))")
        put "sweep_s$s" "accepted_per_s=$acc submitted_per_s=$subr accepted=$ok submitted=$((sub1 - sub0))"
        say "sweep: sessions=$s accepted/s=$acc submitted/s=$subr"
        stack_stop
        if [ "$subr" -gt "$best_rate" ]; then best_rate=$subr; BEST_S=$s; fi
    done
fi
put best_sessions "$BEST_S"

# ================================================================== 3. main
SUB_UNDER_LOAD=0 DRAIN_RATE=0
if [[ " $PHASES " == *" main "* ]]; then
    M=$D/main
    say "main: sessions=$BEST_S, wrk -t$WRK_THREADS -c$WRK_CONNS for ${MAIN_S}s (perf from $((MAIN_S / 2))s for 10s)"
    stack_start "$M" "$BEST_S" sim
    put main_rss_idle_kb "$(awk '/VmRSS/{print $2}' /proc/$GW/status)"
    cmdstats >"$M/cmd0"
    sub0=$(sim_field submit_sm); t0=$(now_s); T0=$(date +%s)
    g0=$(ticks "$GW"); r0=$(ticks "$REDIS"); s0=$(ticks "$SIM")
    run_wrk "$M" load "$MAIN_S" "$WRK_THREADS" "$WRK_CONNS" SAMPLE_EVERY=25
    sleep 0.3
    WRKC=$(pgrep -P "$WRK" wrk | head -1); k0=$(ticks "${WRKC:-$WRK}")
    PERF_AT=$((MAIN_S / 2))
    sleep $((PERF_AT - 1))
    sub1=$(sim_field submit_sm); t1=$(now_s); T1=$(date +%s)
    g1=$(ticks "$GW"); r1=$(ticks "$REDIS"); s1=$(ticks "$SIM"); k1=$(ticks "${WRKC:-$WRK}")
    put main_rss_load_kb "$(awk '/VmRSS/{print $2}' /proc/$GW/status)"
    PERFD=
    if [ "$PERF" = 1 ]; then
        timeout 30 perf record -F 499 --call-graph dwarf,16384 -p "$GW" -o "$M/perf.data" -- sleep 10 \
            >"$M/perf.log" 2>&1 &
        PERFD=$!; PIDS+=("$PERFD")
    fi
    wait "$WRK"
    [ -n "$PERFD" ] && wait "$PERFD"
    sub2=$(sim_field submit_sm); t2=$(now_s); T2=$(date +%s)
    ok=$(count_field "$M/load.counts" ok); dur=$(count_field "$M/load.counts" duration_us)
    q2=$(rcli xlen smsgw:q:default)
    say "main: load done (accepted $ok); watching the drain for ${DRAIN_OBS_S}s without HTTP load"
    sleep "$DRAIN_OBS_S"
    sub3=$(sim_field submit_sm); t3=$(now_s); q3=$(rcli xlen smsgw:q:default)
    cmdstats >"$M/cmd1"
    put main_rss_end_kb "$(awk '/VmRSS/{print $2}' /proc/$GW/status)"
    log_rates "$M/smsgwd.log" >"$M/rates"
    w=$(python3 -c "print($t1-$t0)")
    put main_window_s "$(printf %.1f "$w")"
    put main_accept_median "$(rate_median "$M/rates" $((T0 + 1)) "$T1" 2)"
    put main_submit_median "$(rate_median "$M/rates" $((T0 + 1)) "$T1" 3)"
    put main_accept_median_perf "$(rate_median "$M/rates" $((T1 + 1)) "$T2" 2)"
    put main_submit_median_perf "$(rate_median "$M/rates" $((T1 + 1)) "$T2" 3)"
    put main_submit_sim_window "$(python3 -c "print(round(($sub1-$sub0)/$w))")"
    put main_accepted "$ok"
    put main_accept_wrk "$(python3 -c "print(round(${ok:-0}/(${dur:-1}/1e6)))")"
    put main_wrk "$(cat "$M/load.counts")"
    put main_submitted_during_load "$((sub2 - sub0))"
    put main_queue_after_load "$q2"
    DRAIN_RATE=$(python3 -c "print(round(($sub3-$sub2)/($t3-$t2)))")
    SUB_UNDER_LOAD=$(python3 -c "print(round(($sub1-$sub0)/$w))")
    put main_drain_rate "$DRAIN_RATE"
    put main_queue_after_drain_obs "$q3"
    put main_cpu "smsgwd=$(python3 -c "print(round(($g1-$g0)/$w))")% redis=$(python3 -c "print(round(($r1-$r0)/$w))")% smsc-sim=$(python3 -c "print(round(($s1-$s0)/$w))")% wrk=$(python3 -c "print(round(($k1-$k0)/$w))")%"
    # Latency of the sampled ids, among those submitted by now.
    python3 -c "
import sys
ids=[l.strip() for l in open('$M/load.ids') if l.strip()]
step=max(1,len(ids)/2000.0)
print('\n'.join(ids[int(i*step)] for i in range(min(2000,len(ids)))))" >"$M/sample.ids"
    rcli --eval "$D/sample.lua" , $(cat "$M/sample.ids") >"$M/sample.out"
    put main_states "$(states)"
    put main_errors "$(grep -E 'level=(warn|error)' "$M/smsgwd.log" | grep -v 'event=http' | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | tr '\n' ' ')"
    stack_stop
    put main_cmd "$(python3 - "$M/cmd0" "$M/cmd1" <<'EOF'
import sys
a = dict(l.split() for l in open(sys.argv[1]))
b = dict(l.split() for l in open(sys.argv[2]))
print(' '.join('%s:%d' % (k, int(b[k]) - int(a.get(k, 0))) for k in sorted(b) if int(b[k]) - int(a.get(k, 0))))
EOF
)"
    # The profile, grouped by the nearest frame (from the leaf up) that belongs to a group.
    if [ "$PERF" = 1 ] && [ -s "$M/perf.data" ]; then
        nm -l --defined-only "$BIN/smsgwd" 2>/dev/null | awk 'NF>=4{print $3, $4}' >"$M/syms"
        timeout 600 perf script -i "$M/perf.data" -F ip,sym,dso 2>/dev/null >"$M/perf.txt"
        python3 - "$M/perf.txt" "$M/syms" >"$M/profile.txt" <<'EOF'
import sys, re, collections
srcof = {}
for l in open(sys.argv[2]):
    s, f = l.split()[:2]
    srcof[s] = f.split(':')[0]
def group(sym, dso):
    if 'libhiredis' in dso: return 'redis'
    if 'libjson-c' in dso: return 'json'
    if 'libevent_extra' in dso or sym.startswith('evhttp'): return 'http'
    if 'libsmpp34' in dso: return 'pdu'
    if 'libcrypto' in dso: return 'crypto'
    if 'smsgwd' in dso:
        f = srcof.get(sym, '')
        if '/store/' in f: return 'redis'
        if f.endswith('core/api.c'): return 'http'
        if f.endswith('core/log.c'): return 'log'
        if f.endswith('smpp/smpp_pdu.c'): return 'pdu'
        if f.endswith('smpp/smpp_text.c'): return 'text'
        if '/smpp/' in f: return 'smpp'
        if '/router/' in f: return 'router'
    return None
samples, cur = [], []
for l in open(sys.argv[1], errors='replace'):
    if not l.strip():
        if cur: samples.append(cur); cur = []
        continue
    m = re.match(r'\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$', l)
    if m:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(1)); cur.append((sym, m.group(2)))
if cur: samples.append(cur)
g = collections.Counter(); leaf = collections.Counter(); other = collections.Counter()
for st in samples:
    cat = None
    for sym, dso in st:
        cat = group(sym, dso)
        if cat: break
    if not cat:
        sym, dso = st[0]
        d = dso.split('/')[-1]
        cat = 'other'
        other[('kernel' if 'kernel' in dso else d)] += 1
    g[cat] += 1
    leaf['%s (%s)' % (st[0][0], st[0][1].split('/')[-1])] += 1
n = sum(g.values()) or 1
print('samples %d' % n)
for k, v in g.most_common(): print('group %s %.1f' % (k, 100.0 * v / n))
for k, v in other.most_common(6): print('other %s %.1f' % (k, 100.0 * v / n))
for k, v in leaf.most_common(15): print('leaf %.1f %s' % (100.0 * v / n, k))
EOF
        put main_profile "$(tr '\n' ';' <"$M/profile.txt")"
    fi
fi

# ================================================================== 4. paced
if [[ " $PHASES " == *" paced "* ]]; then
    P=$D/paced
    # 70% of what the main run submitted under full load (the drain rate
    # over a fixed window is no base: the backlog now empties in ~1 s, and
    # the average over the window was ~20/s). PACED_RATE overrides.
    base=$SUB_UNDER_LOAD
    [ "$base" -gt 0 ] || base=1000
    RATE=${PACED_RATE:-$((base * 7 / 10))}; [ "$RATE" -ge 10 ] || RATE=10
    # wrk waits DELAY ms before each request of a connection: enough
    # connections that the delay (whole ms) sets the rate, not the round trip.
    CONNS=$(( RATE / 200 )); [ "$CONNS" -ge 4 ] || CONNS=4; [ "$CONNS" -le 64 ] || CONNS=64
    DELAY=$(( (CONNS * 1000 + RATE / 2) / RATE )); [ "$DELAY" -ge 1 ] || DELAY=1
    stack_start "$P" "$BEST_S" sim
    say "paced: 5 s idle first (nothing queued)"
    c0=$(cmdstats | awk '$1=="xreadgroup"{print $2}'); g0=$(ticks "$GW"); r0=$(ticks "$REDIS"); t0=$(now_s)
    sleep 5
    c1=$(cmdstats | awk '$1=="xreadgroup"{print $2}'); g1=$(ticks "$GW"); r1=$(ticks "$REDIS"); t1=$(now_s)
    put idle "smsgwd_cpu=$(python3 -c "print(round(($g1-$g0)/($t1-$t0)))")% redis_cpu=$(python3 -c "print(round(($r1-$r0)/($t1-$t0)))")% xreadgroup_per_s=$(python3 -c "print(round((${c1:-0}-${c0:-0})/($t1-$t0)))")"
    say "paced: ~$RATE msg/s offered (wrk -t1 -c$CONNS, $DELAY ms between requests per connection) for ${PACED_S}s"
    cmdstats >"$P/cmd0"
    t0=$(now_s); T0=$(date +%s)
    g0=$(ticks "$GW"); r0=$(ticks "$REDIS"); s0=$(ticks "$SIM")
    run_wrk "$P" load "$PACED_S" 1 "$CONNS" SAMPLE_EVERY=1 DELAY_MS="$DELAY"
    wait "$WRK"
    ok=$(count_field "$P/load.counts" ok); dur=$(count_field "$P/load.counts" duration_us)
    say "paced: accepted $ok; waiting (at most 120 s) for every receipt"
    for _ in $(seq 1 240); do
        [ "$(sim_field receipts_acked)" -ge "${ok:-0}" ] && break
        sleep 0.5
    done
    sleep 1
    t1=$(now_s)
    g1=$(ticks "$GW"); r1=$(ticks "$REDIS"); s1=$(ticks "$SIM")
    cmdstats >"$P/cmd1"
    put paced_offered "$RATE"
    put paced_accepted "$ok"
    put paced_wrk "$(cat "$P/load.counts")"
    put paced_accept_rate "$(python3 -c "print(round(${ok:-0}/(${dur:-1}/1e6)))")"
    put paced_sim "$(sim_stats | python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join("%s=%s" % (k, j[k]) for k in ("submit_sm","accepted","receipts_sent","receipts_acked","receipts_dropped","receipts_failed")))')"
    put paced_drain_s "$(python3 -c "print(round($t1-$t0-${dur:-0}/1e6,1))")"
    put paced_states "$(states)"
    put paced_stream "xlen=$(rcli xlen smsgw:q:default) pending=$(rcli xpending smsgw:q:default smsgw | head -1)"
    put paced_stats_hash "$(rcli hgetall smsgw:stats | paste -sd' ')"
    python3 -c "
ids=[l.strip() for l in open('$P/load.ids') if l.strip()]
step=max(1,len(ids)/2000.0)
print('\n'.join(ids[int(i*step)] for i in range(min(2000,len(ids)))))" >"$P/sample.ids"
    rcli --eval "$D/sample.lua" , $(cat "$P/sample.ids") >"$P/sample.out"
    put paced_cpu_us_per_msg "smsgwd=$(python3 -c "print(round(($g1-$g0)*1e4/max(1,${ok:-0}),1))") redis=$(python3 -c "print(round(($r1-$r0)*1e4/max(1,${ok:-0}),1))") smsc-sim=$(python3 -c "print(round(($s1-$s0)*1e4/max(1,${ok:-0}),1))")"
    put paced_errors "$(grep -E 'level=(warn|error)' "$P/smsgwd.log" | grep -v 'event=http' | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | tr '\n' ' ')"
    put paced_log_counts "queued=$(grep -c 'state=queued' "$P/smsgwd.log") submitted=$(grep -c 'state=submitted' "$P/smsgwd.log") delivered=$(grep -c 'state=delivered' "$P/smsgwd.log")"
    stack_stop
    put paced_cmd "$(python3 - "$P/cmd0" "$P/cmd1" "${ok:-1}" "$(python3 -c "print($t1-$t0)")" <<'EOF'
import sys
a = dict(l.split() for l in open(sys.argv[1]))
b = dict(l.split() for l in open(sys.argv[2]))
n = max(1, int(sys.argv[3]))
d = {k: int(b[k]) - int(a.get(k, 0)) for k in b}
d = {k: v for k, v in d.items() if v > 0}
# Client round trips: what smsgwd sends itself. Inside the Lua scripts Redis
# counts hset/rpush/xadd/... too; smsgwd's own SET and HSET come in pairs
# (store_part_submitted), and no script here uses SET (no client_ref).
top = sum(d.get(k, 0) for k in ('evalsha', 'eval', 'xreadgroup', 'xautoclaim', 'xgroup|create', 'script|load', 'hgetall', 'lrange', 'ping'))
top += 2 * d.get('set', 0)
# The message's own round trips: its scripts (accept, submitted, receipt; not
# the 20/s retry promotion, counted by its ZRANGEBYSCORE) and the SET+HSET pair.
own = d.get('evalsha', 0) + d.get('eval', 0) - d.get('zrangebyscore', 0) + 2 * d.get('set', 0)
print('own_round_trips_per_msg=%.2f xreadgroup_per_msg=%.2f xreadgroup_per_s=%.0f round_trips_per_msg=%.2f all_commands_per_msg=%.2f in_scripts_per_msg=%.2f | %s' % (
      own / n, d.get('xreadgroup', 0) / n, d.get('xreadgroup', 0) / float(sys.argv[4]), top / n,
      sum(d.values()) / n, (sum(d.values()) - top) / n,
      ' '.join('%s:%.2f' % (k, v / n) for k, v in sorted(d.items(), key=lambda x: -x[1]))))
EOF
)"
fi

# ================================================================== 5. queue
if [[ " $PHASES " == *" queue "* ]]; then
    Q=$D/queue
    say "queue: smsgwd with its SMSC down (closed port), POST $QUEUE_N messages"
    stack_start "$Q" "$BEST_S" closed
    put queue_rss_idle_kb "$(awk '/VmRSS/{print $2}' /proc/$GW/status)"
    put queue_redis_mem_idle "$(rcli info memory | tr -d '\r' | grep -E '^used_memory:' | cut -d: -f2)"
    cmdstats >"$Q/cmd0"
    per=$(( (QUEUE_N + WRK_THREADS - 1) / WRK_THREADS ))
    t0=$(now_s)
    run_wrk "$Q" load 600 "$WRK_THREADS" "$WRK_CONNS" STOP_AFTER="$per"
    maxrss=0 last=-1 still=0
    for _ in $(seq 1 6000); do      # at most 600 s
        kill -0 "$WRK" 2>/dev/null || break
        n=$(rcli xlen smsgw:q:default 2>/dev/null || echo 0)
        if [ "${n:-0}" = "$last" ]; then still=$((still + 1)); else still=0; last=${n:-0}; fi
        [ "$still" -ge 50 ] && break    # wrk's threads stopped short of QUEUE_N
        r=$(awk '/VmRSS/{print $2}' /proc/$GW/status 2>/dev/null || echo 0)
        [ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
        [ "${n:-0}" -ge "$QUEUE_N" ] && break
        sleep 0.1
    done
    t1=$(now_s)
    kill -INT "$WRK" 2>/dev/null    # timeout passes SIGINT on to wrk, which prints its summary
    wait "$WRK"
    sleep 3
    put queue_accepted_wrk "$(cat "$Q/load.counts")"
    put queue_accept_rate "$(python3 -c "print(round($(rcli xlen smsgw:q:default)/($t1-$t0)))")"
    put queue_xlen "$(rcli xlen smsgw:q:default)"
    put queue_dbsize "$(rcli dbsize)"
    put queue_rss_kb "$(awk '/VmRSS/{print $2}' /proc/$GW/status)"
    put queue_hwm_kb "$(awk '/VmHWM/{print $2}' /proc/$GW/status)"
    put queue_rss_max_seen_kb "$maxrss"
    put queue_redis_mem "$(rcli info memory | tr -d '\r' | grep -E '^(used_memory|used_memory_rss|used_memory_peak):' | tr '\n' ' ')"
    put queue_aof_bytes "$(du -sb "$Q/redis" | cut -f1)"
    put queue_smsgwd_log "$(grep -E 'level=(warn|error)' "$Q/smsgwd.log" | grep -v 'event=http' | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | tr '\n' ' ')"
    cmdstats >"$Q/cmd1"
    stack_stop
fi

# ================================================================== report
python3 - "$RES" "$D" <<'EOF'
import sys, json, os, statistics
r = {}
for l in open(sys.argv[1]):
    if '=' in l:
        k, v = l.rstrip('\n').split('=', 1); r[k] = v
D = sys.argv[2]
def lat(path):
    out = []
    if not os.path.exists(path): return None
    rows = [l.split() for l in open(path) if len(l.split()) == 5]
    sub = sorted(int(s) - int(c) for i, c, s, d, st in rows if s != '-' and c != '-')
    dl = sorted(int(d) - int(c) for i, c, s, d, st in rows if d != '-' and c != '-')
    def p(a, q): return a[min(len(a) - 1, int(q * len(a)))] if a else None
    return dict(n=len(rows), submitted=len(sub), delivered=len(dl),
                sub_p50=p(sub, .5), sub_p99=p(sub, .99), sub_max=sub[-1] if sub else None,
                dlv_p50=p(dl, .5), dlv_p99=p(dl, .99))
print('# smsgwd end to end — bench/e2e.sh')
for k in ('date', 'commit', 'build', 'machine', 'software', 'load_at_start', 'best_sessions'):
    print('%-16s %s' % (k, r.get(k, '-')))
for k in sorted(r):
    if k.startswith(('raw_', 'sweep_', 'main_', 'paced_', 'queue_', 'idle')):
        print('%s = %s' % (k, r[k]))
for name in ('main', 'paced'):
    l = lat(os.path.join(D, name, 'sample.out'))
    if l: print('%s_latency_ms = %s' % (name, json.dumps(l)))
EOF
