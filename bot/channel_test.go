package bot_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// textOn texts the bot from a phone on a channel.
func (h *harness) textOn(ch bot.Channel, from, body string) bot.Result {
	h.t.Helper()
	h.sid++
	res, err := h.e.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032x", h.sid), From: from, Body: body, Channel: ch})
	if err != nil {
		h.t.Fatalf("text %q from %s on %s: %v", body, from, ch, err)
	}
	return res
}

// subscribeOn runs the whole subscription with every text on ch.
func (h *harness) subscribeOn(ch bot.Channel, phone string, acct bot.Account) {
	h.t.Helper()
	res := h.textOn(ch, phone, "S")
	m := linkRE.FindStringSubmatch(res.Reply)
	if m == nil {
		h.t.Fatalf("S on %s: %q", ch, res.Reply)
	}
	code := h.login(m[1], acct)
	if res := h.textOn(ch, phone, code.Code); res.State != bot.StateSubscribed {
		h.t.Fatalf("code on %s: reply %q state %s", ch, res.Reply, res.State)
	}
}

// claimAll claims every job due within the hour, finishes it and returns
// it.
func (h *harness) claimAll() []*bot.Job {
	h.t.Helper()
	var out []*bot.Job
	for {
		j, err := h.db.Claim(context.Background(), h.now.Add(time.Hour), time.Minute)
		if bot.ErrorCode(err) == bot.ENOTFOUND {
			return out
		} else if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, j)
		if err := h.db.Done(context.Background(), j.ID, h.now, "test"); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestChannels(t *testing.T) {
	var none bot.Channels
	if none.Has(bot.ChannelSMS) || none.Has(bot.ChannelWhatsApp) {
		t.Fatal("the empty set has a channel")
	}
	wa := none.With(bot.ChannelWhatsApp)
	both := wa.With(bot.ChannelSMS)
	if wa != "whatsapp" || both != "sms,whatsapp" || both.With(bot.ChannelWhatsApp) != both || none.With("") != "sms" {
		t.Fatalf("with: %q %q", wa, both)
	}
	if !both.Has(bot.ChannelSMS) || !both.Has("") || !wa.Has(bot.ChannelWhatsApp) || wa.Has(bot.ChannelSMS) {
		t.Fatal("has")
	}
	for _, s := range []bot.Channels{wa, both, none.With(bot.ChannelSMS), none} {
		if !slices.Contains(bot.ValidChannels, s) {
			t.Errorf("%q is not a stored value", s)
		}
	}
	for addr, want := range map[string][2]string{
		"whatsapp:+15555550101": {"+15555550101", "whatsapp"},
		"+15555550101":          {"+15555550101", "sms"},
		"messenger:123":         {"messenger:123", "sms"},
	} {
		phone, ch := bot.SplitAddress(addr)
		if phone != want[0] || string(ch) != want[1] || (ch == bot.ChannelWhatsApp) != strings.HasPrefix(addr, "whatsapp:") {
			t.Errorf("split %q: %q %q", addr, phone, ch)
		}
		if ch == bot.ChannelWhatsApp && ch.Address(phone) != addr {
			t.Errorf("address of %q: %q", addr, ch.Address(phone))
		}
	}
}

// TestEngine_WhatsApp_Keywords: Twilio answers STOP, START and HELP only
// on SMS, so on WhatsApp the bot answers them itself, and a phone that
// sent STOP there gets nothing until START.
func TestEngine_WhatsApp_Keywords(t *testing.T) {
	h := newHarness(t)
	wa := bot.ChannelWhatsApp
	if r := h.textOn(wa, alice, "HELP"); !strings.Contains(r.Reply, "S = subscribe") {
		t.Fatalf("HELP on WhatsApp: %q", r.Reply)
	}
	if r := h.textOn(bot.ChannelSMS, bob, "HELP"); r.Reply != "" {
		t.Fatalf("HELP on SMS answered (Twilio does): %q", r.Reply)
	}
	r := h.textOn(wa, alice, "stop")
	if r.State != bot.StateOptedOut || !strings.Contains(r.Reply, "no more texts") {
		t.Fatalf("STOP on WhatsApp: %+v", r)
	}
	for _, body := range []string{"H", "S", "hello"} {
		if r := h.textOn(wa, alice, body); r.Reply != "" || r.State != bot.StateOptedOut {
			t.Fatalf("%s after STOP: %+v", body, r)
		}
	}
	// One phone: the number is opted out on SMS too.
	if r := h.textOn(bot.ChannelSMS, alice, "H"); r.Reply != "" || r.State != bot.StateOptedOut {
		t.Fatalf("H on SMS after STOP on WhatsApp: %+v", r)
	}
	if err := h.e.SendLater(context.Background(), alice, "late"); err != nil {
		t.Fatal(err)
	}
	w, s, _ := newWorker(h)
	drain(t, w)
	if len(s.sent) != 0 {
		t.Fatalf("the outbox texted an opted-out phone: %+v", s.sent[0])
	}
	r = h.textOn(wa, alice, "START")
	if r.State != bot.StateIdle || !strings.Contains(r.Reply, "resumed") {
		t.Fatalf("START on WhatsApp: %+v", r)
	}
	if r := h.textOn(bot.ChannelSMS, bob, "STOP"); r.Reply != "" || r.State != bot.StateOptedOut {
		t.Fatalf("STOP on SMS: %+v (Twilio answers it)", r)
	}
}

// TestEngine_WhatsApp_OnePhone: the identity rule. A number is one phone:
// one state and one binding whatever the channel; the binding holds only
// on the channels a code came back on.
func TestEngine_WhatsApp_OnePhone(t *testing.T) {
	h := newHarness(t)
	p := echo{}
	h.e.Plugins = []bot.Plugin{p}
	wa, sms := bot.ChannelWhatsApp, bot.ChannelSMS

	h.subscribeOn(wa, alice, acctY)
	ph := h.phone(alice)
	if ph.Channel != wa || ph.Proven != "whatsapp" || !ph.WhatsAppSeen.Equal(h.now) || ph.UserID != acctY.ID {
		t.Fatalf("after subscribing on WhatsApp: %+v", ph)
	}
	if got := h.audit(alice); got[len(got)-1] != "bind: code confirmed on WhatsApp" {
		t.Fatalf("audit %v", got)
	}
	if r := h.textOn(wa, alice, "ECHO hi"); r.Reply != "echo: hi" {
		t.Fatalf("command on WhatsApp: %q", r.Reply)
	}
	// The same number on SMS is the same phone, but not proven there: no
	// command runs; help, the state and the binding are shared.
	h.advance(time.Minute)
	if r := h.textOn(sms, alice, "ECHO hi"); !strings.Contains(r.Reply, "send S to link it again") || r.State != bot.StateSubscribed {
		t.Fatalf("command on SMS before proving it: %+v", r)
	}
	if r := h.textOn(sms, alice, "H"); !strings.Contains(r.Reply, "ECHO x = echo") {
		t.Fatalf("H on SMS: %q", r.Reply)
	}
	if ph := h.phone(alice); ph.Channel != sms || !ph.WhatsAppSeen.Equal(h.now.Add(-time.Minute)) {
		t.Fatalf("after SMS: channel %q, WhatsApp seen %v", ph.Channel, ph.WhatsAppSeen)
	}
	// S and the code on SMS prove it there too: same account, one binding.
	h.claimAll()
	h.subscribeOn(sms, alice, acctY)
	for _, j := range h.claimAll() {
		if j.Kind == bot.JobSMS && j.Channel != sms {
			t.Fatalf("the code prompt went out on %s, not on SMS where S came from", j.Channel)
		}
	}
	if ph := h.phone(alice); ph.Proven != "sms,whatsapp" || ph.UserID != acctY.ID {
		t.Fatalf("after the code on SMS: %+v", ph)
	}
	if got := h.audit(alice); len(got) != 2 || got[1] != "verify: code confirmed on SMS; the binding now holds there too" {
		t.Fatalf("audit %v", got)
	}
	for _, ch := range []bot.Channel{sms, wa} {
		if r := h.textOn(ch, alice, "ECHO again"); r.Reply != "echo: again" {
			t.Fatalf("command on %s: %q", ch, r.Reply)
		}
	}
	// Another account proving the number on WhatsApp takes the binding;
	// only WhatsApp is proven for it.
	h.subscribeOn(wa, alice, acctX)
	if ph := h.phone(alice); ph.UserID != acctX.ID || ph.Proven != "whatsapp" {
		t.Fatalf("rebound: %+v", ph)
	}
	if r := h.textOn(sms, alice, "ECHO x"); !strings.Contains(r.Reply, "send S") {
		t.Fatalf("SMS after the binding moved: %q", r.Reply)
	}
	// U from either channel unbinds the one binding.
	if r := h.textOn(sms, alice, "U"); r.State != bot.StateIdle {
		t.Fatalf("U: %+v", r)
	}
	if ph := h.phone(alice); ph.Bound() || ph.Proven != "" {
		t.Fatalf("after U: %+v", ph)
	}
}

// TestEngine_WhatsApp_Jobs: texts the outbox sends go out on the channel
// the phone used last, each with what its WhatsApp template needs.
func TestEngine_WhatsApp_Jobs(t *testing.T) {
	h := newHarness(t)
	h.subscribeOn(bot.ChannelWhatsApp, alice, acctY)
	var prompt *bot.Job
	for _, j := range h.claimAll() {
		if j.Kind == bot.JobSMS {
			prompt = j
		}
	}
	if prompt == nil || prompt.Channel != bot.ChannelWhatsApp || prompt.Template != bot.ReplyCodePrompt || prompt.Vars != `{"1":"smsbot"}` {
		t.Fatalf("code prompt job: %+v", prompt)
	}
	// Alice's account links bob's phone, over SMS: alice, on WhatsApp, is
	// told by the displaced-phone notice.
	h.subscribeOn(bot.ChannelSMS, bob, acctY)
	var notice, bobPrompt *bot.Job
	for _, j := range h.claimAll() {
		switch {
		case j.Kind == bot.JobSMS && j.To == alice:
			notice = j
		case j.Kind == bot.JobSMS && j.To == bob:
			bobPrompt = j
		}
	}
	if notice == nil || notice.Channel != bot.ChannelWhatsApp || notice.Template != bot.ReplyReplaced ||
		notice.Vars != `{"1":"smsbot","2":"y***@example.com"}` || !strings.Contains(notice.Body, "no longer linked to y***@example.com") {
		t.Fatalf("displaced-phone notice: %+v", notice)
	}
	if bobPrompt == nil || bobPrompt.Channel != bot.ChannelSMS {
		t.Fatalf("bob's code prompt: %+v", bobPrompt)
	}
	// A plugin's late answer has no template.
	if err := h.e.SendLater(context.Background(), alice, "Den 20C"); err != nil {
		t.Fatal(err)
	}
	late := h.claimAll()
	if len(late) != 1 || late[0].Channel != bot.ChannelWhatsApp || late[0].Template != "" || late[0].Vars != "" {
		t.Fatalf("late answer: %+v", late)
	}
	// The operator's notice goes where the phone wrote last too.
	h.textOn(bot.ChannelWhatsApp, bob, "hello")
	if _, err := h.e.Unbind(context.Background(), bob, "test", true); err != nil {
		t.Fatal(err)
	}
	var removed *bot.Job
	for _, j := range h.claimAll() {
		if j.Kind == bot.JobSMS {
			removed = j
		}
	}
	if removed == nil || removed.Channel != bot.ChannelWhatsApp || removed.Template != bot.ReplyUnsubscribed {
		t.Fatalf("operator's notice: %+v", removed)
	}
}

// TestEngine_WhatsApp_SuspensionProvesOneChannel: lifting a suspension
// proves only the channel the code came back on.
func TestEngine_WhatsApp_SuspensionProvesOneChannel(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	h.subscribeOn(bot.ChannelSMS, alice, acctY)
	h.claimAll()
	h.subscribeOn(bot.ChannelWhatsApp, alice, acctY)
	if ph := h.phone(alice); ph.Proven != "sms,whatsapp" {
		t.Fatalf("proven %q", ph.Proven)
	}
	h.advance(h.e.Limits.ReverifyAfter + time.Hour)
	if r := h.textOn(bot.ChannelWhatsApp, alice, "ECHO hi"); !strings.Contains(r.Reply, "send S") {
		t.Fatalf("after the silence: %q", r.Reply)
	}
	h.claimAll()
	h.subscribeOn(bot.ChannelWhatsApp, alice, acctY)
	if ph := h.phone(alice); ph.Suspended() || ph.Proven != "whatsapp" {
		t.Fatalf("after the code on WhatsApp: %+v", ph)
	}
	if r := h.textOn(bot.ChannelSMS, alice, "ECHO hi"); !strings.Contains(r.Reply, "send S") {
		t.Fatalf("SMS after the suspension was lifted on WhatsApp: %q", r.Reply)
	}
}

// whatsAppJob queues a WhatsApp text to a phone that wrote on WhatsApp.
func whatsAppJob(t *testing.T, h *harness, phone string) {
	t.Helper()
	h.textOn(bot.ChannelWhatsApp, phone, "hello")
	if err := h.e.SendLater(context.Background(), phone, "late answer"); err != nil {
		t.Fatal(err)
	}
}

// TestWorker_WhatsApp_Window: inside the window a WhatsApp text goes as
// it is, outside it the Sender is told so; a text the Sender skips ends
// as skipped, once.
func TestWorker_WhatsApp_Window(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	var seen []string
	w.ObserveWhatsApp = func(form bot.WhatsAppForm, outcome bot.Outcome, code int) {
		seen = append(seen, fmt.Sprintf("%s %s %d", form, outcome, code))
	}
	whatsAppJob(t, h, alice)
	drain(t, w)
	if len(s.sent) != 1 || !s.sent[0].WindowOpen || s.sent[0].Channel != bot.ChannelWhatsApp {
		t.Fatalf("inside the window: %+v", s.sent)
	}
	// Just before the window (less its slack) closes, then after.
	h.advance(bot.WhatsAppWindow - bot.WindowSlack - time.Second)
	h.e.SendLater(context.Background(), alice, "still inside")
	drain(t, w)
	h.advance(time.Second)
	h.e.SendLater(context.Background(), alice, "outside")
	s.script = []error{&bot.DeliveryError{Err: errors.New("outside the window, no template"), Skipped: true}}
	drain(t, w)
	if len(s.sent) != 2 || !s.sent[1].WindowOpen {
		t.Fatalf("sent %+v", s.sent)
	}
	if want := []string{"freeform sent 0", "freeform sent 0", "template skipped 0"}; !slices.Equal(seen, want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	texts, err := h.db.SentTexts(context.Background(), alice, 1)
	if err != nil || len(texts) != 1 {
		t.Fatal(texts, err)
	}
	if result := texts[0].SID; texts[0].Job != "done" || !strings.HasPrefix(result, "skipped: ") || !strings.Contains(result, "no template") {
		t.Fatalf("skipped job: %+v", texts[0])
	}
	if st, _ := h.db.OutboxStats(context.Background()); st.Pending != 0 {
		t.Fatalf("a skipped job is still pending: %+v", st)
	}
}

// TestWorker_WhatsApp_WindowClosed: Twilio refusing a free-form text as
// outside the window (63016) closes the window here too: the text is
// tried again at once, as a template, and never free-form again.
func TestWorker_WhatsApp_WindowClosed(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	whatsAppJob(t, h, alice)
	s.script = []error{&bot.DeliveryError{Err: errors.New("twilio 63016"), Code: 63016, WindowClosed: true}}
	if n := drain(t, w); n != 2 {
		t.Fatalf("ran %d, want the refused try and the one after it", n)
	}
	if len(s.sent) != 1 || s.sent[0].WindowOpen {
		t.Fatalf("second try: %+v, want one outside the window", s.sent)
	}
	if !h.phone(alice).WhatsAppSeen.IsZero() {
		t.Fatal("the window is still open here")
	}
	// The next message from the person opens it again.
	h.advance(time.Minute)
	whatsAppJob(t, h, alice)
	drain(t, w)
	if len(s.sent) != 2 || !s.sent[1].WindowOpen {
		t.Fatalf("after a new message: %+v", s.sent[1])
	}
}

// TestWorker_OptOutKeepsTheOtherChannel: Twilio's opt-out (21610) is for
// one channel; a phone that has moved to the other keeps its state.
func TestWorker_OptOutKeepsTheOtherChannel(t *testing.T) {
	h := newHarness(t)
	w, s, _ := newWorker(h)
	h.textOn(bot.ChannelSMS, alice, "hello")
	h.e.SendLater(context.Background(), alice, "to SMS")
	h.textOn(bot.ChannelWhatsApp, alice, "hello again")
	s.script = []error{&bot.DeliveryError{Err: errors.New("twilio 21610"), Code: 21610, OptedOut: true, Permanent: true}}
	drain(t, w)
	if st := h.phone(alice).State; st != bot.StateIdle {
		t.Fatalf("state %s after an SMS opt-out while on WhatsApp", st)
	}
	h.textOn(bot.ChannelSMS, bob, "hello")
	h.e.SendLater(context.Background(), bob, "to SMS")
	s.script = []error{&bot.DeliveryError{Err: errors.New("twilio 21610"), Code: 21610, OptedOut: true, Permanent: true}}
	drain(t, w)
	if st := h.phone(bob).State; st != bot.StateOptedOut {
		t.Fatalf("state %s after an SMS opt-out on SMS", st)
	}
}

// seqSender sends every text, answering SM1, SM2, ...
type seqSender struct{ sent []*bot.Job }

func (f *seqSender) Send(ctx context.Context, j *bot.Job) (string, error) {
	cp := *j
	f.sent = append(f.sent, &cp)
	return fmt.Sprintf("SM%d", len(f.sent)), nil
}

func seqWorker(h *harness) (*bot.Worker, *seqSender) {
	s := &seqSender{}
	return &bot.Worker{Outbox: h.db, Store: h.db, SMS: s, Accounts: &fakeAccounts{}, Now: func() time.Time { return h.now }}, s
}

// TestWorker_Undelivered: a WhatsApp text Twilio took but could not
// deliver is sent again, once per callback however often it repeats, and
// at most bot.MaxResends times in a chain; permanent failures end there.
func TestWorker_Undelivered(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	w, s := seqWorker(h)
	whatsAppJob(t, h, alice)
	drain(t, w)
	throttled := &bot.DeliveryError{Err: errors.New("twilio 63018"), Code: 63018}
	for range 3 { // the callback comes more than once
		if err := w.Undelivered(ctx, "SM1", throttled); err != nil {
			t.Fatal(err)
		}
	}
	if n := drain(t, w); n != 0 {
		t.Fatalf("the copy went out at once (%d); 63018 waits", n)
	}
	h.advance(time.Minute)
	if n := drain(t, w); n != 1 || len(s.sent) != 2 || s.sent[1].Body != "late answer" || s.sent[1].Resends != 1 ||
		s.sent[1].Channel != bot.ChannelWhatsApp {
		t.Fatalf("after a minute: ran %d, sent %+v", n, s.sent)
	}
	// Each copy failing again makes the next, until the chain stops.
	for range bot.MaxResends {
		if err := w.Undelivered(ctx, fmt.Sprintf("SM%d", len(s.sent)), throttled); err != nil {
			t.Fatal(err)
		}
		h.advance(time.Hour)
		drain(t, w)
	}
	if got := len(s.sent); got != 1+bot.MaxResends {
		t.Fatalf("sent %d texts, want the first and %d copies", got, bot.MaxResends)
	}
	// An unknown message, and a permanent failure, send nothing.
	if err := w.Undelivered(ctx, "SMunknown", throttled); err != nil {
		t.Fatal(err)
	}
	whatsAppJob(t, h, bob)
	drain(t, w)
	if err := w.Undelivered(ctx, fmt.Sprintf("SM%d", len(s.sent)), &bot.DeliveryError{Err: errors.New("twilio 63024"), Code: 63024, Permanent: true}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	if n := drain(t, w); n != 0 {
		t.Fatalf("a permanent failure was sent again (%d)", n)
	}
}

// TestWorker_Undelivered_WindowClosed: a 63016 from a status callback
// closes the window and sends the text again at once, now outside it.
func TestWorker_Undelivered_WindowClosed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	w, s := seqWorker(h)
	closed := &bot.DeliveryError{Err: errors.New("twilio 63016"), Code: 63016, WindowClosed: true}
	whatsAppJob(t, h, alice)
	drain(t, w)
	if err := w.Undelivered(ctx, "SM1", closed); err != nil {
		t.Fatal(err)
	}
	if !h.phone(alice).WhatsAppSeen.IsZero() {
		t.Fatal("the window is still open")
	}
	if n := drain(t, w); n != 1 || len(s.sent) != 2 || s.sent[1].WindowOpen || s.sent[1].Resends != 1 {
		t.Fatalf("ran %d, sent %+v: want the copy at once, outside the window", n, s.sent)
	}
	// A person who wrote after the refused text keeps the new window.
	h.advance(time.Minute)
	whatsAppJob(t, h, alice)
	drain(t, w)
	h.advance(time.Minute)
	h.textOn(bot.ChannelWhatsApp, alice, "newer")
	seen := h.phone(alice).WhatsAppSeen
	if err := w.Undelivered(ctx, "SM3", closed); err != nil {
		t.Fatal(err)
	}
	if got := h.phone(alice).WhatsAppSeen; !got.Equal(seen) {
		t.Fatalf("a window opened after the refused text was closed: %v", got)
	}
}

// earlySender sends a WhatsApp text whose failure is reported, and acted
// on, before Send returns: the status callback beat the job's Done.
type earlySender struct {
	h    *harness
	w    *bot.Worker
	n    int
	sent []*bot.Job
}

func (f *earlySender) Send(ctx context.Context, j *bot.Job) (string, error) {
	f.n++
	cp := *j
	f.sent = append(f.sent, &cp)
	sid := fmt.Sprintf("SMearly%d", f.n)
	if f.n == 1 {
		if _, err := f.h.db.RecordStatus(ctx, sid, j.To, "failed", 63016, f.h.now); err != nil {
			return "", err
		}
		// The callback's own try finds no job yet.
		if err := f.w.Undelivered(ctx, sid, &bot.DeliveryError{Err: errors.New("twilio 63016"), Code: 63016, WindowClosed: true}); err != nil {
			return "", err
		}
	}
	return sid, nil
}

// TestWorker_Undelivered_CallbackFirst: a status callback that comes
// before the job is marked done is not lost: the Worker looks once it has
// marked it, and the text goes again (once).
func TestWorker_Undelivered_CallbackFirst(t *testing.T) {
	h := newHarness(t)
	s := &earlySender{h: h}
	w := &bot.Worker{Outbox: h.db, Store: h.db, SMS: s, Accounts: &fakeAccounts{}, Now: func() time.Time { return h.now },
		Sort: func(code int) *bot.DeliveryError {
			return &bot.DeliveryError{Err: fmt.Errorf("twilio %d", code), Code: code, WindowClosed: code == 63016}
		}}
	s.w = w
	whatsAppJob(t, h, alice)
	if n := drain(t, w); n != 2 {
		t.Fatalf("ran %d jobs, want the text and its copy", n)
	}
	if len(s.sent) != 2 || !s.sent[0].WindowOpen || s.sent[1].WindowOpen || s.sent[1].Resends != 1 {
		t.Fatalf("sent %+v", s.sent)
	}
	// The callback repeated later changes nothing.
	if err := w.Undelivered(context.Background(), "SMearly1", &bot.DeliveryError{Code: 63016, WindowClosed: true, Err: errors.New("x")}); err != nil {
		t.Fatal(err)
	}
	if n := drain(t, w); n != 0 {
		t.Fatalf("a repeated callback sent it again (%d)", n)
	}
}

// TestEngine_BindingFromBeforeChannels: a bound phone that names no
// proven channel (stored before channels were told apart) was proven over
// SMS: its commands run there, not on WhatsApp.
func TestEngine_BindingFromBeforeChannels(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	err := h.db.Update(context.Background(), func(tx bot.Tx) error {
		return tx.SavePhone(context.Background(), &bot.Phone{Number: alice, State: bot.StateSubscribed, UserID: acctY.ID, BoundAt: h.now, CreatedAt: h.now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.textOn(bot.ChannelSMS, alice, "ECHO hi"); r.Reply != "echo: hi" {
		t.Fatalf("SMS: %q", r.Reply)
	}
	if r := h.textOn(bot.ChannelWhatsApp, alice, "ECHO hi"); !strings.Contains(r.Reply, "send S") {
		t.Fatalf("WhatsApp: %q", r.Reply)
	}
}

// TestEngine_WhatsApp_WebLink: LINK and a web code sent on WhatsApp prove
// the binding there as a code texted back does: a new binding is proven
// on WhatsApp alone, a binding proven on SMS gains WhatsApp, and on a
// channel not proven yet a bare web code links (no command runs there),
// while on a proven channel it stays a command.
func TestEngine_WhatsApp_WebLink(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	wa, sms := bot.ChannelWhatsApp, bot.ChannelSMS

	// A new binding over WhatsApp.
	code := h.webLogin("w1", acctY)
	if r := h.textOn(wa, alice, "LINK "+bot.FormatWebCode(code)); r.State != bot.StateSubscribed || !strings.Contains(r.Reply, "you're subscribed") {
		t.Fatalf("LINK on WhatsApp: %+v", r)
	}
	if ph := h.phone(alice); ph.UserID != acctY.ID || ph.Proven != "whatsapp" || ph.Channel != wa {
		t.Fatalf("after LINK on WhatsApp: %+v", ph)
	}
	if got := h.audit(alice); len(got) != 1 || got[0] != "bind: web code confirmed on WhatsApp" {
		t.Fatalf("audit %v", got)
	}
	if r := h.textOn(wa, alice, "ECHO hi"); r.Reply != "echo: hi" {
		t.Fatalf("command on WhatsApp: %q", r.Reply)
	}
	if r := h.textOn(sms, alice, "ECHO hi"); !strings.Contains(r.Reply, "send S to link it again") {
		t.Fatalf("command on SMS, not proven: %q", r.Reply)
	}

	// The same account proves SMS with a bare web code: SMS is not
	// proven, so the code is a link, not a command.
	code2 := h.webLogin("w2", acctY)
	if r := h.textOn(sms, alice, code2); r.State != bot.StateSubscribed || !strings.Contains(r.Reply, "you're subscribed") {
		t.Fatalf("bare web code on SMS: %+v", r)
	}
	if ph := h.phone(alice); ph.UserID != acctY.ID || ph.Proven != "sms,whatsapp" {
		t.Fatalf("after the bare code on SMS: %+v", ph)
	}
	if got := h.audit(alice); len(got) != 2 || got[1] != "verify: web code confirmed on SMS; the binding now holds there too" {
		t.Fatalf("audit %v", got)
	}
	if st := h.webStatus("w2", code2); st.State != bot.WebLinked || st.Last4 != "0101" {
		t.Fatalf("status of w2: %+v", st)
	}
	// Proven on both now: a bare code is a command again, and links nothing.
	code3 := h.webLogin("w3", acctX)
	if r := h.textOn(wa, alice, code3); strings.Contains(r.Reply, "subscribed") || h.phone(alice).UserID != acctY.ID {
		t.Fatalf("bare code on a proven channel: %+v", r)
	}
	if st := h.webStatus("w3", code3); st.State != bot.WebWaiting {
		t.Fatalf("status of w3 after the bare code: %+v", st)
	}

	// Another account's code with LINK on WhatsApp takes the binding,
	// proven on WhatsApp alone.
	if r := h.textOn(wa, alice, "LINK "+code3); r.State != bot.StateSubscribed {
		t.Fatalf("LINK for another account: %+v", r)
	}
	if ph := h.phone(alice); ph.UserID != acctX.ID || ph.Proven != "whatsapp" {
		t.Fatalf("rebound by LINK on WhatsApp: %+v", ph)
	}
	if r := h.textOn(sms, alice, "ECHO x"); !strings.Contains(r.Reply, "send S to link it again") {
		t.Fatalf("SMS after the binding moved: %q", r.Reply)
	}

	// A wrong code on WhatsApp counts against the number, as on SMS.
	if r := h.textOn(wa, bob, "LINK ZZZZ-ZZZZ"); !strings.Contains(r.Reply, "4 tries left") || h.phone(bob).Bound() {
		t.Fatalf("wrong code on WhatsApp: %+v", r)
	}
	if r := h.textOn(sms, bob, "LINK ZZZZ-ZZZZ"); !strings.Contains(r.Reply, "3 tries left") {
		t.Fatalf("wrong code on SMS after one on WhatsApp: %+v", r)
	}
}
