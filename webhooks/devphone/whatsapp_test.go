package devphone_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks/devphone"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// TestPhone_WhatsApp: a phone writing as a WhatsApp user posts Twilio's
// WhatsApp webhook (whatsapp: addresses, signed), gets no carrier reply
// to STOP, opens the stand-in's 24-hour window, and sees the bot's REST
// messages to its WhatsApp address in its one conversation.
func TestPhone_WhatsApp(t *testing.T) {
	const waBot = "+15555550177"
	e := newEnv(t, func(o *devphone.Options) { o.WhatsAppNumber = waBot }, false)
	req, _ := json.Marshal(map[string]any{"from": alice, "body": "STOP", "whatsapp": true})
	status, b := e.post(t, "application/json", string(req))
	if status != http.StatusOK {
		t.Fatalf("send: %d %s", status, b)
	}
	var res devphone.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	hook := e.bot.next(t)
	if !hook.valid {
		t.Error("the bot could not validate X-Twilio-Signature")
	}
	for k, want := range map[string]string{
		"From": "whatsapp:" + alice, "To": "whatsapp:" + waBot, "Body": "STOP", "WaId": alice[1:], "MessageType": "text",
	} {
		if got := hook.form.Get(k); got != want {
			t.Errorf("webhook %s = %q, want %q", k, got, want)
		}
	}
	if hook.form.Has("FromCountry") {
		t.Error("a WhatsApp webhook with SMS geography")
	}
	// Twilio does not handle STOP on WhatsApp: only the bot's answer.
	if len(res.Replies) != 1 || res.Replies[0].Source != devphone.SourceReply || res.Replies[0].Channel != "whatsapp" ||
		res.Message.Channel != "whatsapp" || res.OptedOut || e.twilio.OptedOut(alice) {
		t.Fatalf("result %+v", res)
	}
	if !e.twilio.WindowOpen("whatsapp:"+alice) || e.twilio.WindowOpen("whatsapp:"+bob) {
		t.Fatal("the stand-in's window did not open for alice alone")
	}
	// The same phone by SMS: Twilio's keywords apply again.
	if res := e.send(t, alice, "STOP"); len(res.Replies) == 0 || res.Replies[0].Source != devphone.SourceTwilio || res.Message.Channel != "sms" {
		t.Fatalf("SMS STOP: %+v", res)
	}
	e.bot.next(t)

	// The bot's REST message to the WhatsApp address joins the
	// conversation under the bare number, marked WhatsApp.
	p := (&openapi.CreateMessageParams{}).SetTo("whatsapp:" + alice).SetFrom("whatsapp:" + botNumber).SetBody("later")
	if _, err := e.rest.Api.CreateMessage(p); err == nil {
		t.Fatal("the stand-in took a WhatsApp message from a number that is no WhatsApp sender")
	}
	msgs := e.messages(t, alice)
	if n := len(msgs); n < 4 {
		t.Fatalf("conversation %s", summary(msgs))
	}
	var chans []string
	for _, m := range msgs {
		chans = append(chans, m.Channel)
	}
	if chans[0] != "whatsapp" || chans[1] != "whatsapp" || chans[2] != "sms" {
		t.Fatalf("channels %v: %s", chans, summary(msgs))
	}
}

// TestPhone_WhatsApp_RESTEntries: a WhatsApp message the bot sent through
// the stand-in shows as WhatsApp, a template as one, and a free-form
// message outside the window as failed with 63016.
func TestPhone_WhatsApp_RESTEntries(t *testing.T) {
	const waBot = "+15555550177"
	const content = "HX0123456789abcdef0123456789abcdef"
	tw := twiliotest.New(twiliotest.Options{AccountSID: account, AuthToken: token, Numbers: []string{botNumber},
		WhatsApp: []string{waBot}, Contents: map[string]twiliotest.Content{content: {Name: "n", Body: "{{1}} says hi"}}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	e := newEnv(t, func(o *devphone.Options) { o.Twilio, o.WhatsAppNumber = tw, waBot }, false)
	c := &client.Client{Credentials: client.NewCredentials(account, token), HTTPClient: tw.Client()}
	c.SetAccountSid(account)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	send := func(p *openapi.CreateMessageParams) {
		t.Helper()
		if _, err := rc.Api.CreateMessage(p.SetTo("whatsapp:" + alice).SetFrom("whatsapp:" + waBot)); err != nil {
			t.Fatal(err)
		}
	}
	send((&openapi.CreateMessageParams{}).SetBody("free-form, window closed"))
	send((&openapi.CreateMessageParams{}).SetContentSid(content).SetContentVariables(`{"1":"smsbot"}`))
	deadline := time.Now().Add(5 * time.Second)
	for m := e.messages(t, alice); len(m) != 2 || m[0].Status != "failed"; m = e.messages(t, alice) {
		if time.Now().After(deadline) {
			t.Fatalf("conversation %s", summary(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
	msgs := e.messages(t, alice)
	if m := msgs[0]; m.Channel != "whatsapp" || m.ErrorCode != twiliotest.CodeOutsideWindow || m.Error == "" || m.Phone != alice {
		t.Fatalf("free-form outside the window: %+v", m)
	}
	if m := msgs[1]; m.Channel != "whatsapp" || m.Template != content || m.Body != "smsbot says hi" {
		t.Fatalf("template: %+v", m)
	}
}
