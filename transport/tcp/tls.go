package tcp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrTLSConfig is wrapped by MutualTLS's errors.
var ErrTLSConfig = errors.New("tcp: tls configuration")

// MutualTLS returns a TLS configuration for Config.TLS from PEM files:
// this node's certificate and key, and the CA that signs every member's
// certificate. Both sides of every connection must present a certificate
// signed by that CA; the dialer also checks that the peer's certificate
// names the address it dialed (an IP or DNS subject alternative name).
func MutualTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: load certificate and key: %w", ErrTLSConfig, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: read CA: %w", ErrTLSConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: no certificate found in CA file", ErrTLSConfig)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
