package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/nest/sdmtest"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// The production-mode end-to-end tests of WhatsApp: the real program
// against the Twilio stand-in (a WhatsApp sender, its content templates,
// the 24-hour window with 63016), the Auth0 stand-in and the SDM stand-in.

const (
	e2eSDMProject   = "e2e-sdm-project"
	e2eGoogleClient = "e2e.apps.googleusercontent.com"
	e2eGoogleSecret = "e2e-google-secret"
)

// offsetClock is the Twilio stand-in's clock: real time, moved forward by
// the test (a day, to close WhatsApp's window).
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// waE2E is e2e with WhatsApp and the thermostats.
type waE2E struct {
	*e2e
	clock     *offsetClock
	templates map[string]string // reply → ContentSid, as the stand-in knows them
}

// e2eTemplateSID is the ContentSid of reply name's template at the
// stand-in.
func e2eTemplateSID(name string) string {
	return "HX" + fmt.Sprintf("%032x", []byte(name))[:32]
}

// startWhatsAppE2E runs the program in production mode with a WhatsApp
// sender (the bot's number) and the thermostat commands. With templates,
// TWILIO_WHATSAPP_TEMPLATES names an approved template for each reply that
// can have one; without, texts outside the window are skipped.
func startWhatsAppE2E(t *testing.T, templates bool, extra map[string]string) *waE2E {
	t.Helper()
	e := &e2e{t: t, logs: &syncBuffer{}}
	w := &waE2E{e2e: e, clock: &offsetClock{}, templates: map[string]string{}}
	addr, listenSetting := listenFD(t)
	e.base = "http://" + addr
	e.public = e.base
	dir := t.TempDir()
	e.dbPath = filepath.Join(dir, "e2e.db")

	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string]twiliotest.Content{}
	var setting []string
	for _, name := range templateReplies() {
		body, err := suggestedTemplate(replies, name)
		if err != nil {
			t.Fatal(err)
		}
		sid := e2eTemplateSID(name)
		contents[sid] = twiliotest.Content{Name: "smsbot_" + name, Body: body}
		w.templates[name] = sid
		setting = append(setting, name+"="+sid)
	}
	e.twilio = twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber},
		WhatsApp: []string{e2eNumber}, Contents: contents, Now: w.clock.now})
	if err := e.twilio.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.twilio.Close() })

	sdm, err := sdmtest.New(sdmtest.Options{Project: e2eSDMProject, ClientID: e2eGoogleClient, ClientSecret: e2eGoogleSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := sdm.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdm.Close() })
	a, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{e.public + magiclink.PathCallback},
		OnNewUser: func(u *auth0test.User) {
			b := make([]byte, 16)
			rand.Read(b)
			refresh := "1//e2e-" + hex.EncodeToString(b)
			u.Identities = append(u.Identities, auth0test.Identity{
				Provider: magiclink.GoogleProvider, Connection: magiclink.GoogleProvider, UserID: hex.EncodeToString(b[:8]),
				AccessToken: sdm.AddUser(refresh, devThermostats()...), RefreshToken: refresh, ExpiresIn: 3600,
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.auth0 = a
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, append(append(e.twilio.CertPEM(), a.CertPEM()...), sdm.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.env = map[string]string{
		"SMSBOT_ADDR":              listenSetting,
		"SMSBOT_DB":                e.dbPath,
		"SMSBOT_PUBLIC_URL":        e.public,
		"SMSBOT_SECRET":            e2eKey,
		"SMSBOT_CA_FILE":           ca,
		"SMSBOT_OUTBOX_RETRY_BASE": "50ms",
		"SMSBOT_OUTBOX_RETRY_MAX":  "1s",
		"TWILIO_ACCOUNT_SID":       e2eSID,
		"TWILIO_AUTH_TOKEN":        e2eToken,
		"TWILIO_FROM_NUMBER":       e2eNumber,
		"TWILIO_WHATSAPP_FROM":     "whatsapp:" + e2eNumber,
		"TWILIO_API_URL":           e.twilio.URL(),
		"AUTH0_DOMAIN":             a.Domain(),
		"AUTH0_CLIENT_ID":          e2eClient,
		"AUTH0_CLIENT_SECRET":      e2eSecret,
		"SDM_PROJECT_ID":           e2eSDMProject,
		"GOOGLE_CLIENT_ID":         e2eGoogleClient,
		"GOOGLE_CLIENT_SECRET":     e2eGoogleSecret,
		"SDM_API_URL":              sdm.APIURL(),
		"GOOGLE_TOKEN_URL":         sdm.TokenURL(),
	}
	if templates {
		e.env["TWILIO_WHATSAPP_TEMPLATES"] = strings.Join(setting, ",")
	}
	for k, v := range extra {
		e.env[k] = v
	}
	e.start()
	return w
}

// waText writes to the bot on WhatsApp, as Twilio posts it (the stand-in
// sees the message, which opens its 24-hour window), and returns the
// reply.
func (w *waE2E) waText(from, body string) string {
	w.t.Helper()
	f := w.form(from, body)
	f.Set("From", "whatsapp:"+from)
	f.Set("To", "whatsapp:"+e2eNumber)
	f.Set("ProfileName", "Person "+bot.LastFour(from))
	f.Set("WaId", strings.TrimPrefix(from, "+"))
	f.Set("MessageType", "text")
	f.Del("NumSegments")
	w.twilio.Inbound("whatsapp:" + from)
	status, reply := w.post(f, w.sign(f))
	if status != 200 {
		w.t.Fatalf("WhatsApp %q: status %d %s", body, status, reply)
	}
	return reply
}

// waMessages returns what the stand-in took for phone's WhatsApp address.
func (w *waE2E) waMessages(phone string) []twiliotest.Message {
	return w.twilio.MessagesTo("whatsapp:" + phone)
}

// loginFor opens link in a new browser and logs in as email; it returns
// the code and the code page.
func (w *waE2E) loginFor(link, email string) (string, string) {
	w.t.Helper()
	c := w.browser()
	status, page := w.logIn(c, w.openLink(c, link), email)
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		w.t.Fatalf("code page: %d %s", status, page)
	}
	return m[1], page
}

// waSubscribe runs the whole subscription on WhatsApp.
func (w *waE2E) waSubscribe(phone, email string) {
	w.t.Helper()
	code, _ := w.loginFor(w.linkFrom(w.waText(phone, "S")), email)
	if r := w.waText(phone, code); !strings.Contains(r, "you're subscribed") {
		w.t.Fatalf("code on WhatsApp: %q", r)
	}
}

// phoneRow reads phone's channel columns.
func (w *waE2E) phoneRow(phone string) (channel, proven string, seen int64) {
	w.t.Helper()
	if err := w.db.QueryRow(`SELECT channel, proven, whatsapp_seen FROM phones WHERE phone = ?`, phone).Scan(&channel, &proven, &seen); err != nil {
		w.t.Fatal(err)
	}
	return
}

// closeWindow makes phone's last WhatsApp message a day and an hour old,
// for the bot and for the stand-in: the window is closed on both sides.
func (w *waE2E) closeWindow(phone string) {
	w.t.Helper()
	w.setSeen(phone, time.Now().Add(-25*time.Hour))
	w.clock.advance(25 * time.Hour)
}

// setSeen sets when the bot believes phone last wrote on WhatsApp.
func (w *waE2E) setSeen(phone string, at time.Time) {
	w.t.Helper()
	if _, err := w.db.Exec(`UPDATE phones SET whatsapp_seen = ? WHERE phone = ?`, at.UnixMilli(), phone); err != nil {
		w.t.Fatal(err)
	}
}

// settled waits until nothing more can go to phone: no text to it is
// pending in the outbox, and a status callback has taken every WhatsApp
// message to it that failed.
func (w *waE2E) settled(phone string) {
	w.t.Helper()
	w.waitFor("the outbox to settle", func() bool {
		var pending int
		if err := w.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE phone = ? AND state = 'pending'`, phone).Scan(&pending); err != nil || pending > 0 {
			return false
		}
		for _, m := range w.waMessages(phone) {
			if m.Status != "failed" {
				continue
			}
			var taken int
			if err := w.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE result = ? AND undelivered = 1`, m.SID).Scan(&taken); err != nil || taken == 0 {
				return false
			}
		}
		return true
	})
}

