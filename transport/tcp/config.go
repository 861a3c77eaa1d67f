package tcp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mandate-raft/mandate/wire"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxFrameSize      = 64 << 20
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultDialTimeout       = 5 * time.Second
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultMaxInboundConns   = 256
	DefaultQueueSize         = 4096
	DefaultBackoffMin        = 20 * time.Millisecond
	DefaultBackoffMax        = 2 * time.Second
	DefaultSnapshotChunkSize = 1 << 20
	DefaultSnapshotRetries   = 8
	DefaultResumeTimeout     = 30 * time.Second
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("tcp: invalid config")

// Config configures a Transport. Zero durations and sizes take the
// defaults above; limits are on by default and cannot be switched off, only
// raised.
type Config struct {
	// ID is this node's id, sent in every handshake. Required.
	ID wire.NodeID
	// ClusterID names the cluster; a peer with another one is refused.
	// Required.
	ClusterID string
	// BindAddr is the address to listen on, for example "127.0.0.1:7000"
	// (port 0 picks a free port). Required.
	BindAddr string
	// AdvertiseAddr is the address peers reach this node at, when it
	// differs from the listener's (NAT, 0.0.0.0). Empty means the
	// listener's address.
	AdvertiseAddr string
	// TLS, when set, secures every connection with it, both ways. Use
	// MutualTLS to build one that requires a certificate signed by the
	// cluster's CA from every peer.
	TLS *tls.Config

	// MaxFrameSize bounds one frame (one message, or one snapshot chunk
	// plus its header), in bytes. A peer announcing more is disconnected.
	// Default 64 MiB; it must exceed SnapshotChunkSize plus 64 bytes.
	MaxFrameSize int
	// ReadTimeout is how long an inbound connection may stay silent before
	// it is closed, and how long a snapshot stream may stall. Senders
	// close their idle connections before this passes. Default 60 s.
	ReadTimeout time.Duration
	// WriteTimeout is how long a write may stall (the peer taking no
	// bytes) before the connection is dropped. Default 10 s.
	WriteTimeout time.Duration
	// DialTimeout bounds one connection attempt. Default 5 s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the handshake of a new connection (and of
	// its TLS negotiation). Default 5 s.
	HandshakeTimeout time.Duration
	// MaxInboundConns bounds the connections accepted at once; more are
	// closed at once with a log line. Default 256.
	MaxInboundConns int
	// QueueSize is how many messages wait for one peer (per lane) before
	// Send drops new ones. Default 4096.
	QueueSize int
	// BackoffMin and BackoffMax bound the wait between failed connection
	// attempts to a peer; it doubles per failure. Defaults 20 ms and 2 s.
	BackoffMin, BackoffMax time.Duration
	// SnapshotChunkSize is the size of one snapshot chunk in bytes.
	// Default 1 MiB.
	SnapshotChunkSize int
	// SnapshotBandwidth caps the bytes per second all outgoing snapshot
	// streams send together, so that a snapshot cannot starve
	// replication. Zero means no cap.
	SnapshotBandwidth int64
	// SnapshotRetries is how many times a snapshot stream cut by a
	// dropped connection is resumed before SendSnapshot gives up.
	// Default 8.
	SnapshotRetries int
	// ResumeTimeout is how long a receiver keeps a cut snapshot stream
	// waiting for its sender to resume it. Default 30 s.
	ResumeTimeout time.Duration

	// Logger receives the transport's logs. Default: hclog's default
	// logger, named "transport".
	Logger hclog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defi := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defi(&c.MaxFrameSize, DefaultMaxFrameSize)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defi(&c.MaxInboundConns, DefaultMaxInboundConns)
	defi(&c.QueueSize, DefaultQueueSize)
	def(&c.BackoffMin, DefaultBackoffMin)
	def(&c.BackoffMax, DefaultBackoffMax)
	defi(&c.SnapshotChunkSize, DefaultSnapshotChunkSize)
	defi(&c.SnapshotRetries, DefaultSnapshotRetries)
	def(&c.ResumeTimeout, DefaultResumeTimeout)
	if c.Logger == nil {
		c.Logger = hclog.Default().Named("transport")
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.ID == wire.None {
		errs = append(errs, fmt.Errorf("%w: ID is empty", ErrInvalidConfig))
	}
	if len(c.ID) > maxIDLen {
		errs = append(errs, fmt.Errorf("%w: ID longer than %d bytes", ErrInvalidConfig, maxIDLen))
	}
	if c.ClusterID == "" {
		errs = append(errs, fmt.Errorf("%w: ClusterID is empty", ErrInvalidConfig))
	}
	if len(c.ClusterID) > maxIDLen {
		errs = append(errs, fmt.Errorf("%w: ClusterID longer than %d bytes", ErrInvalidConfig, maxIDLen))
	}
	if c.BindAddr == "" {
		errs = append(errs, fmt.Errorf("%w: BindAddr is empty", ErrInvalidConfig))
	}
	if c.MaxFrameSize < c.SnapshotChunkSize+chunkHeaderLen+64 {
		errs = append(errs, fmt.Errorf("%w: MaxFrameSize %d cannot carry a snapshot chunk of %d bytes", ErrInvalidConfig, c.MaxFrameSize, c.SnapshotChunkSize))
	}
	if c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("%w: BackoffMax %v below BackoffMin %v", ErrInvalidConfig, c.BackoffMax, c.BackoffMin))
	}
	if c.SnapshotBandwidth < 0 {
		errs = append(errs, fmt.Errorf("%w: SnapshotBandwidth is negative", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}
