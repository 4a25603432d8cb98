package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// fakeSender answers each text with the next scripted error (nil: sent).
type fakeSender struct {
	mu     sync.Mutex
	script []error
	sent   []*bot.Job
}

func (f *fakeSender) Send(ctx context.Context, j *bot.Job) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	if err == nil {
		cp := *j
		f.sent = append(f.sent, &cp)
		return "SM1", nil
	}
	return "", err
}

type fakeAccounts struct {
	mu  sync.Mutex
	set map[string]string
	err error
}

func (f *fakeAccounts) SetPhone(ctx context.Context, user, phone string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.set == nil {
		f.set = map[string]string{}
	}
	f.set[user] = phone
	return nil
}

func newWorker(h *harness) (*bot.Worker, *fakeSender, *fakeAccounts) {
	s, a := &fakeSender{}, &fakeAccounts{}
	return &bot.Worker{Outbox: h.db, Store: h.db, SMS: s, Accounts: a, Now: func() time.Time { return h.now }}, s, a
}

// drain runs the worker until nothing is due now.
func drain(t *testing.T, w *bot.Worker) int {
	t.Helper()
	n := 0
	for i := 0; i < 100; i++ {
		did, err := w.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return n
		}
		n++
	}
	t.Fatal("worker never ran out of due jobs")
	return n
}

func TestWorker_DeliversAfterCommit(t *testing.T) {
	h := newHarness(t)
	w, s, a := newWorker(h)
	h.subscribe(alice, acctY)
	if n := drain(t, w); n != 2 {
		t.Fatalf("delivered %d jobs, want the code prompt and the account sync", n)
	}
	if len(s.sent) != 1 || s.sent[0].To != alice {
		t.Fatalf("sent %+v", s.sent)
	}
	if a.set[acctY.ID] != alice {
		t.Fatalf("accounts %v", a.set)
	}
	// Sync reads the binding at delivery time: U then sync clears it.
	h.text(alice, "U")
	drain(t, w)
	if p, ok := a.set[acctY.ID]; !ok || p != "" {
		t.Fatalf("after U: %v", a.set)
	}
	st, _ := h.db.OutboxStats(context.Background())
	if st.Pending != 0 || st.Done != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWorker_Retries(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	w.BaseDelay, w.MaxDelay, w.MaxAttempts = time.Second, 8*time.Second, 4
	h.text(alice, "hi") // alice texted us
	if err := h.e.SendLater(context.Background(), alice, "hello"); err != nil {
		t.Fatal(err)
	}
	temp := &bot.DeliveryError{Err: errors.New("503")}
	s.script = []error{temp, temp, temp, temp}
	for i := 0; i < 4; i++ {
		if n := drain(t, w); n != 1 {
			t.Fatalf("attempt %d: ran %d", i, n)
		}
		// Not due again until the backoff passed.
		if n := drain(t, w); n != 0 {
			t.Fatalf("attempt %d retried at once", i)
		}
		h.advance(9 * time.Second)
	}
	st, _ := h.db.OutboxStats(context.Background())
	if st.Failed != 1 || len(s.sent) != 0 {
		t.Fatalf("after max attempts: %+v, sent %d", st, len(s.sent))
	}
}

func TestWorker_RetryAfter(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	h.text(alice, "hi")
	h.e.SendLater(context.Background(), alice, "hello")
	s.script = []error{&bot.DeliveryError{Err: errors.New("429"), RetryAfter: time.Minute}}
	drain(t, w)
	h.advance(59 * time.Second)
	if n := drain(t, w); n != 0 {
		t.Fatal("retried before the far end's Retry-After")
	}
	h.advance(time.Second)
	if n := drain(t, w); n != 1 || len(s.sent) != 1 {
		t.Fatalf("not delivered after Retry-After: %d", n)
	}
}

func TestWorker_PermanentErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		err       error
		optedOut  bool
		attempted int
	}{
		"bad recipient": {&bot.DeliveryError{Err: errors.New("21211"), Permanent: true, Code: 21211}, false, 1},
		"opted out":     {&bot.DeliveryError{Err: errors.New("21610"), Permanent: true, OptedOut: true, Code: 21610}, true, 1},
		"bad sender":    {&bot.DeliveryError{Err: errors.New("21606"), Permanent: true, BadSender: true, Code: 21606}, false, 1},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			w, s, _ := newWorker(h)
			var observed []string
			w.Observe = func(kind string, outcome bot.Outcome, code int) { observed = append(observed, string(outcome)) }
			h.text(alice, "hi")
			h.e.SendLater(context.Background(), alice, "hello")
			s.script = []error{tc.err}
			drain(t, w)
			h.advance(time.Hour)
			if n := drain(t, w); n != 0 {
				t.Fatal("a permanent error was retried")
			}
			st, _ := h.db.OutboxStats(context.Background())
			if st.Failed != 1 || len(observed) != 1 || observed[0] != "failed" {
				t.Fatalf("stats %+v observed %v", st, observed)
			}
			if got := h.phone(alice).State == bot.StateOptedOut; got != tc.optedOut {
				t.Fatalf("opted out = %v", got)
			}
		})
	}
}

