package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
