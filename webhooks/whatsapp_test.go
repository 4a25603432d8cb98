package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	waNumber  = "+15005550006"
	waPhone   = "+15555550101"
	waContent = "HX0123456789abcdef0123456789abcdef"
)

// waInbound is a WhatsApp message as Twilio posts it.
func waInbound(body string) url.Values {
	f := inbound(body)
	f.Set("From", "whatsapp:"+waPhone)
	f.Set("To", "whatsapp:"+waNumber)
	f.Set("ProfileName", "Alice")
	f.Set("WaId", strings.TrimPrefix(waPhone, "+"))
	f.Set("MessageType", "text")
	return f
}

// TestServer_HandleSMS_WhatsApp: a WhatsApp message reaches the
// conversation as the bare number with its channel; a tapped button is
// its payload, else its text.
func TestServer_HandleSMS_WhatsApp(t *testing.T) {
	conv := &fakeConversation{reply: "hello"}
	s := &webhooks.Server{Conversation: conv, Statuses: &fakeStatuses{}, PublicURL: public, AuthToken: token}
	post := func(form url.Values) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.HandleSMS(w, signed("/webhooks/twilio/sms", form))
		return w
	}
	if w := post(waInbound("S")); w.Code != 200 || !strings.Contains(w.Body.String(), "<Message>hello</Message>") {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	button := waInbound("Stop messages")
	button.Set("ButtonText", "Stop messages")
	button.Set("ButtonPayload", "STOP")
	textOnly := waInbound("")
	textOnly.Del("Body")
	textOnly.Set("ButtonText", "H")
	if w := post(button); w.Code != 200 {
		t.Fatalf("button: %d %s", w.Code, w.Body)
	}
	if w := post(textOnly); w.Code != 200 {
		t.Fatalf("button without a body: %d %s", w.Code, w.Body)
	}
	want := []bot.Inbound{
		{From: waPhone, Body: "S", Channel: bot.ChannelWhatsApp},
		{From: waPhone, Body: "STOP", Channel: bot.ChannelWhatsApp},
		{From: waPhone, Body: "H", Channel: bot.ChannelWhatsApp},
	}
	if len(conv.calls) != len(want) {
		t.Fatalf("calls %+v", conv.calls)
	}
	for i, c := range conv.calls {
		c.MessageSID = ""
		if c != want[i] {
			t.Errorf("call %d: %+v, want %+v", i, c, want[i])
		}
	}
	// An SMS is SMS; other channels' addresses are not phone numbers.
	post(inbound("S"))
	if last := conv.calls[len(conv.calls)-1]; last.Channel != bot.ChannelSMS || last.From != "+15555550101" {
		t.Fatalf("SMS: %+v", last)
	}
	for _, from := range []string{"whatsapp:", "whatsapp:15555550101", "messenger:123", "whatsapp:whatsapp:+15555550101"} {
		f := waInbound("S")
		f.Set("From", from)
		if w := post(f); w.Code != http.StatusBadRequest {
			t.Errorf("From %q: %d", from, w.Code)
		}
	}
	noBody := waInbound("")
	noBody.Del("Body")
	if w := post(noBody); w.Code != http.StatusBadRequest {
		t.Errorf("no Body and no button: %d", w.Code)
	}
}

// fakeRedelivery records what the status callbacks sorted.
type fakeRedelivery struct {
	mu  sync.Mutex
	got []string
}

func (f *fakeRedelivery) Undelivered(ctx context.Context, sid string, de *bot.DeliveryError) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, fmt.Sprintf("%s %d window=%v permanent=%v later=%v", sid, de.Code, de.WindowClosed, de.Permanent, de.RetryAfter > 0))
	return nil
}

// lostConversation records NumberLost.
type lostConversation struct {
	fakeConversation
	lost []string
}

func (c *lostConversation) NumberLost(ctx context.Context, phone, ref string, code int) error {
	c.lost = append(c.lost, fmt.Sprintf("%s %s %d", phone, ref, code))
	return nil
}

