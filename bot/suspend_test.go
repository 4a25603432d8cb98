package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

const day = 24 * time.Hour

// audit returns the phone's audit trail as "action: reason" lines.
func (h *harness) audit(phone string) []string {
	h.t.Helper()
	entries, err := h.db.AuditLog(context.Background(), phone)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action+": "+e.Reason)
	}
	return out
}

// wantSuspended checks the phone's binding and suspension.
func (h *harness) wantSuspended(phone string, acct bot.Account, cause bot.SuspendCause) {
	h.t.Helper()
	p := h.phone(phone)
	if p.UserID != acct.ID || p.SuspendReason != cause {
		h.t.Fatalf("%s: bound to %q, suspended %q; want %q, %q", phone, p.UserID, p.SuspendReason, acct.ID, cause)
	}
	if p.Suspended() == p.SuspendedAt.IsZero() {
		h.t.Fatalf("%s: suspended %v at %v", phone, p.Suspended(), p.SuspendedAt)
	}
}

func TestEngine_HandleSMS_ReverifyAfterSilence(t *testing.T) {
	h := newHarness(t)
	p := echo{seen: make(chan bot.Request, 10)}
	h.e.Plugins = []bot.Plugin{p}
	h.subscribe(alice, acctY)
	if got := h.phone(alice).LastSeen; !got.Equal(h.now) {
		t.Fatalf("last seen %v, want %v", got, h.now)
	}

	// Silent for just under the limit: the command runs.
	h.advance(90*day - time.Minute)
	if res := h.text(alice, "echo one"); res.Reply != "echo: one" {
		t.Fatalf("within 90 days: %+v", res)
	}
	<-p.seen

	h.advance(91 * day)
	if res := h.text(alice, "echo two"); !strings.Contains(res.Reply, "send S to link it again") || res.State != bot.StateSubscribed {
		t.Fatalf("after 91 silent days: %+v", res)
	}
	if len(p.seen) != 0 {
		t.Fatal("a suspended phone's command reached the plugin")
	}
	h.wantSuspended(alice, acctY, bot.CauseSilent)
	// The suspension holds although the phone is no longer silent.
	if res := h.text(alice, "echo three"); !strings.Contains(res.Reply, "send S") || len(p.seen) != 0 {
		t.Fatalf("second command: %+v", res)
	}
	if res := h.text(alice, "H"); !strings.Contains(res.Reply, "U = unsubscribe") {
		t.Fatalf("help: %q", res.Reply)
	}
	if got := h.audit(alice); got[len(got)-1] != "suspend: silent for 91 days" {
		t.Fatalf("audit %q", got)
	}

	// S and the code lift the suspension; the binding never went away.
	token := h.subscribeStart(alice)
	h.wantSuspended(alice, acctY, bot.CauseSilent)
	code := h.login(token, acctY)
	if res := h.text(alice, code.Code); res.State != bot.StateSubscribed {
		t.Fatalf("code: %+v", res)
	}
	h.wantSuspended(alice, acctY, "")
	if res := h.text(alice, "echo four"); res.Reply != "echo: four" {
		t.Fatalf("after relinking: %+v", res)
	}
	if got := h.audit(alice); got[len(got)-1] != "verify: code confirmed; suspension lifted" {
		t.Fatalf("audit %q", got)
	}
}

func TestEngine_HandleSMS_SuspendedRelinksToAnotherAccount(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	h.subscribe(alice, acctY)
	h.jobs()
	h.advance(100 * day)
	h.text(alice, "echo hi")
	h.wantSuspended(alice, acctY, bot.CauseSilent)

	// The number's new owner links it to their own account: the old one
	// loses it, as with any rebinding.
	code := h.login(h.subscribeStart(alice), acctX)
	if res := h.text(alice, code.Code); res.State != bot.StateSubscribed {
		t.Fatalf("code: %+v", res)
	}
	h.wantSuspended(alice, acctX, "")
	jobs := strings.Join(h.jobs(), "\n")
	if !strings.Contains(jobs, "account_sync "+acctY.ID) || !strings.Contains(jobs, "account_sync "+acctX.ID) {
		t.Fatalf("jobs %s", jobs)
	}
}

func TestEngine_HandleSMS_ReverifyOff(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	h.e.Limits.ReverifyAfter = 0
	h.subscribe(alice, acctY)
	h.advance(1000 * day)
	if res := h.text(alice, "echo hi"); res.Reply != "echo: hi" {
		t.Fatalf("%+v", res)
	}
}

// carrier is a fake carrier lookup.
type carrier struct {
	gone  bool
	err   error
	asked []time.Time
}

func (c *carrier) Reassigned(ctx context.Context, phone string, since time.Time) (bool, error) {
	c.asked = append(c.asked, since)
	return c.gone, c.err
}

