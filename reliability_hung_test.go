package redisstore

import "testing"

// Scenario 4, second half: a listener that accepts connections and never
// answers. Every Save fails with a network timeout (not a context error: no
// caller gave a context) within DialTimeout + PoolTimeout, and callers
// waiting for a shared dial take its error instead of dialing again one
// after another.
func TestReliabilityServerHungUnderConcurrentSaves(t *testing.T) {
	serverDownSaves(t, "accepts, never answers")
}
