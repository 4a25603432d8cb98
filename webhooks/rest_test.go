package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	sid     = "AC0123456789abcdef0123456789abcdef"
	number  = "+15005550006"
	service = "MG0123456789abcdef0123456789abcdef"
)

func newSender(t *testing.T) (*webhooks.Sender, *twiliotest.Server) {
	t.Helper()
	tw := twiliotest.New(twiliotest.Options{AccountSID: sid, AuthToken: token, Numbers: []string{number}, MessagingServiceSIDs: []string{service}})
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
	return &webhooks.Sender{Client: rc, From: number, StatusCallback: public + "/webhooks/twilio/status"}, tw
}

func TestSender_Send(t *testing.T) {
	s, tw := newSender(t)
	got, err := s.Send(context.Background(), &bot.Job{To: "+15555550101", Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := tw.Messages()
	if len(msgs) != 1 || msgs[0].SID != got || msgs[0].From != number || msgs[0].StatusCallback != public+"/webhooks/twilio/status" {
		t.Fatalf("sid %s, messages %+v", got, msgs)
	}
}

func TestSender_Send_Classifies(t *testing.T) {
	s, tw := newSender(t)
	tw.OptOut("+15555550199")
	cases := []struct {
		name  string
		job   *bot.Job
		fault *twiliotest.Faults
		check func(*bot.DeliveryError) bool
	}{
		{"opted out", &bot.Job{To: "+15555550199", Body: "x"}, nil, func(d *bot.DeliveryError) bool { return d.OptedOut && d.Permanent && d.Code == 21610 }},
		{"bad number", &bot.Job{To: "+1", Body: "x"}, nil, func(d *bot.DeliveryError) bool { return d.Permanent && !d.OptedOut && d.Code == 21211 }},
		{"429", &bot.Job{To: "+15555550101", Body: "x"}, &twiliotest.Faults{Rate429: 1}, func(d *bot.DeliveryError) bool { return !d.Permanent && d.RetryAfter > 0 && d.Code == 20429 }},
		{"plain 500", &bot.Job{To: "+15555550101", Body: "x"}, &twiliotest.Faults{Rate500: 1}, func(d *bot.DeliveryError) bool { return !d.Permanent && d.Ambiguous }},
		{"dropped", &bot.Job{To: "+15555550101", Body: "x"}, &twiliotest.Faults{RateDropBefore: 1}, func(d *bot.DeliveryError) bool { return !d.Permanent && d.Ambiguous }},
		{"timeout", &bot.Job{To: "+15555550101", Body: "x"}, &twiliotest.Faults{RateHang: 1, Hang: 2 * time.Second}, func(d *bot.DeliveryError) bool { return !d.Permanent && d.Ambiguous }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fault != nil {
				tw.SetFaults(*c.fault)
				defer tw.SetFaults(twiliotest.Faults{})
			}
			_, err := s.Send(context.Background(), c.job)
			var d *bot.DeliveryError
			if !errors.As(err, &d) || !c.check(d) {
				t.Fatalf("%#v", err)
			}
		})
	}
	s.From = "+15005550009" // not the account's
	_, err := s.Send(context.Background(), &bot.Job{To: "+15555550101", Body: "x"})
	var d *bot.DeliveryError
	if !errors.As(err, &d) || !d.BadSender || d.Code != 21606 {
		t.Fatalf("bad sender: %#v", err)
	}
}

// TestSender_Send_AmbiguousNeverTwice retries a text whose first try
// reached Twilio although the sender saw a failure: the retry finds the
// message and sends nothing, whether the answer was lost, came too late,
// or the message still sits in Twilio's queue (date_sent null, which a
// DateSent filter need not return).
func TestSender_Send_AmbiguousNeverTwice(t *testing.T) {
	for _, c := range []struct {
		name    string
		faults  twiliotest.Faults
		service bool
	}{
		{"dropped answer", twiliotest.Faults{RateDropAfter: 1}, false},
		{"late answer", twiliotest.Faults{RateLateAnswer: 1}, false},
		{"queued", twiliotest.Faults{RateDropAfter: 1, RateQueued: 1}, false},
		{"queued, late, through a messaging service", twiliotest.Faults{RateLateAnswer: 1, RateQueued: 1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, tw := newSender(t)
			if c.service {
				s.From, s.MessagingServiceSID = "", service
			}
			ctx := context.Background()
			job := &bot.Job{To: "+15555550101", Body: "your code prompt"}
			tw.SetFaults(c.faults)
			first := time.Now()
			_, err := s.Send(ctx, job)
			var d *bot.DeliveryError
			if !errors.As(err, &d) || !d.Ambiguous {
				t.Fatalf("accepted, answer lost: %#v", err)
			}
			tw.SetFaults(twiliotest.Faults{})
			job.Ambiguous, job.FirstTry = true, first
			got, err := s.Send(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			if msgs := tw.Messages(); len(msgs) != 1 || msgs[0].SID != got {
				t.Fatalf("retry sent again: %d messages, sid %s", len(msgs), got)
			}
			// The same text for another job whose first try was lost: the
			// earlier message is taken, so this one is sent.
			other := &bot.Job{To: job.To, Body: job.Body, Ambiguous: true, FirstTry: first, Taken: []string{got}}
			got2, err := s.Send(ctx, other)
			if err != nil || got2 == got || len(tw.Messages()) != 2 {
				t.Fatalf("second job: %s %v, %d messages", got2, err, len(tw.Messages()))
			}
		})
	}
}

// TestSender_Send_AmbiguousNotOthers retries an ambiguous text whose first
// try never reached Twilio, beside messages that look alike but are not
// its own: it sends the text.
func TestSender_Send_AmbiguousNotOthers(t *testing.T) {
	s, tw := newSender(t)
	ctx := context.Background()
	to, body := "+15555550101", "your code prompt"
	// Alike but not ours to adopt: another job's (taken), one to another
	// phone, one with another text.
	taken, err := s.Send(ctx, &bot.Job{To: to, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []*bot.Job{{To: "+15555550102", Body: body}, {To: to, Body: "another text"}} {
		if _, err := s.Send(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	tw.SetFaults(twiliotest.Faults{RateDropBefore: 1})
	first := time.Now()
	job := &bot.Job{To: to, Body: body}
	if _, err := s.Send(ctx, job); err == nil {
		t.Fatal("dropped before: no error")
	}
	tw.SetFaults(twiliotest.Faults{})
	job.Ambiguous, job.FirstTry, job.Taken = true, first, []string{taken}
	got, err := s.Send(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tw.Messages()); n != 4 || got == taken {
		t.Fatalf("sid %s (taken %s), %d messages; want the text sent", got, taken, n)
	}
}

// TestSender_Send_AmbiguousTooManyToTell retries an ambiguous text to a
// phone with more messages at Twilio than the lookup reads: the answer is
// unknown, so the text fails for good instead of risking a second copy.
func TestSender_Send_AmbiguousTooManyToTell(t *testing.T) {
	s, tw := newSender(t)
	s.LookupMax = 3
	ctx := context.Background()
	to := "+15555550101"
	for i := range 4 {
		if _, err := s.Send(ctx, &bot.Job{To: to, Body: fmt.Sprint("earlier text ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Send(ctx, &bot.Job{To: to, Body: "your code prompt", Ambiguous: true, FirstTry: time.Now()})
	var d *bot.DeliveryError
	if !errors.As(err, &d) || !d.Permanent || d.Ambiguous {
		t.Fatalf("error %#v, want a permanent failure", err)
	}
	if n := len(tw.Messages()); n != 4 {
		t.Fatalf("%d messages, want the 4 earlier ones and no new one", n)
	}
	// Within the bound the lookup decides, and the text is sent.
	s.LookupMax = 4
	if _, err := s.Send(ctx, &bot.Job{To: to, Body: "your code prompt", Ambiguous: true, FirstTry: time.Now()}); err != nil || len(tw.Messages()) != 5 {
		t.Fatalf("within the bound: %v, %d messages", err, len(tw.Messages()))
	}
}
