// Package sizes holds minimal net/http servers that save and load one
// session per request, built by scripts/bench.sh with -ldflags='-s -w' to
// compare binary sizes: nostore (sessions in a map), nostorejson (the map
// holds encoding/json output, to show what encoding/json alone adds),
// redisstore and goredis (sessionx's store on go-redis v9).
package sizes
