package twiliotest_test

import (
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

func TestServer_FetchAccount(t *testing.T) {
	s := start(t, nil)
	rc := rest(t, s, testAccount, testToken)

	a, err := rc.Api.FetchAccount(testAccount)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if str(a.Sid) != testAccount || str(a.Status) != "active" || str(a.FriendlyName) == "<nil>" {
		t.Errorf("account = sid %q status %q name %q", str(a.Sid), str(a.Status), str(a.FriendlyName))
	}

	_, err = rc.Api.FetchAccount("AC00000000000000000000000000000000")
	if re := restError(t, err); re.Code != 20404 || re.Status != 404 {
		t.Errorf("other account: %+v, want 20404/404", re)
	}

	_, err = rest(t, s, testAccount, "0000feedf00dfeedf00dfeedf00dfeed").Api.FetchAccount(testAccount)
	if re := restError(t, err); re.Code != 20003 || re.Status != 401 {
		t.Errorf("bad token: %+v, want 20003/401", re)
	}
}

func TestServer_IncomingPhoneNumbers(t *testing.T) {
	s := start(t, nil)
	rc := rest(t, s, testAccount, testToken)

	find := func(t *testing.T, phone string) []openapi.ApiV2010IncomingPhoneNumber {
		t.Helper()
		ns, err := rc.Api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(phone))
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return ns
	}

	ns := find(t, botNumber)
	if len(ns) != 1 || str(ns[0].PhoneNumber) != botNumber {
		t.Fatalf("list %s = %+v, want the one number", botNumber, ns)
	}
	sid := str(ns[0].Sid)
	if len(sid) != 34 || sid[:2] != "PN" {
		t.Errorf("sid = %q, want PN + 32 hex", sid)
	}
	if str(ns[0].FriendlyName) != "(555) 555-0100" || str(ns[0].SmsMethod) != "POST" {
		t.Errorf("friendly_name %q sms_method %q", str(ns[0].FriendlyName), str(ns[0].SmsMethod))
	}
	if again := twiliotest.New(twiliotest.Options{AccountSID: testAccount, Numbers: []string{botNumber}}); true {
		if n, _ := again.Number(botNumber); n.SID != sid {
			t.Errorf("SID not stable: %q then %q", sid, n.SID)
		}
	}
	if got := find(t, "*0101"); len(got) != 1 || str(got[0].PhoneNumber) != otherNumber {
		t.Errorf("wildcard filter found %+v, want %s", got, otherNumber)
	}
	if got := find(t, "+15555550199"); len(got) != 0 {
		t.Errorf("unknown number found %+v", got)
	}
	all, err := rc.Api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPageSize(1))
	if err != nil || len(all) != 2 {
		t.Errorf("list all in pages of one = %d numbers, %v; want 2", len(all), err)
	}

	p := &openapi.UpdateIncomingPhoneNumberParams{}
	p.SetSmsUrl("https://bot.example/webhooks/twilio/sms").SetSmsMethod("post").
		SetStatusCallback("https://bot.example/webhooks/twilio/status")
	up, err := rc.Api.UpdateIncomingPhoneNumber(sid, p)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if str(up.SmsUrl) != "https://bot.example/webhooks/twilio/sms" || str(up.SmsMethod) != "POST" ||
		str(up.StatusCallback) != "https://bot.example/webhooks/twilio/status" {
		t.Errorf("update answered sms_url %q sms_method %q status_callback %q",
			str(up.SmsUrl), str(up.SmsMethod), str(up.StatusCallback))
	}
	cfg, ok := s.Number(botNumber)
	want := twiliotest.NumberConfig{
		SID: sid, PhoneNumber: botNumber, FriendlyName: "(555) 555-0100",
		SmsURL: "https://bot.example/webhooks/twilio/sms", SmsMethod: "POST",
		StatusCallback: "https://bot.example/webhooks/twilio/status",
	}
	if !ok || cfg != want {
		t.Errorf("Number(%s) = %+v, %v; want %+v", botNumber, cfg, ok, want)
	}
	if cfg, _ := s.Number(otherNumber); cfg.SmsURL != "" {
		t.Errorf("the other number changed too: %+v", cfg)
	}
	if _, ok := s.Number("+15555550199"); ok {
		t.Error("Number found a number the account does not own")
	}

	got, err := rc.Api.FetchIncomingPhoneNumber(sid, nil)
	if err != nil || str(got.SmsUrl) != want.SmsURL {
		t.Errorf("fetch = %v, %v", got, err)
	}

	_, err = rc.Api.UpdateIncomingPhoneNumber("PN00000000000000000000000000000000", p)
	if re := restError(t, err); re.Code != 20404 || re.Status != 404 {
		t.Errorf("unknown sid: %+v, want 20404/404", re)
	}
}
