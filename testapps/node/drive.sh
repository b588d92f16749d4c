#!/bin/sh
# Start the service, take S1 before load, then 3 x (N requests, snapshot). Usage: drive.sh OUTDIR [N]
set -eu
out=$1; n=${2:-300}
mkdir -p "$out"
node "$(dirname "$0")/server.js" > "$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$out/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/listening 127.0.0.1:\([0-9]*\)/\1/p' "$out/server.log")
i=0
for s in 1 2 3 4; do
  curl -s "http://127.0.0.1:$port/snapshot?path=$out/s$s.heapsnapshot" >/dev/null
  [ $s = 4 ] && break
  for _ in $(seq "$n"); do i=$((i+1)); curl -s "http://127.0.0.1:$port/work?id=$i" >/dev/null; done
done
curl -s "http://127.0.0.1:$port/quit" >/dev/null || true
