package demo

import "syscall"

// childAttr puts a child in its own process group (a Ctrl-C in the
// terminal reaches only the demo, which then stops the children in order)
// and has the kernel kill it if the demo itself dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
