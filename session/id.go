package session

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// idBytes is the entropy of a session ID; idLength is its encoded length
// (base64url, no padding).
const (
	idBytes  = 16
	idLength = 22
)

// randRead is the random source for IDs and nonces; tests replace it to
// simulate a failing source.
var randRead = rand.Read

// newID returns a fresh random session ID, or an error matching
// ErrRandomFailed: never a weak ID.
func newID() (string, error) {
	var b [idBytes]byte
	if err := readRandom(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// readRandom fills b from randRead.
func readRandom(b []byte) error {
	n, err := randRead(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("short read: %d of %d bytes", n, len(b))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRandomFailed, err)
	}
	return nil
}

// validID reports whether id has the form of an ID this package makes:
// exactly 22 base64url characters. Anything else is never sent to a store.
func validID(id string) bool {
	if len(id) != idLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
