# bench/lib.sh: process and port helpers shared by the bench scripts (sourced;
# they expect die() to be defined). Sourcing it sets the traps that stop
# every pid in PIDS when the script ends.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Ports below the kernel's ephemeral range (ip_local_port_range, usually
# from 32768): a port from that range can be taken by any outgoing
# connection (wrk reconnecting, say) before our server listens on it.
free_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
    for _ in $(seq 1 100); do
        p=$((10000 + RANDOM % (lo - 10000)))
        port_busy "$p" || { echo "$p"; return 0; }
    done
    die "no free port"
}
wait_port() {   # port pid seconds
    local i
    for i in $(seq 1 $(($3 * 20))); do
        port_busy "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
stop_pid() {    # pid seconds
    local p=$1 i
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 1 $(($2 * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
