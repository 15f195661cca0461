#!/bin/bash
# bench/smsc_sim.sh — measure bin/smsc-sim with bin/smpp-load on loopback.
#
#   (a) 1,000,000 submit_sm from one TX bind, window 512, no receipts
#   (b)   500,000 submit_sm on one TRX bind with registered_delivery=1,
#                 receipts matched to the submit_sm_resp ids
#   (c)   100,000 long messages (400 GSM characters = 3 parts, UDH 8-bit
#                 reference) from one TX bind, window 512: 300,000 submit_sm
#
# Prints one JSON line per run on stdout (smpp-load's, with "run" added in
# front), then smsc-sim's own summary. Everything listens on 127.0.0.1 only,
# every step is bounded in time, and the simulator is stopped on any exit.
#
# Environment:
#   BENCH_RUNS="a b c"   which runs to do
#   RUN_TIMEOUT=300      seconds allowed per run
#   SIM_ARGS=...         extra smsc-sim flags (e.g. "--dlr-delay-ms 0")
#   LOAD_ARGS=...        extra smpp-load flags for every run
#   B_ARGS=...           extra smpp-load flags for run (b), e.g.
#                        "--resp-id-format hex --dlr-id-format dec"
#   BENCH_DIR=build/bench  where logs go
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${BENCH_RUNS:-a b c}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
D=${BENCH_DIR:-build/bench}
SIM_ARGS=${SIM_ARGS:-}
LOAD_ARGS=${LOAD_ARGS:-}
B_ARGS=${B_ARGS:-}
mkdir -p "$D"

for b in bin/smsc-sim bin/smpp-load; do
    if [ ! -x "$b" ]; then
        echo "bench: $b is missing: make bin/smsc-sim bin/smpp-load" >&2
        exit 1
    fi
done

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free loopback port: random in 20000..59999, checked, a few tries.
PORT=
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! port_busy "$p"; then
        PORT=$p
        break
    fi
done
if [ -z "$PORT" ]; then
    echo "bench: no free port found" >&2
    exit 1
fi

# Loopback only: pass the simulator's listen-address flag when it has one.
LISTEN=()
SIM_HELP=$(bin/smsc-sim --help 2>&1 || true)
for f in --addr --listen --bind-addr --host; do
    if printf '%s\n' "$SIM_HELP" | grep -q -- "$f\b"; then
        LISTEN=("$f" 127.0.0.1)
        break
    fi
done

# Run (b) submits faster than receipts flow back; the simulator keeps the
# backlog in a per-system_id queue (default 100,000) and drops what does not
# fit. Make room for the whole run, so that the receipt counts measure the
# receipt path rather than the queue size.
EXTRA=()
if printf '%s\n' "$SIM_HELP" | grep -q -- "--dlr-queue"; then
    EXTRA=(--dlr-queue 1000000)
fi

SIM=
stop_sim() {
    [ -n "$SIM" ] || return 0
    kill -TERM "$SIM" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SIM" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SIM" 2>/dev/null || true
    wait "$SIM" 2>/dev/null || true
    SIM=
}
trap stop_sim EXIT
trap 'stop_sim; exit 130' INT TERM

echo "bench: smsc-sim on 127.0.0.1:$PORT" >&2
# shellcheck disable=SC2086
bin/smsc-sim "${LISTEN[@]}" --port "$PORT" --system-id bench --password bench \
    --stats-interval-ms 0 "${EXTRA[@]}" $SIM_ARGS >"$D/smsc-sim.json" 2>"$D/smsc-sim.log" &
SIM=$!
for i in $(seq 1 100); do
    port_busy "$PORT" && break
    if ! kill -0 "$SIM" 2>/dev/null || [ "$i" -eq 100 ]; then
        echo "bench: smsc-sim did not start; its log:" >&2
        tail -20 "$D/smsc-sim.log" >&2
        exit 1
    fi
    sleep 0.1
done

status=0
run() {
    local name=$1
    shift
    echo "bench: run $name: smpp-load $*" >&2
    # shellcheck disable=SC2086
    timeout --signal=INT --kill-after=15 "$RUN_TIMEOUT" \
        bin/smpp-load --host 127.0.0.1 --port "$PORT" --system-id bench --password bench \
        --json-only "$@" $LOAD_ARGS >"$D/$name.json" 2>"$D/$name.log"
    local rc=$?
    if [ -s "$D/$name.json" ]; then
        sed "s/^{/{\"run\":\"$name\",\"exit\":$rc,/" "$D/$name.json"
    else
        echo "{\"run\":\"$name\",\"exit\":$rc,\"error\":\"no output; see $D/$name.log\"}"
    fi
    [ "$rc" -eq 0 ] || status=1
}

# shellcheck disable=SC2086
for r in $RUNS; do
    case $r in
    a) run a_1m_tx_w512 --count 1000000 --window 512 --bind-mode tx ;;
    b) run b_500k_trx_dlr --count 500000 --window 512 --bind-mode trx \
           --registered-delivery 1 --dlr-wait-ms 30000 $B_ARGS ;;
    c) run c_100k_long_udh8 --count 100000 --window 512 --bind-mode tx \
           --size 400 --concat udh8 ;;
    *) echo "bench: unknown run '$r' (a, b or c)" >&2; status=1 ;;
    esac
done

stop_sim
if [ -s "$D/smsc-sim.json" ]; then
    echo "bench: smsc-sim's summary:" >&2
    cat "$D/smsc-sim.json"
fi
exit $status
