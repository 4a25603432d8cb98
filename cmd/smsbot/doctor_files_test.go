package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctor_FileModes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "bot.db")
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want string
	}{
		{"private", 0o600, "OK    file modes"},
		{"world-readable", 0o644, "WARN  file modes        " + db + " 0644 readable by other users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{db, db + ".key"} {
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(db, tc.mode); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			d := &doctor{cfg: &config{DB: db}, out: &out}
			d.checkFileModes()
			if !strings.HasPrefix(out.String(), tc.want) {
				t.Fatalf("doctor said %q, want %q", out.String(), tc.want)
			}
		})
	}
}
