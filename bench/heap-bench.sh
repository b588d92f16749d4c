#!/usr/bin/env bash
# Benchmark of `leakhound diff` against `memlab find-leaks` on three large V8 snapshots (issue 7).
#
# Generates three snapshots with bench/heap-gen.js (ITEMS live Item objects ≈ 3 heap objects
# each, plus LEAK leaked Sessions per interval), then times parse + diff + retainer path of
# both tools with /usr/bin/time (wall seconds, peak RSS). Opt-in: nothing here runs in tests.
#
# Usage: bench/heap-bench.sh [ITEMS] [LEAK]        (default 900000 20000 → ~300-350 MB per file)
#        ~1 GB files: 3000000 60000 (node needs ~9 GB to write them); ~2 GB: 5500000 100000 (~16 GB)
# Env:   OUT=/tmp/lh-heap-bench  MEMLAB=path/to/memlab (default: npm-installs memlab into $OUT)
#        LEAKHOUND=target/release/leakhound
#        NO_MEMLAB=1        leakhound only (memlab does not finish on ~1 GB / ~2 GB snapshots)
#        MEMLAB_TIMEOUT=900 seconds before memlab is stopped (reported as exit 124)
#        CLEAN=1            delete the generated snapshots afterwards (they take 1-6 GB)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
items=${1:-900000}
leak=${2:-20000}
out=${OUT:-/tmp/lh-heap-bench}
lh=${LEAKHOUND:-$root/target/release/leakhound}
mkdir -p "$out"
if [ ! -x "$lh" ]; then (cd "$root" && cargo build --release -p leakhound); fi
if [ -z "${MEMLAB:-}" ] && [ -z "${NO_MEMLAB:-}" ]; then
  if [ ! -x "$out/memlab/node_modules/.bin/memlab" ]; then
    mkdir -p "$out/memlab"
    (cd "$out/memlab" && PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 \
      npm install --no-audit --no-fund memlab >/dev/null)
  fi
  MEMLAB=$out/memlab/node_modules/.bin/memlab
fi
snaps=$out/snaps-$items-$leak
if [ ! -f "$snaps/s3.heapsnapshot" ]; then
  mkdir -p "$snaps"
  echo "generating 3 snapshots ($items items, $leak leaked sessions per interval) ..."
  node --max-old-space-size=20000 "$root/bench/heap-gen.js" "$snaps" "$items" "$leak" >/dev/null
fi
ls -l "$snaps"/s?.heapsnapshot | awk '{printf "  %s %.0f MB\n", $NF, $5/1e6}'

measure() { # name, command... → "name seconds kb exit"
  local name=$1; shift
  local t=$out/time.$name
  set +e
  /usr/bin/time -f "%e %M" -o "$t" "$@" > "$out/out.$name" 2>&1
  local rc=$?
  set -e
  read -r secs kb < <(tail -1 "$t")
  echo "$name $secs $kb $rc"
}
lh_line=$(measure leakhound "$lh" diff --top 5 "$snaps/s1.heapsnapshot" "$snaps/s2.heapsnapshot" "$snaps/s3.heapsnapshot")
read -r _ lt lk lrc <<<"$lh_line"
largest=$(stat -c %s "$snaps/s3.heapsnapshot")
echo
echo "| tool | largest file MB | wall s | peak RSS MB | RSS / largest file | exit |"
echo "|---|---|---|---|---|---|"
awk -v t="$lt" -v k="$lk" -v f="$largest" -v rc="$lrc" 'BEGIN {
  printf "| leakhound diff | %.0f | %s | %.0f | %.2f | %s |\n", f/1e6, t, k*1024/1e6, k*1024/f, rc }'
if [ -z "${NO_MEMLAB:-}" ]; then
  # memlab runs in its own directory: it writes a working directory under $HOME/.memlab or cwd.
  ml_line=$(cd "$out" && measure memlab timeout "${MEMLAB_TIMEOUT:-1800}" \
    node --max-old-space-size=16384 "$MEMLAB" find-leaks \
    --baseline "$snaps/s1.heapsnapshot" --target "$snaps/s2.heapsnapshot" \
    --final "$snaps/s3.heapsnapshot" --trace-all-objects)
  read -r _ mt mk mrc <<<"$ml_line"
  awk -v t="$mt" -v k="$mk" -v f="$largest" -v rc="$mrc" 'BEGIN {
    printf "| memlab find-leaks --trace-all-objects | %.0f | %s | %.0f | %.2f | %s |\n", f/1e6, t, k*1024/1e6, k*1024/f, rc }'
  awk -v lt="$lt" -v mt="$mt" -v lk="$lk" -v mk="$mk" \
    'BEGIN { printf "\nspeed-up: %.1fx   peak RSS ratio (leakhound/memlab): %.2f\n", mt/lt, lk/mk }'
fi
echo
echo "leakhound top finding:"; sed -n '/^1\./,/^2\./p' "$out/out.leakhound" | head -8
if [ -n "${CLEAN:-}" ]; then rm -rf "$snaps"; fi
