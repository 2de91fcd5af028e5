//go:build !redisstore_noseal

package redisstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/internal/redisserver"
	"github.com/sessionx-redis/redisstore/session"
)

// Sealed values (EncryptionKeys, ReadPlaintext, HashKeys) on a real
// redis-server.

// Three test keys: newKey seals, oldKey opens after a rotation, and
// otherKey belongs to nobody's list.
var (
	newKey   = bytes.Repeat([]byte{0x11}, 32)
	oldKey   = bytes.Repeat([]byte{0x22}, 32)
	otherKey = bytes.Repeat([]byte{0x33}, 32)
)

// raw runs one command of key's slot on s's Redis and returns its reply.
func raw(t *testing.T, s *RedisStore, kind client.ReplyKind, name string, args ...client.Arg) client.Reply {
	t.Helper()
	var b client.Batch
	b.Add(kind, name, args...)
	if err := s.c.Do(context.Background(), &b); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.Replies[0]
}

// rawValue is what Redis holds under the key of id in s's key format.
func rawValue(t *testing.T, s *RedisStore, id string) []byte {
	t.Helper()
	r := raw(t, s, client.ReplyBulk, "GET", s.key(id).arg())
	return bytes.Clone(r.Bulk)
}

// A raw GET of a sealed session shows none of its data; the store loads
// it back whole, and its key ID is the first key's.
func TestSealedValueShowsNoData(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}})
	sess := testSession("sealed-id-0123456789")
	sess.Data["secret"] = "launch codes"
	if err := s.Save(sess); err != nil {
		t.Fatal(err)
	}
	v := rawValue(t, s, sess.ID)
	for _, clear := range []string{"alice", "launch codes", "secret", "visits", sess.ID} {
		if bytes.Contains(v, []byte(clear)) {
			t.Errorf("the stored value shows %q: %q", clear, v)
		}
	}
	if v[0] != sealFormat || !bytes.Equal(v[1:1+sealIDLen], s.seal.keys[0].id[:]) {
		t.Errorf("header %x: want format 1 and the first key's ID", v[:sealHeader])
	}
	plain, _ := sess.MarshalJSON()
	if len(v) != len(plain)+sealOverhead {
		t.Errorf("sealed value is %d bytes, want %d + %d", len(v), len(plain), sealOverhead)
	}
	got, err := s.Load(sess.ID)
	if err != nil || got.Data["secret"] != "launch codes" || got.Data["user"] != "alice" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	// Two saves of the same session seal it differently (a salt each).
	if err := s.Save(sess); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rawValue(t, s, sess.ID), v) {
		t.Error("two saves wrote the same envelope")
	}
}

// openFailure loads id through Load and LoadVersion and checks that both
// fail with ErrInvalidSession wrapping want.
func openFailure(t *testing.T, s *RedisStore, id string, want error, what string) {
	t.Helper()
	_, err := s.Load(id)
	if !errors.Is(err, ErrInvalidSession) || !errors.Is(err, session.ErrInvalidSession) || !errors.Is(err, want) {
		t.Errorf("%s: Load = %v, want ErrInvalidSession wrapping %v", what, err, want)
	}
	if _, err := s.LoadVersion(context.Background(), id); !errors.Is(err, ErrInvalidSession) || !errors.Is(err, want) {
		t.Errorf("%s: LoadVersion = %v, want ErrInvalidSession wrapping %v", what, err, want)
	}
}

