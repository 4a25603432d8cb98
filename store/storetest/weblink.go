package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// webCode is a web login's code for the tests.
func webCode(login string, mac byte, at time.Time) *bot.WebCode {
	return &bot.WebCode{Login: login, MAC: bytes.Repeat([]byte{mac}, 32), UserID: "auth0|" + login, Email: login + "@example.com",
		Issued: 1, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute), Locale: "es-MX"}
}

func saveWebCode(ctx context.Context, db bot.Store, c *bot.WebCode) error {
	return db.Update(ctx, func(tx bot.Tx) error { return tx.SaveWebCode(ctx, c) })
}

func loadWebCode(ctx context.Context, db bot.Store, login string, mac []byte) (byLogin, byMAC *bot.WebCode, err error) {
	err = db.View(ctx, func(tx bot.Tx) error {
		var err error
		if byLogin, err = tx.WebCode(ctx, login); err != nil {
			return fmt.Errorf("by login: %w", err)
		}
		if byMAC, err = tx.WebCodeByMAC(ctx, mac); err != nil {
			return fmt.Errorf("by mac: %w", err)
		}
		return nil
	})
	return byLogin, byMAC, err
}

// testWebCodes: a login's code round-trips, is found by login and by its
// MAC, and a new code replaces the login's old one, which is then found no
// more. Two logins cannot hold one MAC; a locale is no longer than a
// language tag.
func testWebCodes(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	c := webCode("l1", 1, T0)
	must(t, saveWebCode(ctx, db, c))
	byLogin, byMAC, err := loadWebCode(ctx, db, "l1", c.MAC)
	must(t, err)
	for _, got := range []*bot.WebCode{byLogin, byMAC} {
		if got.Login != c.Login || !bytes.Equal(got.MAC, c.MAC) || got.UserID != c.UserID || got.Email != c.Email ||
			got.Issued != 1 || !got.CreatedAt.Equal(c.CreatedAt) || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.UsedAt.IsZero() || got.Phone != "" || got.Locale != "es-MX" {
			t.Fatalf("got %+v, saved %+v", got, c)
		}
	}

	// A new code for the login replaces the old one.
	old := c.MAC
	c.MAC, c.Issued, c.ExpiresAt = bytes.Repeat([]byte{2}, 32), 2, T0.Add(20*time.Minute)
	must(t, saveWebCode(ctx, db, c))
	byLogin, byMAC, err = loadWebCode(ctx, db, "l1", c.MAC)
	must(t, err)
	if byLogin.Issued != 2 || !bytes.Equal(byLogin.MAC, c.MAC) || byMAC.Login != "l1" || !byMAC.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("after a new code: %+v, %+v", byLogin, byMAC)
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		if _, err := tx.WebCodeByMAC(ctx, old); bot.ErrorCode(err) != bot.ENOTFOUND {
			return fmt.Errorf("replaced code: %v, want ENOTFOUND", err)
		}
		if _, err := tx.WebCode(ctx, "l2"); bot.ErrorCode(err) != bot.ENOTFOUND {
			return fmt.Errorf("unknown login: %v, want ENOTFOUND", err)
		}
		return nil
	})
	must(t, err)

	// Used: the phone and the time round-trip.
	c.UsedAt, c.Phone = T0.Add(time.Minute), phoneA
	must(t, saveWebCode(ctx, db, c))
	byLogin, _, err = loadWebCode(ctx, db, "l1", c.MAC)
	must(t, err)
	if !byLogin.UsedAt.Equal(c.UsedAt) || byLogin.Phone != phoneA {
		t.Fatalf("used code %+v", byLogin)
	}

	// Another login with the same MAC, and a used code without its phone,
	// are refused and change nothing.
	other := webCode("l2", 2, T0)
	if err := saveWebCode(ctx, db, other); err == nil || bot.ErrorCode(err) != bot.EINTERNAL {
		t.Fatalf("a second login with one MAC: %v", err)
	}
	half := webCode("l3", 3, T0)
	half.UsedAt = T0
	if err := saveWebCode(ctx, db, half); err == nil {
		t.Fatal("a used code without its phone was saved")
	}
	long := webCode("l4", 4, T0)
	long.Locale = strings.Repeat("x", 36)
	if err := saveWebCode(ctx, db, long); err == nil {
		t.Fatal("a locale longer than a language tag was saved")
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		for _, l := range []string{"l2", "l3", "l4"} {
			if _, err := tx.WebCode(ctx, l); bot.ErrorCode(err) != bot.ENOTFOUND {
				return fmt.Errorf("refused code %s: %v", l, err)
			}
		}
		return nil
	})
	must(t, err)
}

