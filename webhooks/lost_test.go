package webhooks_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// TestServer_HandleStatus_LostNumber: two texts to a bound phone that fail
// with "unknown destination" and "unreachable carrier" suspend its binding;
// the same callback twice counts once.
func TestServer_HandleStatus_LostNumber(t *testing.T) {
	ctx := context.Background()
	const phone = "+15555550101"
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "lost.db"), store.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	err = db.Update(ctx, func(tx bot.Tx) error {
		return tx.SavePhone(ctx, &bot.Phone{Number: phone, State: bot.StateSubscribed, UserID: "auth0|1",
			BoundAt: now, VerifiedAt: now, LastSeen: now, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := bot.NewKeyring([]byte(strings.Repeat("f", 32)))
	replies, _, _ := bot.NewReplies(nil)
	engine := &bot.Engine{Store: db, Keys: keys, Replies: replies, PublicURL: public, Limits: bot.DefaultLimits()}
	s := &webhooks.Server{Conversation: engine, Statuses: db, PublicURL: public, AuthToken: token}
	suspended := func() bool {
		var p *bot.Phone
		err := db.View(ctx, func(tx bot.Tx) error {
			var err error
			p, err = tx.Phone(ctx, phone)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return p.Suspended()
	}
	callback := func(sid, status, code string) {
		t.Helper()
		form := url.Values{"MessageSid": {sid}, "MessageStatus": {status}, "ErrorCode": {code}, "To": {phone},
			"AccountSid": {"AC0123456789abcdef0123456789abcdef"}}
		w := httptest.NewRecorder()
		s.HandleStatus(w, signed("/webhooks/twilio/status", form))
		if w.Code != 204 {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
	const first, second = "SM0123456789abcdef0123456789abcde1", "SM0123456789abcdef0123456789abcde2"
	callback(first, "undelivered", "30005")
	callback(first, "failed", "30005")
	callback(second, "undelivered", "30003") // unreachable for now: not a sign
	if suspended() {
		t.Fatal("suspended after one lost message")
	}
	callback(second, "failed", "30006")
	if !suspended() {
		t.Fatal("not suspended after two lost messages")
	}
}
