package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/redis/rueidis"
	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/bench/goredisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// Every client stores sessions the way sessionx does: JSON under
// "sessionx:"+ID, SET with EX 86400.
const (
	keyPrefix  = "sessionx:"
	sessionTTL = 24 * time.Hour
	rawPrefix  = "bench:"
	rawID      = "raw300"
	rawKey     = rawPrefix + rawID // the raw GET and SET benchmarks' key
)

// ttlSeconds is sessionTTL as SET's EX argument.
var ttlSeconds = strconv.Itoa(int(sessionTTL / time.Second))

// rawValue is the raw benchmarks' value: 300 bytes, a JSON string so that
// redisstore's Store[json.RawMessage] takes it too.
var rawValue = []byte(`"` + strings.Repeat("x", 298) + `"`)

// store is one client's session store, plus raw GET and SET of rawKey.
// Load of a missing session returns an error matching session.ErrNotFound.
type store interface {
	Load(ctx context.Context, id string) (*session.Session, error)
	Save(ctx context.Context, sess *session.Session) error
	Delete(ctx context.Context, id string) error
	Get(ctx context.Context) ([]byte, error)
	Set(ctx context.Context, value []byte) error
	Close() error
}

// client names a store and opens it on a server.
type client struct {
	name string
	open func(addr string) (store, error)
}

// clients are the stores compared, redisstore first: benchstat compares the
// others with the first column.
var clients = []client{
	{"redisstore", openRedisstore},
	{"goredis", openGoredis},
	{"rueidis", openRueidis},
	{"redigo", openRedigo},
	{"raw", func(addr string) (store, error) {
		c, err := dialRaw(addr)
		if err != nil {
			return nil, err
		}
		return rawStore{c}, nil
	}},
}

// decodeSession is what every peer's Load does after its GET, as sessionx's
// store does: json.Unmarshal into a new Session.
func decodeSession(data []byte) (*session.Session, error) {
	sess := new(session.Session)
	if err := json.Unmarshal(data, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

// poolSize is the connection bound of the pooled clients, go-redis's and
// redisstore's default: 10 per GOMAXPROCS.
func poolSize() int { return 10 * runtime.GOMAXPROCS(0) }

// redisstoreStore is redisstore through its public API only. Redisstore has
// no raw command API, so its raw GET and SET go through a
// Store[json.RawMessage] whose key is rawKey: they include json.Valid's
// check of the 300 bytes, and Get the copy it returns.
type redisstoreStore struct {
	s   *redisstore.RedisStore
	raw *redisstore.Store[json.RawMessage]
}

func openRedisstore(addr string) (store, error) {
	s, err := redisstore.NewRedisStore(redisstore.Options{Addr: addr})
	if err != nil {
		return nil, err
	}
	raw, err := redisstore.New(redisstore.Options{Addr: addr, Prefix: rawPrefix},
		func(*json.RawMessage) string { return rawID })
	if err != nil {
		s.Close()
		return nil, err
	}
	return redisstoreStore{s, raw}, nil
}

func (s redisstoreStore) Load(ctx context.Context, id string) (*session.Session, error) {
	return s.s.LoadContext(ctx, id)
}

func (s redisstoreStore) Save(ctx context.Context, sess *session.Session) error {
	return s.s.SaveContext(ctx, sess)
}

func (s redisstoreStore) Delete(ctx context.Context, id string) error {
	return s.s.DeleteContext(ctx, id)
}

func (s redisstoreStore) Get(ctx context.Context) ([]byte, error) {
	v, err := s.raw.LoadContext(ctx, rawID)
	if err != nil {
		return nil, err
	}
	return *v, nil
}

func (s redisstoreStore) Set(ctx context.Context, v []byte) error {
	m := json.RawMessage(v)
	return s.raw.SaveContext(ctx, &m)
}

func (s redisstoreStore) Close() error { return errors.Join(s.s.Close(), s.raw.Close()) }

// goredisStore is goredisstore, sessionx's store on go-redis v9.
type goredisStore struct{ *goredisstore.Store }

func openGoredis(addr string) (store, error) {
	s, err := goredisstore.New(context.Background(), addr)
	if err != nil {
		return nil, err
	}
	return goredisStore{s}, nil
}

func (s goredisStore) Get(ctx context.Context) ([]byte, error) {
	return s.Client().Get(ctx, rawKey).Bytes()
}

func (s goredisStore) Set(ctx context.Context, v []byte) error {
	return s.Client().Set(ctx, rawKey, v, sessionTTL).Err()
}

// rueidisStore is the same store on rueidis, with its auto-pipelining:
// concurrent commands share connections and go out in batches.
type rueidisStore struct{ c rueidis.Client }

func openRueidis(addr string) (store, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:           []string{addr},
		DisableAutoPipelining: false,
	})
	if err != nil {
		return nil, fmt.Errorf("rueidis: %w", err)
	}
	return rueidisStore{c}, nil
}

