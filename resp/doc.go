// Package resp is the Redis wire codec: it writes commands as RESP arrays of bulk
// strings and reads every reply type of RESP2 and RESP3 from a bufio.Reader. It knows
// bytes only; dialing, timeouts and connection reuse belong to its callers.
//
// # Writing
//
// Commands are appended to a caller's buffer, so a connection reuses one buffer and
// writing allocates nothing once it is large enough:
//
//	buf = resp.AppendCommand(buf[:0], "GET", key)
//	buf = resp.AppendArray(buf[:0], 5)
//	buf = resp.AppendBulkString(buf, "SET")
//	buf = resp.AppendBulkString(buf, key)
//	buf = resp.AppendBulk(buf, value)
//	buf = resp.AppendBulkString(buf, "EX")
//	buf = resp.AppendBulkInt(buf, 60)
//
// AppendValue writes any Value, for test servers and round-trip tests.
//
// # Reading
//
// Reader.ReadValue decodes any reply into a Value. The fast paths ReadBulk (into a
// reusable []byte), ReadOK and ReadInt allocate nothing for the replies they expect.
// Attributes ('|') are attached to the value they precede (ReadValue) or skipped (fast
// paths); push replies ('>') go to the handler set with SetPushHandler and are never
// returned as the reply to a command.
//
// # Errors and connection reuse
//
// Every error says whether the connection can be reused; Usable reports it:
//
//   - Error (value receivers): a server error reply, '-' or '!', with its Kind (ERR,
//     WRONGTYPE, MOVED, ...). The stream is in sync. Redirect parses MOVED and ASK.
//   - *UnexpectedError (pointer receivers): a well-formed reply of another type than a
//     fast path expected. It was consumed whole; the stream is in sync.
//   - *ProtocolError (pointer receivers): malformed or hostile input, or a stream that
//     ended mid-reply. The stream is out of sync: close the connection.
//   - io.EOF before the first byte of a reply, and wrapped I/O errors such as timeouts:
//     the connection is unusable.
//
// # Limits
//
// A server, hostile or broken, cannot make the Reader allocate without bound. Limits
// caps the declared bulk length (default 512 MiB), the declared element count of one
// aggregate (default 1<<20) and the nesting depth (default 64, checked before
// recursing). Beyond the caps, memory follows the bytes that actually arrived: a bulk
// body grows by at most 64 KiB past what has been read, and an aggregate preallocates at
// most 32 elements, so "$536870911\r\n" followed by EOF costs kilobytes. The Reader
// never panics on any input; its fuzz targets check that, the limits and resync.
package resp
