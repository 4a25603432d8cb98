package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's goal when GOGC is not set: the heap
// may grow to five times what is live before a collection, instead of
// twice. smsbot's live heap is small (the phones live in the database,
// not in memory) and every text allocates, so at the default the
// collector ran several times a second under load; at 400 its background
// work per text is about a seventh (docs/benchmarks-profile.md), and the
// server's resident size stays far under 150 MiB (docs/benchmarks.md, peak
// RSS). GOGC and GOMEMLIMIT still take precedence, as for any Go program.
const gcPercent = 400

// tuneGC sets the collector's goal unless GOGC does; it returns the goal
// in force.
func tuneGC() int {
	if _, set := os.LookupEnv("GOGC"); set {
		p := debug.SetGCPercent(-1) // read it, then put it back
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(gcPercent)
	return gcPercent
}
