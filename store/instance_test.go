package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/smsbot/smsbot/store"
)

func TestDB_Instance(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "i.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Instance(ctx); got != "" || err != nil {
		t.Fatalf("before any start: %q %v", got, err)
	}
	for _, nonce := range []string{"first", "second"} {
		if err := db.SetInstance(ctx, nonce); err != nil {
			t.Fatal(err)
		}
		if got, err := db.Instance(ctx); got != nonce || err != nil {
			t.Fatalf("Instance = %q %v, want %q", got, err, nonce)
		}
	}
}
