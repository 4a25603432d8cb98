package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Config is what one benchmark run does.
type Config struct {
	Out  string // directory of the report and chart
	Work string // binaries and databases

	Sizes            []int // preloaded subscribed phones, one server run each
	Concurrency      []int // the steady sweep, at the first size
	ScaleConcurrency int   // the steady run at every size
	FlowConcurrency  int   // the subscription flows
	Duration, Warmup time.Duration
	Synchronous      string

	// Postgres is the PostgreSQL server of the PostgreSQL targets, each on
	// a fresh schema of its own, dropped at the end; "off" measures SQLite
	// only.
	Postgres string
	// PGInstances are the PostgreSQL targets: each so many smsbot
	// instances on one database, the load spread over them in turn. They
	// run the first size's workloads beside SQLite.
	PGInstances []int
	// RequirePostgres fails the run when no PostgreSQL server answers
	// (CI, where a server is part of the machine).
	RequirePostgres bool

	// Helper returns the command that runs smsbot-bench with args, as a
	// process of its own: the baselines ("baseline ADDR", "durable ADDR
	// DB").
	Helper func(args ...string) *exec.Cmd
	// ServerBin is the smsbot binary; empty builds it into Work.
	ServerBin string
	// CPUProfile saves a CPU profile of smsbot during the steady run at
	// ScaleConcurrency to this file, and of each PostgreSQL target's first
	// instance beside it (cpu-postgres1.pprof for cpu.pprof).
	CPUProfile string
	Log        io.Writer
	Smoke      bool
}

// DefaultConfig is the full run of make bench.
func DefaultConfig() Config {
	return Config{
		Out:              "docs",
		Sizes:            []int{1_000, 100_000, 1_000_000},
		Concurrency:      []int{1, 4, 16, 64, 256},
		ScaleConcurrency: 64,
		FlowConcurrency:  16,
		Duration:         10 * time.Second,
		Warmup:           2 * time.Second,
		Synchronous:      "FULL",
		Postgres:         PostgresServer(),
		PGInstances:      []int{1, 3},
	}
}

// SmokeConfig is a run of a few seconds that only shows the harness works.
func SmokeConfig(out string) Config {
	return Config{
		Out:              out,
		Sizes:            []int{200, 400},
		Concurrency:      []int{1, 8},
		ScaleConcurrency: 8,
		FlowConcurrency:  2,
		Duration:         400 * time.Millisecond,
		Warmup:           100 * time.Millisecond,
		Synchronous:      "FULL",
		Postgres:         PostgresServer(),
		PGInstances:      []int{1, 3},
		Smoke:            true,
	}
}

// Point is a steady run of every target at one concurrency.
type Point struct {
	Concurrency int
	Smsbot      stats // on SQLite
	SmsbotCPU   CPUShare
	Postgres    []stats // each of Report.PG, in its order
	PostgresCPU []CPUShare
	Baseline    stats // the bare handler
	// The minimal durable bot on SQLite, and on PostgreSQL (when
	// PostgreSQL is measured).
	Durable, DurablePG       stats
	DurableCPU, DurablePGCPU CPUShare
}

// Ratio is smsbot's throughput on SQLite over the baseline's.
func (p Point) Ratio() float64 { return p.RatioOf(p.Smsbot) }

// Ratios are s's throughput and p99 over base's: how far s is from a
// baseline (0 when base has none).
func Ratios(s, base stats) (rate, p99 float64) {
	if base.Rate() > 0 {
		rate = s.Rate() / base.Rate()
	}
	if base.P99 > 0 {
		p99 = float64(s.P99) / float64(base.P99)
	}
	return rate, p99
}

// RatioOf is s's throughput over the baseline's.
func (p Point) RatioOf(s stats) float64 {
	if p.Baseline.Rate() == 0 {
		return 0
	}
	return s.Rate() / p.Baseline.Rate()
}

// Scale is the steady run at one database size.
type Scale struct {
	Phones      int
	LoadTime    time.Duration
	DBBytes     int64
	Steady      stats
	PeakRSS     int64
	Acked       int64 // webhooks smsbot answered 200 while it ran
	OnDisk      int64 // MessageSids in the database after it stopped
	ServerError string
}

