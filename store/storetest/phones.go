package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

func testPhoneRoundTrip(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	want := &bot.Phone{
		Number: phoneA, State: bot.StateAwaitingCode, ExpiresAt: T0.Add(time.Minute),
		UserID: "auth0|1", Email: "a@example.com", BoundAt: T0,
		CodeMAC: []byte{1, 2, 3}, CodeUserID: "auth0|2", CodeEmail: "b@example.com", CodeLogin: "L", CodeAttempts: 2,
		ReplyWindow: T0, ReplyCount: 3, CreatedAt: T0, UpdatedAt: T0.Add(time.Second), Channel: bot.ChannelSMS,
	}
	must(t, SavePhone(ctx, db, want))
	var got, byUser *bot.Phone
	err := db.View(ctx, func(tx bot.Tx) (err error) {
		if got, err = tx.Phone(ctx, want.Number); err != nil {
			return err
		}
		byUser, err = tx.PhoneByUser(ctx, "auth0|1")
		return err
	})
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) || byUser.Number != want.Number {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if _, err := LoadPhone(ctx, db, "+15555550199"); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("missing phone: %v", err)
	}
	err = db.Update(ctx, func(tx bot.Tx) error { _, err := tx.PhoneByUser(ctx, "auth0|none"); return err })
	if bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("missing account: %v", err)
	}
}

// testPhoneEveryField sets every field of bot.Phone, saves it, reads it
// back, then changes each and saves again: a column a backend forgets to
// write or read fails here.
func testPhoneEveryField(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	at := T0
	p := &bot.Phone{Number: phoneA, State: bot.StateAwaitingCode, ExpiresAt: at.Add(time.Minute),
		UserID: "auth0|1", Email: "a@example.com", BoundAt: at, LinkHash: []byte{9},
		CodeMAC: []byte{1, 2, 3}, CodeUserID: "auth0|2", CodeEmail: "b@example.com", CodeLogin: "L", CodeAttempts: 2,
		ReplyWindow: at, ReplyCount: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		LastSeen: at.Add(2 * time.Second), VerifiedAt: at, SuspendedAt: at.Add(time.Second), SuspendReason: bot.CauseSilent,
		Language: "es-MX", LanguageSource: bot.LanguageFromCountry,
		Channel: bot.ChannelWhatsApp, WhatsAppSeen: at.Add(3 * time.Second), Proven: "whatsapp"}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("the sample leaves bot.Phone.%s zero", v.Type().Field(i).Name)
		}
	}
	check := func(want *bot.Phone) {
		t.Helper()
		must(t, SavePhone(ctx, db, want))
		got, err := LoadPhone(ctx, db, want.Number)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back\n got %+v\nwant %+v", got, want)
		}
	}
	check(p)
	check(&bot.Phone{Number: p.Number, State: bot.StateSubscribed, ExpiresAt: at.Add(2 * time.Minute),
		UserID: "auth0|3", Email: "c@example.com", BoundAt: at.Add(time.Hour), LinkHash: []byte{8},
		CodeMAC: []byte{4}, CodeUserID: "auth0|4", CodeEmail: "d@example.com", CodeLogin: "M", CodeAttempts: 4,
		ReplyWindow: at.Add(time.Hour), ReplyCount: 5, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
		LastSeen: at.Add(time.Hour), VerifiedAt: at.Add(time.Hour), SuspendedAt: at.Add(2 * time.Hour), SuspendReason: bot.CauseLost,
		Language: "pt-BR", LanguageSource: bot.LanguageChosen,
		Channel: bot.ChannelSMS, WhatsAppSeen: at.Add(time.Hour), Proven: "sms,whatsapp"})
	// Back to empty: no stale value survives in a nullable column. A
	// phone always has a channel: SMS unless it wrote on another.
	check(&bot.Phone{Number: p.Number, State: bot.StateIdle, CreatedAt: at, UpdatedAt: at.Add(3 * time.Hour), Channel: bot.ChannelSMS})
}