// metrics returns the /metrics page.
func (w *waE2E) metrics() string {
	w.t.Helper()
	_, page := fetch(w.t, http.DefaultClient, http.MethodGet, w.base+"/metrics", nil)
	return page
}

// TestE2E_WhatsApp_Subscribe: a whole subscription over WhatsApp (S, the
// link, the login, the code prompt inside the window as a free-form
// WhatsApp message, the code), then H and the thermostat commands.
func TestE2E_WhatsApp_Subscribe(t *testing.T) {
	w := startWhatsAppE2E(t, true, nil)
	const phone = "+15555557001"
	if r := w.waText(phone, "hi"); !strings.Contains(r, "send S to subscribe") {
		t.Fatalf("hi: %q", r)
	}
	link := w.linkFrom(w.waText(phone, "S"))
	code, page := w.loginFor(link, "wa@example.com")
	if !strings.Contains(page, "ending in 7001") || !strings.Contains(page, `href="https://wa.me/`+strings.TrimPrefix(e2eNumber, "+")+`?text=`+code+`"`) ||
		!strings.Contains(page, "Open WhatsApp with the code") {
		t.Fatalf("code page for a WhatsApp phone:\n%s", page)
	}
	w.waitFor("the code prompt on WhatsApp", func() bool { return len(w.waMessages(phone)) == 1 })
	m := w.waMessages(phone)[0]
	if m.From != "whatsapp:"+e2eNumber || m.ContentSID != "" || !strings.Contains(m.Body, "reply with the 6-digit code") || m.Status == "failed" {
		t.Fatalf("code prompt: %+v, want a free-form WhatsApp message", m)
	}
	if n := len(w.textsTo(phone)); n != 0 {
		t.Fatalf("%d SMS to a phone that wrote on WhatsApp", n)
	}
	if r := w.waText(phone, code); !strings.Contains(r, "you're subscribed") {
		t.Fatalf("code: %q", r)
	}
	w.waitFor("app_metadata.phone in Auth0", func() bool { return w.appPhone("wa@example.com") == phone })
	if ch, proven, seen := w.phoneRow(phone); ch != "whatsapp" || proven != "whatsapp" || seen == 0 {
		t.Fatalf("phone row: channel %s, proven %s, WhatsApp seen %d", ch, proven, seen)
	}
	if r := w.waText(phone, "H"); !strings.Contains(r, "GT = temps") || !strings.Contains(r, "U = unsubscribe") {
		t.Fatalf("H: %q", r)
	}
	for _, s := range []struct{ text, want string }{
		{"GT den", "Den 19.5C 45% heat 20 heating"},
		{"ST den 21", "Den: heat set to 21C"},
		{"GT", "Den 19.5C 45% heat 21 heating\nBedroom 75F 40% cool 72 cooling"},
	} {
		if got := w.waText(phone, s.text); got != s.want {
			t.Fatalf("%q on WhatsApp:\n got %q\nwant %q", s.text, got, s.want)
		}
	}
	if strings.Contains(w.logs.String(), phone) || !strings.Contains(w.logs.String(), "channel=whatsapp") && !strings.Contains(w.logs.String(), `"channel":"whatsapp"`) {
		t.Error("the logs carry the full number, or never name the channel")
	}
	page = w.metrics()
	if !strings.Contains(page, `smsbot_whatsapp_texts_total{error_code="0",form="freeform",result="sent"} 1`) {
		t.Errorf("metrics lack the free-form code prompt:\n%s", grepLines(page, "whatsapp"))
	}
}

