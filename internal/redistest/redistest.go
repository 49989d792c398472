// Package redistest runs a real redis-server for tests, on 127.0.0.1 and a free port, without
// persistence, and stops it when the test ends. CI installs redis-server (.ci/run).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	port int
	cmd  *exec.Cmd
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start runs a redis-server for t; it fails the test when redis-server cannot be run.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), port: port}
	s.Restart(t)
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again, on the same port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redis-server (CI installs it with apt-get): %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ping(s.Addr) == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("redis-server did not answer on %s", s.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		return fmt.Errorf("redis answered %q, %v", line, err)
	}
	return nil
}

// Calls returns how many times the server ran each command (INFO commandstats), by lower-case
// name: a test's proof of how many round trips a cache hit or a limit took.
func (s *Server) Calls(t testing.TB) map[string]int {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprint(c, "INFO commandstats\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	header, err := r.ReadString('\n') // a bulk string: $<length>
	if err != nil || !strings.HasPrefix(header, "$") {
		t.Fatalf("INFO answered %q, %v", header, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(header[1:]))
	if err != nil {
		t.Fatalf("INFO answered %q", header)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(string(body), "\r\n") {
		// cmdstat_get:calls=2,usec=14,...
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		count, _, _ := strings.Cut(rest, ",")
		calls[name], _ = strconv.Atoi(count)
	}
	return calls
}
