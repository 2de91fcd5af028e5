package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionx-redis/redisstore/internal/client"
	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// The user index (session.UserStore).
//
// Each user has one sorted set, under Prefix+"user "+user: no session ID
// holds a space, so no session key can be an index. Its members are the
// user's session IDs, each scored by when it expires at the latest, in
// Unix milliseconds of Redis's clock. Entries are written before the
// session's value and only ever point too far into the future (an ID whose
// session has ended, expired or passed to another user): whoever reads
// the index checks each session, and no live session is missing from it.
//
// One script adds an entry, in one round trip on any topology since it
// touches one key:
//
//	KEYS[1] the index; ARGV[1] the session ID; ARGV[2] its TTL in ms;
//	ARGV[3] the slack in ms; ARGV[4] the most entries kept; ARGV[5] an
//	ID the trim leaves alone besides ARGV[1] ("" for none).
//
// It replaces a key of another type (written by something else: no
// session was indexed there), drops the entries that have expired and
// those whose score is no time at all (ZREMRANGEBYSCORE), raises the
// entry's score to now+TTL+slack (ZADD, never lowering it), removes the
// entries that expire first beyond the bound, other than the one added
// and the spare one, and answers their IDs (the caller revokes their
// sessions), and sets the index's expiry to its last entry's (PEXPIREAT):
// an index outlives none of its sessions and dies with the last. Its time
// is Redis's (TIME), which sets the sessions' TTLs too.
const indexSource = `local key, id, spare = KEYS[1], ARGV[1], ARGV[5]
local kind = redis.call('TYPE', key)
if type(kind) == 'table' then kind = kind.ok end
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', key) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
redis.call('ZREMRANGEBYSCORE', key, '(1e15', '+inf')
local score = now + tonumber(ARGV[2]) + tonumber(ARGV[3])
local old = redis.call('ZSCORE', key, id)
if not old or tonumber(old) < score then
  redis.call('ZADD', key, string.format('%.0f', score), id)
end
local over = redis.call('ZCARD', key) - tonumber(ARGV[4])
local trimmed = {}
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGE', key, 0, over + 1)) do
    if m ~= id and m ~= spare and #trimmed < over then
      trimmed[#trimmed + 1] = m
      redis.call('ZREM', key, m)
    end
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, string.format('%.0f', math.ceil(tonumber(last[2]))))
return trimmed`

// indexScript runs indexSource with EVALSHA.
var indexScript = client.NewScript(indexSource)

// indexSlack is added to an entry's expiry: the session's value, written
// after its entry, expires that much later than its TTL from the entry's
// time at most.
const indexSlack = time.Minute

// indexKey is the prefix of user indexes; see "The user index".
const indexKey = "user "

