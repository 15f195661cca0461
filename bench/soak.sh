#!/bin/bash
# bench/soak.sh — `make soak`: the whole system under load with faults
# injected on a schedule, then a reconciliation from Redis (issue 6).
#
#   redis-server (AOF, appendfsync always: an acknowledged write survives
#   kill -9), smsc-sim as two carriers on two routes ("a": prefix 1415,
#   "b": the rest), smsgwd with an SMPP server, and two clients:
#     HTTP  wrk + bench/http_post.lua, paced (WRK_CONNS * 1000 / DELAY_MS /s),
#           60% of SOAK_N; the id of every 202 is kept
#     SMPP  bin/smpp-load bound as account "soak" (trx, receipts asked),
#           --rate SMPP_RATE, 40% of SOAK_N
#   Faults, one after the other with CALM_S seconds between, repeated until
#   the clients are done:
#     drop      carrier a restarted with --close-after 400 (the link drops
#               every 400 submit_sm per bind; resps in flight are lost)
#     throttle  carrier b restarted with --throttle 20 (ESME_RTHROTTLED)
#     withhold  carrier a restarted with --withhold-pct 3 (no resp at all)
#     gw-kill   smsgwd kill -9, restarted 1 s later (same instance name)
#     redis     redis-server kill -9, restarted 2 s later on the same dir/port
#     garbage   a client floods random bytes at smsgwd's SMPP port
#   Each fault lasts FAULT_S seconds (gw-kill and redis: the restart).
#   A carrier is always stopped with SIGTERM so that it prints its counters.
#
# Then: wait (at most SETTLE_S) until nothing is queued, retrying or
# changing, and reconcile: every accepted message (HTTP: by id; SMPP: by the
# count of ESME_ROK resps against the records with source=smpp) must have a
# record in exactly one terminal state, with one terminal entry in its
# history. Report on stdout and build/bench/soak/report.md, key=value
# results in build/bench/soak/results.txt.
#
# Environment:
#   SOAK_N=1000000      messages offered (HTTP 60%, SMPP 40%)
#   SOAK_BUILD=tree|head  bin/ of the working tree (default), or HEAD built
#                       from git archive in build/bench/soak/src
#   WRK_CONNS=8 DELAY_MS=25   HTTP pacing (8 * 1000 / 25 = 320 requests/s)
#   SMPP_RATE=200       smpp-load submit_sm/s
#   CALM_S=10 FAULT_S=12  the schedule
#   SETTLE_S=180        longest wait for the last messages after the load
#   FAULTS="drop throttle withhold gw-kill redis garbage"
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
D=$ROOT/build/bench/soak
rm -rf "$D/run" && mkdir -p "$D/run"
R=$D/run

SOAK_N=${SOAK_N:-1000000}
SOAK_BUILD=${SOAK_BUILD:-tree}
WRK_CONNS=${WRK_CONNS:-8}
DELAY_MS=${DELAY_MS:-25}
SMPP_RATE=${SMPP_RATE:-200}
CALM_S=${CALM_S:-10}
FAULT_S=${FAULT_S:-12}
SETTLE_S=${SETTLE_S:-180}
FAULTS=${FAULTS:-drop throttle withhold gw-kill redis garbage}
HTTP_N=$((SOAK_N * 6 / 10))
SMPP_N=$((SOAK_N - HTTP_N))
WRK_THREADS=2
# The whole run is bounded: the offered rate with a wide margin, plus settling.
RATE_EST=$((WRK_CONNS * 1000 / DELAY_MS + SMPP_RATE))
LOAD_LIMIT_S=$((SOAK_N * 3 / RATE_EST + 120))
KEY=demo-key-change-me
KEY_HASH=sha256:090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4
RES=$D/results.txt
: >"$RES"

say() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }
put() { echo "$1=$2" >>"$RES"; }
die() { say "$*"; exit 1; }

for t in python3 redis-server redis-cli wrk; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing (apt-get install -y redis-server wrk python3)"
done

# ------------------------------------------------------------------ build
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')
if [ "$SOAK_BUILD" = head ]; then
    say "building HEAD $COMMIT in $D/src"
    rm -rf "$D/src" && mkdir -p "$D/src"
    git archive HEAD | tar -x -C "$D/src" || die "git archive failed"
    (cd "$D/src" && timeout 600 make -s -j"$(nproc)" all) >"$D/make.log" 2>&1 ||
        die "make all failed; see $D/make.log"
    BIN=$D/src/bin
    put build "HEAD $COMMIT (git archive${DIRTY:+; uncommitted changes not measured: $DIRTY})"
