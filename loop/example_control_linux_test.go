package loop_test

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/loop"
)

// A server whose traffic is marked low-delay (IP_TOS), set the way Go's
// net sets socket options it has no field for: a Control function, called
// before the listening socket is bound, whose setting the accepted
// connections inherit. gnet's WithBindToDevice is the same with
// SO_BINDTODEVICE; WithControl does it for a Dial.
func ExampleOptions_listenControl() {
	lowDelay := func(network, address string, c syscall.RawConn) error {
		fmt.Println("listening on", network, address)
		var err error
		c.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, 0x10) // IPTOS_LOWDELAY
		})
		return err
	}
	tos := make(chan int, 1)
	h := loop.Funcs{Open: func(c *loop.Conn) {
		rc, _ := c.SyscallConn()
		rc.Control(func(fd uintptr) {
			v, _ := unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS)
			tos <- v
		})
	}}
	e, err := loop.New(h, loop.Options{Loops: 1, ListenControl: lowDelay})
	if err != nil {
		panic(err)
	}
	defer e.Stop(context.Background())
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Printf("accepted connection's IP_TOS: %#x\n", <-tos)
	// Output:
	// listening on tcp4 127.0.0.1:0
	// accepted connection's IP_TOS: 0x10
}
