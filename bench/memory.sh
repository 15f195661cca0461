#!/bin/bash
# bench/memory.sh — `make bench-memory`: smsgwd's resident memory against
# the number of SMSC sessions and of client binds (issue 6).
#
#   sessions  1, 10, 100 SMSC sessions bound to one smsc-sim (an smsc entry
#             has at most 64 sessions, so 100 is two entries of 50 on one
#             route); each a fresh redis-server + smsc-sim + smsgwd
#   binds     10, 100, 1000 client binds (bind_transceiver, one account with
#             smpp_max_binds 1000 and a 1,000-iteration PBKDF2 password)
#             held open by a small Python client against one smsgwd; RSS
#             before the binds, with them, and after they are gone
#   RSS is VmRSS from /proc after the binds are up and MEM_SETTLE_S seconds
#   have passed; VmHWM is the peak so far.
#
# Output: a table on stdout and build/bench/memory/report.md, key=value
# lines in build/bench/memory/results.txt. Every process started here is
# stopped on exit; every step is bounded in time.
#
# Environment: MEM_SESSIONS="1 10 100" MEM_BINDS="10 100 1000" MEM_SETTLE_S=3
#              MEM_BUILD=tree|head
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
D=$ROOT/build/bench/memory
rm -rf "$D/run" && mkdir -p "$D/run"
MEM_SESSIONS=${MEM_SESSIONS:-1 10 100}
MEM_BINDS=${MEM_BINDS:-10 100 1000}
MEM_SETTLE_S=${MEM_SETTLE_S:-3}
MEM_BUILD=${MEM_BUILD:-tree}
RES=$D/results.txt
: >"$RES"

say() { echo "memory: $(date -u +%H:%M:%S) $*" >&2; }
put() { echo "$1=$2" >>"$RES"; }
die() { say "$*"; exit 1; }

for t in python3 redis-server redis-cli; do
    command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | grep -v '^??' | awk '{print $2}' | tr '\n' ' ')
if [ "$MEM_BUILD" = head ]; then
    rm -rf "$D/src" && mkdir -p "$D/src"
    git archive HEAD | tar -x -C "$D/src" || die "git archive failed"
    (cd "$D/src" && timeout 600 make -s -j"$(nproc)" all) >"$D/make.log" 2>&1 || die "make all failed"
    BIN=$D/src/bin
    put build "HEAD $COMMIT (git archive${DIRTY:+; uncommitted changes not measured: $DIRTY})"
else
    timeout 600 make -s all >"$D/make.log" 2>&1 || die "make all failed; see $D/make.log"
    BIN=$ROOT/bin
    put build "working tree at $COMMIT${DIRTY:+ (modified: $DIRTY)}"
fi
put commit "$COMMIT"
put date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put machine "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -m | awk '/Mem:/{printf "%.1f GiB", $2/1024}'), kernel $(uname -r)"
put load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# 1000 client binds plus smsgwd's own fds
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
put ulimit_n "$(ulimit -n)"

# shellcheck source=bench/lib.sh
. bench/lib.sh

rss() { awk '/VmRSS/{r=$2} /VmHWM/{h=$2} END{print r+0, h+0}' "/proc/$1/status" 2>/dev/null || echo "0 0"; }
KEY_HASH=sha256:090d1548c9d65f413a1a2c828a0bee3a7ae02d2137caf51e6029e6c3cb1f1fa4
PW_HASH=$(python3 -c 'import hashlib,os,sys; s=os.urandom(16); i=1000; print("pbkdf2-sha256:%d:%s:%s" % (i, s.hex(), hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), s, i).hex()))' mem)

