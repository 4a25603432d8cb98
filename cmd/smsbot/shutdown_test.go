package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/webhooks"
)

// stoppable is the program serving in production mode against local far
// ends, with its context to cancel (what SIGTERM does) and its result.
type stoppable struct {
	base, addr string
	logs       *syncBuffer
	stop       context.CancelFunc
	done       chan error
}

// startStoppable runs serve with env on top of the far ends' settings and
// waits until /readyz answers.
func startStoppable(t *testing.T, env ...string) *stoppable {
	t.Helper()
	f := newFarEnds(t, nil)
	addr, listenSetting := listenFD(t)
	s := &stoppable{base: "http://" + addr, addr: addr, logs: &syncBuffer{}, done: make(chan error, 1)}
	all := with(f.env, append([]string{"SMSBOT_ADDR", listenSetting, "SMSBOT_PUBLIC_URL", s.base, "SMSBOT_SECRET", e2eKey}, env...)...)
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	t.Cleanup(cancel)
	go func() {
		s.done <- run(ctx, []string{"serve"}, func(k string) string { return all[k] }, io.Discard, s.logs)
	}()
	waitFor(t, "/readyz", func() bool { return answers(s.base + "/readyz") })
	return s
}

// wait waits for run to return and returns its error.
func (s *stoppable) wait(t *testing.T) error {
	t.Helper()
	var err error
	waitFor(t, "run to return", func() bool {
		select {
		case err = <-s.done:
			return true
		default:
			return false
		}
	})
	return err
}

// halfRequest opens a connection and sends the headers of a signed
// inbound text with "Expect: 100-continue", and no body; it returns the
// connection and the body to send. It returns once the server answered
// "100 Continue", that is once the handler runs and waits for the body:
// the request is in flight, not a connection that might not have been
// read yet.
func (s *stoppable) halfRequest(t *testing.T) (net.Conn, string) {
	t.Helper()
	form := url.Values{
		"MessageSid": {"SM" + strings.Repeat("ab", 16)}, "AccountSid": {e2eSID},
		"From": {"+15555550301"}, "To": {e2eNumber}, "Body": {"S"},
	}
	body := form.Encode()
	sig := webhooks.Signature(e2eToken, s.base+webhooks.PathSMS, form)
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: %s\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", webhooks.PathSMS, sig, len(body))
	// Read the interim answer a byte at a time, so that nothing of the
	// final answer is taken from the connection.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	for !bytes.HasSuffix(got, []byte("\r\n\r\n")) {
		b := make([]byte, 1)
		if _, err := conn.Read(b); err != nil {
			t.Fatalf("waiting for 100 Continue: %v (got %q)", err, got)
		}
		got = append(got, b[0])
	}
	conn.SetReadDeadline(time.Time{})
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 100 ")) {
		t.Fatalf("want 100 Continue, got %q", got)
	}
	return conn, body
}

// TestRun_ShutdownCutsStuckRequest: a client that keeps its request open
// past SMSBOT_SHUTDOWN_TIMEOUT is cut, the cut is logged with a count, and
// run returns nil (exit 0: a routine stop, not a failure).
func TestRun_ShutdownCutsStuckRequest(t *testing.T) {
	s := startStoppable(t, "SMSBOT_SHUTDOWN_TIMEOUT", "50ms")
	conn, _ := s.halfRequest(t)
	s.stop()
	if err := s.wait(t); err != nil {
		t.Fatalf("run after a bounded shutdown: %v (exit %d), want nil\n%s", err, exitCode(err, io.Discard), s.logs)
	}
	// At least the stuck one: a probe's connection may not have gone idle
	// yet on a loaded machine.
	if !regexp.MustCompile(`"requests_cut":[1-9]`).MatchString(s.logs.String()) {
		t.Errorf("no log of the request cut:\n%s", s.logs)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the stuck connection is still open")
	}
}

// TestListen_FD: SMSBOT_ADDR=fd:N serves on the socket the test holds, so
// no other process can take the port between choosing and serving it.
func TestListen_FD(t *testing.T) {
	addr, setting := listenFD(t)
	ln, err := listen(setting)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() != addr {
		t.Errorf("listening on %s, want %s", ln.Addr(), addr)
	}
	for _, bad := range []string{"fd:x", "fd:1"} {
		var u usageError
		if _, err := listen(bad); !errors.As(err, &u) {
			t.Errorf("listen(%q): %v, want a usage error", bad, err)
		}
	}
}

// TestRun_DrainBeforeStop: with SMSBOT_DRAIN, a stopping instance answers
// /readyz 503 at once and still serves texts for the drain, so a load
// balancer's health check turns new requests away before the socket
// closes; then it stops as usual.
func TestRun_DrainBeforeStop(t *testing.T) {
	const d = 2 * time.Second
	s := startStoppable(t, "SMSBOT_DRAIN", d.String())
	// A balancer's keep-alive connection, idle when the signal comes.
	idle, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idleReader := bufio.NewReader(idle)
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if res, err := http.ReadResponse(idleReader, nil); err != nil || res.StatusCode != 200 || res.Close {
		t.Fatalf("before the stop, on a keep-alive connection: %v %v", res, err)
	} else {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	stopped := time.Now()
	s.stop()
	waitFor(t, "/readyz 503 while draining", func() bool {
		res, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	})
	form := url.Values{
		"MessageSid": {"SM" + strings.Repeat("cd", 16)}, "AccountSid": {e2eSID},
		"From": {"+15555550302"}, "To": {e2eNumber}, "Body": {"H"},
	}
	req, _ := http.NewRequest("POST", s.base+webhooks.PathSMS, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(e2eToken, s.base+webhooks.PathSMS, form))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a text while draining: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !res.Close {
		t.Errorf("a text while draining: %d (connection close %v), want 200 and the connection closed after it", res.StatusCode, res.Close)
	}
	// The connection idle at the signal still carries a request: closing
	// it then would cut a request the balancer is writing to it at that
	// moment (a POST it cannot send again). Its answer closes it.
	form.Set("MessageSid", "SM"+strings.Repeat("ce", 16))
	body := form.Encode()
	fmt.Fprintf(idle, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: %s\r\nContent-Length: %d\r\n\r\n%s",
		webhooks.PathSMS, webhooks.Signature(e2eToken, s.base+webhooks.PathSMS, form), len(body), body)
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if res, err := http.ReadResponse(idleReader, nil); err != nil {
		t.Errorf("a text on the connection idle at the signal: %v, want it served", err)
	} else {
		res.Body.Close()
		if res.StatusCode != 200 || !res.Close {
			t.Errorf("a text on the connection idle at the signal: %d (connection close %v), want 200 and the connection closed after it", res.StatusCode, res.Close)
		}
	}
	if err := s.wait(t); err != nil {
		t.Fatalf("run after a drained stop: %v\n%s", err, s.logs)
	}
	if took := time.Since(stopped); took < d {
		t.Errorf("stopped %s after the signal, before the drain of %s ended", took, d)
	}
	if !strings.Contains(s.logs.String(), "draining") {
		t.Errorf("no log of the drain:\n%s", s.logs)
	}
}
