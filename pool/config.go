package pool

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultCheckAfter is the idle time after which Config.Check runs before
// reuse when Config.CheckAfter is zero.
const DefaultCheckAfter = time.Minute

// Config configures a Pool. Every field's comment says what its zero value
// means; New rejects negative values.
type Config[T any] struct {
	// Dial opens a new resource. It is required. Get passes the caller's
	// context; MinIdle refills pass a background context that Close cancels.
	Dial func(ctx context.Context) (T, error)

	// Close closes a resource. It is required and is called exactly once
	// for every resource Dial returned.
	Close func(v T) error

	// Check, when not nil, verifies an idle resource before Get hands it
	// out, if it has been idle longer than CheckAfter. A resource that
	// fails its check is closed and Get moves on. Get passes its context.
	// When Check (or Dial) panics, Get frees the slot before the panic
	// goes on to its caller.
	Check func(ctx context.Context, v T) error

	// CheckAfter is how long a resource must have been idle before Check
	// runs on it. Zero means DefaultCheckAfter (one minute). It is unused
	// when Check is nil.
	CheckAfter time.Duration

	// MaxOpen bounds the resources open at once, counting dials in
	// progress and resources being closed. It is required and must be
	// positive.
	MaxOpen int

	// MaxIdle bounds the idle resources kept; a resource returned beyond it
	// is closed. Zero means MaxOpen. It may not exceed MaxOpen.
	MaxIdle int

	// MinIdle is how many idle resources a background goroutine keeps warm,
	// never opening more than MaxOpen in all. Zero means none. It may not
	// exceed MaxIdle.
	MinIdle int

	// IdleTimeout closes a resource idle for longer, except that the
	// MinIdle idle resources are kept however long they idle (use Check to
	// verify them). Zero means never.
	IdleTimeout time.Duration

	// MaxLifetime closes a resource this long after it was dialed, the next
	// time it is idle. Zero means never.
	MaxLifetime time.Duration

	// WaitTimeout bounds how long Get waits for a resource when MaxOpen are
	// open; Get then returns ErrTimeout (wrapped). Zero means Get waits
	// until its context ends.
	WaitTimeout time.Duration
}

// validate reports the first invalid field and returns the configuration
// with its zero values replaced by their defaults.
func (c Config[T]) validate() (Config[T], error) {
	switch {
	case c.Dial == nil:
		return c, errors.New("pool: Config.Dial is nil")
	case c.Close == nil:
		return c, errors.New("pool: Config.Close is nil")
	case c.MaxOpen <= 0:
		return c, fmt.Errorf("pool: Config.MaxOpen is %d, must be positive", c.MaxOpen)
	case c.MaxIdle < 0:
		return c, fmt.Errorf("pool: Config.MaxIdle is negative (%d)", c.MaxIdle)
	case c.MinIdle < 0:
		return c, fmt.Errorf("pool: Config.MinIdle is negative (%d)", c.MinIdle)
	case c.MaxIdle > c.MaxOpen:
		return c, fmt.Errorf("pool: Config.MaxIdle %d exceeds MaxOpen %d", c.MaxIdle, c.MaxOpen)
	case c.MinIdle > c.MaxOpen:
		return c, fmt.Errorf("pool: Config.MinIdle %d exceeds MaxOpen %d", c.MinIdle, c.MaxOpen)
	case c.MaxIdle != 0 && c.MinIdle > c.MaxIdle:
		return c, fmt.Errorf("pool: Config.MinIdle %d exceeds MaxIdle %d", c.MinIdle, c.MaxIdle)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"CheckAfter", c.CheckAfter},
		{"IdleTimeout", c.IdleTimeout},
		{"MaxLifetime", c.MaxLifetime},
		{"WaitTimeout", c.WaitTimeout},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("pool: Config.%s is negative (%v)", d.name, d.v)
		}
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = c.MaxOpen
	}
	if c.CheckAfter == 0 {
		c.CheckAfter = DefaultCheckAfter
	}
	return c, nil
}