func TestWorker_SkipsOptedOut(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	var observed []string
	w.Observe = func(kind string, outcome bot.Outcome, code int) {
		observed = append(observed, kind+" "+string(outcome))
	}
	h.text(alice, "hi")
	h.e.SendLater(context.Background(), alice, "hello")
	h.text(alice, "STOP")
	drain(t, w)
	if len(s.sent) != 0 {
		t.Fatal("texted a phone that opted out")
	}
	// Reported once, as skipped, never also as sent.
	if strings.Join(observed, ",") != "sms skipped" {
		t.Fatalf("observed %q, want exactly [sms skipped]", observed)
	}
	if st, _ := h.db.OutboxStats(context.Background()); st.Done != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Never a phone that did not text us.
	if err := h.e.SendLater(context.Background(), bob, "hello"); err == nil {
		t.Fatal("queued a text to a phone that never texted")
	}
}

func TestWorker_Limit(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	h.text(alice, "hi")
	for i := 0; i < 3; i++ {
		h.e.SendLater(context.Background(), alice, "hello")
	}
	budget := 2
	w.Limit = func(time.Time) time.Duration {
		if budget > 0 {
			budget--
			return 0
		}
		return 30 * time.Second
	}
	drain(t, w)
	if len(s.sent) != 2 {
		t.Fatalf("sent %d over a budget of 2", len(s.sent))
	}
	budget = 1
	h.advance(30 * time.Second)
	drain(t, w)
	if len(s.sent) != 3 || s.sent[2].Attempts != 0 {
		t.Fatalf("deferred text: sent %d, attempts %d (a deferral is not an attempt)", len(s.sent), s.sent[len(s.sent)-1].Attempts)
	}
}

