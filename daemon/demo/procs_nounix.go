//go:build !unix

package demo

import "syscall"

// childAttr has nothing to add on systems without process groups.
func childAttr() *syscall.SysProcAttr { return nil }
