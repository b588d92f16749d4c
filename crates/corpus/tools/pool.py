#!/usr/bin/env python3
"""Pool the scorer's figures over several labelled corpora.

Runs `leakhound-corpus score --dir DIR --families` on each directory and adds up leaks found
and false alarms per mode and class, and alarms per family, so that figures over several seeds
are one table rather than an average of rates. Standard library only.

    python3 crates/corpus/tools/pool.py target/release/leakhound-corpus /tmp/indep1 /tmp/indep2
"""

import argparse
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

MODE = re.compile(r"^(end-of-run|online)\s+(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%")
FAMILY = re.compile(r"^(\w+)\s+(\d+)\s+(yes|no) \|\s+([\d.]+)%\s+\d+ \|\s+([\d.]+)%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", help="leakhound-corpus binary")
    ap.add_argument("dirs", nargs="+", help="labelled corpus directories")
    ap.add_argument("--jobs", type=int, default=2, help="corpora scored at once (default 2)")
    a = ap.parse_args()

    def run(d):
        r = subprocess.run([a.binary, "score", "--dir", d, "--families", "--threads", "1"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"pool: {a.binary} failed on {d}: {r.stderr.strip()}")
        return r.stdout

    totals = {}   # (mode, class) -> [leaks, found, healthy, false alarms]
    families = {}  # family -> [series, leak?, end alarms, online alarms]
    with ThreadPoolExecutor(max(1, a.jobs)) as ex:
        for out in ex.map(run, a.dirs):
            for line in out.splitlines():
                m = MODE.match(line)
                if m:
                    mode, cls, leaks, ok, rec, fpr = m.groups()
                    leaks, ok = int(leaks), int(ok)
                    t = totals.setdefault((mode, cls), [0, 0, 0, 0])
                    t[0] += leaks
                    t[1] += round(float(rec) * leaks / 100)
                    t[2] += ok
                    t[3] += round(float(fpr) * ok / 100)
                    continue
                m = FAMILY.match(line)
                if m:
                    f, n, leak, end, onl = m.groups()
                    n = int(n)
                    fam = families.setdefault(f, [0, leak, 0, 0])
                    fam[0] += n
                    fam[2] += round(float(end) * n / 100)
                    fam[3] += round(float(onl) * n / 100)
    for (mode, cls), t in sorted(totals.items()):
        print(f"{mode:11} {cls:10} recall {100 * t[1] / max(t[0], 1):5.1f} % ({t[1]}/{t[0]})"
              f"   FPR {100 * t[3] / max(t[2], 1):5.1f} % ({t[3]}/{t[2]})")
    print()
    print(f"{'family':30} {'series':>6} leak {'end alarms':>10} {'online alarms':>13}")
    for f, (n, leak, end, onl) in sorted(families.items(), key=lambda kv: (kv[1][1], -kv[1][3])):
        print(f"{f:30} {n:6} {leak:>4} {end:10} {onl:13}")


if __name__ == "__main__":
    main()
