package evsel_test

import (
	"testing"

	"github.com/evsel/evsel/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