// PGRun is a PostgreSQL target: Instances smsbot processes on one
// database, run on the first size's workloads.
type PGRun struct {
	Instances   int
	Preload     time.Duration
	Flows, Mix  Mixed
	Acked       int64 // webhooks its instances answered 200
	OnDisk      int64 // MessageSids in its schema after they stopped
	ServerError string
}

// Name is how the report calls the target.
func (r PGRun) Name() string { return fmt.Sprintf("smsbot (PostgreSQL, %d)", r.Instances) }

// DurableRun is a minimal durable bot, on SQLite or on PostgreSQL.
type DurableRun struct {
	Postgres    bool
	Acked       int64 // webhooks it answered 200
	OnDisk      int64 // MessageSids in its table after it stopped
	ServerError string
}

// Name is how the report calls it.
func (r DurableRun) Name() string {
	if r.Postgres {
		return durablePGName
	}
	return durableName
}

// The minimal durable bots' names in the report.
const (
	durableName   = "minimal durable bot (SQLite)"
	durablePGName = "minimal durable bot (PostgreSQL)"
)

// Mixed is a run of flows, or of flows mixed with steady texts.
type Mixed struct {
	Name        string
	Concurrency int
	Flows       stats
	Texts       stats // steady texts (mix only)
}

// Machine describes where the run happened.
type Machine struct {
	Cores     int
	CPU       string
	OS        string
	GoVersion string
}