else
    timeout 600 make -s all >"$D/make.log" 2>&1 || die "make all failed; see $D/make.log"
    BIN=$ROOT/bin
    put build "working tree at $COMMIT${DIRTY:+ (modified: $DIRTY)}"
fi
for b in smsgwd smsc-sim smpp-load; do [ -x "$BIN/$b" ] || die "$BIN/$b missing"; done

put commit "$COMMIT"
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -qw hypervisor /proc/cpuinfo && echo virtualised || echo bare metal)), $(free -m | awk '/Mem:/{printf "%.1f GiB", $2/1024}'), kernel $(uname -r)"
put software "$(redis-server --version | awk '{print $3}' | sed 's/v=/redis /'), gcc $(gcc -dumpversion)"
put load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
put uptime_at_start "$(uptime)"
put others_at_start "$(pgrep -af 'wrk|smsgwd|smsc-sim|smpp-load|redis-server|test_' | grep -v -e "$ROOT/" -e "^$$ " | cut -c1-100 | tr '\n' ';')"
put soak_n "$SOAK_N"
put plan "http=$HTTP_N (wrk -t$WRK_THREADS -c$WRK_CONNS DELAY_MS=$DELAY_MS) smpp=$SMPP_N (rate $SMPP_RATE) calm_s=$CALM_S fault_s=$FAULT_S faults=\"$FAULTS\""

# ------------------------------------------------------------------ processes

# shellcheck source=bench/lib.sh
. bench/lib.sh    # the script runs from the repository root

# Listening ports below the ephemeral range: while smsgwd or Redis is down,
# a client reconnecting to 127.0.0.1:P can be given P as its own source port
# and connect to itself (TCP self-connect), and then holds P so that the
# restarted daemon fails with EADDRINUSE. Seen in a first run: wrk did it to
# smsgwd's HTTP port during gw-kill.
EPH_LO=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((10000 + RANDOM % (EPH_LO - 10000)))
        port_busy "$p" || { echo "$p"; return 0; }
    done
    die "no free port"
}
RP=$(free_port); HP=$(free_port); MP=$(free_port)
SPA=$(free_port); CPA=$(free_port); SPB=$(free_port); CPB=$(free_port)
REDIS= GW= SIMA= SIMB= WRK= LOAD= SAMPLER=
rcli() { timeout 60 redis-cli -p "$RP" "$@"; }