// testWebCodeUsedOnce: many transactions at once find one code by its MAC
// and use it when it is unused; exactly one does, while new codes for the
// login are made meanwhile.
func testWebCodeUsedOnce(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	c := webCode("l1", 1, T0)
	must(t, saveWebCode(ctx, db, c))
	var used atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			err := db.Update(ctx, func(tx bot.Tx) error {
				got, err := tx.WebCodeByMAC(ctx, c.MAC)
				if bot.ErrorCode(err) == bot.ENOTFOUND {
					return nil
				} else if err != nil {
					return err
				}
				if !got.UsedAt.IsZero() {
					return nil
				}
				got.UsedAt, got.Phone = T0, fmt.Sprintf("+1555555%04d", i)
				if err := tx.SaveWebCode(ctx, got); err != nil {
					return err
				}
				used.Add(1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := used.Load(); n != 1 {
		t.Fatalf("the code was used %d times", n)
	}
}

// testLinkMisses: wrong web codes count per phone within the window.
func testLinkMisses(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, m := range []struct {
			phone string
			at    time.Time
		}{{phoneA, T0.Add(-time.Hour)}, {phoneA, T0}, {phoneA, T0.Add(time.Minute)}, {phoneB, T0}} {
			if err := tx.AddLinkMiss(ctx, m.phone, m.at); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	err = db.View(ctx, func(tx bot.Tx) error {
		for _, c := range []struct {
			phone string
			since time.Time
			want  int
		}{{phoneA, T0, 2}, {phoneA, time.Time{}, 3}, {phoneB, T0, 1}, {phoneB, T0.Add(time.Second), 0}, {"+15555550199", time.Time{}, 0}} {
			if n, err := tx.CountLinkMisses(ctx, c.phone, c.since); n != c.want || err != nil {
				return fmt.Errorf("%s since %v: %d %v, want %d", c.phone, c.since, n, err, c.want)
			}
		}
		return nil
	})
	must(t, err)
}

// testPruneWebCodes: Prune drops web codes expired more than two days ago
// and wrong web codes older than a day, and keeps the rest.
func testPruneWebCodes(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	now := T0.Add(10 * 24 * time.Hour)
	must(t, saveWebCode(ctx, db, webCode("old", 1, now.Add(-3*24*time.Hour))))
	must(t, saveWebCode(ctx, db, webCode("recent", 2, now.Add(-24*time.Hour))))
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.AddLinkMiss(ctx, phoneA, now.Add(-25*time.Hour)); err != nil {
			return err
		}
		return tx.AddLinkMiss(ctx, phoneA, now.Add(-time.Hour))
	})
	must(t, err)
	p, err := db.Prune(ctx, now, 30*24*time.Hour)
	must(t, err)
	if p.WebCodes != 1 || p.LinkMisses != 1 {
		t.Fatalf("pruned %+v", p)
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		if _, err := tx.WebCode(ctx, "recent"); err != nil {
			return fmt.Errorf("recent code pruned: %w", err)
		}
		if _, err := tx.WebCode(ctx, "old"); bot.ErrorCode(err) != bot.ENOTFOUND {
			return fmt.Errorf("old code kept: %v", err)
		}
		if n, err := tx.CountLinkMisses(ctx, phoneA, time.Time{}); n != 1 || err != nil {
			return fmt.Errorf("link misses after prune: %d %v", n, err)
		}
		return nil
	})
	must(t, err)
}
