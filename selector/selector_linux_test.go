package selector_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/evsel/evsel"
	"github.com/evsel/evsel/selector"
)

func TestLinuxBackends(t *testing.T) {
	assert.Equal(t, []string{"epoll", "poll"}, selector.Backends())
	s, err := selector.New()
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "epoll", s.Backend())
}

// TestEpollRefusesRegularFile: epoll cannot watch regular files; the error
// comes back from Register and no key is left behind.
func TestEpollRefusesRegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "regular"))
	require.NoError(t, err)
	defer f.Close()
	s := newSelector(t, "epoll")
	_, err = s.Register(f, selector.EventRead, nil)
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.Zero(t, s.Map().Len())
}

// TestModifyRefusedDropsKey: Python's test_modify_unregister (bpo-30014).
// When the kernel refuses a Modify, because the descriptor was closed or
// closed and its number given to another socket, the key is dropped and
// the error says why.
func TestModifyRefusedDropsKey(t *testing.T) {
	s := newSelector(t, "epoll")
	a, _ := socketPair(t)
	fd := int(a.Fd())
	_, err := s.Register(fd, selector.EventRead, nil)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	_, err = s.Modify(fd, selector.EventWrite, nil)
	assert.ErrorIs(t, err, syscall.EBADF)
	_, err = s.Key(fd)
	assert.ErrorIs(t, err, selector.ErrNotRegistered, "the key went with the refusal")
	assert.Zero(t, s.Map().Len())

	// The number reused by another socket, which epoll does not know.
	b, _ := socketPair(t)
	_, err = s.Register(b, selector.EventRead, nil)
	require.NoError(t, err)
	reused, _ := socketPair(t)
	require.NoError(t, unix.Dup3(int(reused.Fd()), int(b.Fd()), unix.O_CLOEXEC))
	_, err = s.Modify(b, selector.EventWrite, nil)
	assert.ErrorIs(t, err, syscall.ENOENT, "Python: FileNotFoundError")
	assert.ErrorIs(t, err, evsel.ErrNotRegistered)
	assert.Zero(t, s.Map().Len())
}