# stack DIR SESSIONS: redis-server, smsc-sim, smsgwd with SESSIONS SMSC
# sessions and an SMPP server; sets RP SP MP GW
stack() {
    local dir=$1 n=$2 smsc="" names="" left k=0 s
    mkdir -p "$dir/redis"
    RP=$(free_port); SP=$(free_port); MP=$(free_port); HP=$(free_port)
    redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
        --dir "$dir/redis" --logfile "$dir/redis.log" &
    REDIS=$!; PIDS+=("$REDIS")
    wait_port "$RP" "$REDIS" 10 || die "redis-server did not start"
    "$BIN/smsc-sim" --port "$SP" --max-binds 1024 --stats-interval-ms 0 \
        >"$dir/smsc-sim.json" 2>"$dir/smsc-sim.log" &
    SIM=$!; PIDS+=("$SIM")
    wait_port "$SP" "$SIM" 10 || die "smsc-sim did not start"
    left=$n
    while [ "$left" -gt 0 ]; do
        k=$((k + 1)); s=$((left > 50 ? 50 : left)); left=$((left - s))
        smsc="$smsc${smsc:+,}
  { name = \"sim$k\"; host = \"127.0.0.1\"; port = $SP; system_id = \"gw\"; password = \"gw\"; sessions = $s; window = 64; }"
        names="$names${names:+, }\"sim$k\""
    done
    cat >"$dir/smsgw.conf" <<EOF
# bench/memory.sh: $n SMSC session(s), an SMPP server. Generated.
instance  = "mem";
log_level = "info";
redis = { host = "127.0.0.1"; port = $RP; prefix = "smsgw:"; };
http = { listen = "127.0.0.1"; port = $HP; };
smpp_server = { listen = "127.0.0.1"; port = $MP; };
smsc = ($smsc
);
senders = ( { address = "12345"; type = "shortcode"; accounts = [ "mem" ]; } );
routes = ( { name = "default"; mps = 1000; prefixes = [ "" ]; smsc = [ $names ]; } );
accounts = (
  { name = "mem"; api_keys = [ "$KEY_HASH" ];
    smpp_system_id = "mem"; smpp_password = "$PW_HASH"; smpp_max_binds = 1000; }
);
EOF
    "$BIN/smsgwd" -t -c "$dir/smsgw.conf" >"$dir/configtest.log" 2>&1 || die "config rejected: $dir/configtest.log"
    "$BIN/smsgwd" -c "$dir/smsgw.conf" 2>"$dir/smsgwd.log" &
    GW=$!; PIDS+=("$GW")
    wait_port "$MP" "$GW" 10 || die "smsgwd did not start; see $dir/smsgwd.log"
    for _ in $(seq 1 600); do
        [ "$(grep -c 'to=BOUND_TRX' "$dir/smsgwd.log")" -ge "$n" ] && break
        sleep 0.05
    done
    put "bound_$(basename "$dir")" "$(grep -c 'to=BOUND_TRX' "$dir/smsgwd.log")"
    [ "$(grep -c 'to=BOUND_TRX' "$dir/smsgwd.log")" -ge "$n" ] || die "smsgwd bound fewer than $n sessions"
}
unstack() {
    stop_pid "$GW" 15; GW=
    stop_pid "$SIM" 5; SIM=
    stop_pid "$REDIS" 10; REDIS=
}

# ================================================================ sessions
for n in $MEM_SESSIONS; do
    say "SMSC sessions: $n"
    stack "$D/run/s$n" "$n"
    sleep "$MEM_SETTLE_S"
    put "sessions_$n" "$(rss "$GW" | awk '{print "rss_kb=" $1, "hwm_kb=" $2}')"
    unstack
done

# ================================================================ binds
# binder PORT N SECONDS: open N connections, bind_transceiver each as "mem",
# print "bound=K refused=R" once all are answered, hold them, then unbind.
cat >"$D/run/binder.py" <<'EOF'
import select, socket, struct, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
body = b'mem\0mem\0\0' + bytes([0x34, 0, 0]) + b'\0'
socks, ok, bad = [], 0, 0
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(struct.pack('>IIII', 16 + len(body), 0x00000009, 0, i + 1) + body)
    socks.append(s)
def read_pdu(s):
    h = b''
    while len(h) < 16:
        c = s.recv(16 - len(h))
        if not c: return None
        h += c
    ln, cid, st, seq = struct.unpack('>IIII', h)
    rest = ln - 16
    while rest > 0:
        c = s.recv(rest)
        if not c: return None
        rest -= len(c)
    return cid, st, seq
for s in socks:
    while True:     # skip anything before the bind resp (none expected)
        p = read_pdu(s)
        if p is None: bad += 1; break
        if p[0] == 0x80000009:
            ok += p[1] == 0; bad += p[1] != 0; break
print('bound=%d refused=%d' % (ok, bad), flush=True)
end = time.time() + hold
while time.time() < end:    # answer enquire_link so the binds stay healthy
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        p = read_pdu(s)
        if p and p[0] == 0x00000015:
            s.sendall(struct.pack('>IIII', 16, 0x80000015, 0, p[2]))
for s in socks:
    try: s.sendall(struct.pack('>IIII', 16, 0x00000006, 0, 999999))
    except OSError: pass
time.sleep(0.5)
for s in socks: s.close()
EOF
B=$D/run/binds
stack "$B" 1
sleep "$MEM_SETTLE_S"
put binds_0 "$(rss "$GW" | awk '{print "rss_kb=" $1, "hwm_kb=" $2}')"
for n in $MEM_BINDS; do
    say "client binds: $n"
    : >"$B/binder-$n.out"
    hold=$((MEM_SETTLE_S + 5))
    timeout $((hold + 120)) python3 "$D/run/binder.py" "$MP" "$n" "$hold" >"$B/binder-$n.out" 2>&1 &
    BINDER=$!; PIDS+=("$BINDER")
    for _ in $(seq 1 1200); do
        grep -q '^bound=' "$B/binder-$n.out" && break
        kill -0 "$BINDER" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$MEM_SETTLE_S"
    put "binds_$n" "$(rss "$GW" | awk '{print "rss_kb=" $1, "hwm_kb=" $2}') $(head -1 "$B/binder-$n.out")"
    wait "$BINDER" 2>/dev/null
    sleep 1
    put "binds_${n}_after" "$(rss "$GW" | awk '{print "rss_kb=" $1, "hwm_kb=" $2}')"
done
put binds_warn "$(grep -E 'level=(warn|error)' "$B/smsgwd.log" | sed -n 's/.*event=\([a-z_]*\).*/\1/p' | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
unstack

# ================================================================ report
python3 - "$RES" "$D/report.md" "$MEM_SESSIONS" "$MEM_BINDS" <<'EOF'
import re, sys
resf, outf, sess, binds = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
r = {}
for l in open(resf):
    if '=' in l:
        k, v = l.rstrip('\n').split('=', 1); r[k] = v
def f(k, field):
    m = re.search(field + r'=(\d+)', r.get(k, ''))
    return int(m.group(1)) if m else 0
o = ['# smsgwd memory curve — bench/memory.sh', '']
for k in ('date', 'commit', 'build', 'machine', 'load_at_start', 'ulimit_n'):
    o.append('- %s: %s' % (k, r.get(k, '-')))
o += ['', '| SMSC sessions | VmRSS | VmHWM |', '|---|---|---|']
for n in sess:
    o.append('| %s | %.1f MB | %.1f MB |' % (n, f('sessions_' + n, 'rss_kb') / 1024, f('sessions_' + n, 'hwm_kb') / 1024))
base = f('binds_0', 'rss_kb')
o += ['', 'Client binds (one SMSC session; before the binds: VmRSS %.1f MB):' % (base / 1024), '',
      '| client binds | bound / refused | VmRSS | per bind over no binds | VmRSS after they unbound |', '|---|---|---|---|---|']
for n in binds:
    k = 'binds_' + n
    rss = f(k, 'rss_kb')
    o.append('| %s | %d / %d | %.1f MB | %.1f kB | %.1f MB |' % (n, f(k, 'bound'), f(k, 'refused'), rss / 1024,
             (rss - base) / int(n), f(k + '_after', 'rss_kb') / 1024))
o += ['', '- smsgwd warn/error events in the binds run: %s' % r.get('binds_warn', '')]
t = '\n'.join(o) + '\n'
open(outf, 'w').write(t)
print(t)
EOF
