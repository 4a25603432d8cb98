package webhooks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/internal/reqlog"
	"github.com/smsbot/smsbot/webhooks"
)

const (
	token  = "testtoken0000000000000000000000000"
	public = "https://bot.example.com"
)

// fakeConversation records the texts that got through.
type fakeConversation struct {
	mu    sync.Mutex
	calls []bot.Inbound
	reply string
	err   error
}

func (f *fakeConversation) HandleSMS(ctx context.Context, in bot.Inbound) (bot.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return bot.Result{Reply: f.reply, State: bot.StateIdle}, f.err
}

func (f *fakeConversation) NumberLost(ctx context.Context, phone, ref string, code int) error {
	return nil
}

type fakeStatuses struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeStatuses) RecordStatus(ctx context.Context, sid, phone, status string, code int, at time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, fmt.Sprintf("%s %s %s %d", sid, phone, status, code))
	if status == "bogus" {
		return false, bot.Errorf(bot.EINVALID, "unknown status")
	}
	return true, nil
}

func inbound(body string) url.Values {
	return url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From":       {"+15555550101"},
		"To":         {"+15005550006"},
		"Body":       {body},
		"NumMedia":   {"0"},
	}
}

func signed(path string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", webhooks.Signature(token, public+path, form))
	return r
}

func TestSignature_MatchesTwilioValidator(t *testing.T) {
	form := inbound("S & more = ü")
	v := client.NewRequestValidator(token)
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if !v.Validate(public+"/webhooks/twilio/sms?x=1", params, webhooks.Signature(token, public+"/webhooks/twilio/sms?x=1", form)) {
		t.Fatal("twilio-go rejects our signature")
	}
	if v.Validate(public+"/webhooks/twilio/sms", params, webhooks.Signature("other", public+"/webhooks/twilio/sms", form)) {
		t.Fatal("signature with another token accepted")
	}
}

func TestServer_HandleSMS(t *testing.T) {
	conv := &fakeConversation{reply: "hi <there> & you"}
	s := &webhooks.Server{Conversation: conv, Statuses: &fakeStatuses{}, PublicURL: public, AuthToken: token}
	w := httptest.NewRecorder()
	s.HandleSMS(w, signed("/webhooks/twilio/sms", inbound("S")))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/xml") {
		t.Fatalf("status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if body := w.Body.String(); !strings.Contains(body, "<Message>hi &lt;there&gt; &amp; you</Message>") {
		t.Fatalf("TwiML %s", body)
	}
	if len(conv.calls) != 1 || conv.calls[0].Body != "S" || conv.calls[0].From != "+15555550101" {
		t.Fatalf("calls %+v", conv.calls)
	}
	conv.reply = ""
	w = httptest.NewRecorder()
	s.HandleSMS(w, signed("/webhooks/twilio/sms", inbound("S")))
	if body := w.Body.String(); strings.Contains(body, "<Message") || !strings.Contains(body, "Response") {
		t.Fatalf("empty reply TwiML %s", body)
	}
}

