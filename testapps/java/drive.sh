#!/bin/sh
# Start the Java service, dump the heap (jcmd) before load and after each of 3 load phases of N
# requests. Usage: drive.sh OUTDIR [N]
set -eu
out=$1; n=${2:-300}
mkdir -p "$out/classes"
here=$(cd "$(dirname "$0")" && pwd)
javac -d "$out/classes" "$here/LeakService.java"
java -Xmx256m -cp "$out/classes" LeakService > "$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/listening 127.0.0.1:\([0-9]*\)/\1/p' "$out/server.log")
i=0
for s in 1 2 3 4; do
  rm -f "$out/s$s.hprof"
  jcmd $pid GC.heap_dump "$out/s$s.hprof" >/dev/null
  [ $s = 4 ] && break
  for _ in $(seq "$n"); do i=$((i+1)); curl -s "http://127.0.0.1:$port/work?id=$i" >/dev/null; done
done