// TestServer_HandleStatus_WhatsApp: a WhatsApp failure goes to the
// outbox, sorted by its code, and never counts towards a suspension; the
// status is kept under the bare number.
func TestServer_HandleStatus_WhatsApp(t *testing.T) {
	conv := &lostConversation{}
	st := &fakeStatuses{}
	red := &fakeRedelivery{}
	s := &webhooks.Server{Conversation: conv, Statuses: st, Redelivery: red, PublicURL: public, AuthToken: token}
	callback := func(msid, to, status, code string) {
		t.Helper()
		f := url.Values{"MessageSid": {msid}, "MessageStatus": {status}, "To": {to}, "From": {"whatsapp:" + waNumber}, "ChannelPrefix": {"whatsapp"}}
		if code != "" {
			f.Set("ErrorCode", code)
		}
		w := httptest.NewRecorder()
		s.HandleStatus(w, signed("/webhooks/twilio/status", f))
		if w.Code != http.StatusNoContent {
			t.Fatalf("%s %s: %d %s", status, code, w.Code, w.Body)
		}
	}
	const a, b, c, d, e = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "SMcccccccccccccccccccccccccccccccc", "SMdddddddddddddddddddddddddddddddd", "SMeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	wa := "whatsapp:" + waPhone
	callback(a, wa, "failed", "63016")
	callback(b, wa, "undelivered", "63018")
	callback(c, wa, "failed", "63024")
	callback(d, wa, "failed", "30005")      // an SMS code on WhatsApp: no rule
	callback(e, wa, "delivered", "")        // no failure
	callback(e, waPhone, "failed", "30005") // SMS: counts towards a suspension
	want := []string{
		a + " 63016 window=true permanent=false later=false",
		b + " 63018 window=false permanent=false later=true",
		c + " 63024 window=false permanent=true later=false",
	}
	if fmt.Sprint(red.got) != fmt.Sprint(want) {
		t.Fatalf("redelivery got\n%v\nwant\n%v", red.got, want)
	}
	if len(conv.lost) != 1 || conv.lost[0] != waPhone+" "+e+" 30005" {
		t.Fatalf("NumberLost %v, want only the SMS failure", conv.lost)
	}
	if !strings.HasPrefix(st.seen[0], a+" "+waPhone+" failed 63016") {
		t.Fatalf("recorded %v, want the bare number", st.seen)
	}
}

