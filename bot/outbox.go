package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Outbox is the durable queue of side effects. Jobs are written by Tx.Enqueue
// in the transaction of the state change that caused them.
type Outbox interface {
	// Claim leases the oldest due job to the caller until now+lease, so that
	// no other worker takes it meanwhile. Jobs for one recipient (the phone
	// of a text, the user of an account sync) are handed out one at a time,
	// oldest first: a job waits while an older one for its recipient is
	// pending, so an ambiguous text's lookup at the provider never meets
	// another job's text in flight. It returns ENOTFOUND when no job is
	// due.
	Claim(ctx context.Context, now time.Time, lease time.Duration) (*Job, error)
	// Done marks a job delivered.
	Done(ctx context.Context, id int64, now time.Time, result string) error
	// Retry puts a job back to be tried again at next. ambiguous records
	// that the far end may already have acted on it.
	Retry(ctx context.Context, id int64, next time.Time, lastErr string, ambiguous bool) error
	// Fail gives up on a job for good.
	Fail(ctx context.Context, id int64, now time.Time, lastErr string) error
	// Extend keeps a claimed job leased to the caller until until; a job
	// that is no longer pending is left alone.
	Extend(ctx context.Context, id int64, until time.Time) error
	// Defer puts a claimed job back until next without counting the
	// attempt (the job was not tried).
	Defer(ctx context.Context, id int64, next time.Time) error
	// Taken returns the results of delivered jobs, other than id, of the
	// same kind, recipient and body (any body when body is ""), finished
	// since since.
	Taken(ctx context.Context, id int64, to, body string, since time.Time) ([]string, error)
	// NextDue returns when the next job falls due; ENOTFOUND when there is
	// none.
	NextDue(ctx context.Context) (time.Time, error)
	// DeliveryStatus returns the status and error code the provider's
	// status callbacks recorded for its message sid; ENOTFOUND before the
	// first came.
	DeliveryStatus(ctx context.Context, sid string) (string, int, error)
}

// TakenWindow is how far before an ambiguous text's first try the texts
// other jobs delivered are gathered (Job.Taken), so that the Sender's
// check at the provider never adopts one of them. It must be wider than
// the window the Sender searches (a minute before the first try, in whole
// seconds, on the provider's clock): a text the provider created in that
// window was recorded by its job at the same moment or later, so the job
// finished inside this window even with the rounding and a clock skew of
// up to a minute.
const TakenWindow = 3 * time.Minute

// Sender sends a text through the SMS provider and returns the provider's
// message id. Failures should be *DeliveryError.
type Sender interface {
	Send(ctx context.Context, j *Job) (string, error)
}

// Accounts updates the identity provider's copy of a user's phone.
type Accounts interface {
	// SetPhone sets the user's phone at the provider; "" removes it.
	// Failures should be *DeliveryError.
	SetPhone(ctx context.Context, userID, phone string) error
}

