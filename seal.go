//go:build !redisstore_noseal

package redisstore

import (
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
//	0x01 (the format) | key ID (4 bytes) | salt (16) | nonce (12) | AES-256-GCM ciphertext | tag (16)
//
// Each key is turned at New into a pseudorandom key (HKDF-Extract with
// SHA-256), from which the others are expanded (HKDF-Expand): the key's
// ID, 4 bytes that name it without revealing it, so that opening takes
// one try, not one per key; and a subkey per value, expanded from the
// value's random salt. GCM's nonce is random too (crypto/cipher's
// NewGCMWithRandomNonce, which FIPS 140-only mode allows): a nonce
// used twice under one subkey would need two values to draw the same
// 128-bit salt and the same 96-bit nonce. Random nonces alone would
// allow 2^32 values per key (12 hours at 100,000 saves a second); with
// a subkey per value, two values share a subkey with a chance of
// n²/2^129 after n values (2^-33 after 2^48: 89 years at that rate),
// and even then their nonces differ. The associated data is the header
// (format, key ID, salt) and the value's Redis key, so a value edited,
// truncated, copied under another key or sealed by a key not in the
// list does not open.
//
// The labels, part of the format: HKDF-Extract's salt is "redisstore
// sealed values"; HKDF-Expand's info is "key id" for the key's ID,
// "value v1" followed by the salt for a value's subkey, "index member
// mac" and "index member enc" for the keys of index members, and "index
// name mac" for the key of index names.
//
// Rotation markers are sealed like sessions: they name the new ID. A
// conditional write compares the envelopes, which stay the version.
//
// With HashKeys a session's Redis key is Prefix + base64url(SHA-256(ID)):
// an ID is random, so its hash needs no key. A user is not (an e-mail
// address, a number): a user's index is named Prefix + "user " +
// base64url(HMAC-SHA256(user)) under a key expanded from an encryption
// key, so a user has one index per encryption key. Entries are written
// in the first key's and read from all, so that during a key rotation
// the sessions indexed before it are still found; the old index expires
// with its last entry. An index's members must be deterministic, since
// Redis finds a member by its bytes, so they are sealed as in SIV mode
// (RFC 5297, with HMAC for CMAC) by the index's key: 0x01 | key ID | IV |
// AES-256-CTR of the ID, where the IV is the first 16 bytes of an
// HMAC-SHA256 of the index's Redis key and the ID, checked again on
// opening. A member reveals only that it names the same ID as itself.
//
// Every store with EncryptionKeys writes, at New, which key format the
// prefix's sessions use, under Prefix + " keys" ("plain" or "sha256",
// with SET NX and no TTL), and refuses to start when another store wrote
// the other one. A store without EncryptionKeys writes nothing: it costs
// nothing to programs that do not seal, and it could not be told from
// sessionx's own store or an older version, which write nothing either.

// The envelopes' layout.
const (
	sealFormat   = 0x01
	sealIDLen    = 4
	sealSaltLen  = 16
	sealHeader   = 1 + sealIDLen + sealSaltLen // a member's header too: its IV is as long as a salt
	sealOverhead = sealHeader + 12 + 16        // the header, GCM's nonce and tag
)

// sealKey is one of Options.EncryptionKeys, expanded.
type sealKey struct {
	id        [sealIDLen]byte
	prk       []byte       // HKDF-Extract of the key
	memberMAC []byte       // the HMAC key of members' IVs
	indexMAC  []byte       // the HMAC key of user indexes' names
	memberEnc cipher.Block // AES-256 of members
	pool      sync.Pool    // of *scratch
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
	switch {
	case len(keys) > 0:
	case hashKeys:
		return nil, errors.New("redisstore: HashKeys needs EncryptionKeys: a session's value holds its ID")
	case readPlaintext:
		return nil, errors.New("redisstore: ReadPlaintext set without EncryptionKeys")
	default:
		return nil, nil
	}
	if readPlaintext && hashKeys {
		// No plaintext value was ever written under a hashed key: all
		// ReadPlaintext could open there is a forgery.
		return nil, errors.New("redisstore: ReadPlaintext with HashKeys: values written before encryption are under unhashed keys, which a store with HashKeys never reads")
	}
	s := &sealer{plaintext: readPlaintext, hashKeys: hashKeys, log: log}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] is %d bytes, not 32", i, len(k))
		}
		sk := &sealKey{}
		sk.prk, _ = hkdf.Extract(sha256.New, k, []byte("redisstore sealed values"))
		id, _ := hkdf.Expand(sha256.New, sk.prk, "key id", sealIDLen)
		copy(sk.id[:], id)
		sk.memberMAC, _ = hkdf.Expand(sha256.New, sk.prk, "index member mac", 32)
		sk.indexMAC, _ = hkdf.Expand(sha256.New, sk.prk, "index name mac", 32)
		enc, _ := hkdf.Expand(sha256.New, sk.prk, "index member enc", 32)
		sk.memberEnc, _ = aes.NewCipher(enc)
		sk.pool.New = func() any { return &scratch{mac: hmac.New(sha256.New, sk.prk)} }
		for j, prev := range s.keys {
			if prev.id == sk.id { // the same key, or a 1 in 2^32 clash
				return nil, fmt.Errorf("redisstore: EncryptionKeys[%d] has the ID of EncryptionKeys[%d]: a duplicate?", i, j)
			}
		}
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// subkeyInfo is the HKDF info of a value's subkey, before its salt.
const subkeyInfo = "value v1"