// TestE2E_WhatsApp_DisplacedNotice: the displaced-phone notice to a
// phone whose WhatsApp window closed goes out as its approved template,
// filled in; without a template it is skipped, with a status that says
// so, and nothing reaches Twilio.
func TestE2E_WhatsApp_DisplacedNotice(t *testing.T) {
	for _, templates := range []bool{true, false} {
		t.Run(fmt.Sprintf("templates=%v", templates), func(t *testing.T) {
			w := startWhatsAppE2E(t, templates, nil)
			const old, replacement = "+15555557101", "+15555557102"
			w.waSubscribe(old, "moves@example.com")
			w.waitFor("the code prompt", func() bool { return len(w.waMessages(old)) == 1 })
			w.closeWindow(old)
			w.subscribe(replacement, "moves@example.com") // over SMS
			w.waitFor("app_metadata.phone moved", func() bool { return w.appPhone("moves@example.com") == replacement })
			out, _, code := runCmd(t, w.env, "subscribers", "show", old)
			if code != 0 {
				t.Fatalf("subscribers show: %d %s", code, out)
			}
			if templates {
				w.waitFor("the notice as a template", func() bool { return len(w.waMessages(old)) == 2 })
				m := w.waMessages(old)[1]
				if m.ContentSID != w.templates[bot.ReplyReplaced] || m.Status == "failed" ||
					m.Body != "smsbot: this phone is no longer linked to m***@example.com; another phone was linked in its place. Send S to link it again." {
					t.Fatalf("notice: %+v", m)
				}
				if !strings.Contains(w.metrics(), `smsbot_whatsapp_texts_total{error_code="0",form="template",result="sent"} 1`) {
					t.Errorf("metrics:\n%s", grepLines(w.metrics(), "whatsapp"))
				}
				return
			}
			w.waitFor("the notice skipped", func() bool {
				out, _, _ := runCmd(t, w.env, "subscribers", "show", old)
				return strings.Contains(out, "skipped: outside WhatsApp's 24-hour window and TWILIO_WHATSAPP_TEMPLATES names no template for replaced")
			})
			if n := len(w.waMessages(old)); n != 1 {
				t.Fatalf("%d WhatsApp messages, want only the code prompt", n)
			}
			if !strings.Contains(w.metrics(), `smsbot_whatsapp_texts_total{error_code="0",form="template",result="skipped"} 1`) ||
				!strings.Contains(w.metrics(), `smsbot_outbound_texts_total{error_code="0",result="skipped"} 1`) {
				t.Errorf("metrics:\n%s", grepLines(w.metrics(), "texts_total"))
			}
			if strings.Contains(w.logs.String(), "63016") {
				t.Error("a free-form text went out of the window (63016)")
			}
		})
	}
}

