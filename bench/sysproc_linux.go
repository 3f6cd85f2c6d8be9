package main

import "syscall"

// sysProcAttr makes the kernel kill a child if the orchestrator dies, so an
// interrupted run leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
