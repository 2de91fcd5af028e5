package redisstore

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// Conditional writes (session.VersionedStore).
//
// A version is the stored bytes themselves: the script compares the value
// under the key with the one the request loaded, which costs Redis a
// memcmp (a digest would cost it a SHA1 of the value) and the client a
// copy it already has. One script does every conditional write, in one
// round trip on any topology, since it touches one key:
//
//	KEYS[1] the key; ARGV[1] the new value ("" to only set the TTL);
//	ARGV[2] the expected value ("" for "nothing"); ARGV[3] the TTL in ms;
//	ARGV[4] "1" to keep what remains of the key's TTL instead (KEEPTTL,
//	Redis 6.0; the caller asks only for a key it saw with a TTL).
//
// It answers "" when it wrote, a null when the key holds nothing it
// expected (the session ended), and "~" followed by the current value when
// it holds another value, so a conflict costs no second round trip. The
// tilde keeps a stored empty string apart from success.
const casSource = `local cur = redis.call('GET', KEYS[1])
local want = ARGV[2]
if want == '' then want = false end
if cur ~= want then
  if cur then return '~' .. cur end
  return false
end
if ARGV[1] == '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif ARGV[4] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
return ''`

// casScript runs casSource with EVALSHA.
var casScript = client.NewScript(casSource)

// scriptRetryInterval is how long a store whose server refused the script
// writes plainly before it tries the script again (an ACL fixed, a proxy
// replaced).
var scriptRetryInterval = 30 * time.Second

// Markers are values no JSON starts with: "!moved:<new ID>:<unix ms>" after
// an automatic rotation, "!retired:<unix ms>" after an explicit one. Load
// and LoadContext report a marker as ErrSessionNotFound: the session is no
// longer there.
const (
	markerMoved   = "!moved:"
	markerRetired = "!retired:"
)

// appendMarker appends m's encoding to b.
func appendMarker(b []byte, m session.Marker) []byte {
	if m.MovedTo != "" {
		b = append(b, markerMoved...)
		b = append(b, m.MovedTo...)
		b = append(b, ':')
	} else {
		b = append(b, markerRetired...)
	}
	return strconv.AppendInt(b, m.At.UnixMilli(), 10)
}

// isMarker reports whether a stored value is a rotation marker.
func isMarker(v []byte) bool { return len(v) > 0 && v[0] == '!' }

// parseMarker decodes a marker; ok is false for a value starting with '!'
// that is not one (a foreign value, which the caller treats as invalid).
func parseMarker(v []byte) (m session.Marker, ok bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(v, []byte(markerRetired)):
		rest = v[len(markerRetired):]
	case bytes.HasPrefix(v, []byte(markerMoved)):
		i := bytes.LastIndexByte(v, ':')
		if i <= len(markerMoved) {
			return m, false
		}
		m.MovedTo, rest = string(v[len(markerMoved):i]), v[i+1:]
	default:
		return m, false
	}
	ms, err := strconv.ParseInt(string(rest), 10, 64)
	if err != nil {
		return session.Marker{}, false
	}
	m.At = time.UnixMilli(ms)
	return m, true
}

// stored turns v, read under key, the key of id, into a session.Stored:
// what it holds, once opened, and v itself as the version. A value that
// does not open, or a marker that does not parse, is an invalid value.
func (s *Store[S]) stored(key redisKey, id string, v []byte) (session.Stored, error) {
	plain, err := s.seal.openValue(key, id, v, false)
	if err != nil {
		return session.Stored{}, err
	}
	if !isMarker(plain) {
		return session.Stored{Value: plain, Version: v}, nil
	}
	m, ok := parseMarker(plain)
	if !ok {
		return session.Stored{}, invalidValue(id, "not a session nor a rotation marker")
	}
	return session.Stored{Version: v, Marker: &m}, nil
}

// LoadVersion returns what id holds, with what remains of its TTL (GET and
// PTTL in one round trip): a session, a rotation marker, or nothing (the
// zero Stored and a nil error).
func (s *Store[S]) LoadVersion(ctx context.Context, id string) (session.Stored, error) {
	if err := checkID(id); err != nil {
		return session.Stored{}, err
	}
	key := s.key(id)
	if v, ttl, ok := s.cached(key); ok {
		if err := ctx.Err(); err != nil {
			return session.Stored{}, err // as without a cache
		}
		st, err := s.stored(key, id, bytes.Clone(v)) // the caller's to keep, not the cache's
		st.TTL = ttl
		return st, err
	}
	var b client.Batch
	b.Idempotent = true
	s.addRead(&b, key, true)
	if err := s.c.Do(ctx, &b); err != nil {
		return session.Stored{}, loadError(id, err)
	}
	if b.Replies[0].Null {
		return session.Stored{}, nil
	}
	st, err := s.stored(key, id, b.Replies[0].Bulk)
	if pttl := b.Replies[1].Int; pttl > 0 {
		st.TTL = time.Duration(pttl) * time.Millisecond
	}
	return st, err
}