// TestE2E_WhatsApp_StopStart: Twilio does not handle STOP on WhatsApp;
// smsbot answers it, messages the phone no more, not even a
// displaced-phone notice, until START.
func TestE2E_WhatsApp_StopStart(t *testing.T) {
	w := startWhatsAppE2E(t, true, nil)
	const phone, other = "+15555557201", "+15555557202"
	w.waSubscribe(phone, "stop@example.com")
	w.waitFor("the code prompt", func() bool { return len(w.waMessages(phone)) == 1 })
	if r := w.waText(phone, "STOP"); !strings.Contains(r, "you will get no more texts") || w.state(phone) != "opted_out" {
		t.Fatalf("STOP on WhatsApp: %q, state %s", r, w.state(phone))
	}
	if w.twilio.OptedOut(phone) || w.twilio.OptedOut("whatsapp:"+phone) {
		t.Fatal("the stand-in opted the phone out: Twilio does not on WhatsApp")
	}
	for _, body := range []string{"H", "GT", "HELP"} {
		if r := w.waText(phone, body); r != "" {
			t.Fatalf("%s after STOP: %q", body, r)
		}
	}
	w.subscribe(other, "stop@example.com") // takes the account; the opted-out phone is not told
	w.waitFor("the account moved", func() bool { return w.appPhone("stop@example.com") == other })
	w.settled(phone)
	if n := len(w.waMessages(phone)); n != 1 {
		t.Fatalf("%d WhatsApp messages to an opted-out phone's address, want only the earlier code prompt", n)
	}
	if r := w.waText(phone, "START"); !strings.Contains(r, "texts resumed") || w.state(phone) != "idle" {
		t.Fatalf("START: %q, state %s", r, w.state(phone))
	}
	if r := w.waText(phone, "H"); !strings.Contains(r, "S = subscribe") {
		t.Fatalf("H after START: %q", r)
	}
}

