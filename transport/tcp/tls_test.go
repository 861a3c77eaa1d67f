package tcp

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mandate-raft/mandate/transport"
	"github.com/mandate-raft/mandate/transport/transporttest"
	"github.com/mandate-raft/mandate/wire"
)

func TestConformanceOverMutualTLS(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	transporttest.Run(t, func(t *testing.T) (a, b transport.Transport) {
		ca1, cb := testConfig(t, transporttest.A), testConfig(t, transporttest.B)
		ca1.TLS, cb.TLS = ca.tlsConfig(t, "a"), ca.tlsConfig(t, "b")
		return newTestTransport(t, ca1), newTestTransport(t, cb)
	})
}

// started returns a started transport for cfg with a recorder.
func started(t *testing.T, cfg Config) (*Transport, *transporttest.Recorder) {
	t.Helper()
	tr := newTestTransport(t, cfg)
	rec := transporttest.NewRecorder(1024)
	if err := tr.Start(rec); err != nil {
		t.Fatal(err)
	}
	return tr, rec
}

func TestTLSRefusesPeerSignedByAnotherCA(t *testing.T) {
	cluster, rogue := newTestCA(t, "cluster-ca"), newTestCA(t, "rogue-ca")
	cfgB := testConfig(t, "b")
	cfgB.TLS = cluster.tlsConfig(t, "b")
	b, rb := started(t, cfgB)

	// The intruder trusts the cluster CA (so it would accept b) but
	// presents a certificate of its own CA.
	cfgX := testConfig(t, "a")
	cfgX.TLS = rogue.tlsConfig(t, "x")
	cfgX.TLS.RootCAs = cluster.tlsConfig(t, "ignored").RootCAs
	x, rx := started(t, cfgX)
	x.SetPeer("b", b.Addr())
	rx.WaitUnreachable(t, "b", func() { x.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 1}) })
	select {
	case m := <-rb.Msgs:
		t.Fatalf("b accepted %v from a peer without a cluster certificate", m)
	case <-time.After(100 * time.Millisecond):
	}

	// A member with a cluster certificate gets through.
	cfgA := testConfig(t, "a")
	cfgA.TLS = cluster.tlsConfig(t, "a")
	a, _ := started(t, cfgA)
	a.SetPeer("b", b.Addr())
	a.Send(wire.Message{Type: wire.MsgHeartbeat, From: "a", To: "b", Term: 2})
	if got := rb.NextMsg(t); got.Term != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestTLSRefusesPeerWithoutCertificate(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	cfgB := testConfig(t, "b")
	cfgB.TLS = ca.tlsConfig(t, "b")
	b, _ := started(t, cfgB)

	// A client that trusts the CA but has no certificate of its own.
	conn, err := tls.Dial("tcp", b.Addr(), &tls.Config{RootCAs: ca.tlsConfig(t, "c").RootCAs})
	if err == nil {
		// TLS 1.3 reports the refused client certificate on first read.
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write(hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "test-cluster", From: "c", To: "b"}.encode())
		if err == nil {
			err = decodeVerdict(conn)
		}
		conn.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate completed the handshake")
	}

	// A plaintext peer gets nowhere either.
	raw, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	raw.Write(hello{Version: ProtocolVersion, Lane: laneControl, Cluster: "test-cluster", From: "c", To: "b"}.encode())
	if err := decodeVerdict(raw); err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("plaintext handshake to a TLS node: got %v, want the connection dropped", err)
	}
}

func TestMutualTLSReportsBadFiles(t *testing.T) {
	if _, err := MutualTLS("/nonexistent.crt", "/nonexistent.key", "/nonexistent-ca.crt"); !errors.Is(err, ErrTLSConfig) {
		t.Fatalf("got %v, want ErrTLSConfig", err)
	}
	ca := newTestCA(t, "ca")
	c, k, _ := ca.files(t, t.TempDir(), "n")
	if _, err := MutualTLS(c, k, k); !errors.Is(err, ErrTLSConfig) {
		t.Fatalf("a key file as CA: got %v, want ErrTLSConfig", err)
	}
}
