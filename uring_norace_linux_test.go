//go:build !race

package evsel_test

const uringRaceEnabled = false
