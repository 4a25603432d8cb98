package store_test

import (
	"errors"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"

	"github.com/smsbot/smsbot/store/storetest"
)

// TestContract runs the stores' contract suite against SQLite.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.DB { return open(t, "") },
		OpenShared: func(t *testing.T) (storetest.DB, storetest.DB) {
			path := filepath.Join(t.TempDir(), "shared.db")
			return open(t, path), open(t, path)
		},
		DriverError: func(err error) bool {
			var e *sqlite.Error
			return errors.As(err, &e)
		},
	})
}
