//go:build unix

package selector_test

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel/selector"
)

// Pipes, through *os.File and raw descriptors: unix only.

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// rawFd returns f's descriptor without (*os.File).Fd's side effects.
func rawFd(t *testing.T, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	fd := -1
	require.NoError(t, rc.Control(func(d uintptr) { fd = int(d) }))
	return fd
}

func TestPipeReadWrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		for name, byFd := range map[string]bool{"os.File": false, "raw descriptor": true} {
			t.Run(name, func(t *testing.T) {
				s := newSelector(t, backend)
				r, w := pipe(t)
				var rf, wf any = r, w
				if byFd {
					rf, wf = rawFd(t, r), rawFd(t, w)
				}
				rk, err := s.Register(rf, selector.EventRead, nil)
				require.NoError(t, err)
				assert.Equal(t, rawFd(t, r), rk.Fd)
				wk, err := s.Register(wf, selector.EventWrite, nil)
				require.NoError(t, err)

				assert.Equal(t, selector.EventWrite, readyEvents(t, s, wk))
				assert.Zero(t, readyEvents(t, s, rk))
				_, err = w.Write([]byte("through the pipe"))
				require.NoError(t, err)
				selectUntil(t, s, map[*selector.Key]selector.Events{rk: selector.EventRead, wk: selector.EventWrite})
				buf := make([]byte, 64)
				n, err := r.Read(buf)
				require.NoError(t, err)
				assert.Equal(t, "through the pipe", string(buf[:n]))
				assert.Zero(t, readyEvents(t, s, rk))
			})
		}
	})
}

// TestRegisterKeepsFileMode: registering an *os.File must not switch it to
// blocking mode, as (*os.File).Fd does: its reads would then block an OS
// thread and ignore their deadlines.
func TestRegisterKeepsFileMode(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		r, _ := pipe(t)
		nonblocking := func() bool {
			fl, err := unix.FcntlInt(uintptr(rawFd(t, r)), unix.F_GETFL, 0)
			require.NoError(t, err)
			return fl&unix.O_NONBLOCK != 0
		}
		require.True(t, nonblocking(), "os.Pipe files start non-blocking")
		_, err := s.Register(r, selector.EventRead, nil)
		require.NoError(t, err)
		_, err = s.Key(r)
		require.NoError(t, err)
		_, err = s.Unregister(r)
		require.NoError(t, err)
		assert.True(t, nonblocking(), "the selector switched the file to blocking mode")

		require.NoError(t, r.SetReadDeadline(time.Now().Add(-time.Second)))
		_, err = r.Read(make([]byte, 8))
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})
}

func TestPipeHangUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		t.Run("writer closed", func(t *testing.T) {
			s := newSelector(t, backend)
			r, w := pipe(t)
			k, err := s.Register(r, selector.EventRead, nil)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			selectUntil(t, s, map[*selector.Key]selector.Events{k: selector.EventRead})
			_, err = r.Read(make([]byte, 8))
			assert.ErrorIs(t, err, io.EOF)
		})
		t.Run("reader closed", func(t *testing.T) {
			s := newSelector(t, backend)
			r, w := pipe(t)
			k, err := s.Register(w, selector.EventWrite, nil)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			selectUntil(t, s, map[*selector.Key]selector.Events{k: selector.EventWrite})
			_, err = w.Write([]byte("nobody listens"))
			assert.ErrorIs(t, err, syscall.EPIPE)
		})
	})
}

func TestUnregisterClosedFile(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := newSelector(t, backend)
		r, w := pipe(t)
		kr, err := s.Register(r, selector.EventRead, nil)
		require.NoError(t, err)
		kw, err := s.Register(w, selector.EventWrite, nil)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.NoError(t, w.Close())

		k, ok := s.Map().Get(r)
		assert.True(t, ok, "a closed file is still found by identity")
		assert.Same(t, kr, k)
		got, err := s.Unregister(r)
		require.NoError(t, err)
		assert.Same(t, kr, got)
		got, err = s.Unregister(w)
		require.NoError(t, err)
		assert.Same(t, kw, got)
		_, err = s.Unregister(w)
		assert.True(t, errors.Is(err, selector.ErrInvalidFile) || errors.Is(err, selector.ErrNotRegistered), "%v", err)
		assert.Zero(t, s.Map().Len())
	})
}
