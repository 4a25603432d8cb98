package twiliotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

func TestServer_CreateMessage(t *testing.T) {
	t.Run("SendAndReadBack", func(t *testing.T) {
		clk := newClock()
		s := start(t, func(o *twiliotest.Options) { o.Now = clk.Now })
		rc := rest(t, s, testAccount, testToken)

		p := &openapi.CreateMessageParams{}
		p.SetTo(alice).SetFrom(botNumber).SetBody("Hello from the bot").SetStatusCallback("https://bot.example/status")
		m, err := rc.Api.CreateMessage(p)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		sid := str(m.Sid)
		if !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
			t.Errorf("sid = %q, want SM + 32 hex", sid)
		}
		wantDate := clk.Now().Format(time.RFC1123Z)
		for name, got := range map[string]string{
			"status":       str(m.Status),
			"to":           str(m.To),
			"from":         str(m.From),
			"body":         str(m.Body),
			"account_sid":  str(m.AccountSid),
			"date_created": str(m.DateCreated),
			"num_segments": str(m.NumSegments),
			"direction":    str(m.Direction),
			"uri":          str(m.Uri),
		} {
			want := map[string]string{
				"status":       "queued",
				"to":           alice,
				"from":         botNumber,
				"body":         "Hello from the bot",
				"account_sid":  testAccount,
				"date_created": wantDate,
				"num_segments": "1",
				"direction":    "outbound-api",
				"uri":          "/2010-04-01/Accounts/" + testAccount + "/Messages/" + sid + ".json",
			}[name]
			if got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if m.ErrorCode != nil || m.DateSent != nil || m.MessagingServiceSid != nil {
			t.Errorf("error_code, date_sent, messaging_service_sid = %v, %v, %v; want nulls",
				m.ErrorCode, m.DateSent, m.MessagingServiceSid)
		}

		got, err := rc.Api.FetchMessage(sid, nil)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if str(got.Sid) != sid || str(got.Body) != "Hello from the bot" || str(got.To) != alice {
			t.Errorf("fetched %+v, want the message just sent", got)
		}

		all := s.Messages()
		if len(all) != 1 {
			t.Fatalf("Messages() has %d messages, want 1", len(all))
		}
		want := twiliotest.Message{
			SID: sid, AccountSID: testAccount, To: alice, From: botNumber, Body: "Hello from the bot",
			Status: "queued", StatusCallback: "https://bot.example/status",
			DateCreated: clk.Now(), DateUpdated: clk.Now(), NumSegments: 1,
		}
		if all[0] != want {
			t.Errorf("Messages()[0] = %+v, want %+v", all[0], want)
		}
		if to := s.MessagesTo(alice); len(to) != 1 || to[0].SID != sid {
			t.Errorf("MessagesTo(alice) = %+v", to)
		}
		if to := s.MessagesTo(bob); len(to) != 0 {
			t.Errorf("MessagesTo(bob) = %+v, want none", to)
		}
	})

	t.Run("FetchUnknown", func(t *testing.T) {
		s := start(t, nil)
		_, err := rest(t, s, testAccount, testToken).Api.FetchMessage("SM00000000000000000000000000000000", nil)
		if re := restError(t, err); re.Code != 20404 || re.Status != 404 {
			t.Errorf("error = %+v, want 20404/404", re)
		}
	})

	t.Run("Validation", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		for _, tc := range []struct {
			name string
			set  func(*openapi.CreateMessageParams)
			code int
		}{
			{"MissingTo", func(p *openapi.CreateMessageParams) { p.SetFrom(botNumber).SetBody("x") }, 21604},
			{"ToNotE164", func(p *openapi.CreateMessageParams) { p.SetTo("5555550123").SetFrom(botNumber).SetBody("x") }, 21211},
			{"ToLetters", func(p *openapi.CreateMessageParams) { p.SetTo("+1555CALLNOW").SetFrom(botNumber).SetBody("x") }, 21211},
			{"NoSender", func(p *openapi.CreateMessageParams) { p.SetTo(alice).SetBody("x") }, 21603},
			{"FromNotOwned", func(p *openapi.CreateMessageParams) { p.SetTo(alice).SetFrom("+15555550199").SetBody("x") }, 21606},
			{"ServiceMalformed", func(p *openapi.CreateMessageParams) { p.SetTo(alice).SetMessagingServiceSid("MG123").SetBody("x") }, 21705},
			{"ServiceUnknown", func(p *openapi.CreateMessageParams) {
				p.SetTo(alice).SetMessagingServiceSid("MGffffffffffffffffffffffffffffffff").SetBody("x")
			}, 21701},
			{"MissingBody", func(p *openapi.CreateMessageParams) { p.SetTo(alice).SetFrom(botNumber) }, 21602},
			{"BodyTooLong", func(p *openapi.CreateMessageParams) {
				p.SetTo(alice).SetFrom(botNumber).SetBody(strings.Repeat("é", 1601))
			}, 21617},
			{"ToIsFrom", func(p *openapi.CreateMessageParams) { p.SetTo(botNumber).SetFrom(botNumber).SetBody("x") }, 21266},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := &openapi.CreateMessageParams{}
				tc.set(p)
				_, err := rc.Api.CreateMessage(p)
				re := restError(t, err)
				if re.Code != tc.code || re.Status != 400 {
					t.Errorf("code/status = %d/%d, want %d/400", re.Code, re.Status, tc.code)
				}
				if want := "https://www.twilio.com/docs/errors/"; !strings.HasPrefix(re.MoreInfo, want) || re.Message == "" {
					t.Errorf("error = %+v, want a message and more_info under %s", re, want)
				}
			})
		}
		if n := len(s.Messages()); n != 0 {
			t.Errorf("%d messages stored after only invalid requests", n)
		}

		// The limit is 1600 characters, not bytes.
		if _, err := send(rc, alice, strings.Repeat("é", 1600)); err != nil {
			t.Errorf("1600 characters refused: %v", err)
		}
	})

	t.Run("MessagingService", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		p := &openapi.CreateMessageParams{}
		p.SetTo(alice).SetMessagingServiceSid(testService).SetBody("via service")
		m, err := rc.Api.CreateMessage(p)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if str(m.Status) != "accepted" || m.From != nil || str(m.MessagingServiceSid) != testService {
			t.Errorf("status, from, service = %q, %q, %q; want accepted, null, %s",
				str(m.Status), str(m.From), str(m.MessagingServiceSid), testService)
		}
	})

	t.Run("BadCredentials", func(t *testing.T) {
		s := start(t, nil)
		for _, tc := range []struct{ name, account, token string }{
			{"WrongToken", testAccount, "0000feedf00dfeedf00dfeedf00dfeed"},
			{"WrongAccount", "AC00000000000000000000000000000000", testToken},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := send(rest(t, s, tc.account, tc.token), alice, "hi")
				if re := restError(t, err); re.Code != 20003 || re.Status != 401 {
					t.Errorf("error = %+v, want 20003/401", re)
				}
			})
		}
		if n := len(s.Messages()); n != 0 {
			t.Errorf("%d messages stored with bad credentials", n)
		}
	})

	t.Run("OtherAccountPath", func(t *testing.T) {
		s := start(t, nil)
		p := &openapi.CreateMessageParams{}
		p.SetPathAccountSid("AC00000000000000000000000000000000").SetTo(alice).SetFrom(botNumber).SetBody("x")
		_, err := rest(t, s, testAccount, testToken).Api.CreateMessage(p)
		if re := restError(t, err); re.Code != 20404 || re.Status != 404 {
			t.Errorf("error = %+v, want 20404/404", re)
		}
	})

	t.Run("OptOut", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		s.OptOut(alice)
		if !s.OptedOut(alice) {
			t.Fatal("OptedOut(alice) = false after OptOut")
		}
		_, err := send(rc, alice, "still there?")
		if re := restError(t, err); re.Code != 21610 || re.Status != 400 {
			t.Errorf("error = %+v, want 21610/400", re)
		}
		if _, err := send(rc, bob, "hi bob"); err != nil {
			t.Errorf("send to bob: %v", err)
		}
		s.OptIn(alice)
		if _, err := send(rc, alice, "welcome back"); err != nil {
			t.Errorf("send after OptIn: %v", err)
		}
		if n := len(s.MessagesTo(alice)); n != 1 {
			t.Errorf("alice has %d messages, want 1", n)
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		for _, m := range []struct{ to, body string }{
			{alice, "code 123"}, {alice, "code 123"}, {alice, "other"}, {bob, "code 123"}, {alice, "code 123"},
		} {
			if _, err := send(rc, m.to, m.body); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		if got := s.Duplicates(); got != 2 {
			t.Errorf("Duplicates() = %d, want 2", got)
		}
		if got := s.Requests(); got != 5 {
			t.Errorf("Requests() = %d, want 5", got)
		}
	})
}

