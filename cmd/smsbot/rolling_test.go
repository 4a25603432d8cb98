package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// TestRolling measures the README's rolling deploy ("Several instances",
// "The load balancer"): two real `smsbot serve` processes on one
// PostgreSQL schema behind a real Caddy or nginx, configured with the
// README's own Caddyfile or nginx block (the test's loopback ports in
// place of the examples'), while 8 senders post signed Twilio webhooks
// through the balancer and each instance is restarted 3 times with
// SIGTERM, the next only once the restarted one answers /readyz 200 and
// 2 s more (the README's step: longer than the balancer's health-check
// interval, so that it has taken the restarted one back). It
// runs once per SMSBOT_DRAIN, logs the answers by status and the
// balancer's errors, and fails if a webhook answered 200 is not in the
// inbound table, or an instance does not stop with 0.
//
// It needs the balancers installed and takes a minute or two, so it runs
// only when asked:
//
//	SMSBOT_ROLLING=caddy,nginx go test -run '^TestRolling$' -v ./cmd/smsbot
//
// SMSBOT_ROLLING_DRAINS (0s,3s), SMSBOT_ROLLING_RESTARTS (3 per
// instance) and SMSBOT_ROLLING_PAUSE (2s) change the runs;
// SMSBOT_ROLLING_STRICT=1 also fails on any answer but 200.
func TestRolling(t *testing.T) {
	which := os.Getenv("SMSBOT_ROLLING")
	if which == "" {
		t.Skip("set SMSBOT_ROLLING=caddy,nginx to measure rolling restarts behind a real balancer")
	}
	drains := strings.Split(cmp.Or(os.Getenv("SMSBOT_ROLLING_DRAINS"), "0s,3s"), ",")
	restarts := envInt("SMSBOT_ROLLING_RESTARTS", 3)
	pause, err := time.ParseDuration(cmp.Or(os.Getenv("SMSBOT_ROLLING_PAUSE"), "2s"))
	if err != nil {
		t.Fatalf("SMSBOT_ROLLING_PAUSE: %v", err)
	}
	bin := buildBinary(t, t.TempDir())
	for _, lb := range strings.Split(which, ",") {
		if lb != "caddy" && lb != "nginx" {
			t.Fatalf("SMSBOT_ROLLING=%q: want caddy, nginx or both, comma-separated", which)
		}
		for _, d := range drains {
			if _, err := time.ParseDuration(d); err != nil {
				t.Fatalf("SMSBOT_ROLLING_DRAINS: %v", err)
			}
			t.Run(lb+"/drain="+d, func(t *testing.T) { rolling(t, bin, lb, d, restarts, pause) })
		}
	}
}

// rollingInst is one smsbot serve on its own loopback address: unlike
// the other tests' instances it owns its socket, so a stop really closes
// it and the balancer meets a refused connection, as in production.
type rollingInst struct {
	addr string
	logs *syncBuffer
	cmd  *exec.Cmd
}