// SaveVersion writes value under id for ttl (zero: the store's TTL) if id
// still holds version, or nothing when version is nil. With keepTTL the
// key keeps what remains of its TTL (KEEPTTL: ask it only for a key known
// to have one, or it would never expire).
func (s *Store[S]) SaveVersion(ctx context.Context, id string, value, version []byte, ttl time.Duration, keepTTL bool) (session.Stored, bool, error) {
	if len(value) == 0 || isMarker(value) {
		return session.Stored{}, false, invalidValue(id, "empty or marker value to save")
	}
	rk, sealed, err := s.sealedFor(id, value)
	if err != nil {
		return session.Stored{}, false, err
	}
	st, ok, err := s.cas(ctx, id, rk, sealed, version, ttl, keepTTL)
	if ok {
		st = session.Stored{Value: value, Version: sealed}
	}
	return st, ok, err
}

// TouchVersion sets id's TTL to ttl (zero: the store's TTL) if id still
// holds version, with PEXPIRE inside the script. With EncryptionKeys, a
// version sealed by another key than the first, or in plaintext, is
// sealed again by the first instead (a write for the TTL), so that a
// session kept alive by refreshes alone leaves an old key too; the
// Stored returned then holds the new version.
func (s *Store[S]) TouchVersion(ctx context.Context, id string, version []byte, ttl time.Duration) (session.Stored, bool, error) {
	if err := checkID(id); err != nil {
		return session.Stored{}, false, err
	}
	if len(version) == 0 {
		return session.Stored{}, false, invalidValue(id, "touch without a version")
	}
	rk := s.key(id)
	if s.seal.stale(version) {
		if plain, err := s.seal.openValue(rk, id, version, false); err == nil && len(plain) > 0 && !isMarker(plain) {
			return s.SaveVersion(ctx, id, plain, version, ttl, false)
		}
	}
	return s.cas(ctx, id, rk, nil, version, ttl, false)
}

// Retire replaces the session under id, if id still holds version (or
// nothing, for a nil version), with marker for ttl.
func (s *Store[S]) Retire(ctx context.Context, id string, version []byte, marker session.Marker, ttl time.Duration) (session.Stored, bool, error) {
	var buf [64 + MaxIDLength]byte
	rk, value, err := s.sealedFor(id, appendMarker(buf[:0], marker))
	if err != nil {
		return session.Stored{}, false, err
	}
	return s.cas(ctx, id, rk, value, version, ttl, false)
}

// sealedFor checks id and returns its key and v sealed under it (v itself
// without EncryptionKeys).
func (s *Store[S]) sealedFor(id string, v []byte) (redisKey, []byte, error) {
	if err := checkID(id); err != nil {
		return redisKey{}, nil, err
	}
	rk := s.key(id)
	sealed, err := s.seal.sealValue(rk, v)
	return rk, sealed, err
}

// Revoke replaces what id holds with marker for ttl and returns what it
// held: SET ... [XX] GET (Redis 6.2), or GET then SET in one round trip on
// an older server; on a key of another type, a plain SET. Without always,
// an ID that holds nothing stays empty (XX), so requests naming unknown
// IDs cannot fill Redis with markers.
func (s *Store[S]) Revoke(ctx context.Context, id string, marker session.Marker, ttl time.Duration, always bool) (session.Stored, error) {
	if ttl <= 0 {
		ttl = time.Duration(s.ttl.Load())
	}
	var buf [64 + MaxIDLength]byte
	rk, sealed, err := s.sealedFor(id, appendMarker(buf[:0], marker))
	if err != nil {
		return session.Stored{}, err
	}
	value := client.Bytes(sealed)
	key := rk.arg()
	ms := client.Int(max(int64(ttl/time.Millisecond), 1))
	// set adds the SET, with XX unless always: with GET its reply is the
	// old value; without, OK or null (XX unmet), read as any value.
	set := func(b *client.Batch, get bool) {
		args := []client.Arg{key, value, client.Str("PX"), ms}
		if !always {
			args = append(args, client.Str("XX"))
		}
		if get {
			b.Add(client.ReplyBulk, "SET", append(args, client.Str("GET"))...)
		} else {
			b.Add(client.ReplyAny, "SET", args...)
		}
	}
	var b client.Batch
	b.Idempotent = true
	b.Hook = s.dropHook(rk)
	set(&b, true)
	err = s.write(ctx, &b, rk)
	if re, ok := errors.AsType[resp.Error](err); ok {
		b.Reset()
		b.Idempotent = true
		b.Hook = s.dropHook(rk)
		if re.Kind == "WRONGTYPE" {
			set(&b, false)
			return session.Stored{}, s.write(ctx, &b, rk)
		}
		b.Add(client.ReplyBulk, "GET", key)
		set(&b, false)
		err = s.write(ctx, &b, rk)
	}
	old := &b.Replies[0]
	if err != nil || old.Null {
		return session.Stored{}, err
	}
	st, err := s.stored(rk, id, old.Bulk)
	if errors.Is(err, ErrInvalidSession) {
		err = nil // replaced all the same
	}
	return st, err
}

