#!/usr/bin/env python3
"""bench/pacing_analyze.py — figures for bench/pacing.sh from smsgwd's logs.

Send times are smsgwd's own `event=submit_sm` debug lines (one per submit_sm,
`ts=` in ms, wall clock), as in tests/test_smsgwd.c (gw_submit_times,
max_in_window). Several --log files (instances sharing a route) are merged.

  pacing_analyze.py --mps N --window-s W --log A.log [--log B.log]
                    [--sim-stats smsc-sim.log] [--queued Q] [--json OUT]

Window: [t0, t0 + W s) where t0 is the first submit_sm of all logs.
Sliding-window maxima are taken over *all* sends of the run (the contract
holds at every instant, not only inside the measuring window), on the
millisecond stamps: a window [a, a + width) of integer ms, as the tests do.

Receiver side (optional): smsc-sim's stats lines (`--stats-interval-ms 100`)
give its cumulative submit_sm count every ~100 ms; from them the count in
the same window (interpolated at t0 and t0 + W) and a lower bound of its
busiest second (the largest increase between two samples <= 1000 ms apart).
"""
import argparse
import bisect
import calendar
import collections
import json
import re
import sys
import time

_sec_cache = {}


def ts_ms(line):
    """ms since the epoch of a `ts=YYYY-mm-ddTHH:MM:SS.mmmZ ...` line, or None."""
    if not line.startswith("ts=") or len(line) < 27 or line[26] != "Z":
        return None
    s = line[3:22]
    base = _sec_cache.get(s)
    if base is None:
        try:
            base = calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) * 1000
        except ValueError:
            return None
        _sec_cache[s] = base
    try:
        return base + int(line[23:26])
    except ValueError:
        return None


def read_gw(path):
    sends, acks, sessions = [], [], collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            if " event=submit_sm " in line:
                t = ts_ms(line)
                if t is not None:
                    sends.append(t)
                    m = re.search(r" session=(\d+)", line)
                    sessions[m.group(1) if m else "?"] += 1
            elif " event=msg_state " in line and " state=submitted " in line:
                t = ts_ms(line)
                if t is not None:
                    acks.append(t)
    return sends, acks, sessions


def max_in_window(ms, width):
    """(max count, index of the first send of a busiest window) over windows [a, a+width)."""
    best, at, j = 0, 0, 0
    for i in range(len(ms)):
        while ms[i] - ms[j] >= width:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, j
    return best, at


def excess_windows(ms, width, cap, limit=20):
    """Maximal runs of windows ending at a send with > cap sends: [(start_ms, end_ms, max)]."""
    out, j, cur = [], 0, None
    for i in range(len(ms)):
        while ms[i] - ms[j] >= width:
            j += 1
        c = i - j + 1
        if c > cap:
            if cur and ms[j] <= cur[1]:
                cur[1] = ms[i]
                cur[2] = max(cur[2], c)
            else:
                if cur:
                    out.append(tuple(cur))
                cur = [ms[j], ms[i], c]
        elif cur and ms[i] - cur[1] >= width:
            out.append(tuple(cur))
            cur = None
    if cur:
        out.append(tuple(cur))
    return out[:limit], len(out)


def read_sim(path):
    pts = []
    with open(path, errors="replace") as f:
        for line in f:
            if " event=stats " not in line:
                continue
            t = ts_ms(line)
            m = re.search(r" submit_sm=(\d+)", line)
            if t is not None and m:
                pts.append((t, int(m.group(1))))
    return pts


