//go:build netbsd || openbsd || dragonfly

// nbio v1.6.8's kqueue poller uses EVFILT_USER, which Go's syscall package
// does not define on NetBSD, OpenBSD and DragonFly: nbio does not build
// there, so the bench has no nbio server on those systems.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "echo-nbio: nbio v1.6.8 does not build on %s\n", runtime.GOOS)
	os.Exit(1)
}
