package evsel_test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/evsel/evsel/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// udpPair returns a bound UDP server socket and a client connected to it,
// both of the family of host ("127.0.0.1" or "::1").
func udpPair(t *testing.T, host string) (client, server *evsel.Socket) {
	t.Helper()
	server, err := evsel.ListenPacket("udp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	cleanupClose(t, server)
	la, err := server.LocalAddr()
	require.NoError(t, err)
	_, ok := la.(*net.UDPAddr)
	require.Truef(t, ok, "a datagram socket's address is a *net.UDPAddr, not %T", la)
	client, err = evsel.DialPacket("udp", la.String())
	require.NoError(t, err)
	cleanupClose(t, client)
	return client, server
}

// recvWait receives one datagram, waiting on p for s to be readable.
// sendRecvAllocs is the allocations of one SendTo of msg from tx to and
// the RecvFrom of it on rx, averaged over runs.
func sendRecvAllocs(runs int, tx, rx *evsel.Socket, msg []byte, to netip.AddrPort, buf []byte) float64 {
	return testing.AllocsPerRun(runs, func() {
		if _, err := tx.SendTo(msg, to); err != nil {
			panic(err)
		}
		for {
			_, _, _, err := rx.RecvFrom(buf)
			if err == evsel.ErrWouldBlock {
				runtime.Gosched()
				continue
			}
			if err != nil {
				panic(err)
			}
			return
		}
	})
}

func recvWait(t *testing.T, p evsel.Poller, s *evsel.Socket, buf []byte) (int, netip.AddrPort, evsel.RecvFlags) {
	t.Helper()
	for {
		n, from, flags, err := s.RecvFrom(buf)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(s.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		return n, from, flags
	}
}

// TestDatagramExchange: on every backend and both IP families, a datagram
// goes from a connected client to a bound server, which learns the
// client's address from RecvFrom and answers it with SendTo.
func TestDatagramExchange(t *testing.T) {
	hosts := []string{"127.0.0.1"}
	if haveIPv6Loopback() {
		hosts = append(hosts, "::1")
	}
	eachBackend(t, func(t *testing.T, backend string) {
		for _, host := range hosts {
			t.Run(host, func(t *testing.T) {
				p := newPoller(t, backend)
				client, server := udpPair(t, host)
				require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
				require.NoError(t, p.Add(int(client.Fd()), evsel.EventRead))
				defer p.Delete(int(server.Fd()))
				defer p.Delete(int(client.Fd()))

				_, _, _, err := server.RecvFrom(make([]byte, 8))
				assert.Equal(t, evsel.ErrWouldBlock, err, "ErrWouldBlock comes back unwrapped")

				n, err := client.SendTo([]byte("ping"), netip.AddrPort{})
				require.NoError(t, err)
				assert.Equal(t, 4, n)
				buf := make([]byte, 64)
				n, from, flags := recvWait(t, p, server, buf)
				assert.Equal(t, "ping", string(buf[:n]))
				assert.Zero(t, flags)
				cl, err := client.LocalAddr()
				require.NoError(t, err)
				assert.Equal(t, evsel.AddrPortOf(cl), from, "RecvFrom names the sender")

				_, err = server.SendTo([]byte("pong!"), from)
				require.NoError(t, err)
				n, from2, _ := recvWait(t, p, client, buf)
				assert.Equal(t, "pong!", string(buf[:n]))
				sl, err := server.LocalAddr()
				require.NoError(t, err)
				assert.Equal(t, evsel.AddrPortOf(sl), from2)

				// An empty datagram is a datagram, not an end of file.
				_, err = client.Write(nil)
				require.NoError(t, err)
				n, _, _ = recvWait(t, p, server, buf)
				assert.Zero(t, n)
			})
		}
	})
}

// TestDatagramTruncated: a datagram longer than the buffer is cut, and
// RecvFrom says so.
func TestDatagramTruncated(t *testing.T) {
	p := newPoller(t, evsel.Backends()[0])
	client, server := udpPair(t, "127.0.0.1")
	require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
	defer p.Delete(int(server.Fd()))
	msg := bytes.Repeat([]byte("0123456789"), 10)
	_, err := client.SendTo(msg, netip.AddrPort{})
	require.NoError(t, err)
	buf := make([]byte, 10)
	n, _, flags := recvWait(t, p, server, buf)
	assert.Equal(t, 10, n)
	assert.Equal(t, evsel.Truncated, flags)
	assert.Equal(t, msg[:10], buf)

	// The next datagram is whole again: the tail of the first is gone.
	_, err = client.SendTo([]byte("short"), netip.AddrPort{})
	require.NoError(t, err)
	n, _, flags = recvWait(t, p, server, buf)
	assert.Equal(t, "short", string(buf[:n]))
	assert.Zero(t, flags)
}

// TestDatagramBatch: SendBatch and RecvBatch move many datagrams (in one
// call each on Linux), each to and from its own address.
func TestDatagramBatch(t *testing.T) {
	p := newPoller(t, evsel.Backends()[0])
	client, server := udpPair(t, "127.0.0.1")
	require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
	require.NoError(t, p.Add(int(client.Fd()), evsel.EventRead))
	defer p.Delete(int(server.Fd()))
	defer p.Delete(int(client.Fd()))
	sa, err := server.LocalAddr()
	require.NoError(t, err)

	const count = 20
	out := evsel.NewBatch(count)
	for i := range out.Msgs {
		out.Msgs[i] = evsel.Message{Buf: fmt.Appendf(nil, "datagram %d", i), Addr: evsel.AddrPortOf(sa)}
	}
	sent := 0
	for sent < count {
		b := &evsel.Batch{Msgs: out.Msgs[sent:]}
		n, err := client.SendBatch(b)
		require.NoError(t, err)
		sent += n
	}
	in := evsel.NewBatch(8)
	for i := range in.Msgs {
		in.Msgs[i].Buf = make([]byte, 64)
	}
	got := 0
	reply := evsel.NewBatch(8)
	for got < count {
		n, err := server.RecvBatch(in)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(server.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		require.Positive(t, n)
		for i, m := range in.Msgs[:n] {
			assert.Equal(t, fmt.Sprintf("datagram %d", got+i), string(m.Buf[:m.N]))
			reply.Msgs[i] = evsel.Message{Buf: m.Buf[:m.N], Addr: m.Addr}
		}
		rb := &evsel.Batch{Msgs: reply.Msgs[:n]}
		k, err := server.SendBatch(rb)
		require.NoError(t, err)
		require.Equal(t, n, k)
		got += n
	}
	buf := make([]byte, 64)
	for i := range count {
		n, _, _ := recvWait(t, p, client, buf)
		assert.Equal(t, fmt.Sprintf("datagram %d", i), string(buf[:n]))
	}
}

// TestDatagramClosedWhileRegistered: a datagram socket closed while a
// poller watches it is forgotten, and a new socket (likely given the same
// descriptor) registers and is served.
func TestDatagramClosedWhileRegistered(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		p := newPoller(t, backend)
		s, err := evsel.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		fd := int(s.Fd())
		require.NoError(t, p.Add(fd, evsel.EventRead))
		require.NoError(t, s.Close())
		_ = p.Delete(fd) // may fail: the kernel may have forgotten it already
		assert.Zero(t, readyNow(t, p, fd), "a closed socket is not reported")

		client, server := udpPair(t, "127.0.0.1")
		require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
		defer p.Delete(int(server.Fd()))
		_, err = client.Write([]byte("again"))
		require.NoError(t, err)
		buf := make([]byte, 16)
		n, _, _ := recvWait(t, p, server, buf)
		assert.Equal(t, "again", string(buf[:n]))
	})
}

// TestDatagramOptions: the datagram options take on a UDP socket.
func TestDatagramOptions(t *testing.T) {
	s, err := evsel.ListenPacket("udp4", "0.0.0.0:0")
	require.NoError(t, err)
	cleanupClose(t, s)
	assert.NoError(t, s.SetBroadcast(true))
	assert.NoError(t, s.SetReadBuffer(256<<10))
	assert.NoError(t, s.SetWriteBuffer(256<<10))
	assert.Error(t, s.JoinGroup(nil, netip.MustParseAddr("127.0.0.1")), "not a multicast group")
	if ifi := multicastLoopback(); ifi != nil {
		group := netip.MustParseAddr("239.255.42.99")
		if err := s.JoinGroup(ifi, group); err == nil {
			assert.NoError(t, s.LeaveGroup(ifi, group))
		} else {
			t.Logf("joining a group on %s: %v (no multicast route here)", ifi.Name, err)
		}
	}
}

func multicastLoopback() *net.Interface {
	ifs, _ := net.Interfaces()
	for i := range ifs {
		if ifs[i].Flags&net.FlagMulticast != 0 && ifs[i].Flags&net.FlagUp != 0 {
			return &ifs[i]
		}
	}
	return nil
}

// TestDatagramAllocs: SendTo and RecvFrom allocate nothing where the
// system calls are raw (Linux, Windows).
func TestDatagramAllocs(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("x/sys builds the address on " + runtime.GOOS)
	}
	client, server := udpPair(t, "127.0.0.1")
	sa, err := server.LocalAddr()
	require.NoError(t, err)
	to := evsel.AddrPortOf(sa)
	msg, buf := []byte("x"), make([]byte, 16)
	assert.Zero(t, sendRecvAllocs(100, client, server, msg, to, buf))
}