// cas runs casScript on rk, the key of id (checked), and decodes its
// answer. On a server that refuses
// EVALSHA but allows EVAL it sends the source each time; on one that
// refuses both it writes unconditionally (see plainCAS) for
// scriptRetryInterval, then tries again.
func (s *Store[S]) cas(ctx context.Context, id string, rk redisKey, value, version []byte, ttl time.Duration, keepTTL bool) (session.Stored, bool, error) {
	if ttl <= 0 {
		ttl = time.Duration(s.ttl.Load())
	}
	ms := client.Int(max(int64(ttl/time.Millisecond), 1))
	keep := client.Str("")
	if keepTTL {
		keep = client.Str("1")
	}
	if until := s.plainUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return s.plainCAS(ctx, rk, value, ms)
	}
	var b client.Batch
	key := rk.arg()
	source, script := s.casFor(&b, rk, value, version)
	tracked := script != casScript
	if s.evalOnly.Load() {
		b.Add(client.ReplyBulk, "EVAL", client.Str(source), client.Int(1), key, client.Bytes(value), client.Bytes(version), ms, keep)
	} else {
		b.AddScript(client.ReplyBulk, script, 1, key, client.Bytes(value), client.Bytes(version), ms, keep)
	}
	if err := s.write(ctx, &b, rk); err != nil {
		switch refusal(err) {
		case "":
			return session.Stored{}, false, err
		case "evalsha":
			// EVAL may do: this call and the later ones send it. (Called
			// again, the batch is EVAL, whose refusal is "eval".)
			s.evalOnly.Store(true)
			return s.cas(ctx, id, rk, value, version, ttl, keepTTL)
		}
		s.evalOnly.Store(false) // EVALSHA first again when scripts come back
		s.plainUntil.Store(time.Now().Add(scriptRetryInterval).UnixNano())
		if !s.warnedPlain.Swap(true) {
			s.cfg.client.Logger.Warn("redisstore: the server refuses scripts, so saves are not conditional: parallel requests of one session may lose changes or bring back a logged-out session; the script is tried again every "+scriptRetryInterval.String(),
				"reply", refusalKind(err))
		}
		return s.plainCAS(ctx, rk, value, ms)
	}
	s.plainUntil.Store(0)
	r := &b.Replies[0]
	switch {
	case r.Null:
		return session.Stored{}, false, nil
	case len(r.Bulk) == 0 || r.Bulk[0] == '+':
		return session.Stored{}, true, nil
	case r.Bulk[0] != '~':
		return session.Stored{}, false, invalidValue(id, "unexpected script reply")
	}
	cur := r.Bulk[1:]
	if tracked { // "~<PTTL> <value>" (casTrackedSource)
		i := bytes.IndexByte(cur, ' ')
		if i < 0 {
			return session.Stored{}, false, invalidValue(id, "unexpected script reply")
		}
		cur = cur[i+1:]
	}
	st, err := s.stored(rk, id, cur)
	return st, false, err
}

// refusal tells why a server will not run casScript: "evalsha" when an
// ACL refuses EVALSHA alone (EVAL may do), "eval" when it refuses
// scripting or a proxy does not know the command, "" for any other error.
func refusal(err error) string {
	re, ok := errors.AsType[resp.Error](err)
	if !ok {
		return ""
	}
	msg := strings.ToLower(re.Msg)
	switch {
	case re.Kind == "NOPERM" && strings.Contains(msg, "'evalsha'"):
		return "evalsha"
	case re.Kind == "NOPERM" && strings.Contains(msg, "'eval"),
		re.Kind == "ERR" && strings.Contains(msg, "unknown command") && strings.Contains(msg, "eval"):
		return "eval"
	}
	return ""
}

// refusalKind names a refusal for the log without the server's message,
// which may quote the command's arguments: a session ID and its data.
func refusalKind(err error) string {
	if re, ok := errors.AsType[resp.Error](err); ok && re.Kind == "NOPERM" {
		return "NOPERM"
	}
	return "unknown command"
}

// plainCAS is what cas does on a server that refuses scripts: what the
// store did before conditional writes. A value is SET whatever the key
// holds, for the TTL; a touch is PEXPIRE, which does nothing to a session
// that ended.
func (s *Store[S]) plainCAS(ctx context.Context, rk redisKey, value []byte, ms client.Arg) (session.Stored, bool, error) {
	var b client.Batch
	b.Idempotent = true
	b.Hook = s.dropHook(rk)
	key := rk.arg()
	if len(value) == 0 {
		b.Add(client.ReplyInt, "PEXPIRE", key, ms)
		err := s.write(ctx, &b, rk)
		return session.Stored{}, err == nil && b.Replies[0].Int == 1, err
	}
	b.Add(client.ReplyOK, "SET", key, client.Bytes(value), client.Str("PX"), ms)
	err := s.write(ctx, &b, rk)
	return session.Stored{}, err == nil, err
}
