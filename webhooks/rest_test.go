package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
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

// TestWorker_Ambiguous_NeverAdoptsAnEarlierJobsText runs the real worker,
// store and sender against the stand-in on a controlled clock: a job's
// text is delivered, and the next job for the phone, with the same body,
// first tries a little over a minute later and loses the answer. Its
// lookup must find its own text, not the earlier job's (which Twilio
// dates to the whole second, inside the lookup's window).
func TestWorker_Ambiguous_NeverAdoptsAnEarlierJobsText(t *testing.T) {
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := base
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }

	tw := twiliotest.New(twiliotest.Options{AccountSID: sid, AuthToken: token, Numbers: []string{number}, Now: clock})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	rc, err := webhooks.NewRestClient(webhooks.ClientConfig{AccountSID: sid, AuthToken: token, APIURL: tw.URL(), HTTPClient: tw.Client()})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	const phone, body = "+15555550101", "reply with the code"
	queue := func(at time.Time) {
		t.Helper()
		err := db.Update(ctx, func(tx bot.Tx) error {
			if err := tx.SavePhone(ctx, &bot.Phone{Number: phone, State: bot.StateIdle, CreatedAt: base, UpdatedAt: at}); err != nil {
				return err
			}
			return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: phone, Body: body, CreatedAt: at})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	w := &bot.Worker{Outbox: db, Store: db, SMS: &webhooks.Sender{Client: rc, From: number}, Now: clock, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	runOnce := func() {
		t.Helper()
		if did, err := w.RunOnce(ctx); err != nil || !did {
			t.Fatalf("run: %v %v", did, err)
		}
	}

	queue(base)
	set(base.Add(100 * time.Millisecond))
	runOnce() // the first text, delivered; Twilio dates it 12:00:00
	queue(base.Add(time.Second))
	set(base.Add(time.Minute + 300*time.Millisecond))
	tw.SetFaults(twiliotest.Faults{RateDropAfter: 1})
	runOnce() // the second text: created, its answer lost
	tw.SetFaults(twiliotest.Faults{})
	set(base.Add(time.Minute + time.Second))
	runOnce() // the retry looks for it

	jobs, err := db.OutboxJobs(ctx, false)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("jobs not done: %+v %v", jobs, err)
	}
	msgs := tw.Messages()
	if len(msgs) != 2 {
		t.Fatalf("Twilio has %d texts, want 2 (none sent twice)", len(msgs))
	}
	// Every job's result, each Twilio text recorded by exactly one job.
	taken, err := db.Taken(ctx, 0, phone, body, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		n := 0
		for _, s := range taken {
			if s == m.SID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("Twilio's text %s is recorded by %d jobs, want 1", m.SID, n)
		}
	}
}
