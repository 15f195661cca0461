#!/bin/bash
# `make demo`: the whole MT path on loopback, then a TLS bind.
#   1. a private redis-server (AOF on) on 127.0.0.1:6390, data in build/demo
#   2. smsc-sim on 127.0.0.1:27750 with receipts after 300 ms
#   3. smsgwd on conf/smsgw.conf (HTTP API on 127.0.0.1:8080)
#   4. curl POST /v1/messages, wait for the delivery receipt, GET the record
#   5. smsc-sim with TLS and an ESME bound over verified TLS (smpp-load)
# Everything started here is stopped when the demo ends.
set -eu
cd "$(dirname "$0")/.."
D=build/demo
mkdir -p "$D"
KEY=demo-key-change-me
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "demo: nothing listening on port $1 ($2); see $D/*.log" >&2
    exit 1
}
for p in 6390 27750 8080; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "demo: port $p is in use; stop what holds it and run make demo again" >&2
        exit 1
    fi
done

echo "demo: 1. redis-server on 127.0.0.1:6390 (AOF, fsync every second)"
redis-server --port 6390 --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec \
    --dir "$PWD/$D" --logfile "$PWD/$D/redis.log" &
PIDS+=($!)
wait_port 6390 redis-server

echo "demo: 2. smsc-sim on 127.0.0.1:27750 (receipts after 300 ms)"
bin/smsc-sim --port 27750 --system-id demo --password demo123 --dlr-delay-ms 300 \
    --stats-interval-ms 0 >"$D/smsc-sim.json" 2>"$D/smsc-sim.log" &
PIDS+=($!)
wait_port 27750 smsc-sim

echo "demo: 3. smsgwd -c conf/smsgw.conf"
bin/smsgwd -t -c conf/smsgw.conf
bin/smsgwd -c conf/smsgw.conf 2>"$D/smsgwd.log" &
GW=$!
PIDS+=($GW)
wait_port 8080 smsgwd
for _ in $(seq 1 100); do grep -q 'to=BOUND_TRX' "$D/smsgwd.log" && break; sleep 0.05; done

echo
echo "demo: 4. POST /v1/messages"
echo "  curl -H 'Authorization: Bearer $KEY' -d '{\"from\":\"12345\",\"to\":\"+14155550100\",\"text\":\"Hello from smsgw\"}' http://127.0.0.1:8080/v1/messages"
RESP=$(curl -s -H "Authorization: Bearer $KEY" \
    -d '{"from":"12345","to":"+14155550100","text":"Hello from smsgw","client_ref":"demo-'"$(date +%s)"'"}' \
    http://127.0.0.1:8080/v1/messages)
echo "  -> $RESP"
ID=$(printf '%s' "$RESP" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$ID" ] || { echo "demo: no id in the answer" >&2; exit 1; }
echo "demo:    waiting for the delivery receipt..."
STATE=
for _ in $(seq 1 100); do
    REC=$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:8080/v1/messages/$ID")
    STATE=$(printf '%s' "$REC" | sed -n 's/.*"state":"\([a-z]*\)","smsc".*/\1/p')
    case "$REC" in *'"state":"delivered"'*) break ;; esac
    sleep 0.1
done
echo "demo:    GET /v1/messages/$ID"
if command -v python3 >/dev/null 2>&1; then
    printf '%s' "$REC" | python3 -m json.tool | sed 's/^/    /'
else
    echo "    $REC"
fi
echo "demo:    smsgwd's log for this message:"
grep "msg_id=$ID" "$D/smsgwd.log" | sed 's/^/    /'
kill -TERM "$GW"; wait "$GW" 2>/dev/null || true

echo
echo "demo: 5. smsc-sim with TLS, and a transceiver bound over verified TLS"
if [ ! -f "$D/srv.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" \
        -days 30 -subj /CN=smsgw-demo-ca >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout "$D/srv.key" -out "$D/srv.csr" \
        -subj /CN=localhost >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\n' > "$D/ext.cnf"
    openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
        -out "$D/srv.pem" -days 30 -extfile "$D/ext.cnf" >/dev/null 2>&1
fi
bin/smsc-sim --port 27751 --tls-cert "$D/srv.pem" --tls-key "$D/srv.key" \
    --system-id demo --password demo123 --dlr-delay-ms 100 --stats-interval-ms 0 \
    >"$D/smsc-sim-tls.json" 2>"$D/smsc-sim-tls.log" &
PIDS+=($!)
wait_port 27751 smsc-sim-tls
bin/smpp-load --host localhost --port 27751 --tls --tls-ca "$D/ca.pem" \
    --system-id demo --password demo123 --bind-mode trx --count 2 --window 2 \
    --registered-delivery 1 --dlr-wait-ms 3000 --log-level info 2>&1 \
    | grep -E 'smpp_connected|to=BOUND|event=receipt' | sed 's/^/    /' || true
echo
echo "demo: done. Logs and data in $D/"
[ "$STATE" = delivered ] || case "$REC" in *'"state":"delivered"'*) ;; *) exit 1 ;; esac
