package webhooks_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// FuzzHandleSMS feeds the inbound webhook, with the real conversation and
// store behind it, arbitrary correctly signed form bodies. Whatever comes
// in, the answer is 200 with well-formed TwiML or a 4xx, never a 500 or a
// panic.
func FuzzHandleSMS(f *testing.F) {
	for _, s := range []string{
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B15555550101&Body=S",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B15555550101&Body=482+913",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B15555550101&Body=%00%FF",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=5555&Body=S",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=whatsapp%3A%2B15555550101&Body=STOP",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=whatsapp%3A%2B15555550101&ButtonPayload=S&ButtonText=Link",
		"MessageSid=SM0123456789abcdef0123456789abcdef&From=whatsapp%3A&ButtonText=%00",
		"From=%2B15555550101&Body=S",
		"Body=%",
		"",
	} {
		f.Add(s)
	}
	db, err := store.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), store.Options{Synchronous: "OFF"})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	keys, _ := bot.NewKeyring([]byte(strings.Repeat("f", 32)))
	replies, _, _ := bot.NewReplies(nil)
	engine := &bot.Engine{Store: db, Keys: keys, Replies: replies, PublicURL: public, Limits: bot.DefaultLimits()}
	s := &webhooks.Server{Conversation: engine, Statuses: db, PublicURL: public, AuthToken: token}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/sms", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if form, err := url.ParseQuery(body); err == nil {
			r.Header.Set("X-Twilio-Signature", webhooks.Signature(token, public+"/webhooks/twilio/sms", form))
		}
		w := httptest.NewRecorder()
		s.HandleSMS(w, r)
		switch {
		case w.Code == http.StatusOK:
			var tw struct {
				XMLName  xml.Name `xml:"Response"`
				Messages []string `xml:"Message"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &tw); err != nil {
				t.Fatalf("200 with bad TwiML %q: %v", w.Body, err)
			}
		case w.Code >= 400 && w.Code < 500:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
