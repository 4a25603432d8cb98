package twiliotest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v2"

	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	waSender   = "+15555550177"
	waAlice    = "whatsapp:" + alice
	waContent  = "HX0123456789abcdef0123456789abcdef"
	waTemplate = "{{1}}: this phone is no longer linked to {{2}}."
)

// whatsApp starts a stand-in with a WhatsApp sender and one template, its
// status callbacks going to the returned channel.
func whatsApp(t *testing.T, clk *clock) (*twiliotest.Server, chan callback, string) {
	t.Helper()
	got := make(chan callback, 10)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse callback: %v", err)
		}
		got <- callback{form: r.PostForm}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(cb.Close)
	s := start(t, func(o *twiliotest.Options) {
		o.Now = clk.Now
		o.CallbackClient = cb.Client()
		o.WhatsApp = []string{waSender}
		o.Contents = map[string]twiliotest.Content{waContent: {Name: "smsbot_replaced", Body: waTemplate}}
	})
	return s, got, cb.URL + "/status"
}

// TestServer_WhatsApp_Window: a free-form message to a person who has not
// written within 24 hours is accepted, then fails with 63016 and a status
// callback; inside the window it goes; a template goes either way.
func TestServer_WhatsApp_Window(t *testing.T) {
	clk := newClock()
	s, got, cbURL := whatsApp(t, clk)
	rc := rest(t, s, testAccount, testToken)
	create := func(p *openapi.CreateMessageParams) *openapi.ApiV2010Message {
		t.Helper()
		p.SetTo(waAlice).SetFrom("whatsapp:" + waSender).SetStatusCallback(cbURL)
		m, err := rc.Api.CreateMessage(p)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		return m
	}

	m := create((&openapi.CreateMessageParams{}).SetBody("free-form, never wrote"))
	if str(m.Status) != "queued" || str(m.To) != waAlice || str(m.From) != "whatsapp:"+waSender {
		t.Fatalf("accepted as %s to %s from %s", str(m.Status), str(m.To), str(m.From))
	}
	c := receive(t, got)
	if c.form.Get("MessageSid") != str(m.Sid) || c.form.Get("MessageStatus") != "failed" || c.form.Get("ErrorCode") != "63016" ||
		c.form.Get("To") != waAlice || c.form.Get("ChannelPrefix") != "whatsapp" {
		t.Fatalf("callback %v, want failed with 63016", c.form)
	}
	if cur, _ := s.Message(str(m.Sid)); cur.Status != "failed" || cur.ErrorCode != twiliotest.CodeOutsideWindow {
		t.Fatalf("message now %+v", cur)
	}

	// Alice writes: the window is open for 24 hours.
	s.Inbound(waAlice)
	clk.Advance(23 * time.Hour)
	m = create((&openapi.CreateMessageParams{}).SetBody("inside the window"))
	clk.Advance(time.Hour)
	m2 := create((&openapi.CreateMessageParams{}).SetBody("just outside"))
	if c := receive(t, got); c.form.Get("MessageSid") != str(m2.Sid) || c.form.Get("ErrorCode") != "63016" {
		t.Fatalf("callback %v, want the later one failed", c.form)
	}
	if cur, _ := s.Message(str(m.Sid)); cur.Status != "queued" || cur.ErrorCode != 0 {
		t.Fatalf("inside the window: %+v", cur)
	}
	// A template goes outside the window, filled in.
	m = create((&openapi.CreateMessageParams{}).SetContentSid(waContent).SetContentVariables(`{"1":"smsbot","2":"y***@example.com"}`))
	cur, _ := s.Message(str(m.Sid))
	if cur.Status != "queued" || cur.ContentSID != waContent || cur.Body != "smsbot: this phone is no longer linked to y***@example.com." || str(m.Body) != cur.Body {
		t.Fatalf("template: %+v (body in the answer %q)", cur, str(m.Body))
	}
	// SMS has no window.
	if _, err := send(rc, alice, "an SMS"); err != nil {
		t.Fatalf("SMS: %v", err)
	}
	select {
	case c := <-got:
		t.Fatalf("unexpected callback %v", c.form)
	case <-time.After(50 * time.Millisecond):
	}
	// The list knows WhatsApp addresses.
	list, err := rc.Api.ListMessage((&openapi.ListMessageParams{}).SetTo(waAlice))
	if err != nil || len(list) != 4 {
		t.Fatalf("list to %s: %d %v", waAlice, len(list), err)
	}
	if len(s.MessagesTo(alice)) != 1 || len(s.MessagesTo(waAlice)) != 4 {
		t.Fatalf("messages to the two addresses: %d, %d", len(s.MessagesTo(alice)), len(s.MessagesTo(waAlice)))
	}
}

