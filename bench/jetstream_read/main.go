// Command jetstream_read reads a whole JetStream stream with an ordered consumer, the way
// JetStream replays history, with nats.go (its fastest client), and prints
// {"perSecond": messages/s, "read": n, "cpuUs": its CPU per message} as JSON. It is the Go
// side of the history read in `deno task bench:store` (built there against Debian's nats.go).
//
//	jetstream_read <url> <subject> <total>
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: jetstream_read <url> <subject> <total>")
		os.Exit(2)
	}
	url, subject := os.Args[1], os.Args[2]
	total, _ := strconv.Atoi(os.Args[3])
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	done := make(chan struct{})
	read := 0
	start := time.Now()
	sub, err := js.Subscribe(subject, func(_ *nats.Msg) {
		read++
		if read == total {
			close(done)
		}
	}, nats.OrderedConsumer(), nats.DeliverAll())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = sub.SetPendingLimits(-1, -1)
	select {
	case <-done:
	case <-time.After(120 * time.Second):
		fmt.Fprintln(os.Stderr, "timed out after", read, "messages")
		os.Exit(1)
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("{\"perSecond\": %f, \"read\": %d, \"cpuUs\": %f}\n", float64(read)/elapsed, read, cpuMicros()/float64(read))
}

// cpuMicros is the CPU time (user + system) this process has used, µs.
func cpuMicros() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1000
}
