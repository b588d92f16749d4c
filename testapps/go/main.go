// Leaky Go test service for `leakhound diff` (issue 7). Listens on 127.0.0.1 only.
//
// Per-request LEAKS: every GET /work starts a watcher goroutine that waits on a channel nobody
// ever sends to or closes (goroutine leak), and stores a 4 KiB session record in a package-level
// map that is never pruned (heap leak, allocated in main.remember).
// TRAPS (warm up, then flat): a bounded LRU-ish cache of 64 pages (main.renderPage), a table
// built lazily on first use (main.buildTable), a ring buffer of 128 log lines (main.logLine).
// /debug/pprof/* comes from net/http/pprof. Port: $PORT (default: any free one), printed as
// "listening 127.0.0.1:PORT". LEAK=0 in the environment turns both leaks off (the fixed service).
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
	mu       sync.Mutex
	sessions = map[int][]byte{}
	cache    = map[int][]byte{}
	order    []int
	table    [][]byte
	ring     [128][]byte
	ringNext int
	leak     = os.Getenv("LEAK") != "0"
)

func remember(id int) { sessions[id] = make([]byte, 4096) }

func buildTable() {
	table = make([][]byte, 4000)
	for i := range table {
		table[i] = make([]byte, 1024)
	}
}

func renderPage(k int) []byte {
	if p, ok := cache[k]; ok {
		return p
	}
	p := make([]byte, 16384)
	cache[k] = p
	order = append(order, k)
	if len(order) > 64 {
		delete(cache, order[0])
		order = order[1:]
	}
	return p
}

func logLine(id int) {
	ring[ringNext] = []byte(fmt.Sprintf("GET /work %d %0200d", id, 0))
	ringNext = (ringNext + 1) % len(ring)
}

func watch(done chan struct{}) { <-done }

func work(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	if leak {
		go watch(make(chan struct{}))
	}
	mu.Lock()
	if leak {
		remember(id)
	}
	if table == nil {
		buildTable()
	}
	p := renderPage(id % 1000)
	logLine(id)
	mu.Unlock()
	fmt.Fprintf(w, "%d %d\n", id, len(p))
}

func main() {
	// Sample every ~4 KiB instead of 512 KiB so a few hundred requests give a clear profile.
	runtime.MemProfileRate = 4096
	http.HandleFunc("/work", work)
	http.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) { os.Exit(0) })
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