// TestE2E_WhatsApp_63016And63018: a free-form message the bot thought
// inside the window fails at Twilio with 63016 (its clock and Twilio's
// disagree): the status callback closes the window and the text goes
// again as its template, once; without a template it ends skipped. A
// throttled message (63018) goes again after a while, and the chain ends.
func TestE2E_WhatsApp_63016And63018(t *testing.T) {
	t.Run("63016", func(t *testing.T) {
		for _, templates := range []bool{true, false} {
			t.Run(fmt.Sprintf("templates=%v", templates), func(t *testing.T) {
				w := startWhatsAppE2E(t, templates, nil)
				const old, replacement = "+15555557301", "+15555557302"
				w.waSubscribe(old, "clock@example.com")
				w.waitFor("the code prompt", func() bool { return len(w.waMessages(old)) == 1 })
				// Twilio's window closed; the bot still thinks it open.
				w.clock.advance(25 * time.Hour)
				w.subscribe(replacement, "clock@example.com")
				want := 2
				if templates {
					want = 3
				}
				w.waitFor("the refusal and what follows", func() bool {
					ms := w.waMessages(old)
					return len(ms) == want && ms[1].Status == "failed"
				})
				ms := w.waMessages(old)
				if ms[1].ErrorCode != 63016 || ms[1].ContentSID != "" {
					t.Fatalf("the free-form notice: %+v", ms[1])
				}
				if templates {
					if ms[2].ContentSID != w.templates[bot.ReplyReplaced] || ms[2].Status == "failed" {
						t.Fatalf("the resent notice: %+v", ms[2])
					}
				} else {
					w.waitFor("the resent notice skipped", func() bool {
						out, _, _ := runCmd(t, w.env, "subscribers", "show", old)
						return strings.Contains(out, "skipped: outside WhatsApp's 24-hour window")
					})
				}
				if _, _, seen := w.phoneRow(old); seen != 0 {
					t.Fatalf("the bot's window is still open (%d)", seen)
				}
				w.settled(old) // no loop
				if n := len(w.waMessages(old)); n != want {
					t.Fatalf("%d messages, want %d: a 63016 loop", n, want)
				}
				if !strings.Contains(w.metrics(), `smsbot_delivery_status_total{error_code="63016",status="failed"} 1`) {
					t.Errorf("metrics:\n%s", grepLines(w.metrics(), "delivery_status"))
				}
			})
		}
	})
	t.Run("63018", func(t *testing.T) {
		w := startWhatsAppE2E(t, true, map[string]string{"SMSBOT_OUTBOX_RETRY_MAX": "200ms"})
		const phone, replacement = "+15555557401", "+15555557402"
		w.waSubscribe(phone, "busy@example.com")
		w.waitFor("the code prompt", func() bool { return len(w.waMessages(phone)) == 1 })
		// WhatsApp throttles this person's messages for a while: the
		// displaced-phone notice fails, is sent again (after at most
		// SMSBOT_OUTBOX_RETRY_MAX), fails, ... and the chain stops after
		// bot.MaxResends copies.
		w.twilio.FailNext("whatsapp:"+phone, 63018, 10)
		w.subscribe(replacement, "busy@example.com")
		w.waitFor("the notice and its copies", func() bool { return len(w.waMessages(phone)) == 2+bot.MaxResends })
		w.settled(phone) // the last failure taken, and no further copy queued
		ms := w.waMessages(phone)
		if len(ms) != 2+bot.MaxResends {
			t.Fatalf("%d messages, want the code prompt, the notice and %d copies", len(ms), bot.MaxResends)
		}
		for _, m := range ms[1:] {
			if m.ErrorCode != 63018 || !strings.Contains(m.Body, "no longer linked") {
				t.Fatalf("copy %+v", m)
			}
		}
		if !strings.Contains(w.metrics(), `smsbot_delivery_status_total{error_code="63018",status="failed"} 4`) {
			t.Errorf("metrics:\n%s", grepLines(w.metrics(), "delivery_status"))
		}
		if !strings.Contains(w.logs.String(), "resent too often already") {
			t.Error("the end of the chain is not logged")
		}
	})
}

