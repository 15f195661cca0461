#!/bin/bash
# bench/store_cost.sh — Redis's cost per message, step by step (accept,
# queue read, submitted, receipt), without HTTP or SMPP: bench/store_cost.c
# against a private redis-server with AOF everysec, like smsgwd's.
#
#   bash bench/store_cost.sh [N]     (default 200000 messages)
#
# Built from the working tree (make all must have run). Output on stdout.
set -u
cd "$(dirname "$0")/.." || exit 1
N=${1:-200000}
D=build/bench/store-cost
mkdir -p "$D"
die() { echo "store_cost: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
make -s build/bench/store_cost || die "build failed"
rm -rf "$D/redis" && mkdir -p "$D/redis"
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly "${AOF:-yes}" --appendfsync everysec \
    --dir "$PWD/$D/redis" --logfile "$PWD/$D/redis.log" &
REDIS=$!; PIDS+=("$REDIS")
wait_port "$RP" "$REDIS" 10 || die "redis-server did not start"
echo "store_cost: $N messages, $(redis-server --version | awk '{print $3}'), AOF everysec, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- store/ || echo '+changes')"
timeout 600 build/bench/store_cost "$RP" "$N"