// testSavePhoneAfterRead changes one field at a time of a phone read in
// the same transaction, as the engine does: a backend that writes only
// what changed since the read must still write each field, a second save
// in the transaction, and a byte slice changed in place.
func testSavePhoneAfterRead(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	at := T0
	base := bot.Phone{Number: phoneA, State: bot.StateAwaitingCode, ExpiresAt: at.Add(time.Minute),
		UserID: "auth0|1", Email: "a@example.com", BoundAt: at, LinkHash: []byte{9},
		CodeMAC: []byte{1, 2, 3}, CodeUserID: "auth0|2", CodeEmail: "b@example.com", CodeLogin: "L", CodeAttempts: 2,
		ReplyWindow: at, ReplyCount: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		LastSeen: at.Add(2 * time.Second), VerifiedAt: at, SuspendedAt: at.Add(time.Second), SuspendReason: bot.CauseSilent,
		Language: "es-MX", LanguageSource: bot.LanguageFromCountry,
		Channel: bot.ChannelWhatsApp, WhatsAppSeen: at.Add(3 * time.Second), Proven: "whatsapp"}
	other := bot.Phone{Number: phoneA, State: bot.StateSubscribed, ExpiresAt: at.Add(2 * time.Minute),
		UserID: "auth0|3", Email: "c@example.com", BoundAt: at.Add(time.Hour), LinkHash: []byte{8},
		CodeMAC: []byte{4}, CodeUserID: "auth0|4", CodeEmail: "d@example.com", CodeLogin: "M", CodeAttempts: 4,
		ReplyWindow: at.Add(time.Hour), ReplyCount: 5, CreatedAt: at.Add(time.Hour), UpdatedAt: at.Add(time.Hour),
		LastSeen: at.Add(time.Hour), VerifiedAt: at.Add(time.Hour), SuspendedAt: at.Add(2 * time.Hour), SuspendReason: bot.CauseLost,
		Language: "pt-BR", LanguageSource: bot.LanguageChosen,
		Channel: bot.ChannelSMS, WhatsAppSeen: at.Add(time.Hour), Proven: "sms,whatsapp"}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if name == "Number" || name == "CreatedAt" {
			continue // the key, and a column only the insert writes
		}
		t.Run(name, func(t *testing.T) {
			first := base
			first.LinkHash, first.CodeMAC = slices.Clone(base.LinkHash), slices.Clone(base.CodeMAC)
			must(t, SavePhone(ctx, db, &first))
			want := first
			reflect.ValueOf(&want).Elem().Field(i).Set(reflect.ValueOf(other).Field(i))
			must(t, db.Update(ctx, func(tx bot.Tx) error {
				p, err := tx.Phone(ctx, phoneA)
				if err != nil {
					return err
				}
				reflect.ValueOf(p).Elem().Field(i).Set(reflect.ValueOf(other).Field(i))
				return tx.SavePhone(ctx, p)
			}))
			got, err := LoadPhone(ctx, db, phoneA)
			must(t, err)
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("after changing %s\n got %+v\nwant %+v", name, got, &want)
			}
		})
	}
	t.Run("twice and in place", func(t *testing.T) {
		first := base
		first.LinkHash = []byte{9}
		must(t, SavePhone(ctx, db, &first))
		must(t, db.Update(ctx, func(tx bot.Tx) error {
			p, err := tx.Phone(ctx, phoneA)
			if err != nil {
				return err
			}
			p.ReplyCount = 7
			if err := tx.SavePhone(ctx, p); err != nil {
				return err
			}
			p.LinkHash[0] = 1 // in place, after the first save
			p.ReplyCount = 3  // back to what was read, not to what was saved
			return tx.SavePhone(ctx, p)
		}))
		got, err := LoadPhone(ctx, db, phoneA)
		must(t, err)
		if got.ReplyCount != 3 || !bytes.Equal(got.LinkHash, []byte{1}) {
			t.Errorf("got reply count %d, link hash %v; want 3, [1]", got.ReplyCount, got.LinkHash)
		}
	})
}

// testSavePhoneConstraints: the impossible states are unstorable, and the
// error says so to the log only.
func testSavePhoneConstraints(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	must(t, SavePhone(ctx, db, &bot.Phone{Number: phoneA, State: bot.StateSubscribed, UserID: "u1"}))
	for name, p := range map[string]*bot.Phone{
		"two phones, one account": {Number: "+15555550102", State: bot.StateSubscribed, UserID: "u1"},
		"subscribed, no account":  {Number: "+15555550103", State: bot.StateSubscribed},
		"awaiting code, no code":  {Number: "+15555550104", State: bot.StateAwaitingCode},
		"awaiting login, no link": {Number: "+15555550105", State: bot.StateAwaitingLogin},
		"unknown state":           {Number: "+15555550106", State: "limbo"},
		"suspended, no account":   {Number: "+15555550107", State: bot.StateIdle, SuspendedAt: T0, SuspendReason: bot.CauseSilent},
		"suspended, no cause":     {Number: "+15555550108", State: bot.StateSubscribed, UserID: "u8", SuspendedAt: T0},
		"suspended, no time":      {Number: "+15555550109", State: bot.StateSubscribed, UserID: "u9", SuspendReason: bot.CauseLost},
		"unknown cause":           {Number: "+15555550110", State: bot.StateSubscribed, UserID: "u10", SuspendedAt: T0, SuspendReason: "moon"},
		"language, no source":     {Number: "+15555550111", State: bot.StateIdle, Language: "es"},
		"source, no language":     {Number: "+15555550112", State: bot.StateIdle, LanguageSource: bot.LanguageChosen},
		"unknown language source": {Number: "+15555550113", State: bot.StateIdle, Language: "es", LanguageSource: "guess"},
		"language too long":       {Number: "+15555550114", State: bot.StateIdle, Language: strings.Repeat("x", 36), LanguageSource: bot.LanguageFromAccount},
		"unknown channel":         {Number: "+15555550115", State: bot.StateIdle, Channel: "pigeon"},
		"unknown proven channels": {Number: "+15555550116", State: bot.StateSubscribed, UserID: "u16", Proven: "whatsapp,sms"},
	} {
		err := SavePhone(ctx, db, p)
		if bot.ErrorCode(err) != bot.EINTERNAL {
			t.Errorf("%s: code %q (%v), want %q", name, bot.ErrorCode(err), err, bot.EINTERNAL)
		}
		if msg := bot.ErrorMessage(err); msg != bot.ErrorMessage(errors.New("any")) {
			t.Errorf("%s: a person would read %q", name, msg)
		}
		if !b.DriverError(err) {
			t.Errorf("%s: the driver's error left the chain, the log needs it: %v", name, err)
		}
		if _, err := LoadPhone(ctx, db, p.Number); bot.ErrorCode(err) != bot.ENOTFOUND {
			t.Errorf("%s: stored anyway: %v", name, err)
		}
	}
}

