package bounds

import (
	"flag"
	"runtime/debug"
	"testing"
	"time"

	"github.com/evsel/evsel/loop"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultsAndApply(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := Register(fs)
	require.NoError(t, fs.Parse(nil))
	var o loop.Options
	f.Apply(&o)
	assert.Equal(t, 60*time.Second, o.IdleTimeout)
	assert.Equal(t, 10*time.Second, o.LingerTimeout)
	assert.Equal(t, 10*time.Second, o.FirstByteTimeout)
	assert.Positive(t, o.MaxConns)
	assert.Equal(t, int64(DefaultMaxMemory), o.MaxMemory)

	require.NoError(t, fs.Parse([]string{"-idle-timeout=0", "-linger=2s", "-first-byte-timeout=0", "-max-conns=0", "-max-memory=0"}))
	f.Apply(&o)
	assert.Equal(t, loop.Options{LingerTimeout: 2 * time.Second}, o)
}

func TestApplySetsTheHeapLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)

	f := &Flags{MaxMemory: 32 << 20}
	f.Apply(&loop.Options{})
	assert.Equal(t, int64(32<<20+HeapSlack), debug.SetMemoryLimit(-1))

	// Without a budget, and where GOMEMLIMIT speaks, the limit is left alone.
	debug.SetMemoryLimit(old)
	(&Flags{}).Apply(&loop.Options{})
	assert.Equal(t, old, debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "1GiB")
	f.Apply(&loop.Options{})
	assert.Equal(t, old, debug.SetMemoryLimit(-1))
}
