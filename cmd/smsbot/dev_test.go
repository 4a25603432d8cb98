package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/store"
)

func TestLoadConfig_DevListensOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"dev", []string{"--dev"}, nil, "127.0.0.1:8080"},
		{"dev, SMSBOT_ADDR given", []string{"--dev"}, map[string]string{"SMSBOT_ADDR": ":9000"}, ":9000"},
		{"dev, --addr given", []string{"--dev", "--addr", "0.0.0.0:9001"}, nil, "0.0.0.0:9001"},
		{"production", nil, nil, ":8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := loadConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if cfg == nil || cfg.Addr != tc.want {
				t.Fatalf("addr %+v, want %s", cfg, tc.want)
			}
		})
	}
}

// TestDev_LoopbackHostsAndSameSiteOnly: a dev-mode server answers only to
// loopback Host names (DNS rebinding) and refuses cross-site writes to the
// Dev Phone's API.
func TestDev_LoopbackHostsAndSameSiteOnly(t *testing.T) {
	base := startDevServer(t)
	port := base[strings.LastIndexByte(base, ':')+1:]
	do := func(method, path, host string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"from":"+15555550100","body":"H"}`))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "localhost"} {
		if s := do("GET", "/dev", host, nil); s != 200 {
			t.Errorf("GET /dev with Host %s: %d", host, s)
		}
	}
	for _, path := range []string{"/dev", "/dev/api/messages?phone=%2B15555550100", "/dev/auth0/authorize", "/webhooks/twilio/sms"} {
		if s := do("GET", path, "rebound.example:"+port, nil); s != 403 {
			t.Errorf("GET %s with a foreign Host: %d, want 403", path, s)
		}
	}
	local := "127.0.0.1:" + port
	for _, tc := range []struct {
		name   string
		header map[string]string
		bad    bool
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true},
		{"foreign Origin", map[string]string{"Origin": "https://evil.example"}, true},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + local}, false},
		{"no browser headers", nil, false},
	} {
		s := do("POST", "/dev/api/send", local, tc.header)
		if (s == 403) != tc.bad {
			t.Errorf("POST /dev/api/send, %s: %d", tc.name, s)
		}
	}
}

func TestRun_DevRefusesProductionSettings(t *testing.T) {
	dir := t.TempDir()
	prodDB := filepath.Join(dir, "prod.db")
	db, err := store.Open(context.Background(), prodDB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UseMode(context.Background(), store.ModeProduction); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		name, db, public, want string
	}{
		{"https public URL", filepath.Join(dir, "a.db"), "https://bot.example.com", "not on loopback"},
		{"production database", prodDB, "", "used in production"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SMSBOT_ADDR": "127.0.0.1:0", "SMSBOT_DB": tc.db, "SMSBOT_PUBLIC_URL": tc.public}
			// A server that starts instead stops after a while, without error.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, []string{"serve", "--dev"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDev_BannerHidesTheEnvironmentsToken(t *testing.T) {
	var out bytes.Buffer
	(&devMode{}).banner(&out, &config{PublicURL: "http://localhost:8080", TwilioToken: "token-from-the-environment", TwilioFrom: devBotNumber})
	if strings.Contains(out.String(), "token-from-the-environment") {
		t.Fatalf("banner prints TWILIO_AUTH_TOKEN:\n%s", out.String())
	}
	out.Reset()
	(&devMode{}).banner(&out, &config{PublicURL: "http://localhost:8080", TwilioToken: devAuthToken, TwilioFrom: devBotNumber})
	if !strings.Contains(out.String(), fmt.Sprintf("%q", devAuthToken)) {
		t.Fatalf("banner lacks the dev token:\n%s", out.String())
	}
}

// TestDialable: the Dev Phone posts its texts to an address the server
// listens on, also when an explicit SMSBOT_ADDR names one interface.
func TestDialable(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4(192, 168, 1, 10), Port: 9000}, "192.168.1.10:9000"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9000}, "[::1]:9000"},
	} {
		if got := dialable(tc.addr); got != tc.want {
			t.Errorf("dialable(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestRun_ProductionRefusesDevDatabase: production never serves a
// database dev mode has used (its bindings are made up), and says why.
func TestRun_ProductionRefusesDevDatabase(t *testing.T) {
	e := newE2E(t, nil)
	db, err := store.Open(context.Background(), e.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UseMode(context.Background(), store.ModeDev); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"}, func(k string) string { return e.env[k] }, io.Discard, io.Discard)
	var usage usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "used in dev mode") {
		t.Fatalf("run: %v, want a usage error saying the database was used in dev mode", err)
	}
}
