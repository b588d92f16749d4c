#!/usr/bin/env python3
"""Warm-ups in two stages, a shape neither corpus generator writes, judged by `leakhound analyze`.

A service often warms up twice: a JIT or its pools within minutes, then caches over tens of
minutes. Once the fast stage is over, the slow one rises almost in a line for a while, which is
what a leak on top of a finished warm-up looks like. The script writes N healthy two-stage
warm-ups (fast stage tau 30-300 s, slow stage 5-120 min, each 10-60 % of the base) and N leaks
of 5-40 % under one slow warm-up (5-120 min), 1-12 h sampled every 5-30 s in 0.1-1 % noise,
then prints how many of each one or more binaries call a leak, online and at the end of the run.

    python3 crates/corpus/independent/two_stage.py --bin target/release/leakhound [--bin OTHER] [--n 40]

Deterministic from --seed; writes to a temporary directory unless --out is given.
"""
import argparse
import json
import math
import os
import random
import subprocess
import tempfile

MIB = 1024.0 * 1024.0


def write(out, n, seed):
    r = random.Random(seed)
    files = []
    for k in range(2 * n):
        length = r.uniform(1, 12) * 3600
        dt = r.choice([5, 10, 15, 30])
        base = r.uniform(200, 4000) * MIB
        a1, t1 = base * r.uniform(0.1, 0.6), r.uniform(30, 300)
        a2, t2 = base * r.uniform(0.1, 0.6), r.uniform(5, 120) * 60
        leak = k % 2 == 1
        g = r.uniform(0.05, 0.4) * base if leak else 0.0
        noise = r.uniform(0.001, 0.01)
        kind = "leak" if leak else "two_stage"
        name = os.path.join(out, f"{k:03d}_{kind}.csv")
        with open(name, "w") as f:
            f.write("t_seconds,rss_bytes\n")
            for i in range(int(length / dt)):
                t = i * dt
                slow = a2 * (1 - math.exp(-t / t2))
                if leak:
                    v = base + slow + g * t / length
                else:
                    v = base + a1 * (1 - math.exp(-t / t1)) + slow
                f.write(f"{t},{v * (1 + noise * r.gauss(0, 1)):.0f}\n")
        files.append((kind, name))
    return files


def leaks(binary, files, online):
    args = [binary, "analyze", "--json"] + (["--online"] if online else [])
    out = subprocess.run(args + [f for _, f in files], capture_output=True, text=True).stdout
    verdict = {}
    for line in out.splitlines():
        j = json.loads(line)
        if "file" in j and "verdict" in j:
            verdict[j["file"]] = j["verdict"]
    count = {"two_stage": 0, "leak": 0}
    for kind, f in files:
        count[kind] += verdict.get(f) == "leak"
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", default=[])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out")
    a = ap.parse_args()
    bins = a.bin or ["target/release/leakhound"]
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or tmp
        os.makedirs(out, exist_ok=True)
        files = write(out, a.n, a.seed)
        print(f"{a.n} two-stage warm-ups (no leak), {a.n} leaks under a slow warm-up; leak verdicts:")
        for b in bins:
            for online in (False, True):
                c = leaks(b, files, online)
                mode = "online" if online else "end of run"
                print(f"  {b} ({mode}): two-stage {c['two_stage']}/{a.n}, leaks {c['leak']}/{a.n}")


if __name__ == "__main__":
    main()
