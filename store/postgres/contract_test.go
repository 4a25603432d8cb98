package postgres_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// TestContract runs the stores' contract suite against PostgreSQL, each
// test on a schema of its own.
func TestContract(t *testing.T) {
	postgrestest.ServerURL(t) // skip (or fail under CI) once, not per test
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.DB { return openFresh(t) },
		OpenShared: func(t *testing.T) (storetest.DB, storetest.DB) {
			u := postgrestest.SchemaURL(t)
			return open(t, u, postgres.Options{}), open(t, u, postgres.Options{})
		},
		DriverError: func(err error) bool {
			var e *pgconn.PgError
			return errors.As(err, &e)
		},
	})
}
