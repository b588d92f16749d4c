// One allocating function reached from two call paths, for the per-stack view of
// `leakhound diff` (issue 7). Listens on 127.0.0.1 only.
//
// main.store allocates a 4 KiB record into the map it is given. GET /keep stores into a
// package-level map that is never pruned (the LEAK: its stack grows with every request);
// GET /drop stores into a scratch map and deletes the entry before it returns (freed: its
// stack does not grow). A per-function diff sees only main.store growing; the per-stack view
// must name main.keepHandler's path as the leak and main.dropHandler's as not growing.
// /debug/pprof/* comes from net/http/pprof. Port: $PORT (default: any free one), printed as
// "listening 127.0.0.1:PORT".
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
)

var (
	mu      sync.Mutex
	kept    = map[int][]byte{}
	scratch = map[int][]byte{}
)

//go:noinline
func store(m map[int][]byte, id int) { m[id] = make([]byte, 4096) }

//go:noinline
func keepHandler(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	mu.Lock()
	store(kept, id)
	mu.Unlock()
	fmt.Fprintf(w, "kept %d\n", id)
}

//go:noinline
func dropHandler(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	mu.Lock()
	store(scratch, id)
	n := len(scratch[id])
	delete(scratch, id)
	mu.Unlock()
	fmt.Fprintf(w, "dropped %d %d\n", id, n)
}

func main() {
	// Sample every ~4 KiB instead of 512 KiB so a few hundred requests give a clear profile.
	runtime.MemProfileRate = 4096
	http.HandleFunc("/keep", keepHandler)
	http.HandleFunc("/drop", dropHandler)
	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	panic(http.Serve(ln, nil))
}
