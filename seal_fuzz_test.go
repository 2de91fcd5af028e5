//go:build !redisstore_noseal

package redisstore

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSealedValue checks the envelope format: what is sealed opens to
// itself under its own Redis key only; any changed byte, any truncation
// and any input that was not sealed fails with one of the four reasons,
// without a panic; none of the fuzzer's inputs opens. The same for the
// user index's members (HashKeys).
func FuzzSealedValue(f *testing.F) {
	sl, err := newSealer([][]byte{newKey, oldKey}, false, false, discardLogger{})
	if err != nil {
		f.Fatal(err)
	}
	k := redisKey{"sessionx:", "fuzz-0123456789"}
	// Seeds that reach each check: the keys' IDs lead to a GCM that
	// fails, as no envelope the fuzzer makes was sealed.
	forged := append([]byte{sealFormat}, sl.keys[1].id[:]...)
	forged = append(forged, bytes.Repeat([]byte{7}, sealOverhead)...)
	for _, seed := range [][]byte{forged, forged[:sealOverhead], forged[:sealHeader], {sealFormat},
		[]byte(`{"id":"x"}`), []byte("!moved:abc:123"), nil, {}} {
		f.Add(seed, uint16(0), byte(1))
	}
	f.Fuzz(func(t *testing.T, input []byte, at uint16, flip byte) {
		if _, err := sl.open(k, bytes.Clone(input), true); err == nil {
			t.Fatalf("an input opened that was never sealed: %q", input) // a forgery
		} else if !oneOf(err, ErrNotSealed, ErrUnknownKey, ErrTampered, ErrSealFormat) {
			t.Fatalf("open: %v", err)
		}
		if _, err := sl.openMember(k, input); err == nil {
			t.Fatalf("a member opened that was never sealed: %q", input)
		}
		v, err := sl.seal(nil, k, input)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := sl.open(k, bytes.Clone(v), true); err != nil || !bytes.Equal(plain, input) {
			t.Fatalf("round trip: %q, %v; want %q", plain, err, input)
		}
		if _, err := sl.open(redisKey{"sessionx:", "fuzz-0123456788"}, v, false); !errors.Is(err, ErrTampered) {
			t.Fatalf("opened under another key: %v", err)
		}
		if flip != 0 {
			changed := bytes.Clone(v)
			changed[int(at)%len(v)] ^= flip
			if _, err := sl.open(k, changed, false); err == nil {
				t.Fatalf("byte %d changed by %#x still opens", int(at)%len(v), flip)
			}
		}
		if n := int(at) % len(v); n < len(v) {
			if _, err := sl.open(k, v[:n], false); err == nil {
				t.Fatalf("truncated to %d bytes, still opens", n)
			}
		}
		if len(input) > 0 {
			m := sl.keys[0].sealMember(k, string(input))
			if id, err := sl.openMember(k, m); err != nil || !bytes.Equal(id, input) {
				t.Fatalf("member round trip: %q, %v", id, err)
			}
			if _, err := sl.openMember(redisKey{"sessionx:user ", "other"}, m); err == nil {
				t.Fatal("a member opened in another index")
			}
			if flip != 0 {
				m[int(at)%len(m)] ^= flip
				if _, err := sl.openMember(k, m); err == nil {
					t.Fatalf("member byte %d changed by %#x still opens", int(at)%len(m), flip)
				}
			}
		}
	})
}

// oneOf reports whether err matches one of targets.
func oneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// discardLogger drops everything.
type discardLogger struct{}

func (discardLogger) Info(string, ...any) {}
func (discardLogger) Warn(string, ...any) {}
