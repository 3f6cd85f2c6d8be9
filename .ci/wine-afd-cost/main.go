//go:build windows

// Command wine-afd-cost shows, without evsel, what made the Wine stage of CI
// time out: under Wine, every socket call costs time proportional to the
// number of IOCTL_AFD_POLL requests outstanding in the whole wineserver.
//
// It keeps one AFD poll pending on each of N idle loopback connections (as a
// readiness poller over AFD does for every registered socket) and times
// one-byte round trips on another connection, for each N given:
//
//	GOOS=windows go build -o afd-cost.exe ./.ci/wine-afd-cost
//	wine64 afd-cost.exe 0 1000 2000 4000 8000
//
// On Windows the round trip does not depend on N. Wine 8's wineserver, one
// thread serving every process, keeps all pending polls in one list and walks
// it on each socket request and readiness change (sock_get_poll_events and
// complete_async_polls in server/sock.c), so the round trip grows linearly
// with N. On the CI machine kind (2 cores, quiet, Wine 8.0), Go's net on
// both ends of the measured connection:
//
//	   0 pending AFD polls:   1191.0 µs per one-byte round trip
//	1000 pending AFD polls:   1212.2 µs per one-byte round trip
//	2000 pending AFD polls:   1373.7 µs per one-byte round trip
//	4000 pending AFD polls:   2220.7 µs per one-byte round trip
//	8000 pending AFD polls:   5079.2 µs per one-byte round trip
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

const (
	ioctlAFDPoll   = 0x00012024 // IOCTL_AFD_POLL
	afdPollReceive = 0x0001
	rounds         = 2000
)

// afdPollInfo is AFD_POLL_INFO with one handle.
type afdPollInfo struct {
	timeout    int64
	numHandles uint32
	exclusive  uint32
	handle     windows.Handle
	events     uint32
	status     windows.NTStatus
}

// pollOp is one pending poll; the kernel owns it until it completes, so it
// stays reachable (in pending) for the life of the program.
type pollOp struct {
	iosb windows.IO_STATUS_BLOCK
	info afdPollInfo
}

var ntDeviceIoControlFile = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtDeviceIoControlFile")

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wine-afd-cost:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 1)
	if err != nil {
		return err
	}
	afd, err := openAFD(port)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	measured, peer, err := pair(ln)
	if err != nil {
		return err
	}
	go echo(peer)

	var pending []any // the idle connections and their polls, kept alive
	polls := 0
	for _, arg := range args {
		want, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		for ; polls < want; polls++ {
			c, s, err := pair(ln)
			if err != nil {
				return err
			}
			op, err := poll(afd, s)
			if err != nil {
				return err
			}
			pending = append(pending, c, s, op)
		}
		b := []byte{0}
		start := time.Now()
		for range rounds {
			if _, err := measured.Write(b); err != nil {
				return err
			}
			if _, err := measured.Read(b); err != nil {
				return err
			}
		}
		per := time.Since(start) / rounds
		fmt.Printf("%6d pending AFD polls: %8.1f µs per one-byte round trip\n", polls, float64(per)/1e3)
	}
	return nil
}

// openAFD opens a handle on the AFD device, associated with port.
func openAFD(port windows.Handle) (windows.Handle, error) {
	name, err := windows.NewNTUnicodeString(`\Device\Afd\WineAfdCost`)
	if err != nil {
		return 0, err
	}
	oa := windows.OBJECT_ATTRIBUTES{ObjectName: name}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	if err := windows.NtCreateFile(&h, windows.SYNCHRONIZE, &oa, &iosb, nil, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, windows.FILE_OPEN, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("open \\Device\\Afd: %w", err)
	}
	if _, err := windows.CreateIoCompletionPort(h, port, 1, 0); err != nil {
		return 0, err
	}
	return h, nil
}

// poll submits a poll for received data on c's socket; nothing is ever sent
// to c, so it stays pending.
func poll(afd windows.Handle, c net.Conn) (*pollOp, error) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	var sock windows.Handle
	if err := rc.Control(func(fd uintptr) { sock = windows.Handle(fd) }); err != nil {
		return nil, err
	}
	op := &pollOp{
		iosb: windows.IO_STATUS_BLOCK{Status: windows.STATUS_PENDING},
		info: afdPollInfo{timeout: 1<<63 - 1, numHandles: 1, handle: sock, events: afdPollReceive},
	}
	r, _, _ := ntDeviceIoControlFile.Call(uintptr(afd), 0, 0, uintptr(unsafe.Pointer(op)),
		uintptr(unsafe.Pointer(&op.iosb)), ioctlAFDPoll,
		uintptr(unsafe.Pointer(&op.info)), unsafe.Sizeof(op.info),
		uintptr(unsafe.Pointer(&op.info)), unsafe.Sizeof(op.info))
	if st := windows.NTStatus(r); st != windows.STATUS_PENDING {
		return nil, fmt.Errorf("IOCTL_AFD_POLL: %v, want STATUS_PENDING", st)
	}
	return op, nil
}

// pair returns both ends of a new loopback connection.
func pair(ln net.Listener) (net.Conn, net.Conn, error) {
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	s, err := ln.Accept()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, s, nil
}

func echo(c net.Conn) {
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			return
		}
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}