def interp(pts, t):
    ts = [p[0] for p in pts]
    k = bisect.bisect_left(ts, t)
    if k <= 0:
        return pts[0][1]
    if k >= len(pts):
        return pts[-1][1]
    (t0, c0), (t1, c1) = pts[k - 1], pts[k]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mps", type=int, required=True)
    ap.add_argument("--window-s", type=float, required=True)
    ap.add_argument("--log", action="append", required=True)
    ap.add_argument("--sim-stats")
    ap.add_argument("--queued", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()
    mps, W = a.mps, a.window_s
    cap1, cap100 = mps, mps // 10 + 1

    sends, acks, per_log = [], [], []
    for p in a.log:
        s, k, sess = read_gw(p)
        per_log.append({"log": p, "submit_sm": len(s), "by_session": dict(sess)})
        sends += s
        acks += k
    sends.sort()
    acks.sort()
    r = {"mps": mps, "window_s": W, "queued": a.queued, "per_log": per_log,
         "submit_sm_total": len(sends)}
    if not sends:
        r["error"] = "no submit_sm lines"
        print(json.dumps(r))
        return 1
    t0 = sends[0]
    t1 = t0 + int(W * 1000)
    n = bisect.bisect_left(sends, t1)
    expected = W * mps
    r.update(t0_ms=t0, last_ms=sends[-1], sent_in_window=n, expected=expected,
             ratio=n / expected, run_span_s=(sends[-1] - t0) / 1000.0)
    # the run must outlast the window, or the count is short for a trivial reason
    r["window_complete"] = sends[-1] >= t1 - 1000
    # the backlog never ran dry if more were queued than sent by the end
    if a.queued:
        r["queue_left_at_stop"] = a.queued - len(sends)

    m1, at1 = max_in_window(sends, 1000)
    m100, at100 = max_in_window(sends, 100)
    r.update(max_1s=m1, max_1s_at_s=(sends[at1] - t0) / 1000.0, cap_1s=cap1,
             max_100ms=m100, max_100ms_at_s=(sends[at100] - t0) / 1000.0, cap_100ms=cap100)
    ex1, nex1 = excess_windows(sends, 1000, cap1)
    ex100, nex100 = excess_windows(sends, 100, cap100)
    r["excess_1s"] = [{"from_s": (x - t0) / 1000.0, "to_s": (y - t0) / 1000.0, "max": c}
                      for x, y, c in ex1]
    r["excess_1s_runs"] = nex1
    r["excess_100ms"] = [{"from_s": (x - t0) / 1000.0, "to_s": (y - t0) / 1000.0, "max": c}
                         for x, y, c in ex100]
    r["excess_100ms_runs"] = nex100

    # per whole second of the window (relative to t0)
    per_s = collections.Counter((t - t0) // 1000 for t in sends[:n])
    secs = [per_s.get(i, 0) for i in range(int(W))]
    r["per_second"] = secs
    r["per_second_min"] = min(secs) if secs else 0
    r["per_second_max"] = max(secs) if secs else 0
    # rate after the first second (start-up excluded)
    if W > 2:
        k1 = bisect.bisect_left(sends, t0 + 1000)
        r["ratio_after_1st_s"] = (n - k1) / ((W - 1) * mps)
    # how the sends are bunched: sends per distinct ms, and gaps
    same = collections.Counter(sends[:n])
    bunch = sorted(same.values())
    r["distinct_ms"] = len(bunch)
    r["sends_per_ms_p50"] = bunch[len(bunch) // 2]
    r["sends_per_ms_max"] = bunch[-1]
    gaps = [b - a_ for a_, b in zip(sends[:n], sends[1:n])]
    if gaps:
        gs = sorted(gaps)
        r["gap_ms_max"] = gs[-1]
        r["gaps_over_10ms"] = sum(1 for g in gaps if g > 10)
        r["gap_ms_p99"] = gs[int(len(gs) * 0.99)]
    # SMPP window in use: submit_sm sent minus resps handled (single-part messages)
    ev = sorted([(t, 1) for t in sends] + [(t, -1) for t in acks], key=lambda x: (x[0], -x[1]))
    cur = mx = 0
    for t, d in ev:
        cur += d
        if t < t1 and cur > mx:
            mx = cur
    r["max_outstanding"] = mx

    if a.sim_stats:
        pts = read_sim(a.sim_stats)
        if len(pts) >= 2:
            c0, c1 = interp(pts, t0), interp(pts, t1)
            rn = c1 - c0
            best = 0
            j = 0
            for i in range(len(pts)):
                while pts[i][0] - pts[j][0] > 1000:
                    j += 1
                best = max(best, pts[i][1] - pts[j][1])
            r["sim_in_window"] = round(rn)
            r["sim_ratio"] = rn / expected
            r["sim_max_1s_lower_bound"] = best
            r["sim_samples"] = len(pts)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f)
            f.write("\n")
    short = {k: v for k, v in r.items() if k != "per_second"}
    print(json.dumps(short))
    return 0


if __name__ == "__main__":
    sys.exit(main())
