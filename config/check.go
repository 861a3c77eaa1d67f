package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// ErrHost is wrapped by every problem CheckHost finds.
var ErrHost = errors.New("host check failed")

// CheckHost checks what Validate cannot: that data_dir exists or can be
// created and is readable and writable, that the TLS files can be read,
// and that raft.bind and http.bind are free to listen on. The daemon calls
// it at start, before it opens anything. All problems come at once.
func (c *Config) CheckHost() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrHost, key, fmt.Sprintf(format, args...)))
	}
	if err := checkDir(c.DataDir); err != nil {
		add("data_dir", "%v", err)
	}
	for key, path := range map[string]string{
		"raft.tls.cert_file": c.Raft.TLS.CertFile,
		"raft.tls.key_file":  c.Raft.TLS.KeyFile,
		"raft.tls.ca_file":   c.Raft.TLS.CAFile,
	} {
		if path == "" {
			continue
		}
		if f, err := os.Open(path); err != nil {
			add(key, "%v", err)
		} else {
			f.Close()
		}
	}
	for _, b := range []struct{ key, addr string }{{"raft.bind", c.Raft.Bind}, {"http.bind", c.HTTP.Bind}} {
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			add(b.key, "cannot listen on %q (already in use?): %v", b.addr, err)
			continue
		}
		ln.Close()
	}
	return errors.Join(errs...)
}

// checkDir creates dir if needed and proves it readable and writable by
// listing it and writing, syncing and removing a probe file.
func checkDir(dir string) error {
	if dir == "" {
		return errors.New("not set")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("cannot create %q: %w", dir, err)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("cannot read %q: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".mandate-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write in %q: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("probe"))
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	os.Remove(name)
	if werr != nil {
		return fmt.Errorf("cannot write in %q: %w", filepath.Clean(dir), werr)
	}
	return nil
}
