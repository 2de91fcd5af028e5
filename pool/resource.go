package pool

import "time"

// Resource is one pooled resource, allocated once per dial and reused for
// its whole life, so Get and Put allocate nothing. It belongs to the caller
// between Get and Put and must not be used after Put.
type Resource[T any] struct {
	value     T
	createdAt time.Time
	pool      *Pool[T]

	// The fields below are protected by pool.mu.
	returnedAt time.Time // when it last went idle
	inUse      bool      // between Get and Put; catches a double Put
}

// Value returns the resource itself.
func (r *Resource[T]) Value() T { return r.value }

// CreatedAt returns when the resource was dialed.
func (r *Resource[T]) CreatedAt() time.Time { return r.createdAt }