// A value moved to another key, any flipped byte, any truncation and a
// value sealed by a key not in the list do not open; each is counted and
// the first is logged.
func TestSealedValueThatDoesNotOpen(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	log := &argLogger{}
	s := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, Logger: log})
	const id = "victim-0123456789"
	if err := s.Save(testSession(id)); err != nil {
		t.Fatal(err)
	}
	v := rawValue(t, s, id)
	put := func(id string, v []byte) {
		raw(t, s, client.ReplyOK, "SET", s.key(id).arg(), client.Bytes(v))
	}
	failures := 0

	put("attacker-0123456789", v)
	openFailure(t, s, "attacker-0123456789", ErrTampered, "value moved to another key")
	failures += 2

	for i := range v {
		flipped := bytes.Clone(v)
		flipped[i] ^= 0x01
		put("flipped", flipped)
		want := ErrTampered
		switch {
		case i == 0:
			want = ErrNotSealed
		case i < 1+sealIDLen:
			want = ErrUnknownKey
		}
		openFailure(t, s, "flipped", want, fmt.Sprintf("byte %d flipped", i))
		failures += 2
	}
	for n := range len(v) {
		put("truncated", v[:n])
		want := ErrTampered
		switch {
		case n == 0:
			want = ErrNotSealed
		case n < sealOverhead:
			want = ErrSealFormat
		}
		openFailure(t, s, "truncated", want, fmt.Sprintf("truncated to %d bytes", n))
		failures += 2
	}

	stranger := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{otherKey}})
	if err := stranger.Save(testSession("stranger-0123456789")); err != nil {
		t.Fatal(err)
	}
	openFailure(t, s, "stranger-0123456789", ErrUnknownKey, "sealed by an unknown key")
	failures += 2

	if got := s.Stats().UnopenedValues; got != uint64(failures) {
		t.Errorf("Stats().UnopenedValues = %d, want %d", got, failures)
	}
	log.mu.Lock()
	warns := log.warns
	log.mu.Unlock()
	if len(warns) != 1 || !strings.Contains(warns[0], "did not open") || strings.Contains(warns[0], id) {
		t.Errorf("logged %q; want one warning (the rest within a minute are counted), naming no ID", warns)
	}
	if got, err := s.Load(id); err != nil || got.ID != id {
		t.Errorf("the original still loads: %v", err)
	}
}

// Keys rotate: a store with [new, old] opens what old sealed and seals
// its next write with new; once old is dropped, what it alone sealed is
// ErrUnknownKey.
func TestKeyRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	before := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}})
	rotated := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}})
	after := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}})
	oldID, newID := before.seal.keys[0].id, rotated.seal.keys[0].id

	for _, id := range []string{"kept-0123456789", "idle-0123456789"} {
		if err := before.Save(testSession(id)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rotated.Load("kept-0123456789")
	if err != nil || got.Data["user"] != "alice" {
		t.Fatalf("the rotated store loads an old value: %+v, %v", got, err)
	}
	if err := rotated.Save(got); err != nil {
		t.Fatal(err)
	}
	if v := rawValue(t, rotated, "kept-0123456789"); !bytes.Equal(v[1:1+sealIDLen], newID[:]) {
		t.Errorf("after its next write the value has key ID %x, want the new key's %x (old: %x)", v[1:1+sealIDLen], newID, oldID)
	}
	if _, err := after.Load("kept-0123456789"); err != nil {
		t.Errorf("the resealed value does not open without the old key: %v", err)
	}
	openFailure(t, after, "idle-0123456789", ErrUnknownKey, "a value only the dropped key sealed")

	// Through the session manager: a change of a session sealed by the
	// old key seals it with the new one.
	a1 := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}})
	a2 := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}})
	id := a1.login("bob")
	if got := a2.user(id); got != "bob" {
		t.Fatalf("the rotated instance sees user %s, want bob", got)
	}
	a2.do(context.Background(), id, "/set?k=v")
	if v := rawValue(t, a2.s, id); !bytes.Equal(v[1:1+sealIDLen], newID[:]) {
		t.Errorf("a change through the manager left key ID %x, want %x", v[1:1+sealIDLen], newID)
	}
	if data := a2.data(id); data["k"] != "v" || data["user"] != "bob" {
		t.Errorf("after the change: %v", data)
	}
}