start_redis() {
    redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
        --dir "$R/redis" --logfile "$R/redis.log" &
    REDIS=$!; PIDS+=("$REDIS")
    wait_port "$RP" "$REDIS" 30 || die "redis-server did not start; see $R/redis.log"
    local i
    for i in $(seq 1 300); do   # loading the AOF answers -LOADING
        [ "$(rcli ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "redis-server did not load its AOF in 30 s"
}

# start_sim a|b [fault flags...]: the carrier on its fixed ports; its final
# JSON counters go to sim-X.N.json (one file per run of the carrier).
declare -A SIMRUN=([a]=0 [b]=0)
start_sim() {
    local c=$1 sp cp n; shift
    if [ "$c" = a ]; then sp=$SPA; cp=$CPA; else sp=$SPB; cp=$CPB; fi
    n=$((SIMRUN[$c] + 1)); SIMRUN[$c]=$n
    echo "$(date +%s.%N) ${c}.$n $*" >>"$R/sim-runs"
    "$BIN/smsc-sim" --port "$sp" --system-id "gw-$c" --password "gw-$c" \
        --dlr-delay-ms 0 --dlr-queue 1000000 --max-messages 1048576 --window 1024 \
        --control-port "$cp" --stats-interval-ms 0 "$@" \
        >"$R/sim-$c.$n.json" 2>>"$R/sim-$c.log" &
    local pid=$!; PIDS+=("$pid")
    if [ "$c" = a ]; then SIMA=$pid; else SIMB=$pid; fi
    wait_port "$sp" "$pid" 10 && wait_port "$cp" "$pid" 10 || die "smsc-sim $c did not start; see $R/sim-$c.log"
}
stop_sim() {    # a|b
    if [ "$1" = a ]; then stop_pid "$SIMA" 10; SIMA=; else stop_pid "$SIMB" 10; SIMB=; fi
}
restart_sim() { local c=$1; shift; stop_sim "$c"; start_sim "$c" "$@"; }

PW_HASH=$(python3 -c 'import hashlib,os,sys; s=os.urandom(16); i=1000; print("pbkdf2-sha256:%d:%s:%s" % (i, s.hex(), hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), s, i).hex()))' soak)
write_conf() {
    cat >"$R/smsgw.conf" <<EOF
# bench/soak.sh: two carriers (smsc-sim), two routes, HTTP and SMPP clients.
# Generated; see bench/soak.sh.
instance  = "soak";
log_level = "info";
redis = { host = "127.0.0.1"; port = $RP; prefix = "smsgw:"; timeout_ms = 2000; };
http = { listen = "127.0.0.1"; port = $HP; };
smpp_server = { listen = "127.0.0.1"; port = $MP; bind_timeout_ms = 2000; };
smsc = (
  { name = "carrier-a"; host = "127.0.0.1"; port = $SPA; system_id = "gw-a"; password = "gw-a";
    sessions = 2; window = 64; response_timeout_ms = 3000; enquire_link_s = 5;
    reconnect_min_ms = 200; reconnect_max_ms = 2000; },
  { name = "carrier-b"; host = "127.0.0.1"; port = $SPB; system_id = "gw-b"; password = "gw-b";
    sessions = 2; window = 64; response_timeout_ms = 3000; enquire_link_s = 5;
    reconnect_min_ms = 200; reconnect_max_ms = 2000; }
);
senders = (
  { address = "12345"; type = "shortcode"; accounts = [ "demo", "soak" ]; }
);
routes = (
  { name = "a"; mps = 2000; prefixes = [ "1415" ]; smsc = [ "carrier-a" ]; },
  { name = "b"; mps = 2000; prefixes = [ "" ]; smsc = [ "carrier-b" ]; }
);
accounts = (
  { name = "demo"; api_keys = [ "$KEY_HASH" ]; },
  { name = "soak"; api_keys = [ "sha256:$(printf %s soak-key | sha256sum | cut -d' ' -f1)" ];
    smpp_system_id = "soak"; smpp_password = "$PW_HASH"; smpp_max_binds = 8; smpp_window = 64; }
);
EOF
    "$BIN/smsgwd" -t -c "$R/smsgw.conf" >"$R/configtest.log" 2>&1 || die "config rejected: $R/configtest.log"
}
GW_RUNS=0
GW_START_FAILS=0
start_gw() {     # like systemd's Restart=on-failure: up to 5 tries, 1 s apart
    local try
    for try in 1 2 3 4 5; do
        GW_RUNS=$((GW_RUNS + 1))
        "$BIN/smsgwd" -c "$R/smsgw.conf" 2>>"$R/smsgwd.log" &
        GW=$!; PIDS+=("$GW")
        echo "$GW" >"$R/gw.pid"
        wait_port "$HP" "$GW" 20 && wait_port "$MP" "$GW" 20 && return 0
        GW_START_FAILS=$((GW_START_FAILS + 1))
        say "smsgwd did not start (try $try): $(tail -1 "$R/smsgwd.log" | cut -c1-160)"
        stop_pid "$GW" 5
        sleep 1
    done
    die "smsgwd did not start; see $R/smsgwd.log"
}

# The sampler: one line a second, "epoch gw_pid VmHWM_kB VmRSS_kB", while
# the run goes (smsgwd's pid changes with gw-kill).
sampler() {
    local pid
    while :; do
        pid=$(cat "$R/gw.pid" 2>/dev/null)
        if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
            echo "$(date +%s) $pid $(awk '/VmHWM/{h=$2} /VmRSS/{r=$2} END{print h+0, r+0}' "/proc/$pid/status" 2>/dev/null)"
        fi
        sleep 1
    done
}

# The garbage client: connections to the SMPP port sending random bytes
# (some with a plausible header, some not) for $1 seconds.
garbage() {
    timeout $(($1 + 10)) python3 - "$MP" "$1" <<'EOF' >>"$R/garbage.log" 2>&1
import os, socket, struct, sys, time, random
port, secs = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + secs
conns = sent = refused = closed_by_peer = 0
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        refused += 1; time.sleep(0.05); continue
    conns += 1
    try:
        kind = conns % 3
        if kind == 0:    # a huge command_length
            s.sendall(struct.pack(">IIII", 0x7fffffff, 0x00000004, 0, 1) + os.urandom(512))
        elif kind == 1:  # a plausible length, an unknown command id, junk body
            body = os.urandom(random.randint(0, 200))
            s.sendall(struct.pack(">IIII", 16 + len(body), random.getrandbits(32), 0, 1) + body)
        for _ in range(20):
            s.sendall(os.urandom(random.randint(1, 4096)))
            sent += 1
        s.settimeout(0.2)
        try:
            if s.recv(4096) == b"": closed_by_peer += 1
        except socket.timeout:
            pass
    except OSError:
        closed_by_peer += 1
    finally:
        s.close()
print("garbage: conns=%d writes=%d refused=%d closed_by_peer=%d" % (conns, sent, refused, closed_by_peer))
EOF
}

# ------------------------------------------------------------------ start
mkdir -p "$R/redis"
ulimit -n 4096 2>/dev/null || true
start_redis
start_sim a
start_sim b
write_conf
start_gw
for _ in $(seq 1 200); do
    [ "$(grep -c 'to=BOUND_TRX' "$R/smsgwd.log")" -ge 4 ] && break
    sleep 0.05
done
[ "$(grep -c 'to=BOUND_TRX' "$R/smsgwd.log")" -ge 4 ] || die "smsgwd did not bind its 4 sessions"
sampler >"$R/samples" 2>/dev/null &
SAMPLER=$!; PIDS+=("$SAMPLER")

T0=$(date +%s)
put t0 "$T0"
say "load: HTTP $HTTP_N via wrk (~$((WRK_CONNS * 1000 / DELAY_MS))/s), SMPP $SMPP_N via smpp-load (~$SMPP_RATE/s); limit ${LOAD_LIMIT_S}s"
: >"$R/wrk.stopped"
env STOP_FILE="$R/wrk.stopped" COUNTS_FILE="$R/http.counts" IDS_FILE="$R/http.ids" SMSGW_KEY="$KEY" SAMPLE_EVERY=1 \
    STOP_AFTER=$(((HTTP_N + WRK_THREADS - 1) / WRK_THREADS)) DELAY_MS="$DELAY_MS" \
    timeout --signal=INT --kill-after=20 "$LOAD_LIMIT_S" \
    wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${LOAD_LIMIT_S}s" --timeout 10s \
    -s "$ROOT/bench/http_post.lua" "http://127.0.0.1:$HP/v1/messages" >"$R/wrk.out" 2>&1 &
WRK=$!; PIDS+=("$WRK")
timeout --signal=INT --kill-after=20 $((LOAD_LIMIT_S + 60)) "$BIN/smpp-load" --host 127.0.0.1 --port "$MP" \
    --system-id soak --password soak --bind-mode trx --binds 2 --window 32 --rate "$SMPP_RATE" \
    --count "$SMPP_N" --registered-delivery 1 --from 12345 --to 14155550100 \
    --timeout-ms 15000 --connect-timeout-ms 120000 --dlr-wait-ms 20000 --json-only \
    >"$R/smpp-load.json" 2>"$R/smpp-load.log" &
LOAD=$!; PIDS+=("$LOAD")

# wrk's threads stop at STOP_AFTER, but its main thread sleeps for all of
# -d: once every thread has stopped, SIGINT makes it print its counts.
WRK_INT=
load_running() {
    if [ -z "$WRK_INT" ] && [ "$(wc -l <"$R/wrk.stopped")" -ge "$WRK_THREADS" ]; then
        kill -INT "$WRK" 2>/dev/null    # timeout(1) passes it on to wrk
        WRK_INT=1
    fi
    kill -0 "$WRK" 2>/dev/null || kill -0 "$LOAD" 2>/dev/null
}
# sleep up to $1 s, less if the load is over
nap() { local i; for i in $(seq 1 "$1"); do load_running || return 1; sleep 1; done; }
fault_begin() { FB=$(date +%s.%N); say "fault $1"; }
fault_end() { echo "$FB $(date +%s.%N) $1" >>"$R/faults"; }
: >"$R/faults"

cycle=0
while load_running; do
    cycle=$((cycle + 1))
    for f in $FAULTS; do
        nap "$CALM_S" || break
        case $f in
        drop)
            fault_begin drop; restart_sim a --close-after 400; nap "$FAULT_S"; restart_sim a; fault_end drop ;;
        throttle)
            fault_begin throttle; restart_sim b --throttle 20; nap "$FAULT_S"; restart_sim b; fault_end throttle ;;
        withhold)
            fault_begin withhold; restart_sim a --withhold-pct 3; nap "$FAULT_S"; restart_sim a; fault_end withhold ;;
        gw-kill)
            fault_begin gw-kill
            kill -KILL "$GW" 2>/dev/null; wait "$GW" 2>/dev/null
            sleep 1; start_gw; fault_end gw-kill ;;
        redis)
            fault_begin redis
            kill -KILL "$REDIS" 2>/dev/null; wait "$REDIS" 2>/dev/null
            sleep 2; start_redis; fault_end redis ;;
        garbage)
            fault_begin garbage; garbage "$FAULT_S"; fault_end garbage ;;
        *) die "unknown fault $f" ;;
        esac
        kill -0 "$GW" 2>/dev/null || die "smsgwd died outside a planned kill; see $R/smsgwd.log"
    done
