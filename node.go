package redisstore

import (
	"context"
	"log/slog"

	"github.com/sessionx-redis/redisstore/pool"
)

// node is one Redis server and its pool of connections.
type node struct {
	addr string
	pool *pool.Pool[*conn]
}

// newNode makes the pool of connections to addr; it dials nothing yet
// (except MinIdle connections, in the background).
func newNode(cfg *config, network, addr string, log *slog.Logger) (*node, error) {
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
	return &node{addr: addr, pool: p}, nil
}

func (n *node) close() error { return n.pool.Close() }
