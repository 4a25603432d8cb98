package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersion_Stamped: a binary built without VCS stamping, the way make
// build stamps it, prints the version it was given.
func TestVersion_Stamped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "-X main.buildVersion=$(VERSION)") {
		t.Fatal("the Makefile does not stamp main.buildVersion")
	}
	bin := filepath.Join(t.TempDir(), "smsbot")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gobin, "build", "-buildvcs=false", "-ldflags", "-X main.buildVersion=v1.2.3-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "smsbot v1.2.3-test" {
		t.Errorf("version %q, want smsbot v1.2.3-test", got)
	}
}
