package phonerow

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// TestColumns_Complete: every column has a name of its own and all three
// functions, and the set of changed columns fits its uint64.
func TestColumns_Complete(t *testing.T) {
	if len(Columns) > 64 {
		t.Fatalf("%d phone columns: Updates keeps a set of at most 64", len(Columns))
	}
	seen := map[string]bool{}
	for _, c := range Columns {
		if c.Name == "" || seen[c.Name] {
			t.Errorf("column %q: empty or named twice", c.Name)
		}
		seen[c.Name] = true
		if c.value == nil || c.dest == nil || c.same == nil {
			t.Errorf("column %s lacks a function", c.Name)
		}
	}
	if len(Args(&bot.Phone{})) != len(Columns) || len(Dests(&bot.Phone{})) != len(Columns) {
		t.Error("Args or Dests do not give one value a column")
	}
}

// TestUpdates_Changed: the UPDATE names the columns that changed, in
// table order and in the store's placeholders, with the number last; the
// fixed columns and a change finer than a millisecond are no change.
func TestUpdates_Changed(t *testing.T) {
	was := bot.Phone{Number: "+15550001111", State: bot.StateIdle, CreatedAt: time.UnixMilli(1e12), UpdatedAt: time.UnixMilli(1e12), LinkHash: []byte{1}}
	p := was
	p.CreatedAt = was.CreatedAt.Add(time.Hour)
	p.UpdatedAt = was.UpdatedAt.Add(100 * time.Microsecond)
	p.LinkHash = []byte{1}
	for name, u := range map[string]*Updates{
		"sqlite":   NewUpdates(func(int) string { return "?" }),
		"postgres": NewUpdates(dollar),
	} {
		if q, args := u.Changed(&was, &p); q != "" || args != nil {
			t.Errorf("%s: no change but the creation time: %q %v", name, q, args)
		}
	}

	u := NewUpdates(dollar)
	p.LastSeen = time.UnixMilli(2e12)
	p.State = bot.StateSubscribed
	p.UserID = "auth0|x"
	q, args := u.Changed(&was, &p)
	want := `UPDATE phones SET state = $1, user_id = $2, last_seen = $3 WHERE phone = $4`
	wantArgs := fmt.Sprint([]any{bot.StateSubscribed, "auth0|x", int64(2e12), was.Number})
	if q != want || fmt.Sprint(args) != wantArgs {
		t.Errorf("got %q %v, want %q %v", q, args, want, wantArgs)
	}
	// The second time the text comes from the cache: same statement,
	// this phone's values.
	p.State = bot.StateAwaitingCode
	p.LastSeen = p.LastSeen.Add(time.Microsecond)
	p.UserID = "auth0|y"
	q2, args2 := u.Changed(&was, &p)
	if q2 != want || fmt.Sprint(args2) != fmt.Sprint([]any{bot.StateAwaitingCode, "auth0|y", int64(2e12), was.Number}) {
		t.Errorf("again: got %q %v", q2, args2)
	}
}

// TestMillis: the zero time is 0 and back, and a column of another type
// is an error rather than a wrong time.
func TestMillis(t *testing.T) {
	var zero time.Time
	if n := (Millis{&zero}).Int64(); n != 0 {
		t.Errorf("zero time: %d, want 0", n)
	}
	got := time.Now()
	if err := (Millis{&got}).Scan(int64(0)); err != nil || !got.IsZero() {
		t.Errorf("0: %v %v, want the zero time", got, err)
	}
	if err := (Millis{&got}).Scan(int64(2e12)); err != nil || !got.Equal(time.UnixMilli(2e12)) {
		t.Errorf("2e12: %v %v", got, err)
	}
	if err := (Millis{&got}).Scan("2000"); err == nil {
		t.Error("text scanned as a time")
	}
}

func dollar(n int) string { return fmt.Sprintf("$%d", n) }
