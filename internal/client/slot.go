package client

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// crcTable is CRC16-XMODEM (polynomial 0x1021, initial value 0, no
// reflection), the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// crc16 continues the checksum crc over s.
func crc16(crc uint16, s string) uint16 {
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^s[i]]
	}
	return crc
}

// KeySlot returns the hash slot of the key prefix+id without building the
// key. As Redis does, when the key holds a '{' followed later by a '}' with
// at least one byte between them, only the bytes between the first '{' and
// the first '}' after it are hashed (a hash tag), so that keys sharing a tag
// share a slot.
func KeySlot(prefix, id string) int {
	open := -1 // index of the first '{' in prefix+id
	for i := 0; i < len(prefix)+len(id); i++ {
		if keyByte(prefix, id, i) == '{' {
			open = i
			break
		}
	}
	if open >= 0 {
		for j := open + 1; j < len(prefix)+len(id); j++ {
			if keyByte(prefix, id, j) != '}' {
				continue
			}
			if j > open+1 {
				return int(crcRange(prefix, id, open+1, j)) % slotCount
			}
			break // "{}": the whole key is hashed
		}
	}
	return int(crc16(crc16(0, prefix), id)) % slotCount
}

// keyByte returns byte i of prefix+id.
func keyByte(prefix, id string, i int) byte {
	if i < len(prefix) {
		return prefix[i]
	}
	return id[i-len(prefix)]
}

// crcRange returns the checksum of bytes [lo, hi) of prefix+id.
func crcRange(prefix, id string, lo, hi int) uint16 {
	var crc uint16
	if lo < len(prefix) {
		crc = crc16(crc, prefix[lo:min(hi, len(prefix))])
	}
	if hi > len(prefix) {
		crc = crc16(crc, id[max(lo-len(prefix), 0):hi-len(prefix)])
	}
	return crc
}
