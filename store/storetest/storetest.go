// Package storetest is the contract suite of smsbot's stores: the tests
// that every backend (SQLite in store, PostgreSQL in store/postgres) must
// pass from the same code, so that neither can drift from bot's contract.
// Each backend's own package runs it:
//
//	func TestContract(t *testing.T) { storetest.Run(t, storetest.Backend{...}) }
//
// What is particular to one backend (SQLite's group commit and backups,
// PostgreSQL's instances sharing one database) is tested beside it.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// DB is what the suite drives: the conversation's store and outbox, the
// audit trail to check them by, and the operator's side that serve and the
// commands use (the same types from either backend).
type DB interface {
	bot.Store
	bot.Outbox
	bot.Limiter
	AuditLog(ctx context.Context, phone string) ([]bot.AuditEntry, error)
	Ping(ctx context.Context) error
	UseMode(ctx context.Context, m store.Mode) error
	Heartbeat(ctx context.Context, nonce string, now time.Time, stale time.Duration) error
	Instances(ctx context.Context, since time.Time) ([]string, error)
	StopInstance(ctx context.Context, nonce string) error
	Prune(ctx context.Context, now time.Time, keep time.Duration) (store.Pruned, error)
	OutboxStats(ctx context.Context) (store.OutboxStats, error)
	RecordStatus(ctx context.Context, sid, phone, status string, errorCode int, at time.Time) (bool, error)
	Message(ctx context.Context, sid string) (store.MessageStatus, error)
	OutboxJobs(ctx context.Context, failedOnly bool) ([]store.OutboxJob, error)
	RetryFailed(ctx context.Context, ids []int64, now time.Time, reason string) ([]int64, error)
	Phones(ctx context.Context, state string) ([]*bot.Phone, error)
	LastText(ctx context.Context, phone string) (time.Time, error)
	SentTexts(ctx context.Context, phone string, limit int) ([]store.SentText, error)
}

// Backend is a store under test.
type Backend struct {
	// Open returns a fresh, empty, migrated database of the test's own,
	// closed at the test's end.
	Open func(t *testing.T) DB
	// DriverError reports whether err carries the driver's own error,
	// which the log needs next to bot's generic message.
	DriverError func(err error) bool
	// OpenShared returns two handles on one fresh database, as two
	// instances (or two processes) have.
	OpenShared func(t *testing.T) (DB, DB)
}

// Run runs the contract suite against b, each test in parallel on a
// database of its own.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		run  func(*testing.T, Backend)
	}{
		{"Tx_Phone_RoundTrip", testPhoneRoundTrip},
		{"Tx_Phone_EveryField", testPhoneEveryField},
		{"Tx_SavePhone_Constraints", testSavePhoneConstraints},
		{"Tx_SavePhone_AfterRead", testSavePhoneAfterRead},
		{"Tx_Suspension_RoundTrip", testSuspensionRoundTrip},
		{"DB_Update_RollsBack", testUpdateRollsBack},
		{"DB_Update_Serializes", testUpdateSerializes},
		{"DB_View_ReadOnly", testViewReadOnly},
		{"Tx_Reply_Dedupe", testReplyDedupe},
		{"Tx_Links", testLinks},
		{"Tx_WrongCodes", testWrongCodes},
		{"Tx_LostDeliveries_OncePerMessage", testLostDeliveries},
		{"Tx_Audit", testAudit},
		{"DB_Claim", testClaim},
		{"DB_Claim_OneJobPerRecipient", testClaimOneJobPerRecipient},
		{"DB_Claim_NoTwoWorkers", testClaimNoTwoWorkers},
		{"DB_Outbox_LeaseDeferTaken", testLeaseDeferTaken},
		{"DB_Outbox_WhatsAppFields", testOutboxWhatsAppFields},
		{"Tx_Undelivered_Once", testUndeliveredOnce},
		{"DB_OutboxJobs", testOutboxJobs},
		{"DB_RetryFailed", testRetryFailed},
		{"DB_Prune", testPrune},
		{"DB_Instance", testInstance},
		{"DB_UseMode", testUseMode},
		{"DB_Ping", testPing},
		{"DB_RecordStatus_Monotonic", testRecordStatus},
		{"DB_Subscribers", testSubscribers},
		{"DB_Take_Burst", testTakeBurst},
		{"DB_Take_Refill", testTakeRefill},
		{"DB_Take_Keys", testTakeKeys},
		{"DB_Take_Invalid", testTakeInvalid},
		{"DB_Take_Prune", testTakePrune},
		{"DB_Take_Concurrent", testTakeConcurrent},
		{"Tx_WebCodes", testWebCodes},
		{"DB_WebCode_UsedOnce", testWebCodeUsedOnce},
		{"Tx_LinkMisses", testLinkMisses},
		{"DB_Prune_WebCodes", testPruneWebCodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, b)
		})
	}
}

// T0 is the suite's fixed "now".
var T0 = time.UnixMilli(1_790_000_000_000)

const (
	phoneA = "+15555550101"
	phoneB = "+15555550102"
)

// Enqueue queues jobs in one transaction and fails the test on an error.
func Enqueue(t *testing.T, db bot.Store, jobs ...*bot.Job) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, j := range jobs {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// SavePhone saves p in its own transaction.
func SavePhone(ctx context.Context, db bot.Store, p *bot.Phone) error {
	return db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, p) })
}

// LoadPhone reads a phone in a read transaction.
func LoadPhone(ctx context.Context, db bot.Store, number string) (*bot.Phone, error) {
	var p *bot.Phone
	err := db.View(ctx, func(tx bot.Tx) (err error) {
		p, err = tx.Phone(ctx, number)
		return err
	})
	return p, err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
