package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// harness runs the engine on a real SQLite database with a clock the test
// moves.
type harness struct {
	t   *testing.T
	db  *store.DB
	e   *bot.Engine
	now time.Time
	sid int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := bot.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	h.e = &bot.Engine{
		Store: db, Keys: keys, Replies: replies, Name: "smsbot",
		PublicURL: "https://bot.example.com", Limits: bot.DefaultLimits(),
		Now: func() time.Time { return h.now },
	}
	return h
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

func (h *harness) text(from, body string) bot.Result {
	h.t.Helper()
	h.sid++
	res, err := h.e.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032x", h.sid), From: from, Body: body})
	if err != nil {
		h.t.Fatalf("text %q from %s: %v", body, from, err)
	}
	return res
}

var linkRE = regexp.MustCompile(`/l/([A-Za-z0-9_-]+)`)

// subscribeStart texts S and returns the link token.
func (h *harness) subscribeStart(phone string) string {
	h.t.Helper()
	res := h.text(phone, "S")
	m := linkRE.FindStringSubmatch(res.Reply)
	if m == nil || res.State != bot.StateAwaitingLogin {
		h.t.Fatalf("S: reply %q state %s, want a link and awaiting_login", res.Reply, res.State)
	}
	return m[1]
}

// login opens the link and logs in as acct, returning the code shown.
func (h *harness) login(token string, acct bot.Account) bot.CodeInfo {
	h.t.Helper()
	ctx := context.Background()
	info, err := h.e.OpenLink(ctx, token)
	if err != nil {
		h.t.Fatalf("open link: %v", err)
	}
	code, err := h.e.ConfirmLogin(ctx, info.Hash, "login-"+acct.ID, acct)
	if err != nil {
		h.t.Fatalf("confirm login: %v", err)
	}
	return code
}

func (h *harness) subscribe(phone string, acct bot.Account) {
	h.t.Helper()
	code := h.login(h.subscribeStart(phone), acct)
	if res := h.text(phone, code.Code); res.State != bot.StateSubscribed {
		h.t.Fatalf("code: reply %q state %s", res.Reply, res.State)
	}
}

func (h *harness) phone(number string) *bot.Phone {
	h.t.Helper()
	var p *bot.Phone
	err := h.db.View(context.Background(), func(tx bot.Tx) error {
		var err error
		p, err = tx.Phone(context.Background(), number)
		return err
	})
	if err != nil {
		h.t.Fatalf("phone %s: %v", number, err)
	}
	return p
}

// jobs returns the outbox's pending jobs as "kind to/user: body".
func (h *harness) jobs() []string {
	h.t.Helper()
	var out []string
	for {
		j, err := h.db.Claim(context.Background(), h.now.Add(time.Hour), time.Minute)
		if bot.ErrorCode(err) == bot.ENOTFOUND {
			return out
		} else if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s%s: %s", j.Kind, j.To, j.UserID, j.Body))
		if err := h.db.Done(context.Background(), j.ID, h.now, "test"); err != nil {
			h.t.Fatal(err)
		}
	}
}

const (
	alice = "+15555550101"
	bob   = "+15555550102"
)

var (
	acctY = bot.Account{ID: "auth0|yyy", Email: "you@example.com"}
	acctX = bot.Account{ID: "auth0|xxx", Email: "xavier@example.com"}
)

func TestEngine_HandleSMS_HappyPath(t *testing.T) {
	h := newHarness(t)
	if res := h.text(alice, "hello"); res.State != bot.StateIdle || !strings.Contains(res.Reply, "send S to subscribe") {
		t.Fatalf("hello: %+v", res)
	}
	token := h.subscribeStart(alice)
	if len(token) < 22 {
		t.Fatalf("token %q is under 128 bits", token)
	}
	code := h.login(token, acctY)
	if len(code.Code) != 6 || code.Phone != alice || code.Email != acctY.Email {
		t.Fatalf("code info %+v", code)
	}
	if got := h.phone(alice).State; got != bot.StateAwaitingCode {
		t.Fatalf("after login: %s", got)
	}
	jobs := h.jobs()
	if len(jobs) != 1 || !strings.Contains(jobs[0], "sms "+alice+": smsbot: reply with the 6-digit code") {
		t.Fatalf("jobs after login: %q", jobs)
	}
	// Spaces and a dash inside are fine.
	res := h.text(alice, " "+code.Code[:3]+"-"+code.Code[3:]+" ")
	if res.State != bot.StateSubscribed || !strings.Contains(res.Reply, "subscribed") || !strings.Contains(res.Reply, "y***@example.com") {
		t.Fatalf("code reply %+v", res)
	}
	p := h.phone(alice)
	if p.UserID != acctY.ID || p.CodeMAC != nil || p.LinkHash != nil {
		t.Fatalf("phone after confirm: %+v", p)
	}
	if jobs := h.jobs(); len(jobs) != 1 || jobs[0] != "account_sync "+acctY.ID+": " {
		t.Fatalf("jobs after confirm: %q", jobs)
	}
	if res := h.text(alice, "what"); !strings.Contains(res.Reply, "unknown command") {
		t.Fatalf("subscribed text: %q", res.Reply)
	}
}

func TestEngine_HandleSMS_HelpInEveryState(t *testing.T) {
	h := newHarness(t)
	want := map[string]string{
		bot.StateIdle:          "S = subscribe",
		bot.StateAwaitingLogin: "open the link",
		bot.StateAwaitingCode:  "6-digit code shown after login",
		bot.StateSubscribed:    "U = unsubscribe",
	}
	check := func(state string) {
		t.Helper()
		for _, h0 := range []string{"H", "h", " H "} {
			res := h.text(alice, h0)
			if res.State != state || !strings.Contains(res.Reply, want[state]) || !strings.Contains(res.Reply, "Msg & data rates may apply") {
				t.Fatalf("H in %s: %+v", state, res)
			}
		}
	}
	check(bot.StateIdle)
	token := h.subscribeStart(alice)
	check(bot.StateAwaitingLogin)
	code := h.login(token, acctY)
	check(bot.StateAwaitingCode)
	h.text(alice, code.Code)
	check(bot.StateSubscribed)
	// HELP is the carrier's: silent by default, answered when set.
	if res := h.text(alice, "HELP"); res.Reply != "" {
		t.Fatalf("HELP answered by default: %q", res.Reply)
	}
	h.e.AnswerKeywords = true
	if res := h.text(alice, "help"); !strings.Contains(res.Reply, "U = unsubscribe") {
		t.Fatalf("HELP with AnswerKeywords: %q", res.Reply)
	}
	// Opted out: nothing is sent, not even for H.
	h.text(alice, "STOP")
	if res := h.text(alice, "H"); res.Reply != "" || res.State != bot.StateOptedOut {
		t.Fatalf("H when opted out: %+v", res)
	}
}

func TestEngine_HandleSMS_WrongCodes(t *testing.T) {
	h := newHarness(t)
	code := h.login(h.subscribeStart(alice), acctY)
	wrong := "000000"
	if code.Code == wrong {
		wrong = "111111"
	}
	for left := 4; left >= 1; left-- {
		res := h.text(alice, wrong)
		if res.State != bot.StateAwaitingCode || !strings.Contains(res.Reply, fmt.Sprintf("%d tr", left)) {
			t.Fatalf("wrong code with %d left: %+v", left, res)
		}
	}
	res := h.text(alice, wrong)
	if res.State != bot.StateIdle || !strings.Contains(res.Reply, "too many times") {
		t.Fatalf("fifth wrong code: %+v", res)
	}
	// The right code after lock-out does nothing.
	if res := h.text(alice, code.Code); res.State != bot.StateIdle || h.phone(alice).UserID != "" {
		t.Fatalf("right code after lock-out: %+v", res)
	}
}

func TestEngine_HandleSMS_Expiry(t *testing.T) {
	t.Run("link", func(t *testing.T) {
		h := newHarness(t)
		token := h.subscribeStart(alice)
		h.advance(15 * time.Minute)
		if _, err := h.e.OpenLink(context.Background(), token); bot.ErrorCode(err) != bot.EEXPIRED {
			t.Fatalf("open expired link: %v", err)
		}
		// The expired state does not swallow the next message.
		if res := h.text(alice, "H"); res.State != bot.StateIdle || !strings.Contains(res.Reply, "S = subscribe") {
			t.Fatalf("after expiry: %+v", res)
		}
	})
	t.Run("code", func(t *testing.T) {
		h := newHarness(t)
		code := h.login(h.subscribeStart(alice), acctY)
		h.advance(10*time.Minute + time.Second)
		res := h.text(alice, code.Code)
		if res.State != bot.StateIdle || !strings.Contains(res.Reply, "expired") || h.phone(alice).UserID != "" {
			t.Fatalf("expired code: %+v", res)
		}
	})
	t.Run("relink keeps the old binding", func(t *testing.T) {
		h := newHarness(t)
		h.subscribe(alice, acctY)
		h.subscribeStart(alice)
		if p := h.phone(alice); p.UserID != acctY.ID {
			t.Fatalf("binding dropped while re-linking: %+v", p)
		}
		h.advance(time.Hour)
		if res := h.text(alice, "what"); res.State != bot.StateSubscribed || !strings.Contains(res.Reply, "unknown command") {
			t.Fatalf("after re-link expired: %+v", res)
		}
	})
}

func TestEngine_OpenLink(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	token := h.subscribeStart(alice)
	// Opening twice changes nothing.
	for i := 0; i < 2; i++ {
		if info, err := h.e.OpenLink(ctx, token); err != nil || info.Phone != alice {
			t.Fatalf("open %d: %+v %v", i, info, err)
		}
	}
	if got := h.phone(alice).State; got != bot.StateAwaitingLogin {
		t.Fatalf("opening changed the state to %s", got)
	}
	for _, bad := range []string{"", "short", token + "x", strings.Repeat("*", len(token)), strings.Repeat("A", len(token))} {
		_, err := h.e.OpenLink(ctx, bad)
		if c := bot.ErrorCode(err); c != bot.EINVALID && c != bot.ENOTFOUND {
			t.Errorf("open %q: %v", bad, err)
		}
	}
	info, _ := h.e.OpenLink(ctx, token)
	if _, err := h.e.ConfirmLogin(ctx, info.Hash, "l1", acctY); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.OpenLink(ctx, token); bot.ErrorCode(err) != bot.EUSED {
		t.Fatalf("reused link: %v", err)
	}
	if _, err := h.e.ConfirmLogin(ctx, info.Hash, "l2", acctX); bot.ErrorCode(err) != bot.EUSED {
		t.Fatalf("second login on a used link: %v", err)
	}
	// A newer S replaces the older link.
	old := h.subscribeStart(alice)
	h.subscribeStart(alice)
	if _, err := h.e.OpenLink(ctx, old); bot.ErrorCode(err) != bot.EEXPIRED {
		t.Fatalf("superseded link: %v", err)
	}
}

func TestEngine_HandleSMS_CodeFromAnotherPhone(t *testing.T) {
	h := newHarness(t)
	code := h.login(h.subscribeStart(alice), acctY)
	if res := h.text(bob, code.Code); res.State != bot.StateIdle || !strings.Contains(res.Reply, "send S") {
		t.Fatalf("code from bob: %+v", res)
	}
	h.subscribeStart(bob)
	h.login(h.subscribeStart(bob), acctX)
	res := h.text(bob, code.Code)
	if res.State != bot.StateAwaitingCode || !strings.Contains(res.Reply, "wrong code") {
		t.Fatalf("alice's code from bob awaiting his own: %+v", res)
	}
	if p := h.phone(alice); p.State != bot.StateAwaitingCode || p.CodeAttempts != 0 {
		t.Fatalf("alice changed: %+v", p)
	}
}

func TestEngine_HandleSMS_Duplicate(t *testing.T) {
	h := newHarness(t)
	in := bot.Inbound{MessageSID: "SM" + strings.Repeat("a", 32), From: alice, Body: "S"}
	first, err := h.e.HandleSMS(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	before := h.phone(alice)
	again, err := h.e.HandleSMS(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Reply != first.Reply {
		t.Fatalf("duplicate: %+v, first %+v", again, first)
	}
	after := h.phone(alice)
	if string(after.LinkHash) != string(before.LinkHash) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("duplicate changed the phone")
	}
	var n int
	h.db.View(context.Background(), func(tx bot.Tx) error {
		n, err = tx.CountLinks(context.Background(), alice, time.Time{})
		return err
	})
	if n != 1 {
		t.Fatalf("%d links after a duplicate S", n)
	}
}

func TestEngine_HandleSMS_StopStart(t *testing.T) {
	for _, answer := range []bool{false, true} {
		t.Run(fmt.Sprintf("answer=%v", answer), func(t *testing.T) {
			h := newHarness(t)
			h.e.AnswerKeywords = answer
			h.subscribe(alice, acctY)
			res := h.text(alice, "stop")
			if res.State != bot.StateOptedOut || (res.Reply != "") == !answer {
				t.Fatalf("STOP: %+v", res)
			}
			for _, body := range []string{"S", "hello", "123456", "U"} {
				if res := h.text(alice, body); res.Reply != "" || res.State != bot.StateOptedOut {
					t.Fatalf("%q when opted out: %+v", body, res)
				}
			}
			res = h.text(alice, "START")
			if res.State != bot.StateSubscribed || (res.Reply != "") == !answer {
				t.Fatalf("START: %+v", res)
			}
		})
	}
	t.Run("S is never START", func(t *testing.T) {
		h := newHarness(t)
		h.text(alice, "STOP")
		if res := h.text(alice, "S"); res.State != bot.StateOptedOut {
			t.Fatalf("S when opted out: %+v", res)
		}
		if res := h.text(alice, "unstop"); res.State != bot.StateIdle {
			t.Fatalf("UNSTOP: %+v", res)
		}
	})
}

func TestEngine_HandleSMS_Unsubscribe(t *testing.T) {
	h := newHarness(t)
	if res := h.text(alice, "U"); !strings.Contains(res.Reply, "not subscribed") {
		t.Fatalf("U when idle: %q", res.Reply)
	}
	h.subscribe(alice, acctY)
	h.jobs()
	res := h.text(alice, "u")
	if res.State != bot.StateIdle || !strings.Contains(res.Reply, "unsubscribed") || h.phone(alice).UserID != "" {
		t.Fatalf("U: %+v", res)
	}
	if jobs := h.jobs(); len(jobs) != 1 || jobs[0] != "account_sync "+acctY.ID+": " {
		t.Fatalf("jobs after U: %q", jobs)
	}
}

func TestEngine_HandleSMS_Rebinding(t *testing.T) {
	h := newHarness(t)
	h.subscribe(alice, acctY)
	h.subscribe(bob, acctX)
	h.jobs()
	// Y links bob's phone: bob leaves X, alice leaves Y and is told.
	code := h.login(h.subscribeStart(bob), acctY)
	h.jobs()
	if res := h.text(bob, code.Code); res.State != bot.StateSubscribed {
		t.Fatalf("rebind: %+v", res)
	}
	if p := h.phone(bob); p.UserID != acctY.ID {
		t.Fatalf("bob bound to %q", p.UserID)
	}
	if p := h.phone(alice); p.UserID != "" || p.State != bot.StateIdle {
		t.Fatalf("alice after Y moved: %+v", p)
	}
	jobs := strings.Join(h.jobs(), "\n")
	for _, want := range []string{"sms " + alice + ": smsbot: this phone is no longer linked", "account_sync " + acctX.ID, "account_sync " + acctY.ID} {
		if !strings.Contains(jobs, want) {
			t.Errorf("jobs lack %q:\n%s", want, jobs)
		}
	}
}

func TestEngine_HandleSMS_LinkLimits(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 3; i++ {
		h.subscribeStart(alice)
		h.advance(time.Minute)
	}
	res := h.text(alice, "S")
	if !strings.Contains(res.Reply, "too many login links") || linkRE.MatchString(res.Reply) {
		t.Fatalf("4th S in an hour: %+v", res)
	}
	h.advance(time.Hour)
	h.subscribeStart(alice)
	// 10 a day.
	for i := 0; i < 6; i++ {
		h.advance(21 * time.Minute)
		h.subscribeStart(alice)
	}
	h.advance(21 * time.Minute)
	if res := h.text(alice, "S"); !strings.Contains(res.Reply, "too many login links") {
		t.Fatalf("11th S in a day: %+v", res)
	}
}

func TestEngine_HandleSMS_ReplyBudget(t *testing.T) {
	h := newHarness(t)
	h.e.Limits.ReplyBudget = 5
	for i := 0; i < 5; i++ {
		if res := h.text(alice, "ping"); res.Reply == "" {
			t.Fatalf("reply %d muted", i)
		}
	}
	if res := h.text(alice, "ping"); res.Reply != "" || !res.Muted {
		t.Fatalf("over budget: %+v", res)
	}
	h.advance(h.e.Limits.ReplyWindow)
	if res := h.text(alice, "ping"); res.Reply == "" {
		t.Fatal("budget not renewed")
	}
}

// TestEngine_HandleSMS_ReplyBudgetOutOfOrder: a text handled with a time a
// little before the last one (it waited for the phone's lock, on another
// instance) still counts against the budget.
func TestEngine_HandleSMS_ReplyBudgetOutOfOrder(t *testing.T) {
	h := newHarness(t)
	h.e.Limits.ReplyBudget = 3
	for i := 0; i < 3; i++ {
		h.text(alice, "ping")
	}
	h.advance(-time.Second)
	if res := h.text(alice, "ping"); res.Reply != "" || !res.Muted {
		t.Fatalf("a text a second out of order renewed the budget: %+v", res)
	}
	h.advance(-h.e.Limits.ReplyWindow) // the clock was set back
	if res := h.text(alice, "ping"); res.Reply == "" {
		t.Fatal("budget not renewed after the clock was set back by a window")
	}
}

func TestEngine_HandleSMS_BadInput(t *testing.T) {
	h := newHarness(t)
	for _, in := range []bot.Inbound{
		{MessageSID: "", From: alice, Body: "S"},
		{MessageSID: "SM1", From: "5555550101", Body: "S"},
		{MessageSID: "SM1", From: "+0555", Body: "S"},
	} {
		if _, err := h.e.HandleSMS(context.Background(), in); bot.ErrorCode(err) != bot.EINVALID {
			t.Errorf("%+v: %v", in, err)
		}
	}
}

// TestEngine_HandleSMS_Kind: the result says what the text was read as,
// the way Parse reads it, answered or not.
func TestEngine_HandleSMS_Kind(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{"H", "S", "what is the temperature", "STOP", "START", "LANG ES", "123456"} {
		if got, want := h.text("+15555550171", body).Kind, bot.Parse(body).Kind; got != want {
			t.Errorf("%q: kind %v, want %v", body, got, want)
		}
	}
}
