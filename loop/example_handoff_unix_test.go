//go:build unix

package loop_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/loop"
)

// A restart within one process, done as a successor process does it: the
// running engine gives a copy of its listening socket (ListenerFiles, what
// PassListeners puts in a child's ExtraFiles), the new engine serves it
// with ServeFile, and the old one drains. The socket itself stays open
// throughout, so no connection is refused: one that comes before the drain
// may be accepted by either engine, one that comes after it by the new one.
// Adoption is not supported on Windows.
func ExampleEngine_ServeFile() {
	tagged := func(tag string) loop.Funcs { // answers with its engine's name
		return loop.Funcs{Data: func(c *loop.Conn) {
			c.Write([]byte(tag + ": "))
			c.Write(c.Inbound())
			c.Consume(len(c.Inbound()))
		}}
	}
	old, err := loop.New(tagged("old"), loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer old.Stop(context.Background())
	addr, err := old.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	next, err := loop.New(tagged("new"), loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer next.Stop(context.Background())
	files, err := old.ListenerFiles()
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		served, err := next.ServeFile(f) // closes f once it serves a copy
		if err != nil {
			panic(err)
		}
		fmt.Println("same address:", served.String() == addr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Drain(ctx); err != nil {
		panic(err)
	}

	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("hello")); err != nil {
		panic(err)
	}
	reply := make([]byte, len("new: hello"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output:
	// same address: true
	// new: hello
}

// Serving a bare descriptor number, as a supervisor or C code hands one
// over: here a listening socket made with system calls. On success the
// engine owns fd (it serves a duplicate and closes fd); on error fd is
// still the caller's to close. Adoption is not supported on Windows.
func ExampleEngine_ServeFD() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	unix.CloseOnExec(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		panic(err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		panic(err)
	}

	echo := loop.Funcs{Data: func(c *loop.Conn) {
		c.Write(c.Inbound())
		c.Consume(len(c.Inbound()))
	}}
	e, err := loop.New(echo, loop.Options{Loops: 1})
	if err != nil {
		unix.Close(fd)
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.ServeFD(uintptr(fd))
	if err != nil {
		unix.Close(fd) // still ours
		panic(err)
	}
	fmt.Println("serving on", addr.(*net.TCPAddr).IP)

	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("from a bare descriptor")); err != nil {
		panic(err)
	}
	reply := make([]byte, len("from a bare descriptor"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", reply)
	// Output:
	// serving on 127.0.0.1
	// from a bare descriptor
}

// Preparing a successor for a restart without refused connections:
// PassListeners puts the engine's listening sockets in cmd.ExtraFiles and
// names their descriptors in the successor's environment. The parent starts
// cmd, closes the files it got back (the child has its own copies), waits
// until the successor serves, and calls Drain; the successor, the same
// program started again, finds the sockets with ServeInherited:
//
//	addrs, err := e.ServeInherited(nil)
//	if errors.Is(err, loop.ErrNoInherited) { // the first process: nothing inherited
//		addr, err := e.Listen("tcp", ":8080")
//		...
//	}
//
// The example prepares cmd without starting it. Not supported on Windows.
func ExampleEngine_PassListeners() {
	e, err := loop.New(loop.Funcs{}, loop.Options{Loops: 1})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	if _, err := e.Listen("tcp", "127.0.0.1:0"); err != nil {
		panic(err)
	}

	cmd := exec.Command(os.Args[0], os.Args[1:]...) // the program itself, restarted
	files, err := e.PassListeners(cmd)
	if err != nil {
		panic(err)
	}
	defer func() { // once cmd has started: its copies are the child's
		for _, f := range files {
			f.Close()
		}
	}()
	fmt.Println("descriptors passed:", len(cmd.ExtraFiles))
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, loop.HandoffEnv+"=") {
			fmt.Println("successor's environment:", kv) // ExtraFiles[i] is descriptor 3+i
		}
	}
	// Output:
	// descriptors passed: 1
	// successor's environment: EVSEL_LISTEN_FDS=3
}