// Report is the outcome of a run.
type Report struct {
	Config   Config
	Machine  Machine
	Date     time.Time
	Took     time.Duration
	Load     [2]string // the 1-minute load average at the start and at the end
	Sweep    []Point
	HalfRate float64
	AtHalf   stats
	Scales   []Scale
	Flows    Mixed
	Mix      Mixed

	// PostgreSQL: the server that answered (nil if none) and the targets
	// on it, or why there are none.
	PGServer  *pgServer
	PG        []PGRun
	PGSkipped string

	// Durable are the minimal durable bots: on SQLite, then on
	// PostgreSQL when it is measured.
	Durable []DurableRun

	// Notes is the hand-written part of the report, kept from the file
	// the run replaces (see Write).
	Notes string
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// pgTarget is a PostgreSQL target while it runs.
type pgTarget struct {
	run    PGRun
	schema *pgSchema
	fleet  *fleet
}

// Run runs the benchmark.
func Run(ctx context.Context, c Config) (*Report, error) {
	began := time.Now()
	rep := &Report{Config: c, Machine: machine(), Date: began.UTC()}
	rep.Load[0] = loadAverage()

	// PostgreSQL, if a server answers: else loudly SQLite only.
	if c.Postgres == "" || c.Postgres == "off" {
		rep.PGSkipped = "turned off (-postgres off)"
	} else if srv, err := dialPostgres(ctx, c.Postgres); err != nil {
		rep.PGSkipped = fmt.Sprintf("no PostgreSQL server answered at %s: %v", hostOf(c.Postgres), err)
	} else {
		rep.PGServer = srv
	}
	if rep.PGSkipped != "" {
		if c.RequirePostgres {
			return nil, fmt.Errorf("PostgreSQL is required (CI=true): %s", rep.PGSkipped)
		}
		c.logf("\n*** NO POSTGRESQL: %s.\n*** The report has SQLite only. Start a server "+
			"(pg_ctlcluster --skip-systemctl-redirect 15 main start) or pass -postgres URL.\n", rep.PGSkipped)
	}

	bin := c.ServerBin
	if bin == "" {
		c.logf("building smsbot")
		var err error
		if bin, err = buildServer(ctx, c.Work); err != nil {
			return nil, err
		}
	}

	// Every address up front, all different (Auth0's stand-in must know
	// each target's callback URL): the baseline, SQLite's smsbot, each
	// PostgreSQL target's instances, and with a profile, the pprof
	// address of each target's first instance.
	var pgInstances []int
	if rep.PGServer != nil {
		pgInstances = c.PGInstances
	}
	n := 3 // the bare handler, SQLite's smsbot, the minimal durable bot
	if rep.PGServer != nil {
		n++ // its PostgreSQL twin
	}
	for _, k := range pgInstances {
		n += k
	}
	if c.CPUProfile != "" {
		n += 1 + len(pgInstances)
	}
	free, err := freeAddrs(n)
	if err != nil {
		return nil, err
	}
	take := func(k int) []string {
		a := free[:k:k]
		free = free[k:]
		return a
	}
	pprof := func() string {
		if c.CPUProfile == "" {
			return ""
		}
		return take(1)[0]
	}
	baseAddr := take(1)[0]
	durableAddrs := take(1)
	if rep.PGServer != nil {
		durableAddrs = append(durableAddrs, take(1)[0])
	}
	addr := take(1)[0]
	public := "http://" + addr
	publics := []string{public}
	sqlitePprof := pprof()
	var pgAddrs [][]string
	var pgPprof []string
	for _, k := range pgInstances {
		addrs := take(k)
		pgAddrs = append(pgAddrs, addrs)
		pgPprof = append(pgPprof, pprof())
		publics = append(publics, "http://"+addrs[0])
	}
	si, err := startStandIns(c.Work, publics)
	if err != nil {
		return nil, err
	}
	defer si.close()

	base, err := start(ctx, c.Helper("baseline", baseAddr), "http://"+baseAddr, filepath.Join(c.Work, "baseline.log"))
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer base.stop()

	maxConns := max(c.ScaleConcurrency, 256) // the open loop has 256 workers
	for _, n := range c.Concurrency {
		maxConns = max(maxConns, n)
	}
	bt := newTarget("baseline", []string{base.base}, base.base, maxConns)
	newWorker := func(i int) *worker {
		return &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))), web: si.auth0.Client()}
	}

	for k, n := range c.Sizes {
		dbPath := filepath.Join(c.Work, fmt.Sprintf("smsbot-%d.db", n))
		c.logf("preloading %d phones", n)
		size, took, err := preload(ctx, dbPath, n)
		if err != nil {
			return nil, fmt.Errorf("preload %d: %w", n, err)
		}
		sc := Scale{Phones: n, LoadTime: took, DBBytes: size}
		pp := ""
		if k == 0 {
			pp = sqlitePprof
		}
		sqlite, err := startFleet(ctx, "smsbot", bin, []string{addr}, pp, maxConns,
			filepath.Join(c.Work, fmt.Sprintf("smsbot-%d", n)),
			func(a, pprof string) []string { return smsbotEnv(a, public, dbPath, c.Synchronous, pprof, si) })
		if err != nil {
			return nil, err
		}
		st := sqlite.target
		steadyOp := steady(st, n)

		if k == 0 {
			var pgs []*pgTarget
			if rep.PGServer != nil {
				pgs, err = startPostgres(ctx, c, rep.PGServer, bin, n, pgAddrs, pgPprof, maxConns, si)
				defer func() {
					for _, t := range pgs {
						t.stop(ctx, c)
					}
				}()
				if err != nil {
					sqlite.stop()
					return nil, err
				}
			}
			durables, err := startDurables(ctx, c, rep.PGServer, durableAddrs, maxConns)
			defer func() {
				for _, d := range durables {
					d.stop(ctx, c)
				}
			}()
			if err != nil {
				sqlite.stop()
				return nil, err
			}
			// At each concurrency: smsbot on SQLite and the minimal
			// durable bot on SQLite one after the other, then each
			// PostgreSQL target and the bot's PostgreSQL twin, then the
			// bare handler.
			for _, conc := range c.Concurrency {
				p := Point{Concurrency: conc}
				profile := conc == c.ScaleConcurrency
				p.Smsbot, p.SmsbotCPU = measure(ctx, c, sqlite, profile, c.CPUProfile, conc, newWorker, steadyOp)
				for _, d := range durables[:1] {
					p.Durable, p.DurableCPU = measure(ctx, c, d.fleet, false, "", conc, newWorker, steady(d.fleet.target, n))
				}
				for _, t := range pgs {
					s, cpu := measure(ctx, c, t.fleet, profile, pgProfile(c.CPUProfile, t.run.Instances), conc, newWorker, steady(t.fleet.target, n))
					p.Postgres = append(p.Postgres, s)
					p.PostgresCPU = append(p.PostgresCPU, cpu)
					c.logf("steady c=%d: %s %.0f/s p99 %v, %d errors", conc, t.run.Name(), s.Rate(), s.P99, s.Errors)
				}
				for _, d := range durables[1:] {
					p.DurablePG, p.DurablePGCPU = measure(ctx, c, d.fleet, false, "", conc, newWorker, steady(d.fleet.target, n))
					c.logf("steady c=%d: %s %.0f/s p99 %v, %d errors", conc, durablePGName, p.DurablePG.Rate(), p.DurablePG.P99, p.DurablePG.Errors)
				}
				p.Baseline = closedLoop(ctx, conc, c.Warmup, c.Duration, newWorker, steady(bt, n))
				rate, p99 := Ratios(p.Smsbot, p.Durable)
				c.logf("steady c=%d: smsbot %.0f/s p99 %v, minimal durable bot %.0f/s p99 %v, baseline %.0f/s p99 %v; smsbot %.2f x durable (p99 %.2f x), %.2f x baseline",
					conc, p.Smsbot.Rate(), p.Smsbot.P99, p.Durable.Rate(), p.Durable.P99, p.Baseline.Rate(), p.Baseline.P99, rate, p99, p.Ratio())
				rep.Sweep = append(rep.Sweep, p)
				if profile {
					sc.Steady = p.Smsbot
				}
			}
			for _, d := range durables {
				if err := d.stop(ctx, c); err != nil {
					sqlite.stop()
					return nil, err
				}
				rep.Durable = append(rep.Durable, d.run)
			}
			var best float64
			for _, p := range rep.Sweep {
				best = max(best, p.Smsbot.Rate())
			}
			rep.HalfRate = best / 2
			if rep.HalfRate > 0 {
				rep.AtHalf = openLoop(ctx, rep.HalfRate, 256, c.Warmup, c.Duration, newWorker, steadyOp)
				c.logf("open loop at %.0f/s: p50 %v p99 %v", rep.HalfRate, rep.AtHalf.P50, rep.AtHalf.P99)
			}
			rep.Flows = runFlows(ctx, c, newWorker, st)
			for _, t := range pgs {
				t.run.Flows = runFlows(ctx, c, newWorker, t.fleet.target)
			}
			rep.Mix = runMix(ctx, c, newWorker, steadyOp, subscribe(st))
			c.logf("mix c=%d: texts %.0f/s p99 %v, flows %.1f/s p99 %v", rep.Mix.Concurrency,
				rep.Mix.Texts.Rate(), rep.Mix.Texts.P99, rep.Mix.Flows.Rate(), rep.Mix.Flows.P99)
			for _, t := range pgs {
				pt := t.fleet.target
				t.run.Mix = runMix(ctx, c, newWorker, steady(pt, n), subscribe(pt))
				c.logf("mix c=%d on %s: texts %.0f/s p99 %v, flows %.1f/s p99 %v", t.run.Mix.Concurrency, t.run.Name(),
					t.run.Mix.Texts.Rate(), t.run.Mix.Texts.P99, t.run.Mix.Flows.Rate(), t.run.Mix.Flows.P99)
			}
			for _, t := range pgs {
				if err := t.stop(ctx, c); err != nil {
					sqlite.stop()
					return nil, err
				}
				rep.PG = append(rep.PG, t.run)
			}
		}
		if sc.Steady.Ops == 0 {
			sc.Steady = closedLoop(ctx, c.ScaleConcurrency, c.Warmup, c.Duration, newWorker, steadyOp)
		}
		c.logf("size %d: %.0f/s p99 %v", n, sc.Steady.Rate(), sc.Steady.P99)
		sc.PeakRSS, err = sqlite.procs[0].peakRSS()
		if err != nil {
			sqlite.stop()
			return nil, err
		}
		if err := sqlite.stop(); err != nil {
			sc.ServerError = err.Error()
		}
		sc.Acked = st.acked.Load()
		if sc.OnDisk, err = countInbound(dbPath); err != nil {
			return nil, err
		}
		rep.Scales = append(rep.Scales, sc)
		os.Remove(dbPath)
		os.Remove(dbPath + "-wal")
		os.Remove(dbPath + "-shm")
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	rep.Took = time.Since(began)
	rep.Load[1] = loadAverage()
	return rep, nil
}

