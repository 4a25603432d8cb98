package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
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

	// Baseline returns the command that serves the baseline on addr, as its
	// own process.
	Baseline func(addr string) *exec.Cmd
	// ServerBin is the smsbot binary; empty builds it into Work.
	ServerBin  string
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
		Smoke:            true,
	}
}

// Point is a steady run of both servers at one concurrency.
type Point struct {
	Concurrency int
	Smsbot      stats
	Baseline    stats
}

// Ratio is smsbot's throughput over the baseline's.
func (p Point) Ratio() float64 {
	if p.Baseline.Rate() == 0 {
		return 0
	}
	return p.Smsbot.Rate() / p.Baseline.Rate()
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
	Sweep    []Point
	HalfRate float64
	AtHalf   stats
	Scales   []Scale
	Flows    Mixed
	Mix      Mixed
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run runs the benchmark.
func Run(ctx context.Context, c Config) (*Report, error) {
	began := time.Now()
	rep := &Report{Config: c, Machine: machine(), Date: began.UTC()}
	bin := c.ServerBin
	if bin == "" {
		c.logf("building smsbot")
		var err error
		if bin, err = buildServer(ctx, c.Work); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	public := "http://" + addr
	si, err := startStandIns(c.Work, public)
	if err != nil {
		return nil, err
	}
	defer si.close()

	baseAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	base, err := start(ctx, c.Baseline(baseAddr), "http://"+baseAddr, filepath.Join(c.Work, "baseline.log"))
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer base.stop()

	maxConns := max(c.ScaleConcurrency, 256) // the open loop has 256 workers
	for _, n := range c.Concurrency {
		maxConns = max(maxConns, n)
	}
	bt := newTarget("baseline", base.base, base.base, maxConns)
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
		pprofAddr := ""
		if k == 0 && c.CPUProfile != "" {
			if pprofAddr, err = freeAddr(); err != nil {
				return nil, err
			}
		}
		cmd := exec.Command(bin, "serve")
		cmd.Env = smsbotEnv(addr, public, dbPath, c.Synchronous, pprofAddr, si)
		srv, err := start(ctx, cmd, public, filepath.Join(c.Work, fmt.Sprintf("smsbot-%d.log", n)))
		if err != nil {
			return nil, fmt.Errorf("smsbot: %w", err)
		}
		st := newTarget("smsbot", srv.base, public, maxConns)
		steadyOp := steady(st, n)

		if k == 0 {
			for _, conc := range c.Concurrency {
				var p Point
				p.Concurrency = conc
				var prof chan error
				if pprofAddr != "" && conc == c.ScaleConcurrency {
					prof = make(chan error, 1)
					go func() { prof <- saveProfile(ctx, pprofAddr, c.Warmup, c.Duration, c.CPUProfile) }()
				}
				p.Smsbot = closedLoop(ctx, conc, c.Warmup, c.Duration, newWorker, steadyOp)
				if prof != nil {
					if err := <-prof; err != nil {
						c.logf("cpu profile: %v", err)
					}
				}
				p.Baseline = closedLoop(ctx, conc, c.Warmup, c.Duration, newWorker, steady(bt, n))
				c.logf("steady c=%d: smsbot %.0f/s p99 %v, baseline %.0f/s p99 %v, ratio %.2f",
					conc, p.Smsbot.Rate(), p.Smsbot.P99, p.Baseline.Rate(), p.Baseline.P99, p.Ratio())
				rep.Sweep = append(rep.Sweep, p)
				if conc == c.ScaleConcurrency {
					sc.Steady = p.Smsbot
				}
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
			rep.Flows = Mixed{Name: "subscription flows", Concurrency: c.FlowConcurrency}
			rep.Flows.Flows = closedLoop(ctx, c.FlowConcurrency, c.Warmup, c.Duration, newWorker, subscribe(st))
			c.logf("flows c=%d: %.1f/s p99 %v errors %d", c.FlowConcurrency, rep.Flows.Flows.Rate(), rep.Flows.Flows.P99, rep.Flows.Flows.Errors)
			rep.Mix = runMix(ctx, c, newWorker, steadyOp, subscribe(st))
			c.logf("mix c=%d: texts %.0f/s p99 %v, flows %.1f/s p99 %v", rep.Mix.Concurrency,
				rep.Mix.Texts.Rate(), rep.Mix.Texts.P99, rep.Mix.Flows.Rate(), rep.Mix.Flows.P99)
		}
		if sc.Steady.Ops == 0 {
			sc.Steady = closedLoop(ctx, c.ScaleConcurrency, c.Warmup, c.Duration, newWorker, steadyOp)
		}
		c.logf("size %d: %.0f/s p99 %v", n, sc.Steady.Rate(), sc.Steady.P99)
		sc.PeakRSS, err = srv.peakRSS()
		if err != nil {
			return nil, err
		}
		if err := srv.stop(); err != nil {
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
	return rep, nil
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
