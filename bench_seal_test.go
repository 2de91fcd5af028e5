//go:build !redisstore_noseal

package redisstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/session"
)

// BenchmarkSealedStore measures what sealed values cost the store's four
// calls on the realistic session (about 300 bytes of JSON), one caller at
// a time on a real redis-server, with sealing off, on
// (EncryptionKeys), and on with HashKeys: Load and Save (sessionx's
// calls), LoadVersion and SaveVersion (the session manager's). It
// reports the client's and the server's CPU per call.
func BenchmarkSealedStore(b *testing.B) {
	addr, pid := benchServer(b)
	ctx := context.Background()
	for _, mode := range []string{"off", "on", "hashed"} {
		opts := redisstore.Options{Addr: addr, Prefix: "benchseal-" + mode + ":"}
		if mode != "off" {
			opts.EncryptionKeys = [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)}
			opts.HashKeys = mode == "hashed"
		}
		st, err := redisstore.NewRedisStore(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		sess := benchkit.Session(benchkit.ID)
		if err := st.SaveContext(ctx, sess); err != nil {
			b.Fatal(err)
		}
		b.Run("seal="+mode+"/Load", func(b *testing.B) {
			m := benchkit.Start(b, pid)
			for b.Loop() {
				if _, err := st.LoadContext(ctx, benchkit.ID); err != nil {
					b.Fatal(err)
				}
			}
			m.Report(b)
		})
		b.Run("seal="+mode+"/Save", func(b *testing.B) {
			m := benchkit.Start(b, pid)
			for b.Loop() {
				if err := st.SaveContext(ctx, sess); err != nil {
					b.Fatal(err)
				}
			}
			m.Report(b)
		})
		b.Run("seal="+mode+"/LoadVersion", func(b *testing.B) {
			m := benchkit.Start(b, pid)
			for b.Loop() {
				if err := loadVersion(ctx, st, benchkit.ID); err != nil {
					b.Fatal(err)
				}
			}
			m.Report(b)
		})
		b.Run("seal="+mode+"/SaveVersion", func(b *testing.B) {
			got, err := st.LoadVersion(ctx, benchkit.ID)
			if err != nil {
				b.Fatal(err)
			}
			version := got.Version
			m := benchkit.Start(b, pid)
			for b.Loop() {
				sess.UpdatedAt = sess.UpdatedAt.Add(time.Millisecond)
				value, err := sess.MarshalJSON()
				if err != nil {
					b.Fatal(err)
				}
				got, ok, err := st.SaveVersion(ctx, benchkit.ID, value, version, 24*time.Hour, false)
				if err != nil || !ok {
					b.Fatalf("SaveVersion = %v, %v", ok, err)
				}
				version = got.Version
			}
			m.Report(b)
		})
	}
}

var _ session.VersionedStore = (*redisstore.RedisStore)(nil)
