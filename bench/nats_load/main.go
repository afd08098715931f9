// Command nats_load is the Go NATS client side of `deno task bench` (bench/node_bench.ts):
// the same roles and output as bench/loadgen.ts, with nats.go, NATS's own (and fastest)
// client, so nats-server is measured with its best client. Built by the bench itself
// against Debian's golang-github-nats-io-go-nats-dev (GOPATH=/usr/share/gocode, no modules).
//
//	nats_load sub <url> <connections>          count deliveries; print {"buckets": [...]} on stdin EOF
//	nats_load pub <url> <seconds>              publish 1 KB messages as fast as the server takes them
//	nats_load latency <url> <rate> <seconds>   1→1 at a fixed rate: {"received","expected","p50Ms","p99Ms"}
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	payloadBytes = 1024
	subject      = "bench.load.data"
	// A flush round trip per MiB published, two in flight, as bench/loadgen.ts paces.
	flushEvery  = 1024 * 1024
	flushWindow = 2
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nats_load:", err)
	os.Exit(1)
}

func connect(url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.ReconnectBufSize(-1))
	if err != nil {
		fail(err)
	}
	return nc
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: nats_load sub|pub|latency <url> ...")
		os.Exit(2)
	}
	role, url := os.Args[1], os.Args[2]
	switch role {
	case "sub":
		n, _ := strconv.Atoi(os.Args[3])
		sub(url, n)
	case "pub":
		seconds, _ := strconv.Atoi(os.Args[3])
		pub(url, seconds)
	case "latency":
		rate, _ := strconv.Atoi(os.Args[3])
		seconds, _ := strconv.Atoi(os.Args[4])
		latency(url, rate, seconds)
	default:
		fail(fmt.Errorf("unknown role %q", role))
	}
}

// Counts arrivals in 100 ms buckets from the first one, over `connections` connections.
func sub(url string, connections int) {
	var mu sync.Mutex
	var buckets []int
	var first time.Time
	conns := make([]*nats.Conn, 0, connections)
	for i := 0; i < connections; i++ {
		nc := connect(url)
		conns = append(conns, nc)
		s, err := nc.Subscribe(subject, func(_ *nats.Msg) {
			now := time.Now()
			mu.Lock()
			if first.IsZero() {
				first = now
			}
			b := int(now.Sub(first) / (100 * time.Millisecond))
			for len(buckets) <= b {
				buckets = append(buckets, 0)
			}
			buckets[b]++
			mu.Unlock()
		})
		if err != nil {
			fail(err)
		}
		// No client-side slow-consumer drops: every delivery is counted, as in loadgen.ts.
		if err := s.SetPendingLimits(-1, -1); err != nil {
			fail(err)
		}
		if err := nc.Flush(); err != nil {
			fail(err)
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	mu.Lock()
	out, _ := json.Marshal(map[string][]int{"buckets": append([]int{}, buckets...)})
	mu.Unlock()
	fmt.Println(string(out))
	for _, nc := range conns {
		nc.Close()
	}
}

// Flush round trips in flight, at most flushWindow.
type pacer struct {
	nc        *nats.Conn
	unflushed int
	inFlight  []chan struct{}
}

func (p *pacer) published(n int) {
	p.unflushed += n
	if p.unflushed < flushEvery {
		return
	}
	p.unflushed = 0
	done := make(chan struct{})
	go func() {
		_ = p.nc.Flush()
		close(done)
	}()
	p.inFlight = append(p.inFlight, done)
	if len(p.inFlight) >= flushWindow {
		<-p.inFlight[0]
		p.inFlight = p.inFlight[1:]
	}
}

func pub(url string, seconds int) {
	nc := connect(url)
	payload := make([]byte, payloadBytes)
	p := &pacer{nc: nc}
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	sent := 0
	for time.Now().Before(end) {
		for i := 0; i < 256; i++ {
			if err := nc.Publish(subject, payload); err != nil {
				fail(err)
			}
			p.published(payloadBytes)
		}
		sent += 256
	}
	_ = nc.Flush()
	fmt.Printf("{\"sent\":%d}\n", sent)
	nc.Close()
}

func latency(url string, rate, seconds int) {
	subConn := connect(url)
	pubConn := connect(url)
	start := time.Now()
	warmup := time.Second
	var mu sync.Mutex
	var latencies []float64
	measuring := false
	_, err := subConn.Subscribe(subject, func(m *nats.Msg) {
		sentAt := time.Duration(binary.LittleEndian.Uint64(m.Data))
		elapsed := time.Since(start) - sentAt
		mu.Lock()
		if measuring {
			latencies = append(latencies, float64(elapsed)/float64(time.Millisecond))
		}
		mu.Unlock()
	})
	if err != nil {
		fail(err)
	}
	if err := subConn.Flush(); err != nil {
		fail(err)
	}
	payload := make([]byte, payloadBytes)
	end := start.Add(warmup + time.Duration(seconds)*time.Second)
	due := 0
	for now := time.Now(); now.Before(end); now = time.Now() {
		mu.Lock()
		measuring = now.Sub(start) >= warmup
		mu.Unlock()
		target := int(now.Sub(start).Seconds() * float64(rate))
		for ; due < target; due++ {
			binary.LittleEndian.PutUint64(payload, uint64(time.Since(start)))
			if err := pubConn.Publish(subject, payload); err != nil {
				fail(err)
			}
		}
		// The client's flusher sends what was published; sleep to the next millisecond.
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	sort.Float64s(latencies)
	pct := func(q float64) any {
		if len(latencies) == 0 {
			return nil
		}
		return latencies[int(q*float64(len(latencies)-1))]
	}
	out, _ := json.Marshal(map[string]any{
		"received": len(latencies),
		"expected": rate * seconds,
		// Every message published, warm-up included (a starved generator publishes fewer).
		"published": due,
		"p50Ms":     pct(0.5),
		"p99Ms":     pct(0.99),
	})
	mu.Unlock()
	fmt.Println(string(out))
	subConn.Close()
	pubConn.Close()
}