// TestServer_WhatsApp_Refusals: what Twilio refuses at once.
func TestServer_WhatsApp_Refusals(t *testing.T) {
	s, _, _ := whatsApp(t, newClock())
	rc := rest(t, s, testAccount, testToken)
	for _, c := range []struct {
		name string
		p    *openapi.CreateMessageParams
		code int
	}{
		{"unknown sender", (&openapi.CreateMessageParams{}).SetTo(waAlice).SetFrom("whatsapp:" + botNumber).SetBody("x"), 63007},
		{"channels differ", (&openapi.CreateMessageParams{}).SetTo(waAlice).SetFrom(botNumber).SetBody("x"), 21910},
		{"SMS from a WhatsApp sender", (&openapi.CreateMessageParams{}).SetTo(alice).SetFrom("whatsapp:" + waSender).SetBody("x"), 21910},
		{"bad WhatsApp number", (&openapi.CreateMessageParams{}).SetTo("whatsapp:12345").SetFrom("whatsapp:" + waSender).SetBody("x"), 21211},
		{"unknown template", (&openapi.CreateMessageParams{}).SetTo(waAlice).SetFrom("whatsapp:" + waSender).SetContentSid("HX00000000000000000000000000000000"), 21655},
		{"missing variable", (&openapi.CreateMessageParams{}).SetTo(waAlice).SetFrom("whatsapp:" + waSender).SetContentSid(waContent).SetContentVariables(`{"1":"smsbot"}`), 21656},
		{"variables not JSON", (&openapi.CreateMessageParams{}).SetTo(waAlice).SetFrom("whatsapp:" + waSender).SetContentSid(waContent).SetContentVariables(`1=smsbot`), 21656},
	} {
		_, err := rc.Api.CreateMessage(c.p)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if re := restError(t, err); re.Code != c.code || re.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %d %s, want %d", c.name, re.Status, re.Code, re.Message, c.code)
		}
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages stored by refused requests", n)
	}
}

// TestServer_WhatsApp_FailNextAndService: injected failures come after
// the message was accepted, in order; a Messaging Service sends WhatsApp
// from its WhatsApp sender.
func TestServer_WhatsApp_FailNextAndService(t *testing.T) {
	clk := newClock()
	s, got, cbURL := whatsApp(t, clk)
	rc := rest(t, s, testAccount, testToken)
	s.Inbound(waAlice)
	s.FailNext(waAlice, 63018, 2)
	for i, want := range []string{"63018", "63018", ""} {
		p := (&openapi.CreateMessageParams{}).SetTo(waAlice).SetMessagingServiceSid(testService).SetBody("hi").SetStatusCallback(cbURL)
		m, err := rc.Api.CreateMessage(p)
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if want == "" {
			break
		}
		c := receive(t, got)
		if c.form.Get("MessageSid") != str(m.Sid) || c.form.Get("ErrorCode") != want || c.form.Get("From") != "whatsapp:"+waSender {
			t.Fatalf("callback %d: %v", i, c.form)
		}
	}
	select {
	case c := <-got:
		t.Fatalf("the third message failed too: %v", c.form)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestServer_WhatsApp_SendersAndApprovals: the Messaging API lists the
// WhatsApp senders with their webhook, the Content API says whether a
// template is approved.
func TestServer_WhatsApp_SendersAndApprovals(t *testing.T) {
	s, _, _ := whatsApp(t, newClock())
	if !s.SetWhatsAppWebhook(waSender, "https://bot.example.com/webhooks/twilio/sms") || s.SetWhatsAppWebhook(botNumber, "x") {
		t.Fatal("SetWhatsAppWebhook")
	}
	rc := rest(t, s, testAccount, testToken)
	senders, err := rc.MessagingV2.ListChannelsSender((&messaging.ListChannelsSenderParams{}).SetChannel("whatsapp"))
	if err != nil || len(senders) != 1 {
		t.Fatalf("senders %+v %v", senders, err)
	}
	if str(senders[0].SenderId) != "whatsapp:"+waSender || str(senders[0].Status) != "ONLINE" ||
		senders[0].Webhook == nil || str(senders[0].Webhook.CallbackUrl) != "https://bot.example.com/webhooks/twilio/sms" {
		t.Fatalf("sender %+v", senders[0])
	}
	a, err := rc.ContentV1.FetchApprovalFetch(waContent)
	if err != nil || a.Whatsapp == nil || (*a.Whatsapp)["status"] != "approved" || (*a.Whatsapp)["name"] != "smsbot_replaced" {
		t.Fatalf("approval %+v %v", a, err)
	}
	_, err = rc.ContentV1.FetchApprovalFetch("HX00000000000000000000000000000000")
	if re := restError(t, err); re.Status != http.StatusNotFound {
		t.Fatalf("unknown template: %+v", re)
	}
	bad := rest(t, s, testAccount, "wrongtoken0000000000000000000000")
	_, err = bad.MessagingV2.ListChannelsSender(nil)
	if err == nil {
		t.Fatal("listed with a wrong token")
	}
	if re := restError(t, err); re.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %+v", re)
	}
}