// DeliveryError says how a failed delivery should be handled.
type DeliveryError struct {
	Err        error
	Permanent  bool          // retrying cannot help
	OptedOut   bool          // the recipient opted out at the carrier
	BadSender  bool          // our sender is misconfigured: an operator must act
	Ambiguous  bool          // the far end may have acted on the request
	RetryAfter time.Duration // the far end asked us to wait this long
	Code       int           // the provider's error code, if any
	// WindowClosed: WhatsApp's 24-hour window is closed (Twilio 63016);
	// the text may go again only as a template.
	WindowClosed bool
	// Skipped: nothing was sent and nothing may be (a WhatsApp text
	// outside the window, with no template for it): the job ends as
	// skipped.
	Skipped bool
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// Worker delivers outbox jobs with retries, exponential backoff and jitter.
// Several workers may run against one outbox: the lease keeps them apart.
type Worker struct {
	Outbox   Outbox
	Store    Store
	SMS      Sender
	Accounts Accounts

	Lease       time.Duration // how long a claimed job is ours; default 1 min
	MaxAttempts int           // tries before giving up; default 12
	BaseDelay   time.Duration // first retry delay; default 1 s
	MaxDelay    time.Duration // longest retry delay; default 10 min
	Idle        time.Duration // longest sleep when nothing is due; default 5 s
	Heartbeat   time.Duration // how often a delivery under way renews its lease; default Lease/3
	Concurrency int           // deliveries under way at once; default 1

	// Limit, when set, is asked before each text and returns how long to
	// wait for the global outbound budget (zero: send now).
	Limit func(now time.Time) time.Duration

	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, is told once of each claimed job: kind, outcome
	// (sent, retry, failed, skipped, deferred) and provider code.
	Observe func(kind string, outcome Outcome, code int)
	// ObserveWhatsApp, when set, is told of each WhatsApp text tried: in
	// which form (free-form inside the window, else a template), the
	// outcome and the provider code.
	ObserveWhatsApp func(form WhatsAppForm, outcome Outcome, code int)
	// Sort, when set, sorts the error code of a WhatsApp text that failed
	// after the provider took it (as the status callbacks do): a callback
	// may come before the text's job is marked done, and Undelivered
	// then finds no job, so the Worker looks itself once it is.
	Sort func(code int) *DeliveryError

	wake     chan struct{}
	wakeOnce sync.Once
	running  sync.Mutex
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Worker) wakeCh() chan struct{} {
	w.wakeOnce.Do(func() { w.wake = make(chan struct{}, 1) })
	return w.wake
}

// Wake tells the worker that a job was queued. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wakeCh() <- struct{}{}:
	default:
	}
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Run delivers jobs, Concurrency at a time, until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.running.Lock()
	defer w.running.Unlock()
	var wg sync.WaitGroup
	for range max(w.Concurrency, 1) {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	return nil
}

