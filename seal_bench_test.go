//go:build !redisstore_noseal

package redisstore

import (
	"bytes"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/benchkit"
)

// BenchmarkSeal measures sealing and opening the realistic session
// (about 300 bytes of JSON) alone, without I/O: the CPU that
// EncryptionKeys adds to a Save and to a Load.
func BenchmarkSeal(b *testing.B) {
	sl, err := newSealer([][]byte{bytes.Repeat([]byte{7}, 32)}, false, false, discardLogger{})
	if err != nil {
		b.Fatal(err)
	}
	k := redisKey{DefaultPrefix, benchkit.ID}
	plain, err := benchkit.Session(benchkit.ID).MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sl.sealValue(k, plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	sealed, _ := sl.sealValue(k, plain)
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, len(sealed))
		for b.Loop() {
			copy(buf, sealed) // as Load does, in the reply's buffer
			if _, err := sl.openValue(k, benchkit.ID, buf, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
