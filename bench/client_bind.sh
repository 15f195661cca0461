#!/bin/bash
# bench/client_bind.sh — client-bind throughput of smsgwd's SMPP server
# (issue 4), in one run on this machine.
#
#   0. wait (at most IDLE_WAIT_S) until no `test_`, `wrk` or `bench/` process
#      runs; build the committed HEAD (git archive into
#      build/bench/client_bind/src, make all there); CB_BUILD=tree measures
#      the working tree's bin/ instead
#   1. gateway: a private redis-server (AOF everysec), smsc-sim
#      (--dlr-delay-ms 0 --window 4096) and smsgwd (smpp_server on, route mps
#      100000, SMSC window 2048, sessions 2, log_level info); bin/smpp-load
#      binds to smsgwd as a transceiver, window 64, registered_delivery 1,
#      COUNT messages or DURATION_S seconds, whichever ends first; CPU of
#      every process sampled from /proc once a second
#   2. raw ceiling: bin/smpp-load -> a fresh smsc-sim directly, the same
#      options
#   3. the ratio
#
# Everything listens on 127.0.0.1; every step is bounded; every process
# started here is stopped (by pid) on exit. Report on stdout, raw files in
# build/bench/client_bind/.
#
# Environment: CB_BUILD=head|tree COUNT=200000 DURATION_S=30 WINDOW=64
#              DLR_WAIT_MS=30000 IDLE_WAIT_S=300
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
D=$ROOT/build/bench/client_bind
mkdir -p "$D"

CB_BUILD=${CB_BUILD:-head}
COUNT=${COUNT:-200000}
DURATION_S=${DURATION_S:-30}
WINDOW=${WINDOW:-64}
DLR_WAIT_MS=${DLR_WAIT_MS:-30000}
IDLE_WAIT_S=${IDLE_WAIT_S:-300}
RES=$D/results.txt
: >"$RES"

say() { echo "client_bind: $*" >&2; }
put() { echo "$1=$2" >>"$RES"; }
die() { say "$*"; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

for t in python3 redis-server redis-cli; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done

# ------------------------------------------------------------------ idle
others() {
    pgrep -af 'test_|wrk|bench/' | grep -v -E "^($$|$BASHPID) " | grep -v client_bind || true
}
waited=0
while [ -n "$(others)" ] && [ "$waited" -lt "$IDLE_WAIT_S" ]; do
    [ $((waited % 30)) = 0 ] && say "waiting for an idle machine: $(others | head -3 | tr '\n' ';')"
    sleep 5; waited=$((waited + 5))
done
put idle_wait "${waited}s; still running: $(others | cut -c1-120 | tr '\n' ';')"

# ------------------------------------------------------------------ build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')
if [ "$CB_BUILD" = tree ]; then
    BIN=$ROOT/bin
    put build "working tree bin/ at $COMMIT${DIRTY:+ (modified: $DIRTY)}"
else
    say "building HEAD $COMMIT in $D/src"
    rm -rf "$D/src" && mkdir -p "$D/src"
    git archive HEAD | tar -x -C "$D/src" || die "git archive failed"
    (cd "$D/src" && timeout 600 make -s -j"$(nproc)" all) >"$D/make.log" 2>&1 ||
        die "make all failed; see $D/make.log"
    BIN=$D/src/bin
    put build "HEAD $COMMIT (git archive${DIRTY:+; uncommitted changes not measured: $DIRTY})"
fi
for b in smsgwd smsc-sim smpp-load; do [ -x "$BIN/$b" ] || die "$BIN/$b missing"; done
put commit "$COMMIT"
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -qw hypervisor /proc/cpuinfo && echo virtualised || echo bare metal)), $(free -m | awk '/Mem:/{printf "%.1f GiB", $2/1024}'), kernel $(uname -r)"
put software "$(redis-server --version | awk '{print $3}' | sed 's/v=/redis /'), gcc $(gcc -dumpversion)"

# ------------------------------------------------------------------ processes