func testSuspensionRoundTrip(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	in := &bot.Phone{Number: phoneA, State: bot.StateSubscribed, UserID: "u1", CreatedAt: T0,
		LastSeen: T0.Add(time.Hour), VerifiedAt: T0, SuspendedAt: T0.Add(2 * time.Hour), SuspendReason: bot.CauseReassigned}
	var out *bot.Phone
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.SavePhone(ctx, in); err != nil {
			return err
		}
		var err error
		out, err = tx.Phone(ctx, in.Number)
		return err
	})
	must(t, err)
	if !out.LastSeen.Equal(in.LastSeen) || !out.VerifiedAt.Equal(in.VerifiedAt) || !out.SuspendedAt.Equal(in.SuspendedAt) || out.SuspendReason != in.SuspendReason {
		t.Fatalf("got %+v", out)
	}
}

func testUpdateRollsBack(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.SavePhone(ctx, &bot.Phone{Number: phoneA, State: bot.StateIdle}); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "x", CreatedAt: T0}); err != nil {
			return err
		}
		return fmt.Errorf("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Fatalf("fn's error: %v", err)
	}
	if _, err := LoadPhone(ctx, db, phoneA); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("rolled-back phone exists: %v", err)
	}
	if _, err := db.NextDue(ctx); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("rolled-back job queued: %v", err)
	}
}

// testUpdateSerializes has 50 read-modify-writes of one phone at once:
// none is lost.
func testUpdateSerializes(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := IncrementReplies(ctx, db, phoneA); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	p, err := LoadPhone(ctx, db, phoneA)
	must(t, err)
	if p.ReplyCount != n {
		t.Fatalf("count %d after %d increments: lost updates", p.ReplyCount, n)
	}
}

// IncrementReplies adds one to a phone's reply count in one Update,
// making the phone the first time: a read-modify-write.
func IncrementReplies(ctx context.Context, db bot.Store, number string) error {
	return db.Update(ctx, func(tx bot.Tx) error {
		p, err := tx.Phone(ctx, number)
		if bot.ErrorCode(err) == bot.ENOTFOUND {
			p, err = &bot.Phone{Number: number, State: bot.StateIdle}, nil
		}
		if err != nil {
			return err
		}
		p.ReplyCount++
		return tx.SavePhone(ctx, p)
	})
}

// testViewReadOnly: a read transaction cannot write.
func testViewReadOnly(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	err := db.View(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, &bot.Phone{Number: phoneA, State: bot.StateIdle}) })
	if err == nil {
		t.Fatal("a View saved a phone")
	}
	if _, err := LoadPhone(ctx, db, phoneA); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("phone after a refused write: %v", err)
	}
}

// testReplyDedupe: a MessageSid's reply is kept; the same MessageSid
// cannot be recorded twice.
func testReplyDedupe(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	const sid = "SM00000000000000000000000000000001"
	err := db.Update(ctx, func(tx bot.Tx) error {
		if _, err := tx.Reply(ctx, sid); bot.ErrorCode(err) != bot.ENOTFOUND {
			return fmt.Errorf("unknown MessageSid: %v", err)
		}
		return tx.SaveReply(ctx, sid, phoneA, []byte("sealed first"), T0)
	})
	must(t, err)
	err = db.Update(ctx, func(tx bot.Tx) error { return tx.SaveReply(ctx, sid, phoneA, []byte("sealed second"), T0) })
	if bot.ErrorCode(err) != bot.EINTERNAL || !b.DriverError(err) {
		t.Fatalf("second SaveReply of one MessageSid: %v", err)
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		got, err := tx.Reply(ctx, sid)
		if err != nil || !bytes.Equal(got, []byte("sealed first")) {
			return fmt.Errorf("reply %q %v", got, err)
		}
		return nil
	})
	must(t, err)
}

