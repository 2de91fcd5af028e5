//go:build !redisstore_nocache

package redisstore_test

import (
	"fmt"
	"log"

	"github.com/sessionx-redis/redisstore"
)

// A store that keeps up to 64 MB of sessions in the process: Loads of a
// session nothing changed cost no round trip, while Redis tells the store
// (CLIENT TRACKING) when another process writes one. The README's
// "Client-side cache".
func Example_clientSideCache() {
	store, err := redisstore.NewRedisStore(redisstore.Options{
		Addr:      "localhost:6379",
		CacheSize: 64 << 20, // bytes of values, keys and bookkeeping
		// CacheTTL: time.Minute, the default: the longest a value is
		// served without asking Redis.
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// ... serve requests ...
	st := store.Stats().Cache
	fmt.Printf("hits %d, misses %d, invalidations %d, %d bytes held\n", st.Hits, st.Misses, st.Invalidations, st.Bytes)
}