# shellcheck source=bench/lib.sh
. bench/lib.sh    # the script runs from the repository root
CP=
sim_stats() {
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$CP"'; echo stats >&3; head -1 <&3' 2>/dev/null
}
sim_field() { sim_stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1" 2>/dev/null || echo 0; }

start_sim() {   # dir -> SP CP SIM
    SP=$(free_port); CP=$(free_port)
    "$BIN/smsc-sim" --port "$SP" --dlr-delay-ms 0 --window 4096 --dlr-queue 1000000 \
        --max-messages 1048576 --control-port "$CP" --stats-interval-ms 0 \
        >"$1/smsc-sim.json" 2>"$1/smsc-sim.log" &
    SIM=$!; PIDS+=("$SIM")
    wait_port "$SP" "$SIM" 10 && wait_port "$CP" "$SIM" 10 || die "smsc-sim did not start; see $1/smsc-sim.log"
}

LOAD_OPTS=(--system-id bench --password bench --bind-mode trx --window "$WINDOW"
           --count "$COUNT" --duration "$DURATION_S" --registered-delivery 1
           --from 12345 --to 14155550100 --dlr-wait-ms "$DLR_WAIT_MS" --json-only)
LOAD_TIMEOUT=$((DURATION_S + DLR_WAIT_MS / 1000 + 60))

# run_load DIR PORT: smpp-load in the background; one line a second in DIR/samples:
#   t ticks_smsgwd ticks_redis ticks_smsc-sim ticks_smpp-load sim_submit_sm
run_load() {
    local dir=$1 port=$2
    timeout --signal=INT --kill-after=15 "$LOAD_TIMEOUT" "$BIN/smpp-load" --host 127.0.0.1 \
        --port "$port" "${LOAD_OPTS[@]}" >"$dir/load.json" 2>"$dir/load.log" &
    LOAD=$!; PIDS+=("$LOAD")
    sleep 0.1
    local lp; lp=$(pgrep -P "$LOAD" smpp-load | head -1); lp=${lp:-$LOAD}
    : >"$dir/samples"
    while kill -0 "$LOAD" 2>/dev/null; do
        echo "$(date +%s.%N) $(ticks "${GW:-0}") $(ticks "${REDIS:-0}") $(ticks "$SIM") $(ticks "$lp") $(sim_field submit_sm)" >>"$dir/samples"
        sleep 1
    done
    wait "$LOAD"; put "$(basename "$dir")_exit" "$?"
}
# CPU (% of one core) over the samples where smsc-sim's submit_sm count rose
cpu_window() {
    python3 - "$1" <<'EOF'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 6]
idx = [i for i in range(1, len(rows)) if rows[i][5] > rows[i - 1][5]]
if not idx: print('n/a'); sys.exit()
a, b = rows[idx[0] - 1], rows[idx[-1]]
dt = b[0] - a[0]
names = ('smsgwd', 'redis', 'smsc-sim', 'smpp-load')
print('window_s=%.1f ' % dt + ' '.join('%s=%d%%' % (n, round((b[k + 1] - a[k + 1]) / dt)) for k, n in enumerate(names)))
EOF
}

# ================================================================== 1. gateway
G=$D/gateway; rm -rf "$G"; mkdir -p "$G/redis"
put load_before_gateway "$(loadavg)"
RP=$(free_port); HP=$(free_port); MP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
    --dir "$G/redis" --logfile "$G/redis.log" &
REDIS=$!; PIDS+=("$REDIS")
wait_port "$RP" "$REDIS" 10 || die "redis-server did not start"
start_sim "$G"
PW_HASH=$(python3 -c 'import hashlib,os,sys; s=os.urandom(16); i=100000; print("pbkdf2-sha256:%d:%s:%s" % (i, s.hex(), hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), s, i).hex()))' bench)
cat >"$G/smsgw.conf" <<EOF
# bench/client_bind.sh: route unlimited (mps 100000), SMSC window 2048,
# 2 sessions; account "bench" binds over SMPP (password "bench"). Generated.
instance  = "bench";
log_level = "info";
redis = { host = "127.0.0.1"; port = $RP; prefix = "smsgw:"; timeout_ms = 2000; };
http = { listen = "127.0.0.1"; port = $HP; };
smpp_server = { listen = "127.0.0.1"; port = $MP; };
smsc = (
  { name = "sim"; host = "127.0.0.1"; port = $SP; tls = false;
    system_id = "gw"; password = "gw"; bind = "trx";
    sessions = 2; window = 2048; }
);
senders = (
  { address = "12345"; type = "shortcode"; accounts = [ "bench" ]; }
);
routes = (
  { name = "default"; mps = 100000; prefixes = [ "" ]; smsc = [ "sim" ]; }
);
accounts = (
  { name = "bench"; api_keys = [ "sha256:090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4" ];
    smpp_system_id = "bench"; smpp_password = "$PW_HASH"; }
);
EOF
"$BIN/smsgwd" -t -c "$G/smsgw.conf" >"$G/configtest.log" 2>&1 || die "config rejected: $G/configtest.log"
"$BIN/smsgwd" -c "$G/smsgw.conf" 2>"$G/smsgwd.log" &
GW=$!; PIDS+=("$GW")
wait_port "$MP" "$GW" 10 || die "smsgwd did not listen for SMPP; see $G/smsgwd.log"
for _ in $(seq 1 200); do
    [ "$(grep -c 'to=BOUND_TRX' "$G/smsgwd.log")" -ge 2 ] && break
    sleep 0.05
