package redisstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// Sealed values (Options.EncryptionKeys, ReadPlaintext, HashKeys).
//
// A sealed value is an envelope:
//
//	0x01 (the format) | key ID (4 bytes) | salt (16) | AES-256-GCM ciphertext | tag (16)
//
// Each key is turned at New into a pseudorandom key (HKDF-Extract with
// SHA-256), from which every other key is expanded (HKDF-Expand): its ID,
// the first 4 bytes of an expansion, which names the key without
// revealing it, so opening takes one try, not one per key; and a subkey
// per value, expanded from the value's salt. Each subkey seals one value,
// so GCM's nonce is zero: a nonce used twice under one key would need two
// values to draw the same 128-bit salt, which after n values has a chance
// of n²/2^129 (2^-33 after 2^48 values: 100,000 saves a second for 89
// years). The associated data is the header (format, key ID, salt) and
// the value's Redis key, so a value edited, truncated, copied under
// another key or sealed by a key not in the list does not open.
//
// Rotation markers are sealed like sessions: they name the new ID. A
// conditional write compares the envelopes, which stay the version.
//
// With HashKeys a session's Redis key is Prefix + base64url(SHA-256(ID)),
// and a user index is under Prefix + "user " + base64url(SHA-256(user)).
// Its members are session IDs sealed deterministically, since Redis
// finds a member by its bytes: the salt is an HMAC of the index's key and
// the ID under a key expanded for it. Members sealed by an older key are
// removed when the ID is indexed again, and by UnindexSessions.
//
// Every store with EncryptionKeys writes, at New, which key format the
// prefix's sessions use, under Prefix + " keys" ("plain" or "sha256",
// with SET NX and no TTL), and refuses to start when another store wrote
// the other one. A store without EncryptionKeys writes nothing: it costs
// nothing to programs that do not seal, and it could not be told from
// sessionx's own store or an older version, which write nothing either.

// The envelope's layout.
const (
	sealFormat   = 0x01
	sealIDLen    = 4
	sealSaltLen  = 16
	sealHeader   = 1 + sealIDLen + sealSaltLen
	sealOverhead = sealHeader + 16 // the header and GCM's tag
)

// Errors wrapped by ErrInvalidSession when a value does not open. They say
// why; Stats.UnopenedValues counts them and Logger hears of them.
var (
	// ErrNotSealed: the value is not sealed (plain JSON, a plain rotation
	// marker, or something foreign) and Options.ReadPlaintext is off.
	ErrNotSealed = errors.New("redisstore: value not sealed (plaintext refused)")
	// ErrUnknownKey: the value was sealed by a key not in
	// Options.EncryptionKeys.
	ErrUnknownKey = errors.New("redisstore: value sealed by a key not in EncryptionKeys")
	// ErrTampered: the value's key is known but it does not open: it was
	// edited, truncated, or copied from another Redis key.
	ErrTampered = errors.New("redisstore: sealed value does not open (edited, truncated or moved)")
	// ErrSealFormat: the value looks sealed but in no format this version
	// knows, or is too short to hold an envelope.
	ErrSealFormat = errors.New("redisstore: sealed value of an unknown format")
)

// ErrHashKeysMismatch is returned by New when another store on the same
// Redis and Prefix uses the other key format (Options.HashKeys on in one
// and off in the other): each would miss the other's sessions.
var ErrHashKeysMismatch = errors.New("redisstore: another store on this prefix hashes its keys differently (Options.HashKeys)")

// sealKey is one of Options.EncryptionKeys, expanded.
type sealKey struct {
	id     [sealIDLen]byte
	prk    []byte    // HKDF-Extract of the key
	member []byte    // the HMAC key of deterministic salts
	pool   sync.Pool // of *scratch
}

// scratch is the memory of one seal or open, pooled per key so that a
// seal allocates only its result and the AES-GCM of its subkey.
type scratch struct {
	mac hash.Hash // HMAC-SHA256 under the key's prk, set up once
	in  [len(subkeyInfo) + sealSaltLen + 1]byte
	sub [sha256.Size]byte
	ad  []byte // the associated data: header and Redis key
}

