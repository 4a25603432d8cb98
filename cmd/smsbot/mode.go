package main

import (
	"context"
	"fmt"

	"github.com/smsbot/smsbot/store"
)

// claimMode marks the database with the mode serve runs in the first
// time, and refuses one the other mode has used: dev mode lets anyone who
// reaches it text as any number and log in as anyone, so it must never
// serve production's data; production must never trust the fake bindings
// dev mode makes. A database served before modes were recorded is taken
// as production's: production marks it, dev mode refuses it.
func claimMode(ctx context.Context, db *store.DB, path string, dev bool) error {
	want := store.ModeProduction
	if dev {
		want = store.ModeDev
	}
	marked, err := db.Mode(ctx)
	if err != nil {
		return err
	}
	if marked == "" && dev {
		served, err := db.Instance(ctx)
		if err != nil {
			return err
		}
		if served != "" {
			return usageError{fmt.Errorf("database %s was served before smsbot recorded its mode, so it may be production's: serve --dev refuses it. If it is an old dev database, delete it (with its -wal, -shm and .key files); else set SMSBOT_DB to another file", path)}
		}
	}
	switch marked {
	case want:
		return nil
	case "":
		return db.SetMode(ctx, want)
	case store.ModeProduction:
		return usageError{fmt.Errorf("database %s is production's: serve --dev refuses it (anyone reaching dev mode can text as any number and log in as anyone). Set SMSBOT_DB to another file for dev mode", path)}
	case store.ModeDev:
		return usageError{fmt.Errorf("database %s was made by serve --dev: its bindings come from the dev stand-ins, not from real phones and Auth0 accounts, so production refuses it. Give production a database of its own (SMSBOT_DB)", path)}
	default:
		return fmt.Errorf("database %s is marked with an unknown mode %q", path, marked)
	}
}
