package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sessionx-redis/redisstore/session"
)

// rawClient is the floor of the comparison: the least a Redis client can do
// with the standard library. One connection, one mutex that serialises
// commands, RESP written by hand into a reused buffer and replies read with
// bufio. No pool, no pipelining, no reconnect: after an I/O error every call
// fails.
type rawClient struct {
	mu  sync.Mutex // serialises commands; protects the fields below
	c   net.Conn
	r   *bufio.Reader
	w   []byte // the command being written
	err error  // the first I/O or protocol error; the stream is lost
}

// errRawNil is a GET's answer for a missing key.
var errRawNil = errors.New("bench: raw: nil")

// dialRaw connects to addr.
func dialRaw(addr string) (*rawClient, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("bench: raw: %w", err)
	}
	return &rawClient{c: c, r: bufio.NewReaderSize(c, 4096), w: make([]byte, 0, 1024)}, nil
}

// appendBulk appends one RESP bulk string.
func appendBulk(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, "\r\n"...)
	b = append(b, s...)
	return append(b, "\r\n"...)
}

// appendBulkBytes is appendBulk of a byte slice.
func appendBulkBytes(b []byte, s []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, "\r\n"...)
	b = append(b, s...)
	return append(b, "\r\n"...)
}

// roundTrip writes c.w and reads one reply; a bulk reply is returned as a
// new slice. It holds c.mu.
func (c *rawClient) roundTrip() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	v, err := c.exchange()
	var se rawServerError
	if err != nil && err != errRawNil && !errors.As(err, &se) {
		c.err = err
		c.c.Close()
	}
	return v, err
}

// rawServerError is an error reply; the stream stays in sync.
type rawServerError string

func (e rawServerError) Error() string { return "bench: raw: " + string(e) }

// exchange writes c.w and reads one reply.
func (c *rawClient) exchange() ([]byte, error) {
	if _, err := c.c.Write(c.w); err != nil {
		return nil, fmt.Errorf("bench: raw: %w", err)
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("bench: raw: %w", err)
	}
	if len(line) < 3 {
		return nil, errors.New("bench: raw: short reply line")
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return nil, nil
	case '-':
		return nil, rawServerError(body)
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, fmt.Errorf("bench: raw: bulk length: %w", err)
		}
		if n < 0 {
			return nil, errRawNil
		}
		v := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, v); err != nil {
			return nil, fmt.Errorf("bench: raw: %w", err)
		}
		return v[:n], nil
	}
	return nil, fmt.Errorf("bench: raw: unexpected reply %q", line)
}

// get returns the value of key, or errRawNil.
func (c *rawClient) get(key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = append(c.w[:0], "*2\r\n$3\r\nGET\r\n"...)
	c.w = appendBulk(c.w, key)
	return c.roundTrip()
}

// set stores value under key for sessionTTL.
func (c *rawClient) set(key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = append(c.w[:0], "*5\r\n$3\r\nSET\r\n"...)
	c.w = appendBulk(c.w, key)
	c.w = appendBulkBytes(c.w, value)
	c.w = append(c.w, "$2\r\nEX\r\n"...)
	c.w = appendBulk(c.w, ttlSeconds)
	_, err := c.roundTrip()
	return err
}

// del removes key.
func (c *rawClient) del(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w = append(c.w[:0], "*2\r\n$3\r\nDEL\r\n"...)
	c.w = appendBulk(c.w, key)
	_, err := c.roundTrip()
	return err
}

// Close closes the connection.
func (c *rawClient) Close() error { return c.c.Close() }

// rawStore is the session store on rawClient.
type rawStore struct{ c *rawClient }

func (s rawStore) Load(_ context.Context, id string) (*session.Session, error) {
	data, err := s.c.get(keyPrefix + id)
	if err == errRawNil {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeSession(data)
}

func (s rawStore) Save(_ context.Context, sess *session.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.c.set(keyPrefix+sess.ID, data)
}

func (s rawStore) Delete(_ context.Context, id string) error { return s.c.del(keyPrefix + id) }

func (s rawStore) Get(context.Context) ([]byte, error) {
	v, err := s.c.get(rawKey)
	if err == errRawNil {
		return nil, session.ErrNotFound
	}
	return v, err
}

func (s rawStore) Set(_ context.Context, v []byte) error { return s.c.set(rawKey, v) }

func (s rawStore) Close() error { return s.c.Close() }
