#!/usr/bin/env bash
# Benchmark of `leakhound diff` against `memlab find-leaks` on three large V8 snapshots (issue 7).
#
# Generates three snapshots with bench/heap-gen.js (ITEMS live Item objects ≈ 3 heap objects
# each, plus LEAK leaked Sessions per interval), then times parse + diff + retainer path of
# both tools with /usr/bin/time (wall seconds, peak RSS). Opt-in: nothing here runs in tests.
#
# Usage: bench/heap-bench.sh [ITEMS] [LEAK]        (default 900000 20000 → ~280 MB per file)
# Env:   OUT=/tmp/lh-heap-bench  MEMLAB=path/to/memlab (default: npm-installs memlab into $OUT)
#        LEAKHOUND=target/release/leakhound
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
items=${1:-900000}
leak=${2:-20000}
out=${OUT:-/tmp/lh-heap-bench}
lh=${LEAKHOUND:-$root/target/release/leakhound}
mkdir -p "$out"
if [ ! -x "$lh" ]; then (cd "$root" && cargo build --release -p leakhound); fi
if [ -z "${MEMLAB:-}" ]; then
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
  node --max-old-space-size=8192 "$root/bench/heap-gen.js" "$snaps" "$items" "$leak" >/dev/null
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
# memlab runs in its own directory: it writes a working directory under $HOME/.memlab or cwd.
ml_line=$(cd "$out" && measure memlab node --max-old-space-size=8192 "$MEMLAB" find-leaks \
  --baseline "$snaps/s1.heapsnapshot" --target "$snaps/s2.heapsnapshot" \
  --final "$snaps/s3.heapsnapshot" --trace-all-objects)
read -r _ lt lk lrc <<<"$lh_line"
read -r _ mt mk mrc <<<"$ml_line"
echo
echo "| tool | wall s | peak RSS MB | exit |"
echo "|---|---|---|---|"
echo "| leakhound diff | $lt | $((lk / 1024)) | $lrc |"
echo "| memlab find-leaks --trace-all-objects | $mt | $((mk / 1024)) | $mrc |"
awk -v lt="$lt" -v mt="$mt" -v lk="$lk" -v mk="$mk" \
  'BEGIN { printf "\nspeed-up: %.1fx   peak RSS ratio (leakhound/memlab): %.2f\n", mt/lt, lk/mk }'
echo
echo "leakhound top finding:"; sed -n '/^1\./,/^2\./p' "$out/out.leakhound" | head -8
