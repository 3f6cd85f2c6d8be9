//go:build !linux

package main

import "os/exec"

// dieWithParent has no counterpart to Linux's parent-death signal here:
// an interrupted run may leave its server to be killed by hand.
func dieWithParent(*exec.Cmd) {}