// A plaintext value (written before encryption, or forged) is refused
// without ReadPlaintext, so it logs nobody in, and read with it; its next
// write seals it.
func TestReadPlaintext(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	plain := openStore(t, Options{Addr: srv.Addr})
	strict := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}})
	lenient := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, ReadPlaintext: true})
	const id = "before-0123456789"
	if err := plain.Save(testSession(id)); err != nil {
		t.Fatal(err)
	}
	openFailure(t, strict, id, ErrNotSealed, "plaintext without ReadPlaintext")
	got, err := lenient.Load(id)
	if err != nil || got.Data["user"] != "alice" {
		t.Fatalf("ReadPlaintext: Load = %+v, %v", got, err)
	}
	if err := lenient.Save(got); err != nil {
		t.Fatal(err)
	}
	if v := rawValue(t, lenient, id); v[0] != sealFormat || bytes.Contains(v, []byte("alice")) {
		t.Errorf("after its next write the value is %q, want it sealed", v)
	}
	if _, err := strict.Load(id); err != nil {
		t.Errorf("the resealed value: %v", err)
	}

	// Through the session manager: a forged plaintext session is a fresh
	// session without ReadPlaintext.
	forged := session.Session{ID: "forgedForged0123456789", // a valid ID: 22 characters
		Data: map[string]any{"user": "admin"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := plain.Save(&forged); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}})
	if got := a.user(forged.ID); got != "<nil>" {
		t.Errorf("a forged plaintext session logs in as %s", got)
	}
	lenient2 := newApp(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, ReadPlaintext: true})
	if got := lenient2.user(forged.ID); got != "admin" {
		t.Errorf("with ReadPlaintext the plaintext session sees user %s, want admin (the check above proves nothing otherwise)", got)
	}
}

// With HashKeys no Redis key holds a session ID or a user, the store
// loads, saves and deletes by ID, and a sealing store of the other key
// format on the same prefix is refused at New.
func TestHashKeys(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	opts := Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, HashKeys: true}
	s := openStore(t, opts)
	const id = "hashed-0123456789"
	roundTrip(t, s, id)
	keys := raw(t, s, client.ReplyBulks, "KEYS", client.Str("*"))
	if len(keys.Bulks) != 2 {
		t.Errorf("keys %q, want the session's and the key format's", keys.Bulks)
	}
	for _, k := range keys.Bulks {
		if bytes.Contains(k, []byte(id)) {
			t.Errorf("key %q holds the ID", k)
		}
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(id); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("Load after Delete = %v", err)
	}

	// The key format marker.
	if v := raw(t, s, client.ReplyBulk, "GET", client.Key("sessionx:", " keys")); string(v.Bulk) != "sha256" {
		t.Errorf("key format %q, want sha256", v.Bulk)
	}
	_, err := NewRedisStore(Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}})
	if !errors.Is(err, ErrHashKeysMismatch) {
		t.Errorf("a sealing store without HashKeys on a hashed prefix: New = %v, want ErrHashKeysMismatch", err)
	}
	openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, Prefix: "other:"})
	_, err = NewRedisStore(Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, Prefix: "other:", HashKeys: true})
	if !errors.Is(err, ErrHashKeysMismatch) {
		t.Errorf("HashKeys on a prefix a sealing store uses unhashed: New = %v, want ErrHashKeysMismatch", err)
	}
	// A store that does not seal writes nothing.
	openStore(t, Options{Addr: srv.Addr, Prefix: "plain:"})
	if n := raw(t, s, client.ReplyBulks, "KEYS", client.Str("plain:*")); len(n.Bulks) != 0 {
		t.Errorf("a plain store wrote %q", n.Bulks)
	}
}