// startPostgres starts each PostgreSQL target on a fresh schema preloaded
// with n phones, with as many instances as it has addresses. On an error
// it returns the targets started so far, to be stopped.
func startPostgres(ctx context.Context, c Config, srv *pgServer, bin string, n int, addrs [][]string, pprof []string, conns int, si *standIns) ([]*pgTarget, error) {
	var pgs []*pgTarget
	for i, inst := range c.PGInstances {
		t := &pgTarget{run: PGRun{Instances: inst}}
		var err error
		if t.schema, err = srv.newSchema(ctx, fmt.Sprintf("smsbot-bench-pg%d", inst)); err != nil {
			return pgs, err
		}
		pgs = append(pgs, t)
		c.logf("preloading %d phones into PostgreSQL schema %s", n, t.schema.name)
		if t.run.Preload, err = t.schema.preload(ctx, n); err != nil {
			return pgs, fmt.Errorf("preload PostgreSQL: %w", err)
		}
		public := "http://" + addrs[i][0]
		t.fleet, err = startFleet(ctx, t.run.Name(), bin, addrs[i], pprof[i], conns,
			filepath.Join(c.Work, fmt.Sprintf("smsbot-pg%d", inst)),
			func(a, pprof string) []string { return smsbotEnv(a, public, t.schema.url, "", pprof, si) })
		if err != nil {
			return pgs, err
		}
		t.fleet.meter.db = t.schema.backends
	}
	return pgs, nil
}