func rolling(t *testing.T, bin, lb, drain string, restarts int, pause time.Duration) {
	dbURL := postgrestest.SchemaURL(t)
	dir := t.TempDir()
	lbAddr := freeAddr(t)
	public := "http://" + lbAddr

	tw := twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	a0, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{public + magiclink.PathCallback}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a0.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a0.Close() })
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, append(tw.CertPEM(), a0.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"SMSBOT_DB="+dbURL, "SMSBOT_PG_POOL=6", "SMSBOT_PUBLIC_URL="+public,
		"SMSBOT_SECRET="+e2eKey, "SMSBOT_CA_FILE="+ca, "SMSBOT_CLIENT_IP_HEADER=X-Real-IP",
		"SMSBOT_DRAIN="+drain,
		"TWILIO_ACCOUNT_SID="+e2eSID, "TWILIO_AUTH_TOKEN="+e2eToken, "TWILIO_FROM_NUMBER="+e2eNumber, "TWILIO_API_URL="+tw.URL(),
		"AUTH0_DOMAIN="+a0.Domain(), "AUTH0_CLIENT_ID="+e2eClient, "AUTH0_CLIENT_SECRET="+e2eSecret,
		"SMSBOT_TEXTS_PER_MINUTE=1000000", "SMSBOT_WEB_PER_MINUTE=1000000", "SMSBOT_WEB_BURST=1000000", "SMSBOT_REPLY_BUDGET=1000000",
	)

	insts := []*rollingInst{{addr: freeAddr(t), logs: &syncBuffer{}}, {addr: freeAddr(t), logs: &syncBuffer{}}}
	t.Cleanup(func() {
		for i, in := range insts {
			if in.cmd != nil {
				in.cmd.Process.Kill()
				in.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("instance %d logs (the end):\n%s", i, tail(in.logs.String(), 4000))
			}
		}
	})
	for _, in := range insts {
		in.start(t, bin, env)
	}
	for _, in := range insts {
		in.waitReady(t)
	}

	bal := startBalancer(t, lb, dir, lbAddr, []string{insts[0].addr, insts[1].addr})

	// The senders: Twilio's webhooks, each signed for the public URL,
	// through the balancer, each waiting up to Twilio's 15 s.
	var (
		mu     sync.Mutex
		status = map[int]int{} // 0: no answer
		acked  []string
		sid    = time.Now().UnixNano()
	)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // also when a restart fails the test
	for s := range 8 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				mu.Lock()
				sid++
				f := url.Values{
					"MessageSid": {fmt.Sprintf("SM%032x", sid)}, "AccountSid": {e2eSID},
					"From": {fmt.Sprintf("+1555586%02d%02d", s, n%50)}, "To": {e2eNumber}, "Body": {"H"},
					"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
				}
				mu.Unlock()
				req, _ := http.NewRequest(http.MethodPost, public+webhooks.PathSMS, strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", webhooks.Signature(e2eToken, public+webhooks.PathSMS, f))
				code := 0
				if res, err := client.Do(req); err == nil {
					code = res.StatusCode
					res.Body.Close()
				}
				mu.Lock()
				status[code]++
				if code == 200 {
					acked = append(acked, f.Get("MessageSid"))
				}
				mu.Unlock()
			}
		})
	}

	// The rolling restarts, one instance at a time, as in the README.
	began := time.Now()
	time.Sleep(time.Second)
	var stops []time.Duration
	for r := range restarts {
		for i, in := range insts {
			took := in.stop(t)
			if t.Failed() {
				t.Fatalf("restart %d of instance %d: the stop failed", r+1, i)
			}
			stops = append(stops, took)
			in.start(t, bin, env)
			in.waitReady(t)
			time.Sleep(pause)
		}
	}
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	loadTime := time.Since(began)
	bal.stop(t)
	for _, in := range insts {
		in.stop(t)
		in.cmd = nil
	}

	// Every webhook answered 200 is in PostgreSQL.
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string]bool{}
	rows, err := db.Query(`SELECT message_sid FROM inbound`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		stored[s] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, s := range acked {
		if !stored[s] {
			lost++
		}
	}
	total := 0
	var byStatus []string
	for _, code := range slices.Sorted(maps.Keys(status)) {
		total += status[code]
		byStatus = append(byStatus, fmt.Sprintf("%d: %d", code, status[code]))
	}
	t.Logf("%s, SMSBOT_DRAIN=%s: %d webhooks in %v, %d restarts (SIGTERM to exit %v on average, the next %v after /readyz 200); answers %s; %d answered 200, %d of them not in PostgreSQL",
		bal.version, drain, total, loadTime.Round(time.Millisecond), len(stops), average(stops).Round(time.Millisecond), pause,
		strings.Join(byStatus, ", "), len(acked), lost)
	if errs := bal.errors(); errs != "" {
		t.Logf("%s's errors:\n%s", lb, errs)
	}
	if lost != 0 {
		t.Errorf("%d of %d webhooks answered 200 are not in the inbound table", lost, len(acked))
	}
	if len(acked) == 0 {
		t.Error("no webhook was answered 200")
	}
	if os.Getenv("SMSBOT_ROLLING_STRICT") != "" && status[200] != total {
		t.Errorf("%d of %d webhooks not answered 200", total-status[200], total)
	}
}

func average(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (in *rollingInst) start(t *testing.T, bin string, env []string) {
	t.Helper()
	in.cmd = exec.Command(bin, "serve")
	in.cmd.Env = append(slices.Clip(env), "SMSBOT_ADDR="+in.addr)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// waitReady polls the instance's own /readyz until it answers 200.
func (in *rollingInst) waitReady(t *testing.T) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := c.Get("http://" + in.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("instance %s: no /readyz 200 in 20 s", in.addr)
}

// stop sends SIGTERM and waits for the exit, which must be 0.
func (in *rollingInst) stop(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("instance %s after SIGTERM: %v", in.addr, err)
		}
	case <-time.After(30 * time.Second):
		in.cmd.Process.Kill()
		<-done
		t.Errorf("instance %s still running 30 s after SIGTERM", in.addr)
	}
	return time.Since(began)
}

// balancer is Caddy or nginx, run by the test in the foreground in a
// process group of its own.
type balancer struct {
	name    string
	version string
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan error
}

