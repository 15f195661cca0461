#!/usr/bin/python3
"""What a message writes to Redis's AOF, by command and key kind.

usage: bench/aof_mix.py INCR_AOF [MAX_COMMANDS]

Reads an AOF increment file (RESP arrays, as Redis 7 writes under
appendonlydir/) from a benchmark run, up to MAX_COMMANDS (default 400,000)
commands, and prints bytes and counts per command (with the key kind after
the prefix, e.g. "HSET msg"), their share of the bytes, and bytes per
message, counting messages as the SETs of SMSC ids (one per submitted
part). Used on bench/pacing.sh's AOF for docs/operations.md.
"""
import collections
import sys

path = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 400000
data = open(path, "rb").read()
count, size = collections.Counter(), collections.Counter()
i = n = 0
while i < len(data) and n < limit and data[i:i + 1] == b"*":
    j = data.index(b"\r\n", i)
    k = int(data[i + 1:j])
    start, i = i, j + 2
    args = []
    for _ in range(k):
        j = data.index(b"\r\n", i)
        ln = int(data[i + 1:j])
        i = j + 2
        args.append(data[i:i + ln])
        i += ln + 2
    name = args[0].upper().decode()
    if len(args) > 1 and b":" in args[1] and name not in ("MULTI", "EXEC", "SELECT"):
        name += " " + args[1].decode(errors="replace").split(":")[1]
    count[name] += 1
    size[name] += i - start
    n += 1
total = sum(size.values())
msgs = count.get("SET smscid", 0) or 1
print(f"{n} commands, {total} bytes, {msgs} messages (SET smscid): {total / msgs:.0f} B a message")
for name, b in size.most_common(20):
    print(f"{name:24s} {count[name]:8d} {b:11d} {b / total * 100:5.1f}%")
