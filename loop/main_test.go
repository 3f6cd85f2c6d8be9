package loop

import (
	"os"
	"testing"

	"github.com/evsel/evsel/internal/leakcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild() // the re-executed test binary of TestAcceptUnderFdExhaustion
		return
	}
	if os.Getenv(handoffChildEnv) != "" {
		runHandoffChild() // the successor process of TestHandoff
		return
	}
	leakcheck.Main(m)
}
