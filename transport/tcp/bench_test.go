package tcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/wire"
)

// benchHandler calls onMsg for each message and discards snapshots.
type benchHandler struct {
	onMsg func(wire.Message)
}

func (h *benchHandler) HandleMessage(m wire.Message) { h.onMsg(m) }
func (h *benchHandler) HandleSnapshot(m wire.Message, data io.Reader) error {
	_, err := io.Copy(io.Discard, data)
	return err
}
func (h *benchHandler) ReportUnreachable(wire.NodeID) {}

func benchPair(b *testing.B, ha, hb *benchHandler) (x, y *Transport) {
	return benchPairBW(b, ha, hb, 0)
}

func benchPairBW(b *testing.B, ha, hb *benchHandler, bandwidth int64) (x, y *Transport) {
	b.Helper()
	mk := func(id wire.NodeID, h *benchHandler) *Transport {
		cfg := testConfig(b, id)
		cfg.Logger = hclog.NewNullLogger()
		cfg.SnapshotBandwidth = bandwidth
		tr := newTestTransport(b, cfg)
		if err := tr.Start(h); err != nil {
			b.Fatal(err)
		}
		return tr
	}
	x, y = mk("a", ha), mk("b", hb)
	x.SetPeer("b", y.Addr())
	y.SetPeer("a", x.Addr())
	return x, y
}

// BenchmarkMsgApp measures pipelined MsgApp throughput from a leader to
// one follower over loopback: entries of 128 bytes, 1, 64 or 1024 per
// message, at most 1024 messages in flight (the core's window). One op is
// one message; allocs/op and cpu-µs/op count both ends.
func BenchmarkMsgApp(b *testing.B) {
	for _, n := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			const window = 1024
			inflight := make(chan struct{}, window)
			var got atomic.Int64
			done := make(chan struct{})
			var total int64
			hb := &benchHandler{onMsg: func(m wire.Message) {
				<-inflight
				if got.Add(1) == atomic.LoadInt64(&total) {
					close(done)
				}
			}}
			x, _ := benchPair(b, &benchHandler{onMsg: func(wire.Message) {}}, hb)
			entries := make([]wire.Entry, n)
			for i := range entries {
				entries[i] = wire.Entry{Index: uint64(i + 1), Term: 1, Data: make([]byte, 128)}
			}
			// Warm the connection up outside the timing.
			inflight <- struct{}{}
			atomic.StoreInt64(&total, 1)
			x.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Entries: entries})
			<-done
			done = make(chan struct{})
			got.Store(0)
			atomic.StoreInt64(&total, int64(b.N))

			b.SetBytes(int64(n * 128))
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU()
			for i := 0; i < b.N; i++ {
				inflight <- struct{}{}
				x.Send(wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Index: uint64(i), Commit: uint64(i), Entries: entries})
			}
			<-done
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N*n)/elapsed.Seconds(), "entries/s")
			// Both ends run in this process: its CPU per message counts
			// encoding, the syscalls and decoding, and depends far less on
			// what else the machine runs than the rates above.
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N)/1000, "cpu-µs/op")
		})
	}
}

// patternReader is a seekable stream of size bytes that never sits in
// memory: a snapshot as large as a benchmark wants.
type patternReader struct {
	size, off int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if rem := r.size - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = byte(r.off + int64(i))
	}
	r.off += int64(len(p))
	return len(p), nil
}

func (r *patternReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	r.off = off
	return off, nil
}

// BenchmarkHeartbeatRTT measures a heartbeat's round trip (a to b, b
// answers at once) on an idle link, while a 64 GiB snapshot streams from a
// to b at full speed on the same pair, and while it streams capped at
// 64 MiB/s. ns/op is the mean round trip; p50 and p99 are reported too.
func BenchmarkHeartbeatRTT(b *testing.B) {
	for _, tc := range []struct {
		name      string
		withSnap  bool
		bandwidth int64
	}{{"idle", false, 0}, {"during-snapshot", true, 0}, {"during-snapshot-capped-64MiBps", true, 64 << 20}} {
		withSnap := tc.withSnap
		b.Run(tc.name, func(b *testing.B) {
			answers := make(chan struct{}, 1)
			var y *Transport
			ha := &benchHandler{onMsg: func(m wire.Message) {
				if m.Type == wire.MsgHeartbeatResp {
					answers <- struct{}{}
				}
			}}
			hb := &benchHandler{onMsg: func(m wire.Message) {
				if m.Type == wire.MsgHeartbeat {
					y.Send(wire.Message{Type: wire.MsgHeartbeatResp, From: "b", To: "a", Term: m.Term})
				}
			}}
			var x *Transport
			x, y = benchPairBW(b, ha, hb, tc.bandwidth)
			rtt := func() time.Duration {
				t0 := time.Now()
				x.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1})
				<-answers
				return time.Since(t0)
			}
			rtt() // connect both ways
			var streamed atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			snapDone := make(chan error, 1)
			if withSnap {
				go func() {
					r := &patternReader{size: 64 << 30}
					err := x.SendSnapshot(ctx, wire.Message{Type: wire.MsgSnap, From: "a", To: "b", Snapshot: &wire.SnapshotMeta{Index: 1}}, r)
					streamed.Store(r.off)
					snapDone <- err
				}()
				time.Sleep(100 * time.Millisecond) // let the stream fill the pipes
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lat = append(lat, rtt())
			}
			b.StopTimer()
			cancel()
			if withSnap {
				<-snapDone
				if streamed.Load() == 0 {
					b.Fatal("the snapshot did not stream during the measurement")
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkCodec measures encoding and decoding one MsgApp with the
// reused msgpack encoder and decoder of a connection, without the
// network: the floor under BenchmarkMsgApp.
func BenchmarkCodec(b *testing.B) {
	for _, n := range []int{1, 64, 1024} {
		entries := make([]wire.Entry, n)
		for i := range entries {
			entries[i] = wire.Entry{Index: uint64(i + 1), Term: 1, Data: make([]byte, 128)}
		}
		m := wire.Message{Type: wire.MsgApp, From: "a", To: "b", Term: 1, Entries: entries}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			enc, dec := newMsgEncoder(), newMsgDecoder()
			b.SetBytes(int64(n * 128))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := enc.encode(&m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := dec.decode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