func TestWorker_Run_WakesAndStops(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	w.Now = nil
	h.e.Now = nil
	w.Idle = time.Hour // only Wake can start a delivery quickly
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	h.text(alice, "hi")
	h.e.Notify = w.Wake
	h.e.SendLater(context.Background(), alice, "hello")
	pollUntil(t, "Wake to start a delivery", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.sent) == 1
	})
	if !w.Running() {
		t.Fatal("Running() false while running")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// slowSender holds each send until released, counting how many run at
// once, in all and per phone.
type slowSender struct {
	mu       sync.Mutex
	inFlight map[string]int
	most     int // most sends under way at once
	mostOne  int // most sends to one phone under way at once
	sent     []string
	release  chan struct{}
}

func (s *slowSender) Send(ctx context.Context, j *bot.Job) (string, error) {
	s.mu.Lock()
	s.inFlight[j.To]++
	s.mostOne = max(s.mostOne, s.inFlight[j.To])
	total := 0
	for _, n := range s.inFlight {
		total += n
	}
	s.most = max(s.most, total)
	s.mu.Unlock()
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[j.To]--
	s.sent = append(s.sent, j.Body)
	return "SM" + j.Body, nil
}

func (s *slowSender) under() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

// TestWorker_Run_Concurrency runs four lanes over texts to four phones:
// four texts go out at once, never two to one phone, and each phone's
// texts in the order queued.
func TestWorker_Run_Concurrency(t *testing.T) {
	h := newHarness(t)
	h.e.Now = nil
	s := &slowSender{inFlight: map[string]int{}, release: make(chan struct{})}
	w := &bot.Worker{Outbox: h.db, Store: h.db, SMS: s, Accounts: &fakeAccounts{}, Concurrency: 4, Idle: 20 * time.Millisecond}
	phones := []string{alice, bob, "+15555550103", "+15555550104"}
	for _, p := range phones {
		h.text(p, "hi")
	}
	for i := range 12 {
		h.e.SendLater(context.Background(), phones[i%4], fmt.Sprintf("%s/%02d", phones[i%4], i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	w.Wake()
	pollUntil(t, "four sends under way", func() bool { return s.under() == 4 })
	close(s.release)
	pollUntil(t, "the outbox to drain", func() bool {
		st, _ := h.db.OutboxStats(context.Background())
		return st.Pending == 0
	})
	cancel()
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.most != 4 || s.mostOne != 1 || len(s.sent) != 12 {
		t.Fatalf("at most %d at once, %d to one phone, %d texts", s.most, s.mostOne, len(s.sent))
	}
	last := map[string]string{}
	for _, body := range s.sent {
		phone, _, _ := strings.Cut(body, "/")
		if body <= last[phone] {
			t.Fatalf("%s sent after %s", body, last[phone])
		}
		last[phone] = body
	}
}

// pollUntil polls cond every few milliseconds and fails the test when it
// does not hold within 10 s.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// renewingOutbox reports each lease renewal after the store made it.
type renewingOutbox struct {
	*store.DB
	renewed chan time.Time
}

func (o *renewingOutbox) Extend(ctx context.Context, id int64, until time.Time) error {
	err := o.DB.Extend(ctx, id, until)
	if err == nil {
		select {
		case o.renewed <- until:
		default:
		}
	}
	return err
}

// blockingSender holds each text until release is closed.
type blockingSender struct {
	entered chan struct{}
	release chan struct{}
	sent    atomic.Int32
}

func (b *blockingSender) Send(ctx context.Context, j *bot.Job) (string, error) {
	b.entered <- struct{}{}
	<-b.release
	b.sent.Add(1)
	return "SM1", nil
}

// TestWorker_HoldsLeaseWhileSending: a delivery slower than its lease keeps
// the job, so no other worker takes it over and sends it a second time.
func TestWorker_HoldsLeaseWhileSending(t *testing.T) {
	h := newHarness(t)
	h.text(alice, "hi")
	if err := h.e.SendLater(context.Background(), alice, "hello"); err != nil {
		t.Fatal(err)
	}
	start := h.now
	var clock atomic.Int64
	clock.Store(start.UnixMilli())
	out := &renewingOutbox{DB: h.db, renewed: make(chan time.Time, 1)}
	s := &blockingSender{entered: make(chan struct{}), release: make(chan struct{})}
	w := &bot.Worker{Outbox: out, Store: h.db, SMS: s, Accounts: &fakeAccounts{},
		Lease: time.Minute, Heartbeat: time.Millisecond, Now: func() time.Time { return time.UnixMilli(clock.Load()) }}
	done := make(chan error, 1)
	go func() { _, err := w.RunOnce(context.Background()); done <- err }()
	<-s.entered

	// 50 s into the send, the lease is renewed to a minute from then.
	clock.Store(start.Add(50 * time.Second).UnixMilli())
	want := start.Add(110 * time.Second)
	deadline := time.After(10 * time.Second)
	for renewed := false; !renewed; {
		select {
		case until := <-out.renewed:
			renewed = !until.Before(want)
		case <-deadline:
			t.Fatal("the lease was never renewed")
		}
	}
	// Past the first lease, another worker finds nothing to take over.
	if j, err := h.db.Claim(context.Background(), start.Add(90*time.Second), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claimed %+v (%v) while its first delivery was still under way", j, err)
	}
	close(s.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := s.sent.Load(); n != 1 {
		t.Fatalf("sent %d times", n)
	}
	if st, _ := h.db.OutboxStats(context.Background()); st.Pending != 0 || st.Done != 1 {
		t.Fatalf("stats %+v", st)
	}
}
