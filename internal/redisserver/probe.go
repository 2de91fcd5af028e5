package redisserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// probe asks the server at s.Addr for INFO (after AUTH when admin
// credentials are set). It reports ready when the answer comes from the
// process pid and the data set is loaded. Without credentials a NOAUTH
// answer is errUnverified: it may come from another server on the port.
func (s *Server) probe(pid int) (bool, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(c)
	if s.AdminPassword != "" {
		auth := []string{"AUTH", s.AdminPassword}
		if s.AdminUser != "" {
			auth = []string{"AUTH", s.AdminUser, s.AdminPassword}
		}
		if _, err := c.Write(encodeCommand(auth...)); err != nil {
			return false, err
		}
		line, err := readLine(r)
		if err != nil {
			return false, err
		}
		if strings.HasPrefix(line, "-") {
			if strings.HasPrefix(line, "-LOADING") {
				return false, fmt.Errorf("redisserver: %s", line[1:])
			}
			// The server's text never contains the password.
			return false, fmt.Errorf("%w: %s", errAuthRejected, line[1:])
		}
	}
	if _, err := c.Write(encodeCommand("INFO")); err != nil {
		return false, err
	}
	line, err := readLine(r)
	if err != nil {
		return false, err
	}
	switch {
	case strings.HasPrefix(line, "-NOAUTH") && s.AdminPassword == "":
		return false, errUnverified
	case strings.HasPrefix(line, "-"):
		return false, fmt.Errorf("redisserver: INFO: %s", line[1:])
	case !strings.HasPrefix(line, "$"):
		return false, fmt.Errorf("redisserver: INFO: unexpected reply %q", line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return false, fmt.Errorf("redisserver: INFO: bad length %q", line)
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return false, err
	}
	info := parseInfo(string(body))
	if got := info["process_id"]; got != strconv.Itoa(pid) {
		return false, fmt.Errorf("redisserver: %s is answered by process %s, not by %d", s.Addr, got, pid)
	}
	if info["loading"] == "1" || info["async_loading"] == "1" {
		return false, fmt.Errorf("redisserver: still loading")
	}
	return true, nil
}

// encodeCommand renders args as a RESP array of bulk strings.
func encodeCommand(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// readLine reads one reply line without its CRLF.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// parseInfo turns INFO output into a field map.
func parseInfo(s string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}