// New refuses keys of the wrong length, duplicates, and HashKeys or
// ReadPlaintext without keys, before any I/O; Options' String shows no
// key.
func TestNewRejectsBadEncryptionOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"empty key":                  {EncryptionKeys: [][]byte{{}}},
		"16-byte key":                {EncryptionKeys: [][]byte{make([]byte, 16)}},
		"31-byte key":                {EncryptionKeys: [][]byte{make([]byte, 31)}},
		"33-byte key":                {EncryptionKeys: [][]byte{make([]byte, 33)}},
		"second key short":           {EncryptionKeys: [][]byte{newKey, make([]byte, 24)}},
		"duplicate keys":             {EncryptionKeys: [][]byte{newKey, oldKey, bytes.Clone(newKey)}},
		"HashKeys without keys":      {HashKeys: true},
		"ReadPlaintext without keys": {ReadPlaintext: true},
	} {
		opts.Addr = "127.0.0.1:1" // nothing listens: a dial would fail otherwise
		_, err := NewRedisStore(opts)
		if err == nil || strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%s: New = %v, want a validation error before dialing", name, err)
		}
	}
	s := Options{EncryptionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, HashKeys: true}.String()
	if strings.Contains(s, "0123456789abcdef") || !strings.Contains(s, "EncryptionKeys:1 keys") {
		t.Errorf("Options.String() = %s", s)
	}
}

// A value's subkey is HKDF-SHA256's, as crypto/hkdf computes it.
func TestSubkeyIsHKDF(t *testing.T) {
	sl, err := newSealer([][]byte{newKey}, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := sl.keys[0]
	prk, _ := hkdf.Extract(sha256.New, newKey, []byte("redisstore sealed values"))
	if !bytes.Equal(k.prk, prk) {
		t.Fatal("the PRK is not HKDF-Extract's")
	}
	salt := []byte("0123456789abcdef")
	sc, _, err := k.prepare(redisKey{"p:", "id"}, append([]byte{sealFormat, 0, 0, 0, 0}, salt...))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hkdf.Expand(sha256.New, prk, subkeyInfo+string(salt), 32)
	if !bytes.Equal(sc.sub[:], want) {
		t.Errorf("subkey %x, HKDF-Expand gives %x", sc.sub, want)
	}
}

// monitor records what Redis is asked (MONITOR) until the returned
// function is called, which returns it.
func monitor(t *testing.T, addr string) func() string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "MONITOR\r\n")
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR: %q, %v", line, err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			line, err := r.ReadString('\n')
			mu.Lock()
			out.WriteString(line)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string {
		// A PING of our own marks the end of what we waited for.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		ping, err := net.Dial("tcp", addr)
		if err == nil {
			fmt.Fprint(ping, "ECHO end-of-monitor\r\n")
			bufio.NewReader(ping).ReadString('\n')
			ping.Close()
		}
		for {
			mu.Lock()
			s := out.String()
			mu.Unlock()
			if strings.Contains(s, "end-of-monitor") {
				conn.Close()
				<-done
				return s
			}
			select {
			case <-done:
				return s
			case <-time.After(time.Millisecond):
			}
		}
	}
}

// Through the session manager with EncryptionKeys and HashKeys, nothing
// Redis is asked (MONITOR) or holds shows a session ID, a user or a
// session's data: not the keys, values, rotation markers, nor the user
// index.
func TestSealedAndHashedShowNothingToRedis(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	opts := Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey}, HashKeys: true}
	a := newUserApp(t, opts)
	stop := monitor(t, srv.Addr)
	ctx := context.Background()
	id1 := a.login("carol")
	_, id2 := a.do(ctx, "", "/login?user=carol")
	a.do(ctx, id1, "/set?note=hunter2")
	list, err := a.m.UserSessions(ctx, "carol")
	if err != nil || len(list) != 2 {
		t.Fatalf("UserSessions = %d, %v; want 2", len(list), err)
	}
	a.do(ctx, id2, "/revoke-others")
	seen := stop()
	dump := seen
	for _, k := range raw(t, a.s, client.ReplyBulks, "KEYS", client.Str("*")).Bulks {
		dump += "\n" + string(k)
		if typ := raw(t, a.s, client.ReplyAny, "TYPE", client.Key("", string(k))); typ.Value.Str == "zset" {
			for _, m := range raw(t, a.s, client.ReplyBulks, "ZRANGE", client.Key("", string(k)), client.Int(0), client.Int(-1)).Bulks {
				dump += "\n" + string(m)
			}
		} else if typ.Value.Str == "string" {
			dump += "\n" + string(raw(t, a.s, client.ReplyBulk, "GET", client.Key("", string(k))).Bulk)
		}
	}
	if !strings.Contains(seen, "EVALSHA") || !strings.Contains(seen, "GET") {
		t.Fatalf("MONITOR saw no session commands: %.300q", seen)
	}
	for _, secret := range []string{id1, id2, "carol", "hunter2", `"user"`} {
		if strings.Contains(dump, secret) {
			t.Errorf("Redis saw or holds %q", secret)
		}
	}
	if got := a.user(id2); got != "carol" {
		t.Errorf("the kept session sees user %s", got)
	}
	if got := a.user(id1); got != "<nil>" {
		t.Errorf("the revoked session sees user %s", got)
	}
}

