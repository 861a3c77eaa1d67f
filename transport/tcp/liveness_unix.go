//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tcp

import "syscall"

// peerClosed peeks at the socket without blocking or consuming anything:
// a zero-byte read means the peer's FIN has arrived, an error other than
// "would block" means a reset or worse. Pending bytes (which a message
// lane's watching read will take) say nothing either way.
func peerClosed(rc syscall.RawConn) bool {
	closed := false
	err := rc.Control(func(fd uintptr) {
		var buf [1]byte
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case nil:
			closed = n == 0
		case syscall.EAGAIN, syscall.EINTR:
		default:
			closed = true
		}
	})
	return err != nil || closed
}
