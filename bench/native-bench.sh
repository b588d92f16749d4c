#!/usr/bin/env bash
# Native heap agent overhead on ../shared/bench/allocbench.c (issue 6).
#
# Builds allocbench (gcc -O2 -g -fno-omit-frame-pointer -pthread) and the agent (release), then
# for each workload alternates plain / exact-fp (LEAKHOUND_UNWIND=fp) / exact-dwarf
# (LEAKHOUND_UNWIND=dwarf, the default) / sampled (512 KiB, dwarf) / heaptrack runs ROUNDS times, prints the
# median wall time of each, its ratio to plain's median and the spread of the per-round ratios
# (traced / the same round's plain run: min-max), checks that each exact run's top suspect is
# the known leak site with exactly the leaked blocks and bytes allocbench prints, and times the
# analysis of the exact-dwarf run's output. Agent memory: the maximum RSS of each traced run (GNU time
# %M) minus the plain run's, medians, against the issue's budget of 64 MB + 10 % of the target's
# own RSS.
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
TIME=/usr/bin/time
# run KIND ARGS... -> prints elapsed seconds; appends the max RSS (KiB) to $WORK/rss-KIND and the
# CPU time (user + system s) to $WORK/cpu-KIND
run() {
    local kind=$1; shift
    local out=$WORK/out-$kind
    rm -rf "$out"; mkdir -p "$out"
    local t0 t1
    t0=$(now)
    case $kind in
        plain) $TIME -f "%M %U %S" -o "$WORK/maxrss" "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        # `env` sets the variables for allocbench only: GNU time itself must not be traced.
        exact-fp | exact-dwarf) $TIME -f "%M %U %S" -o "$WORK/maxrss" env LEAKHOUND_OUT="$out" LEAKHOUND_UNWIND="${kind#exact-}" LD_PRELOAD="$AGENT" "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        sampled) $TIME -f "%M %U %S" -o "$WORK/maxrss" env LEAKHOUND_OUT="$out" LEAKHOUND_HEAP_MODE=sampled LEAKHOUND_UNWIND=dwarf LD_PRELOAD="$AGENT" "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" ;;
        heaptrack) (cd "$out" && $TIME -f "%M %U %S" -o "$WORK/maxrss" heaptrack "$WORK/allocbench" "$@" >"$WORK/stdout-$kind" 2>&1) ;;
    esac
    t1=$(now)
    tail -n 1 "$WORK/maxrss" | awk '{print $1}' >>"$WORK/rss-$kind"
    tail -n 1 "$WORK/maxrss" | awk '{print $2 + $3}' >>"$WORK/cpu-$kind"
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kinds="plain exact-fp exact-dwarf sampled"
[ -z "${NO_HEAPTRACK:-}" ] && command -v heaptrack >/dev/null && kinds="$kinds heaptrack"

echo "| workload | tool | median wall s | ratio vs plain | per-round ratio min-max | median CPU s | CPU ratio | rounds |"
echo "|---|---|---|---|---|---|---|---|"
for wl in "synthetic 10000000" "server 400000"; do
    # shellcheck disable=SC2086
    set -- $wl
    for k in $kinds; do : >"$WORK/times-$k"; : >"$WORK/rss-$k"; : >"$WORK/cpu-$k"; done
    for ((i = 0; i < ROUNDS; i++)); do
        for k in $kinds; do run "$k" "$@" >>"$WORK/times-$k"; done
    done
    base=$(median <"$WORK/times-plain")
    cbase=$(median <"$WORK/cpu-plain")
    for k in $kinds; do
        m=$(median <"$WORK/times-$k")
        c=$(median <"$WORK/cpu-$k")
        spread=$(paste "$WORK/times-$k" "$WORK/times-plain" | awk '{r = $1 / $2; if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r} END {printf "%.2f-%.2fx", lo, hi}')
        printf '| %s | %s | %.3f | %.2fx | %s | %.3f | %.2fx | %d |\n' "$wl" "$k" "$m" "$(echo "$m / $base" | bc -l)" \
            "$spread" "$c" "$(echo "$c / $cbase" | bc -l)" "$ROUNDS"
    done
    # Agent memory: max RSS over the plain run's (heaptrack's figure is its own process tree's
    # largest process, shown for reference only).
    plain_rss=$(median <"$WORK/rss-plain")
    for k in $kinds; do
        [ "$k" = plain ] && continue
        r=$(median <"$WORK/rss-$k")
        python3 -c '
import sys
wl, k, plain, traced = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
over = (traced - plain) / 1024
budget = 64 + 0.10 * plain / 1024
ok = "within" if over <= budget else "OVER"
print("  %s: %s max RSS %.1f MiB vs plain %.1f MiB: agent +%.1f MiB (budget 64 MB + 10%% = %.1f MiB: %s)" % (
    wl, k, traced / 1024, plain / 1024, over, budget, ok if k != "heaptrack" else "n/a"))
' "$wl" "$k" "$plain_rss" "$r"
    done
    # Correctness of the exact runs: suspect #1 = the leak site with the true counts.
    for k in exact-fp exact-dwarf; do
    truth=$(grep -o 'leaked_blocks=[0-9]* leaked_bytes=[0-9]*' "$WORK/stdout-$k")
    t0=$(now)
    json=$("$REPORT" "$WORK/out-$k" --json)
    t1=$(now)
    echo "$json" | python3 -c '
import json, sys
# One JSON document per traced process; allocbench is the only one, the longest in any case.
r = max((json.loads(l) for l in sys.stdin if l.strip()), key=lambda r: r["snapshots"])
s = r["suspects"][0] if r["suspects"] else None
print("  %s %s: suspect #1 = %s, live_blocks=%d live_bytes=%d (allocbench: %s); suspects=%d; analysis %.2f s" % (
    sys.argv[1], sys.argv[4], s["site"] if s else None, s["live_blocks"] if s else 0, s["live_bytes"] if s else 0,
    sys.argv[2], len(r["suspects"]), float(sys.argv[3])))
' "$wl" "$truth" "$(echo "$t1 - $t0" | bc -l)" "$k"
    done
    echo "  output size (exact-dwarf): $(du -sh "$WORK/out-exact-dwarf" | cut -f1)"
done