// TestE2E_WhatsApp_BothChannels: the identity rule. One number is one
// phone whichever channel it writes on: one state, one binding, one
// app_metadata.phone; replies go back the way each message came, texts
// sent later on the channel used last; a command runs only on a channel a
// code came back on.
func TestE2E_WhatsApp_BothChannels(t *testing.T) {
	w := startWhatsAppE2E(t, true, nil)
	const phone = "+15555557501"
	w.subscribe(phone, "both@example.com") // over SMS
	w.waitFor("app_metadata.phone", func() bool { return w.appPhone("both@example.com") == phone })
	if r := w.text(phone, "GT den"); r != "Den 19.5C 45% heat 20 heating" {
		t.Fatalf("GT on SMS: %q", r)
	}
	// The same number on WhatsApp: the same phone, not proven there.
	if r := w.waText(phone, "GT den"); !strings.Contains(r, "send S to link it again") {
		t.Fatalf("GT on WhatsApp before proving it: %q", r)
	}
	if r := w.waText(phone, "H"); !strings.Contains(r, "GT = temps") {
		t.Fatalf("H on WhatsApp: %q", r)
	}
	// S and the code on WhatsApp prove it there too; the code prompt goes
	// out on WhatsApp, where S came from.
	link := w.linkFrom(w.waText(phone, "S"))
	code, _ := w.loginFor(link, "both@example.com")
	w.waitFor("the code prompt on WhatsApp", func() bool { return len(w.waMessages(phone)) == 1 })
	if r := w.waText(phone, code); !strings.Contains(r, "you're subscribed") {
		t.Fatalf("code on WhatsApp: %q", r)
	}
	if texts := w.textsTo(phone); len(texts) != 1 {
		t.Fatalf("SMS texts %v, want only the first code prompt", texts)
	}
	for _, send := range []func(string, string) string{w.text, w.waText} {
		if r := send(phone, "GT den"); r != "Den 19.5C 45% heat 20 heating" {
			t.Fatalf("GT after proving both: %q", r)
		}
	}
	var rows int
	w.db.QueryRow(`SELECT COUNT(*) FROM phones`).Scan(&rows)
	if _, proven, _ := w.phoneRow(phone); rows != 1 || proven != "sms,whatsapp" || w.appPhone("both@example.com") != phone {
		t.Fatalf("%d phone rows, proven %q, app_metadata.phone %v", rows, proven, w.appPhone("both@example.com"))
	}
	out, _, _ := runCmd(t, w.env, "subscribers", "show", phone)
	for _, want := range [][2]string{
		{"proven on", " sms, whatsapp"},
		{"channel", " whatsapp (WhatsApp window open until "},
		{"bind", "code confirmed"},
		{"verify", "code confirmed on WhatsApp; the binding now holds there too"},
	} {
		if !strings.Contains(grepLines(out, want[0]), want[1]) {
			t.Errorf("subscribers show lacks %q %q:\n%s", want[0], want[1], out)
		}
	}
	// Back to SMS: the next text the outbox sends goes by SMS.
	w.text(phone, "H")
	w.subscribe("+15555557502", "both@example.com")
	w.waitFor("the displaced-phone notice by SMS", func() bool { return len(w.textsTo(phone)) == 2 })
	if texts := w.textsTo(phone); !strings.Contains(texts[1], "no longer linked") {
		t.Fatalf("SMS texts %q", texts)
	}
	if n := len(w.waMessages(phone)); n != 1 {
		t.Fatalf("%d WhatsApp messages, want only the code prompt", n)
	}
}

// TestRun_WhatsAppSettings: TWILIO_WHATSAPP_FROM and
// TWILIO_WHATSAPP_TEMPLATES refuse what Twilio would, with a clear error.
func TestRun_WhatsAppSettings(t *testing.T) {
	for _, c := range []struct {
		env, value, want string
	}{
		{"TWILIO_WHATSAPP_FROM", "15551234567", "E.164"},
		{"TWILIO_WHATSAPP_FROM", "whatsapp:", "E.164"},
		{"TWILIO_WHATSAPP_TEMPLATES", "code_prompt", "want reply=ContentSid"},
		{"TWILIO_WHATSAPP_TEMPLATES", "link=HX0123456789abcdef0123456789abcdef", "no template for \"link\""},
		{"TWILIO_WHATSAPP_TEMPLATES", "replaced=HX123", "is not a ContentSid"},
		{"TWILIO_WHATSAPP_TEMPLATES", "replaced=HX0123456789abcdef0123456789abcdef,replaced=HX0123456789abcdef0123456789abcdef", "named twice"},
	} {
		_, err := loadConfig([]string{"--dev"}, func(k string) string {
			if k == c.env {
				return c.value
			}
			return ""
		}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), c.env) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: %v, want an error saying %q", c.env, c.value, err, c.want)
		}
	}
	cfg, err := loadConfig([]string{"--dev"}, func(k string) string {
		return map[string]string{
			"TWILIO_WHATSAPP_FROM":      "whatsapp:+15551234567",
			"TWILIO_WHATSAPP_TEMPLATES": " code_prompt=HX0123456789abcdef0123456789abcdef , replaced=HXabcdefabcdefabcdefabcdefabcdefab,",
		}[k]
	}, &strings.Builder{})
	if err != nil || cfg.WhatsAppFrom != "+15551234567" || len(cfg.WhatsAppTemplates) != 2 ||
		cfg.WhatsAppTemplates[bot.ReplyReplaced] != "HXabcdefabcdefabcdefabcdefabcdefab" {
		t.Fatalf("good settings: %+v %v", cfg, err)
	}
}

