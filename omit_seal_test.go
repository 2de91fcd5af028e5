//go:build redisstore_noseal

package redisstore

import (
	"bytes"
	"strings"
	"testing"
)

// A build without sealed values refuses their options clearly, and
// stores sessions as plain JSON without them.
func TestSealedValuesOmitted(t *testing.T) {
	for name, opts := range map[string]Options{
		"EncryptionKeys": {EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 32)}},
		"ReadPlaintext":  {ReadPlaintext: true},
		"HashKeys":       {HashKeys: true},
	} {
		if _, err := NewRedisStore(opts); err == nil || !strings.Contains(err.Error(), "redisstore_noseal") {
			t.Errorf("%s: New = %v, want an error naming the tag", name, err)
		}
	}
	mr, s := newMini(t, Options{})
	roundTrip(t, s, "omitted-0123456789")
	if v, _ := mr.Get("sessionx:omitted-0123456789"); !strings.HasPrefix(v, `{"ID":"omitted-0123456789"`) {
		t.Errorf("stored %q, want plain JSON", v)
	}
}