// newWhatsAppSender is a Sender with a WhatsApp sender and a template for
// the displaced-phone notice, against the stand-in.
func newWhatsAppSender(t *testing.T) (*webhooks.Sender, *twiliotest.Server) {
	t.Helper()
	tw := twiliotest.New(twiliotest.Options{AccountSID: sid, AuthToken: token, Numbers: []string{number},
		MessagingServiceSIDs: []string{service}, WhatsApp: []string{waNumber},
		Contents: map[string]twiliotest.Content{waContent: {Name: "replaced", Body: "{{1}}: no longer linked to {{2}}."}}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	hc := tw.Client()
	hc.Timeout = 500 * time.Millisecond
	rc, err := webhooks.NewRestClient(webhooks.ClientConfig{AccountSID: sid, AuthToken: token, APIURL: tw.URL(), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return &webhooks.Sender{Client: rc, From: number, WhatsAppFrom: waNumber, Templates: map[string]string{bot.ReplyReplaced: waContent},
		StatusCallback: public + "/webhooks/twilio/status"}, tw
}

// TestSender_Send_WhatsApp: inside the window the text goes as it is,
// from the WhatsApp sender; outside it, as its template, or not at all.
func TestSender_Send_WhatsApp(t *testing.T) {
	s, tw := newWhatsAppSender(t)
	ctx := context.Background()
	wa := "whatsapp:" + waPhone
	tw.Inbound(wa)
	notice := func(open bool) *bot.Job {
		return &bot.Job{Kind: bot.JobSMS, To: waPhone, Body: "smsbot: no longer linked to y***@example.com; send S.",
			Channel: bot.ChannelWhatsApp, Template: bot.ReplyReplaced, Vars: `{"1":"smsbot","2":"y***@example.com"}`, WindowOpen: open}
	}
	free, err := s.Send(ctx, notice(true))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := s.Send(ctx, notice(false))
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := tw.Message(free)
	m2, _ := tw.Message(tmpl)
	if m1.To != wa || m1.From != "whatsapp:"+waNumber || m1.ContentSID != "" || m1.Body != notice(true).Body {
		t.Fatalf("free-form: %+v", m1)
	}
	if m2.To != wa || m2.ContentSID != waContent || m2.Body != "smsbot: no longer linked to y***@example.com." {
		t.Fatalf("template: %+v", m2)
	}
	// No template for the reply, or none at all: skipped, nothing sent.
	for _, j := range []*bot.Job{
		{Kind: bot.JobSMS, To: waPhone, Body: "Den 20C", Channel: bot.ChannelWhatsApp},
		{Kind: bot.JobSMS, To: waPhone, Body: "prompt", Channel: bot.ChannelWhatsApp, Template: bot.ReplyCodePrompt},
	} {
		_, err := s.Send(ctx, j)
		var de *bot.DeliveryError
		if !errors.As(err, &de) || !de.Skipped || !strings.Contains(de.Error(), "24-hour window") {
			t.Fatalf("outside the window without a template: %#v", err)
		}
	}
	if n := len(tw.Messages()); n != 2 {
		t.Fatalf("%d messages at Twilio, want 2", n)
	}
	// Through a Messaging Service when there is no WhatsApp sender of our
	// own; no sender at all is a misconfiguration.
	s.WhatsAppFrom, s.MessagingServiceSID = "", service
	sid, err := s.Send(ctx, notice(true))
	if m, _ := tw.Message(sid); err != nil || m.MessagingServiceSID != service || m.To != wa {
		t.Fatalf("through the service: %+v %v", m, err)
	}
	s.MessagingServiceSID = ""
	_, err = s.Send(ctx, notice(true))
	var de *bot.DeliveryError
	if !errors.As(err, &de) || !de.BadSender || !strings.Contains(de.Error(), "TWILIO_WHATSAPP_FROM") {
		t.Fatalf("no WhatsApp sender: %#v", err)
	}
}

// TestSender_Send_WhatsApp_AmbiguousTemplate: a template send whose
// answer was lost is found at Twilio by its recipient and sender, though
// its body is Twilio's rendering, and not sent again; a message another
// job delivered is never taken for it.
func TestSender_Send_WhatsApp_AmbiguousTemplate(t *testing.T) {
	s, tw := newWhatsAppSender(t)
	ctx := context.Background()
	other, err := s.Send(ctx, &bot.Job{Kind: bot.JobSMS, To: waPhone, Body: "x", Channel: bot.ChannelWhatsApp, Template: bot.ReplyReplaced,
		Vars: `{"1":"smsbot","2":"a***@example.com"}`})
	if err != nil {
		t.Fatal(err)
	}
	job := &bot.Job{Kind: bot.JobSMS, To: waPhone, Body: "smsbot: no longer linked; send S.", Channel: bot.ChannelWhatsApp,
		Template: bot.ReplyReplaced, Vars: `{"1":"smsbot","2":"y***@example.com"}`}
	first := time.Now()
	tw.SetFaults(twiliotest.Faults{RateDropAfter: 1})
	_, err = s.Send(ctx, job)
	var de *bot.DeliveryError
	if !errors.As(err, &de) || !de.Ambiguous {
		t.Fatalf("lost answer: %#v", err)
	}
	tw.SetFaults(twiliotest.Faults{})
	job.Ambiguous, job.FirstTry, job.Taken = true, first, []string{other}
	got, err := s.Send(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tw.Message(got)
	if got == other || m.ContentSID != waContent || !strings.Contains(m.Body, "y***@example.com") {
		t.Fatalf("found %s: %+v", got, m)
	}
	if n := len(tw.Messages()); n != 2 {
		t.Fatalf("%d messages at Twilio, want 2: the retry sent the template again", n)
	}
}

// TestSender_Send_WhatsAppCodes: Twilio's WhatsApp errors answered to the
// request are sorted like the SMS ones.
func TestSender_Send_WhatsAppCodes(t *testing.T) {
	s, _ := newWhatsAppSender(t)
	s.WhatsAppFrom = "+15005550009" // not a WhatsApp sender: 63007
	_, err := s.Send(context.Background(), &bot.Job{Kind: bot.JobSMS, To: waPhone, Body: "x", Channel: bot.ChannelWhatsApp, WindowOpen: true})
	var de *bot.DeliveryError
	if !errors.As(err, &de) || !de.BadSender || !de.Permanent || de.Code != 63007 {
		t.Fatalf("63007: %#v", err)
	}
}
