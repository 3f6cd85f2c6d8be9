//go:build unix

package loop

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// udpRoundTrip sends msg to addr from a fresh socket and returns the echo.
func udpRoundTrip(t *testing.T, addr net.Addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", addr.String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

// TestServePacketAdoption: datagram sockets made elsewhere — a
// net.UDPConn, an *os.File, a raw descriptor, an inherited one — are
// served by the packet API, and the stream calls point at it.
func TestServePacketAdoption(t *testing.T) {
	e := newEngine(t, echo)

	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	addr := uc.LocalAddr()
	pc, err := e.ServePacketConn(uc, packetEcho)
	require.NoError(t, err)
	require.Equal(t, addr.String(), pc.LocalAddr().String())
	require.Equal(t, "from net", udpRoundTrip(t, addr, "from net"))
	_, err = uc.WriteTo([]byte("x"), addr)
	require.Error(t, err, "the caller's socket is closed once the engine serves its copy")

	uc2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	f, err := uc2.File()
	require.NoError(t, err)
	uc2.Close()
	pc, err = e.ServePacketFile(f, packetEcho)
	require.NoError(t, err)
	require.Equal(t, "from a file", udpRoundTrip(t, pc.LocalAddr(), "from a file"))

	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	_, err = e.ServeFD(uintptr(fd))
	require.ErrorContains(t, err, "ServePacketFD", "a listener call points at the packet API")
	pc, err = e.ServePacketFD(uintptr(fd), packetEcho)
	require.NoError(t, err)
	require.Equal(t, "from a descriptor", udpRoundTrip(t, pc.LocalAddr(), "from a descriptor"))

	// A listening stream socket is refused by the packet calls, and left open.
	ln := rawListener(t)
	_, err = e.ServePacketFD(uintptr(ln), packetEcho)
	require.ErrorIs(t, err, errNotDatagram)
	_, err = unix.FcntlInt(uintptr(ln), unix.F_GETFD, 0)
	require.NoError(t, err)

	// Inherited: a stream listener and a datagram socket side by side.
	ufd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(ufd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	t.Setenv(HandoffEnv, strconv.Itoa(ln)+","+strconv.Itoa(ufd))
	_, err = e.ServeInherited(nil)
	require.ErrorContains(t, err, "packet API", "without a PacketHandler a datagram socket is refused")

	ln = rawListener(t)
	ufd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(ufd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	t.Setenv(HandoffEnv, strconv.Itoa(ln)+","+strconv.Itoa(ufd))
	addrs, err := e.ServeInherited(packetEcho)
	require.NoError(t, err)
	require.Len(t, addrs, 2)
	c := dial(t, addrs[0].String())
	require.Equal(t, []byte("stream"), roundTrip(t, c, []byte("stream")))
	require.Equal(t, "datagram", udpRoundTrip(t, addrs[1], "datagram"))
	_, ok := os.LookupEnv(HandoffEnv)
	require.False(t, ok)
}

// TestPacketHandoff: ListenerFiles hands over a served datagram socket
// (not a connected one) and StopAccepting stops receiving on it, so the
// successor — another engine here, a child process in production — answers
// every datagram to the address from then on.
func TestPacketHandoff(t *testing.T) {
	tagged := func(tag string) PacketHandler {
		return PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
			pc.WriteTo(append([]byte(tag), data...), from)
		})
	}
	old := newEngine(t, echo)
	addr, err := old.ListenPacket("udp", "127.0.0.1:0", tagged("old "))
	require.NoError(t, err)
	peer := udpEchoServer(t)
	_, err = old.DialPacket(t.Context(), "udp", peer.String(), packetEcho)
	require.NoError(t, err)
	require.Equal(t, "old hi", udpRoundTrip(t, addr, "hi"))

	files, err := old.ListenerFiles()
	require.NoError(t, err)
	require.Len(t, files, len(old.Loops()), "one socket per loop, and not the connected one")
	successor := newEngine(t, echo)
	for _, f := range files {
		_, err := successor.ServePacketFile(f, tagged("new "))
		require.NoError(t, err)
	}
	require.NoError(t, old.StopAccepting())
	for i := range 20 {
		msg := "after " + strconv.Itoa(i)
		require.Equal(t, "new "+msg, udpRoundTrip(t, addr, msg))
	}
}
