//go:build linux

// Command echo-go-epoll is the Go floor of the benchmark: the C epoll
// server's loop (cserver/epoll_echo.c) written in Go, with nothing an
// engine adds. One goroutine, not locked to its thread, waits in
// epoll_wait, reads into one buffer and writes the reply straight back; a
// reply the kernel does not take whole is kept and the connection watched
// for writability instead of read, so a peer that does not read is
// bounded. It has no timers, no cross-goroutine writes, no fairness
// budget and no statistics.
//
// It makes its system calls as evsel's loop does: the reads and writes,
// which cannot block, and the wait after a busy iteration, bounded to
// 5 ms, as raw system calls the scheduler is not told about, so that the
// runtime's monitor does not take the P from a thread that is about to
// come back (evsel/poller.go says why); an idle loop waits the ordinary
// way. What it costs over C is then the Go runtime's share (its
// system-call stubs, a multi-threaded process's descriptor references),
// and what evsel costs over it is the engine's own work. With -ordinary
// every call goes through the runtime's ordinary system-call path: the
// minimal Go loop of issue 13, kept to show what that path costs.
package main

import (
	"errors"
	"flag"
	"net"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/bench/internal/serve"
)

// conn is one connection: its descriptor and the part of a reply the
// kernel has not taken yet.
type conn struct {
	fd      int
	pending []byte
}

// maxRawWaitMillis bounds a raw wait: the P is held meanwhile (evsel.MaxRawWait).
const maxRawWaitMillis = 5

func main() {
	ordinary := flag.Bool("ordinary", false, "make every system call the runtime's ordinary way")
	f := serve.Parse() // GOMAXPROCS = -cores; like the C server it is one loop whatever the count
	sys := rawCalls
	if *ordinary {
		sys = ordinaryCalls
	}
	lfd, err := listen(f.Addr)
	if err != nil {
		serve.Fatal(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		serve.Fatal(err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		serve.Fatal(err)
	}
	serve.Ready(f.Addr)

	var conns []*conn // by descriptor
	buf := make([]byte, 64<<10)
	events := make([]unix.EpollEvent, 256)
	watch := func(c *conn, ev uint32) {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: ev, Fd: int32(c.fd)}); err != nil {
			serve.Fatal(err)
		}
	}
	drop := func(c *conn) {
		unix.Close(c.fd) // also leaves the epoll set
		conns[c.fd] = nil
	}
	busy := false
	for {
		var n int
		var err error
		if busy && !*ordinary {
			n, err = epollWaitRaw(ep, events, maxRawWaitMillis)
		} else {
			n, err = unix.EpollWait(ep, events, -1)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			serve.Fatal(err)
		}
		busy = n > 0
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					cfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break // EAGAIN, or out of descriptors: try on the next event
					}
					unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					for len(conns) <= cfd {
						conns = append(conns, nil)
					}
					conns[cfd] = &conn{fd: cfd}
					if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, cfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(cfd)}); err != nil {
						serve.Fatal(err)
					}
				}
				continue
			}
			c := conns[fd]
			if c.pending != nil { // writable: finish the reply, then read again
				w, err := write(sys, fd, c.pending)
				switch {
				case err != nil:
					drop(c)
				case w == len(c.pending):
					c.pending = nil
					watch(c, unix.EPOLLIN)
				default:
					c.pending = c.pending[w:]
				}
				continue
			}
			r, gone := readOutcome(sys.read(fd, buf))
			if gone {
				drop(c)
				continue
			}
			if r == 0 {
				continue // EAGAIN or EINTR: level-triggered, it comes back
			}
			w, err := write(sys, fd, buf[:r])
			switch {
			case err != nil:
				drop(c)
			case w < r: // backpressure: keep the rest, stop reading
				c.pending = append([]byte(nil), buf[w:r]...)
				watch(c, unix.EPOLLOUT)
			}
		}
	}
}

// calls are the read and write system calls, made one way or the other.
type calls struct {
	read, write func(fd int, p []byte) (int, error)
}

var (
	ordinaryCalls = calls{unix.Read, unix.Write}
	rawCalls      = calls{rawIO(unix.SYS_READ), rawIO(unix.SYS_WRITE)}
)

// rawIO is read or write (trap) as a raw system call.
func rawIO(trap uintptr) func(fd int, p []byte) (int, error) {
	return func(fd int, p []byte) (int, error) {
		r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// epollWaitRaw is epoll_wait as a raw system call; ms must be short.
func epollWaitRaw(ep int, events []unix.EpollEvent, ms int) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// readOutcome sorts a read's result: the bytes to echo (0 for none yet)
// or gone for a connection the peer ended or that failed. EAGAIN and
// EINTR are checked first: a raw call returns 0 with them (rawIO), not
// -1 as unix.Read does, and must not be taken for the peer's EOF.
func readOutcome(r int, err error) (n int, gone bool) {
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return 0, false
	case err != nil || r <= 0:
		return 0, true
	}
	return r, false
}

// write writes p until it is all taken or the kernel is full; it returns
// how much went and an error only for a failed connection.
func write(sys calls, fd int, p []byte) (int, error) {
	w := 0
	for w < len(p) {
		k, err := sys.write(fd, p[w:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return w, err
		}
		w += k
	}
	return w, nil
}

// listen opens the non-blocking IPv4 listener on addr ("host:port").
func listen(addr string) (int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return -1, err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return -1, errors.New("echo-go-epoll: -addr must be IPv4 host:port, got " + addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &unix.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return -1, err
	}
	return fd, unix.Listen(fd, 4096)
}
