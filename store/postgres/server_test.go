package postgres_test

import (
	"context"
	"testing"

	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
)

// open opens a pool on the schema at u, closed at the test's end.
func open(t *testing.T, u string, o postgres.Options) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), u, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openFresh opens a pool on a schema of the test's own.
func openFresh(t *testing.T) *postgres.DB {
	t.Helper()
	return open(t, postgrestest.SchemaURL(t), postgres.Options{})
}
