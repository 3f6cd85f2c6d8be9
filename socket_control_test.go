package evsel_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// controlCall is what a ListenConfig.Control saw.
type controlCall struct {
	network, address string
	fd               uintptr
}

// recordControl is a Control that records its calls and returns err.
func recordControl(calls *[]controlCall, err error) evsel.ControlFunc {
	return func(network, address string, c syscall.RawConn) error {
		call := controlCall{network: network, address: address}
		if cerr := c.Control(func(fd uintptr) { call.fd = fd }); cerr != nil {
			return cerr
		}
		*calls = append(*calls, call)
		return err
	}
}

// Control gets net's arguments: the network named by the socket's family
// and kind, the address about to be bound, and the socket's descriptor.
func TestListenConfigControl(t *testing.T) {
	var calls []controlCall
	lc := evsel.ListenConfig{Control: recordControl(&calls, nil)}

	ln, err := lc.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, ln)
	require.Len(t, calls, 1)
	assert.Equal(t, controlCall{"tcp4", "127.0.0.1:0", ln.Fd()}, calls[0])

	pc, err := lc.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	cleanupClose(t, pc)
	require.Len(t, calls, 2)
	assert.Equal(t, controlCall{"udp4", "127.0.0.1:0", pc.Fd()}, calls[1])

	// DualStack's socket is IPv6's, as Go's net names it.
	lc.DualStack = true
	if ds, err := lc.Listen("tcp", ":0"); err == nil {
		cleanupClose(t, ds)
		require.Len(t, calls, 3)
		if ds.Family() == evsel.IPv6 {
			assert.Equal(t, controlCall{"tcp6", "[::]:0", ds.Fd()}, calls[2])
		} else { // no IPv6 here: IPv4's wildcard
			assert.Equal(t, controlCall{"tcp4", "0.0.0.0:0", ds.Fd()}, calls[2])
		}
	}
}

// An error from Control fails the Listen with it, and the socket is closed
// rather than bound: the port stays free.
func TestListenConfigControlError(t *testing.T) {
	refused := errors.New("refused by Control")
	var calls []controlCall
	lc := evsel.ListenConfig{Control: recordControl(&calls, refused)}

	probe, err := evsel.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := tcpAddr(t, mustLocal(t, probe)).String()
	require.NoError(t, probe.Close())

	_, err = lc.Listen("tcp", addr)
	assert.ErrorIs(t, err, refused)
	_, err = lc.ListenPacket("udp", "127.0.0.1:0")
	assert.ErrorIs(t, err, refused)
	assert.Len(t, calls, 2)

	// Not bound: a plain Listen gets the same port.
	again, err := evsel.Listen("tcp", addr)
	require.NoError(t, err)
	again.Close()
}

// A Socket's RawConn runs Control and nothing else, and none once closed.
func TestSocketSyscallConn(t *testing.T) {
	s, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	rc, err := s.SyscallConn()
	require.NoError(t, err)
	var seen uintptr
	require.NoError(t, rc.Control(func(fd uintptr) { seen = fd }))
	assert.Equal(t, s.Fd(), seen)
	assert.ErrorIs(t, rc.Read(func(uintptr) bool { return true }), errors.ErrUnsupported)
	assert.ErrorIs(t, rc.Write(func(uintptr) bool { return true }), errors.ErrUnsupported)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, rc.Control(func(uintptr) { t.Error("Control ran on a closed socket") }), evsel.ErrClosed)
	_, err = s.SyscallConn()
	assert.ErrorIs(t, err, evsel.ErrClosed)
}

// RunControl names a socket's network as Go's net does.
func TestRunControlNetworks(t *testing.T) {
	check := func(s *evsel.Socket, addr net.Addr, want string) {
		t.Helper()
		var got string
		err := evsel.RunControl(func(network, address string, _ syscall.RawConn) error {
			got = network
			assert.Equal(t, addr.String(), address)
			return nil
		}, s, addr)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	v4, err := evsel.NewSocket(evsel.IPv4)
	require.NoError(t, err)
	defer v4.Close()
	check(v4, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 80}, "tcp4")
	udp4, err := evsel.NewDatagramSocket(evsel.IPv4)
	require.NoError(t, err)
	defer udp4.Close()
	check(udp4, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 53}, "udp4")
	if v6, err := evsel.NewSocket(evsel.IPv6); err == nil {
		defer v6.Close()
		check(v6, &net.TCPAddr{IP: net.IPv6loopback, Port: 80}, "tcp6")
	}
	assert.NoError(t, evsel.RunControl(nil, v4, &net.TCPAddr{}), "no Control, nothing to run")
}