done
[ "$(grep -c 'to=BOUND_TRX' "$G/smsgwd.log")" -ge 2 ] || die "smsgwd did not bind 2 sessions to smsc-sim"
sleep 1
put load_before_gateway_run "$(loadavg)"
say "gateway: smpp-load -> smsgwd:$MP, trx, window $WINDOW, $COUNT messages or ${DURATION_S}s"
run_load "$G" "$MP"
put gateway_sim "$(sim_stats | python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join("%s=%s" % (k, j.get(k)) for k in ("submit_sm","accepted","receipts_sent","receipts_acked","receipts_dropped")))')"
put gateway_cpu "$(cpu_window "$G/samples")"
put gateway_rss_kb "$(awk '/VmHWM/{print "hwm=" $2} /VmRSS/{print "rss=" $2}' /proc/$GW/status | paste -sd' ')"
put gateway_clientq "clientq=$(timeout 10 redis-cli -p "$RP" llen smsgw:clientq:bench) stream=$(timeout 10 redis-cli -p "$RP" xlen smsgw:q:default)"
put gateway_warn "$(grep -E 'level=(warn|error)' "$G/smsgwd.log" | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | tr '\n' ' ')"
put gateway_json "$(tr -d '\n' <"$G/load.json")"
stop_pid "$GW" 15; GW=
stop_pid "$SIM" 5; SIM=
stop_pid "$REDIS" 30; REDIS=

# ================================================================== 2. raw
R=$D/raw; rm -rf "$R"; mkdir -p "$R"
start_sim "$R"
sleep 1
put load_before_raw "$(loadavg)"
say "raw: smpp-load -> smsc-sim:$SP directly, same options"
run_load "$R" "$SP"
put raw_sim "$(sim_stats | python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join("%s=%s" % (k, j.get(k)) for k in ("submit_sm","accepted","receipts_sent","receipts_acked","receipts_dropped")))')"
put raw_cpu "$(cpu_window "$R/samples")"
put raw_json "$(tr -d '\n' <"$R/load.json")"
stop_pid "$SIM" 5; SIM=

# ================================================================== report
python3 - "$RES" <<'EOF'
import sys, json
r = {}
for l in open(sys.argv[1]):
    if '=' in l:
        k, v = l.rstrip('\n').split('=', 1); r[k] = v
print('# smsgwd client binds — bench/client_bind.sh')
for k in ('date', 'commit', 'build', 'machine', 'software', 'idle_wait',
          'load_before_gateway', 'load_before_gateway_run', 'load_before_raw'):
    print('%-24s %s' % (k, r.get(k, '-')))
js = {}
for ph in ('gateway', 'raw'):
    try: js[ph] = json.loads(r.get(ph + '_json', '') or '{}')
    except ValueError: js[ph] = {}
print('| | gateway (smpp-load -> smsgwd -> smsc-sim) | raw (smpp-load -> smsc-sim) |')
print('|---|---|---|')
def row(name, f):
    print('| %s | %s | %s |' % (name, f(js['gateway']), f(js['raw'])))
row('messages (resps)', lambda j: '%s (%s)' % (j.get('messages'), j.get('resps')))
row('elapsed_s', lambda j: j.get('elapsed_s'))
row('submit_sm_resp/s', lambda j: '%.0f' % j.get('rate', 0))
row('resp status', lambda j: json.dumps(j.get('resp_by_status')))
row('latency p50 / p99 / max ms', lambda j: '%s / %s / %s' % tuple(j.get('latency_ms', {}).get(k) for k in ('p50', 'p99', 'max')))
row('receipts / matched / pending', lambda j: '%s / %s / %s' % (j.get('receipts'), j.get('receipts_matched'), j.get('receipts_pending')))
row('receipt latency p50 / p99 ms', lambda j: '%s / %s' % tuple(j.get('receipt_latency_ms', {}).get(k) for k in ('p50', 'p99')))
print('| smsc-sim | %s | %s |' % (r.get('gateway_sim'), r.get('raw_sim')))
print('| CPU (%% of a core, sending window) | %s | %s |' % (r.get('gateway_cpu'), r.get('raw_cpu')))
g, w = js['gateway'].get('rate', 0), js['raw'].get('rate', 0)
print('ratio gateway / raw = %.3f' % (g / w if w else 0))
for k in sorted(r):
    if k.startswith(('gateway_', 'raw_')) and not k.endswith('_json'):
        print('%s = %s' % (k, r[k]))
print('gateway_json = %s' % r.get('gateway_json'))
print('raw_json = %s' % r.get('raw_json'))
EOF
