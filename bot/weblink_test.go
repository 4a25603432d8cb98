package bot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

func TestNewWebCode(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		c, err := bot.NewWebCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != bot.WebCodeLen {
			t.Fatalf("code %q is not %d symbols", c, bot.WebCodeLen)
		}
		for _, r := range c {
			if !strings.ContainsRune(bot.WebCodeAlphabet, r) {
				t.Fatalf("code %q has %q, outside the alphabet", c, r)
			}
			counts[r]++
		}
		if seen[c] {
			t.Fatalf("code %q twice in 2000", c)
		}
		seen[c] = true
		if back, ok := bot.ParseWebCode(bot.FormatWebCode(c)); !ok || back != c {
			t.Fatalf("ParseWebCode(FormatWebCode(%q)) = %q %v", c, back, ok)
		}
	}
	// 16,000 symbols over 32: each about 500; every symbol is drawn.
	for _, r := range bot.WebCodeAlphabet {
		if n := counts[r]; n < 350 || n > 650 {
			t.Errorf("symbol %q drawn %d times of 16000", r, n)
		}
	}
	for _, r := range "01IO" {
		if strings.ContainsRune(bot.WebCodeAlphabet, r) {
			t.Errorf("the alphabet has the look-alike %q", r)
		}
	}
	if bot.WebCodeBits < 40 {
		t.Errorf("web codes carry %d bits", bot.WebCodeBits)
	}
	// The bits come from the reader, all of them.
	a, _ := bot.NewWebCode(bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	b, _ := bot.NewWebCode(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0xff}))
	c, _ := bot.NewWebCode(bytes.NewReader([]byte{0, 0, 0, 0, 1}))
	if a != "22222222" || b != "ZZZZZZZZ" || c != "22222223" {
		t.Errorf("codes from fixed bits: %q %q %q", a, b, c)
	}
	if _, err := bot.NewWebCode(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("a short read made a code")
	}
}

