#!/usr/bin/env bash
# Time the detector on whole 300-series corpora (both modes), against the issue's budget of 5 s
# on 2 cores, and beside the textbook Mann-Kendall yardstick on the same series.
#
# Usage: bench/detect-bench.sh [RUNS] [SEED ...]     (default: 3 runs of seeds 101 202 303)
#
# For each seed: the corpus as generated (the time the scorer reports for analysis alone, not
# for generating the series), then with its request counters (`--with-load`: memory that
# follows load is fitted and taken out at every online checkpoint). Prints the median and range
# of the runs, the share of the 5 s budget, and the ratio to the Mann-Kendall yardstick (a
# trend test on bin minima, both modes: what the detector costs over the textbook test).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(101 202 303)
cargo build --release -q -p leakhound-corpus
bin=target/release/leakhound-corpus
echo "$(nproc) cores here; the scorer uses 2 threads (the budget's machine)"
printf '%-6s %-12s %10s %14s %8s %10s\n' seed mode median range budget vs-MK
for seed in "${seeds[@]}"; do
  for mode in plain with-load; do
    extra=()
    [ "$mode" = with-load ] && extra=(--with-load)
    times=()
    for _ in $(seq "$runs"); do
      line=$("$bin" score --seed "$seed" --n 300 --threads 2 "${extra[@]}" | head -1)
      times+=("$(sed -E 's/.*analysed \(both modes\) in ([0-9.]+) s.*/\1/' <<<"$line")")
    done
    mk=$("$bin" score --seed "$seed" --n 300 --threads 2 --baseline mann-kendall | head -1 |
      sed -E 's/.*analysed \(both modes\) in ([0-9.]+) s.*/\1/')
    python3 - "$seed" "$mode" "$mk" "${times[@]}" <<'PY'
import statistics, sys
seed, mode, mk = sys.argv[1], sys.argv[2], float(sys.argv[3])
t = [float(x) for x in sys.argv[4:]]
med = statistics.median(t)
ratio = f"{med / mk:.0f}x" if mk > 0 else "-"
print(f"{seed:<6} {mode:<12} {med:9.2f}s {min(t):6.2f}-{max(t):.2f}s {med / 5.0:7.0%} {ratio:>10}")
PY
  done
done
