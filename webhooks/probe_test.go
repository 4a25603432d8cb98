package webhooks_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

func newAdmin(t *testing.T, authToken string) (*webhooks.Admin, *twiliotest.Server) {
	t.Helper()
	tw := twiliotest.New(twiliotest.Options{AccountSID: sid, AuthToken: token, Numbers: []string{number}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	a, err := webhooks.NewAdmin(webhooks.ClientConfig{AccountSID: sid, AuthToken: authToken, APIURL: tw.URL(), HTTPClient: tw.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return a, tw
}

func TestAdmin_Number(t *testing.T) {
	a, tw := newAdmin(t, token)
	if acct, err := a.Account(); err != nil || acct.Status != "active" {
		t.Fatalf("account: %+v %v", acct, err)
	}
	if n, err := a.Number("+15005550999"); n != nil || err != nil {
		t.Fatalf("a number the account lacks: %+v %v", n, err)
	}
	const voice = "https://voice.example.com/call-status"
	tw.SetStatusCallback(number, voice)
	n, err := a.Number(number)
	if err != nil || n == nil || !strings.HasPrefix(n.SID, "PN") {
		t.Fatalf("number: %+v %v", n, err)
	}
	if err := a.SetNumberSMS(n.SID, public+"/webhooks/twilio/sms"); err != nil {
		t.Fatal(err)
	}
	got, _ := tw.Number(number)
	if got.SmsURL != public+"/webhooks/twilio/sms" || got.SmsMethod != http.MethodPost || got.StatusCallback != voice {
		t.Fatalf("after SetNumberSMS (the voice status callback must stay): %+v", got)
	}
	if n, _ = a.Number(number); n.SMSURL != got.SmsURL || n.SMSMethod != http.MethodPost {
		t.Fatalf("number read back: %+v", n)
	}
}

func TestAdmin_Errors(t *testing.T) {
	a, _ := newAdmin(t, "wrongtoken00000000000000000000000")
	_, err := a.Account()
	var ae *webhooks.APIError
	if !errors.As(err, &ae) || ae.Code != 20003 || webhooks.ErrorCode(err) != 20003 {
		t.Fatalf("wrong token: %v", err)
	}

	// Nothing listens: the error names the host actually called.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down, err := webhooks.NewAdmin(webhooks.ClientConfig{AccountSID: sid, AuthToken: token, APIURL: "https://" + addr,
		HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = down.Account()
	if err == nil || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "api.twilio.com") || webhooks.ErrorCode(err) != 0 {
		t.Fatalf("unreachable API: %v", err)
	}
}
