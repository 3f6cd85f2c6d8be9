package evsel_test

import (
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evsel/evsel"
)

// TestMulticastOnHost: a multicast datagram sent by the interface of
// SetMulticastInterface, with a TTL (hop limit) of 0 so that it never
// leaves the host, reaches a socket that joined the group on that
// interface, through the loopback SetMulticastLoopback turns on, for IPv4
// and IPv6. With loopback off at the sender, it does not (Linux and the
// BSDs; Windows applies the option on the receiving side). The options'
// bounds are checked too.
func TestMulticastOnHost(t *testing.T) {
	ifi := multicastLoopback()
	if ifi == nil {
		t.Skip("no interface up with multicast")
	}
	cases := []struct {
		network string
		family  evsel.Family
		group   netip.Addr
	}{
		{"udp4", evsel.IPv4, netip.MustParseAddr("239.255.42.99")},
		{"udp6", evsel.IPv6, netip.MustParseAddr("ff12::e75e:1")}, // transient, link-local
	}
	for _, tc := range cases {
		t.Run(tc.network, func(t *testing.T) {
			any := "0.0.0.0:0"
			if tc.family == evsel.IPv6 {
				any = "[::]:0"
			}
			recv, err := evsel.ListenPacket(tc.network, any)
			if err != nil && tc.family == evsel.IPv6 {
				t.Skipf("no IPv6 here: %v", err)
			}
			require.NoError(t, err)
			cleanupClose(t, recv)
			if err := recv.JoinGroup(ifi, tc.group); err != nil {
				t.Skipf("joining %s on %s: %v (no multicast on it here)", tc.group, ifi.Name, err)
			}
			la, err := recv.LocalAddr()
			require.NoError(t, err)
			to := netip.AddrPortFrom(tc.group, uint16(la.(*net.UDPAddr).Port))

			send, err := evsel.NewDatagramSocket(tc.family)
			require.NoError(t, err)
			cleanupClose(t, send)
			require.NoError(t, send.SetMulticastInterface(ifi))
			require.NoError(t, send.SetMulticastTTL(0))
			assert.Error(t, send.SetMulticastTTL(256))
			assert.Error(t, send.SetMulticastTTL(-1))

			p := newPoller(t, evsel.Backends()[0])
			require.NoError(t, p.Add(int(recv.Fd()), evsel.EventRead))
			defer p.Delete(int(recv.Fd()))
			buf := make([]byte, 16)
			if runtime.GOOS != "windows" {
				// Loopback off: this one stays with the sender, so the
				// next is the first the member receives.
				require.NoError(t, send.SetMulticastLoopback(false))
				_, err = send.SendTo([]byte("not looped"), to)
				require.NoError(t, err)
			}
			require.NoError(t, send.SetMulticastLoopback(true))
			_, err = send.SendTo([]byte("looped"), to)
			require.NoError(t, err)
			n, _, _ := recvWait(t, p, recv, buf)
			assert.Equal(t, "looped", string(buf[:n]))

			require.NoError(t, send.SetMulticastInterface(nil), "back to the route")
			assert.NoError(t, recv.LeaveGroup(ifi, tc.group))
		})
	}
}