done
T_LOAD_END=$(date +%s)
put load_s "$((T_LOAD_END - T0))"
put fault_cycles "$cycle"
wait "$WRK"; put wrk_exit "$?"
wait "$LOAD"; put smpp_load_exit "$?"
say "load over after $((T_LOAD_END - T0)) s; settling"

# ------------------------------------------------------------------ settle
cat >"$R/states.lua" <<'EOF'
-- ARGV: cursor. One SCAN step over smsgw:msg:*; returns
-- "cursor src/state=n ... multi_final=n multi_submitted=n extra_submits=n"
local r = redis.call('SCAN', ARGV[1], 'MATCH', 'smsgw:msg:*', 'COUNT', 5000)
local finals = {delivered=1, undelivered=1, expired=1, rejected=1, failed=1,
  cancelled=1, deleted=1, unknown=1}
local c = {multi_final = 0, multi_submitted = 0, extra_submits = 0, ever_submitted = 0}
for _, k in ipairs(r[2]) do
  local h = redis.call('HMGET', k, 'state', 'source')
  local key = (h[2] or 'http') .. '/' .. (h[1] or 'none')
  c[key] = (c[key] or 0) + 1
  local nf, ns = 0, 0
  -- history: the record's fields h:MS:EVENT (h:MS:receipt:PART left out)
  for _, f in ipairs(redis.call('HKEYS', k)) do
    local st = string.match(f, '^h:%d+:([%a_]+)$')
    if finals[st] then nf = nf + 1 end
    if st == 'submitted' then ns = ns + 1 end
  end
  if ns > 0 then c.ever_submitted = c.ever_submitted + 1 end
  if nf > 1 then c.multi_final = c.multi_final + 1 end
  if ns > 1 then c.multi_submitted = c.multi_submitted + 1; c.extra_submits = c.extra_submits + ns - 1 end