// TestE2E_Postgres_WhatsApp: on PostgreSQL, a subscription over WhatsApp,
// then Twilio's 63016 for a notice the bot thought inside the window: the
// status callback finds the job, closes the window and the notice goes
// again as its template.
func TestE2E_Postgres_WhatsApp(t *testing.T) {
	u := postgrestest.SchemaURL(t)
	w := startWhatsAppE2E(t, true, map[string]string{"SMSBOT_DB": u, "SMSBOT_PG_POOL": "8"})
	db, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const old, replacement = "+15555557601", "+15555557602"
	w.waSubscribe(old, "pg@example.com")
	w.waitFor("the code prompt", func() bool { return len(w.waMessages(old)) == 1 })
	p, err := storetest.LoadPhone(context.Background(), db, old)
	if err != nil || p.Channel != bot.ChannelWhatsApp || p.Proven != "whatsapp" || p.WhatsAppSeen.IsZero() {
		t.Fatalf("phone %+v %v", p, err)
	}
	w.clock.advance(25 * time.Hour)
	w.subscribe(replacement, "pg@example.com")
	w.waitFor("the refused notice and its template", func() bool { return len(w.waMessages(old)) == 3 })
	ms := w.waMessages(old)
	if ms[1].ErrorCode != 63016 || ms[2].ContentSID != w.templates[bot.ReplyReplaced] || ms[2].Status == "failed" {
		t.Fatalf("messages %+v", ms)
	}
	if p, err := storetest.LoadPhone(context.Background(), db, old); err != nil || !p.WhatsAppSeen.IsZero() || p.Bound() {
		t.Fatalf("after the refusal: %+v %v", p, err)
	}
}

// TestE2E_WhatsApp_WebLink: the web-first path over WhatsApp. LINK and
// the code of a /link login sent on WhatsApp bind the number and prove it
// on WhatsApp alone, as a code texted back there does; a bare web code
// from SMS, where the binding is not proven, then proves SMS too.
func TestE2E_WhatsApp_WebLink(t *testing.T) {
	w := startWhatsAppE2E(t, true, nil)
	const phone = "+15555557601"
	page := w.webLogIn("weblink@example.com")
	if r := w.waText(phone, "LINK "+page.code); !strings.Contains(r, "you're subscribed") || !strings.Contains(r, "w***@example.com") {
		t.Fatalf("LINK on WhatsApp: %q", r)
	}
	if st := page.status(); st["state"] != "linked" || st["last4"] != "7601" {
		t.Fatalf("page status: %v", st)
	}
	w.waitFor("app_metadata.phone", func() bool { return w.appPhone("weblink@example.com") == phone })
	if ch, proven, _ := w.phoneRow(phone); ch != "whatsapp" || proven != "whatsapp" {
		t.Fatalf("channel %q proven %q", ch, proven)
	}
	if r := w.waText(phone, "GT den"); r != "Den 19.5C 45% heat 20 heating" {
		t.Fatalf("GT on WhatsApp: %q", r)
	}
	if r := w.text(phone, "GT den"); !strings.Contains(r, "send S to link it again") {
		t.Fatalf("GT on SMS, not proven there: %q", r)
	}
	// A second web login of the same account; its bare code by SMS.
	page2 := w.webLogIn("weblink@example.com")
	if r := w.text(phone, strings.ToLower(page2.code)); !strings.Contains(r, "you're subscribed") {
		t.Fatalf("bare web code on SMS: %q", r)
	}
	if _, proven, _ := w.phoneRow(phone); proven != "sms,whatsapp" {
		t.Fatalf("proven %q", proven)
	}
	if r := w.text(phone, "GT den"); r != "Den 19.5C 45% heat 20 heating" {
		t.Fatalf("GT on SMS after its code: %q", r)
	}
	a := w.audit(phone)
	if len(a) != 2 || !strings.HasSuffix(a[0], " web code confirmed on WhatsApp") ||
		!strings.HasSuffix(a[1], " web code confirmed on SMS; the binding now holds there too") {
		t.Fatalf("audit %q", a)
	}
	// Nothing went out through the REST API: every answer was TwiML.
	if texts, msgs := w.textsTo(phone), w.waMessages(phone); len(texts) != 0 || len(msgs) != 0 {
		t.Fatalf("sent by SMS %q, on WhatsApp %v", texts, msgs)
	}
}