func testLinks(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	h := []byte("0123456789abcdef0123456789abcdef")
	err := db.Update(ctx, func(tx bot.Tx) error {
		for i, at := range []time.Time{T0.Add(-2 * time.Hour), T0.Add(-30 * time.Minute), T0} {
			hh := append([]byte{byte(i)}, h...)
			if err := tx.AddLink(ctx, &bot.Link{Hash: hh, Phone: phoneA, CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}); err != nil {
				return err
			}
		}
		n, err := tx.CountLinks(ctx, phoneA, T0.Add(-time.Hour))
		if n != 2 {
			return fmt.Errorf("count %d, want 2 (%v)", n, err)
		}
		if err := tx.UseLink(ctx, append([]byte{0}, h...), T0); err != nil {
			return err
		}
		if err := tx.UseLink(ctx, append([]byte{0}, h...), T0); bot.ErrorCode(err) != bot.EUSED {
			return fmt.Errorf("second use: %v", err)
		}
		if err := tx.UseLink(ctx, []byte("unknown"), T0); bot.ErrorCode(err) != bot.EUSED {
			return fmt.Errorf("use of an unknown link: %v", err)
		}
		l, err := tx.Link(ctx, append([]byte{0}, h...))
		if err != nil || !l.UsedAt.Equal(T0) || l.Phone != phoneA || !l.ExpiresAt.Equal(T0.Add(-2*time.Hour+15*time.Minute)) {
			return fmt.Errorf("link %+v %v", l, err)
		}
		if _, err := tx.Link(ctx, []byte("unknown")); bot.ErrorCode(err) != bot.ENOTFOUND {
			return fmt.Errorf("unknown link: %v", err)
		}
		return nil
	})
	must(t, err)
	err = db.Update(ctx, func(tx bot.Tx) error {
		return tx.AddLink(ctx, &bot.Link{Hash: append([]byte{0}, h...), Phone: phoneB, CreatedAt: T0, ExpiresAt: T0})
	})
	if bot.ErrorCode(err) != bot.EINTERNAL || !b.DriverError(err) {
		t.Fatalf("a link's hash twice: %v", err)
	}
}

// testWrongCodes: wrong codes count per account across phones, within the
// window.
func testWrongCodes(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, w := range []struct {
			user, phone string
			at          time.Time
		}{{"u1", phoneA, T0.Add(-2 * time.Hour)}, {"u1", phoneA, T0}, {"u1", phoneB, T0}, {"u2", phoneA, T0}} {
			if err := tx.AddWrongCode(ctx, w.user, w.phone, w.at); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	err = db.View(ctx, func(tx bot.Tx) error {
		for _, c := range []struct {
			user  string
			since time.Time
			want  int
		}{{"u1", T0.Add(-time.Hour), 2}, {"u1", time.Time{}, 3}, {"u2", T0, 1}, {"u3", time.Time{}, 0}} {
			if n, err := tx.CountWrongCodes(ctx, c.user, c.since); n != c.want || err != nil {
				return fmt.Errorf("%s since %v: %d %v, want %d", c.user, c.since, n, err, c.want)
			}
		}
		return nil
	})
	must(t, err)
}

func testLostDeliveries(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	var n int
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, ref := range []string{"SMa", "SMa", "SMb"} {
			if err := tx.AddLostDelivery(ctx, phoneA, ref, 30005, T0); err != nil {
				return err
			}
		}
		var err error
		n, err = tx.CountLostDeliveries(ctx, phoneA, T0)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("counted %d, want 2: %v", n, err)
	}
}

// testAudit: binding changes are kept per phone, oldest first.
func testAudit(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	entries := []bot.AuditEntry{
		{At: T0.Add(time.Second), Phone: phoneA, UserID: "u1", Action: "unbind", Reason: "second"},
		{At: T0, Phone: phoneA, UserID: "u1", Action: "bind", Reason: "first"},
		{At: T0, Phone: phoneB, UserID: "u2", Action: "bind", Reason: "other phone"},
	}
	err := db.Update(ctx, func(tx bot.Tx) error {
		for i := range entries {
			if err := tx.Audit(ctx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, err)
	log, err := db.AuditLog(ctx, phoneA)
	must(t, err)
	if !reflect.DeepEqual(log, []bot.AuditEntry{entries[1], entries[0]}) {
		t.Fatalf("audit log %+v", log)
	}
}
