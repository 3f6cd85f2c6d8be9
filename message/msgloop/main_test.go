package msgloop_test

import (
	"testing"

	"github.com/evsel/evsel/internal/leakcheck"
)

// The interop tests run child processes and goroutines that copy their
// output; leakcheck makes sure every one of them is gone when the tests end.
func TestMain(m *testing.M) {
	leakcheck.Main(m)
}
