package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary serve the baselines, as smsbot-bench
// baseline and smsbot-bench durable do, when the smoke run starts it as a
// child process: SMSBOT_BENCH_HELPER holds the arguments, one a line.
func TestMain(m *testing.M) {
	if args := os.Getenv("SMSBOT_BENCH_HELPER"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Split(args, "\n"), os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "smsbot-bench %s: %v\n", strings.ReplaceAll(args, "\n", " "), err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun_Smoke runs the whole harness for a few seconds: it builds and
// starts the real server and the baseline, and PostgreSQL targets of 1
// and 3 instances on the test server, drives every workload, and writes
// the report. It checks the output is sane, never how fast. Without a
// PostgreSQL server it runs SQLite only and says so, except under CI
// (CI=true), where that fails.
func TestRun_Smoke(t *testing.T) {
	out := t.TempDir()
	c := SmokeConfig(out)
	c.Work = t.TempDir()
	c.RequirePostgres = os.Getenv("CI") == "true"
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c.Helper = func(args ...string) *exec.Cmd {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "SMSBOT_BENCH_HELPER="+strings.Join(args, "\n"))
		return cmd
	}
	rep, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sweep) != len(c.Concurrency) || len(rep.Scales) != len(c.Sizes) {
		t.Fatalf("%d sweep points, %d sizes", len(rep.Sweep), len(rep.Scales))
	}
	if rep.PGSkipped != "" {
		t.Log("*** NO POSTGRESQL: the smoke run measured SQLite only: " + rep.PGSkipped)
	} else if len(rep.PG) != len(c.PGInstances) {
		t.Fatalf("%d PostgreSQL targets, want %d", len(rep.PG), len(c.PGInstances))
	}
	for _, p := range rep.Sweep {
		if p.Smsbot.Ops == 0 || p.Baseline.Ops == 0 || p.Smsbot.Errors+p.Baseline.Errors > 0 {
			t.Errorf("c=%d: smsbot %d ok %d errors (%s), baseline %d ok %d errors (%s)", p.Concurrency,
				p.Smsbot.Ops, p.Smsbot.Errors, p.Smsbot.FirstErr, p.Baseline.Ops, p.Baseline.Errors, p.Baseline.FirstErr)
		}
		if p.Smsbot.P50 <= 0 || p.Smsbot.P99 < p.Smsbot.P50 {
			t.Errorf("c=%d: p50 %v p99 %v", p.Concurrency, p.Smsbot.P50, p.Smsbot.P99)
		}
		// The minimal durable bot on SQLite ran at every concurrency,
		// and its twin on PostgreSQL whenever PostgreSQL did.
		durables := []stats{p.Durable}
		if rep.PGSkipped == "" {
			durables = append(durables, p.DurablePG)
		} else if p.DurablePG.Ops+p.DurablePG.Errors != 0 {
			t.Errorf("c=%d: a minimal durable bot on PostgreSQL without PostgreSQL: %+v", p.Concurrency, p.DurablePG)
		}
		for i, d := range durables {
			if d.Ops == 0 || d.Errors > 0 || d.P50 <= 0 || d.P99 < d.P50 {
				t.Errorf("c=%d: minimal durable bot %d: %d ok, %d errors (%s), p50 %v p99 %v", p.Concurrency, i, d.Ops, d.Errors, d.FirstErr, d.P50, d.P99)
			}
		}
		if u := p.DurableCPU; u.Ops != p.Durable.Ops || u.Smsbot <= 0 || u.Database != 0 {
			t.Errorf("c=%d: the minimal durable bot's CPU: %+v", p.Concurrency, u)
		}
		if u := p.DurablePGCPU; rep.PGSkipped == "" && (u.Ops != p.DurablePG.Ops || u.Smsbot <= 0 || !dbCPUSeen(u)) {
			t.Errorf("c=%d: the minimal durable bot's CPU on PostgreSQL: %+v", p.Concurrency, u)
		}
		if u := p.SmsbotCPU; u.Ops != p.Smsbot.Ops || u.Smsbot <= 0 || u.Database != 0 || u.Machine < u.Smsbot {
			t.Errorf("c=%d: SQLite's CPU: %+v", p.Concurrency, u)
		}
		if len(p.Postgres) != len(rep.PG) || len(p.PostgresCPU) != len(rep.PG) {
			t.Fatalf("c=%d: %d PostgreSQL runs, %d CPU shares, want %d", p.Concurrency, len(p.Postgres), len(p.PostgresCPU), len(rep.PG))
		}
		for i, s := range p.Postgres {
			if s.Ops == 0 || s.Errors > 0 || s.P50 <= 0 || s.P99 < s.P50 {
				t.Errorf("c=%d %s: %d ok, %d errors (%s), p50 %v p99 %v", p.Concurrency, rep.PG[i].Name(), s.Ops, s.Errors, s.FirstErr, s.P50, s.P99)
			}
			if u := p.PostgresCPU[i]; u.Ops != s.Ops || u.Smsbot <= 0 || !dbCPUSeen(u) {
				t.Errorf("c=%d %s's CPU: %+v", p.Concurrency, rep.PG[i].Name(), u)
			}
		}
	}
	wantDurable := 1
	if rep.PGSkipped == "" {
		wantDurable = 2
	}
	if len(rep.Durable) != wantDurable {
		t.Fatalf("%d minimal durable bots, want %d", len(rep.Durable), wantDurable)
	}
	for _, d := range rep.Durable {
		// Every text it answered 200 is in its table: it answers after
		// the commit. The sweep's counts add up to at most what it
		// answered (warm-up texts are answered but not counted).
		var measured int
		for _, p := range rep.Sweep {
			if d.Postgres {
				measured += p.DurablePG.Ops
			} else {
				measured += p.Durable.Ops
			}
		}
		if d.Acked < int64(measured) || d.OnDisk < d.Acked || d.ServerError != "" {
			t.Errorf("%s: %d answered (%d measured), %d in the database, %q", d.Name(), d.Acked, measured, d.OnDisk, d.ServerError)
		}
	}
	for _, pg := range rep.PG {
		if f := pg.Flows.Flows; f.Ops == 0 || f.Errors > 0 {
			t.Errorf("%s flows: %d done, %d failed: %s", pg.Name(), f.Ops, f.Errors, f.FirstErr)
		}
		if m := pg.Mix; m.Texts.Ops == 0 || m.Texts.Errors+m.Flows.Errors > 0 {
			t.Errorf("%s mix: %d texts, %d errors: %s %s", pg.Name(), m.Texts.Ops, m.Texts.Errors+m.Flows.Errors, m.Texts.FirstErr, m.Flows.FirstErr)
		}
		if pg.Acked == 0 || pg.OnDisk < pg.Acked || pg.ServerError != "" {
			t.Errorf("%s: %d answered, %d in the database, %q", pg.Name(), pg.Acked, pg.OnDisk, pg.ServerError)
		}
	}
	if f := rep.Flows.Flows; f.Ops == 0 || f.Errors > 0 {
		t.Errorf("flows: %d done, %d failed: %s", f.Ops, f.Errors, f.FirstErr)
	}
	if m := rep.Mix; m.Texts.Ops == 0 || m.Texts.Errors+m.Flows.Errors > 0 {
		t.Errorf("mix: %d texts, %d errors: %s %s", m.Texts.Ops, m.Texts.Errors+m.Flows.Errors, m.Texts.FirstErr, m.Flows.FirstErr)
	}
	for _, s := range rep.Scales {
		if s.DBBytes <= 0 || s.PeakRSS <= 0 || s.Acked == 0 || s.OnDisk < s.Acked || s.ServerError != "" {
			t.Errorf("%d phones: %d bytes, RSS %d, %d answered, %d on disk, %q", s.Phones, s.DBBytes, s.PeakRSS, s.Acked, s.OnDisk, s.ServerError)
		}
	}

	md, err := os.ReadFile(filepath.Join(out, reportName))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"## Targets", "/ bare", "/ durable", "p99 / durable", "database bytes per phone", "peak RSS", "cores", chartName, notesBegin, notesEnd,
		"| 8 | " + durableName + " |", "| 8 | " + sqliteName + " | **", "| " + sqliteName + " at concurrency 8 against the minimal durable bot |",
		"## The minimal durable bots", "| " + durableName + " | "}
	for _, pg := range rep.PG {
		want = append(want, "| 8 | "+pg.Name()+" |", "| 8 | "+pg.Name()+" | **", "| "+pg.Name()+" | mix |", "| "+pg.Name()+" | flows |",
			"| "+pg.Name()+" at concurrency 8 against the minimal durable bot |")
	}
	if rep.PGSkipped == "" {
		want = append(want, "| 8 | "+durablePGName+" |", "| "+durablePGName+" | ")
	}
	if rep.PGSkipped != "" {
		want = append(want, "**PostgreSQL: not measured.**")
	}
	for _, w := range want {
		if !strings.Contains(string(md), w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	_, cpu, _ := strings.Cut(string(md), "## Where each backend's time goes")
	cpu, _, _ = strings.Cut(cpu, notesBegin)
	if n := strings.Count(cpu, "\n| smsbot ("); n != 1+len(rep.PG) {
		t.Errorf("the CPU table has %d rows of smsbot, want %d:\n%s", n, 1+len(rep.PG), cpu)
	}
	if n := strings.Count(cpu, "\n| minimal durable bot ("); n != wantDurable {
		t.Errorf("the CPU table has %d rows of the minimal durable bot, want %d:\n%s", n, wantDurable, cpu)
	}
	svg, err := os.ReadFile(filepath.Join(out, chartName))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"svg"`
		Polyline []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("chart is not XML: %v", err)
	}
	if want := 2 * (1 + wantDurable + 1 + len(rep.PG)); len(doc.Polyline) != want {
		t.Fatalf("chart has %d lines, want %d", len(doc.Polyline), want)
	}
	for _, l := range doc.Polyline {
		if strings.Contains(l.Points, "NaN") || strings.Contains(l.Points, "Inf") {
			t.Fatalf("chart line %q", l.Points)
		}
	}
}

// dbCPUSeen reports whether u's PostgreSQL CPU is plausible: /proc counts
// in 10 ms ticks, so a smoke run of a few dozen texts at concurrency 1 may
// cost the server less than one tick; from a few hundred texts on it must
// show.
func dbCPUSeen(u CPUShare) bool {
	if u.Ops < 300 {
		return u.Database >= 0
	}
	return u.Database > 0
}