func TestServer_ListMessages(t *testing.T) {
	clk := newClock()
	s := start(t, func(o *twiliotest.Options) { o.Now = clk.Now })
	rc := rest(t, s, testAccount, testToken)

	// Five messages a minute apart: alice, bob, alice, alice, bob.
	var sids []string
	for i, to := range []string{alice, bob, alice, alice, bob} {
		m, err := send(rc, to, "message "+string(rune('A'+i)))
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		sids = append(sids, str(m.Sid))
		clk.Advance(time.Minute)
	}
	start := newClock().Now()

	list := func(t *testing.T, p *openapi.ListMessageParams) []string {
		t.Helper()
		ms, err := rc.Api.ListMessage(p)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, str(m.Sid))
		}
		return got
	}
	eq := func(t *testing.T, got, want []string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("got %v, want %v", got, want)
		}
	}

	t.Run("All", func(t *testing.T) {
		eq(t, list(t, nil), []string{sids[4], sids[3], sids[2], sids[1], sids[0]})
	})
	t.Run("To", func(t *testing.T) {
		eq(t, list(t, (&openapi.ListMessageParams{}).SetTo(alice)), []string{sids[3], sids[2], sids[0]})
	})
	t.Run("From", func(t *testing.T) {
		eq(t, list(t, (&openapi.ListMessageParams{}).SetFrom(otherNumber)), nil)
		eq(t, list(t, (&openapi.ListMessageParams{}).SetFrom(botNumber)), []string{sids[4], sids[3], sids[2], sids[1], sids[0]})
	})
	t.Run("DateSentAfter", func(t *testing.T) {
		p := (&openapi.ListMessageParams{}).SetTo(alice).SetDateSentAfter(start.Add(2 * time.Minute))
		eq(t, list(t, p), []string{sids[3], sids[2]})
	})
	t.Run("DateSentBefore", func(t *testing.T) {
		p := (&openapi.ListMessageParams{}).SetDateSentBefore(start.Add(time.Minute))
		eq(t, list(t, p), []string{sids[1], sids[0]})
	})
	t.Run("DateSentDay", func(t *testing.T) {
		eq(t, list(t, (&openapi.ListMessageParams{}).SetDateSent(start)), []string{sids[4], sids[3], sids[2], sids[1], sids[0]})
		eq(t, list(t, (&openapi.ListMessageParams{}).SetDateSent(start.AddDate(0, 0, 1))), nil)
	})
	t.Run("Paging", func(t *testing.T) {
		// Pages of two: the client follows next_page_uri until it is null.
		eq(t, list(t, (&openapi.ListMessageParams{}).SetPageSize(2)), []string{sids[4], sids[3], sids[2], sids[1], sids[0]})

		page, err := rc.Api.PageMessage((&openapi.ListMessageParams{}).SetTo(alice).SetPageSize(2), "", "")
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		if len(page.Messages) != 2 || page.NextPageUri == nil || page.PageSize != 2 {
			t.Fatalf("first page = %d messages, next %v, page_size %d", len(page.Messages), page.NextPageUri, page.PageSize)
		}
		next, err := url.Parse(*page.NextPageUri)
		if err != nil {
			t.Fatalf("next_page_uri: %v", err)
		}
		if q := next.Query(); q.Get("To") != alice || q.Get("PageSize") != "2" || q.Get("Page") != "1" {
			t.Errorf("next_page_uri %q lost the filter or paging", *page.NextPageUri)
		}
	})
	t.Run("LastPageNextIsNull", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet,
			"https://api.twilio.com/2010-04-01/Accounts/"+testAccount+"/Messages.json?To=%2B15555550124", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(testAccount, testToken)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		defer resp.Body.Close()
		var body map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got := string(body["next_page_uri"]); got != "null" {
			t.Errorf("next_page_uri = %s, want null", got)
		}
		var ms []map[string]any
		if err := json.Unmarshal(body["messages"], &ms); err != nil || len(ms) != 2 {
			t.Errorf("messages = %s (%v), want 2", body["messages"], err)
		}
	})
}

