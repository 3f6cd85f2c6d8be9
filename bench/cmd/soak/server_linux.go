package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the server if the soak dies first, so
// that an interrupted run leaves no server holding the port and the CPU.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
