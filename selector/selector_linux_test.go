package selector_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
