//go:build race

package bench

// raceEnabled says whether the race detector is on; the fault figures name
// it, since it slows the CPU-bound parts of a run several times.
const raceEnabled = true
