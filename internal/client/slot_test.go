package client

import (
	"strings"
	"testing"
)

func TestCRC16MatchesTheXMODEMCheckValue(t *testing.T) {
	if got := crc16(0, "123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
}

func TestKeySlotMatchesRedis(t *testing.T) {
	// Slots as CLUSTER KEYSLOT reports them on Redis 7.
	tests := []struct {
		key  string
		slot int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 12739},
		{"", 0},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},    // empty first tag: the whole key
		{"foo{{bar}}zap", 4015}, // tag is "{bar"
		{"foo{bar}{zap}", 5061}, // first tag only: "bar"
		{"{", 4092},             // no closing brace: the whole key
	}
	for _, tc := range tests {
		// Every split of the key into prefix and id gives the same slot.
		for i := 0; i <= len(tc.key); i++ {
			if got := KeySlot(tc.key[:i], tc.key[i:]); got != tc.slot {
				t.Errorf("KeySlot(%q, %q) = %d, want %d", tc.key[:i], tc.key[i:], got, tc.slot)
			}
		}
	}
}

func TestKeySlotAllocatesNothing(t *testing.T) {
	id := strings.Repeat("a1b2", 16)
	allocs := testing.AllocsPerRun(100, func() {
		_ = KeySlot("sessionx:{tenant}", id)
		_ = KeySlot("sessionx:", id)
	})
	if allocs != 0 {
		t.Fatalf("keySlot allocates %v times per call", allocs)
	}
}

func BenchmarkKeySlot(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		KeySlot("sessionx:", "0123456789abcdef0123456789abcdef")
	}
}
