package client

import (
	"crypto/sha1"
	"encoding/hex"
)

// A Script is a Lua script run with EVALSHA: its SHA1 is computed once, by
// NewScript, and the server loads the source only when it answers NOSCRIPT
// (see Batch.AddScript). A Script is safe for concurrent use.
type Script struct {
	src string
	sha string // hex SHA1 of src
}

// NewScript returns the script of Lua source src.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// SHA returns the script's hex SHA1, as SCRIPT LOAD returns it.
func (s *Script) SHA() string { return s.sha }
