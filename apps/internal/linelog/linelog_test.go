package linelog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockedWriter is a destination that never returns from Write, like a
// pipe nobody reads.
type blockedWriter struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return len(p), nil
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInOrderAndComplete(t *testing.T) {
	var buf syncBuffer
	w := New(&buf, 0, 0)
	var want strings.Builder
	for i := range 1000 {
		switch i % 4 {
		case 0:
			w.Line(fmt.Sprint("line ", i))
		case 1:
			w.Printf("printf %d\n", i)
		case 2:
			w.Println("println", i)
		default:
			w.Write([]byte(fmt.Sprintf("write %d\n", i)))
		}
		want.WriteString([]string{"line ", "printf ", "println ", "write "}[i%4] + fmt.Sprint(i) + "\n")
	}
	require.True(t, w.Flush(10*time.Second))
	assert.Equal(t, want.String(), buf.String())
	assert.Zero(t, w.Close(time.Second))
}

// TestBlockedDestination: with a destination that never takes a byte,
// producers never wait, the lines that do not fit are counted, and Close
// returns at its deadline with everything unwritten counted as lost.
func TestBlockedDestination(t *testing.T) {
	dst := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(dst.release) // let the writer goroutine go at the end
	const maxLines = 100
	w := New(dst, maxLines, 1<<20)
	w.Line("first")
	<-dst.entered // the goroutine is stuck writing "first"

	const producers, each = 4, 5000
	var wg sync.WaitGroup
	start := time.Now()
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				w.Printf("producer %d line %d\n", p, i)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("producers blocked on a stuck destination")
	}
	t.Logf("%d lines queued or dropped in %v", producers*each, time.Since(start))
	assert.Equal(t, int64(producers*each-maxLines), w.Dropped(), "all but the queue's capacity dropped")

	assert.False(t, w.Flush(50*time.Millisecond))
	t0 := time.Now()
	lost := w.Close(200 * time.Millisecond)
	took := time.Since(t0)
	assert.Less(t, took, 5*time.Second, "Close keeps to its deadline")
	assert.GreaterOrEqual(t, took, 200*time.Millisecond)
	// Lost: the dropped, the queued and the one being written.
	assert.Equal(t, int64(producers*each+1), lost)
	w.Line("after close")
	assert.Equal(t, lost+1, w.Close(time.Millisecond), "lines after Close are dropped too")
}

// TestByteBound: the queue is bounded in bytes as well as lines.
func TestByteBound(t *testing.T) {
	dst := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	w := New(dst, 1000, 100)
	w.Line("x")
	<-dst.entered
	long := strings.Repeat("y", 39) // 40 bytes with the newline
	for range 5 {
		w.Line(long)
	}
	assert.Equal(t, int64(3), w.Dropped(), "two 40-byte lines fit in 100 bytes")
	close(dst.release)
	assert.Equal(t, int64(3), w.Close(10*time.Second))
}
