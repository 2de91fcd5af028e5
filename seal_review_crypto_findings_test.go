//go:build !redisstore_noseal

package redisstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Review of sealed values (EncryptionKeys, ReadPlaintext, HashKeys) as a
// cryptographer and a hostile writer to Redis. Each test here failed on
// the code it was written against, showing one defect, which is fixed;
// the comments describe the defects as they were.

// HashKeys names a user index Prefix+"user "+base64url(SHA-256(user)):
// an unkeyed hash of a low-entropy name. A reader of Redis recovers the
// user by hashing candidate names (a list of e-mail addresses, or every
// numeric account ID up to 10^8 in seconds), although the README promises
// that a reader "cannot learn ... a user's name" and that no listing or
// dump "shows ... a user". A keyed hash (HMAC under a key derived from
// the keys) would not allow it.
func TestSealReviewCryptoUserIndexKeyHidesUser(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	a := newUserApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, HashKeys: true})
	a.login("carol@example.com")
	a.login("4711")

	keys := raw(t, a.s, client.ReplyBulks, "KEYS", client.Str("*")).Bulks
	// What a reader of a dump does: hash a dictionary of candidates.
	dictionary := []string{"alice@example.com", "bob@example.com", "carol@example.com"}
	for n := range 10000 {
		dictionary = append(dictionary, strconv.Itoa(n))
	}
	var learned []string
	for _, name := range dictionary {
		sum := sha256.Sum256([]byte(name))
		guess := "sessionx:user " + base64.RawURLEncoding.EncodeToString(sum[:])
		if slices.ContainsFunc(keys, func(k []byte) bool { return string(k) == guess }) {
			learned = append(learned, name)
		}
	}
	if len(learned) > 0 {
		t.Errorf("a reader of Redis learns the users %q by hashing a dictionary against KEYS: "+
			"the index key is an unkeyed SHA-256 of the user", learned)
	}
}

// A session that the manager only refreshes (unchanged data, idle timeout
// due) is written by TouchVersion, a PEXPIRE that leaves the envelope as
// it is: it stays sealed by the old key for as long as its user is active,
// however long after the rotation. The README says to remove the old key
// once TTL (MaxAge) has passed since every process runs with the new key
// first; doing so logs out every user who was active but changed nothing.
// (With automatic rotation disabled; with it, a touch due also rotates.)
func TestSealReviewCryptoRefreshResealsWithNewKey(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	cfg := []session.ConfigOption{session.WithMaxAge(2 * time.Second), session.WithRotationInterval(0)}
	before := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}}, cfg...)
	rotated := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}}, cfg...)
	id := before.login("bob")

	// Every process now runs with [new, old]. bob keeps reading, past
	// MaxAge (the session's TTL), so the TTL has passed since the switch.
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if got := rotated.user(id); got != "bob" {
			t.Fatalf("bob's session ended while active: user %s", got)
		}
		time.Sleep(300 * time.Millisecond)
	}
	v := rawValue(t, rotated.s, id)
	if len(v) < sealHeader || !bytes.Equal(v[1:1+sealIDLen], rotated.s.seal.keys[0].id[:]) {
		t.Errorf("%v after the rotation (over MaxAge, the TTL), bob's active session is still sealed by key ID %x, not the new key's %x",
			time.Since(start).Round(time.Second), v[1:1+sealIDLen], rotated.s.seal.keys[0].id)
	}
	// As the README says: TTL has passed, remove the old key.
	after := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}}, cfg...)
	if got := after.user(id); got != "bob" {
		t.Errorf("once the old key is removed, as the README says after TTL, the active user bob is logged out (user %s)", got)
	}
}

// The same for ReadPlaintext: a plaintext session only refreshed by
// TouchVersion stays plaintext in Redis for as long as it is active, so
// "turn ReadPlaintext off once TTL has passed" logs it out, and until then
// its data stays readable by anyone who reads Redis.
func TestSealReviewCryptoRefreshSealsPlaintext(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	plain := openStore(t, Options{Addr: srv.Addr})
	lenient := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, ReadPlaintext: true})
	const id = "plain-touched-0123456789"
	if err := plain.SaveTTL(ctx, testSession(id), time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		st, err := lenient.LoadVersion(ctx, id)
		if err != nil || st.Value == nil {
			t.Fatalf("LoadVersion = %+v, %v", st, err)
		}
		if _, ok, err := lenient.TouchVersion(ctx, id, st.Version, time.Second); !ok || err != nil {
			t.Fatalf("TouchVersion = %v, %v", ok, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := rawValue(t, lenient, id); len(v) == 0 || v[0] != sealFormat {
		t.Errorf("after twice its TTL of refreshes through a sealing store the value is still plaintext: %.60q", v)
	}
}

// Review finding (fixed by writing each key's entries in an index of its
// own): after a key rotation, a rotation's old ID (the spare) was trimmed
// from the single index by its member under the old key, and not
// revoked. Now the spare, indexed before the rotation, stays indexed,
// and the bound trims the new key's index alone, returning what it
// trimmed for revocation.
func TestSealReviewCryptoSpareKeptAfterRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	before := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}, HashKeys: true})
	after := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}, HashKeys: true})
	const spare, b, c, d = "spare-0123456789", "other-0123456789", "new-0123456789", "newer-0123456789"
	if _, err := before.IndexSession(ctx, "erin", spare, "", 10*time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{b, c} {
		if _, err := after.IndexSession(ctx, "erin", id, "", time.Hour, 10); err != nil {
			t.Fatal(err)
		}
	}
	trimmed, err := after.IndexSession(ctx, "erin", d, spare, 2*time.Hour, 2)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := after.IndexedSessions(ctx, "erin", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(trimmed) != 1 || slices.Contains(ids, trimmed[0]) || !slices.Contains(ids, spare) || !slices.Contains(ids, d) {
		t.Errorf("IndexSession(d, spare) over the bound after a rotation trimmed %q for revocation and left %q indexed; "+
			"want one of %s, %s trimmed, the spare and d kept", trimmed, ids, b, c)
	}
}

// ReadPlaintext is allowed with HashKeys, where it has no use (no
// plaintext value was ever written under a hashed key: HashKeys needs
// EncryptionKeys, and turning it on leaves the old plain keys behind) and
// reopens the forgery the README rules out: a writer to Redis picks an
// ID, writes plain JSON under Prefix+base64url(SHA-256(ID)) and logs in
// with that ID as anyone. New should refuse the combination (or a hashed
// key should never be read as plaintext).
func TestSealReviewCryptoReadPlaintextWithHashKeysRefused(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	opts := Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, HashKeys: true, ReadPlaintext: true}
	s, err := NewRedisStore(opts)
	if err != nil {
		return // refused: fixed
	}
	defer s.Close()
	a := newApp(t, opts)
	// The attacker's chosen ID and forged value, written with plain Redis
	// commands: no key needed.
	forged := session.Session{ID: "forgedforgedforgedfor1",
		Data: map[string]any{"user": "admin"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	js, _ := forged.MarshalJSON()
	sum := sha256.Sum256([]byte(forged.ID))
	raw(t, s, client.ReplyOK, "SET", client.Key("sessionx:", base64.RawURLEncoding.EncodeToString(sum[:])),
		client.Bytes(js), client.Str("EX"), client.Int(3600))
	if got := a.user(forged.ID); got == "admin" {
		t.Errorf("with HashKeys and ReadPlaintext a plaintext session forged under a hashed key logs in as %s", got)
	}
}
