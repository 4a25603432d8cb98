package store_test

import (
	"errors"
	"testing"

	"modernc.org/sqlite"

	"github.com/smsbot/smsbot/store/storetest"
)

// TestContract runs the stores' contract suite against SQLite.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.DB { return open(t, "") },
		DriverError: func(err error) bool {
			var e *sqlite.Error
			return errors.As(err, &e)
		},
	})
}
