#!/usr/bin/env python3
"""Compare two builds of the detector series by series on labelled corpora.

Runs `leakhound-corpus score --dir DIR --list all` with a base and a new binary (the new one
optionally with environment variables, for knobs under test) and prints every series whose
end-of-run or online verdict changed, then the changes counted per mode and class: false alarms
removed / added, leaks lost / found. Standard library only.

Build a base binary from another commit in a worktree, for example:

    git worktree add /tmp/basewt HEAD~1
    (cd /tmp/basewt && CARGO_TARGET_DIR=/tmp/basetarget cargo build --release -p leakhound-corpus)
    python3 crates/corpus/tools/compare.py --base /tmp/basetarget/release/leakhound-corpus \\
        --new target/release/leakhound-corpus /tmp/c101 /tmp/indep1 /tmp/mech1
"""

import argparse
import csv
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

LINE = re.compile(r"^\s*(\d+) (\S+)\s+leak=(\w+) .* end=(\S+) online=(\S+) at=(\S+)")


def verdicts(binary, d, env, extra=()):
    e = dict(os.environ)
    e.update(env)
    r = subprocess.run(
        [binary, "score", "--dir", d, "--list", "all", "--threads", "1", *extra],
        env=e, capture_output=True, text=True,
    )
    if r.returncode != 0:
        sys.exit(f"compare: {binary} failed on {d}: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        m = LINE.match(line)
        if m:
            out[int(m.group(1))] = m.groups()
    return out


def classes(d):
    with open(os.path.join(d, "labels.csv"), newline="") as f:
        return [row.get("class", "?") for row in csv.DictReader(f)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="leakhound-corpus binary of the base")
    ap.add_argument("--new", required=True, help="leakhound-corpus binary under test")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="environment for the new binary only (repeatable)")
    ap.add_argument("--with-load", action="store_true",
                    help="score both builds with each series' request counter (the files' "
                         "requests_total column) as a covariate")
    ap.add_argument("--jobs", type=int, default=2, help="corpora scored at once (default 2)")
    ap.add_argument("dirs", nargs="+", help="labelled corpus directories (labels.csv + series)")
    a = ap.parse_args()
    env = {}
    for kv in a.env:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"compare: --env {kv!r} is not K=V")
        env[k] = v

    def job(d):
        extra = ("--with-load",) if a.with_load else ()
        return d, classes(d), verdicts(a.base, d, {}, extra), verdicts(a.new, d, env, extra)

    # (mode, class) -> [false alarms removed, added, leaks lost, found]
    tally = {}
    with ThreadPoolExecutor(max(1, a.jobs)) as ex:
        for d, cls, base, new in ex.map(job, a.dirs):
            for i, b in sorted(base.items()):
                n = new.get(i)
                if n is None:
                    continue
                leak = b[2] == "true"
                c = cls[i] if i < len(cls) else "?"
                for mode, k in (("end", 3), ("online", 4)):
                    was, now = b[k] == "leak", n[k] == "leak"
                    if was == now:
                        continue
                    t = tally.setdefault((mode, c), [0, 0, 0, 0])
                    t[(3 if now else 2) if leak else (1 if now else 0)] += 1
                    print(f"{d} #{i} {b[1]} leak={leak} {mode}: {b[k]} -> {n[k]}"
                          f" (alarm {b[5]} -> {n[5]})")
    if not tally:
        print("no verdict changed")
    for (mode, c), t in sorted(tally.items()):
        print(f"{mode:6} {c:9}  false alarms -{t[0]} +{t[1]}   leaks -{t[2]} +{t[3]}")


if __name__ == "__main__":
    main()
