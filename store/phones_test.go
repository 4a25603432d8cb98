package store

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// TestPhoneTable_MatchesSchema fails when a column of the phones table has
// no row in phoneTable (or a row names no column), and when a field of
// bot.Phone is not kept.
func TestPhoneTable_MatchesSchema(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, err := db.strings(ctx, `SELECT name FROM pragma_table_info('phones') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ", "); got != phoneColumns {
		t.Errorf("phones columns:\n%s\nphoneTable:\n%s", got, phoneColumns)
	}

	// Every field of bot.Phone set, saved, read back, then changed and
	// saved again: an update path that forgets a field fails here.
	at := time.UnixMilli(1_790_000_000_000)
	p := &bot.Phone{Number: "+15555550101", State: bot.StateAwaitingCode, ExpiresAt: at.Add(time.Minute),
		UserID: "auth0|1", Email: "a@example.com", BoundAt: at, LinkHash: []byte{9},
		CodeMAC: []byte{1, 2, 3}, CodeUserID: "auth0|2", CodeEmail: "b@example.com", CodeLogin: "L", CodeAttempts: 2,
		ReplyWindow: at, ReplyCount: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		LastSeen: at.Add(2 * time.Second), VerifiedAt: at, SuspendedAt: at.Add(time.Second), SuspendReason: bot.CauseSilent}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the sample leaves bot.Phone.%s zero", v.Type().Field(i).Name)
		}
	}
	check := func(want *bot.Phone) {
		t.Helper()
		if err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, want) }); err != nil {
			t.Fatal(err)
		}
		var got *bot.Phone
		err := db.View(ctx, func(tx bot.Tx) (err error) { got, err = tx.Phone(ctx, want.Number); return err })
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n got %+v\nwant %+v", got, want)
		}
	}
	check(p)
	q := &bot.Phone{Number: p.Number, State: bot.StateSubscribed, ExpiresAt: at.Add(2 * time.Minute),
		UserID: "auth0|3", Email: "c@example.com", BoundAt: at.Add(time.Hour), LinkHash: []byte{8},
		CodeMAC: []byte{4}, CodeUserID: "auth0|4", CodeEmail: "d@example.com", CodeLogin: "M", CodeAttempts: 4,
		ReplyWindow: at.Add(time.Hour), ReplyCount: 5, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
		LastSeen: at.Add(time.Hour), VerifiedAt: at.Add(time.Hour), SuspendedAt: at.Add(2 * time.Hour), SuspendReason: bot.CauseLost}
	check(q)
}
