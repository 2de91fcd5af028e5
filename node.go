package redisstore

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sessionx-redis/redisstore/pool"
)

// node is one Redis server and its pool of connections.
type node struct {
	addr  string
	pool  *pool.Pool[*conn]
	log   *slog.Logger
	stats *counters // the store's
}

// newNode makes the pool of connections to addr; it dials nothing yet
// (except MinIdle connections, in the background).
func newNode(cfg *config, network, addr string, log *slog.Logger, stats *counters) (*node, error) {
	p, err := pool.New(pool.Config[*conn]{
		Dial: func(ctx context.Context) (*conn, error) {
			c, err := dial(ctx, cfg, network, addr)
			if err != nil {
				log.Warn("redisstore: dial failed", "addr", addr, "err", err)
			}
			return c, err
		},
		Close: (*conn).close,
		Check: func(ctx context.Context, c *conn) error {
			return c.do(ctx, &command{kind: cmdPing})
		},
		MaxOpen:     cfg.PoolSize,
		MaxIdle:     cfg.MaxIdle,
		MinIdle:     cfg.MinIdle,
		IdleTimeout: cfg.IdleTimeout,
		MaxLifetime: cfg.MaxLifetime,
		WaitTimeout: cfg.PoolTimeout,
	})
	if err != nil {
		return nil, err
	}
	return &node{addr: addr, pool: p, log: log, stats: stats}, nil
}

func (n *node) close() error { return n.pool.Close() }

// do runs cmd on a pooled connection. A pooled connection that turns out
// dead before any reply byte arrived (the server closed it while idle) is
// replaced and the command sent once more: GET, SET, DEL and PING are
// idempotent. A server error reply is never retried here. Errors are
// returned unwrapped (pool errors mapped to the store's).
func (n *node) do(ctx context.Context, cmd *command) error {
	for attempt := 0; ; attempt++ {
		r, err := n.pool.Get(ctx)
		if err != nil {
			if errors.Is(err, pool.ErrClosed) {
				return ErrClosed
			}
			return err
		}
		c := r.Value()
		reused := c.used
		err = c.do(ctx, cmd)
		n.pool.Put(r, !c.broken)
		if err == nil {
			return nil
		}
		if attempt > 0 || !reused || !staleConnError(err) || ctx.Err() != nil {
			return err
		}
		n.stats.retries.Add(1)
		n.log.Info("redisstore: retrying on a new connection", "addr", n.addr, "command", cmd.kind.String(), "err", err)
		n.pool.CloseIdle() // its idle siblings are most likely dead too
	}
}
