// Command arqon_pub publishes 1 KB pulses to an ArqonBus node over its raw TCP port
// (`--tcp-port`: 4-byte big-endian length, then one protobuf Frame; docs/API.md, "Raw TCP")
// with durable acks, keeping a window of publishes outstanding, and prints
// {"perSecond": acks/s, "cpuUs": its CPU per ack} as JSON.
//
// It is the ArqonBus side of the Go publishers in `deno task bench:store`: the same loop as
// bench/jetstream_pub (JetStream's best client, nats.go PublishAsync), so the two servers
// are compared with publishers of the same cost. It uses no SDK: the frames are written and
// read by hand from arqon.proto's field numbers, the standard library only.
//
//	arqon_pub <host:port> <reality> <topic> <seconds> <inflight>
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Field numbers of arqon.proto used here.
const (
	frameHello   = 1
	frameWelcome = 2
	framePublish = 3
	frameAck     = 4
	frameError   = 11
	frameBatch   = 14
	ackDurable   = 2
)

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, field, wire int) []byte {
	return appendVarint(b, uint64(field<<3|wire))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, 2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// frame wraps one Frame body in its length prefix.
func frame(dst []byte, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// readVarint reads a varint at b[i:], returning it and the index after it (-1: malformed).
func readVarint(b []byte, i int) (uint64, int) {
	var v uint64
	for shift := 0; i < len(b) && shift < 64; shift += 7 {
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
	return 0, -1
}

// kinds calls fn with the kind (field number) and body of each frame in a Frame message:
// itself, or each frame of its batch.
func kinds(msg []byte, fn func(kind int, body []byte)) {
	for i := 0; i < len(msg); {
		tag, j := readVarint(msg, i)
		if j < 0 || tag&7 != 2 {
			fmt.Fprintln(os.Stderr, "arqon_pub: unexpected frame")
			os.Exit(1)
		}
		n, k := readVarint(msg, j)
		if k < 0 || k+int(n) > len(msg) {
			fmt.Fprintln(os.Stderr, "arqon_pub: truncated frame")
			os.Exit(1)
		}
		body := msg[k : k+int(n)]
		field := int(tag >> 3)
		if field == frameBatch {
			// Batch{repeated Frame frames = 1}
			for p := 0; p < len(body); {
				_, q := readVarint(body, p)
				m, r := readVarint(body, q)
				kinds(body[r:r+int(m)], fn)
				p = r + int(m)
			}
		} else {
			fn(field, body)
		}
		i = k + int(n)
	}
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: arqon_pub <host:port> <reality> <topic> <seconds> <inflight>")
		os.Exit(2)
	}
	addr, reality, topic := os.Args[1], os.Args[2], os.Args[3]
	seconds, _ := strconv.Atoi(os.Args[4])
	inflight, _ := strconv.Atoi(os.Args[5])
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	in := bufio.NewReaderSize(conn, 256<<10)
	next := func() []byte {
		var head [4]byte
		if _, err := io.ReadFull(in, head[:]); err != nil {
			fmt.Fprintln(os.Stderr, "arqon_pub: read:", err)
			os.Exit(1)
		}
		msg := make([]byte, binary.BigEndian.Uint32(head[:]))
		if _, err := io.ReadFull(in, msg); err != nil {
			fmt.Fprintln(os.Stderr, "arqon_pub: read:", err)
			os.Exit(1)
		}
		return msg
	}

	// Hello{client_name = 1, protocol_version = 2}, then wait for the Welcome.
	hello := appendBytes(nil, 1, []byte("arqon_pub"))
	hello = append(appendTag(hello, 2, 0), 1)
	if _, err := conn.Write(frame(nil, appendBytes(nil, frameHello, hello))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	welcomed := false
	for !welcomed {
		kinds(next(), func(kind int, body []byte) {
			if kind == frameError {
				fmt.Fprintf(os.Stderr, "arqon_pub: error frame %q\n", body)
				os.Exit(1)
			}
			welcomed = welcomed || kind == frameWelcome
		})
	}

	// Pulse{topic = 3, reality_id = 5, payload = 11}: the same bytes in every publish.
	pulse := appendBytes(nil, 3, []byte(topic))
	pulse = appendBytes(pulse, 5, []byte(reality))
	pulse = appendBytes(pulse, 11, make([]byte, 1024))

	var acked atomic.Int64
	wake := make(chan struct{}, 1)
	go func() {
		for {
			n := int64(0)
			kinds(next(), func(kind int, body []byte) {
				switch kind {
				case frameAck:
					n++
				case frameError:
					fmt.Fprintf(os.Stderr, "arqon_pub: error frame %q\n", body)
					os.Exit(1)
				}
			})
			if n > 0 {
				acked.Add(n)
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()

	out := bufio.NewWriterSize(conn, 256<<10)
	var publish []byte
	var sent int64
	start := time.Now()
	end := start.Add(time.Duration(seconds) * time.Second)
	for time.Now().Before(end) {
		for sent-acked.Load() < int64(inflight) {
			sent++
			// Publish{correlation_id = 1, ack = 2, pulse = 3}
			publish = appendVarint(appendTag(publish[:0], 1, 0), uint64(sent))
			publish = append(appendTag(publish, 2, 0), ackDurable)
			publish = appendBytes(publish, 3, pulse)
			// Frame{publish = 3}, after its length prefix.
			var head [20]byte
			f := appendTag(head[:4], framePublish, 2)
			f = appendVarint(f, uint64(len(publish)))
			binary.BigEndian.PutUint32(f[:4], uint32(len(f)-4+len(publish)))
			out.Write(f)
			out.Write(publish)
		}
		if err := out.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		<-wake
	}
	for acked.Load() < sent {
		<-wake
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("{\"perSecond\": %f, \"cpuUs\": %f}\n", float64(acked.Load())/elapsed, cpuMicros()/float64(acked.Load()))
	// Not through the deferred Close: the reader would report the closed connection.
	os.Exit(0)
}

// cpuMicros is the CPU time (user + system) this process has used, µs.
func cpuMicros() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1000
}
