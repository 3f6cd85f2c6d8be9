package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestDialPacketOptions: DialPacket honours WithLocalAddr (the server sees
// the source port chosen), WithControl (called once, with the address
// dialed, before the bind), WithData and WithLoop, and refuses WithTLS
// and another engine's loop.
func TestDialPacketOptions(t *testing.T) {
	froms := make(chan PacketAddr, 16)
	_, addr := startPacket(t, "udp", "127.0.0.1:0", PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
		froms <- from
		pc.WriteTo(data, from)
	}), Options{Loops: 1})
	e, err := New(Funcs{}, Options{Loops: 2, Logger: quietLog})
	require.NoError(t, err)
	defer stop(t, e)

	// A port free a moment ago (found with evsel's socket: Go's net UDP
	// fails under Wine).
	free, err := evsel.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	freeAddr, err := free.LocalAddr()
	require.NoError(t, err)
	port := freeAddr.(*net.UDPAddr).Port
	require.NoError(t, free.Close())

	var cl controlLog
	type echo struct {
		data   any
		loopID int
	}
	echoes := make(chan echo, 16)
	pc, err := e.DialPacket(context.Background(), "udp", addr.String(),
		PacketFunc(func(pc *PacketConn, data []byte, from PacketAddr) {
			echoes <- echo{pc.Data(), pc.Loop().ID()}
		}),
		WithLocalAddr(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}),
		WithControl(cl.control), WithData("mine"), WithLoop(e.Loops()[1]))
	require.NoError(t, err)
	assert.Equal(t, port, pc.LocalAddr().(*net.UDPAddr).Port)
	calls := cl.get()
	require.Len(t, calls, 1)
	assert.Equal(t, controlCall{network: "udp4", address: addr.String(), fd: calls[0].fd}, calls[0])

	var got echo
	for try := 0; ; try++ { // a datagram may be lost, even on loopback
		require.NoError(t, pc.AsyncWriteTo([]byte("ping"), PacketAddr{}))
		select {
		case got = <-echoes:
		case <-time.After(time.Second):
			require.Less(t, try, 10, "no echo")
			continue
		}
		break
	}
	assert.Equal(t, echo{"mine", 1}, got)
	assert.Equal(t, uint16(port), (<-froms).AddrPort.Port())
	require.NoError(t, pc.AsyncClose())

	_, err = e.DialPacket(context.Background(), "udp", addr.String(), PacketFunc(func(*PacketConn, []byte, PacketAddr) {}),
		WithTLS(&tls.Config{}))
	assert.Error(t, err, "no DTLS")
	other := newClientEngine(t)
	_, err = e.DialPacket(context.Background(), "udp", addr.String(), PacketFunc(func(*PacketConn, []byte, PacketAddr) {}),
		WithLoop(other.Loops()[0]))
	assert.Error(t, err)
	refused := errors.New("refused by WithControl")
	_, err = e.DialPacket(context.Background(), "udp", addr.String(), PacketFunc(func(*PacketConn, []byte, PacketAddr) {}),
		WithControl(func(string, string, syscall.RawConn) error { return refused }))
	assert.ErrorIs(t, err, refused)
}
