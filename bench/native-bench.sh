#!/usr/bin/env bash
# Native heap agent overhead on ../shared/bench/allocbench.c (issue 6).
#
# Builds allocbench (gcc -O2 -g -fno-omit-frame-pointer -pthread) and the agent (release), then
# for each workload alternates plain / exact / sampled / heaptrack runs ROUNDS times, prints the
# median wall time of each and its ratio to plain, checks that the exact run's top suspect is
# the known leak site with exactly the leaked blocks and bytes allocbench prints, and times the
# analysis of the exact run's output.
#
#   bench/native-bench.sh                # ROUNDS=5, both workloads, heaptrack included
#   ROUNDS=3 NO_HEAPTRACK=1 bench/native-bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${ALLOCBENCH_SRC:-$ROOT/../shared/bench/allocbench.c}
ROUNDS=${ROUNDS:-5}
WORK=$(mktemp -d /tmp/native-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

gcc -O2 -g -fno-omit-frame-pointer -pthread -o "$WORK/allocbench" "$SRC"
(cd "$ROOT" && cargo build --release -q -p leakhound-agent && cargo build --release -q -p leakhound-native --example heap_report)
AGENT=$ROOT/target/release/libleakhound_agent.so
REPORT=$ROOT/target/release/examples/heap_report

now() { date +%s.%N; }
# run KIND ARGS... -> prints elapsed seconds
run() {
    local kind=$1; shift
    local out=$WORK/out-$kind
    rm -rf "$out"; mkdir -p "$out"
    local t0 t1
    t0=$(now)
    case $kind in
        plain) "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        exact) LEAKHOUND_OUT=$out LD_PRELOAD=$AGENT "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        sampled) LEAKHOUND_OUT=$out LEAKHOUND_HEAP_MODE=sampled LD_PRELOAD=$AGENT "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        heaptrack) (cd "$out" && heaptrack "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" 2>&1) ;;
    esac
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kinds="plain exact sampled"
[ -z "${NO_HEAPTRACK:-}" ] && command -v heaptrack >/dev/null && kinds="$kinds heaptrack"

echo "| workload | tool | median wall s | ratio vs plain | rounds |"
echo "|---|---|---|---|---|"
for wl in "synthetic 10000000" "server 400000"; do
    # shellcheck disable=SC2086
    set -- $wl
    for k in $kinds; do : >"$WORK/times-$k"; done
    for ((i = 0; i < ROUNDS; i++)); do
        for k in $kinds; do run "$k" "$@" >>"$WORK/times-$k"; done
    done
    base=$(median <"$WORK/times-plain")
    for k in $kinds; do
        m=$(median <"$WORK/times-$k")
        printf '| %s | %s | %.3f | %.2fx | %d |\n' "$wl" "$k" "$m" "$(echo "$m / $base" | bc -l)" "$ROUNDS"
    done
    # Correctness of the exact run: suspect #1 = the leak site with the true counts.
    truth=$(grep -o 'leaked_blocks=[0-9]* leaked_bytes=[0-9]*' "$WORK/stdout-exact")
    t0=$(now)
    json=$("$REPORT" "$WORK/out-exact" --json)
    t1=$(now)
    echo "$json" | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
s = r["suspects"][0] if r["suspects"] else None
print("  %s: suspect #1 = %s, live_blocks=%d live_bytes=%d (allocbench: %s); suspects=%d; analysis %.2f s" % (
    sys.argv[1], s["site"] if s else None, s["live_blocks"] if s else 0, s["live_bytes"] if s else 0,
    sys.argv[2], len(r["suspects"]), float(sys.argv[3])))
' "$wl" "$truth" "$(echo "$t1 - $t0" | bc -l)"
    echo "  output size (exact): $(du -sh "$WORK/out-exact" | cut -f1)"
done
