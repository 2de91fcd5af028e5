//go:build redisstore_nocache

package client

import "github.com/sessionx-redis/redisstore/resp"

// Without tracking (redisstore_nocache): no connection is tracked, pushes
// go to OnPush, batches take the pipes in turn.

func (c *conn) track(bool) error    { return nil }
func (p *pipe) push(v resp.Value)   { p.onPush(v) }
func (n *node) forget()             {}
func (n *node) pick(*Batch) uint32  { return n.next.Add(1) }
func (n *node) warnUntracked(*conn) {}
