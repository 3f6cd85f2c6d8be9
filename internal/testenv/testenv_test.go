package testenv

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestWineDetected checks the detection against what the CI stage says it
// runs: its exec wrapper exports WINEPREFIX, which Wine passes on to the
// Windows process; natively and on Windows itself there is none.
func TestWineDetected(t *testing.T) {
	_, wine := os.LookupEnv("WINEPREFIX")
	if runtime.GOOS != "windows" {
		wine = false
	}
	if Wine != wine {
		t.Fatalf("Wine = %v, want %v (GOOS %s, WINEPREFIX set: %v)", Wine, wine, runtime.GOOS, wine)
	}
	want := time.Second
	if wine {
		want *= wineSlack
	}
	if got := Bound(time.Second); got != want {
		t.Fatalf("Bound(1s) = %v, want %v", got, want)
	}
}