func TestServer_Faults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults twiliotest.Faults
		check  func(t *testing.T, err error)
		stored int
	}{
		{"429", twiliotest.Faults{Rate429: 1}, func(t *testing.T, err error) {
			if re := restError(t, err); re.Code != 20429 || re.Status != 429 {
				t.Errorf("error = %+v, want 20429/429", re)
			}
		}, 0},
		{"500", twiliotest.Faults{Rate500: 1}, func(t *testing.T, err error) {
			var re *client.TwilioRestError
			if err == nil || errors.As(err, &re) {
				t.Errorf("error = %v, want a plain (non-JSON) error", err)
			}
		}, 0},
		{"Hang", twiliotest.Faults{RateHang: 1, Hang: 20 * time.Millisecond}, wantTransportError, 0},
		{"DropBefore", twiliotest.Faults{RateDropBefore: 1}, wantTransportError, 0},
		{"DropAfter", twiliotest.Faults{RateDropAfter: 1}, wantTransportError, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, nil)
			rc := rest(t, s, testAccount, testToken)
			s.SetFaults(tc.faults)
			m, err := send(rc, alice, "ambiguous?")
			if err == nil {
				t.Fatalf("send succeeded (%s), want an error", str(m.Sid))
			}
			tc.check(t, err)
			if got := s.Requests(); got != 1 {
				t.Errorf("Requests() = %d, want 1", got)
			}
			if got := len(s.Messages()); got != tc.stored {
				t.Errorf("%d messages stored, want %d", got, tc.stored)
			}

			// With faults off, the client can find out what happened.
			s.SetFaults(twiliotest.Faults{})
			ms, err := rc.Api.ListMessage((&openapi.ListMessageParams{}).SetTo(alice))
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if len(ms) != tc.stored {
				t.Errorf("list found %d messages, want %d", len(ms), tc.stored)
			}
		})
	}

	t.Run("HangUntilClientGivesUp", func(t *testing.T) {
		s := start(t, nil)
		hc := s.Client()
		hc.Timeout = 50 * time.Millisecond
		c := &client.Client{Credentials: client.NewCredentials(testAccount, testToken), HTTPClient: hc}
		c.SetAccountSid(testAccount)
		s.SetFaults(twiliotest.Faults{RateHang: 1})
		_, err := c.SendRequest(http.MethodPost,
			"https://api.twilio.com/2010-04-01/Accounts/"+testAccount+"/Messages.json",
			url.Values{"To": {alice}, "From": {botNumber}, "Body": {"x"}}, nil)
		var ue *url.Error
		if !errors.As(err, &ue) || !ue.Timeout() {
			t.Errorf("error = %v, want a client timeout", err)
		}
	})

	t.Run("LateAnswer", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		s.SetFaults(twiliotest.Faults{RateLateAnswer: 1})
		// The create is held until its client gives up; meanwhile the
		// message is in the list already.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- postMessage(ctx, s, alice, "late") }()
		var listed []openapi.ApiV2010Message
		for deadline := time.Now().Add(10 * time.Second); len(listed) == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the message never appeared in the list")
			}
			var err error
			if listed, err = rc.Api.ListMessage((&openapi.ListMessageParams{}).SetTo(alice)); err != nil {
				t.Fatalf("list: %v", err)
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the create was answered (%v) before its client gave up", err)
		default:
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("create error = %v, want the client's cancellation", err)
		}
		if ms := s.Messages(); len(ms) != 1 || ms[0].SID != str(listed[0].Sid) {
			t.Errorf("stored %+v, listed %s", ms, str(listed[0].Sid))
		}

		// With a Hang the answer does come, late, for the listed message.
		s.SetFaults(twiliotest.Faults{RateLateAnswer: 1, Hang: 20 * time.Millisecond})
		m, err := send(rc, bob, "late but answered")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if got, ok := s.Message(str(m.Sid)); !ok || got.Body != "late but answered" {
			t.Errorf("answered %s, stored %+v", str(m.Sid), got)
		}
	})

	t.Run("Queued", func(t *testing.T) {
		s := start(t, func(o *twiliotest.Options) { o.DeliverStatus = true })
		rc := rest(t, s, testAccount, testToken)
		status, stop := s.SubscribeStatus()
		defer stop()
		after := time.Now().UTC().Truncate(24 * time.Hour) // today, before anything is sent
		s.SetFaults(twiliotest.Faults{RateQueued: 1})
		held, err := send(rc, alice, "stuck in the queue")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		s.SetFaults(twiliotest.Faults{})
		moved, err := send(rc, alice, "goes out")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		// The other message goes through; the held one never changes.
		for m := receive(t, status); m.Status != "delivered"; m = receive(t, status) {
			if m.SID != str(moved.Sid) {
				t.Fatalf("the held message moved on: %+v", m)
			}
		}
		if m, _ := s.Message(str(held.Sid)); m.Status != "queued" || !m.DateSent.IsZero() || !m.Held {
			t.Errorf("held message = %+v, want queued without a sent date", m)
		}
		list := func(p *openapi.ListMessageParams) []string {
			t.Helper()
			ms, err := rc.Api.ListMessage(p)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var sids []string
			for _, m := range ms {
				sids = append(sids, str(m.Sid))
			}
			return sids
		}
		if got := list((&openapi.ListMessageParams{}).SetTo(alice)); len(got) != 2 {
			t.Errorf("list by To = %v, want both messages", got)
		}
		if got := list((&openapi.ListMessageParams{}).SetTo(alice).SetDateSentAfter(after)); len(got) != 1 || got[0] != str(moved.Sid) {
			t.Errorf("list by DateSent> = %v, want only the sent message %s", got, str(moved.Sid))
		}
	})

	t.Run("Deterministic", func(t *testing.T) {
		f := twiliotest.Faults{Rate429: 0.2, Rate500: 0.2, RateDropBefore: 0.2, RateDropAfter: 0.2, Seed: 42}
		outcomes := func() string {
			s := start(t, nil)
			rc := rest(t, s, testAccount, testToken)
			s.SetFaults(f)
			var b strings.Builder
			for range 30 {
				_, err := send(rc, alice, "x")
				var re *client.TwilioRestError
				switch {
				case err == nil:
					b.WriteByte('.')
				case errors.As(err, &re):
					b.WriteByte('R')
				default:
					b.WriteByte('E')
				}
			}
			return fmt.Sprintf("%s stored=%d", b.String(), len(s.Messages()))
		}
		a, b := outcomes(), outcomes()
		if a != b {
			t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
		}
		if !strings.Contains(a, ".") || !strings.Contains(a, "R") || !strings.Contains(a, "E") {
			t.Errorf("outcomes %s lack a kind; the mix is not being drawn", a)
		}
	})
}

