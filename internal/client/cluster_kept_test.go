//go:build !redisstore_nocluster

package client

const clusterOmitted = false
