package store

import (
	"context"
	"github.com/smsbot/smsbot/bot"
	"strings"
	"testing"
	"time"
)

// TestPhoneTable_MatchesSchema fails when a column of the phones table has
// no row in phonerow.Columns (or a row names no column). That every field of
// bot.Phone is kept is the contract suite's (storetest: Tx_Phone_EveryField).
func TestPhoneTable_MatchesSchema(t *testing.T) {
	ctx := context.Background()
	db := openGroup(t)
	cols, err := db.strings(ctx, `SELECT name FROM pragma_table_info('phones') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ", "); got != phoneColumns {
		t.Errorf("phones columns:\n%s\nphonerow.Columns:\n%s", got, phoneColumns)
	}

}

// TestSavePhone_ChangedColumns: a phone read in the transaction is saved
// with an UPDATE of the columns that changed, and not at all when none
// did (what it writes is the contract suite's Tx_SavePhone_AfterRead).
func TestSavePhone_ChangedColumns(t *testing.T) {
	ctx := context.Background()
	db := openGroup(t)
	p := &bot.Phone{Number: "+15550001111", State: bot.StateIdle, CreatedAt: time.UnixMilli(1e12), UserID: ""}
	err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, p) })
	if err != nil {
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
		q, args := partialUpdates.Changed(&was, p)
		if want := `UPDATE phones SET state = ?, last_seen = ? WHERE phone = ?`; q != want || len(args) != 3 {
			t.Errorf("changed state and last_seen: %q with %d arguments, want %q with 3", q, len(args), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