// prepare returns a scratch of key's pool, for the caller to put back,
// holding in ad the associated data of the envelope whose header is
// given, under the Redis key k, and the AES-256-GCM of the envelope's
// subkey: HKDF-Expand(prk, subkeyInfo+salt, 32), which for 32 bytes is
// one HMAC of the info and a counter byte 1 (RFC 5869), computed with the
// scratch's HMAC, whose key is set up once: crypto/hkdf.Expand sets up a
// new one each time, which would triple the cost.
func (key *sealKey) prepare(k redisKey, header []byte) (*scratch, cipher.AEAD, error) {
	sc := key.pool.Get().(*scratch)
	copy(sc.in[:], subkeyInfo)
	copy(sc.in[len(subkeyInfo):], header[1+sealIDLen:])
	sc.in[len(sc.in)-1] = 1
	sc.mac.Reset()
	sc.mac.Write(sc.in[:])
	block, _ := aes.NewCipher(sc.mac.Sum(sc.sub[:0])) // 32 bytes: no error
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		key.pool.Put(sc)
		return nil, nil, fmt.Errorf("redisstore: sealed values: %w", err)
	}
	sc.ad = k.appendTo(append(sc.ad[:0], header...))
	return sc, aead, nil
}

// seal appends to dst the envelope of plain under the Redis key k, sealed
// by the first key.
func (s *sealer) seal(dst []byte, k redisKey, plain []byte) ([]byte, error) {
	key := s.keys[0]
	start := len(dst)
	dst = append(dst, sealFormat)
	dst = append(dst, key.id[:]...)
	var salt [sealSaltLen]byte
	rand.Read(salt[:])
	dst = append(dst, salt[:]...)
	sc, aead, err := key.prepare(k, dst[start:])
	if err != nil {
		return nil, err
	}
	dst = aead.Seal(dst, nil, plain, sc.ad)
	key.pool.Put(sc)
	return dst, nil
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
	key := s.key(v)
	if key == nil {
		return nil, s.failed(ErrUnknownKey)
	}
	sc, aead, err := key.prepare(k, v[:sealHeader])
	if err != nil {
		return nil, err
	}
	var dst []byte
	if inPlace {
		dst = v[sealHeader:sealHeader] // GCM decrypts in place when dst is the ciphertext (its nonce first)
	}
	plain, err := aead.Open(dst, nil, v[sealHeader:], sc.ad)
	key.pool.Put(sc)
	if err != nil {
		return nil, s.failed(ErrTampered)
	}
	return plain, nil
}

// memberIV is the IV of the member that names id in the index under k.
func (key *sealKey) memberIV(k redisKey, id []byte) []byte {
	mac := hmac.New(sha256.New, key.memberMAC)
	mac.Write(k.appendTo(nil))
	mac.Write([]byte{0})
	mac.Write(id)
	return mac.Sum(nil)[:sealSaltLen]
}

// sealMember returns the member of the index under k that names id,
// sealed by key: the same for the same k, id and key.
func (key *sealKey) sealMember(k redisKey, id string) []byte {
	iv := key.memberIV(k, []byte(id))
	m := make([]byte, sealHeader+len(id))
	m[0] = sealFormat
	copy(m[1:], key.id[:])
	copy(m[1+sealIDLen:], iv)
	cipher.NewCTR(key.memberEnc, iv).XORKeyStream(m[sealHeader:], []byte(id))
	return m
}

// openMember returns the ID a member of the index under k names, or one
// of this file's errors.
func (s *sealer) openMember(k redisKey, m []byte) ([]byte, error) {
	switch {
	case len(m) == 0 || m[0] != sealFormat:
		return nil, s.failed(ErrNotSealed)
	case len(m) <= sealHeader:
		return nil, s.failed(ErrSealFormat)
	}
	key := s.key(m)
	if key == nil {
		return nil, s.failed(ErrUnknownKey)
	}
	iv := m[1+sealIDLen : sealHeader]
	id := make([]byte, len(m)-sealHeader)
	cipher.NewCTR(key.memberEnc, iv).XORKeyStream(id, m[sealHeader:])
	if !hmac.Equal(key.memberIV(k, id), iv) {
		return nil, s.failed(ErrTampered)
	}
	return id, nil
}

// key returns the key whose ID the envelope v names, or nil.
func (s *sealer) key(v []byte) *sealKey {
	for _, k := range s.keys {
		if string(k.id[:]) == string(v[1:1+sealIDLen]) {
			return k
		}
	}
	return nil
}

// failLogInterval spaces the log lines about values that did not open: a
// writer to Redis could otherwise flood the log.
const failLogInterval = time.Minute

