#!/usr/bin/env python3
"""Noise-free timelines: what a heap site's live bytes look like in the agent's exact mode.

Neither corpus generator writes series that never fall: RSS moves both ways by a page or more
between scrapes. A heap site's live bytes (or a count of objects created and never destroyed)
does not, and the detector judges such windows without a serial-correlation correction and
weighs a warm-up's shape exactly (see `policy::noise_free` in the detect crate). The script
writes five labelled corpora, in the format `leakhound-corpus score --dir` reads:

  pauses/      400 leaks: a steady rise whose rate drops (to 0-2 x) for up to three stretches
               (the program descheduled, busy elsewhere), 20-120 snapshots ~50 ms apart.
  under_warm/  300 leaks: an exponential warm-up (tau 5-30 % of the window, 20-200 % of the
               base) with a line under it adding 5-100 % of the base, 30-400 snapshots.
  shapes/      600 healthy: exponential warm-ups, log, sqrt, hyperbolic growth, a cache filling
               linearly to its cap, one to three steps; 20-400 snapshots, rounded to 4 KiB.
  warm_jitter/ 280 healthy: exponential warm-ups watched for 1-8 time constants, snapshot
               times jittered by +-20 % (progress follows the index, not the clock).
  warm_exact/  the same 280 on an exact 50 ms clock.

    python3 crates/corpus/independent/noise_free.py --out /tmp/nf
    ./target/release/leakhound-corpus score --dir /tmp/nf/pauses --families

Deterministic: each corpus has its own fixed seed.
"""
import argparse
import math
import os
import random

HEADER = "file,family,class,unit,leak,onset_s,base,interval_s,samples,length_s"


def pauses(out):
    r = random.Random(5)
    rows = [HEADER]
    for k in range(400):
        n = r.choice([20, 25, 30, 40, 47, 60, 80, 120])
        base = r.uniform(0, 2e6)
        step = r.uniform(1e3, 1e5)
        mult = [1.0] * n
        for _ in range(r.randint(0, 3)):
            a = r.randint(0, n - 1)
            length = r.randint(1, max(1, n // 4))
            m = r.choice([0, 0.2, 0.5, 1.5, 2])
            for i in range(a, min(n, a + length)):
                mult[i] = m
        v, t = base, 0.0
        name = f"{k:04d}_h.csv"
        with open(os.path.join(out, name), "w") as f:
            f.write("t_seconds,value\n")
            for i in range(n):
                f.write(f"{t:.3f},{int(v)}\n")
                t += 0.05 * r.uniform(0.8, 1.2)
                v += step * mult[i]
        rows.append(f"{name},leak_linear,memory,bytes,true,0,{max(base, 1)},0.05,{n},{t}")
    return rows


def under_warm(out):
    r = random.Random(21)
    rows = [HEADER]
    for k in range(300):
        n = r.choice([30, 40, 60, 80, 120, 200, 400])
        base = r.uniform(1e5, 2e6)
        amp = base * r.uniform(0.2, 2.0)
        tau = r.uniform(0.05, 0.3)
        leak = base * r.uniform(0.05, 1.0)
        name, t = f"{k:04d}_wl.csv", 0.0
        with open(os.path.join(out, name), "w") as f:
            f.write("t_seconds,value\n")
            for i in range(n):
                x = i / (n - 1)
                v = math.floor((base + amp * (1 - math.exp(-x / tau)) + leak * x) / 4096) * 4096
                f.write(f"{t:.3f},{int(v)}\n")
                t += 0.05 * r.uniform(0.8, 1.2)
        rows.append(f"{name},leak_under_warmup,memory,bytes,true,0,{base},0.05,{n},{t}")
    return rows


def shapes(out):
    r = random.Random(11)
    rows = [HEADER]
    fams = ["warm_exp", "log", "sqrt", "hyper", "capped", "steps"]
    for k in range(600):
        fam = fams[k % len(fams)]
        n = r.choice([20, 25, 30, 40, 47, 60, 80, 120, 200, 400])
        base = r.uniform(1e5, 2e6)
        amp = base * r.uniform(0.05, 2.0)
        tau = r.uniform(0.1, 0.6)
        cap_at = r.uniform(0.1, 0.8)
        nsteps = r.randint(1, 3)
        st = sorted(r.random() for _ in range(nsteps))
        t, name = 0.0, f"{k:04d}_{fam}.csv"
        with open(os.path.join(out, name), "w") as f:
            f.write("t_seconds,value\n")
            for i in range(n):
                x = i / (n - 1)
                if fam == "warm_exp":
                    g = 1 - math.exp(-x / tau)
                elif fam == "log":
                    g = math.log1p(x / tau * 10) / math.log1p(10 / tau)
                elif fam == "sqrt":
                    g = math.sqrt(x)
                elif fam == "hyper":
                    g = (x / (x + tau)) * (1 + tau)
                elif fam == "capped":
                    g = min(x / cap_at, 1.0)
                else:
                    g = sum(1 for s in st if x >= s) / nsteps
                v = math.floor((base + amp * g) / 4096) * 4096
                f.write(f"{t:.3f},{int(v)}\n")
                t += 0.05 * r.uniform(0.8, 1.2)
        rows.append(f"{name},{fam},memory,bytes,false,,{base},0.05,{n},{t}")
    return rows


def warm(out, jitter):
    r = random.Random(3)
    rows = [HEADER]
    k = 0
    for ratio in [1, 2, 3, 4, 5, 6, 8]:
        for n in [30, 60, 120, 400]:
            for _ in range(10):
                base = r.uniform(1e5, 2e6)
                amp = base * r.uniform(0.05, 2.0)
                fam = f"exp_w{ratio}"
                name, t = f"{k:04d}_{fam}.csv", 0.0
                with open(os.path.join(out, name), "w") as f:
                    f.write("t_seconds,value\n")
                    for i in range(n):
                        x = i / (n - 1) * ratio
                        v = math.floor((base + amp * (1 - math.exp(-x))) / 4096) * 4096
                        f.write(f"{t:.3f},{int(v)}\n")
                        t += 0.05 * (r.uniform(0.8, 1.2) if jitter else 1.0)
                rows.append(f"{name},{fam},memory,bytes,false,,{base},0.05,{n},{t}")
                k += 1
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory to write the five corpora under")
    a = ap.parse_args()
    for sub, make in [
        ("pauses", pauses),
        ("under_warm", under_warm),
        ("shapes", shapes),
        ("warm_jitter", lambda d: warm(d, True)),
        ("warm_exact", lambda d: warm(d, False)),
    ]:
        d = os.path.join(a.out, sub)
        os.makedirs(d, exist_ok=True)
        rows = make(d)
        with open(os.path.join(d, "labels.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        print(f"{d}: {len(rows) - 1} series")


if __name__ == "__main__":
    main()