func TestEngine_HandleSMS_CarrierLookup(t *testing.T) {
	h := newHarness(t)
	p := echo{seen: make(chan bot.Request, 10)}
	c := &carrier{}
	h.e.Plugins, h.e.Reassigned = []bot.Plugin{p}, c
	h.subscribe(alice, acctY)
	verified := h.now
	h.advance(time.Hour)

	if res := h.text(alice, "echo a"); res.Reply != "echo: a" || len(c.asked) != 1 || !c.asked[0].Equal(verified) {
		t.Fatalf("not reassigned: %+v, asked %v", res, c.asked)
	}
	<-p.seen
	c.err = errors.New("lookup down")
	if res := h.text(alice, "echo b"); res.Reply != "echo: b" {
		t.Fatalf("lookup failed: the command should run: %+v", res)
	}
	<-p.seen
	if res := h.text(alice, "H"); len(c.asked) != 2 || res.Reply == "" {
		t.Fatalf("H asked the carrier: %d", len(c.asked))
	}

	c.gone, c.err = true, nil
	if res := h.text(alice, "echo c"); !strings.Contains(res.Reply, "send S") || len(p.seen) != 0 {
		t.Fatalf("reassigned: %+v", res)
	}
	h.wantSuspended(alice, acctY, bot.CauseReassigned)

	// Linking again moves the date the carrier is asked about.
	h.advance(time.Hour)
	code := h.login(h.subscribeStart(alice), acctY)
	h.text(alice, code.Code)
	c.gone = false
	if res := h.text(alice, "echo d"); res.Reply != "echo: d" || !c.asked[len(c.asked)-1].Equal(h.now) {
		t.Fatalf("after relinking: %+v, asked %v", res, c.asked)
	}
}

func TestEngine_NumberLost(t *testing.T) {
	ctx := context.Background()
	type lost struct {
		after time.Duration // since the previous error
		ref   string
		code  int
	}
	for name, tc := range map[string]struct {
		errs []lost
		want bool
	}{
		"one 21614":                  {[]lost{{0, "SMa", 21614}}, true},
		"one 30005":                  {[]lost{{0, "SMa", 30005}}, false},
		"30005 twice, one message":   {[]lost{{0, "SMa", 30005}, {time.Hour, "SMa", 30005}}, false},
		"30005 and 30006":            {[]lost{{0, "SMa", 30005}, {day, "SMb", 30006}}, true},
		"21211 twice":                {[]lost{{0, "job:1", 21211}, {day, "job:2", 21211}}, true},
		"two 30005, 31 days apart":   {[]lost{{0, "SMa", 30005}, {31 * day, "SMb", 30005}}, false},
		"other codes":                {[]lost{{0, "SMa", 30003}, {0, "SMb", 30007}, {0, "SMc", 21610}}, false},
		"three 30005 within 30 days": {[]lost{{0, "SMa", 30005}, {20 * day, "SMb", 30005}, {20 * day, "SMc", 30005}}, true},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.subscribe(alice, acctY)
			for _, l := range tc.errs {
				h.advance(l.after)
				if err := h.e.NumberLost(ctx, alice, l.ref, l.code); err != nil {
					t.Fatal(err)
				}
			}
			if got := h.phone(alice).Suspended(); got != tc.want {
				t.Fatalf("suspended = %v, want %v", got, tc.want)
			}
			if tc.want {
				h.wantSuspended(alice, acctY, bot.CauseLost)
			}
		})
	}

	t.Run("errors before relinking do not count", func(t *testing.T) {
		h := newHarness(t)
		h.subscribe(alice, acctY)
		h.e.NumberLost(ctx, alice, "SMa", 30005)
		h.advance(time.Hour)
		code := h.login(h.subscribeStart(alice), acctY)
		h.text(alice, code.Code)
		h.advance(time.Hour)
		h.e.NumberLost(ctx, alice, "SMb", 30005)
		if h.phone(alice).Suspended() {
			t.Fatal("an error from before the last code counted")
		}
	})
	t.Run("unknown and unbound phones", func(t *testing.T) {
		h := newHarness(t)
		h.text(bob, "hi")
		for _, phone := range []string{alice, bob} {
			if err := h.e.NumberLost(ctx, phone, "SMa", 21614); err != nil {
				t.Fatal(err)
			}
		}
		if p := h.phone(bob); p.Suspended() || p.State != bot.StateIdle {
			t.Fatalf("bob %+v", p)
		}
	})
}

func TestWorker_PermanentErrors_LostNumber(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	w, s, _ := newWorker(h)
	h.subscribe(alice, acctY)
	drain(t, w)
	h.e.SendLater(context.Background(), alice, "hello")
	s.script = []error{&bot.DeliveryError{Err: errors.New("21614"), Permanent: true, Code: 21614}}
	drain(t, w)
	h.wantSuspended(alice, acctY, bot.CauseLost)
	if res := h.text(alice, "echo hi"); !strings.Contains(res.Reply, "send S") {
		t.Fatalf("%+v", res)
	}
}