end
local out = r[1]
for s, n in pairs(c) do out = out .. ' ' .. s .. '=' .. n end
return out
EOF
states() {
    local cur=0 line all=""
    for _ in $(seq 1 100000); do
        line=$(rcli --eval "$R/states.lua" , "$cur") || return 1
        cur=${line%% *}
        [ "$line" = "$cur" ] || all="$all ${line#* }"
        [ "$cur" = 0 ] && break
    done
    echo "$all" | tr ' ' '\n' | awk -F= 'NF==2{c[$1]+=$2} END{for(k in c) printf "%s=%d\n", k, c[k]}' | sort | tr '\n' ' '
}
nonfinal() {    # records not in a final state: queued, retrying, submitted
    echo "$1" | tr ' ' '\n' | awk -F'[/=]' '$2 ~ /^(queued|retrying|submitted|none)$/ {n += $3} END{print n+0}'
}
settle_start=$(date +%s); prev=""; same=0
while :; do
    st=$(states) || st=""
    nf=$(nonfinal "$st")
    q="$(rcli xlen smsgw:q:a) $(rcli xlen smsgw:q:b) $(rcli zcard smsgw:sched)"
    [ "$st $q" = "$prev" ] && same=$((same + 1)) || same=0
    prev="$st $q"
    [ "$nf" = 0 ] && break
    [ "$same" -ge 5 ] && break          # nothing changed for ~10 s
    [ $(($(date +%s) - settle_start)) -ge "$SETTLE_S" ] && break
    sleep 2
