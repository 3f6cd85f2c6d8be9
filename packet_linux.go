//go:build linux

package evsel

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux's datagram calls, raw: recvmsg and sendmsg with the address in a
// buffer on the stack, and recvmmsg and sendmmsg, which x/sys (v0.49)
// defines the Mmsghdr of but does not wrap.

func iovOf(p []byte) unix.Iovec {
	var iov unix.Iovec
	if len(p) > 0 {
		iov.Base = &p[0]
	}
	iov.SetLen(len(p))
	return iov
}

func recvFlags(f int32) RecvFlags {
	if f&unix.MSG_TRUNC != 0 {
		return Truncated
	}
	return 0
}

func sysRecvFrom(fd int, p []byte) (int, netip.AddrPort, RecvFlags, error) {
	var name rawInet
	iov := iovOf(p)
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&name)), Namelen: uint32(sizeofInet6), Iov: &iov}
	msg.SetIovlen(1)
	n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, netip.AddrPort{}, 0, e
	}
	return int(n), name.get(), recvFlags(msg.Flags), nil
}

func sysSendTo(fd int, p []byte, to netip.AddrPort) (int, error) {
	var name rawInet
	iov := iovOf(p)
	msg := unix.Msghdr{Iov: &iov}
	msg.SetIovlen(1)
	if to.IsValid() {
		msg.Name = (*byte)(unsafe.Pointer(&name))
		msg.Namelen = uint32(name.put(unmapAddrPort(to), false))
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// unmapAddrPort sends an IPv4-mapped address as IPv4: Linux takes a
// sockaddr_in on an IPv6 socket too, and an IPv4 socket takes nothing
// else.
func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Is4In6() {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

func sysRecvFromPath(fd int, p []byte) (int, string, RecvFlags, error) {
	var name unix.RawSockaddrUnix
	iov := iovOf(p)
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(&name)), Namelen: uint32(unsafe.Sizeof(name)), Iov: &iov}
	msg.SetIovlen(1)
	n, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, "", 0, e
	}
	return int(n), unixPath(&name, int(msg.Namelen)), recvFlags(msg.Flags), nil
}

// unixPath is the path of a sockaddr_un of length l: "" for an unnamed
// socket, '@' first for the abstract namespace, as Go's net writes them.
func unixPath(sa *unix.RawSockaddrUnix, l int) string {
	n := l - int(unsafe.Offsetof(sa.Path))
	if n <= 0 {
		return ""
	}
	n = min(n, len(sa.Path))
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), n)
	if b[0] == 0 {
		return "@" + string(b[1:])
	}
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return string(b)
}

func sysSendToPath(fd int, p []byte, path string) (int, error) {
	var name unix.RawSockaddrUnix
	iov := iovOf(p)
	msg := unix.Msghdr{Iov: &iov}
	msg.SetIovlen(1)
	if path != "" {
		if len(path) >= len(name.Path) {
			return 0, errInval
		}
		name.Family = unix.AF_UNIX
		for i := 0; i < len(path); i++ {
			name.Path[i] = int8(path[i])
		}
		l := int(unsafe.Offsetof(name.Path)) + len(path)
		if path[0] == '@' {
			name.Path[0] = 0 // abstract: no terminating NUL counted
		} else {
			l++
		}
		msg.Name = (*byte)(unsafe.Pointer(&name))
		msg.Namelen = uint32(l)
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// batchState is the scratch of recvmmsg and sendmmsg: one header, vector
// and address per message, kept so a batch allocates once.
type batchState struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []rawInet
}

func newBatchState(n int) batchState {
	return batchState{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), names: make([]rawInet, n)}
}

// prepare points the first n headers at the messages' buffers and the
// address slots, growing the scratch if Msgs was replaced by a longer one.
func (b *batchState) prepare(msgs []Message) {
	if len(b.hdrs) < len(msgs) {
		*b = newBatchState(len(msgs))
	}
	for i := range msgs {
		b.iovs[i] = iovOf(msgs[i].Buf)
		h := &b.hdrs[i]
		h.Hdr = unix.Msghdr{Iov: &b.iovs[i]}
		h.Hdr.SetIovlen(1)
		h.Len = 0
	}
}

// release drops the pointers to the caller's buffers.
func (b *batchState) release(n int) {
	clear(b.iovs[:n])
	for i := range b.hdrs[:n] {
		b.hdrs[i].Hdr = unix.Msghdr{}
	}
}

// recv and send never wait (MSG_DONTWAIT, whatever the socket's mode), so
// they enter the kernel without telling the scheduler, as the Try calls
// do (socket_try.go).
func (b *batchState) recv(fd int, msgs []Message) (int, error) {
	b.prepare(msgs)
	defer b.release(len(msgs))
	for i := range msgs {
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Namelen = uint32(sizeofInet6)
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])),
		uintptr(len(msgs)), tryRecvFlags, 0, 0)
	if e != 0 {
		return 0, e
	}
	n := int(r)
	for i := range msgs[:n] {
		h := &b.hdrs[i]
		msgs[i].N, msgs[i].Flags = int(h.Len), recvFlags(h.Hdr.Flags)
		msgs[i].Addr = b.names[i].get()
		if h.Hdr.Namelen == 0 { // a connected socket's peer may go unnamed
			msgs[i].Addr = netip.AddrPort{}
		}
	}
	return n, nil
}

func (b *batchState) send(fd int, msgs []Message) (int, error) {
	b.prepare(msgs)
	defer b.release(len(msgs))
	for i := range msgs {
		if to := msgs[i].Addr; to.IsValid() {
			b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
			b.hdrs[i].Hdr.Namelen = uint32(b.names[i].put(unmapAddrPort(to), false))
		}
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.hdrs[0])),
		uintptr(len(msgs)), trySendFlags, 0, 0)
	if e != 0 {
		return 0, e
	}
	n := int(r)
	for i := range msgs[:n] {
		msgs[i].N = int(b.hdrs[i].Len)
	}
	return n, nil
}
