package devphone_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks/devphone"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	account    = "AC0123456789abcdef0123456789abcdef"
	token      = "f00dfeedf00dfeedf00dfeedf00dfeed"
	botNumber  = "+15555550100"
	alice      = "+15555550123"
	bob        = "+15555550124"
	publicBase = "https://bot.example.test"
	smsPath    = "/webhooks/twilio/sms"
)

// botRequest is one webhook the fake bot received.
type botRequest struct {
	form  url.Values
	valid bool
	head  http.Header
}

// fakeBot is the bot's webhook as the test sees it: it checks the
// signature with twilio-go's RequestValidator (over the public URL, as the
// real bot does) and answers TwiML chosen by the text.
type fakeBot struct {
	srv      *httptest.Server
	requests chan botRequest
	count    atomic.Int32
}

func newFakeBot(t *testing.T) *fakeBot {
	t.Helper()
	b := &fakeBot{requests: make(chan botRequest, 100)}
	validator := client.NewRequestValidator(token)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.count.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		params := map[string]string{}
		for k, vs := range r.PostForm {
			params[k] = vs[0]
		}
		valid := validator.Validate(publicBase+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
		b.requests <- botRequest{form: r.PostForm, valid: valid, head: r.Header.Clone()}
		if !valid {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		body := r.PostForm.Get("Body")
		xmlDoc := func(doc string) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+doc)
		}
		switch body {
		case "S":
			xmlDoc("<Response><Message>Open https://bot.example.test/l/abc to log in.</Message></Response>")
		case "TWO":
			xmlDoc("<Response><Message><Body>first &amp; one</Body></Message>\n  <Message>\n second \n</Message>" +
				"<Redirect>https://bot.example.test/more</Redirect></Response>")
		case "ELSEWHERE":
			xmlDoc("<Response><Message to=\"" + bob + "\">for bob</Message></Response>")
		case "QUIET", "stop please":
			xmlDoc("<Response/>")
		case "BOOM":
			http.Error(w, "internal error", http.StatusInternalServerError)
		case "PLAIN":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		case "BROKEN":
			xmlDoc("<Response><Message>")
		case "NOTWIML":
			xmlDoc("<html><body>hi</body></html>")
		default:
			var esc bytes.Buffer
			_ = xml.EscapeText(&esc, []byte(body))
			xmlDoc("<Response><Message>echo: " + esc.String() + "</Message></Response>")
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// next returns the next webhook the bot received.
func (b *fakeBot) next(t *testing.T) botRequest {
	t.Helper()
	select {
	case r := <-b.requests:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the bot received no webhook")
	}
	panic("unreachable")
}

// env is a Dev Phone mounted at /dev in front of a fake bot and a Twilio
// stand-in.
type env struct {
	twilio *twiliotest.Server
	rest   *twilio.RestClient
	bot    *fakeBot
	phone  *devphone.Phone
	web    *httptest.Server
}

func newEnv(t *testing.T, edit func(*devphone.Options), deliver bool) *env {
	t.Helper()
	tw := twiliotest.New(twiliotest.Options{
		AccountSID: account, AuthToken: token, Numbers: []string{botNumber}, DeliverStatus: deliver,
	})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start twilio: %v", err)
	}
	t.Cleanup(func() { _ = tw.Close() })
	c := &client.Client{Credentials: client.NewCredentials(account, token), HTTPClient: tw.Client()}
	c.SetAccountSid(account)

	bot := newFakeBot(t)
	o := devphone.Options{
		Twilio:     tw,
		WebhookURL: bot.srv.URL + smsPath,
		SignURL:    publicBase + smsPath,
		AuthToken:  token,
		AccountSID: account,
		BotNumber:  botNumber,
	}
	if edit != nil {
		edit(&o)
	}
	p := devphone.New(o)
	r := chi.NewRouter()
	r.Mount("/dev", p.Handler())
	web := httptest.NewServer(r)
	t.Cleanup(web.Close)
	return &env{
		twilio: tw,
		rest:   twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}),
		bot:    bot,
		phone:  p,
		web:    web,
	}
}