done
put settle_s "$(($(date +%s) - settle_start))"
put states "$st"
put queues_after "q:a=$(rcli xlen smsgw:q:a) q:b=$(rcli xlen smsgw:q:b) sched=$(rcli zcard smsgw:sched) pending_a=$(rcli xpending smsgw:q:a smsgw | head -1) pending_b=$(rcli xpending smsgw:q:b smsgw | head -1) clientq_soak=$(rcli llen smsgw:clientq:soak)"

# ------------------------------------------------------------------ reconcile
# Every HTTP 202 id: its record's state, and the number of final entries in
# its history. Batches of 2,000 ids.
cat >"$R/ids.lua" <<'EOF'
local finals = {delivered=1, undelivered=1, expired=1, rejected=1, failed=1,
  cancelled=1, deleted=1, unknown=1}
local c, bad = {}, {}
for _, id in ipairs(ARGV) do
  local s = redis.call('HGET', 'smsgw:msg:' .. id, 'state') or 'missing'
  local nf = 0
  for _, f in ipairs(redis.call('HKEYS', 'smsgw:msg:' .. id)) do
    if finals[string.match(f, '^h:%d+:([%a_]+)$') or ''] then nf = nf + 1 end
  end
  local k = s
  if finals[s] and nf ~= 1 then k = s .. '_finals' .. nf end
  c[k] = (c[k] or 0) + 1
  if not finals[s] or nf ~= 1 then bad[#bad + 1] = id .. ':' .. k end
end
local out = {}
for s, n in pairs(c) do out[#out + 1] = s .. '=' .. n end
return {table.concat(out, ' '), table.concat(bad, ' ')}
EOF
sort -u "$R/http.ids" >"$R/http.ids.u" 2>/dev/null || : >"$R/http.ids.u"
: >"$R/http.idstates"; : >"$R/http.bad"
split -l 2000 "$R/http.ids.u" "$R/ids.part." 2>/dev/null
for p in "$R"/ids.part.*; do
    [ -s "$p" ] || continue
    # shellcheck disable=SC2046
    rcli --eval "$R/ids.lua" , $(cat "$p") >"$p.out" || die "ids.lua failed"
    sed -n 1p "$p.out" | tr ' ' '\n' >>"$R/http.idstates"
    sed -n 2p "$p.out" | tr ' ' '\n' | grep -v '^$' >>"$R/http.bad"
    rm -f "$p" "$p.out"
done
put http_id_states "$(awk -F= 'NF==2{c[$1]+=$2} END{for(k in c) printf "%s=%d ", k, c[k]}' "$R/http.idstates")"
put http_ids_not_final "$(wc -l <"$R/http.bad")"
put http_ids_not_final_sample "$(head -5 "$R/http.bad" | tr '\n' ' ')"

# ------------------------------------------------------------------ figures
stop_sim a; stop_sim b
stop_pid "$SAMPLER" 2; SAMPLER=
peak_hwm=$(awk '{if ($3 > m) m = $3} END{print m+0}' "$R/samples")
put smsgwd_peak_rss_kb "$peak_hwm"
put smsgwd_rss_end_kb "$(tail -1 "$R/samples" | awk '{print $4}')"
put smsgwd_runs "$GW_RUNS"
put smsgwd_start_failures "$GW_START_FAILS"
put smsgwd_log_warn_error "$(grep -E 'level=(warn|error)' "$R/smsgwd.log" | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | sort -rn | awk '{printf "%s=%s ", $2, $1}')"
put garbage "$(tail -n +1 "$R/garbage.log" 2>/dev/null | awk '{for(i=2;i<=NF;i++){split($i,a,"=");s[a[1]]+=a[2]}} END{for(k in s) printf "%s=%d ", k, s[k]}')"
stop_pid "$GW" 20; GW=
stop_pid "$REDIS" 30; REDIS=
put http_counts "$(cat "$R/http.counts" 2>/dev/null)"
put smpp_load_json "$(tr -d '\n' <"$R/smpp-load.json")"
python3 - "$R" "$RES" <<'EOF'
import glob, json, os, sys
R, res = sys.argv[1], sys.argv[2]
tot = {}
runs = []
for f in sorted(glob.glob(os.path.join(R, 'sim-*.json'))):
    try:
        j = json.loads(open(f).read().strip().splitlines()[-1])
    except (ValueError, IndexError):
        runs.append(os.path.basename(f) + ':no-json'); continue
    for k in ('submit_sm', 'accepted', 'throttled', 'withheld', 'rejected', 'ignored_closing',
              'closed_after', 'receipts_sent', 'receipts_acked', 'receipts_queued',
              'receipts_scheduled', 'receipts_failed', 'receipts_dropped', 'binds'):
        tot[k] = tot.get(k, 0) + int(j.get(k, 0) or 0)
    runs.append('%s:submit_sm=%s' % (os.path.basename(f)[4:-5], j.get('submit_sm')))
with open(res, 'a') as o:
    o.write('sim_totals=%s\n' % ' '.join('%s=%d' % kv for kv in sorted(tot.items())))
    o.write('sim_runs=%s\n' % ' '.join(runs))
EOF

# ------------------------------------------------------------------ report
python3 - "$R" "$RES" "$D/report.md" <<'EOF'
import calendar, collections, json, re, sys, time
R, resf, outf = sys.argv[1:4]
r = collections.OrderedDict()
for l in open(resf):
    if '=' in l:
        k, v = l.rstrip('\n').split('=', 1); r[k] = v
def kv(s):
    return {a: int(b) for a, b in re.findall(r'([\w/]+)=(-?\d+)', s or '')}
http = kv(r.get('http_counts'))
try: sj = json.loads(r.get('smpp_load_json') or '{}')
except ValueError: sj = {}
states = kv(r.get('states'))
sim = kv(r.get('sim_totals'))
ids = kv(r.get('http_id_states'))
finals = ('delivered', 'undelivered', 'expired', 'rejected', 'failed', 'cancelled', 'deleted', 'unknown')
by_src = collections.defaultdict(lambda: collections.Counter())
for k, n in states.items():
    if '/' in k:
        s, st = k.split('/', 1); by_src[s][st] += n
http_ok = http.get('ok', 0)
smpp_ok = int((sj.get('resp_by_status') or {}).get('ESME_ROK', 0))
recs = sum(sum(c.values()) for c in by_src.values())
recs_final = sum(c[f] for c in by_src.values() for f in finals)
smpp_recs = sum(by_src['smpp'].values())
smpp_final = sum(by_src['smpp'][f] for f in finals)
http_missing = ids.get('missing', 0)
http_not_final = int(r.get('http_ids_not_final', '0'))
submitted_recs = states.get('ever_submitted', 0)
# Lost: accepted, and then nowhere: no record, or a record that never
# reached a carrier and is no longer moving (queued/retrying after settling).
http_unsent = sum(ids.get(s, 0) for s in ('queued', 'retrying', 'none'))
smpp_unsent = sum(by_src['smpp'][s] for s in ('queued', 'retrying', 'none'))
at_carrier = sum(c['submitted'] for c in by_src.values())
# Per-second rates from smsgwd's log, split by the fault windows.
faults = []
for l in open(R + '/faults'):
    a, b, name = l.split()[:3]; faults.append((float(a), float(b), name))
acc, sub = collections.Counter(), collections.Counter()
for l in open(R + '/smsgwd.log', errors='replace'):
    if not l.startswith('ts=') or 'event=msg_state' not in l: continue
    t = calendar.timegm(time.strptime(l[3:22], '%Y-%m-%dT%H:%M:%S'))
    if 'state=queued' in l: acc[t] += 1
    elif 'state=submitted' in l: sub[t] += 1
# The load phase: from the start to the last second a message was accepted
# (the load tools then wait for their last resps and receipts).
t0 = int(r['t0'])
t1 = max(acc) + 1 if acc else t0
def in_fault(t):
    for a, b, n in faults:
        if a - 1 <= t <= b + 1: return n
    return None
rows = {'calm': [0, 0, 0], 'fault': [0, 0, 0]}
per_fault = collections.defaultdict(lambda: [0, 0, 0])
for t in range(t0 + 2, t1):
    f = in_fault(t)
    row = rows['fault' if f else 'calm']
    row[0] += 1; row[1] += acc[t]; row[2] += sub[t]
    if f:
        pf = per_fault[f]; pf[0] += 1; pf[1] += acc[t]; pf[2] += sub[t]
def rate(x): return '%.0f / %.0f' % (x[1] / x[0], x[2] / x[0]) if x[0] else '-'
lost = http_missing + http_unsent + max(0, smpp_ok - smpp_recs) + smpp_unsent
out = []
P = out.append
P('# Soak and fault suite — bench/soak.sh')
P('')
for k in ('date', 'commit', 'build', 'machine', 'software', 'load_at_start', 'uptime_at_start', 'others_at_start', 'soak_n', 'plan',
          'load_s', 'fault_cycles', 'settle_s'):
    P('- %s: %s' % (k, r.get(k, '-')))
P('')
P('| | HTTP (wrk) | SMPP (smpp-load) |')
P('|---|---|---|')
P('| accepted by the client (202 / submit_sm_resp ESME_ROK) | %d | %d |' % (http_ok, smpp_ok))
P('| refused or failed at the client | %s | %s |' % (
    ' '.join('%s=%d' % (k, v) for k, v in http.items() if k.startswith('s') and k[1:].isdigit()) +
    ' connect_err=%d read_err=%d timeouts=%d' % (http.get('connect_err', 0), http.get('read_err', 0), http.get('timeouts', 0)),
    json.dumps({k: v for k, v in (sj.get('resp_by_status') or {}).items() if k != 'ESME_ROK'}) +
    ' timeouts=%s conn_lost=%s disconnects=%s' % (sj.get('timeouts'), sj.get('conn_lost'), sj.get('disconnects'))))
P('| records in Redis | %d | %d |' % (sum(by_src['http'].values()), smpp_recs))
P('| records in a final state | %d | %d |' % (sum(by_src['http'][f] for f in finals), smpp_final))
P('| by state | %s | %s |' % (dict(by_src['http']), dict(by_src['smpp'])))
P('| accepted ids checked one by one | %d: %s | (no ids: counted) |' % (sum(ids.values()), r.get('http_id_states')))
P('| receipts back to the client | - | receipts=%s matched=%s pending=%s unmatched=%s |' % (
    sj.get('receipts'), sj.get('receipts_matched'), sj.get('receipts_pending'), sj.get('receipts_unmatched')))
P('')
P('- accepted in all: %d; records: %d (records beyond the accepted: stored, but the answer never reached the client — e.g. cut by kill -9)' % (http_ok + smpp_ok, recs))
P('- **lost** (HTTP 202 ids without a record or still queued/retrying after settling; SMPP OK resps beyond the smpp records, plus smpp records still queued/retrying): **%d**' % lost)
P('- records left `submitted` (with the carrier, no receipt came back — e.g. a carrier stopped before it sent it): %d' % at_carrier)
P('- accepted HTTP ids not in exactly one final state: %d %s' % (http_not_final, r.get('http_ids_not_final_sample', '')))
P('- records with more than one final entry in their history: %d' % states.get('multi_final', 0))
P('- smsc-sim (all runs of both carriers): %s' % r.get('sim_totals'))
P('- records that reached the carrier: %d; carrier accepted minus those = **%d duplicates** (at least once: resent after a lost resp, a timeout or a crash); records submitted more than once: %d (%d extra submissions)' % (
    submitted_recs, sim.get('accepted', 0) - submitted_recs, states.get('multi_submitted', 0), states.get('extra_submits', 0)))
P('- queues after: %s' % r.get('queues_after'))
P('- smsgwd peak RSS (VmHWM over %s runs): %.1f MB; at the end %.1f MB' % (
    r.get('smsgwd_runs'), int(r.get('smsgwd_peak_rss_kb', 0)) / 1024, int(r.get('smsgwd_rss_end_kb', 0) or 0) / 1024))
P('- garbage client: %s' % r.get('garbage'))
P('- smsgwd warn/error events: %s' % r.get('smsgwd_log_warn_error'))
P('')
P('Throughput, from smsgwd\'s log (accepted / submitted per second, over the whole seconds from the start to the last accepted message, %d s; a fault window includes 1 s either side):' % (t1 - t0 - 2))
P('')
P('| window | seconds | accepted/s / submitted/s |')
P('|---|---|---|')
P('| outside faults | %d | %s |' % (rows['calm'][0], rate(rows['calm'])))
P('| during faults | %d | %s |' % (rows['fault'][0], rate(rows['fault'])))
for n, x in sorted(per_fault.items()):
    P('| %s | %d | %s |' % (n, x[0], rate(x)))
text = '\n'.join(out) + '\n'
open(outf, 'w').write(text)
with open(resf, 'a') as o:
    o.write('accepted_http=%d\naccepted_smpp=%d\nlost=%d\nduplicates=%d\n' % (
        http_ok, smpp_ok, lost, sim.get('accepted', 0) - submitted_recs))
    o.write('rate_calm=%s\nrate_fault=%s\n' % (rate(rows['calm']), rate(rows['fault'])))
print(text)
EOF
