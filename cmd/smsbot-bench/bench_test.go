package main

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary serve the baseline, as smsbot-bench
// baseline does, when the smoke run starts it as a child process.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SMSBOT_BENCH_BASELINE"); addr != "" {
		if err := serveBaseline(context.Background(), addr); err != nil {
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
	c.Baseline = func(addr string) *exec.Cmd {
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "SMSBOT_BENCH_BASELINE="+addr)
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
			if u := p.PostgresCPU[i]; u.Ops != s.Ops || u.Smsbot <= 0 || u.Database <= 0 {
				t.Errorf("c=%d %s's CPU: %+v", p.Concurrency, rep.PG[i].Name(), u)
			}
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
	want := []string{"## Targets", "/ baseline", "database bytes per phone", "peak RSS", "cores", chartName, notesBegin, notesEnd}
	for _, pg := range rep.PG {
		want = append(want, "| 8 | "+pg.Name()+" |", "| "+pg.Name()+" | mix |", "| "+pg.Name()+" | flows |")
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
		t.Errorf("the CPU table has %d rows, want %d:\n%s", n, 1+len(rep.PG), cpu)
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
	if want := 2 * (2 + len(rep.PG)); len(doc.Polyline) != want {
		t.Fatalf("chart has %d lines, want %d", len(doc.Polyline), want)
	}
	for _, l := range doc.Polyline {
		if strings.Contains(l.Points, "NaN") || strings.Contains(l.Points, "Inf") {
			t.Fatalf("chart line %q", l.Points)
		}
	}
}
