package benchkit

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/sessionx-redis/redisstore/session"
)

// TestSessionIsRealistic keeps the benchmarks' session realistic: six Data
// entries and about 300 bytes of JSON that round-trip.
func TestSessionIsRealistic(t *testing.T) {
	sess := Session(ID)
	data, err := json.Marshal(sess)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data); n < 250 || n > 350 || len(sess.Data) != 6 {
		t.Errorf("benchmark session: %d Data entries, %d bytes of JSON; want 6 and about 300", len(sess.Data), n)
	}
	var back session.Session
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(data) {
		t.Errorf("round trip changed the JSON (%v):\n%s\n%s", err, data, again)
	}
}

// TestProcCPUReadsThisProcess checks the /proc/<pid>/stat parser.
func TestProcCPUReadsThisProcess(t *testing.T) {
	d, err := ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d < 0 {
		t.Errorf("ProcCPU = %v, want >= 0", d)
	}
	if _, err := ProcCPU(-1); err == nil {
		t.Error("ProcCPU(-1): no error")
	}
}