func TestServer_HandleSMS_Rejects(t *testing.T) {
	with := func(f func(url.Values)) url.Values {
		form := inbound("S")
		f(form)
		return form
	}
	type tc struct {
		name   string
		req    func() *http.Request
		status int
	}
	cases := []tc{
		{"no signature", func() *http.Request {
			r := signed("/webhooks/twilio/sms", inbound("S"))
			r.Header.Del("X-Twilio-Signature")
			return r
		}, 403},
		{"forged signature", func() *http.Request {
			r := signed("/webhooks/twilio/sms", inbound("S"))
			r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")
			return r
		}, 403},
		{"signature for another URL", func() *http.Request {
			form := inbound("S")
			r := signed("/webhooks/twilio/sms", form)
			r.Header.Set("X-Twilio-Signature", webhooks.Signature(token, "https://evil.example.com/webhooks/twilio/sms", form))
			return r
		}, 403},
		{"signature for another body", func() *http.Request {
			r := signed("/webhooks/twilio/sms", inbound("H"))
			form := inbound("S")
			r2 := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/sms", strings.NewReader(form.Encode()))
			r2.Header = r.Header
			return r2
		}, 403},
		{"query added after signing", func() *http.Request {
			form := inbound("S")
			r := signed("/webhooks/twilio/sms", form)
			r.URL.RawQuery = "x=1"
			r.RequestURI = "/webhooks/twilio/sms?x=1"
			return r
		}, 403},
		{"wrong content type", func() *http.Request {
			r := signed("/webhooks/twilio/sms", inbound("S"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415},
		{"body over the limit", func() *http.Request {
			return signed("/webhooks/twilio/sms", inbound(strings.Repeat("x", webhooks.MaxBody)))
		}, 413},
		{"malformed form", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/sms", strings.NewReader("From=%zz&Body=%"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", "x")
			return r
		}, 400},
		{"missing MessageSid", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Del("MessageSid") }))
		}, 400},
		{"malformed MessageSid", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Set("MessageSid", "SM'; DROP TABLE phones;--") }))
		}, 400},
		{"missing From", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Del("From") }))
		}, 400},
		{"From not E.164", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Set("From", "5555550101") }))
		}, 400},
		{"missing Body", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Del("Body") }))
		}, 400},
		{"repeated parameter", func() *http.Request {
			return signed("/webhooks/twilio/sms", with(func(f url.Values) { f.Add("Body", "H") }))
		}, 400},
		{"GET", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/webhooks/twilio/sms", nil)
		}, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conv := &fakeConversation{reply: "x"}
			var failures []string
			s := &webhooks.Server{Conversation: conv, Statuses: &fakeStatuses{}, PublicURL: public, AuthToken: token,
				SignatureFailed: func(_ context.Context, hook string) { failures = append(failures, hook) }}
			w := httptest.NewRecorder()
			s.HandleSMS(w, c.req())
			if w.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			// The check itself reports a signature failure, once; other
			// refusals are not signature failures.
			if want := c.status == http.StatusForbidden; want != (len(failures) == 1) || len(failures) > 1 ||
				want && failures[0] != webhooks.HookSMS {
				t.Fatalf("signature failures reported: %q", failures)
			}
			if len(conv.calls) != 0 {
				t.Fatalf("conversation reached: %+v", conv.calls)
			}
		})
	}
}

func TestServer_HandleSMS_Errors(t *testing.T) {
	conv := &fakeConversation{err: fmt.Errorf("disk on fire")}
	s := &webhooks.Server{Conversation: conv, Statuses: &fakeStatuses{}, PublicURL: public, AuthToken: token}
	w := httptest.NewRecorder()
	s.HandleSMS(w, signed("/webhooks/twilio/sms", inbound("S")))
	if w.Code != 500 || strings.Contains(w.Body.String(), "disk") {
		t.Fatalf("internal error: %d %q", w.Code, w.Body)
	}
}

func TestServer_HandleStatus(t *testing.T) {
	st := &fakeStatuses{}
	s := &webhooks.Server{Conversation: &fakeConversation{}, Statuses: st, PublicURL: public, AuthToken: token}
	form := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "MessageStatus": {"undelivered"},
		"ErrorCode": {"30003"}, "To": {"+15555550101"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
	}
	w := httptest.NewRecorder()
	s.HandleStatus(w, signed("/webhooks/twilio/status", form))
	if w.Code != 204 || len(st.seen) != 1 || st.seen[0] != "SM0123456789abcdef0123456789abcdef +15555550101 undelivered 30003" {
		t.Fatalf("status %d seen %v", w.Code, st.seen)
	}
	for name, f := range map[string]func(url.Values){
		"bad code":       func(f url.Values) { f.Set("ErrorCode", "x") },
		"no status":      func(f url.Values) { f.Del("MessageStatus") },
		"unknown status": func(f url.Values) { f.Set("MessageStatus", "bogus") },
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = append([]string(nil), v...)
		}
		f(bad)
		w := httptest.NewRecorder()
		s.HandleStatus(w, signed("/webhooks/twilio/status", bad))
		if w.Code != 400 {
			t.Errorf("%s: status %d", name, w.Code)
		}
	}
	r := signed("/webhooks/twilio/status", form)
	r.Header.Set("X-Twilio-Signature", "AAAA")
	w = httptest.NewRecorder()
	s.HandleStatus(w, r)
	if w.Code != 403 {
		t.Fatalf("forged status callback: %d", w.Code)
	}
}

