package loop

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAcceptErrorHandler: a failed accept reaches OnAcceptError on the
// listener's loop, with the listener's address; a handler that panics
// there is logged, and the loop serves on. (An EMFILE from a real
// descriptor table is in TestReserveDescriptorRefuses.)
func TestAcceptErrorHandler(t *testing.T) {
	type report struct {
		l    *Loop
		addr net.Addr
		err  error
	}
	reports := make(chan report, 2)
	h := echo
	h.AcceptError = func(l *Loop, addr net.Addr, err error) {
		reports <- report{l, addr, err}
		panic("in OnAcceptError")
	}
	e, addr := start(t, h, Options{Loops: 1})
	l := e.loops[0]
	require.NoError(t, l.Do(func() { l.listeners[0].acceptFailed(syscall.ECONNABORTED) }))
	var r report
	select {
	case r = <-reports:
	case <-time.After(10 * time.Second):
		t.Fatal("OnAcceptError was not called")
	}
	assert.Same(t, l, r.l)
	require.NotNil(t, r.addr)
	assert.Equal(t, addr, r.addr.String())
	assert.ErrorIs(t, r.err, syscall.ECONNABORTED)
	c := dial(t, addr)
	assert.Equal(t, []byte("on"), roundTrip(t, c, []byte("on")))
}
