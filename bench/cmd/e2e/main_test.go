package main

import (
	"log"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/bench/e2e"
)

// TestMain serves a stack when the test binary is started as one of
// compare's stack processes.
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "-serve" && os.Args[3] == "-redis" {
		log.Fatal(serveStack(os.Args[2], os.Args[4]))
	}
	os.Exit(m.Run())
}

// compare runs each stack in a process of its own and measures it: every
// row has requests, Redis commands and the process's CPU and
// allocations, and no failure.
func TestCompareMeasuresEachStackInItsProcess(t *testing.T) {
	var out strings.Builder
	l := e2e.Load{Users: 8, Clients: 2, Reads: 0.5, Duration: 300 * time.Millisecond}
	if err := compare(&out, l, 1, 0, regexp.MustCompile(`^(redisstore|scs)$`)); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 13 || (cells[0] != "| redisstore" && cells[0] != "| scs") {
			continue
		}
		rows++
		reqs, _ := strconv.ParseFloat(cells[1], 64)
		cmds, _ := strconv.ParseFloat(cells[5], 64)
		cpu, _ := strconv.ParseFloat(cells[8], 64)
		allocs, _ := strconv.ParseFloat(cells[9], 64)
		if reqs <= 0 || cmds < 1 || cpu <= 0 || allocs <= 0 || cells[12] != "0 |" {
			t.Errorf("row %q: want requests, at least a command, CPU and allocations per request, no failure", line)
		}
	}
	if rows != 2 {
		t.Errorf("%d rows for 2 stacks:\n%s", rows, out.String())
	}
}
