#!/usr/bin/env bash
# Time `leakhound analyze` on a day of 1-second samples (86,400 points), end of run and online.
# Usage: bench/analyze-bench.sh            (builds the release binary first)
# Prints hyperfine's table; the issue's targets: end of run well under 1 s, online a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p leakhound
bin=target/release/leakhound
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import math, random, sys
random.seed(7)
d = sys.argv[1]
# A day of 1 s samples: JVM-like sawtooth on a 1 GB base with a slow leak starting at 6 h,
# and a flat control series.
with open(f"{d}/day-leak.csv", "w") as f:
    f.write("t_seconds,heap_bytes\n")
    saw = 0.0
    for i in range(86400):
        saw += 2e5 + random.random() * 1e5
        if saw > 3e8:
            saw = 0.0
        leak = max(0.0, i - 21600) * 2000.0  # 2 kB/s from 6 h: +130 MB (~10 % of base) by 24 h
        f.write(f"{i},{1e9 + saw + leak + random.gauss(0, 2e6):.0f}\n")
with open(f"{d}/day-flat.csv", "w") as f:
    f.write("t_seconds,rss_bytes\n")
    for i in range(86400):
        f.write(f"{i},{5e8 + 1e7 * math.sin(i / 3600.0) + random.gauss(0, 1e6):.0f}\n")
PY
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install -y hyperfine"; exit 2; }
# Exit code 1 (leak found) is the expected outcome of the leak file.
hyperfine -N --warmup 1 --runs 10 -i \
  -n "end of run, leak" "$bin analyze $work/day-leak.csv" \
  -n "online, leak" "$bin analyze --online $work/day-leak.csv" \
  -n "end of run, flat" "$bin analyze $work/day-flat.csv" \
  -n "online, flat" "$bin analyze --online $work/day-flat.csv"
for f in day-leak day-flat; do
  echo "== $f"; $bin analyze --json "$work/$f.csv" || true; $bin analyze --online --json "$work/$f.csv" || true
done