// startBalancer writes the README's configuration for lb with the test's
// addresses into dir, starts it on lbAddr, and returns once a request
// through it reaches an instance.
func startBalancer(t *testing.T, lb, dir, lbAddr string, upstreams []string) *balancer {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{name: lb, logs: &syncBuffer{}, done: make(chan error, 1)}
	switch lb {
	case "caddy":
		bin, err := exec.LookPath("caddy")
		if err != nil {
			t.Skipf("no caddy: %v", err)
		}
		conf := filepath.Join(dir, "Caddyfile")
		// Caddy's admin endpoint off (its default port is the machine's,
		// and other tests may run Caddy), its files in dir.
		text := "{\n\tadmin off\n}\n\n" + readmeCaddyfile(t, string(readme), lbAddr, upstreams)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		b.version = "Caddy " + strings.Fields(commandOutput(t, bin, "version"))[0]
		b.cmd = exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
		b.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	case "nginx":
		bin, err := exec.LookPath("nginx")
		if err != nil {
			if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
				t.Skipf("no nginx: %v", err)
			}
			bin = "/usr/sbin/nginx"
		}
		conf := filepath.Join(dir, "nginx.conf")
		user := ""
		if os.Geteuid() == 0 {
			user = "user root;\n" // the workers read the files in dir
		}
		text := fmt.Sprintf(`%sdaemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, readmeNginx(t, string(readme), lbAddr, upstreams))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		v := commandOutput(t, bin, "-v") // "nginx version: nginx/1.22.1"
		b.version = strings.Replace(strings.TrimSpace(v[strings.LastIndex(v, ":")+1:]), "/", " ", 1)
		b.cmd = exec.Command(bin, "-p", dir, "-c", conf, "-e", "stderr")
	}
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // nginx's workers with it
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(func() {
		if b.cmd != nil {
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	})
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.Get("http://" + lbAddr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return b
			}
		}
		select {
		case err := <-b.done:
			b.cmd = nil
			t.Fatalf("%s exited at start: %v\n%s", lb, err, b.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no /readyz 200 through it in 20 s\n%s", lb, b.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func commandOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// stop ends the balancer gracefully (SIGTERM: Caddy's graceful stop,
// nginx's fast one, which waits for its workers).
func (b *balancer) stop(t *testing.T) {
	t.Helper()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
		t.Errorf("%s still running 15 s after SIGTERM", b.name)
	}
	b.cmd = nil
}

var numbers = regexp.MustCompile(`[0-9]+`)

// errors returns the balancer's logged errors, alike ones counted once
// (numbers, addresses and times written as N).
func (b *balancer) errors() string {
	count := map[string]int{}
	for _, line := range strings.Split(b.logs.String(), "\n") {
		var msg string
		switch b.name {
		case "caddy":
			var e struct{ Level, Logger, Msg, Error string }
			if json.Unmarshal([]byte(line), &e) != nil || (e.Level != "error" && e.Level != "warn") {
				continue // the health checker's ups and downs are "info"
			}
			msg = e.Level + " " + e.Msg
			if e.Error != "" {
				msg += ": " + e.Error
			}
		case "nginx":
			i := strings.Index(line, "[")
			if i < 0 || strings.Contains(line, "[notice]") {
				continue
			}
			msg = line[i:]
			if j := strings.Index(msg, ", client:"); j >= 0 {
				msg = msg[:j]
			}
		}
		count[numbers.ReplaceAllString(msg, "N")]++
	}
	var out []string
	for _, m := range slices.Sorted(maps.Keys(count)) {
		out = append(out, fmt.Sprintf("%6d  %s", count[m], m))
	}
	return strings.Join(out, "\n")
}

// readmeBlock returns the fenced block of the README's "The load
// balancer" section whose opening line (the fence's info or the first
// line of text) is first.
func readmeBlock(t *testing.T, readme, first string) string {
	t.Helper()
	_, sect, ok := strings.Cut(readme, "\n### The load balancer\n")
	if !ok {
		t.Fatal(`README: no "### The load balancer" section`)
	}
	sect, _, _ = strings.Cut(sect, "\n### ")
	parts := strings.Split(sect, "\n```")
	for i := 1; i+1 < len(parts); i += 2 {
		info, body, _ := strings.Cut(parts[i], "\n")
		if info == first || strings.HasPrefix(body, first) {
			return body
		}
	}
	t.Fatalf("README: no block starting %q under The load balancer", first)
	return ""
}

// replaceOnce replaces the one match of re in s, or fails.
func replaceOnce(t *testing.T, s, re, with string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	if n := len(r.FindAllStringIndex(s, -1)); n != 1 {
		t.Fatalf("README's balancer block: %d matches of %q, want 1:\n%s", n, re, s)
	}
	return r.ReplaceAllLiteralString(s, with)
}

// readmeCaddyfile is the README's Caddyfile on lbAddr (plain HTTP) with
// the test's upstreams.
func readmeCaddyfile(t *testing.T, readme, lbAddr string, upstreams []string) string {
	t.Helper()
	c := readmeBlock(t, readme, "bot.example.com {")
	c = replaceOnce(t, c, `(?m)^bot\.example\.com \{`, "http://"+lbAddr+" {")
	return replaceOnce(t, c, `reverse_proxy( 10\.0\.0\.\d+:8080)+ \{`, "reverse_proxy "+strings.Join(upstreams, " ")+" {")
}

// readmeNginx is the README's nginx upstream and server on lbAddr (plain
// HTTP, no certificate) with the test's upstreams.
func readmeNginx(t *testing.T, readme, lbAddr string, upstreams []string) string {
	t.Helper()
	c := readmeBlock(t, readme, "nginx")
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "    server %s max_fails=0;\n", u)
	}
	c = replaceOnce(t, c, `(?m)(^ *server 10\.0\.0\.\d+:8080 max_fails=0;\n)+`, servers.String())
	c = replaceOnce(t, c, `listen 443 ssl;`, "listen "+lbAddr+";")
	return replaceOnce(t, c, `(?m)(^ *ssl_certificate(_key)? +\S+;\n){2}`, "")
}
