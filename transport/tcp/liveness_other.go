//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tcp

import "syscall"

// peerClosed cannot peek at a socket on this platform: the watching read
// alone detects a closed connection.
func peerClosed(syscall.RawConn) bool { return false }
