package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReport_Write_KeepsNotes writes a report over one with hand-written
// notes: the notes survive, once, and a report with no earlier file gets
// the markers and a placeholder.
func TestReport_Write_KeepsNotes(t *testing.T) {
	dir := t.TempDir()
	rep := &Report{Config: SmokeConfig(dir), PGSkipped: "turned off"}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, reportName)
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), notesBegin+"\n\n(No notes yet") {
		t.Fatalf("a first report has no placeholder between the markers:\n%s", md)
	}
	notes := "PostgreSQL spends its time in *round trips*.\n\nA second paragraph."
	edited := strings.Replace(string(md), "(No notes yet: write them between these markers; `make bench` keeps them.)", notes, 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := (&Report{Config: SmokeConfig(dir)}).Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	md, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(md), notes) != 1 || strings.Contains(string(md), "No notes yet") {
		t.Fatalf("the notes did not survive two runs, once:\n%s", md)
	}
	if got := keptNotes(string(md)); got != notes {
		t.Fatalf("kept %q, want %q", got, notes)
	}
}