// TestUnixDatagram: Unix datagram sockets send to and receive from paths.
func TestUnixDatagram(t *testing.T) {
	if runtime.GOOS == "windows" {
		_, err := evsel.NewDatagramSocket(evsel.Unix)
		assert.Error(t, err, "Windows has no Unix datagram sockets")
		return
	}
	dir := t.TempDir()
	a, err := evsel.ListenPacket("unixgram", filepath.Join(dir, "a"))
	require.NoError(t, err)
	cleanupClose(t, a)
	b, err := evsel.ListenPacket("unixgram", filepath.Join(dir, "b"))
	require.NoError(t, err)
	cleanupClose(t, b)
	la, err := a.LocalAddr()
	require.NoError(t, err)
	assert.Equal(t, "unixgram", la.Network())
	p := newPoller(t, evsel.Backends()[0])
	require.NoError(t, p.Add(int(b.Fd()), evsel.EventRead))
	defer p.Delete(int(b.Fd()))

	_, err = a.SendToPath([]byte("hello"), filepath.Join(dir, "b"))
	require.NoError(t, err)
	buf := make([]byte, 3)
	for {
		n, from, flags, err := b.RecvFromPath(buf)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(b.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "hel", string(buf[:n]))
		assert.Equal(t, evsel.Truncated, flags)
		assert.Equal(t, filepath.Join(dir, "a"), from)
		break
	}

	// An unnamed sender has no path to answer.
	c, err := evsel.DialPacket("unixgram", filepath.Join(dir, "b"))
	require.NoError(t, err)
	cleanupClose(t, c)
	_, err = c.Write([]byte("hi"))
	require.NoError(t, err)
	buf = make([]byte, 16)
	for {
		n, from, _, err := b.RecvFromPath(buf)
		if err == evsel.ErrWouldBlock {
			waitFor(t, p, int(b.Fd()), evsel.EventRead)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "hi", string(buf[:n]))
		assert.Equal(t, "", from)
		break
	}
}