// post sends a raw request body to /dev/api/send.
func (e *env) post(t *testing.T, contentType, body string) (int, []byte) {
	t.Helper()
	resp, err := e.web.Client().Post(e.web.URL+"/dev/api/send", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return resp.StatusCode, b
}

// send texts body from phone through the HTTP API and decodes the result.
func (e *env) send(t *testing.T, phone, body string) devphone.Result {
	t.Helper()
	req, _ := json.Marshal(map[string]string{"from": phone, "body": body})
	status, b := e.post(t, "application/json", string(req))
	if status != http.StatusOK {
		t.Fatalf("send %q: %d %s", body, status, b)
	}
	var res devphone.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return res
}

// messages fetches phone's conversation through the HTTP API.
func (e *env) messages(t *testing.T, phone string) []devphone.Entry {
	t.Helper()
	resp, err := e.web.Client().Get(e.web.URL + "/dev/api/messages?phone=" + url.QueryEscape(phone))
	if err != nil {
		t.Fatalf("get messages: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get messages: %s", resp.Status)
	}
	var out struct {
		Phone    string           `json:"phone"`
		Messages []devphone.Entry `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode messages: %v", err)
	}
	if out.Phone != phone {
		t.Errorf("messages for %q, asked for %q", out.Phone, phone)
	}
	return out.Messages
}

// restSend texts phone through the REST API stand-in, as the bot's outbox
// does.
func (e *env) restSend(t *testing.T, phone, body string) (*openapi.ApiV2010Message, error) {
	t.Helper()
	p := &openapi.CreateMessageParams{}
	p.SetTo(phone).SetFrom(botNumber).SetBody(body)
	return e.rest.Api.CreateMessage(p)
}

// summary renders entries as "source/direction:body" for comparisons.
func summary(entries []devphone.Entry) string {
	var parts []string
	for _, e := range entries {
		parts = append(parts, e.Source+"/"+e.Direction+":"+e.Body)
	}
	return strings.Join(parts, " | ")
}

func TestPhone_Send(t *testing.T) {
	t.Run("SignedWebhookAndReply", func(t *testing.T) {
		e := newEnv(t, nil, false)
		res := e.send(t, alice, "S")

		req := e.bot.next(t)
		if !req.valid {
			t.Error("the bot could not validate X-Twilio-Signature")
		}
		f := req.form
		for k, want := range map[string]string{
			"From": alice, "To": botNumber, "Body": "S", "AccountSid": account, "NumMedia": "0",
			"NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01", "FromCountry": "US",
		} {
			if got := f.Get(k); got != want {
				t.Errorf("webhook %s = %q, want %q", k, got, want)
			}
		}
		sid := f.Get("MessageSid")
		if len(sid) != 34 || !strings.HasPrefix(sid, "SM") || f.Get("SmsSid") != sid || f.Get("SmsMessageSid") != sid {
			t.Errorf("MessageSid %q SmsSid %q SmsMessageSid %q", sid, f.Get("SmsSid"), f.Get("SmsMessageSid"))
		}
		if ct := req.head.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}

		if res.Message.ID != sid || res.Message.Status != "received" || res.Message.Error != "" {
			t.Errorf("result message = %+v", res.Message)
		}
		if len(res.Replies) != 1 || res.Replies[0].Body != "Open https://bot.example.test/l/abc to log in." {
			t.Fatalf("replies = %+v", res.Replies)
		}
		got := e.messages(t, alice)
		if want := "phone/in:S | reply/out:Open https://bot.example.test/l/abc to log in."; summary(got) != want {
			t.Errorf("conversation = %s, want %s", summary(got), want)
		}
		if got[1].Status != "delivered" || got[1].Phone != alice || got[0].ID != sid {
			t.Errorf("entries = %+v", got)
		}
		if other := e.messages(t, bob); len(other) != 0 {
			t.Errorf("bob's conversation = %s, want empty", summary(other))
		}
	})

	t.Run("SeveralMessagesAndIgnoredVerbs", func(t *testing.T) {
		e := newEnv(t, nil, false)
		res := e.send(t, alice, "TWO")
		if summary(res.Replies) != "reply/out:first & one | reply/out:second" {
			t.Errorf("replies = %s", summary(res.Replies))
		}
		if !strings.Contains(res.Warning, "Redirect") {
			t.Errorf("warning = %q, want it to name Redirect", res.Warning)
		}
	})

	t.Run("ReplyToAnotherNumber", func(t *testing.T) {
		e := newEnv(t, nil, false)
		e.send(t, alice, "ELSEWHERE")
		if got := summary(e.messages(t, bob)); got != "reply/out:for bob" {
			t.Errorf("bob's conversation = %s", got)
		}
	})

	t.Run("EmptyResponse", func(t *testing.T) {
		e := newEnv(t, nil, false)
		res := e.send(t, alice, "QUIET")
		if len(res.Replies) != 0 || res.Message.Error != "" {
			t.Errorf("result = %+v, want no replies and no error", res)
		}
		if got := summary(e.messages(t, alice)); got != "phone/in:QUIET" {
			t.Errorf("conversation = %s", got)
		}
	})

	t.Run("WebhookFailures", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body string
			edit func(*devphone.Options)
			code int
		}{
			{"ServerError", "BOOM", nil, 11200},
			{"WrongContentType", "PLAIN", nil, 12300},
			{"BrokenXML", "BROKEN", nil, 12100},
			{"NotTwiML", "NOTWIML", nil, 12100},
			{"WrongToken", "hello", func(o *devphone.Options) { o.AuthToken = "0000feedf00dfeedf00dfeedf00dfeed" }, 11200},
			{"WrongSignURL", "hello", func(o *devphone.Options) { o.SignURL = "https://elsewhere.example" + smsPath }, 11200},
			{"Unreachable", "hello", func(o *devphone.Options) {
				dead := httptest.NewServer(http.NotFoundHandler())
				dead.Close()
				o.WebhookURL = dead.URL + smsPath
			}, 11205},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, tc.edit, false)
				res := e.send(t, alice, tc.body)
				if res.Message.ErrorCode != tc.code || res.Message.Error == "" {
					t.Errorf("message error = %d %q, want %d", res.Message.ErrorCode, res.Message.Error, tc.code)
				}
				if len(res.Replies) != 0 {
					t.Errorf("replies = %s, want none", summary(res.Replies))
				}
				got := e.messages(t, alice)
				if len(got) != 1 || got[0].ErrorCode != tc.code {
					t.Errorf("conversation = %+v, want the text with error %d", got, tc.code)
				}
			})
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		e := newEnv(t, nil, false)
		for _, tc := range []struct {
			name, contentType, body string
			status                  int
		}{
			{"PhoneNotE164", "application/json", `{"from":"5555550123","body":"S"}`, 400},
			{"PhoneLeadingZero", "application/json", `{"from":"+05555550123","body":"S"}`, 400},
			{"PhoneMissing", "application/json", `{"body":"S"}`, 400},
			{"BotsOwnNumber", "application/json", `{"from":"` + botNumber + `","body":"S"}`, 400},
			{"EmptyBody", "application/json", `{"from":"` + alice + `","body":""}`, 400},
			{"BlankBody", "application/json", `{"from":"` + alice + `","body":"  \n "}`, 400},
			{"BodyTooLong", "application/json", `{"from":"` + alice + `","body":"` + strings.Repeat("x", 1601) + `"}`, 400},
			{"HugeRequest", "application/json", `{"from":"` + alice + `","body":"` + strings.Repeat("x", 70000) + `"}`, 400},
			{"NotJSON", "application/json", `from=+15555550123&body=S`, 400},
			{"FormContentType", "application/x-www-form-urlencoded", `{"from":"` + alice + `","body":"S"}`, 415},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, b := e.post(t, tc.contentType, tc.body)
				if status != tc.status {
					t.Errorf("status = %d (%s), want %d", status, b, tc.status)
				}
				var out struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(b, &out); err != nil || out.Error == "" {
					t.Errorf("body %s is not a JSON error (%v)", b, err)
				}
			})
		}
		if n := e.bot.count.Load(); n != 0 {
			t.Errorf("the bot received %d webhooks for refused input", n)
		}
		if got := e.messages(t, alice); len(got) != 0 {
			t.Errorf("conversation = %s, want nothing recorded", summary(got))
		}

		// 1600 characters is allowed, even when they take several bytes.
		if res := e.send(t, alice, strings.Repeat("é", 1600)); res.Message.Error != "" {
			t.Errorf("1600 characters: %+v", res.Message)
		}
	})

	t.Run("TextWithoutHTTP", func(t *testing.T) {
		e := newEnv(t, nil, false)
		if _, err := e.phone.Text(context.Background(), "+1", "S"); err == nil {
			t.Error("Text accepted a bad number")
		}
		res, err := e.phone.Text(context.Background(), alice, "hi")
		if err != nil || summary(res.Replies) != "reply/out:echo: hi" {
			t.Errorf("Text = %+v, %v", res, err)
		}
	})
}

func TestPhone_CarrierKeywords(t *testing.T) {
	e := newEnv(t, nil, false)

	res := e.send(t, alice, " stop ")
	if !e.twilio.OptedOut(alice) || !res.OptedOut {
		t.Fatal("STOP did not opt alice out in the stand-in")
	}
	if req := e.bot.next(t); req.form.Get("Body") != " stop " {
		t.Errorf("the bot got %q, want STOP forwarded as sent", req.form.Get("Body"))
	}
	if len(res.Replies) != 2 {
		t.Fatalf("replies = %s, want Twilio's and the bot's", summary(res.Replies))
	}
	if r := res.Replies[0]; r.Source != devphone.SourceTwilio || r.Body != devphone.OptOutReply {
		t.Errorf("first reply = %+v, want Twilio's opt-out reply", r)
	}
	if r := res.Replies[1]; r.Status != "failed" || r.ErrorCode != 21610 {
		t.Errorf("the bot's reply to an opted-out phone = %+v, want failed 21610", r)
	}
	_, err := e.restSend(t, alice, "are you there?")
	var re *client.TwilioRestError
	if !errors.As(err, &re) || re.Code != 21610 {
		t.Errorf("REST send after STOP: %v, want 21610", err)
	}

	if res := e.send(t, alice, "HELP"); len(res.Replies) != 1 || res.Replies[0].Source != devphone.SourceReply {
		t.Errorf("HELP while opted out: replies %s, want no Twilio reply", summary(res.Replies))
	}

	res = e.send(t, alice, "Start")
	if e.twilio.OptedOut(alice) || res.OptedOut {
		t.Error("START did not opt alice back in")
	}
	if len(res.Replies) == 0 || res.Replies[0].Body != devphone.OptInReply || res.Replies[0].Source != devphone.SourceTwilio {
		t.Errorf("replies = %s, want Twilio's opt-in reply first", summary(res.Replies))
	}
	if _, err := e.restSend(t, alice, "welcome back"); err != nil {
		t.Errorf("REST send after START: %v", err)
	}

	res = e.send(t, alice, "info")
	if len(res.Replies) == 0 || res.Replies[0].Body != devphone.HelpReply {
		t.Errorf("INFO: replies %s, want Twilio's help reply first", summary(res.Replies))
	}

	for _, body := range []string{"stop please", "YES", "S"} {
		res := e.send(t, alice, body)
		for _, r := range res.Replies {
			if r.Source == devphone.SourceTwilio {
				t.Errorf("%q got a Twilio reply %q", body, r.Body)
			}
		}
		if e.twilio.OptedOut(alice) {
			t.Errorf("%q opted alice out", body)
		}
	}
}

func TestPhone_RESTTexts(t *testing.T) {
	e := newEnv(t, nil, false)
	e.send(t, alice, "S")
	m, err := e.restSend(t, alice, "Your code is ready: https://bot.example.test/c")
	if err != nil {
		t.Fatalf("rest send: %v", err)
	}
	if _, err := e.restSend(t, bob, "not for alice"); err != nil {
		t.Fatalf("rest send: %v", err)
	}
	got := e.messages(t, alice)
	want := "phone/in:S | reply/out:Open https://bot.example.test/l/abc to log in. | rest/out:Your code is ready: https://bot.example.test/c"
	if summary(got) != want {
		t.Fatalf("conversation = %s, want %s", summary(got), want)
	}
	if last := got[2]; last.ID != *m.Sid || last.Status != "queued" || last.Direction != "out" {
		t.Errorf("REST entry = %+v", last)
	}
}

// sse is one Server-Sent Event.
type sse struct {
	name, id string
	data     []byte
}

// readEvents streams the events of an open SSE response into a channel.
func readEvents(body io.Reader) <-chan sse {
	ch := make(chan sse, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = append(ev.data, strings.TrimPrefix(line, "data: ")...)
			}
		}
	}()
	return ch
}

// nextEntry waits for the next entry event, failing on a deadline.
func nextEntry(t *testing.T, events <-chan sse) devphone.Entry {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.name != "entry" {
				continue
			}
			var e devphone.Entry
			if err := json.Unmarshal(ev.data, &e); err != nil {
				t.Fatalf("entry %s: %v", ev.data, err)
			}
			if e.ID != ev.id {
				t.Errorf("event id %q, entry id %q", ev.id, e.ID)
			}
			return e
		case <-deadline:
			t.Fatal("timed out waiting for an entry event")
		}
	}
}

func TestPhone_Events(t *testing.T) {
	e := newEnv(t, nil, true)
	e.send(t, alice, "QUIET") // history before the stream opens

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.web.URL+"/dev/api/events?phone="+url.QueryEscape(alice), nil)
	resp, err := e.web.Client().Do(req)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := readEvents(resp.Body)

	select {
	case ev := <-events:
		var st struct {
			Phone     string `json:"phone"`
			BotNumber string `json:"bot_number"`
			OptedOut  bool   `json:"opted_out"`
		}
		if ev.name != "state" || json.Unmarshal(ev.data, &st) != nil || st.Phone != alice || st.BotNumber != botNumber || st.OptedOut {
			t.Errorf("first event = %s %s, want alice's state", ev.name, ev.data)
		}
	case <-ctx.Done():
		t.Fatal("no state event")
	}
	if got := nextEntry(t, events); got.Body != "QUIET" || got.Source != devphone.SourcePhone {
		t.Errorf("history entry = %+v", got)
	}

	// A text and its reply arrive live.
	e.send(t, alice, "S")
	if got := nextEntry(t, events); got.Body != "S" || got.Direction != "in" {
		t.Errorf("live entry = %+v, want the text", got)
	}
	if got := nextEntry(t, events); got.Source != devphone.SourceReply {
		t.Errorf("live entry = %+v, want the reply", got)
	}

	// Texts to others stay out; a REST text arrives, then its status changes.
	if _, err := e.restSend(t, bob, "for bob"); err != nil {
		t.Fatalf("rest send: %v", err)
	}
	m, err := e.restSend(t, alice, "sent later through the REST API")
	if err != nil {
		t.Fatalf("rest send: %v", err)
	}
	rank := map[string]int{"queued": 1, "sent": 2, "delivered": 3}
	for last := 0; last < rank["delivered"]; {
		got := nextEntry(t, events)
		if got.Phone != alice || got.ID != *m.Sid || got.Source != devphone.SourceREST || got.Body != "sent later through the REST API" {
			t.Fatalf("entry %+v, want only alice's REST text", got)
		}
		r := rank[got.Status]
		if r == 0 || r < last {
			t.Fatalf("status %q after rank %d: statuses must only move forward", got.Status, last)
		}
		last = r
	}

	// STOP changes the state shown on the page.
	e.send(t, alice, "STOP")
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("stream ended before the state changed")
			}
			if ev.name == "state" {
				if !bytes.Contains(ev.data, []byte(`"opted_out":true`)) {
					t.Errorf("state after STOP = %s", ev.data)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no state event after STOP")
		}
	}
}

func TestPhone_BadPhoneParam(t *testing.T) {
	e := newEnv(t, nil, false)
	for _, path := range []string{"/dev/api/messages?phone=123", "/dev/api/events?phone=", "/dev/api/events"} {
		resp, err := e.web.Client().Get(e.web.URL + path)
		if err != nil {
			t.Fatalf("get %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(b, []byte(`"error"`)) {
			t.Errorf("%s: %d %s, want 400 with a JSON error", path, resp.StatusCode, b)
		}
	}
}
