package twiliotest_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

func TestSignature(t *testing.T) {
	// The example of twilio-go's own validator tests.
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	if got := webhooks.Signature("12345", u, params); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Errorf("Signature = %q, want twilio-go's expected value", got)
	}
	v := client.NewRequestValidator("12345")
	flat := map[string]string{}
	for k, vs := range params {
		flat[k] = vs[0]
	}
	if !v.Validate(u, flat, webhooks.Signature("12345", u, params)) {
		t.Error("RequestValidator rejects Signature")
	}
	if v.Validate(u, flat, webhooks.Signature("54321", u, params)) {
		t.Error("RequestValidator accepts a signature made with another token")
	}
}

// callback is one status callback the test server received.
type callback struct {
	form  url.Values
	valid bool
}

func TestServer_StatusCallbacks(t *testing.T) {
	got := make(chan callback, 10)
	var callbackURL string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse callback: %v", err)
		}
		params := map[string]string{}
		for k, vs := range r.PostForm {
			params[k] = vs[0]
		}
		v := client.NewRequestValidator(testToken)
		got <- callback{form: r.PostForm, valid: v.Validate(callbackURL, params, r.Header.Get("X-Twilio-Signature"))}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer cb.Close()
	callbackURL = cb.URL + "/webhooks/twilio/status?tenant=a"

	s := start(t, func(o *twiliotest.Options) {
		o.DeliverStatus = true
		o.CallbackClient = cb.Client()
	})
	rc := rest(t, s, testAccount, testToken)
	statuses, stop := s.SubscribeStatus()
	defer stop()

	p := &openapi.CreateMessageParams{}
	p.SetTo(alice).SetFrom(botNumber).SetBody("tracked").SetStatusCallback(callbackURL)
	m, err := rc.Api.CreateMessage(p)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, want := range []string{"sent", "delivered"} {
		c := receive(t, got)
		if !c.valid {
			t.Errorf("%s callback: signature does not validate", want)
		}
		for k, v := range map[string]string{
			"MessageSid": str(m.Sid), "MessageStatus": want, "To": alice, "From": botNumber, "AccountSid": testAccount,
		} {
			if c.form.Get(k) != v {
				t.Errorf("%s callback: %s = %q, want %q", want, k, c.form.Get(k), v)
			}
		}
		if c.form.Has("ErrorCode") {
			t.Errorf("%s callback has ErrorCode %q", want, c.form.Get("ErrorCode"))
		}
		if st := receive(t, statuses); st.SID != str(m.Sid) || st.Status != want {
			t.Errorf("status feed gave %s %s, want %s", st.SID, st.Status, want)
		}
	}
	if cur, _ := s.Message(str(m.Sid)); cur.Status != "delivered" || cur.DateSent.IsZero() {
		t.Errorf("message now %q sent at %v", cur.Status, cur.DateSent)
	}

	// Through a Messaging Service, the sender is assigned when sent.
	p = &openapi.CreateMessageParams{}
	p.SetTo(bob).SetMessagingServiceSid(testService).SetBody("pooled")
	if _, err := rc.Api.CreateMessage(p); err != nil {
		t.Fatalf("create via service: %v", err)
	}
	if st := receive(t, statuses); st.Status != "sent" || st.From != botNumber || st.NumSegments != 1 {
		t.Errorf("service message sent as %+v, want From %s and 1 segment", st, botNumber)
	}
	select {
	case c := <-got:
		t.Errorf("callback %v for a message without StatusCallback", c.form)
	default:
	}
}