// TestUnixDatagramReceiverFull: a receiver that does not read fills its
// queue, and then a send to it fails with ErrReceiverFull, not
// ErrWouldBlock: the sender is writable, and sends to other receivers go.
func TestUnixDatagramReceiverFull(t *testing.T) {
	testenv.NeedShortUnixDgramQueue(t)
	dir := t.TempDir()
	listen := func(name string) *evsel.Socket {
		s, err := evsel.ListenPacket("unixgram", filepath.Join(dir, name))
		require.NoError(t, err)
		cleanupClose(t, s)
		return s
	}
	a, b, c := listen("a"), listen("b"), listen("c")
	var err error
	sent := 0
	for ; sent < 100_000; sent++ { // the queue holds net.unix.max_dgram_qlen datagrams
		if _, err = a.SendToPath([]byte("x"), filepath.Join(dir, "b")); err != nil {
			break
		}
	}
	require.Error(t, err, "a receiver that never reads took every datagram")
	assert.Positive(t, sent)
	if runtime.GOOS == "linux" { // the BSDs answer ENOBUFS
		assert.Equal(t, evsel.ErrReceiverFull, err)
	}
	assert.NotEqual(t, evsel.ErrWouldBlock, err, "waiting for WRITE would not help")

	_, err = a.SendToPath([]byte("y"), filepath.Join(dir, "c"))
	require.NoError(t, err, "another receiver still gets its datagrams")
	buf := make([]byte, 4)
	n, _, _, err := c.RecvFromPath(buf)
	require.NoError(t, err)
	assert.Equal(t, "y", string(buf[:n]))

	n, _, _, err = b.RecvFromPath(buf) // one read makes room for one more
	require.NoError(t, err)
	assert.Equal(t, "x", string(buf[:n]))
	_, err = a.SendToPath([]byte("x"), filepath.Join(dir, "b"))
	assert.NoError(t, err)
}

