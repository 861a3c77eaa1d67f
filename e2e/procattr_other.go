//go:build unix && !linux

package e2e

import "syscall"

// childAttr puts a node in its own process group.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
