package postgrestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server of a test's own: a cluster made by initdb
// in a temporary directory, served by postgres on a free loopback port
// (TCP only, trust auth), which the test may stop, pause and start again
// at will. The shared test server (ServerURL) is never touched.
//
// As root the server runs as the postgres user, since postgres refuses
// root; otherwise as the test's own user. Every process it starts ends
// with the test.
type Server struct {
	t    testing.TB
	bin  string // the directory of initdb and postgres
	dir  string // the data directory
	port int
	cred *syscall.Credential // whom the server runs as; nil: the test's user
	log  *os.File            // the server's output, shown when the test fails

	mu     sync.Mutex
	cmd    *exec.Cmd     // the running postmaster, nil when stopped
	exited chan struct{} // closed when cmd has been waited for
	paused bool
}

// StartServer makes a cluster of the test's own and starts its server.
// Without the PostgreSQL server binaries (initdb and postgres in PATH or
// under /usr/lib/postgresql/*/bin) the test skips loudly, or fails under
// CI (CI=true).
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := serverBinaries()
	if err != nil {
		msg := "NO POSTGRESQL SERVER BINARIES: the tests that stop and start a server of their own did not run. " +
			"Install them (apt-get install postgresql-15): "
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + err.Error())
		}
		t.Skip(msg + err.Error())
	}
	s := &Server{t: t, bin: bin}
	root := t.TempDir()
	s.dir = filepath.Join(root, "data")
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.log, err = os.Create(filepath.Join(root, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		s.cred, err = postgresUser()
		if err != nil {
			t.Fatal(err)
		}
		// The server's user must reach and own its directory.
		for _, d := range []string{filepath.Dir(root), root} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.cleanup)

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	initdb.Dir = s.dir // a directory the server's user may enter
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// A port below the ephemeral range, so that no outgoing connection
	// takes it while the server is stopped.
	for range 50 {
		s.port = 20000 + rand.IntN(10000)
		if ln, err := net.Listen("tcp", s.addr()); err == nil {
			ln.Close()
			if err := s.start(); err == nil {
				return s
			} else {
				t.Logf("postgres on port %d: %v; trying another", s.port, err)
			}
		}
	}
	t.Fatalf("postgres did not start on any port tried\n%s", s.output())
	return nil
}

// serverBinaries finds the directory that holds initdb and postgres.
func serverBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) }) // newest first
	for _, dir := range dirs {
		_, err1 := os.Stat(filepath.Join(dir, "initdb"))
		_, err2 := os.Stat(filepath.Join(dir, "postgres"))
		if err1 == nil && err2 == nil {
			return dir, nil
		}
	}
	return "", errors.New("no initdb and postgres in PATH or /usr/lib/postgresql/*/bin")
}

// version is the major version in /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// postgresUser is the credential of the postgres user, whom a server
// started by root runs as.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, a server of the test's own needs the postgres user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the URL of the server's postgres database, as the superuser.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", s.addr())
}

// Start starts the server again after Stop, and returns once it takes
// connections (after its recovery, when it was stopped immediately).
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("start postgres: %v\n%s", err, s.output())
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("already running")
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=60", "-c", "shared_buffers=16MB", "-c", "logging_collector=off")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.Dir = s.dir
	// The test's death takes the postmaster along, and its children
	// follow it (they watch it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL())
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("postgres exited: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres took no connection in 60 s: %v", err)
		}
	}
}

// StopImmediate stops the server as a crash would: postgres's immediate
// shutdown (SIGQUIT), every connection cut, no checkpoint; the next Start
// recovers from the WAL. It returns once every process of it is gone.
func (s *Server) StopImmediate() {
	s.t.Helper()
	s.stop(syscall.SIGQUIT)
}

// StopFast stops the server cleanly: postgres's fast shutdown (SIGINT),
// transactions rolled back, clients told, a checkpoint taken.
func (s *Server) StopFast() {
	s.t.Helper()
	s.stop(syscall.SIGINT)
}

func (s *Server) stop(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	if cmd != nil {
		s.resume()
	}
	s.mu.Unlock()
	if cmd == nil {
		s.t.Fatal("stop postgres: not running")
	}
	kids := children(cmd.Process.Pid)
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		s.kill()
		s.t.Fatalf("postgres did not stop on %v in 30 s\n%s", sig, s.output())
	}
	reap(kids)
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

// Pause stops every process of the server (SIGSTOP) without closing a
// connection: clients' packets are taken by the kernel and never
// answered, as when a server hangs or the network between drops them.
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("pause postgres: not running")
	}
	// The postmaster first, so that it starts no process meanwhile.
	pid := s.cmd.Process.Pid
	for _, p := range append([]int{pid}, children(pid)...) {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	s.paused = true
}

// Resume lets a paused server go on.
func (s *Server) Resume() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume()
}

func (s *Server) resume() {
	if s.cmd == nil || !s.paused {
		return
	}
	pid := s.cmd.Process.Pid
	for _, p := range append(children(pid), pid) {
		syscall.Kill(p, syscall.SIGCONT)
	}
	s.paused = false
}

// children lists the processes whose parent is pid. PostgreSQL's
// processes each lead a process group of their own, so the server's
// processes are the postmaster and its children.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(b[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(fields[1])); ppid == pid {
			if p, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// kill ends every process of the server at once.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	kids := children(cmd.Process.Pid)
	cmd.Process.Kill()
	for _, p := range kids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	<-exited
	reap(kids)
}

// reap waits until the processes pids are gone, killing them after 10 s.
// The postmaster waits for its children before it exits; this makes sure.
func reap(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		for syscall.Kill(p, 0) == nil {
			if time.Now().After(deadline) {
				syscall.Kill(p, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cleanup stops the server at the test's end; when the test failed, it
// shows the server's output.
func (s *Server) cleanup() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.resume()
	s.mu.Unlock()
	if cmd != nil {
		kids := children(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
			reap(kids)
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	if s.t.Failed() {
		s.t.Logf("postgres output:\n%s", s.output())
	}
	s.log.Close()
}

// output is what the server wrote so far.
func (s *Server) output() string {
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	return string(bytes.TrimSpace(b))
}
