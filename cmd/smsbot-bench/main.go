// Command smsbot-bench measures smsbot on one machine: it builds the real
// server, starts it on loopback against the local stand-ins of Twilio and
// Auth0, drives it with signed Twilio webhooks from many phones, drives
// two baselines with the same load in the same run (a bare handler, and
// the minimal durable bot on SQLite and on PostgreSQL), and writes a
// Markdown report and an SVG chart.
//
// Usage:
//
//	smsbot-bench [flags]             run the benchmark and write the report
//	smsbot-bench baseline ADDR       serve the bare handler (the benchmark starts it)
//	smsbot-bench durable ADDR DB     serve the minimal durable bot, storing into DB:
//	                                 a SQLite file or a postgres:// URL (likewise)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "smsbot-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "baseline" {
		if len(args) != 2 {
			return errors.New("usage: smsbot-bench baseline ADDR")
		}
		return serveBaseline(ctx, args[1])
	}
	if len(args) > 0 && args[0] == "durable" {
		if len(args) != 3 {
			return errors.New("usage: smsbot-bench durable ADDR DB (a SQLite file or a postgres:// URL)")
		}
		return serveDurable(ctx, args[1], args[2])
	}
	fs := flag.NewFlagSet("smsbot-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := DefaultConfig()
	smoke := fs.Bool("smoke", false, "a run of a few seconds that only checks the harness works")
	sizes := fs.String("sizes", joinInts(c.Sizes), "preloaded subscribed phones, one server run each")
	conc := fs.String("concurrency", joinInts(c.Concurrency), "concurrency levels of the steady sweep")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "measured time of each run")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured time before each run")
	fs.IntVar(&c.ScaleConcurrency, "scale-concurrency", c.ScaleConcurrency, "concurrency of the runs at each size")
	fs.StringVar(&c.Out, "out", c.Out, "directory of benchmarks.md and benchmarks.svg")
	fs.StringVar(&c.Work, "work", "", "working directory for binaries and databases (default: a temporary one, removed)")
	fs.StringVar(&c.Synchronous, "synchronous", c.Synchronous, "SMSBOT_SYNCHRONOUS of the server")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "save a CPU profile of smsbot during the steady run at the scale concurrency to this file (and of the PostgreSQL targets to FILE-postgresN.EXT)")
	fs.StringVar(&c.Postgres, "postgres", c.Postgres, "PostgreSQL server of the PostgreSQL targets (a schema of their own, dropped at the end), or off (default SMSBOT_TEST_POSTGRES or the local test server)")
	fs.StringVar(&c.ServerBin, "server", "", "the smsbot binary to measure (default: go build of this tree), to hold two builds against each other")
	pgInst := fs.String("pg-instances", joinInts(c.PGInstances), "the PostgreSQL targets: smsbot instances on one database, each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *smoke {
		pg := c.Postgres
		c = SmokeConfig(c.Out)
		c.Postgres = pg
	} else {
		var err error
		if c.Sizes, err = parseInts(*sizes); err != nil {
			return fmt.Errorf("-sizes: %w", err)
		}
		if c.Concurrency, err = parseInts(*conc); err != nil {
			return fmt.Errorf("-concurrency: %w", err)
		}
		if c.PGInstances, err = parseInts(*pgInst); err != nil {
			return fmt.Errorf("-pg-instances: %w", err)
		}
	}
	c.RequirePostgres = os.Getenv("CI") == "true" && c.Postgres != "off"
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c.Helper = func(args ...string) *exec.Cmd { return exec.Command(self, args...) }
	c.Log = stderr
	if c.Work == "" {
		dir, err := os.MkdirTemp("", "smsbot-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.Work = dir
	}
	rep, err := Run(ctx, c)
	if err != nil {
		return err
	}
	if err := rep.Write(c.Out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(c.Out, reportName), filepath.Join(c.Out, chartName))
	fmt.Fprint(stdout, rep.Summary())
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
