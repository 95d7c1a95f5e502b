#!/usr/bin/env python3
"""Prints the performance issue's targets for clawherd from a peer-bench results JSON.

    scripts/bench-summary.py .bench/results-....json

Targets (figures from one run only; peer-bench medians):
  restart after SIGKILL (N=1, 'normal' kills)   median <= 1.5x bash-loop's
  RSS of clawherd with 2 children                <= 4 MiB and below runit's total (runsvdir + runsv's)
  idle CPU, 10 children, 30 s                    0 ticks (utime+stime)
  start-up of 50 (launch -> 50th child running)  median <= 1.2x bash-loop's
  shutdown of 50 (stop signal -> all gone)       median <= s6's
Exit status 0 whatever the outcome (2 if the file cannot be read). Standard library only.
"""
import json
import os
import sys

OURS = "clawherd"


def find(sups, name):
    """The entry of a supervisor given by name or by a plugin path ending in <name>.sh."""
    for key, val in sups.items():
        if key == name or os.path.basename(key) in (name, name + ".sh"):
            return val
    return None


def dig(d, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def fmt(x, unit):
    if x is None:
        return "n/a"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.1f} {unit}" if abs(x) >= 10 else f"{x:.2f} {unit}"
    return f"{int(x)} {unit}"


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1]) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench-summary: cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    sups = data.get("sups", {})
    ours = find(sups, OURS) or {}
    bash, runit, s6 = (find(sups, n) or {} for n in ("bash-loop", "runit", "s6"))
    rows, notes = [], []

    def row(target, mine, peer_label, peer, unit, ok, ratio=None):
        if ratio is None and mine is not None and peer not in (None, 0):
            ratio = mine / peer
        if mine is None or (peer is None and peer_label != "-"):
            verdict = "N/A"
        else:
            verdict = "PASS" if ok(mine, peer) else "MISS"
        rows.append((target, fmt(mine, unit), f"{peer_label} {fmt(peer, unit)}" if peer_label != "-" else "-",
                     "-" if ratio is None else f"{ratio:.2f}x", verdict))

    for mode in ("default", "fast"):
        r = dig(ours, f"restart_{mode}")
        if r is None and mode == "fast":
            continue
        mine = dig(r, "normal", "median")
        peer = dig(bash, "restart_default", "normal", "median")
        # a kill with no new child (timeout) is a miss whatever the median of the others
        lost = bool((r or {}).get("errors")) or None in (r or {}).get("normal_ms", [])
        row(f"restart after SIGKILL ({mode} config), median <= 1.5x bash-loop", mine, "bash-loop", peer, "ms",
            lambda m, p: m <= 1.5 * p and not lost)
        if lost:
            rows[-1] = (rows[-1][0], rows[-1][1] + " + timeout", *rows[-1][2:])
        if r and r.get("errors"):
            notes.append(f"restart ({mode}): {'; '.join(r['errors'])}")
        if r and "error" in r:
            notes.append(f"restart ({mode}): {r['error']}")
        if r:
            notes.append(f"restart ({mode}) clawherd samples ms: normal {r.get('normal_ms')}, rapid {r.get('rapid_ms')}")

    rss = dig(ours, "mem2", "rss_kib")
    row("RSS with 2 children <= 4 MiB", rss, "limit", 4096, "KiB", lambda m, p: m <= p)
    row("RSS with 2 children < runit's total", rss, "runit", dig(runit, "mem2", "rss_kib"), "KiB", lambda m, p: m < p)
    m2 = ours.get("mem2") or {}
    if m2:
        notes.append(f"mem2 clawherd: PSS {m2.get('pss_kib')} KiB, {m2.get('nprocs')} process(es), "
                     f"{m2.get('threads')} thread(s); runit PSS {dig(runit, 'mem2', 'pss_kib')} KiB")

    idle = ours.get("idle") or {}
    row("idle CPU, 10 children, 30 s = 0 ticks", idle.get("cpu_ms"), "-", None, "ms",
        lambda m, p: m == 0)
    if idle:
        secs = idle.get("seconds")
        notes.append(f"idle clawherd: ticks per 10-s window {idle.get('window_cpu_ms')} ms, schedstat "
                     f"{idle.get('sched_ms')} ms (windows {idle.get('window_sched_ms')}); s6 schedstat "
                     f"{dig(s6, 'idle', 'sched_ms')} ms, runit {dig(runit, 'idle', 'sched_ms')} ms"
                     + ("" if secs == 30 else f"; WINDOW WAS {secs} s, not 30 s"))

    up = dig(ours, "startstop", "startup_stats", "median")
    row("start-up of 50, median <= 1.2x bash-loop", up, "bash-loop",
        dig(bash, "startstop", "startup_stats", "median"), "ms", lambda m, p: m <= 1.2 * p)
    down = dig(ours, "startstop", "shutdown_stats", "median")
    row("shutdown of 50, median <= s6", down, "s6", dig(s6, "startstop", "shutdown_stats", "median"), "ms",
        lambda m, p: m <= p)
    ss = ours.get("startstop") or {}
    if ss:
        notes.append(f"startstop clawherd: start-up ms {ss.get('startup_ms')}, shutdown ms {ss.get('shutdown_ms')}, "
                     f"RSS @50 KiB {ss.get('rss_kib')}")
        if ss.get("errors"):
            notes.append(f"startstop errors: {'; '.join(ss['errors'])}")

    head = ("target", "clawherd", "peer / limit", "ratio", "result")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(f"clawherd performance targets ({data.get('date')}, `{data.get('command')}`, "
          f"{dig(data, 'env', 'ncpu')} CPUs, wall {data.get('wall_s', 0):.0f} s)")
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    misses = [r[0] for r in rows if r[4] == "MISS"]
    na = [r[0] for r in rows if r[4] == "N/A"]
    print(f"\n{len(rows) - len(misses) - len(na)} pass, {len(misses)} miss, {len(na)} n/a"
          + (" (a peer was skipped or a test failed)" if na else ""))
    skipped = {k: v["skipped"] for k, v in sups.items() if "skipped" in v}
    if skipped:
        notes.append(f"skipped: {skipped}")
    if "--quick" in str(data.get("command", "")):
        notes.append("--quick run: few repetitions and a 3 s idle window; not conclusive")
    for n in notes:
        print(f"  - {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
