#!/bin/bash
# `make bench`: the figures in BENCHMARKS.md, in one run on this machine.
#   1. smsc-sim measured by smpp-load (bench/smsc_sim.sh: runs a, b, c)
#   2. the same load (run a's shape, fewer messages) against node-smpp's
#      server, for a ratio measured in the same session
set -u
cd "$(dirname "$0")/.." || exit 1
D=build/bench
mkdir -p "$D"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD 2>/dev/null)"
bash bench/smsc_sim.sh

if command -v node >/dev/null 2>&1 && [ -d tests/interop/node_modules/smpp ]; then
    PORT=$((20000 + RANDOM % 40000))
    node bench/node_smsc.js "$PORT" >"$D/node-smsc.log" 2>&1 &
    NODE=$!
    trap 'kill $NODE 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
    printf '{"run":"node-smpp-server",'
    timeout 300 bin/smpp-load --host 127.0.0.1 --port "$PORT" --system-id x --password x \
        --count 200000 --window 512 --bind-mode tx --json-only | sed 's/^{//'
    kill $NODE 2>/dev/null || true
fi
