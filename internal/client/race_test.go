//go:build race

package client

// raceEnabled is set under the race detector, whose sync.Pool drops items at
// random, so allocation counts are only asserted without it (scripts/test.sh
// runs the allocation tests a second time without -race).
const raceEnabled = true