// IndexSession records id in user's index until ttl (zero: the store's TTL)
// from now, plus a minute, and keeps the index within max entries: it
// returns the IDs of the entries that expire first beyond max (other than
// id and spare), which it removed, for the caller to revoke. Expired
// entries are dropped, and the index expires with its last entry.
//
// It runs a script: on a server that refuses scripts (an ACL without
// +@scripting, a proxy) it fails with an error matching
// session.ErrUnsupported.
func (s *Store[S]) IndexSession(ctx context.Context, user, id, spare string, ttl time.Duration, max int) ([]string, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	if max < 1 {
		return nil, fmt.Errorf("redisstore: a user index bounded to %d entries", max)
	}
	if ttl <= 0 {
		ttl = time.Duration(s.ttl.Load())
	}
	ix := s.index(user, 0) // entries are written in the first key's
	spareMember := client.Str("")
	if spare != "" {
		spareMember = ix.member(spare)
	}
	args := []client.Arg{ix.key.arg(), ix.member(id),
		client.Int(millis(ttl)), client.Int(millis(indexSlack)), client.Int(int64(max)), spareMember}
	var b client.Batch
	if s.evalOnly.Load() {
		b.Add(client.ReplyBulks, "EVAL", append([]client.Arg{client.Str(indexSource), client.Int(1)}, args...)...)
	} else {
		b.AddScript(client.ReplyBulks, indexScript, 1, args...)
	}
	err := s.c.Do(ctx, &b)
	switch refusal(err) {
	case "":
	case "evalsha":
		s.evalOnly.Store(true)
		return s.IndexSession(ctx, user, id, spare, ttl, max)
	default:
		return nil, fmt.Errorf("redisstore: the server refuses scripts, which the user index needs (%s): %w", refusalKind(err), session.ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	return ix.ids(b.Replies[0].Bulks, nil), nil
}

// userIndex is one of a user's indexes: with HashKeys a user has one per
// encryption key (see "Sealed values"). Entries are written in the
// first key's, index 0, and read from all, so that a key rotation splits
// no user's sessions from the rest.
type userIndex struct {
	key redisKey
	i   int     // which, for the sealer
	s   *sealer // nil: members are the IDs themselves
}

// indexCount is how many indexes a user has.
func (s *Store[S]) indexCount() int { return s.seal.indexCount() }

// index returns user's index i (see indexCount).
func (s *Store[S]) index(user string, i int) userIndex {
	return userIndex{key: redisKey{s.cfg.Prefix + indexKey, s.seal.indexName(user, i)}, i: i, s: s.seal}
}

// member returns the member of ix that names id, as an argument.
func (ix userIndex) member(id string) client.Arg { return ix.s.member(ix.key, ix.i, id) }

// ids returns the session IDs that members of ix name, but those in seen
// (nil: none), which it adds to seen. Members that are no session ID, or
// with HashKeys do not open, are left out.
func (ix userIndex) ids(members [][]byte, seen map[string]bool) []string {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		m, ok := ix.s.memberID(ix.key, m)
		if id := string(m); ok && checkID(id) == nil && !seen[id] {
			ids = append(ids, id)
			if seen != nil {
				seen[id] = true
			}
		}
	}
	return ids
}

// millis is d in milliseconds, at least one.
func millis(d time.Duration) int64 { return max(int64(d/time.Millisecond), 1) }

// UnindexSessions removes ids from user's index (ZREM).
func (s *Store[S]) UnindexSessions(ctx context.Context, user string, ids []string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	for i := range s.indexCount() {
		ix := s.index(user, i)
		for rest := ids; len(rest) > 0; {
			n := min(len(rest), maxArgs)
			args := make([]client.Arg, 0, n+1)
			args = append(args, ix.key.arg())
			for _, id := range rest[:n] {
				args = append(args, ix.member(id))
			}
			var b client.Batch
			b.Idempotent = true
			b.Add(client.ReplyInt, "ZREM", args...)
			if err := s.c.Do(ctx, &b); err != nil && !wrongType(err) {
				return err
			}
			rest = rest[n:]
		}
	}
	return nil
}

// maxArgs bounds the IDs of one ZREM.
const maxArgs = 512

// IndexedSessions returns the IDs in user's index, at most max, those
// that expire last first (ZRANGE by rank from the end, which every Redis
// version has), leaving out members that are no session ID; with
// HashKeys, those of the first key's index first, then the others'
// (written before a key rotation). Some may name
// sessions that ended or passed to another user: the caller checks each.
// A key of another type under the index's name is an empty index.
func (s *Store[S]) IndexedSessions(ctx context.Context, user string, max int) ([]string, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	var ids []string
	var seen map[string]bool // with more than one index, an ID may be in two
	if s.indexCount() > 1 {
		seen = make(map[string]bool)
	}
	for i := range s.indexCount() {
		ix := s.index(user, i)
		var b client.Batch
		b.Idempotent = true
		b.Add(client.ReplyBulks, "ZRANGE", ix.key.arg(), client.Int(-int64(max)), client.Int(-1))
		if err := s.c.Do(ctx, &b); err != nil {
			if wrongType(err) {
				continue // not an index: nothing was indexed there
			}
			return nil, err
		}
		slices.Reverse(b.Replies[0].Bulks)
		ids = append(ids, ix.ids(b.Replies[0].Bulks, seen)...)
	}
	return ids[:min(len(ids), max)], nil
}

// wrongType reports a WRONGTYPE reply: a key of another type.
func wrongType(err error) bool {
	re, ok := errors.AsType[resp.Error](err)
	return ok && re.Kind == "WRONGTYPE"
}

// checkUser rejects what session.CheckUser rejects, before any I/O.
func checkUser(user string) error {
	if err := session.CheckUser(user); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	return nil
}