func TestParseWebCode(t *testing.T) {
	for in, want := range map[string]string{
		"4K7Q-9M2P":     "4K7Q9M2P",
		"4k7q9m2p":      "4K7Q9M2P",
		" 4K7Q 9M2P ":   "4K7Q9M2P",
		"4-K-7-Q 9M 2P": "4K7Q9M2P",
		"4K7Q-9M2":      "",
		"4K7Q-9M2PX":    "",
		"4K7Q-9M2O":     "", // O is not in the alphabet
		"4K7Q-9M21":     "",
		"4K7Q-9M2I":     "",
		"4K7Q_9M2P":     "",
		"４K7Q9M2P":      "",
		"":              "",
	} {
		got, ok := bot.ParseWebCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseWebCode(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestParse_Link(t *testing.T) {
	tests := []struct {
		body string
		kind bot.Kind
		code string
		bare bool
	}{
		{"LINK 4K7Q-9M2P", bot.KindLink, "4K7Q9M2P", false},
		{"link 4k7q 9m2p", bot.KindLink, "4K7Q9M2P", false},
		{" Link:4K7Q9M2P ", bot.KindLink, "4K7Q9M2P", false},
		{"LINK", bot.KindLink, "", false},
		{"LINK 4K7Q", bot.KindLink, "", false},
		{"LINK 482913", bot.KindLink, "", false},
		{"4K7Q-9M2P", bot.KindLink, "4K7Q9M2P", true},
		{"4k7q9m2p", bot.KindLink, "4K7Q9M2P", true},
		{"482913", bot.KindCode, "482913", false}, // the other flow's code stays its own
		{"48291300", bot.KindOther, "", false},    // 0 is not a web code symbol
		{"LINKS", bot.KindOther, "", false},
		{"LINKED 4K7Q9M2P", bot.KindOther, "", false},
		{"ST DEN 19", bot.KindOther, "", false},
		{"STOP", bot.KindStop, "", false},
	}
	for _, tt := range tests {
		c := bot.Parse(tt.body)
		if c.Kind != tt.kind || c.Code != tt.code || c.Bare != tt.bare {
			t.Errorf("Parse(%q) = %+v, want kind %d code %q bare %v", tt.body, c, tt.kind, tt.code, tt.bare)
		}
	}
}

// webLogin logs acct in on the web as login and returns the code shown.
func (h *harness) webLogin(login string, acct bot.Account) string {
	h.t.Helper()
	info, err := h.e.NewWebLogin(context.Background(), login, acct)
	if err != nil {
		h.t.Fatalf("web login %s: %v", login, err)
	}
	if info.Email != acct.Email || !info.ExpiresAt.Equal(h.now.Add(10*time.Minute)) {
		h.t.Fatalf("web login info %+v", info)
	}
	return info.Code
}

func (h *harness) webStatus(login, code string) bot.WebStatus {
	h.t.Helper()
	st, err := h.e.WebLoginStatus(context.Background(), login, code)
	if err != nil {
		h.t.Fatalf("status of %s: %v", login, err)
	}
	return st
}

// auditUsers returns the phone's audit trail as "action user reason" lines.
func (h *harness) auditUsers(phone string) []string {
	h.t.Helper()
	entries, err := h.db.AuditLog(context.Background(), phone)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, a := range entries {
		out = append(out, a.Action+" "+a.UserID+" "+a.Reason)
	}
	return out
}

func TestEngine_WebLink_HappyPath(t *testing.T) {
	h := newHarness(t)
	h.e.WebLinkURL = "https://bot.example.com/link"
	code := h.webLogin("w1", acctY)
	if st := h.webStatus("w1", code); st.State != bot.WebWaiting || st.Left != 4 {
		t.Fatalf("status before: %+v", st)
	}
	res := h.text(alice, "LINK "+bot.FormatWebCode(code))
	if res.State != bot.StateSubscribed || !strings.Contains(res.Reply, "you're subscribed") || !strings.Contains(res.Reply, "y***@example.com") {
		t.Fatalf("LINK: %+v", res)
	}
	if p := h.phone(alice); p.UserID != acctY.ID || p.Email != acctY.Email || p.VerifiedAt.IsZero() {
		t.Fatalf("phone after LINK: %+v", p)
	}
	if st := h.webStatus("w1", code); st.State != bot.WebLinked || st.Last4 != "0101" {
		t.Fatalf("status after: %+v", st)
	}
	if got := h.auditUsers(alice); len(got) != 1 || got[0] != "bind "+acctY.ID+" web code confirmed" {
		t.Fatalf("audit %q", got)
	}
	if jobs := h.jobs(); len(jobs) != 1 || jobs[0] != "account_sync "+acctY.ID+": " {
		t.Fatalf("jobs %q", jobs)
	}
	// Used: the same code again, from this phone or another, binds nothing.
	if res := h.text(bob, "LINK "+code); !strings.Contains(res.Reply, "already used") || res.State != bot.StateIdle {
		t.Fatalf("reused code: %+v", res)
	}
	if _, err := h.e.NewWebLogin(context.Background(), "w1", acctY); bot.ErrorCode(err) != bot.EUSED {
		t.Fatalf("a new code after linking: %v", err)
	}
	// H names the web path.
	h.text(bob, "U")
	if res := h.text(bob, "H"); !strings.Contains(res.Reply, "https://bot.example.com/link") || bot.Segments(res.Reply) != 1 {
		t.Fatalf("H: %q", res.Reply)
	}
}

func TestEngine_WebLink_BareCode(t *testing.T) {
	h := newHarness(t)
	code := h.webLogin("w1", acctY)
	// From a phone that waits for the other flow's code: a web code is
	// not a six-digit code, so it is taken as one.
	sixDigits := h.login(h.subscribeStart(alice), acctX)
	res := h.text(alice, strings.ToLower(bot.FormatWebCode(code)))
	if res.State != bot.StateSubscribed || h.phone(alice).UserID != acctY.ID {
		t.Fatalf("bare code: %+v", res)
	}
	// The phone-first login is over: its code does nothing now.
	if res := h.text(alice, sixDigits.Code); h.phone(alice).UserID != acctY.ID || res.State != bot.StateSubscribed {
		t.Fatalf("the other flow's code after linking: %+v", res)
	}
	// From a subscribed phone, a bare code is a command like any other.
	code2 := h.webLogin("w2", acctX)
	if res := h.text(alice, code2); !strings.Contains(res.Reply, "unknown command") || h.phone(alice).UserID != acctY.ID {
		t.Fatalf("bare code from a subscribed phone: %+v", res)
	}
	if res := h.text(alice, "LINK "+code2); h.phone(alice).UserID != acctX.ID {
		t.Fatalf("LINK from a subscribed phone: %+v", res)
	}
}

func TestEngine_WebLink_WrongCodes(t *testing.T) {
	h := newHarness(t)
	code := h.webLogin("w1", acctY)
	var limits []bot.Limit
	h.e.Hooks.LimitHit = func(l bot.Limit) { limits = append(limits, l) }
	wrong := "LINK 2222-2222"
	if code == "22222222" {
		wrong = "LINK 3333-3333"
	}
	if res := h.text(alice, "LINK"); !strings.Contains(res.Reply, "send S") {
		t.Fatalf("LINK alone: %+v", res)
	}
	for left := 4; left >= 1; left-- {
		if res := h.text(alice, wrong); !strings.Contains(res.Reply, fmt.Sprintf("%d tr", left)) {
			t.Fatalf("wrong code with %d left: %+v", left, res)
		}
	}
	if res := h.text(alice, "LINK nonsense"); !strings.Contains(res.Reply, "too many wrong codes") {
		t.Fatalf("fifth wrong code: %+v", res)
	}
	// Then silence, even for the right code, counted each time.
	for _, body := range []string{wrong, "LINK " + code, code} {
		if res := h.text(alice, body); res.Reply != "" || res.State != bot.StateIdle {
			t.Fatalf("%q over the limit: %+v", body, res)
		}
	}
	if h.phone(alice).UserID != "" || h.webStatus("w1", code).State != bot.WebWaiting {
		t.Fatal("a code over the limit bound the phone")
	}
	if len(limits) != 4 || limits[0] != bot.LimitLinkAttempts || limits[3] != bot.LimitLinkAttempts {
		t.Fatalf("limits hit: %v", limits)
	}
	// Another phone is not limited; and after ten minutes this one tries again.
	if res := h.text(bob, wrong); !strings.Contains(res.Reply, "4 tries left") {
		t.Fatalf("another phone: %+v", res)
	}
	h.advance(bot.LinkAttemptWindow + time.Second)
	code = h.webLogin("w1", acctY) // the first one has expired meanwhile
	if res := h.text(alice, "LINK "+code); res.State != bot.StateSubscribed {
		t.Fatalf("after the window: %+v", res)
	}
}

func TestEngine_WebLink_ExpiredAndReplaced(t *testing.T) {
	h := newHarness(t)
	first := h.webLogin("w1", acctY)
	h.advance(10 * time.Minute)
	if st := h.webStatus("w1", first); st.State != bot.WebExpired {
		t.Fatalf("status after 10 minutes: %+v", st)
	}
	if res := h.text(alice, "LINK "+first); !strings.Contains(res.Reply, "expired") || h.phone(alice).UserID != "" {
		t.Fatalf("expired code: %+v", res)
	}
	// A new code replaces the old, which is unknown from then on.
	second := h.webLogin("w1", acctY)
	if st := h.webStatus("w1", first); st.State != bot.WebReplaced {
		t.Fatalf("status of the replaced code: %+v", st)
	}
	if res := h.text(alice, "LINK "+first); !strings.Contains(res.Reply, "not valid") {
		t.Fatalf("replaced code: %+v", res)
	}
	// Five codes per login, then ELIMIT; another login of the same account
	// is not affected.
	for range 3 {
		h.webLogin("w1", acctY)
	}
	if _, err := h.e.NewWebLogin(context.Background(), "w1", acctY); bot.ErrorCode(err) != bot.ELIMIT {
		t.Fatalf("sixth code: %v", err)
	}
	if _, err := h.e.NewWebLogin(context.Background(), "w1", acctX); bot.ErrorCode(err) != bot.EINVALID {
		t.Fatalf("a code for another account on this login: %v", err)
	}
	h.webLogin("w2", acctY)
	if _, err := h.e.WebLoginStatus(context.Background(), "nope", second); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("status of an unknown login: %v", err)
	}
}

func TestEngine_WebLink_OptedOut(t *testing.T) {
	h := newHarness(t)
	code := h.webLogin("w1", acctY)
	h.text(alice, "STOP")
	for _, body := range []string{"LINK " + code, code, "LINK 2222-2222"} {
		if res := h.text(alice, body); res.Reply != "" || res.State != bot.StateOptedOut {
			t.Fatalf("%q when opted out: %+v", body, res)
		}
	}
	if h.webStatus("w1", code).State != bot.WebWaiting || h.phone(alice).UserID != "" {
		t.Fatal("a text from an opted-out phone used the code")
	}
	var n int
	h.db.View(context.Background(), func(tx bot.Tx) error {
		n, _ = tx.CountLinkMisses(context.Background(), alice, time.Time{})
		return nil
	})
	if n != 0 {
		t.Fatalf("%d wrong codes counted for an opted-out phone", n)
	}
}

// TestEngine_WebLink_Rebinding: the same rules as the phone-first path.
// Y's web code from bob's phone, bound to X: bob leaves X, Y's earlier
// phone (alice) is unbound and told, Auth0 is updated for both accounts.
func TestEngine_WebLink_Rebinding(t *testing.T) {
	h := newHarness(t)
	h.subscribe(alice, acctY)
	h.subscribe(bob, acctX)
	h.jobs()
	code := h.webLogin("w1", acctY)
	if res := h.text(bob, "LINK "+code); res.State != bot.StateSubscribed || !strings.Contains(res.Reply, "y***@example.com") {
		t.Fatalf("rebind: %+v", res)
	}
	if p := h.phone(bob); p.UserID != acctY.ID {
		t.Fatalf("bob bound to %q", p.UserID)
	}
	if p := h.phone(alice); p.UserID != "" || p.State != bot.StateIdle {
		t.Fatalf("alice after Y moved: %+v", p)
	}
	jobs := strings.Join(h.jobs(), "\n")
	for _, want := range []string{"sms " + alice + ": smsbot: this phone is no longer linked to y***@example.com", "account_sync " + acctX.ID, "account_sync " + acctY.ID} {
		if !strings.Contains(jobs, want) {
			t.Errorf("jobs lack %q:\n%s", want, jobs)
		}
	}
	got := strings.Join(h.auditUsers(bob), "\n")
	if !strings.Contains(got, "unbind "+acctX.ID+" phone linked to another account") || !strings.Contains(got, "bind "+acctY.ID+" web code confirmed") {
		t.Fatalf("bob's audit:\n%s", got)
	}
	if got := strings.Join(h.auditUsers(alice), "\n"); !strings.Contains(got, "unbind "+acctY.ID+" account linked another phone") {
		t.Fatalf("alice's audit:\n%s", got)
	}
}

// TestEngine_WebLink_Interleaved: both paths at once for one account. Y
// starts on the web while alice links Y by S; then bob texts Y's web code:
// Y moves to bob and alice is told; alice's later phone-first code for Y
// moves Y back.
func TestEngine_WebLink_Interleaved(t *testing.T) {
	h := newHarness(t)
	web := h.webLogin("w1", acctY)
	h.subscribe(alice, acctY)
	again := h.login(h.subscribeStart(alice), acctY) // alice re-links meanwhile
	h.jobs()
	if res := h.text(bob, "LINK "+web); res.State != bot.StateSubscribed {
		t.Fatalf("bob's LINK: %+v", res)
	}
	if p := h.phone(alice); p.UserID != "" || p.State != bot.StateAwaitingCode {
		t.Fatalf("alice after bob took Y: %+v", p)
	}
	if jobs := strings.Join(h.jobs(), "\n"); !strings.Contains(jobs, "sms "+alice+": smsbot: this phone is no longer linked") {
		t.Fatalf("alice not told:\n%s", jobs)
	}
	if res := h.text(alice, again.Code); res.State != bot.StateSubscribed {
		t.Fatalf("alice's code: %+v", res)
	}
	if a, b := h.phone(alice), h.phone(bob); a.UserID != acctY.ID || b.UserID != "" || b.State != bot.StateIdle {
		t.Fatalf("after alice's code: alice %+v bob %+v", a, b)
	}
	if st := h.webStatus("w1", web); st.State != bot.WebLinked || st.Last4 != "0102" {
		t.Fatalf("the web page's status: %+v", st)
	}
}