// failed counts a value (or index member) that did not open, logs it at
// most once per failLogInterval, and returns reason.
func (s *sealer) failed(reason error) error {
	n := s.unopened.Add(1)
	now := time.Now().UnixNano()
	if last := s.lastLog.Load(); (last == 0 || now-last >= int64(failLogInterval)) && s.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("redisstore: a sealed value did not open: a session value is a fresh session, an index entry is skipped", "reason", reason.Error(), "unopened_total", n)
	}
	return reason
}

// keyFormatKey follows Prefix in the name of the key that records the key
// format of the prefix's sessions. It begins with a space, which no
// session ID holds.
const keyFormatKey = " keys"

// checkKeyFormat records a sealing store's key format ("sha256" with
// HashKeys, "plain" otherwise) under prefix+" keys" unless one is there
// (SET NX, no TTL), and returns ErrHashKeysMismatch when the other one
// is. A store that does not seal does nothing.
func (s *sealer) checkKeyFormat(c *client.Client, prefix string) error {
	if s == nil {
		return nil
	}
	format, other := "plain", "sha256"
	if s.hashKeys {
		format, other = other, format
	}
	var b client.Batch
	b.Idempotent = true
	key := client.Key(prefix, keyFormatKey)
	b.Add(client.ReplyAny, "SET", key, client.Str(format), client.Str("NX"))
	b.Add(client.ReplyBulk, "GET", key)
	switch err := c.Do(context.Background(), &b); {
	case err != nil:
		return fmt.Errorf("redisstore: recording the key format under %q: %w", prefix+keyFormatKey, err)
	case string(b.Replies[1].Bulk) == other:
		return fmt.Errorf("%w: %q holds %q", ErrHashKeysMismatch, prefix+keyFormatKey, other)
	}
	return nil
}

// keyName is what follows the prefix in the Redis key of the session id:
// base64url(SHA-256(id)) with HashKeys, else id. A session ID is random,
// so its hash needs no key.
func (s *sealer) keyName(id string) string {
	if s == nil || !s.hashKeys {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return base64Name(sum[:])
}

// indexName is what follows Prefix+"user " in the name of user's index
// under key: base64url(HMAC-SHA256(user)). A user can be guessed (an
// e-mail address, a number), so its hash needs a key.
func (key *sealKey) indexName(user string) string {
	mac := hmac.New(sha256.New, key.indexMAC)
	mac.Write([]byte(user))
	return base64Name(mac.Sum(nil))
}

// base64Name is base64url(sum), unpadded, of a 32-byte sum.
func base64Name(sum []byte) string {
	var b64 [43]byte
	base64.RawURLEncoding.Encode(b64[:], sum)
	return string(b64[:])
}

// sealValue returns v sealed under k, or v itself without EncryptionKeys.
func (s *sealer) sealValue(k redisKey, v []byte) ([]byte, error) {
	if s == nil {
		return v, nil
	}
	return s.seal(make([]byte, 0, len(v)+sealOverhead), k, v)
}

// openValue returns what v, read under k, the key of id, holds (in v's
// memory when inPlace is set), or v itself without EncryptionKeys. A
// value that does not open is an ErrInvalidSession wrapping why.
func (s *sealer) openValue(k redisKey, id string, v []byte, inPlace bool) ([]byte, error) {
	if s == nil {
		return v, nil
	}
	plain, err := s.open(k, v, inPlace)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidSession, id, err)
	}
	return plain, nil
}

// stale reports whether v, a stored value, is not sealed by the first
// key: plaintext, or sealed by an older one. Always false without
// EncryptionKeys.
func (s *sealer) stale(v []byte) bool {
	return s != nil && (len(v) < sealOverhead || v[0] != sealFormat || string(v[1:1+sealIDLen]) != string(s.keys[0].id[:]))
}

// indexCount is how many indexes a user has: one per key with HashKeys,
// else one.
func (s *sealer) indexCount() int {
	if s == nil || !s.hashKeys {
		return 1
	}
	return len(s.keys)
}

// indexName is what follows Prefix+"user " in the name of user's index
// i: the user itself without HashKeys.
func (s *sealer) indexName(user string, i int) string {
	if s == nil || !s.hashKeys {
		return user
	}
	return s.keys[i].indexName(user)
}

// member returns the member of the index ik, the index i of its user,
// that names id: with HashKeys sealed by key i, else id itself.
func (s *sealer) member(ik redisKey, i int, id string) client.Arg {
	if s == nil || !s.hashKeys {
		return client.Str(id)
	}
	return client.Bytes(s.keys[i].sealMember(ik, id))
}

// memberID returns the ID that m, a member of the index ik, names, and
// false when it does not open.
func (s *sealer) memberID(ik redisKey, m []byte) ([]byte, bool) {
	if s == nil || !s.hashKeys {
		return m, true
	}
	id, err := s.openMember(ik, m)
	return id, err == nil
}

// unopenedValues is Stats.UnopenedValues.
func (s *sealer) unopenedValues() uint64 {
	if s == nil {
		return 0
	}
	return s.unopened.Load()
}
