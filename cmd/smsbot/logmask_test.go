package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPhoneMasker(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(maskPhones(slog.NewJSONHandler(&buf, nil))).With("bot", "+15005550006")
	u, _ := url.Parse("https://api.twilio.com/Messages.json?To=%2B15555550123")
	log.WithGroup("g").Warn("send to +15555550124 failed",
		"err", fmt.Errorf("twilio 21211: The 'To' number %s is not a valid phone number", "+15555550125"),
		"url", u,
		slog.Group("job", "to", "+15555550126"),
		"code", 21211)
	out := buf.String()
	for _, full := range []string{"5005550006", "5555550123", "5555550124", "5555550125", "5555550126"} {
		if strings.Contains(out, full) {
			t.Errorf("log carries %s: %s", full, out)
		}
	}
	if !strings.Contains(out, `"code":21211`) || !strings.Contains(out, "+1******0125") || !strings.Contains(out, "%2B1******0123") {
		t.Errorf("log lost its content: %s", out)
	}
}

// TestE2E_FarEndErrorsLogNoPhone: Twilio's errors that name a number
// (21606 here; 21211 alike) and a failed list request whose URL carries
// To=%2B... reach the logs and the outbox with the number masked.
func TestE2E_FarEndErrorsLogNoPhone(t *testing.T) {
	const notOurs = "+15005550009"
	e := startE2E(t, map[string]string{"TWILIO_FROM_NUMBER": notOurs})
	// Only phones that texted get texts; a text also wakes the outbox.
	if err := e.sendLater("+15555550204"); err != nil { // The 'From' number +1... is not ... for your account.
		t.Fatal(err)
	}
	e.text("+15555550204", "H")
	e.waitFor("the far end's refusal", func() bool { return strings.Contains(e.logs.String(), "twilio 21606") })

	// An ambiguous earlier try makes the sender list the texts To the
	// phone first; with Twilio gone, that request fails with its URL. The
	// phone texts first: a job for a phone the bot never heard from is
	// skipped without a request.
	const phone = "+15555550203"
	e.text(phone, "H")
	e.twilio.Close()
	now := time.Now().UnixMilli()
	if _, err := e.db.Exec(`INSERT INTO outbox (kind, phone, body, created_at, next_at, first_try, attempts, ambiguous)
		VALUES ('sms', ?, 'late answer', ?, ?, ?, 1, 1)`, phone, now, now, now); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the failed list request", func() bool { return strings.Contains(e.logs.String(), "look for an earlier try") })

	logs := e.logs.String()
	for _, full := range []string{"15005550009", "15555550203", "%2B1555"} {
		if strings.Contains(logs, full) {
			t.Errorf("the logs carry %s", full)
		}
	}
	var lastErrors string
	if err := e.db.QueryRow(`SELECT group_concat(last_error, ' | ') FROM outbox`).Scan(&lastErrors); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastErrors, "+1******0009") || strings.Contains(lastErrors, "5005550009") || strings.Contains(lastErrors, "5555550203") {
		t.Errorf("the outbox keeps a full number: %s", lastErrors)
	}
}

// TestPhoneMasker_FastPath: a record with nothing to mask is handled as
// it is, without a new record (clean); the line written is the one
// maskRecord's new record makes, over the bot.FuzzMaskPhones seed, lines
// like a text's and random strings made mostly of the characters of a
// number, as the message, a string, a group member, an error and an
// attribute given to With.
func TestPhoneMasker_FastPath(t *testing.T) {
	inputs := []string{
		"+15555550123 %2B15555550123", // bot.FuzzMaskPhones's seed
		"http request", "SM0123456789abcdef0123456789abcdef", "+1******0177", "/webhooks/twilio/sms", "",
	}
	rng := rand.New(rand.NewPCG(15, 2))
	const alphabet = "+%2Bb0123456789 0123456789a*"
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var fast, slow bytes.Buffer
	fastH := maskPhones(slog.NewJSONHandler(&fast, nil))
	slowH := slog.NewJSONHandler(&slow, nil)
	cleanRecords, masked := 0, 0
	for i, s := range inputs {
		other := inputs[(i+1)%len(inputs)]
		for _, attrs := range [][]slog.Attr{
			{slog.String("s", s), slog.Int("n", i), slog.Bool("ok", true)},
			{slog.String("route", "/webhooks/twilio/sms"), slog.Group("g", slog.String("s", s), slog.Duration("took", time.Second))},
			{slog.Any("err", errors.New(s)), slog.String("s", other)},
		} {
			r := slog.NewRecord(at, slog.LevelInfo, other, 0)
			r.AddAttrs(attrs...)
			if clean(r) {
				cleanRecords++
			}
			fast.Reset()
			slow.Reset()
			if err := fastH.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if err := slowH.Handle(context.Background(), maskRecord(r)); err != nil {
				t.Fatal(err)
			}
			if fast.String() != slow.String() {
				t.Fatalf("record %v:\nhandled %s\n masked %s", r, fast.String(), slow.String())
			}
			if strings.Contains(fast.String(), "*") && !strings.ContainsAny(s+other, "*") {
				masked++
			}
		}
		// With: the attributes given once, then a record.
		fast.Reset()
		slow.Reset()
		with := []slog.Attr{slog.String("s", s), slog.Int("n", i)}
		maskedWith := make([]slog.Attr, len(with))
		for j, a := range with {
			maskedWith[j] = maskAttr(a)
		}
		r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
		fastH.WithAttrs(with).Handle(context.Background(), r)
		slowH.WithAttrs(maskedWith).Handle(context.Background(), r)
		if fast.String() != slow.String() {
			t.Fatalf("With(%v):\nhandled %s\n masked %s", with, fast.String(), slow.String())
		}
	}
	// Both paths must have been taken, or the comparison shows nothing.
	if cleanRecords == 0 || masked == 0 {
		t.Fatalf("%d records handled as they were, %d with a number masked", cleanRecords, masked)
	}
}
