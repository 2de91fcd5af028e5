// Package sizes holds minimal net/http servers, listening on 127.0.0.1:8080
// (those with a store connect to Redis at localhost:6379), that
// scripts/sizes.sh builds with -ldflags='-s -w' to compare binary sizes.
// They are built, never run.
//
// Whole session stacks, whose handler counts visits in a session:
//   - nethttp: the baseline, a package-level counter, no sessions and no
//     encoding/json;
//   - stack: this module's session manager (its Middleware) over redisstore;
//   - scs: alexedwards/scs/v2 with its redisstore on redigo;
//   - gorilla: gorilla/sessions with boj/redistore on redigo.
//
// Stores alone, without a session manager, saving and loading one session
// per request by an ID in the query:
//   - nostore: sessions in a map;
//   - nostorejson: the map holds encoding/json output, to show what
//     encoding/json alone adds;
//   - redisstore: nostorejson's handler storing through redisstore;
//   - goredis: sessionx's store on go-redis v9.
package sizes
