package webhooks_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
)

// downStatuses is a status store whose database is away.
type downStatuses struct{}

func (downStatuses) RecordStatus(ctx context.Context, sid, phone, status string, code int, at time.Time) (bool, error) {
	return false, fmt.Errorf("record status: %w: dial tcp: connection refused", bot.Errorf(bot.EUNAVAILABLE, "try later"))
}

// TestServer_Unavailable: a conversation or status store that says the
// database is away (bot.EUNAVAILABLE) is answered 503 with Retry-After,
// no TwiML and nothing of the error's text, and observed as
// "unavailable"; any other failure stays a 500.
func TestServer_Unavailable(t *testing.T) {
	var outcomes []string
	observe := func(hook, outcome string, d time.Duration) { outcomes = append(outcomes, hook+" "+outcome) }
	down := fmt.Errorf("load phone: %w: %w", bot.Errorf(bot.EUNAVAILABLE, "try later"), fmt.Errorf("dial tcp 127.0.0.1:5432: connection refused"))
	s := &webhooks.Server{Conversation: &fakeConversation{reply: "never", err: down}, Statuses: downStatuses{},
		PublicURL: public, AuthToken: token, Observe: observe}

	w := httptest.NewRecorder()
	s.HandleSMS(w, signed(webhooks.PathSMS, inbound("H")))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "refused") || strings.Contains(w.Body.String(), "never") {
		t.Fatalf("inbound sms with the database away: %d %v %q", w.Code, w.Header(), w.Body)
	}

	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "MessageStatus": {"delivered"}, "To": {"+15555550101"}}
	w = httptest.NewRecorder()
	s.HandleStatus(w, signed(webhooks.PathStatus, form))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status callback with the database away: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if want := []string{"sms unavailable", "status unavailable"}; fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", outcomes, want)
	}

	s.Conversation = &fakeConversation{err: fmt.Errorf("disk on fire")}
	w = httptest.NewRecorder()
	s.HandleSMS(w, signed(webhooks.PathSMS, inbound("H")))
	if w.Code != 500 || w.Header().Get("Retry-After") != "" {
		t.Fatalf("an internal error: %d %v", w.Code, w.Header())
	}
}
