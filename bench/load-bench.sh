#!/usr/bin/env bash
# Load-driver benchmarks (issue #5), everything side by side in one run, 127.0.0.1 only,
# against the same in-repo test server (lh-testserver, 1 thread):
#
#   1. closed-loop throughput: `leakhound load --concurrency C --threads T` vs `wrk -cC -tT`
#      (target: >= 0.9x wrk's requests/s);
#   2. open-model accuracy: 5,000 and 20,000 req/s offered for 30 s (target: achieved within
#      1 % of offered while the server keeps up);
#   3. honesty under stalls: the server stalls 1 s every 10 s, 1,000 req/s for 20 s (target:
#      p99 >= 0.5 s), next to wrk's closed-loop view of the same server.
#
# Usage: bench/load-bench.sh [--quick]     (--quick: 5 s runs instead of 10/30/20 s)
#        ONLY=closed|open|stall bench/load-bench.sh   (one section); ROUNDS=N closed-loop rounds
# Needs: cargo, python3, wrk (Debian package `wrk`). Results go to stdout and
# bench/results/load-bench-<timestamp>.txt. Numbers depend on the machine: on a shared 2-core
# box the client, the server and anything else running compete for the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
CLOSED_S=10; OPEN_S=30; STALL_S=20
if [[ $QUICK == 1 ]]; then CLOSED_S=5; OPEN_S=5; STALL_S=12; fi
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }
cargo build --release -q -p leakhound -p leakhound-load --bins
LH=target/release/leakhound
TS=target/release/lh-testserver

mkdir -p bench/results
OUT="bench/results/load-bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
exec > >(tee "$OUT")

SERVER_PID=""
start_server() {
  local fifo; fifo=$(mktemp -u); mkfifo "$fifo"
  "$TS" --threads 1 "$@" >"$fifo" &
  SERVER_PID=$!
  read -r line <"$fifo"; rm -f "$fifo"
  URL="${line#listening on }/"
}
stop_server() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }
trap stop_server EXIT

jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d'+sys.argv[1]))" "$2"; }

echo "# leakhound load benchmarks — $(date -u +%FT%TZ) — $(nproc) CPUs — $(wrk --version 2>&1 | head -1)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

ONLY=${ONLY:-all}
ROUNDS=${ROUNDS:-5}
if [[ $ONLY == all || $ONLY == closed ]]; then
echo "## 1. closed loop: $CONNS connections, $THREADS threads, ${CLOSED_S}s per run, $ROUNDS alternating rounds"
start_server
: >/tmp/lh-closed-rounds.txt
for round in $(seq 1 "$ROUNDS"); do
  w=$(wrk -t"$THREADS" -c"$CONNS" -d"${CLOSED_S}s" "$URL" | awk '/Requests\/sec/ {print $2}')
  "$LH" -q load "$URL" --concurrency "$CONNS" --threads "$THREADS" --duration "${CLOSED_S}s" --json >/tmp/lh-closed.json
  l=$(jget /tmp/lh-closed.json "['achieved_rate']")
  e=$(jget /tmp/lh-closed.json "['errors']['connect']+d['errors']['reset']+d['errors']['timeout']")
  printf '  round %d: wrk %10.0f req/s   leakhound %10.0f req/s  (errors %s)  ratio %.3f   [load %s]\n' \
    "$round" "$w" "$l" "$e" "$(python3 -c "print($l/$w)")" "$(cut -d' ' -f1 /proc/loadavg)"
  echo "$w $l" >>/tmp/lh-closed-rounds.txt
done
python3 - <<'PY'
import statistics
rows = [tuple(map(float, l.split())) for l in open('/tmp/lh-closed-rounds.txt') if l.strip()]
ratios = [l / w for w, l in rows]
sw, sl = sum(w for w, _ in rows), sum(l for _, l in rows)
ok = 'OK' if statistics.median(ratios) >= 0.9 else 'MISS'
print(f"  median ratio {statistics.median(ratios):.3f}, ratio of totals {sl / sw:.3f}, "
      f"best-vs-best {max(l for _, l in rows) / max(w for w, _ in rows):.3f}  [{ok}: target >= 0.9]")
PY
echo
stop_server
fi

if [[ $ONLY == all || $ONLY == open ]]; then
echo "## 2. open model accuracy, ${OPEN_S}s each"
start_server
for rate in 5000 20000; do
  "$LH" -q load "$URL" --rate "$rate" --duration "${OPEN_S}s" --threads "$THREADS" --json >/tmp/lh-open.json
  python3 - "$rate" <<'PY'
import json, sys
d = json.load(open('/tmp/lh-open.json')); rate = float(sys.argv[1])
off, ach = d['offered_rate'], d['achieved_rate']
err = abs(ach / off - 1) * 100
ok = 'OK' if err <= 1.0 and d['errors']['connect'] + d['errors']['timeout'] + d['errors']['reset'] == 0 else 'MISS'
l = d['latency']
print(f"  {rate:>6.0f} req/s: offered {off:.1f}/s achieved {ach:.1f}/s  |achieved/offered-1| = {err:.3f} % [{ok}]  "
      f"scheduled {d['scheduled']} completed {d['completed']} late {d['late']} dropped {d['dropped']}  "
      f"p50 {l['p50_ms']:.2f} ms p99 {l['p99_ms']:.2f} ms max {l['max_ms']:.1f} ms")
PY
done
echo
stop_server
fi

if [[ $ONLY == all || $ONLY == stall ]]; then
echo "## 3. stalls: server stalls 1 s every 10 s; 1,000 req/s for ${STALL_S}s"
start_server --stall-every 10s --stall-for 1s
"$LH" -q load "$URL" --rate 1000 --duration "${STALL_S}s" --json >/tmp/lh-stall.json
python3 - <<'PY'
import json
d = json.load(open('/tmp/lh-stall.json')); l = d['latency']
ok = 'OK' if l['p99_ms'] >= 500 else 'MISS'
print(f"  leakhound (open, from intended times): p50 {l['p50_ms']:.2f} ms p90 {l['p90_ms']:.1f} ms "
      f"p99 {l['p99_ms']:.1f} ms max {l['max_ms']:.1f} ms  late {d['late']} [{ok}: p99 >= 500 ms]")
PY
stop_server
start_server --stall-every 10s --stall-for 1s
"$LH" -q load "$URL" --concurrency 10 --threads 1 --duration "${STALL_S}s" --json >/tmp/lh-stall-closed.json
python3 - <<'PY'
import json
d = json.load(open('/tmp/lh-stall-closed.json')); l = d['latency']
print(f"  leakhound --concurrency 10 (closed, from actual sends): p50 {l['p50_ms']:.3f} ms "
      f"p99 {l['p99_ms']:.3f} ms max {l['max_ms']:.1f} ms  ({d['achieved_rate']:.0f} req/s)")
PY
stop_server
start_server --stall-every 10s --stall-for 1s
wrk -t1 -c10 -d"${STALL_S}s" --latency "$URL" | awk '/Latency Distribution/ {p=1} p && /%/ {printf "  wrk (closed, 10 conns): %s %s\n", $1, $2} /Requests\/sec/ {print "  wrk requests/s: " $2}'
stop_server
echo
fi
echo "results saved to $OUT"
