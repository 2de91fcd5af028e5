package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/boj/redistore"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"

	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/bench/goredisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// A Stack is one session library behind net/http, serving the
// comparison's three routes on a Redis:
//
//	GET  /read           answers "user=<user> n=<n>" and changes nothing
//	POST /incr           adds one to n and answers as /read
//	POST /login?user=u   gives the session a new ID (where the library
//	                     can), sets user to u and n to 0, and answers as
//	                     /read
type Stack struct {
	Name string
	// Stateless is set for the ceiling, which keeps no session: its
	// answers are not checked.
	Stateless bool
	// Open returns the stack's handler on the Redis at addr, and what
	// releases its connections.
	Open func(addr string) (http.Handler, func(), error)
	// OpenSentinel is Open on the master that the sentinels at addrs
	// monitor as name. A library without Sentinel support connects to
	// master, the master's address at the start, as its README shows.
	// Nil for the ceiling.
	OpenSentinel func(addrs []string, name, master string) (http.Handler, func(), error)
}

// secret is every stack's cookie key.
var secret = []byte("e2e-comparison-key-of-32-bytes!!")

// Stacks returns the stacks compared, the ceiling first. Pool settings
// are those each project's README shows, plus a row per peer whose pool
// is large enough to stop its connection churn.
func Stacks() []Stack {
	return []Stack{
		{Name: "ceiling (no sessions)", Stateless: true, Open: openCeiling},
		{Name: "redisstore",
			Open: func(addr string) (http.Handler, func(), error) { return openRedisstore(redisstore.Options{Addr: addr}) },
			OpenSentinel: func(addrs []string, name, _ string) (http.Handler, func(), error) {
				return openRedisstore(redisstore.Options{SentinelAddrs: addrs, MasterName: name})
			}},
		{Name: "redisstore, CacheSize 64 MB",
			Open: func(addr string) (http.Handler, func(), error) {
				return openRedisstore(redisstore.Options{Addr: addr, CacheSize: 64 << 20})
			},
			OpenSentinel: func(addrs []string, name, _ string) (http.Handler, func(), error) {
				return openRedisstore(redisstore.Options{SentinelAddrs: addrs, MasterName: name, CacheSize: 64 << 20})
			}},
		{Name: "sessionx design on go-redis",
			Open: func(addr string) (http.Handler, func(), error) {
				return openGoRedis(redis.NewClient(&redis.Options{Addr: addr}))
			},
			OpenSentinel: func(addrs []string, name, _ string) (http.Handler, func(), error) {
				return openGoRedis(redis.NewFailoverClient(&redis.FailoverOptions{MasterName: name, SentinelAddrs: addrs}))
			}},
		peer("scs", func(addr string) (http.Handler, func(), error) { return openSCS(addr, 10, 0) }),
		peer("scs, IdleTimeout 30m", func(addr string) (http.Handler, func(), error) { return openSCS(addr, 10, 30*time.Minute) }),
		peer("scs, pool 64", func(addr string) (http.Handler, func(), error) { return openSCS(addr, 64, 0) }),
		peer("gorilla + redistore", func(addr string) (http.Handler, func(), error) { return openGorilla(addr, 10) }),
		peer("gorilla + redistore, pool 64", func(addr string) (http.Handler, func(), error) { return openGorilla(addr, 64) }),
	}
}

// peer is a stack whose library has no Sentinel support: under Sentinel
// it connects to the master it is given.
func peer(name string, open func(addr string) (http.Handler, func(), error)) Stack {
	return Stack{Name: name, Open: open,
		OpenSentinel: func(_ []string, _, master string) (http.Handler, func(), error) { return open(master) }}
}

// answer writes the routes' answer.
func answer(w http.ResponseWriter, user string, n int) {
	fmt.Fprintf(w, "user=%s n=%d", user, n)
}

func openCeiling(string) (http.Handler, func(), error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r.URL.Query().Get("user"), 0)
	}), func() {}, nil
}

// managerHandler is the routes on this module's session manager.
func managerHandler(m *session.Manager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := session.Get(r)
		switch r.URL.Path {
		case "/incr":
			n, _ := sess.Data["n"].(float64)
			sess.Data["n"] = n + 1
		case "/login":
			m.Rotate(sess)
			sess.Data["user"] = r.URL.Query().Get("user")
			sess.Data["n"] = 0.0
		}
		user, _ := sess.Data["user"].(string)
		n, _ := sess.Data["n"].(float64)
		answer(w, user, int(n))
	}))
}

func openRedisstore(opts redisstore.Options) (http.Handler, func(), error) {
	store, err := redisstore.NewRedisStore(opts)
	if err != nil {
		return nil, nil, err
	}
	m, err := session.NewManager(session.DevConfig(secret, session.WithStore(store)))
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return managerHandler(m), func() { store.Close() }, nil
}

// sessionxStore is goredisstore, the upstream store's design, with
// sessionx's context-free methods.
type sessionxStore struct{ s *goredisstore.Store }

func (x sessionxStore) Load(id string) (*session.Session, error) {
	return x.s.Load(context.Background(), id)
}
func (x sessionxStore) Save(sess *session.Session) error {
	return x.s.Save(context.Background(), sess)
}
func (x sessionxStore) Delete(id string) error { return x.s.Delete(context.Background(), id) }

func openGoRedis(c *redis.Client) (http.Handler, func(), error) {
	store, err := goredisstore.NewWithClient(context.Background(), c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	m, err := session.NewManager(session.DevConfig(secret, session.WithStore(sessionxStore{store})))
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return managerHandler(m), func() { store.Close() }, nil
}

// openSCS is scs with its redisstore on a redigo pool as its README
// shows it (MaxIdle 10), or of maxIdle connections.
func openSCS(addr string, maxIdle int, idle time.Duration) (http.Handler, func(), error) {
	pool := &redigo.Pool{
		MaxIdle: maxIdle,
		Dial:    func() (redigo.Conn, error) { return redigo.Dial("tcp", addr) },
	}
	sm := scs.New()
	sm.Store = scsredis.New(pool)
	sm.IdleTimeout = idle
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/incr":
			sm.Put(ctx, "n", sm.GetInt(ctx, "n")+1)
		case "/login":
			if err := sm.RenewToken(ctx); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			sm.Put(ctx, "user", r.URL.Query().Get("user"))
			sm.Put(ctx, "n", 0)
		}
		answer(w, sm.GetString(ctx, "user"), sm.GetInt(ctx, "n"))
	})
	return sm.LoadAndSave(mux), func() { pool.Close() }, nil
}

// openGorilla is gorilla/sessions with boj/redistore as its README shows
// it (NewRediStore with 10 idle connections), or size of them. A login
// takes a new ID by clearing the session's (gorilla has no rotation; the
// old key expires).
func openGorilla(addr string, size int) (http.Handler, func(), error) {
	store, err := redistore.NewRediStore(size, "tcp", addr, "", "", secret)
	if err != nil {
		return nil, nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, "session")
		if err != nil { // as gorilla/sessions' README has it
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := sess.Values["n"].(int)
		write := true
		switch r.URL.Path {
		case "/incr":
			n++
		case "/login":
			sess.ID = ""
			sess.Values["user"] = r.URL.Query().Get("user")
			n = 0
		default:
			write = false
		}
		if write {
			sess.Values["n"] = n
			if err := sessions.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		user, _ := sess.Values["user"].(string)
		answer(w, user, n)
	})
	return h, func() { store.Close() }, nil
}

// itoa is strconv.Itoa, for the load generator's URLs.
var itoa = strconv.Itoa
