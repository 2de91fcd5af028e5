//go:build redisstore_nosentinel

package client

import "context"

// newSentinel refuses: Sentinel routing was left out of this build.
func newSentinel(context.Context, *Config, *counters) (topology, error) {
	return nil, errOmitted("Sentinel", "redisstore_nosentinel")
}
