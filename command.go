package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/sessionx-redis/redisstore/resp"
)

// cmdKind names the few commands the store sends.
type cmdKind uint8

const (
	cmdGet cmdKind = iota
	cmdSet
	cmdDel
	cmdPing
)

var cmdNames = [...]string{cmdGet: "GET", cmdSet: "SET", cmdDel: "DEL", cmdPing: "PING"}

func (k cmdKind) String() string { return cmdNames[k] }

// command is one store operation: what to send and where its reply goes.
// The key is prefix+id, written without building the string.
type command struct {
	kind   cmdKind
	prefix string
	id     string
	value  []byte        // cmdSet: the JSON
	ttl    time.Duration // cmdSet

	// asking sends ASKING first, for a Cluster ASK redirection.
	asking bool

	buf  []byte // cmdGet: the value, appended to buf[:0]
	null bool   // cmdGet: no such key
}

// appendTo writes the command in RESP to dst.
func (cmd *command) appendTo(dst []byte) []byte {
	if cmd.asking {
		dst = resp.AppendCommand(dst, "ASKING")
	}
	switch cmd.kind {
	case cmdGet, cmdDel:
		dst = resp.AppendArray(dst, 2)
		dst = resp.AppendBulkString(dst, cmd.kind.String())
		dst = appendKey(dst, cmd.prefix, cmd.id)
	case cmdSet:
		dst = resp.AppendArray(dst, 5)
		dst = resp.AppendBulkString(dst, "SET")
		dst = appendKey(dst, cmd.prefix, cmd.id)
		dst = resp.AppendBulk(dst, cmd.value)
		if cmd.ttl%time.Second == 0 {
			dst = resp.AppendBulkString(dst, "EX")
			dst = resp.AppendBulkInt(dst, int64(cmd.ttl/time.Second))
		} else {
			dst = resp.AppendBulkString(dst, "PX")
			dst = resp.AppendBulkInt(dst, int64(cmd.ttl/time.Millisecond))
		}
	case cmdPing:
		dst = resp.AppendCommand(dst, "PING")
	}
	return dst
}

// readReply reads the command's reply from rd.
func (cmd *command) readReply(rd *resp.Reader) error {
	if cmd.asking {
		if err := rd.ReadOK(); err != nil {
			// Read the command's reply too, so the stream stays in sync.
			cmd.asking = false
			if rerr := cmd.readReply(rd); !resp.Usable(rerr) {
				return rerr
			}
			return err
		}
	}
	switch cmd.kind {
	case cmdGet:
		b, null, err := rd.ReadBulk(cmd.buf[:0])
		cmd.buf, cmd.null = b, null
		return err
	case cmdDel:
		_, err := rd.ReadInt()
		return err
	case cmdSet:
		return rd.ReadOK()
	default:
		_, err := rd.ReadValue() // PING: +PONG in RESP2 and RESP3
		return err
	}
}

// appendKey writes prefix+id as one bulk string.
func appendKey(dst []byte, prefix, id string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(prefix)+len(id)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, prefix...)
	dst = append(dst, id...)
	return append(dst, "\r\n"...)
}

// contextError returns the context's error when err is the context's doing:
// the context ended, or a timeout struck at the context's deadline (the
// socket deadline can fire a moment before the context's timer).
func contextError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
