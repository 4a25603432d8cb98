package store

import (
	"context"
	"github.com/smsbot/smsbot/bot"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPhoneTable_MatchesSchema fails when a column of the phones table has
// no row in phoneTable (or a row names no column). That every field of
// bot.Phone is kept is the contract suite's (storetest: Tx_Phone_EveryField).
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

}

// TestSavePhone_ChangedColumns: a phone read in the transaction is saved
// with an UPDATE of the columns that changed, and not at all when none
// did (what it writes is the contract suite's Tx_SavePhone_AfterRead).
func TestSavePhone_ChangedColumns(t *testing.T) {
	if len(phoneTable) > 64 {
		t.Fatalf("%d phone columns: changedColumns keeps a set of at most 64", len(phoneTable))
	}
	for _, c := range phoneTable {
		if c.same == nil {
			t.Fatalf("column %s has no comparison", c.name)
		}
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := &bot.Phone{Number: "+15550001111", State: bot.StateIdle, CreatedAt: time.UnixMilli(1e12), UserID: ""}
	if err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, p) }); err != nil {
		t.Fatal(err)
	}
	changes := func(tx *Tx) (n int) {
		if err := tx.queryRow(ctx, `SELECT total_changes()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err = db.Update(ctx, func(btx bot.Tx) error {
		tx := btx.(*Tx)
		p, err := tx.Phone(ctx, p.Number)
		if err != nil {
			return err
		}
		before := changes(tx)
		if err := tx.SavePhone(ctx, p); err != nil {
			return err
		}
		if n := changes(tx) - before; n != 0 {
			t.Errorf("saving an unchanged phone changed %d rows", n)
		}
		was := *p
		p.State, p.LastSeen = bot.StateSubscribed, time.UnixMilli(2e12)
		q, args := changedColumns(&was, p)
		if want := `UPDATE phones SET state = ?, last_seen = ? WHERE phone = ?`; q != want || len(args) != 3 {
			t.Errorf("changed state and last_seen: %q with %d arguments, want %q with 3", q, len(args), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
