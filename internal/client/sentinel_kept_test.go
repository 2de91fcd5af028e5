//go:build !redisstore_nosentinel

package client

const sentinelOmitted = false
