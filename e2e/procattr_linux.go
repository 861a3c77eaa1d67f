package e2e

import "syscall"

// childAttr puts a node in its own process group and has the kernel kill
// it if the test process dies, so no daemon outlives a crashed test.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
