#!/bin/bash
# `make demo`: start smsc-sim with TLS on loopback, bind an ESME session to it
# over verified TLS, send messages and show their delivery receipts.
# Everything runs from build/demo and stops when the demo ends.
set -eu
cd "$(dirname "$0")/.."
D=build/demo
mkdir -p "$D"
PORT=${DEMO_PORT:-27750}

# A private CA and a server certificate for localhost, made fresh each run.
if [ ! -f "$D/srv.pem" ]; then
    echo "demo: making a private CA and a certificate for localhost"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" \
        -days 30 -subj /CN=smsgw-demo-ca >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout "$D/srv.key" -out "$D/srv.csr" \
        -subj /CN=localhost >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\n' > "$D/ext.cnf"
    openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
        -out "$D/srv.pem" -days 30 -extfile "$D/ext.cnf" >/dev/null 2>&1
fi

echo "demo: starting smsc-sim (TLS) on 127.0.0.1:$PORT"
bin/smsc-sim --port "$PORT" --tls-cert "$D/srv.pem" --tls-key "$D/srv.key" \
    --system-id demo --password demo123 --dlr-delay-ms 200 \
    --stats-interval-ms 0 >"$D/smsc-sim.json" 2>"$D/smsc-sim.log" &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT INT TERM
i=0
while ! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$D/smsc-sim.log"; echo "demo: smsc-sim did not start"; exit 1; }
    sleep 0.05
done 2>/dev/null || true

echo "demo: binding a transceiver over TLS (verified against the demo CA, host localhost)"
echo "demo: sending 3 messages with registered_delivery=1 and waiting for the receipts"
echo
bin/smpp-load --host localhost --port "$PORT" --tls --tls-ca "$D/ca.pem" \
    --system-id demo --password demo123 --bind-mode trx --count 3 --window 3 \
    --registered-delivery 1 --dlr-wait-ms 3000 --log-level info 2>&1 \
    | grep -E 'smpp_connected|smpp_state|receipt|^\{' || true
echo
kill -TERM $SIM; wait $SIM 2>/dev/null || true
trap - EXIT INT TERM
echo "demo: smsc-sim's summary:"
cat "$D/smsc-sim.json"