// The user index, rotation and conditional saves through the session
// manager, sealed and with hashed keys, on one server and on a Cluster
// (where hashed keys spread over the slots).
func TestLogOutEverywhereSealedAndHashed(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	testLogOutEverywhere(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}, HashKeys: true})
}

func TestLogOutEverywhereSealedAndHashedOnCluster(t *testing.T) {
	c := redisserver.StartCluster(t, redisserver.ClusterConfig{})
	testLogOutEverywhere(t, Options{ClusterAddrs: c.Addrs()[:1], EncryptionKeys: [][]byte{newKey}, HashKeys: true})
}

// After a key rotation a user's entries are written in the new key's
// index and read from both: the index names each session once, and
// UnindexSessions removes it from both.
func TestUserIndexAcrossKeyRotation(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{})
	ctx := context.Background()
	before := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{oldKey}, HashKeys: true})
	after := openStore(t, Options{Addr: srv.Addr, EncryptionKeys: [][]byte{newKey, oldKey}, HashKeys: true})
	const id, other = "device-0123456789", "other-0123456789"
	for _, i := range []string{id, other} {
		if _, err := before.IndexSession(ctx, "dave", i, "", time.Hour, 10); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := after.IndexedSessions(ctx, "dave", 10); err != nil || len(ids) != 2 {
		t.Fatalf("after the rotation IndexedSessions = %q, %v; want both", ids, err)
	}
	if _, err := after.IndexSession(ctx, "dave", id, "", time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	ixs := []userIndex{after.index("dave", 0), after.index("dave", 1)}
	if after.indexCount() != 2 || ixs[0].key == ixs[1].key || ixs[1].key != before.index("dave", 0).key {
		t.Fatalf("indexes %v: want the new key's, then the old one's", ixs)
	}
	members := raw(t, after, client.ReplyBulks, "ZRANGE", ixs[0].key.arg(), client.Int(0), client.Int(-1)).Bulks
	if len(members) != 1 || !bytes.Equal(members[0][1:1+sealIDLen], after.seal.keys[0].id[:]) {
		t.Fatalf("the new index holds %q: want one member, sealed by the new key", members)
	}
	ids, err := after.IndexedSessions(ctx, "dave", 10)
	if err != nil || len(ids) != 2 || ids[0] != id {
		t.Errorf("IndexedSessions = %q, %v; want %s (the new index's) first, each once", ids, err, id)
	}
	if ids, _ := after.IndexedSessions(ctx, "dave", 1); len(ids) != 1 {
		t.Errorf("IndexedSessions(max 1) = %q", ids)
	}
	if err := after.UnindexSessions(ctx, "dave", []string{id, other}); err != nil {
		t.Fatal(err)
	}
	for _, ix := range ixs {
		if n := raw(t, after, client.ReplyInt, "EXISTS", ix.key.arg()).Int; n != 0 {
			t.Errorf("UnindexSessions left index %s", ix.key.name)
		}
	}
}
