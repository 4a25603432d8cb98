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
// starts the real server and the baseline, drives every workload, and
// writes the report. It checks the output is sane, never how fast.
func TestRun_Smoke(t *testing.T) {
	out := t.TempDir()
	c := SmokeConfig(out)
	c.Work = t.TempDir()
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
	for _, p := range rep.Sweep {
		if p.Smsbot.Ops == 0 || p.Baseline.Ops == 0 || p.Smsbot.Errors+p.Baseline.Errors > 0 {
			t.Errorf("c=%d: smsbot %d ok %d errors (%s), baseline %d ok %d errors (%s)", p.Concurrency,
				p.Smsbot.Ops, p.Smsbot.Errors, p.Smsbot.FirstErr, p.Baseline.Ops, p.Baseline.Errors, p.Baseline.FirstErr)
		}
		if p.Smsbot.P50 <= 0 || p.Smsbot.P99 < p.Smsbot.P50 {
			t.Errorf("c=%d: p50 %v p99 %v", p.Concurrency, p.Smsbot.P50, p.Smsbot.P99)
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
	for _, want := range []string{"## Targets", "smsbot / baseline", "database bytes per phone", "peak RSS", "cores", chartName} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the report lacks %q", want)
		}
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
	if len(doc.Polyline) != 4 {
		t.Fatalf("chart has %d lines, want 4", len(doc.Polyline))
	}
	for _, l := range doc.Polyline {
		if strings.Contains(l.Points, "NaN") || strings.Contains(l.Points, "Inf") {
			t.Fatalf("chart line %q", l.Points)
		}
	}
}
