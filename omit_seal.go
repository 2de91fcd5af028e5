//go:build redisstore_noseal

package redisstore

import (
	"errors"

	"github.com/sessionx-redis/redisstore/internal/client"
)

// This build leaves sealed values out (redisstore_noseal): New refuses
// EncryptionKeys, ReadPlaintext and HashKeys, and the store's calls take
// the paths of a store without them.

// sealer stands for the sealer of seal.go; it is always nil here.
type sealer struct{}

// newSealer refuses the options of sealed values.
func newSealer(keys [][]byte, readPlaintext, hashKeys bool, _ Logger) (*sealer, error) {
	if len(keys) > 0 || readPlaintext || hashKeys {
		return nil, errors.New("redisstore: EncryptionKeys, ReadPlaintext and HashKeys were left out of this build (tag redisstore_noseal)")
	}
	return nil, nil
}

func (*sealer) checkKeyFormat(*client.Client, string) error                      { return nil }
func (*sealer) keyName(id string) string                                         { return id }
func (*sealer) sealValue(_ redisKey, v []byte) ([]byte, error)                   { return v, nil }
func (*sealer) openValue(_ redisKey, _ string, v []byte, _ bool) ([]byte, error) { return v, nil }
func (*sealer) stale([]byte) bool                                                { return false }
func (*sealer) unopenedValues() uint64                                           { return 0 }
func (*sealer) indexCount() int                                                  { return 1 }
func (*sealer) indexName(user string, _ int) string                              { return user }
func (*sealer) member(_ redisKey, _ int, id string) client.Arg                   { return client.Str(id) }
func (*sealer) memberID(_ redisKey, m []byte) ([]byte, bool)                     { return m, true }