// stop stops the target's instances, counts the MessageSids they stored
// and drops its schema. It does so once.
func (t *pgTarget) stop(ctx context.Context, c Config) error {
	if t.schema == nil {
		return nil
	}
	var err error
	if t.fleet != nil {
		if serr := t.fleet.stop(); serr != nil {
			t.run.ServerError = serr.Error()
		}
		t.run.Acked = t.fleet.target.acked.Load()
		t.run.OnDisk, err = t.schema.countInbound(context.WithoutCancel(ctx))
	}
	if derr := t.schema.drop(ctx); derr != nil {
		c.logf("drop schema %s: %v", t.schema.name, derr)
	}
	t.schema = nil
	return err
}

// durableTarget is a minimal durable bot while it runs.
type durableTarget struct {
	run    DurableRun
	dsn    string    // its database: a SQLite file or a PostgreSQL URL
	schema *pgSchema // PostgreSQL only
	fleet  *fleet
}

// startDurables starts the minimal durable bot on SQLite at addrs[0] and,
// with a second address, its PostgreSQL twin on a fresh schema of srv.
// On an error it returns those started so far, to be stopped.
func startDurables(ctx context.Context, c Config, srv *pgServer, addrs []string, conns int) ([]*durableTarget, error) {
	var ds []*durableTarget
	for i, addr := range addrs {
		d := &durableTarget{run: DurableRun{Postgres: i > 0}}
		if d.run.Postgres {
			sc, err := srv.newSchema(ctx, "smsbot-bench-durable")
			if err != nil {
				return ds, err
			}
			d.schema, d.dsn = sc, sc.url
		} else {
			d.dsn = filepath.Join(c.Work, "durable.db")
		}
		ds = append(ds, d)
		base := "http://" + addr
		p, err := start(ctx, c.Helper("durable", addr, d.dsn), base, filepath.Join(c.Work, fmt.Sprintf("durable-%d.log", i)))
		if err != nil {
			return ds, fmt.Errorf("%s: %w", d.run.Name(), err)
		}
		d.fleet = &fleet{procs: []*process{p}, target: newTarget(d.run.Name(), []string{base}, base, conns)}
		d.fleet.meter.smsbot = []int{p.cmd.Process.Pid}
		if d.schema != nil {
			d.fleet.meter.db = d.schema.backends
		}
	}
	return ds, nil
}