// sealer seals and opens values; nil when EncryptionKeys is empty.
type sealer struct {
	keys      []*sealKey // keys[0] seals; each opens
	plaintext bool       // ReadPlaintext
	hashKeys  bool       // HashKeys
	log       Logger

	unopened atomic.Uint64 // values that did not open
	lastLog  atomic.Int64  // UnixNano of the last log of one
}

// newSealer expands keys; it fails on a key that is not 32 bytes long and
// on duplicates.
func newSealer(keys [][]byte, readPlaintext, hashKeys bool, log Logger) (*sealer, error) {
	if len(keys) == 0 {
		switch {
		case hashKeys:
			return nil, errors.New("redisstore: HashKeys needs EncryptionKeys: a session's value holds its ID")
		case readPlaintext:
			return nil, errors.New("redisstore: ReadPlaintext set without EncryptionKeys")
		}
		return nil, nil
	}
	s := &sealer{plaintext: readPlaintext, hashKeys: hashKeys, log: log}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] is %d bytes, not 32", i, len(k))
		}
		prk, err := hkdf.Extract(sha256.New, k, []byte("redisstore sealed values"))
		if err != nil {
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d]: %w", i, err)
		}
		id, err := hkdf.Expand(sha256.New, prk, "key id", sealIDLen)
		if err != nil {
			return nil, err
		}
		member, err := hkdf.Expand(sha256.New, prk, "index member salt", 32)
		if err != nil {
			return nil, err
		}
		sk := &sealKey{prk: prk, member: member}
		sk.pool.New = func() any { return &scratch{mac: hmac.New(sha256.New, prk)} }
		copy(sk.id[:], id)
		for j, prev := range s.keys {
			if bytes.Equal(prev.prk, prk) {
				return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] repeats EncryptionKeys[%d]", i, j)
			}
			if prev.id == sk.id {
				return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] and [%d] have the same 4-byte ID; make another key", j, i)
			}
		}
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// subkeyInfo is the HKDF info of a value's subkey, before its salt.
const subkeyInfo = "value v1"

// aead returns the AES-256-GCM of the subkey of k for salt:
// HKDF-Expand(prk, subkeyInfo+salt, 32), which for 32 bytes is one HMAC
// of the info and a counter byte 1 (RFC 5869), computed with sc's HMAC,
// whose key is set up once: crypto/hkdf.Expand sets up a new one each
// time, which would triple the cost.
func (k *sealKey) aead(sc *scratch, salt []byte) (cipher.AEAD, error) {
	copy(sc.in[:], subkeyInfo)
	copy(sc.in[len(subkeyInfo):], salt)
	sc.in[len(sc.in)-1] = 1
	sc.mac.Reset()
	sc.mac.Write(sc.in[:])
	block, err := aes.NewCipher(sc.mac.Sum(sc.sub[:0]))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// zeroNonce is GCM's nonce: each subkey seals one value.
var zeroNonce [12]byte

// seal appends to dst the envelope of plain under the Redis key k, sealed
// by the first key with a random salt.
func (s *sealer) seal(dst []byte, k redisKey, plain []byte) ([]byte, error) {
	return s.sealSalted(dst, k, plain, s.keys[0], nil)
}

// sealMember returns the envelope of id in the user index under k, sealed
// by key with a salt that depends on k and id alone, so the same ID makes
// the same member.
func (s *sealer) sealMember(k redisKey, id string, key *sealKey) ([]byte, error) {
	mac := hmac.New(sha256.New, key.member)
	mac.Write([]byte(k.prefix))
	mac.Write([]byte(k.name))
	mac.Write([]byte{0})
	mac.Write([]byte(id))
	return s.sealSalted(nil, k, []byte(id), key, mac.Sum(nil)[:sealSaltLen])
}

// sealSalted appends to dst the envelope of plain under k, sealed by key
// with salt (nil: a random one).
func (s *sealer) sealSalted(dst []byte, k redisKey, plain []byte, key *sealKey, salt []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, sealFormat)
	dst = append(dst, key.id[:]...)
	if salt == nil {
		var room [sealSaltLen]byte
		dst = append(dst, room[:]...)
		rand.Read(dst[len(dst)-sealSaltLen:])
	} else {
		dst = append(dst, salt...)
	}
	header := dst[start:]
	sc := key.pool.Get().(*scratch)
	defer key.pool.Put(sc)
	aead, err := key.aead(sc, header[1+sealIDLen:])
	if err != nil {
		return nil, fmt.Errorf("redisstore: sealing: %w", err)
	}
	sc.ad = k.appendTo(append(sc.ad[:0], header...))
	return aead.Seal(dst, zeroNonce[:], plain, sc.ad), nil
}

