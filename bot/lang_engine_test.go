package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

const (
	mexico  = "+5215512345678"
	brazil  = "+5511912345678"
	france  = "+33612345678"
	germany = "+4915112345678"
	spain   = "+34612345678"
)

// reply renders what the harness's engine says in language code.
func (h *harness) reply(code, name string, d bot.ReplyData) string {
	h.t.Helper()
	l, ok := bot.FindLanguage(code)
	if !ok {
		h.t.Fatalf("no language %s", code)
	}
	d.Name = "smsbot"
	s, err := h.e.Replies.RenderIn(l, name, d)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestEngine_Language_FromCountry: the first text picks the language of
// the country calling code, stores it, and every reply of the
// subscription comes in it, the texts of the outbox too.
func TestEngine_Language_FromCountry(t *testing.T) {
	h := newHarness(t)
	if res := h.text(mexico, "hola"); res.Reply != h.reply("es", bot.ReplyHint, bot.ReplyData{}) {
		t.Fatalf("hola: %q", res.Reply)
	}
	if p := h.phone(mexico); p.Language != "es-MX" || p.LanguageSource != bot.LanguageFromCountry {
		t.Fatalf("stored %q from %q", p.Language, p.LanguageSource)
	}
	token := h.subscribeStart(mexico)
	res := h.text(mexico, "H")
	if res.Reply != h.reply("es", bot.ReplyHelpLogin, bot.ReplyData{}) {
		t.Fatalf("H awaiting login: %q", res.Reply)
	}
	code := h.login(token, acctY)
	if code.Lang.Code != "es" {
		t.Errorf("code page language %s", code.Lang.Code)
	}
	if jobs := h.jobs(); len(jobs) != 1 || !strings.HasSuffix(jobs[0], h.reply("es", bot.ReplyCodePrompt, bot.ReplyData{})) {
		t.Fatalf("code prompt %q", jobs)
	}
	if res := h.text(mexico, "000000"); !strings.Contains(res.Reply, "código incorrecto. Te quedan 4 intentos") {
		t.Fatalf("wrong code: %q", res.Reply)
	}
	if res := h.text(mexico, code.Code); res.Reply != h.reply("es", bot.ReplySubscribed, bot.ReplyData{Email: bot.MaskEmail(acctY.Email)}) {
		t.Fatalf("code: %q", res.Reply)
	}
	if res := h.text(mexico, "U"); res.Reply != h.reply("es", bot.ReplyUnsubscribed, bot.ReplyData{}) {
		t.Fatalf("U: %q", res.Reply)
	}
	// A phone stored before languages (no language yet) gets its
	// country's at its next text.
	must(t, h.db.Update(context.Background(), func(tx bot.Tx) error {
		return tx.SavePhone(context.Background(), &bot.Phone{Number: germany, State: bot.StateIdle, CreatedAt: h.now, UpdatedAt: h.now})
	}))
	if res := h.text(germany, "?"); res.Reply != h.reply("de", bot.ReplyHint, bot.ReplyData{}) {
		t.Fatalf("old phone: %q", res.Reply)
	}
	if p := h.phone(germany); p.Language != "de-DE" || p.LanguageSource != bot.LanguageFromCountry {
		t.Fatalf("old phone stored %q %q", p.Language, p.LanguageSource)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEngine_Language_LANG: LANG lists the choices in the phone's
// language; LANG XX changes it, answered in the new one, and it sticks.
func TestEngine_Language_LANG(t *testing.T) {
	h := newHarness(t)
	if res := h.text(alice, "LANG"); res.Reply != "smsbot: texts are in English. To change, send LANG and one of EN, ES, PT, FR, DE." {
		t.Fatalf("LANG: %q", res.Reply)
	}
	if res := h.text(alice, "lang es"); res.Reply != h.reply("es", bot.ReplyLanguageSet, bot.ReplyData{}) {
		t.Fatalf("LANG ES: %q", res.Reply)
	}
	if p := h.phone(alice); p.Language != "es" || p.LanguageSource != bot.LanguageChosen {
		t.Fatalf("stored %q %q", p.Language, p.LanguageSource)
	}
	if res := h.text(alice, "hello"); res.Reply != h.reply("es", bot.ReplyHint, bot.ReplyData{}) {
		t.Fatalf("after LANG ES: %q", res.Reply)
	}
	if res := h.text(alice, "LANG"); !strings.Contains(res.Reply, "te escribimos en español") {
		t.Fatalf("LANG in Spanish: %q", res.Reply)
	}
	// A language the bot does not speak: the list, nothing changes.
	if res := h.text(alice, "LANG IT"); res.Reply != h.reply("es", bot.ReplyLanguages, bot.ReplyData{}) {
		t.Fatalf("LANG IT: %q", res.Reply)
	}
	for body, want := range map[string]string{"Idioma português": "pt-BR", "LANGUE fr": "fr", "sprache Deutsch": "de", "LANG en": "en"} {
		res := h.text(alice, body)
		if res.Reply != h.reply(want, bot.ReplyLanguageSet, bot.ReplyData{}) || h.phone(alice).Language != want {
			t.Fatalf("%s: %q, stored %s", body, res.Reply, h.phone(alice).Language)
		}
	}
	// LANG works while subscribed, and never reaches a plugin.
	h.e.Plugins = []bot.Plugin{echo{}}
	h.subscribe(bob, acctX)
	if res := h.text(bob, "LANG FR"); res.Reply != h.reply("fr", bot.ReplyLanguageSet, bot.ReplyData{}) || res.State != bot.StateSubscribed {
		t.Fatalf("LANG FR subscribed: %+v", res)
	}
}

// TestEngine_Language_StopWords: each language's STOP word opts out and
// is answered once, in that language, even though the carrier's keywords
// are left to Twilio; nothing more is answered until START or the
// language's START word, which is answered in it too.
func TestEngine_Language_StopWords(t *testing.T) {
	phones := map[string]string{"es": mexico, "pt-BR": brazil, "fr": france, "de": germany}
	for _, l := range bot.Languages[1:] {
		for _, stop := range l.Stop {
			t.Run(l.Code+"/"+stop, func(t *testing.T) {
				h := newHarness(t)
				phone := phones[l.Code]
				h.subscribe(phone, acctY)
				h.jobs()
				res := h.text(phone, strings.ToLower(stop))
				if res.State != bot.StateOptedOut || res.Reply != h.reply(l.Code, bot.ReplyStopped, bot.ReplyData{}) {
					t.Fatalf("%s: %+v", stop, res)
				}
				for _, body := range []string{stop, "H", "S", "hola", "LANG EN", l.Help[0]} {
					if res := h.text(phone, body); res.Reply != "" || res.State != bot.StateOptedOut {
						t.Fatalf("%q when opted out: %+v", body, res)
					}
				}
				// A text queued for the phone is not sent: the outbox
				// skips it (see TestWorker_SkipsOptedOut); SendLater
				// still takes it, as for any phone that texted us.
				res = h.text(phone, l.Start[len(l.Start)-1])
				if res.State != bot.StateSubscribed || res.Reply != h.reply(l.Code, bot.ReplyStarted, bot.ReplyData{}) {
					t.Fatalf("%s: %+v", l.Start[0], res)
				}
			})
		}
	}
	// Twilio's words stay Twilio's: silent, whatever the phone's language.
	h := newHarness(t)
	if res := h.text(mexico, "STOP"); res.Reply != "" || res.State != bot.StateOptedOut {
		t.Fatalf("STOP: %+v", res)
	}
	if res := h.text(mexico, "START"); res.Reply != "" || res.State != bot.StateIdle {
		t.Fatalf("START: %+v", res)
	}
	// ... unless the bot answers keywords: then in the phone's language.
	h.e.AnswerKeywords = true
	if res := h.text(mexico, "STOP"); res.Reply != h.reply("es", bot.ReplyStopped, bot.ReplyData{}) {
		t.Fatalf("STOP answered: %+v", res)
	}
	// A word two languages share is the phone's language's; a word of
	// another language than the phone's answers in the word's.
	h = newHarness(t)
	if res := h.text(brazil, "PARAR"); res.Reply != h.reply("pt-BR", bot.ReplyStopped, bot.ReplyData{}) {
		t.Fatalf("PARAR from Brazil: %q", res.Reply)
	}
	if res := h.text(alice, "parar"); res.Reply != h.reply("es", bot.ReplyStopped, bot.ReplyData{}) {
		t.Fatalf("PARAR from the US: %q", res.Reply)
	}
	if res := h.text(alice, "Démarrer"); res.Reply != h.reply("fr", bot.ReplyStarted, bot.ReplyData{}) || res.State != bot.StateIdle {
		t.Fatalf("DÉMARRER from the US: %+v", res)
	}
	// The keyword answers in its language, and leaves the phone's alone.
	if p := h.phone(alice); p.Language != "en-US" {
		t.Fatalf("a keyword changed the language to %s", p.Language)
	}
}

// TestEngine_Language_HelpWords: AYUDA, AJUDA, AIDE and HILFE are
// answered (Twilio does not know them) with the help of the state, in the
// word's language; HELP stays Twilio's.
func TestEngine_Language_HelpWords(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ word, code string }{{"AYUDA", "es"}, {"ajuda", "pt-BR"}, {"Aide", "fr"}, {"HILFE", "de"}} {
		if res := h.text(alice, tt.word); res.Reply != h.reply(tt.code, bot.ReplyHelpIdle, bot.ReplyData{}) {
			t.Errorf("%s: %q", tt.word, res.Reply)
		}
	}
	if res := h.text(alice, "HELP"); res.Reply != "" {
		t.Errorf("HELP: %q", res.Reply)
	}
	h.subscribeStart(mexico)
	if res := h.text(mexico, "ayuda"); res.Reply != h.reply("es", bot.ReplyHelpLogin, bot.ReplyData{}) {
		t.Errorf("AYUDA awaiting login: %q", res.Reply)
	}
}

// TestEngine_Language_AccountLocale: the account's locale becomes the
// phone's language at the login, unless the person chose one with LANG
// or the setting is off.
func TestEngine_Language_AccountLocale(t *testing.T) {
	h := newHarness(t)
	h.e.AccountLocale = true
	acct := acctY
	acct.Locale = "fr-CA"
	code := h.login(h.subscribeStart(alice), acct)
	if code.Lang.Code != "fr" {
		t.Fatalf("code page in %s", code.Lang.Code)
	}
	if p := h.phone(alice); p.Language != "fr-CA" || p.LanguageSource != bot.LanguageFromAccount {
		t.Fatalf("stored %q %q", p.Language, p.LanguageSource)
	}
	if jobs := h.jobs(); len(jobs) != 1 || !strings.HasSuffix(jobs[0], h.reply("fr", bot.ReplyCodePrompt, bot.ReplyData{})) {
		t.Fatalf("code prompt %q", jobs)
	}
	// Chosen with LANG: the locale leaves it alone.
	h.text(bob, "LANG DE")
	acct = acctX
	acct.Locale = "es"
	if code := h.login(h.subscribeStart(bob), acct); code.Lang.Code != "de" || h.phone(bob).Language != "de" {
		t.Fatalf("chosen de, locale es: page %s, stored %s", code.Lang.Code, h.phone(bob).Language)
	}
	// A locale the bot does not speak, or the setting off: no change.
	for _, tt := range []struct {
		on     bool
		locale string
	}{{true, "ja-JP"}, {true, "not a tag!"}, {false, "de"}} {
		h := newHarness(t)
		h.e.AccountLocale = tt.on
		acct := acctY
		acct.Locale = tt.locale
		if code := h.login(h.subscribeStart(mexico), acct); code.Lang.Code != "es" || h.phone(mexico).Language != "es-MX" {
			t.Errorf("on=%v locale %q: page %s, stored %s", tt.on, tt.locale, code.Lang.Code, h.phone(mexico).Language)
		}
	}
}

// TestEngine_Language_Links: a link's errors carry the phone's language
// for the page; an unknown link's cannot.
func TestEngine_Language_Links(t *testing.T) {
	h := newHarness(t)
	token := h.subscribeStart(germany)
	h.subscribeStart(germany) // a newer link: the first is superseded
	info, err := h.e.OpenLink(context.Background(), token)
	var be *bot.Error
	if !errors.As(err, &be) || be.Key != bot.MsgLinkSuperseded || info.Lang.Code != "de" {
		t.Fatalf("superseded link: %+v %v", info, err)
	}
	info, err = h.e.OpenLink(context.Background(), strings.Repeat("A", len(token)))
	if !errors.As(err, &be) || be.Key != bot.MsgLinkInvalid || info.Lang.Code != "" {
		t.Fatalf("unknown link: %+v %v", info, err)
	}
	for key, msg := range bot.WebMessages {
		if key == "" || msg == "" {
			t.Errorf("web message %q: %q", key, msg)
		}
	}
}

// polyglot answers in the request's language and has help in each.
type polyglot struct{ seen chan bot.Request }

func (polyglot) Help() string                 { return "X = x" }
func (polyglot) HelpIn(l bot.Language) string { return "X = x (" + l.Code + ")" }
func (p polyglot) Handle(ctx context.Context, req bot.Request) (string, bool, error) {
	p.seen <- req
	if req.Text == "boom" {
		return "", true, errors.New("exploded")
	}
	return "x in " + req.Lang.Code, true, nil
}

// TestEngine_Language_Plugins: plugins get the phone's language and give
// help in it; their internal errors are answered in it.
func TestEngine_Language_Plugins(t *testing.T) {
	h := newHarness(t)
	p := polyglot{seen: make(chan bot.Request, 10)}
	h.e.Plugins = []bot.Plugin{p}
	h.subscribe(brazil, acctY)
	if res := h.text(brazil, "H"); !strings.Contains(res.Reply, "X = x (pt-BR), U = desvincular") {
		t.Fatalf("help: %q", res.Reply)
	}
	if res := h.text(brazil, "AIDE"); !strings.Contains(res.Reply, "X = x (fr), U = dissocier") {
		t.Fatalf("AIDE: %q", res.Reply)
	}
	if res := h.text(brazil, "x"); res.Reply != "x in pt-BR" {
		t.Fatalf("x: %q", res.Reply)
	}
	if req := <-p.seen; req.Lang.Code != "pt-BR" {
		t.Fatalf("request language %s", req.Lang.Code)
	}
	if res := h.text(brazil, "boom"); res.Reply != h.reply("pt-BR", bot.ReplyFailed, bot.ReplyData{}) {
		t.Fatalf("boom: %q", res.Reply)
	}
}

// TestEngine_Language_WebLink: the web-first path speaks the phone's
// language: LINK alone, a wrong code, the linked reply, a used code, an
// expired one, the limit, the idle help naming the page, and the text to
// the phone an account's new one displaced.
func TestEngine_Language_WebLink(t *testing.T) {
	const web = "https://bot.example.com/link"
	for _, tt := range []struct{ phone, code string }{{mexico, "es"}, {brazil, "pt-BR"}, {france, "fr"}, {germany, "de"}, {alice, "en"}} {
		t.Run(tt.code, func(t *testing.T) {
			h := newHarness(t)
			h.e.WebLinkURL = web
			say := func(name string, d bot.ReplyData) string { return h.reply(tt.code, name, d) }
			if res := h.text(tt.phone, "link"); res.Reply != say(bot.ReplyLinkHint, bot.ReplyData{WebURL: web}) || !strings.Contains(res.Reply, web) {
				t.Fatalf("LINK alone: %q", res.Reply)
			}
			code := h.webLogin("w1", acctY)
			wrong := "LINK 2222-2222"
			if code == "22222222" {
				wrong = "LINK 3333-3333"
			}
			if res := h.text(tt.phone, wrong); res.Reply != say(bot.ReplyLinkWrong, bot.ReplyData{Left: 4}) {
				t.Fatalf("wrong code: %q", res.Reply)
			}
			if res := h.text(tt.phone, "LINK "+bot.FormatWebCode(code)); res.State != bot.StateSubscribed ||
				res.Reply != say(bot.ReplySubscribed, bot.ReplyData{Email: bot.MaskEmail(acctY.Email)}) {
				t.Fatalf("LINK: %+v", res)
			}
			if res := h.text(tt.phone, "LINK "+code); res.Reply != say(bot.ReplyLinkUsed, bot.ReplyData{}) {
				t.Fatalf("used code: %q", res.Reply)
			}
			// The account links bob (English) from a new web login: this
			// phone is told in its own language, by the outbox.
			h.text(bob, "LINK "+h.webLogin("w2", acctY))
			want := say(bot.ReplyReplaced, bot.ReplyData{Email: bot.MaskEmail(acctY.Email)})
			jobs := h.jobs()
			var told bool
			for _, j := range jobs {
				told = told || strings.HasSuffix(j, want)
			}
			if !told {
				t.Fatalf("displaced phone's text %q not in %q", want, jobs)
			}
			if res := h.text(tt.phone, "H"); res.Reply != say(bot.ReplyHelpIdle, bot.ReplyData{WebURL: web}) || bot.Segments(res.Reply) != 1 {
				t.Fatalf("H when idle: %q", res.Reply)
			}
			late := h.webLogin("w3", acctX)
			h.advance(bot.LinkAttemptWindow + time.Second)
			if res := h.text(tt.phone, "LINK "+late); res.Reply != say(bot.ReplyLinkExpired, bot.ReplyData{}) {
				t.Fatalf("expired code: %q", res.Reply)
			}
			for range 4 {
				h.text(tt.phone, wrong)
			}
			if res := h.text(tt.phone, wrong); res.Reply != say(bot.ReplyLinkLocked, bot.ReplyData{Minutes: 10}) {
				t.Fatalf("the last wrong code: %q", res.Reply)
			}
			if tt.code != "en" && strings.Contains(say(bot.ReplyLinkLocked, bot.ReplyData{Minutes: 10}), "too many") {
				t.Fatalf("%s speaks English", tt.code)
			}
		})
	}
}

// TestEngine_Language_WebLinkLocale: a web login's account locale becomes
// the language of the phone that texts its code, as after a one-time
// link's login; unless the person chose one, or the setting is off.
func TestEngine_Language_WebLinkLocale(t *testing.T) {
	h := newHarness(t)
	h.e.AccountLocale = true
	acct := acctY
	acct.Locale = "de-AT"
	code := h.webLogin("w1", acct)
	// A new code of the same login keeps the login's locale, though the
	// page asks for it without one.
	code2, err := h.e.NewWebLogin(context.Background(), "w1", bot.Account{ID: acct.ID, Email: acct.Email})
	must(t, err)
	if code2.Code == code {
		t.Fatal("no new code")
	}
	res := h.text(alice, "LINK "+code2.Code)
	if res.Reply != h.reply("de", bot.ReplySubscribed, bot.ReplyData{Email: bot.MaskEmail(acct.Email)}) {
		t.Fatalf("LINK: %q", res.Reply)
	}
	if p := h.phone(alice); p.Language != "de-AT" || p.LanguageSource != bot.LanguageFromAccount {
		t.Fatalf("stored %q %q", p.Language, p.LanguageSource)
	}
	// Chosen with LANG: the locale leaves it alone.
	h.text(mexico, "LANG PT")
	if res := h.text(mexico, "LINK "+h.webLogin("w2", bot.Account{ID: acctX.ID, Email: acctX.Email, Locale: "fr"})); res.Reply != h.reply("pt-BR", bot.ReplySubscribed, bot.ReplyData{Email: bot.MaskEmail(acctX.Email)}) {
		t.Fatalf("chosen pt, locale fr: %q", res.Reply)
	}
	// The setting off: the country's language stays.
	h = newHarness(t)
	if res := h.text(mexico, "LINK "+h.webLogin("w1", acct)); res.Reply != h.reply("es", bot.ReplySubscribed, bot.ReplyData{Email: bot.MaskEmail(acct.Email)}) || h.phone(mexico).Language != "es-MX" {
		t.Fatalf("setting off: %q, stored %q", res.Reply, h.phone(mexico).Language)
	}
}
