//go:build redisstore_nocluster

package client

import "context"

// newCluster refuses: Cluster routing was left out of this build.
func newCluster(context.Context, *Config, *counters) (topology, error) {
	return nil, errOmitted("Cluster", "redisstore_nocluster")
}
