//go:build !redisstore_noseal

package redisstore_test

import (
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// Sessions sealed at rest, under hashed keys: the README's "Encryption at
// rest". Keys come from a secret store, 32 bytes each; the first seals,
// the others only open (a rotation under way).
func Example_encryptionAtRest() {
	mr, _ := miniredis.Run() // an in-process Redis for the example
	defer mr.Close()
	newKey, oldKey := make([]byte, 32), make([]byte, 32) // from crypto/rand, kept in a secret store
	newKey[0], oldKey[0] = 1, 2

	store, err := redisstore.NewRedisStore(redisstore.Options{
		Addr:           mr.Addr(),
		EncryptionKeys: [][]byte{newKey, oldKey},
		HashKeys:       true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	id := "XyzzyPlugh0123456789abcdefghijklmnopqrstuv"
	err = store.Save(&session.Session{ID: id, Data: map[string]any{"user": "alice"}, CreatedAt: time.Now()})
	if err != nil {
		log.Fatal(err)
	}
	for _, key := range mr.Keys() {
		value, _ := mr.Get(key)
		fmt.Println(strings.Contains(key, id), strings.Contains(value, "alice"))
	}
	sess, err := store.Load(id)
	fmt.Println(sess.Data["user"], err)

	// A value edited in Redis does not open: the manager would start a
	// fresh session.
	key := mr.Keys()[1] // after "sessionx: keys", the key format
	value, _ := mr.Get(key)
	mr.Set(key, value[:len(value)-1]+"!")
	_, err = store.Load(id)
	fmt.Println(errors.Is(err, redisstore.ErrInvalidSession), errors.Is(err, redisstore.ErrTampered))
	// Output:
	// false false
	// false false
	// alice <nil>
	// true true
}