func (s rueidisStore) get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, session.ErrNotFound
	}
	return v, err
}

func (s rueidisStore) set(ctx context.Context, key string, v []byte) error {
	return s.c.Do(ctx, s.c.B().Set().Key(key).Value(rueidis.BinaryString(v)).Ex(sessionTTL).Build()).Error()
}

func (s rueidisStore) Load(ctx context.Context, id string) (*session.Session, error) {
	data, err := s.get(ctx, keyPrefix+id)
	if err != nil {
		return nil, err
	}
	return decodeSession(data)
}

func (s rueidisStore) Save(ctx context.Context, sess *session.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.set(ctx, keyPrefix+sess.ID, data)
}

func (s rueidisStore) Delete(ctx context.Context, id string) error {
	return s.c.Do(ctx, s.c.B().Del().Key(keyPrefix+id).Build()).Error()
}

func (s rueidisStore) Get(ctx context.Context) ([]byte, error) { return s.get(ctx, rawKey) }

func (s rueidisStore) Set(ctx context.Context, v []byte) error { return s.set(ctx, rawKey, v) }

func (s rueidisStore) Close() error { s.c.Close(); return nil }

// redigoStore is the same store on a redigo Pool bounded like the others.
type redigoStore struct{ p *redis.Pool }

func openRedigo(addr string) (store, error) {
	p := &redis.Pool{
		MaxIdle:     poolSize(),
		MaxActive:   poolSize(),
		Wait:        true,
		IdleTimeout: 30 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialContext(ctx, "tcp", addr)
		},
	}
	c := p.Get()
	defer c.Close()
	if _, err := c.Do("PING"); err != nil {
		p.Close()
		return nil, fmt.Errorf("redigo: %w", err)
	}
	return redigoStore{p}, nil
}

func (s redigoStore) do(ctx context.Context, cmd string, args ...interface{}) (interface{}, error) {
	c, err := s.p.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(cmd, args...)
}

func (s redigoStore) get(ctx context.Context, key string) ([]byte, error) {
	v, err := redis.Bytes(s.do(ctx, "GET", key))
	if err == redis.ErrNil {
		return nil, session.ErrNotFound
	}
	return v, err
}

func (s redigoStore) Load(ctx context.Context, id string) (*session.Session, error) {
	data, err := s.get(ctx, keyPrefix+id)
	if err != nil {
		return nil, err
	}
	return decodeSession(data)
}

func (s redigoStore) Save(ctx context.Context, sess *session.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	_, err = s.do(ctx, "SET", keyPrefix+sess.ID, data, "EX", ttlSeconds)
	return err
}

func (s redigoStore) Delete(ctx context.Context, id string) error {
	_, err := s.do(ctx, "DEL", keyPrefix+id)
	return err
}

func (s redigoStore) Get(ctx context.Context) ([]byte, error) { return s.get(ctx, rawKey) }

func (s redigoStore) Set(ctx context.Context, v []byte) error {
	_, err := s.do(ctx, "SET", rawKey, v, "EX", ttlSeconds)
	return err
}

func (s redigoStore) Close() error { return s.p.Close() }
