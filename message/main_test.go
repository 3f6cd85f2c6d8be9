package message

import (
	"testing"

	"go.uber.org/goleak"
)

// The interop tests run child processes and goroutines that copy their
// output; goleak makes sure every one of them is gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
