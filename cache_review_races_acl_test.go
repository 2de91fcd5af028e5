//go:build !redisstore_nocache

package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// An ACL user granted the store's commands one by one (GET, SET, DEL,
// EVALSHA, EVAL, PEXPIRE, PING, CLIENT: least privilege), not PTTL, which
// only the cache sends. CLIENT TRACKING is accepted, so the cache is on
// and nothing is logged; then every Load fails (its PTTL is refused) and a
// conditional save writes the session (the script's SET runs before its
// PTTL is refused) but returns an error. Without CacheSize the same user
// works.
func TestCacheReviewRacesACLWithoutPTTL(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +get +set +del +evalsha +eval +pexpire +ping +client +hello"}})
	ctx := context.Background()
	for _, size := range []int{0, 1 << 20} {
		log := &argLogger{}
		s := openStore(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", CacheSize: size, Logger: log})
		id := "acl" + map[bool]string{false: "plain", true: "cached"}[size > 0]
		_, ok, err := s.SaveVersion(ctx, id, counterValue(id, 1), nil, time.Minute, false)
		if err != nil || !ok {
			t.Errorf("CacheSize %d: SaveVersion = %v, %v (the key now holds %q)", size, ok, err, srv.Do(t, "GET", "sessionx:"+id))
		}
		if _, err := s.Load(id); err != nil {
			t.Errorf("CacheSize %d: Load: %v", size, err)
		}
		if w := log.warningsWith("client-side cache is off"); len(w) > 0 {
			t.Logf("CacheSize %d: warned %q", size, w)
		}
	}
}