// open returns what the envelope v under the Redis key k holds, in v's
// own memory when inPlace is set, or a plain value read with
// ReadPlaintext as it is. Its errors are those of this file.
func (s *sealer) open(k redisKey, v []byte, inPlace bool) ([]byte, error) {
	if len(v) == 0 || v[0] != sealFormat {
		if s.plaintext {
			return v, nil
		}
		return nil, s.failed(ErrNotSealed)
	}
	if len(v) < sealOverhead {
		return nil, s.failed(ErrSealFormat)
	}
	key := s.key(v[1 : 1+sealIDLen])
	if key == nil {
		return nil, s.failed(ErrUnknownKey)
	}
	sc := key.pool.Get().(*scratch)
	defer key.pool.Put(sc)
	aead, err := key.aead(sc, v[1+sealIDLen:sealHeader])
	if err != nil {
		return nil, fmt.Errorf("redisstore: opening: %w", err)
	}
	sc.ad = k.appendTo(append(sc.ad[:0], v[:sealHeader]...))
	var dst []byte
	if inPlace {
		dst = v[sealHeader:sealHeader] // GCM decrypts in place when dst is the ciphertext
	}
	plain, err := aead.Open(dst, zeroNonce[:], v[sealHeader:], sc.ad)
	if err != nil {
		return nil, s.failed(ErrTampered)
	}
	return plain, nil
}

// key returns the key whose ID is id, or nil.
func (s *sealer) key(id []byte) *sealKey {
	for _, k := range s.keys {
		if string(k.id[:]) == string(id) {
			return k
		}
	}
	return nil
}

// failLogInterval spaces the log lines about values that did not open: a
// writer to Redis could otherwise flood the log.
const failLogInterval = time.Minute

// failed counts a value that did not open, logs it at most once per
// failLogInterval, and returns reason.
func (s *sealer) failed(reason error) error {
	n := s.unopened.Add(1)
	now := time.Now().UnixNano()
	if last := s.lastLog.Load(); (last == 0 || now-last >= int64(failLogInterval)) && s.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("redisstore: a session value did not open; the request gets a fresh session", "reason", reason.Error(), "unopened_total", n)
	}
	return reason
}

// redisKey is a Redis key: prefix + name.
type redisKey struct{ prefix, name string }

// arg is the key as a command's argument.
func (k redisKey) arg() client.Arg { return client.Key(k.prefix, k.name) }

// appendTo appends the key to b.
func (k redisKey) appendTo(b []byte) []byte { return append(append(b, k.prefix...), k.name...) }

// hashName is base64url(SHA-256(name)), without padding.
func hashName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// keyFormatKey follows Prefix in the name of the key that records the key
// format of the prefix's sessions. It begins with a space, which no
// session ID holds.
const keyFormatKey = " keys"

// checkKeyFormat records a sealing store's key format ("sha256" with
// HashKeys, "plain" otherwise) under Prefix+" keys" unless one is there
// (SET NX, no TTL), and returns ErrHashKeysMismatch when the other one
// is. A store that does not seal does nothing.
func (s *Store[S]) checkKeyFormat() error {
	if s.seal == nil {
		return nil
	}
	format, other := "plain", "sha256"
	if s.seal.hashKeys {
		format, other = other, format
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.client.DialTimeout+s.cfg.client.ReadTimeout)
	defer cancel()
	var b client.Batch
	b.Idempotent = true
	key := client.Key(s.cfg.Prefix, keyFormatKey)
	b.Add(client.ReplyAny, "SET", key, client.Str(format), client.Str("NX"))
	b.Add(client.ReplyBulk, "GET", key)
	err := s.c.Do(ctx, &b)
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: recording the key format under %q: %w", s.cfg.Prefix+keyFormatKey, err)
	case string(b.Replies[1].Bulk) == other:
		return fmt.Errorf("%w: %q holds %q; this store's is %q", ErrHashKeysMismatch, s.cfg.Prefix+keyFormatKey, other, format)
	}
	return nil
}