// TestDatagramReadEmpty: Read and TryRead of an empty datagram give (0,
// nil), as Go's net and Python's recv do: a datagram socket has no end of
// stream, and io.EOF would tell the caller it is done with a socket that
// still has datagrams to read.
func TestDatagramReadEmpty(t *testing.T) {
	client, server := udpPair(t, "127.0.0.1")
	for _, read := range []func([]byte) (int, error){client.Read, client.TryRead} {
		for _, msg := range []string{"", "after"} {
			_, err := server.SendTo([]byte(msg), evsel.AddrPortOf(mustLocal(t, client)))
			require.NoError(t, err)
		}
		buf := make([]byte, 16)
		n, err := readWait(t, read, buf)
		require.NoError(t, err, "the empty datagram")
		assert.Zero(t, n)
		n, err = readWait(t, read, buf)
		require.NoError(t, err)
		assert.Equal(t, "after", string(buf[:n]))
	}
}

func mustLocal(t *testing.T, s *evsel.Socket) net.Addr {
	t.Helper()
	a, err := s.LocalAddr()
	require.NoError(t, err)
	return a
}

// readWait calls read until it gives something other than ErrWouldBlock.
func readWait(t *testing.T, read func([]byte) (int, error), buf []byte) (int, error) {
	t.Helper()
	deadline := time.Now().Add(watchdog)
	for {
		n, err := read(buf)
		if err != evsel.ErrWouldBlock || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(time.Millisecond)
	}
}

// linkLocal returns an up interface's IPv6 link-local address, with its
// zone by name, or skips.
func linkLocal(t *testing.T) netip.Addr {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
					return ip.WithZone(ifi.Name)
				}
			}
		}
	}
	t.Skip("no IPv6 link-local address here")
	return netip.Addr{}
}

// TestDatagramLinkLocalZone: a link-local sender's address comes with its
// zone named as Go's net, LocalAddrPort and RemoteAddrPort name it, so the
// same peer's address compares equal from anywhere; a reply to it, or to
// any address zoned by name, goes without asking the system for the
// interface each time.
func TestDatagramLinkLocalZone(t *testing.T) {
	ll := linkLocal(t)
	p := newPoller(t, evsel.Backends()[0])
	bind := net.JoinHostPort(ll.String(), "0")
	server, err := evsel.ListenPacket("udp6", bind)
	if err != nil {
		t.Skipf("binding %s: %v", bind, err)
	}
	cleanupClose(t, server)
	srvAddr, err := server.LocalAddrPort()
	require.NoError(t, err)
	client, err := evsel.DialPacket("udp6", srvAddr.String())
	require.NoError(t, err)
	cleanupClose(t, client)
	require.NoError(t, p.Add(int(server.Fd()), evsel.EventRead))
	require.NoError(t, p.Add(int(client.Fd()), evsel.EventRead))
	defer p.Delete(int(server.Fd()))
	defer p.Delete(int(client.Fd()))

	_, err = client.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	_, from, _ := recvWait(t, p, server, buf)
	cl, err := client.LocalAddrPort()
	require.NoError(t, err)
	assert.Equal(t, ll.Zone(), from.Addr().Zone(), "the zone is not named as net names it")
	assert.Equal(t, cl, from, "RecvFrom and LocalAddrPort disagree on the same address")
	remote, err := client.RemoteAddr()
	require.NoError(t, err)
	assert.Equal(t, evsel.AddrPortOf(remote), srvAddr)

	_, err = server.SendTo([]byte("pong"), from)
	require.NoError(t, err)
	n, from2, _ := recvWait(t, p, client, buf)
	assert.Equal(t, "pong", string(buf[:n]))
	assert.Equal(t, srvAddr, from2)

	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		return // x/sys builds the addresses elsewhere
	}
	assert.Zero(t, sendRecvAllocs(50, server, client, []byte("x"), from, buf),
		"a send to or a receive from a zoned address asks the system for its interface")
}
