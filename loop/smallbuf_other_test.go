//go:build !linux

package loop

import "errors"

const smallBuffersEnv = "EVSEL_TEST_SMALL_BUFFERS"

// setUpSmallBuffers: the namespace is Linux's (smallbuf_linux_test.go).
func setUpSmallBuffers() error { return errors.ErrUnsupported }
