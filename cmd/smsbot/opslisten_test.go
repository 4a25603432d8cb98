package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestOpsAddr(t *testing.T) {
	for _, c := range []struct {
		in       string
		addr     string
		loopback bool
	}{
		{":9090", "127.0.0.1:9090", true},
		{"127.0.0.1:9090", "127.0.0.1:9090", true},
		{"localhost:9090", "localhost:9090", true},
		{"[::1]:9090", "[::1]:9090", true},
		{"0.0.0.0:9090", "0.0.0.0:9090", false},
		{"10.0.0.5:9090", "10.0.0.5:9090", false},
	} {
		addr, loopback, err := opsAddr("SMSBOT_METRICS_ADDR", c.in)
		if err != nil || addr != c.addr || loopback != c.loopback {
			t.Errorf("opsAddr(%q) = %q, %v, %v; want %q, %v", c.in, addr, loopback, err, c.addr, c.loopback)
		}
	}
	for _, bad := range []string{"9090", "localhost", "127.0.0.1:", ""} {
		var ue usageError
		if _, _, err := opsAddr("SMSBOT_METRICS_ADDR", bad); !errors.As(err, &ue) {
			t.Errorf("opsAddr(%q): %v, want a usage error", bad, err)
		}
	}
}

var opsListenerRE = regexp.MustCompile(`"msg":"operational listener","addr":"([0-9.:]+)"`)

// TestE2E_MetricsListener: with SMSBOT_METRICS_ADDR set, /metrics (and
// pprof, at the same address) answer there and nowhere on SMSBOT_ADDR.
func TestE2E_MetricsListener(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_METRICS_ADDR": ":0", "SMSBOT_PPROF": "127.0.0.1:0"})
	m := opsListenerRE.FindAllStringSubmatch(e.logs.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want one operational listener in the logs, got %v", m)
	}
	ops := "http://" + m[0][1]
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if status, _ := get(t, e.base+path); status != 404 {
			t.Errorf("%s on SMSBOT_ADDR: %d, want 404", path, status)
		}
	}
	if status, body := get(t, ops+"/metrics"); status != 200 || !strings.Contains(body, "smsbot_outbox_depth") {
		t.Errorf("/metrics on SMSBOT_METRICS_ADDR: %d", status)
	}
	if status, _ := get(t, ops+"/debug/pprof/cmdline"); status != 200 {
		t.Errorf("pprof on the shared listener: %d", status)
	}
}

// TestRun_PprofOnlyOnLoopback: SMSBOT_PPROF on another host is bad usage.
func TestRun_PprofOnlyOnLoopback(t *testing.T) {
	e := newE2E(t, map[string]string{"SMSBOT_PPROF": "0.0.0.0:0"})
	var ue usageError
	if err := run(t.Context(), []string{"serve"}, func(k string) string { return e.env[k] }, &strings.Builder{}, e.logs); !errors.As(err, &ue) {
		t.Fatalf("run: %v, want a usage error", err)
	}
}
