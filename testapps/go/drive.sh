#!/bin/sh
# Start the Go service, take heap + goroutine profiles before load and after each of 3 load
# phases of N requests. Usage: drive.sh OUTDIR [N]
set -eu
out=$1; n=${2:-300}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
(cd "$here" && go build -o "$out/goservice" .)
"$out/goservice" > "$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$out/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/listening 127.0.0.1:\([0-9]*\)/\1/p' "$out/server.log")
i=0
for s in 1 2 3 4; do
  curl -s -o "$out/heap$s.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap?gc=1"
  curl -s -o "$out/goroutine$s.pb.gz" "http://127.0.0.1:$port/debug/pprof/goroutine"
  [ $s = 4 ] && break
  for _ in $(seq "$n"); do i=$((i+1)); curl -s "http://127.0.0.1:$port/work?id=$i" >/dev/null; done
done
