//go:build !linux

// The Go floor is an epoll server, as the C one is: Linux only.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "echo-go-epoll: epoll is Linux only, not %s\n", runtime.GOOS)
	os.Exit(1)
}
