//go:build redisstore_nosentinel || redisstore_nocluster

package client

import (
	"strings"
	"testing"
)

// A build without Sentinel or Cluster refuses a Config that needs it with
// an error naming the tag, before any network I/O (the addresses are not
// listening).
func TestOmittedTopologiesSayWhy(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		tag     string
		omitted bool
	}{
		{Config{SentinelAddrs: []string{"127.0.0.1:1"}, MasterName: "m"}, "redisstore_nosentinel", sentinelOmitted},
		{Config{ClusterAddrs: []string{"127.0.0.1:1"}}, "redisstore_nocluster", clusterOmitted},
	} {
		if !tc.omitted {
			continue
		}
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), "built with -tags "+tc.tag) {
			t.Errorf("New(%+v) = %v, want the %s error", tc.cfg, err, tc.tag)
		}
	}
}
