"""Turn the wrk results of one bench run into markdown tables.

usage: /usr/bin/python3 bench/lib/table.py RESULTS.tsv [TABLE] [--base SERVER]

Input lines (from lib/common.sh run_wrk):
  table scenario server round requests rps p99_ms max_ms non2xx connect read write timeout [user_us sys_us]
(user_us, sys_us: CPU time of the server's processes per request, when measured)
For each scenario: the median req/s and p99 over the rounds, the errors summed
over all rounds, and "trellis / X" = the median over rounds of the ratio
measured within the same round (the servers alternate inside a round, so each
ratio compares runs a few seconds apart). A server whose name starts with
"floor" (bench/floor/floor_server.c) also gets "floor / X" under the table:
the most any server could show against X on this machine.
With --base SERVER (bench/asgi.sh: uvicorn), the ratio columns compare every
server with SERVER instead: "req/s / SERVER" (median of the per-round
ratios) and "CPU / SERVER" (server CPU per request, user + sys, medians).
"""
import statistics
import sys
from collections import defaultdict


def load(path, only=None):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 13 or (only and p[0] != only):
                continue
            rows.append(dict(table=p[0], scenario=p[1], server=p[2], round=p[3],
                             requests=int(p[4]), rps=float(p[5]), p99=float(p[6]),
                             max=float(p[7]), non2xx=int(p[8]),
                             sock=tuple(int(x) for x in p[9:13]),
                             cpu=(float(p[13]), float(p[14])) if len(p) >= 15 else None))
    return rows


def round_ratios(per_round, a, b):
    """a's req/s over b's, in every round that ran both."""
    return [rd[a] / rd[b] for rd in per_round.values() if a in rd and b in rd and rd[b] > 0]


def describe(ratios):
    return f"{statistics.median(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})" if ratios else "n/a"


def render_base(rows, base):
    """Tables whose ratios are every server over `base`."""
    by_scn = defaultdict(list)
    for r in rows:
        by_scn[r["scenario"]].append(r)
    out = []
    for scn, rs in by_scn.items():
        servers = list(dict.fromkeys(r["server"] for r in rs))
        per_round = defaultdict(dict)
        for r in rs:
            per_round[r["round"]][r["server"]] = r["rps"]
        per_round = dict(sorted(per_round.items(), key=lambda kv: int(kv[0])))
        has_cpu = all(r["cpu"] for r in rs)

        def cpu(s):
            mine = [r for r in rs if r["server"] == s]
            return statistics.median(r["cpu"][0] + r["cpu"][1] for r in mine)
        out.append(f"**{scn}**\n")
        out.append(f"| server | req/s (median) | p99 ms (median) | max ms | non-2xx | socket errors c/r/w/t "
                   f"| req/s / {base} |" + (f" server CPU µs/request, user + sys (median) | CPU / {base} |" if has_cpu else ""))
        out.append("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if has_cpu else ""))
        for s in servers:
            mine = [r for r in rs if r["server"] == s]
            ratio = "—" if s == base or base not in servers else describe(round_ratios(per_round, s, base))
            line = (f"| {s} | {statistics.median(r['rps'] for r in mine):,.0f} "
                    f"| {statistics.median(r['p99'] for r in mine):.2f} "
                    f"| {max(r['max'] for r in mine):.1f} "
                    f"| {sum(r['non2xx'] for r in mine)} "
                    f"| {'/'.join(str(sum(r['sock'][i] for r in mine)) for i in range(4))} | {ratio} |")
            if has_cpu:
                cratio = "—" if s == base or base not in servers else f"{cpu(s) / cpu(base):.2f}x"
                line += (f" {statistics.median(r['cpu'][0] for r in mine):.1f} + "
                         f"{statistics.median(r['cpu'][1] for r in mine):.1f} | {cratio} |")
            out.append(line)
        out.append(f"\n(rounds: {len(per_round)}; errors summed over all rounds; socket errors = wrk's connect/read/write/timeout counters)\n")
    return "\n".join(out)


def render(rows):
    by_scn = defaultdict(list)
    for r in rows:
        by_scn[r["scenario"]].append(r)
    out = []
    for scn, rs in by_scn.items():
        servers = list(dict.fromkeys(r["server"] for r in rs))
        ref = next(s for s in servers if "trellis" in s)
        per_round = defaultdict(dict)
        for r in rs:
            per_round[r["round"]][r["server"]] = r["rps"]
        per_round = dict(sorted(per_round.items(), key=lambda kv: int(kv[0])))
        has_cpu = all(r["cpu"] for r in rs)
        out.append(f"**{scn}**\n")
        out.append("| server | req/s (median) | p99 ms (median) | max ms | non-2xx | socket errors c/r/w/t | trellis / server |"
                   + (" server CPU µs/request, user + sys (median) |" if has_cpu else ""))
        out.append("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if has_cpu else ""))
        for s in servers:
            mine = [r for r in rs if r["server"] == s]
            ratio = "—" if s == ref else describe(round_ratios(per_round, ref, s))
            out.append(f"| {s} | {statistics.median(r['rps'] for r in mine):,.0f} "
                       f"| {statistics.median(r['p99'] for r in mine):.2f} "
                       f"| {max(r['max'] for r in mine):.1f} "
                       f"| {sum(r['non2xx'] for r in mine)} "
                       f"| {'/'.join(str(sum(r['sock'][i] for r in mine)) for i in range(4))} | {ratio} |"
                       + (f" {statistics.median(r['cpu'][0] for r in mine):.1f} + "
                          f"{statistics.median(r['cpu'][1] for r in mine):.1f} |" if has_cpu else ""))
        out.append(f"\n(rounds: {len(per_round)}; errors summed over all rounds; socket errors = wrk's connect/read/write/timeout counters)\n")
        floor = next((s for s in servers if s.startswith("floor")), None)
        if floor:
            others = [s for s in servers if s not in (floor, ref)]
            out.append("The floor (no parsing, no application) against the others, same rounds: "
                       + "; ".join(f"floor / {s}: {describe(round_ratios(per_round, floor, s))}" for s in others)
                       + "\n")
    return "\n".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    base = None
    if "--base" in args:
        i = args.index("--base")
        base = args[i + 1]
        del args[i:i + 2]
    rows = load(args[0], args[1] if len(args) > 1 else None)
    print(render_base(rows, base) if base else render(rows))
