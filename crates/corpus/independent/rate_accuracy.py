#!/usr/bin/env python3
"""How close `leakhound analyze` comes to a leak's own rate, per family, on corpora written by
gen.py (their files carry the true leak in a `leak_part` column).

For every linear leak judged a leak at the end of the run, the error is |ln(reported / true)|
(true: the leak part's rise over the series' span); a family's line gives the median and 90th
percentile of that error and how many 95 % intervals hold the true rate.

    python3 crates/corpus/independent/rate_accuracy.py --bin target/release/leakhound /tmp/indep1 ...
"""
import argparse
import csv
import json
import math
import os
import subprocess
import tempfile
from collections import defaultdict

# Families whose leak grows linearly in time, so one rate describes it.
LINEAR = (
    "mem_leak_linear_noise", "mem_leak_under_warmup", "mem_leak_gc_jvm", "mem_leak_gc_go",
    "mem_leak_gc_node", "mem_leak_slow_in_sawtooth", "mem_leak_heavy_noise_gaps",
    "res_leak_linear",
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/leakhound")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    fam = defaultdict(lambda: {"err": [], "cov": 0})
    with tempfile.TemporaryDirectory() as tmp:
        for d in a.dirs:
            labels = {r["file"]: r for r in csv.DictReader(open(os.path.join(d, "labels.csv")))}
            for name, lab in sorted(labels.items()):
                if lab["family"] not in LINEAR:
                    continue
                rows = list(csv.reader(open(os.path.join(d, name))))
                head = rows[0]
                li = head.index("leak_part")
                data = [(float(r[0]), r[1], float(r[li])) for r in rows[1:] if r[1] != ""]
                true = (data[-1][2] - data[0][2]) / (data[-1][0] - data[0][0])
                if true <= 0:
                    continue
                # The series alone (the leak part would be judged as a second series).
                f = os.path.join(tmp, name)
                with open(f, "w") as o:
                    o.write(f"t_seconds,{head[1]}\n")
                    o.writelines(f"{t},{v}\n" for t, v, _ in data)
                out = subprocess.run([a.bin, "analyze", "--json", f], capture_output=True, text=True)
                j = json.loads(out.stdout.splitlines()[0])
                if j["verdict"] != "leak" or not j["rate_per_s"] or j["rate_per_s"] <= 0:
                    continue
                s = fam[lab["family"]]
                s["err"].append(abs(math.log(j["rate_per_s"] / true)))
                ci = j["rate_ci95"]
                s["cov"] += bool(ci and ci[0] <= true <= ci[1])
    print(f"{'family':26} {'leaks':>5} {'med |ln err|':>12} {'p90':>6} {'in 95 % CI':>10}")
    for name in sorted(fam):
        e = sorted(fam[name]["err"])
        q = lambda p: e[int(p * (len(e) - 1))]
        print(f"{name:26} {len(e):5} {q(0.5):12.3f} {q(0.9):6.3f} {fam[name]['cov']:10}")


if __name__ == "__main__":
    main()
