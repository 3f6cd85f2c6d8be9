//go:build !race

package msgloop_test

const raceEnabled = false