// loop is one delivery lane. A lane that found work wakes another, so a
// burst of jobs spreads over the lanes.
func (w *Worker) loop(ctx context.Context) {
	idle := orDefault(w.Idle, 5*time.Second)
	for ctx.Err() == nil {
		did, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.logger().Error("outbox", "err", err)
		}
		if did {
			w.Wake()
			continue
		}
		wait := idle
		if next, err := w.Outbox.NextDue(ctx); err == nil {
			if d := next.Sub(w.now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-w.wakeCh():
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Running reports whether Run is going.
func (w *Worker) Running() bool {
	if w.running.TryLock() {
		w.running.Unlock()
		return false
	}
	return true
}

// RunOnce delivers at most one due job and reports whether it found one.
func (w *Worker) RunOnce(ctx context.Context) (bool, error) {
	now := w.now()
	j, err := w.Outbox.Claim(ctx, now, orDefault(w.Lease, time.Minute))
	if ErrorCode(err) == ENOTFOUND {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("claim: %w", err)
	}
	if j.Kind == JobSMS {
		p, err := w.recipient(ctx, j.To)
		if err != nil {
			return true, w.failed(ctx, j, err)
		}
		if p == nil || p.State == StateOptedOut {
			w.observe(j.Kind, OutcomeSkipped, 0)
			return true, w.Outbox.Done(ctx, j.ID, w.now(), "skipped: recipient opted out or unknown")
		}
		if j.Channel == ChannelWhatsApp {
			j.WindowOpen = p.WindowOpen(now)
		}
		if w.Limit != nil {
			if d := w.Limit(now); d > 0 {
				// The global outbound budget is spent: the text waits its turn.
				w.observe(j.Kind, OutcomeDeferred, 0)
				return false, w.Outbox.Defer(ctx, j.ID, now.Add(d))
			}
		}
	}
	stop := w.holdLease(ctx, j.ID)
	result, err := w.deliver(ctx, j)
	stop()
	if err != nil {
		return true, w.failed(ctx, j, err)
	}
	w.observe(j.Kind, OutcomeSent, 0)
	w.observeWhatsApp(j, OutcomeSent, 0)
	if err := w.Outbox.Done(ctx, j.ID, w.now(), result); err != nil {
		return true, err
	}
	return true, w.failedEarly(ctx, j, result)
}

// failedEarly acts on a failure of j's WhatsApp text whose status callback
// came before j was marked done: the callback found no job, so Undelivered
// runs now. When the callback comes later, it finds the job itself;
// Undelivered acts once either way.
func (w *Worker) failedEarly(ctx context.Context, j *Job, sid string) error {
	if w.Sort == nil || j.Kind != JobSMS || j.Channel != ChannelWhatsApp {
		return nil
	}
	status, code, err := w.Outbox.DeliveryStatus(ctx, sid)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("delivery status: %w", err)
	case code == 0 || status != "failed" && status != "undelivered":
		return nil
	}
	if de := w.Sort(code); de != nil {
		return w.Undelivered(ctx, sid, de)
	}
	return nil
}

// holdLease renews job id's lease every third of it until stop is
// called, so that a delivery slower than the lease (Twilio's list paged
// through, timeouts one after another) is never taken over by another
// worker while it is still under way: the takeover could send the text a
// second time. A worker that dies stops renewing, and the job comes back
// once the lease runs out.
func (w *Worker) holdLease(ctx context.Context, id int64) (stop func()) {
	lease := orDefault(w.Lease, time.Minute)
	every := orDefault(w.Heartbeat, lease/3)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.Outbox.Extend(ctx, id, w.now().Add(lease)); err != nil && ctx.Err() == nil {
					w.logger().ErrorContext(ctx, "outbox: renew lease", "job", id, "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// failed decides what becomes of job j after a failed try: given up for
// good, or put back to be retried after a backoff.
func (w *Worker) failed(ctx context.Context, j *Job, derr error) error {
	log := w.logger().With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts+1)
	var de *DeliveryError
	if !errors.As(derr, &de) {
		de = &DeliveryError{Err: derr}
	}
	switch {
	case de.Skipped:
		log.Info("text skipped", "phone", MaskPhone(j.To), "channel", j.Channel.Or(), "why", de.Err)
		w.observe(j.Kind, OutcomeSkipped, de.Code)
		w.observeWhatsApp(j, OutcomeSkipped, de.Code)
		return w.Outbox.Done(ctx, j.ID, w.now(), "skipped: "+de.Error())
	case de.WindowClosed:
		// Twilio knows better than our clock: the window is closed until
		// the person writes again, so the next try is a template, or the
		// job is skipped. The try counts: no code can loop forever.
		log.Info("whatsapp window closed", "phone", MaskPhone(j.To), "code", de.Code)
		if err := w.closeWindow(ctx, j.To, j.FirstTry); err != nil {
			return err
		}
		w.observeWhatsApp(j, OutcomeRetry, de.Code)
		if j.Attempts+1 >= orDefault(w.MaxAttempts, 12) {
			w.observe(j.Kind, OutcomeFailed, de.Code)
			return w.Outbox.Fail(ctx, j.ID, w.now(), de.Error())
		}
		w.observe(j.Kind, OutcomeRetry, de.Code)
		return w.Outbox.Retry(ctx, j.ID, w.now(), de.Error(), j.Ambiguous)
	case de.OptedOut:
		log.Info("recipient opted out", "phone", MaskPhone(j.To), "code", de.Code)
		if err := w.optOut(ctx, j); err != nil {
			return err
		}
		w.observe(j.Kind, OutcomeFailed, de.Code)
		return w.Outbox.Fail(ctx, j.ID, w.now(), de.Error())
	case de.BadSender:
		log.Error("OUTBOX STOPPED FOR THIS JOB: the sender is misconfigured; fix TWILIO_FROM_NUMBER, TWILIO_WHATSAPP_FROM or TWILIO_MESSAGING_SERVICE_SID", "code", de.Code, "channel", j.Channel.Or(), "err", de.Err)
		w.observe(j.Kind, OutcomeFailed, de.Code)
		w.observeWhatsApp(j, OutcomeFailed, de.Code)
		return w.Outbox.Fail(ctx, j.ID, w.now(), de.Error())
	case de.Permanent:
		log.Warn("delivery failed for good", "code", de.Code, "err", de.Err)
		w.lost(ctx, j, de.Code)
		w.observe(j.Kind, OutcomeFailed, de.Code)
		w.observeWhatsApp(j, OutcomeFailed, de.Code)
		return w.Outbox.Fail(ctx, j.ID, w.now(), de.Error())
	}
	if j.Attempts+1 >= orDefault(w.MaxAttempts, 12) {
		log.Error("delivery gave up after the last attempt", "code", de.Code, "err", de.Err)
		w.observe(j.Kind, OutcomeFailed, de.Code)
		w.observeWhatsApp(j, OutcomeFailed, de.Code)
		return w.Outbox.Fail(ctx, j.ID, w.now(), de.Error())
	}
	delay := w.backoff(j.Attempts)
	if de.RetryAfter > delay {
		delay = de.RetryAfter
	}
	log.Info("delivery will be retried", "in", delay.Round(time.Millisecond), "code", de.Code, "err", de.Err)
	w.observe(j.Kind, OutcomeRetry, de.Code)
	w.observeWhatsApp(j, OutcomeRetry, de.Code)
	return w.Outbox.Retry(ctx, j.ID, w.now().Add(delay), de.Error(), de.Ambiguous || j.Ambiguous)
}

// backoff is exponential with full jitter: a random delay up to
// BaseDelay·2^attempts, capped at MaxDelay, and at least a tenth of it.
func (w *Worker) backoff(attempts int) time.Duration {
	base := orDefault(w.BaseDelay, time.Second)
	ceiling := orDefault(w.MaxDelay, 10*time.Minute)
	d := base << min(attempts, 30)
	if d <= 0 || d > ceiling {
		d = ceiling
	}
	return d/10 + rand.N(d-d/10+1)
}

func (w *Worker) observe(kind string, outcome Outcome, code int) {
	if w.Observe != nil {
		w.Observe(kind, outcome, code)
	}
}

// observeWhatsApp reports a try of a WhatsApp text.
func (w *Worker) observeWhatsApp(j *Job, outcome Outcome, code int) {
	if w.ObserveWhatsApp == nil || j.Kind != JobSMS || j.Channel != ChannelWhatsApp {
		return
	}
	form := FormTemplate
	if j.WindowOpen {
		form = FormFreeForm
	}
	w.ObserveWhatsApp(form, outcome, code)
}

func (w *Worker) deliver(ctx context.Context, j *Job) (string, error) {
	switch j.Kind {
	case JobSMS:
		if j.Ambiguous {
			// A WhatsApp text that may have gone as a template has no body
			// of ours to match: every other job's message is taken.
			body := j.Body
			if j.Channel == ChannelWhatsApp && j.Template != "" {
				body = ""
			}
			var err error
			if j.Taken, err = w.Outbox.Taken(ctx, j.ID, j.To, body, j.FirstTry.Add(-TakenWindow)); err != nil {
				return "", err
			}
		}
		return w.SMS.Send(ctx, j)
	case JobAccountSync:
		var phone string
		err := w.Store.View(ctx, func(tx Tx) error {
			p, err := tx.PhoneByUser(ctx, j.UserID)
			if ErrorCode(err) == ENOTFOUND {
				return nil
			} else if err != nil {
				return err
			}
			phone = p.Number
			return nil
		})
		if err != nil {
			return "", err
		}
		if err := w.Accounts.SetPhone(ctx, j.UserID, phone); err != nil {
			return "", err
		}
		return "phone=" + MaskPhone(phone), nil
	default:
		return "", &DeliveryError{Err: fmt.Errorf("unknown job kind %q", j.Kind), Permanent: true}
	}
}

// recipient reads the phone a text goes to; nil when it never texted
// us. Only phones that texted us, and have not opted out, get texts.
func (w *Worker) recipient(ctx context.Context, phone string) (*Phone, error) {
	var out *Phone
	err := w.Store.View(ctx, func(tx Tx) error {
		p, err := tx.Phone(ctx, phone)
		if ErrorCode(err) == ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	return out, nil
}

// closeWindow records that WhatsApp's window to phone is closed, unless
// the phone wrote on WhatsApp since sent (a window opened after the text
// that was refused).
func (w *Worker) closeWindow(ctx context.Context, phone string, sent time.Time) error {
	return w.Store.Update(ctx, func(tx Tx) error { return closeWindow(ctx, tx, phone, sent, w.now()) })
}

func closeWindow(ctx context.Context, tx Tx, phone string, sent, now time.Time) error {
	p, err := tx.Phone(ctx, phone)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if p.WhatsAppSeen.IsZero() || !sent.IsZero() && p.WhatsAppSeen.After(sent) {
		return nil
	}
	p.WhatsAppSeen = time.Time{}
	p.UpdatedAt = now
	return tx.SavePhone(ctx, p)
}

// optOut records that the carrier will not deliver j's texts to its phone
// any more. Twilio's opt-out holds for one channel: when the phone has
// moved to the other since j was queued, its state stays.
func (w *Worker) optOut(ctx context.Context, j *Job) error {
	return w.Store.Update(ctx, func(tx Tx) error {
		p, err := tx.Phone(ctx, j.To)
		if err != nil {
			return err
		}
		if p.State == StateOptedOut || p.Channel.Or() != j.Channel.Or() {
			return nil
		}
		if err := fire(ctx, p, EvStop); err != nil {
			return err
		}
		clearPending(p)
		p.UpdatedAt = w.now()
		return tx.SavePhone(ctx, p)
	})
}

// Undelivered hears that Twilio took the text sid but could not deliver
// it, for the reason de sorts (a WhatsApp error from a status callback).
// A closed window (63016) closes it here too and sends the text again,
// now as a template or not at all; a failure worth another try (63018,
// throttled) sends it again later. Each text's chain is copied at most
// MaxResends times, a repeated callback changes nothing, and permanent
// failures end there.
func (w *Worker) Undelivered(ctx context.Context, sid string, de *DeliveryError) error {
	if !de.WindowClosed && (de.Permanent || de.OptedOut || de.BadSender || de.Skipped) {
		w.logger().WarnContext(ctx, "text undelivered for good", "sid", sid, "code", de.Code, "err", de.Err)
		return nil
	}
	now := w.now()
	var again *Job
	err := w.Store.Update(ctx, func(tx Tx) error {
		again = nil
		j, err := tx.Undelivered(ctx, sid)
		if ErrorCode(err) == ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		if de.WindowClosed {
			if err := closeWindow(ctx, tx, j.To, j.FirstTry, now); err != nil {
				return err
			}
		}
		if j.Resends >= MaxResends {
			w.logger().WarnContext(ctx, "text undelivered; resent too often already", "job", j.ID, "phone", MaskPhone(j.To), "code", de.Code)
			return nil
		}
		due := now
		if !de.WindowClosed {
			// A minute, doubling along the chain, or what the code asks
			// for; never beyond the longest retry delay.
			due = now.Add(min(max(de.RetryAfter, time.Minute<<j.Resends), orDefault(w.MaxDelay, 10*time.Minute)))
		}
		again = &Job{Kind: JobSMS, To: j.To, Body: j.Body, Channel: j.Channel, Template: j.Template, Vars: j.Vars,
			Resends: j.Resends + 1, CreatedAt: now, Due: due}
		return tx.Enqueue(ctx, again)
	})
	if err != nil {
		return fmt.Errorf("undelivered: %w", err)
	}
	if again != nil {
		w.logger().InfoContext(ctx, "text undelivered; sending it again", "sid", sid, "job", again.ID, "phone", MaskPhone(again.To),
			"code", de.Code, "at", again.Due.Format(time.RFC3339))
		w.Wake()
	}
	return nil
}
