// Command jetstream_pub publishes 1 KB messages to JetStream with asynchronous acks,
// keeping a window of publishes outstanding, and prints {"perSecond": acks/s, "cpuUs": its
// CPU per ack} as JSON.
// It is the Go-client side of `deno task bench:store` (built there when `go` exists).
//
//	jetstream_pub <url> <subject> <seconds> <inflight>
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: jetstream_pub <url> <subject> <seconds> <inflight>")
		os.Exit(2)
	}
	url, subject := os.Args[1], os.Args[2]
	seconds, _ := strconv.Atoi(os.Args[3])
	inflight, _ := strconv.Atoi(os.Args[4])
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(inflight))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	payload := make([]byte, 1024)
	acked := 0
	start := time.Now()
	end := start.Add(time.Duration(seconds) * time.Second)
	// A sliding window: acks of one stream arrive in order, so wait on the oldest.
	window := make([]nats.PubAckFuture, 0, inflight)
	wait := func(f nats.PubAckFuture) {
		select {
		case <-f.Ok():
			acked++
		case err := <-f.Err():
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for time.Now().Before(end) {
		for len(window) < inflight {
			f, err := js.PublishAsync(subject, payload)
			if err != nil && strings.Contains(err.Error(), "stalled") && len(window) > 0 {
				// The server fell behind for longer than the stall wait (a loaded machine;
				// this nats.go names no error value for it): wait for the oldest ack, retry.
				wait(window[0])
				window = window[1:]
				continue
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			window = append(window, f)
		}
		wait(window[0])
		window = window[1:]
	}
	for _, f := range window {
		wait(f)
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("{\"perSecond\": %f, \"cpuUs\": %f}\n", float64(acked)/elapsed, cpuMicros()/float64(acked))
}

// cpuMicros is the CPU time (user + system) this process has used, µs.
func cpuMicros() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1000
}