// stop stops the bot, counts the MessageSids it stored and drops its
// schema. It does so once.
func (d *durableTarget) stop(ctx context.Context, c Config) error {
	var err error
	if d.fleet != nil {
		if serr := d.fleet.stop(); serr != nil {
			d.run.ServerError = serr.Error()
		}
		d.run.Acked = d.fleet.target.acked.Load()
		d.run.OnDisk, err = countDurable(context.WithoutCancel(ctx), d.dsn)
		d.fleet = nil
	}
	if d.schema != nil {
		if derr := d.schema.drop(ctx); derr != nil {
			c.logf("drop schema %s: %v", d.schema.name, derr)
		}
		d.schema = nil
	}
	return err
}

// countDurable counts the MessageSids in a minimal durable bot's table.
func countDurable(ctx context.Context, dsn string) (int64, error) {
	st, err := openDurable(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer st.close()
	return st.count(ctx)
}

// measure runs the steady sweep's closed loop at one concurrency against
// a target and takes the CPU shares of its measured part; with profile
// and a profile path, also the first instance's CPU profile.
func measure(ctx context.Context, c Config, f *fleet, profile bool, path string, conc int, newWorker func(int) *worker, o op) (stats, CPUShare) {
	var prof chan error
	if profile && f.pprof != "" && path != "" {
		prof = make(chan error, 1)
		go func() { prof <- saveProfile(ctx, f.pprof, c.Warmup, c.Duration, path) }()
	}
	cpu := measureCPU(ctx, f.meter, c.Warmup, c.Duration)
	s := closedLoop(ctx, conc, c.Warmup, c.Duration, newWorker, o)
	r := <-cpu
	if r.err != nil {
		c.logf("cpu of %s: %v", f.target.name, r.err)
	}
	r.share.Ops = s.Ops
	if prof != nil {
		if err := <-prof; err != nil {
			c.logf("cpu profile of %s: %v", f.target.name, err)
		}
	}
	return s, r.share
}

// pgProfile is the CPU profile's file name for the PostgreSQL target of
// n instances: cpu-postgres3.pprof beside cpu.pprof.
func pgProfile(path string, n int) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-postgres%d%s", strings.TrimSuffix(path, ext), n, ext)
}

// hostOf is a server URL's host, without the credentials it may hold.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return "(a malformed URL)"
}

// runFlows runs the subscription flows alone.
func runFlows(ctx context.Context, c Config, newWorker func(int) *worker, t *target) Mixed {
	m := Mixed{Name: "subscription flows", Concurrency: c.FlowConcurrency}
	m.Flows = closedLoop(ctx, c.FlowConcurrency, c.Warmup, c.Duration, newWorker, subscribe(t))
	c.logf("flows c=%d on %s: %.1f/s p99 %v errors %d", c.FlowConcurrency, t.name, m.Flows.Rate(), m.Flows.P99, m.Flows.Errors)
	return m
}

// runMix runs steady texts on seven workers of eight and subscription
// flows on the rest, at once.
func runMix(ctx context.Context, c Config, newWorker func(int) *worker, text, flow op) Mixed {
	m := Mixed{Name: "mix", Concurrency: c.ScaleConcurrency}
	flowN := max(1, c.ScaleConcurrency/8)
	done := make(chan stats, 1)
	go func() { done <- closedLoop(ctx, flowN, c.Warmup, c.Duration, newWorker, flow) }()
	m.Texts = closedLoop(ctx, c.ScaleConcurrency-flowN, c.Warmup, c.Duration, newWorker, text)
	m.Flows = <-done
	return m
}

// saveProfile fetches a CPU profile of the measured part of a run.
func saveProfile(ctx context.Context, addr string, warmup, d time.Duration, path string) error {
	if err := sleepCtx(ctx, warmup); err != nil {
		return err
	}
	secs := max(1, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: status %d", res.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadAverage is the machine's 1-minute load average, "?" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	return m
}
