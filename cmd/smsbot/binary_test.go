package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// The real binary in tests (TestCrash, TestCluster): built once per test,
// started on a listening socket the test holds, killed with SIGKILL.

// buildBinary builds cmd/smsbot into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "smsbot")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs bin serve with env on the listening socket ln, handed
// over as fd 3 (env says SMSBOT_ADDR=fd:3), and returns once /healthz
// answers. The test keeps ln open for its whole run, so no other process
// can take the port between a kill and the restart, and a request that
// arrives meanwhile waits in the socket's backlog for the next start.
func startBinary(t *testing.T, bin string, env []string, ln net.Listener, logs io.Writer) *exec.Cmd {
	t.Helper()
	cmd := launchBinary(t, bin, env, ln, logs)
	waitHealthy(t, "http://"+ln.Addr().String(), cmd)
	return cmd
}

// launchBinary is startBinary without the wait, to start several at once.
func launchBinary(t *testing.T, bin string, env []string, ln net.Listener, logs io.Writer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	sock, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{sock} // fd 3 in the program
	err = cmd.Start()
	sock.Close()
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitHealthy polls /healthz for up to 15 s. Each poll gives up after a
// second: on a socket the test holds, a program that died at start leaves
// the connection waiting in the backlog, never refused.
func waitHealthy(t *testing.T, base string, cmd *exec.Cmd) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		res, err := c.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("the server did not become healthy in 15 s")
}

func envInt(k string, d int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return d
}

// testSeed returns the seed in the environment variable name, or a fresh
// one, and logs it with the way to replay it.
func testSeed(t *testing.T, name string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", name, v)
		}
		seed = n
	}
	t.Logf("seed %d (replay with %s=%d)", seed, name, seed)
	return seed
}

// impossiblePhones counts the phones whose row no sequence of
// transactions could have written; the same query on both backends.
const impossiblePhones = `SELECT COUNT(*) FROM phones WHERE
	(state = 'awaiting_login' AND NOT EXISTS (SELECT 1 FROM links WHERE links.hash = phones.link_hash AND links.phone = phones.phone))
	OR (state = 'awaiting_code' AND (code_mac IS NULL OR code_user_id = ''))
	OR (state = 'subscribed' AND user_id IS NULL)
	OR (state IN ('idle', 'opted_out') AND (code_mac IS NOT NULL OR link_hash IS NOT NULL))`
