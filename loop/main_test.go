package loop

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild() // the re-executed test binary of TestAcceptUnderFdExhaustion
		return
	}
	goleak.VerifyTestMain(m)
}
