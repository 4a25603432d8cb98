package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// checkFileModes warns when the database (with its -wal and -shm) or the
// server key file can be read by other users: they hold phone numbers,
// emails and the key. A warning, not a failure: the operator may have a
// group that must read them.
func (d *doctor) checkFileModes() {
	const check = "file modes"
	var paths []string
	if !isPostgres(d.cfg.DB) { // PostgreSQL keeps its own files
		paths = []string{d.cfg.DB, d.cfg.DB + "-wal", d.cfg.DB + "-shm"}
	}
	if d.cfg.Secret == "" && (d.cfg.KeyFile != "" || !isPostgres(d.cfg.DB)) {
		paths = append(paths, keyFile(d.cfg))
	}
	open, err := openToOthers(paths)
	switch {
	case err != nil:
		d.report(finding{Status: checkWarn, Check: check, Detail: err.Error()})
	case len(open) > 0:
		d.report(finding{Status: checkWarn, Check: check, Detail: strings.Join(open, ", ") + " readable by other users",
			Fix: "chmod 600 " + strings.Join(paths, " ")})
	default:
		d.ok(check, "the database and key files are private (0600)")
	}
}

// openToOthers lists, as "path mode", the existing files among paths
// whose mode lets group or others in.
func openToOthers(paths []string) ([]string, error) {
	var open []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("file modes: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s %#o", p, fi.Mode().Perm()))
		}
	}
	return open, nil
}
