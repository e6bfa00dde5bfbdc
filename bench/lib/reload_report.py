"""Summarise one reload run of bench/reload.sh as a markdown table row.

usage: /usr/bin/python3 bench/lib/reload_report.py SERVER RECORDS.tsv HUP_TIMES FINAL_VERSION FINAL_CHECK

RECORDS.tsv comes from lib/loadgen.py; HUP_TIMES holds the monotonic time of
each reload signal, one a line; FINAL_CHECK is what the fresh requests made
after the run answered ("ok" when they all served FINAL_VERSION).
"""
import sys

server, records_path, hups_path, final, check = sys.argv[1:6]
recs = []
with open(records_path) as f:
    for line in f:
        t0, ms, ok, what = line.rstrip("\n").split("\t", 3)
        recs.append((float(t0), float(ms), ok == "1", what))
hups = [float(x) for x in open(hups_path).read().split()]
fails = [r for r in recs if not r[2]]
last = hups[-1]
# after the last reload signal: when did the new version first / the old one last answer?
after = [r for r in recs if r[0] >= last and r[2]]
first_new = min((r[0] + r[1] / 1000 for r in after if r[3] == final), default=None)
last_old = max((r[0] + r[1] / 1000 for r in after if r[3] != final), default=None)
lat = sorted(r[1] for r in recs)
reasons = sorted({r[3][:50] for r in fails})
print(f"| {server} | {len(recs)} | {len(fails)} | {lat[-1]:.1f} | {lat[int(len(lat) * 0.99) - 1]:.1f} "
      f"| {'n/a' if first_new is None else f'{first_new - last:.2f}'} "
      f"| {'—' if last_old is None else f'{last_old - last:.2f}'} | {check} |"
      + (f" {'; '.join(reasons)}" if reasons else ""))
