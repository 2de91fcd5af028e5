// Package goredisstore is the session store of sessionx, written on go-redis
// v9 the way the upstream store is: JSON of the session under Prefix+ID,
// SET with a TTL, GET and DEL. The benchmarks and the binary-size servers
// compare redisstore with it.
package goredisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionx-redis/redisstore/session"
)

// ErrNotFound is returned by Load when no session is stored under the ID;
// it matches session.ErrNotFound.
var ErrNotFound = fmt.Errorf("goredisstore: %w", session.ErrNotFound)

// Store keeps sessions in Redis through a go-redis client.
type Store struct {
	client *redis.Client
	prefix string
	ttl    time.Duration
}

// New returns a store on the server at addr with sessionx's defaults (key
// prefix "sessionx:", TTL 24h). Like sessionx it pings the server and fails
// when the server does not answer.
func New(ctx context.Context, addr string) (*Store, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("goredisstore: ping %s: %w", addr, err)
	}
	return &Store{client: c, prefix: "sessionx:", ttl: 24 * time.Hour}, nil
}

// NewWithClient returns a store with sessionx's defaults on a client the
// caller configured (redis.NewClient or redis.NewFailoverClient with options
// of its own). It pings like New; when the ping fails it closes c.
func NewWithClient(ctx context.Context, c *redis.Client) (*Store, error) {
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("goredisstore: ping: %w", err)
	}
	return &Store{client: c, prefix: "sessionx:", ttl: 24 * time.Hour}, nil
}

// Load returns the session stored under id, or ErrNotFound.
func (s *Store) Load(ctx context.Context, id string) (*session.Session, error) {
	data, err := s.client.Get(ctx, s.prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var sess session.Session
	if err := json.Unmarshal(data, &sess); err != nil {
		return nil, err
	}
	return &sess, nil
}

// Save stores sess under its ID for the store's TTL.
func (s *Store) Save(ctx context.Context, sess *session.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.client.Set(ctx, s.prefix+sess.ID, data, s.ttl).Err()
}

// Delete removes the session stored under id.
func (s *Store) Delete(ctx context.Context, id string) error {
	return s.client.Del(ctx, s.prefix+id).Err()
}

// Client returns the go-redis client, for raw commands.
func (s *Store) Client() *redis.Client { return s.client }

// Close closes the client's connections.
func (s *Store) Close() error { return s.client.Close() }
