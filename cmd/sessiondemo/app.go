package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/sessionx-redis/redisstore"
	"github.com/sessionx-redis/redisstore/session"
)

// demo is the running demo: its app servers and, by default, the
// in-process Redis they share.
type demo struct {
	logger    *log.Logger
	mini      *miniredis.Miniredis // nil with a real Redis
	ticking   chan struct{}        // closed to stop expireKeys
	ticked    chan struct{}        // closed when expireKeys has stopped
	instances []*instance

	stopOnce sync.Once
	stopErr  error // shutdown's result
}

// instance is one app server with its own store connection and manager,
// as a separate process behind a load balancer would have: instances share
// nothing but Redis.
type instance struct {
	name   string // "instance 1"
	url    string // "http://127.0.0.1:8080"
	others []string
	ln     net.Listener
	srv    *http.Server
	store  *redisstore.RedisStore
	m      *session.Manager
	logger *log.Logger
}

// start connects to Redis (or starts miniredis), opens the listeners and
// builds the instances; serve then serves them. On error everything
// started is stopped again.
func start(cfg config, logger *log.Logger) (_ *demo, err error) {
	d := &demo{logger: logger}
	defer func() {
		if err != nil {
			d.shutdown(context.Background())
		}
	}()
	opts := redisstore.Options{URL: cfg.redisURL}
	if cfg.redisURL == "" {
		d.mini, err = miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("starting miniredis: %w", err)
		}
		opts = redisstore.Options{Addr: d.mini.Addr()}
		d.ticking, d.ticked = make(chan struct{}), make(chan struct{})
		go expireKeys(d.mini, time.Second, d.ticking, d.ticked)
		logger.Printf("using an in-process Redis (miniredis) at %s: sessions end with the demo; -redis URL or REDIS_URL selects a real Redis", d.mini.Addr())
	} else {
		logger.Printf("using Redis at %s", redactedURL(cfg.redisURL))
	}
	if cfg.randomKey {
		logger.Print("no -key or SESSION_KEY: using a random secret key. Sessions here live in Redis (the cookie holds only the ID), so with an external Redis they survive a restart of the app; a manager without a store seals sessions with the key, and they would not survive a restart unless SESSION_KEY is set")
	}

	host, portStr, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port+cfg.instances-1 > 65535 {
		return nil, fmt.Errorf("-addr: bad port %q for %d instances", portStr, cfg.instances)
	}
	for i := range cfg.instances {
		p := port
		if port != 0 {
			p = port + i
		}
		in, err := newInstance(i+1, net.JoinHostPort(host, strconv.Itoa(p)), opts, cfg.key, logger)
		if err != nil {
			return nil, err
		}
		d.instances = append(d.instances, in)
	}
	for _, in := range d.instances {
		for _, other := range d.instances {
			if other != in {
				in.others = append(in.others, other.url)
			}
		}
		logger.Printf("%s listening on %s", in.name, in.url)
	}
	return d, nil
}

// newInstance listens on addr and connects its own store to Redis.
func newInstance(n int, addr string, opts redisstore.Options, key []byte, logger *log.Logger) (*instance, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	store, err := redisstore.NewRedisStore(opts)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	in := &instance{
		name:   fmt.Sprintf("instance %d", n),
		url:    "http://" + ln.Addr().String(),
		ln:     ln,
		store:  store,
		logger: logger,
	}
	in.m, err = session.NewManager(session.DevConfig(key,
		session.WithStore(store),
		session.WithUserKey(keyUser),
		session.WithErrorHandler(in.sessionError),
	))
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	in.srv = &http.Server{
		Handler:           in.m.Middleware(in.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	return in, nil
}

// sessionError answers a request whose session could not be loaded or
// saved: the store is down, so say so rather than log the user out.
func (in *instance) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	in.logger.Printf("%s: %v (%s %q)", in.name, err, r.Method, r.URL.Path)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Retry-After", "5")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "The session store is unavailable; please try again shortly.\n")
}

// serve serves every instance until shutdown; it returns the first error
// other than the servers being shut down.
func (d *demo) serve() error {
	errc := make(chan error, len(d.instances))
	for _, in := range d.instances {
		go func() { errc <- in.srv.Serve(in.ln) }()
	}
	var first error
	for range d.instances {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
			go d.shutdown(context.Background()) // stop the others too
		}
	}
	return first
}

// shutdown stops the servers (letting requests in flight finish until ctx
// is done), then closes the stores and miniredis. Later calls return the
// first one's result.
func (d *demo) shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { d.stopErr = d.stop(ctx) })
	return d.stopErr
}

func (d *demo) stop(ctx context.Context) error {
	var errs []error
	for _, in := range d.instances {
		if err := in.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		in.ln.Close() // in case Serve never ran
		in.store.Close()
	}
	if d.mini != nil {
		close(d.ticking)
		<-d.ticked
		d.mini.Close()
	}
	return errors.Join(errs...)
}

// expireKeys makes miniredis expire keys as time goes, as Redis does,
// counting TTLs down every tick until stop is closed, then closes done.
// miniredis counts them only when told (FastForward), while its TIME, by
// which the user index drops its entries, is the wall clock: without this,
// an idle session would stay logged in after its entry had gone.
func expireKeys(mini *miniredis.Miniredis, tick time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			mini.FastForward(now.Sub(last))
			last = now
		}
	}
}
