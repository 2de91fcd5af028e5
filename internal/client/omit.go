//go:build redisstore_nosentinel || redisstore_nocluster

package client

import (
	"errors"
)

// errOmitted is New's answer, in a build without it, to a Config that asks
// for Sentinel or Cluster.
func errOmitted(what, tag string) error {
	return errors.New("redisstore: " + what + " support was left out of this program (built with -tags " + tag + ")")
}
