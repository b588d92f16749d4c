#!/usr/bin/env bash
# HPROF benchmark (issue 7): a Java process with ITEMS live objects (bench/HprofGen.java) is
# dumped three times with `jcmd GC.heap_dump`, LEAK leaked sessions added before each dump.
# Times (wall s, peak RSS via /usr/bin/time) of: reading the largest dump + dominators +
# retained sizes (the `heapstat` example of leakhound-heap), and `leakhound diff` of all three.
# Opt-in: nothing here runs in tests.
#
# Usage: bench/hprof-bench.sh [ITEMS] [LEAK]     (default 180000 10000 → ~60-80 MB dumps)
# Env:   OUT=/tmp/lh-hprof-bench  LEAKHOUND=target/release/leakhound
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
items=${1:-180000}
leak=${2:-10000}
out=${OUT:-/tmp/lh-hprof-bench}
lh=${LEAKHOUND:-$root/target/release/leakhound}
mkdir -p "$out"
(cd "$root" && cargo build --release -q -p leakhound-heap --example heapstat)
if [ ! -x "$lh" ]; then (cd "$root" && cargo build --release -q -p leakhound); fi
heapstat=$root/target/release/examples/heapstat
dumps=$out/dumps-$items-$leak
if [ ! -f "$dumps/s3.hprof" ]; then
  mkdir -p "$dumps/classes"
  javac -d "$dumps/classes" "$root/bench/HprofGen.java"
  rm -f "$dumps/in" && mkfifo "$dumps/in"
  java -Xmx2g -cp "$dumps/classes" HprofGen "$items" "$leak" < "$dumps/in" > "$dumps/log" &
  jpid=$!
  exec 3> "$dumps/in"
  for _ in $(seq 600); do grep -q ready "$dumps/log" 2>/dev/null && break; sleep 0.1; done
  for s in 1 2 3; do
    echo leak >&3
    for _ in $(seq 600); do [ "$(grep -c ok "$dumps/log")" -ge "$s" ] && break; sleep 0.1; done
    rm -f "$dumps/s$s.hprof"
    jcmd "$jpid" GC.heap_dump "$dumps/s$s.hprof" >/dev/null
  done
  exec 3>&-
  wait "$jpid" || true
fi
ls -l "$dumps"/s?.hprof | awk '{printf "  %s %.1f MB\n", $NF, $5/1e6}'

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
size3=$(stat -c %s "$dumps/s3.hprof")
read -r _ st sk src < <(measure heapstat "$heapstat" "$dumps/s3.hprof")
read -r _ dt dk drc < <(measure diff "$lh" diff --top 5 "$dumps/s1.hprof" "$dumps/s2.hprof" "$dumps/s3.hprof")
echo
echo "| workload | dump MB | wall s | peak RSS MB | exit |"
echo "|---|---|---|---|---|"
echo "| read + dominators + retained (largest dump) | $((size3 / 1000000)) | $st | $((sk / 1024)) | $src |"
echo "| leakhound diff s1 s2 s3 | $((size3 / 1000000)) (largest) | $dt | $((dk / 1024)) | $drc |"
echo
cat "$out/out.heapstat"
echo; echo "leakhound top finding:"; sed -n '/^1\./,/^2\./p' "$out/out.diff" | head -8
