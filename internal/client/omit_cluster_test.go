//go:build redisstore_nocluster

package client

const clusterOmitted = true