// TestServer_HandleSMS_Log: a text is logged once. Served under an access
// log (a reqlog.Line in the context), what became of it goes on that
// line and the server logs nothing itself; served bare, it logs its own
// "inbound sms" line. Either way the phone is masked, and a failure
// raises the line to error level with the error.
func TestServer_HandleSMS_Log(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		level slog.Level
	}{
		{"Answered", nil, slog.LevelInfo},
		{"Failed", errors.New("disk on fire"), slog.LevelError},
	} {
		t.Run(tc.name+"/Annotated", func(t *testing.T) {
			var logs bytes.Buffer
			s := &webhooks.Server{Conversation: &fakeConversation{reply: "hi", err: tc.err}, PublicURL: public, AuthToken: token,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			line := new(reqlog.Line)
			r := signed(webhooks.PathSMS, inbound("H"))
			s.HandleSMS(httptest.NewRecorder(), r.WithContext(reqlog.NewContext(r.Context(), line)))
			if logs.Len() != 0 {
				t.Errorf("the server logged a line of its own: %s", logs.String())
			}
			got := map[string]string{}
			for _, a := range line.Attrs() {
				if _, dup := got[a.Key]; dup {
					t.Errorf("%s twice on the line", a.Key)
				}
				got[a.Key] = a.Value.String()
			}
			want := map[string]string{"message_sid": "SM0123456789abcdef0123456789abcdef", "phone": bot.MaskPhone("+15555550101"), "channel": "sms"}
			if tc.err != nil {
				want["err"] = tc.err.Error()
			} else {
				want["state"], want["replied"], want["duplicate"], want["muted"] = bot.StateIdle, "true", "false", "false"
			}
			if !maps.Equal(got, want) {
				t.Errorf("line attrs %v, want %v", got, want)
			}
			level, raised := line.Level()
			if raised != (tc.err != nil) || raised && level != tc.level {
				t.Errorf("line level %v (raised %v), want %v", level, raised, tc.level)
			}
		})
		t.Run(tc.name+"/Bare", func(t *testing.T) {
			var logs bytes.Buffer
			s := &webhooks.Server{Conversation: &fakeConversation{reply: "hi", err: tc.err}, PublicURL: public, AuthToken: token,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			s.HandleSMS(httptest.NewRecorder(), signed(webhooks.PathSMS, inbound("H")))
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1: %s", len(lines), logs.String())
			}
			if !strings.Contains(lines[0], `"level":"`+tc.level.String()+`"`) || !strings.Contains(lines[0], `"message_sid":"SM0123456789abcdef0123456789abcdef"`) ||
				!strings.Contains(lines[0], `"msg":"inbound sms`) || strings.Contains(lines[0], "5555550101") {
				t.Errorf("line: %s", lines[0])
			}
		})
	}
}

// TestServer_HandleSMS_Form: the form is read from the body alone when
// the URL has no query (Form and PostForm are the form), and with the
// query too when it has one (signed over the URL with its query, as
// Twilio signs it); an answer's headers are its own, whatever is set or
// added to another's.
func TestServer_HandleSMS_Form(t *testing.T) {
	for _, path := range []string{webhooks.PathSMS, webhooks.PathSMS + "?route=a&x=%20"} {
		t.Run(path, func(t *testing.T) {
			conv := &fakeConversation{reply: "hi"}
			s := &webhooks.Server{Conversation: conv, Statuses: &fakeStatuses{}, PublicURL: public, AuthToken: token}
			r := signed(path, inbound("H"))
			w := httptest.NewRecorder()
			s.HandleSMS(w, r)
			if w.Code != 200 || len(conv.calls) != 1 || conv.calls[0].Body != "H" || conv.calls[0].From != "+15555550101" {
				t.Fatalf("status %d, calls %+v: %s", w.Code, conv.calls, w.Body)
			}
			if r.PostForm.Get("Body") != "H" || r.Form.Get("Body") != "H" || r.PostForm.Has("route") {
				t.Errorf("PostForm %v, Form %v", r.PostForm, r.Form)
			}
			if q := r.URL.Query(); q.Get("route") != "" && r.Form.Get("route") != "a" {
				t.Errorf("Form %v lacks the query", r.Form)
			}
			// Headers made once and shared between answers stay each answer's own.
			w.Header().Add("Cache-Control", "private")
			w.Header().Set("Content-Type", "changed")
			w2 := httptest.NewRecorder()
			s.HandleSMS(w2, signed(webhooks.PathSMS, inbound("H")))
			if got := w2.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := w2.Header().Get("Content-Type"); got != "text/xml; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}
