package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the server's collector goal unless GOGC is set, which wins.
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	t.Setenv("GOGC", "100") // restored after the test
	if got := tuneGC(); got != 100 || debug.SetGCPercent(100) != 100 {
		t.Errorf("GOGC set: goal %d, want 100 untouched", got)
	}
	os.Unsetenv("GOGC")
	if got := tuneGC(); got != gcPercent || debug.SetGCPercent(100) != gcPercent {
		t.Errorf("GOGC unset: goal %d, want %d", got, gcPercent)
	}
}
