package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/store"
)

// modeDB makes a database as earlier starts left it: marked with mode
// (none when ""), served before when served is set.
func modeDB(t *testing.T, mode string, served bool) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mode.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if mode != "" {
		if err := db.SetMode(ctx, mode); err != nil {
			t.Fatal(err)
		}
	}
	if served {
		if err := db.SetInstance(ctx, "an-earlier-start"); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func markedMode(t *testing.T, path string) string {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := db.Mode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestServe_Mode: serve marks its database with its mode at the first
// start; --dev refuses a database production has used (or may have:
// served before modes were recorded), and production refuses one dev mode
// made. A refused start leaves the mark as it was.
func TestServe_Mode(t *testing.T) {
	prod := newE2E(t, nil).env
	dev := map[string]string{}
	refuse := func(t *testing.T, args []string, env map[string]string, path, want string) {
		t.Helper()
		before := markedMode(t, path)
		// A start that is not refused serves until the bound ends.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		env = with(env, "SMSBOT_DB", path, "SMSBOT_ADDR", "127.0.0.1:0")
		var errOut bytes.Buffer
		code := exitCode(run(ctx, args, func(k string) string { return env[k] }, io.Discard, &errOut), &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), want) {
			t.Errorf("%v on %q: exit %d, %s", args, before, code, errOut.String())
		}
		if after := markedMode(t, path); after != before {
			t.Errorf("a refused start changed the mark from %q to %q", before, after)
		}
	}
	t.Run("DevOnProduction", func(t *testing.T) {
		refuse(t, []string{"serve", "--dev"}, dev, modeDB(t, store.ModeProduction, true), "is production's: serve --dev refuses it")
	})
	t.Run("DevOnUnmarkedServed", func(t *testing.T) {
		refuse(t, []string{"serve", "--dev"}, dev, modeDB(t, "", true), "may be production's")
	})
	t.Run("ProductionOnDev", func(t *testing.T) {
		refuse(t, []string{"serve"}, prod, modeDB(t, store.ModeDev, true), "was made by serve --dev")
	})
	t.Run("FirstStartMarks", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			env  map[string]string
			path string
			want string
		}{
			{[]string{"serve", "--dev"}, dev, modeDB(t, "", false), store.ModeDev},
			{[]string{"serve"}, prod, modeDB(t, "", true), store.ModeProduction},
		} {
			addr, listenSetting := listenFD(t)
			env := with(tc.env, "SMSBOT_DB", tc.path, "SMSBOT_ADDR", listenSetting, "SMSBOT_PUBLIC_URL", "http://"+addr)
			runProgram(t, tc.args, env, "http://"+addr, &syncBuffer{})
			if m := markedMode(t, tc.path); m != tc.want {
				t.Errorf("%v: marked %q, want %q", tc.args, m, tc.want)
			}
		}
	})
}