// wantTransportError checks that err is a transport failure, not an API
// error.
func wantTransportError(t *testing.T, err error) {
	t.Helper()
	var re *client.TwilioRestError
	if err == nil || errors.As(err, &re) {
		t.Errorf("error = %v, want a connection error", err)
	}
}

func TestServer_Subscribe(t *testing.T) {
	t.Run("LiveFeed", func(t *testing.T) {
		s := start(t, nil)
		rc := rest(t, s, testAccount, testToken)
		ch, stop := s.Subscribe()
		m, err := send(rc, alice, "live")
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		got := receive(t, ch)
		if got.SID != str(m.Sid) || got.Body != "live" || got.To != alice {
			t.Errorf("feed gave %+v", got)
		}
		stop()
		stop() // idempotent
		if _, ok := <-ch; ok {
			t.Error("channel still open after unsubscribe")
		}
	})

	t.Run("SlowSubscriberNeverBlocks", func(t *testing.T) {
		s := twiliotest.New(twiliotest.Options{AccountSID: testAccount, AuthToken: testToken, Numbers: []string{botNumber}})
		defer s.Close()
		slow, stopSlow := s.Subscribe()
		defer stopSlow()
		const n = 1100 // more than any subscriber buffer
		for i := range n {
			rec := httptest.NewRecorder()
			form := url.Values{"To": {alice}, "From": {botNumber}, "Body": {"n" + string(rune('0'+i%10))}}
			req := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+testAccount+"/Messages.json",
				strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(testAccount, testToken)
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		got := 0
		for range slow {
			got++
		}
		if got == 0 || got >= n {
			t.Errorf("slow subscriber got %d of %d messages then its channel closed; want it dropped part-way", got, n)
		}
		if len(s.Messages()) != n {
			t.Errorf("Messages() = %d, want %d", len(s.Messages()), n)
		}
	})

	t.Run("CloseEndsSubscriptions", func(t *testing.T) {
		s := twiliotest.New(twiliotest.Options{AccountSID: testAccount, AuthToken: testToken})
		ch, stop := s.Subscribe()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-ch; ok {
			t.Error("channel open after Close")
		}
		stop()
		late, _ := s.Subscribe()
		if _, ok := <-late; ok {
			t.Error("subscription after Close is open")
		}
	})
}

// postMessage creates a message with a plain HTTP request that ctx can
// cancel (twilio-go takes no context).
func postMessage(ctx context.Context, s *twiliotest.Server, to, body string) error {
	form := url.Values{"To": {to}, "From": {botNumber}, "Body": {body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://api.twilio.com/2010-04-01/Accounts/"+testAccount+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testAccount, testToken)
	resp, err := s.Client().Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
