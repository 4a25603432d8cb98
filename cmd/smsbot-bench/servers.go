package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// The stand-ins' fixed credentials. They only ever reach loopback.
const (
	benchSID    = "AC22222222222222222222222222222222"
	benchToken  = "benchtoken22222222222222222222222"
	benchNumber = "+15005550006"
	benchClient = "bench-client"
	benchSecret = "bench-client-secret"
	benchKey    = "bench-server-key-0123456789abcdef0123456789"
)

// standIns are the local Twilio and Auth0, served from the bench process.
type standIns struct {
	twilio *twiliotest.Server
	auth0  *auth0test.Server
	caFile string
}

// startStandIns starts the stand-ins; Auth0's accepts the callbacks of
// the given public URLs.
func startStandIns(work string, publics []string) (*standIns, error) {
	s := &standIns{}
	s.twilio = twiliotest.New(twiliotest.Options{AccountSID: benchSID, AuthToken: benchToken, Numbers: []string{benchNumber}})
	if err := s.twilio.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("twilio stand-in: %w", err)
	}
	var callbacks []string
	for _, p := range publics {
		callbacks = append(callbacks, p+"/auth/callback")
	}
	a, err := auth0test.New(auth0test.Options{ClientID: benchClient, ClientSecret: benchSecret, CallbackURLs: callbacks})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("auth0 stand-in: %w", err)
	}
	s.auth0 = a
	if err := a.Start("127.0.0.1:0"); err != nil {
		s.close()
		return nil, fmt.Errorf("auth0 stand-in: %w", err)
	}
	s.caFile = filepath.Join(work, "ca.pem")
	if err := os.WriteFile(s.caFile, append(s.twilio.CertPEM(), a.CertPEM()...), 0o600); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *standIns) close() {
	if s.twilio != nil {
		s.twilio.Close()
	}
	if s.auth0 != nil {
		s.auth0.Close()
	}
}

// freeAddrs returns n different loopback addresses with ports free right
// now.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// buildServer builds the real smsbot binary into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "smsbot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/smsbot/smsbot/cmd/smsbot")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build smsbot: %v\n%s", err, out)
	}
	return bin, nil
}

// process is a server the bench started.
type process struct {
	cmd  *exec.Cmd
	base string // http://addr
	done chan error
	log  *os.File
}

// start starts cmd, logging to logPath, and waits until base/healthz
// answers 200.
func start(ctx context.Context, cmd *exec.Cmd, base, logPath string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &process{cmd: cmd, base: base, done: make(chan error, 1), log: f}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			f.Close()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited: %v\n%s", cmd.Path, err, tail(out, 2000))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not healthy in 30 s", cmd.Path)
		}
	}
}

// peakRSS returns the process's VmHWM from /proc, in bytes.
func (p *process) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

// stop asks the process to shut down (SIGTERM) and waits up to 20 s.
func (p *process) stop() error {
	defer p.log.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop in 20 s", p.cmd.Path)
	}
}

// fleet is the smsbot processes of one target: one, or several instances
// on one database.
type fleet struct {
	procs  []*process
	target *target
	meter  cpuMeter
	pprof  string // the first instance's pprof address, or empty
}

// startFleet starts one smsbot process on each of addrs, the first
// address being the public URL; env gives each its environment. With a
// pprof address, the first instance serves its profiles there.
func startFleet(ctx context.Context, name, bin string, addrs []string, pprof string, conns int, logPrefix string,
	env func(addr, pprofAddr string) []string) (*fleet, error) {
	f := &fleet{pprof: pprof}
	var bases []string
	for i, addr := range addrs {
		cmd := exec.Command(bin, "serve")
		pp := ""
		if i == 0 {
			pp = f.pprof
		}
		cmd.Env = env(addr, pp)
		p, err := start(ctx, cmd, "http://"+addr, fmt.Sprintf("%s-%d.log", logPrefix, i))
		if err != nil {
			f.stop()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		f.procs = append(f.procs, p)
		f.meter.smsbot = append(f.meter.smsbot, p.cmd.Process.Pid)
		bases = append(bases, p.base)
	}
	f.target = newTarget(name, bases, bases[0], conns)
	return f, nil
}

// stop stops every process, and returns the first error.
func (f *fleet) stop() error {
	var first error
	for _, p := range f.procs {
		if err := p.stop(); err != nil && first == nil {
			first = err
		}
	}
	f.procs = nil
	return first
}

// smsbotEnv is the production-mode environment of the server under test;
// sync is SQLite's SMSBOT_SYNCHRONOUS, empty for PostgreSQL.
func smsbotEnv(addr, public, db, sync, pprofAddr string, s *standIns) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"SMSBOT_ADDR=" + addr,
		"SMSBOT_DB=" + db,
		"SMSBOT_PUBLIC_URL=" + public,
		"SMSBOT_SECRET=" + benchKey,
		"SMSBOT_CA_FILE=" + s.caFile,
		"TWILIO_ACCOUNT_SID=" + benchSID,
		"TWILIO_AUTH_TOKEN=" + benchToken,
		"TWILIO_FROM_NUMBER=" + benchNumber,
		"TWILIO_API_URL=" + s.twilio.URL(),
		"AUTH0_DOMAIN=" + s.auth0.Domain(),
		"AUTH0_CLIENT_ID=" + benchClient,
		"AUTH0_CLIENT_SECRET=" + benchSecret,
		// The load comes from a handful of phones per second each and from
		// one address: lift the per-phone and per-address limits, which
		// would otherwise answer most requests with "slow down".
		"SMSBOT_REPLY_BUDGET=1000000000",
		"SMSBOT_LINKS_PER_HOUR=1000000",
		"SMSBOT_LINKS_PER_DAY=1000000",
		"SMSBOT_WEB_PER_MINUTE=1000000000",
		"SMSBOT_WEB_BURST=1000000",
		"SMSBOT_TEXTS_PER_MINUTE=1000000000",
	}
	if sync != "" {
		env = append(env, "SMSBOT_SYNCHRONOUS="+sync)
	}
	if pprofAddr != "" {
		env = append(env, "SMSBOT_PPROF="+pprofAddr)
	}
	return env
}

// benchPhone is the i-th preloaded subscribed phone.
func benchPhone(i int) string { return fmt.Sprintf("+1555%07d", i) }

// flowPhone is the i-th phone of the subscription flows, never preloaded.
func flowPhone(i int) string { return fmt.Sprintf("+1666%07d", i) }

// preload creates the database at path with n subscribed phones through
// store's bulk loader, and returns its size in bytes.
func preload(ctx context.Context, path string, n int) (int64, time.Duration, error) {
	began := time.Now()
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		return 0, 0, err
	}
	now := time.Now()
	err = db.BulkPhones(ctx, n, func(i int, p *bot.Phone) { *p = benchSubscriber(i, now) })
	if err == nil {
		err = db.Checkpoint(ctx)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, err
	}
	took := time.Since(began)
	size, err := dbSize(path)
	return size, took, err
}

// dbSize is the size of the database with its write-ahead log.
func dbSize(path string) (int64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return total, nil
}

// countInbound counts the MessageSids on disk.
func countInbound(path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRow(`SELECT COUNT(*) FROM inbound`).Scan(&n)
	return n, err
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
