package main

import (
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// TestE2E_WhatsApp_Spanish: a +52 phone on WhatsApp is answered in
// Spanish through a whole subscription in production mode (the code page
// opens WhatsApp, in Spanish; the code prompt goes out as a Spanish
// WhatsApp message), its thermostat commands too. PARAR on WhatsApp,
// which Twilio handles on no channel, opts out, is answered once in
// Spanish, and nothing more is sent on either channel, not even the
// displaced-phone notice, until COMENZAR.
func TestE2E_WhatsApp_Spanish(t *testing.T) {
	w := startWhatsAppE2E(t, true, nil)
	const mx, other = "+5215512347001", "+15555557301"
	if r := w.waText(mx, "hola"); r != say(t, "es", bot.ReplyHint, bot.ReplyData{}) {
		t.Fatalf("hola: %q", r)
	}
	reply := w.waText(mx, "S")
	if !strings.HasPrefix(reply, "smsbot: vincula este teléfono en "+w.public+"/l/") {
		t.Fatalf("S: %q", reply)
	}
	code, page := w.loginFor(w.linkFrom(reply), "wa-es@example.com")
	for _, want := range []string{`<html lang="es">`, "¿Vincular el teléfono terminado en 7001 a wa-es@example.com?",
		"Abrir WhatsApp con el código", `href="https://wa.me/` + strings.TrimPrefix(e2eNumber, "+") + `?text=` + code + `"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("code page lacks %q:\n%s", want, page)
		}
	}
	w.waitFor("the code prompt on WhatsApp", func() bool { return len(w.waMessages(mx)) == 1 })
	if m := w.waMessages(mx)[0]; m.Body != say(t, "es", bot.ReplyCodePrompt, bot.ReplyData{}) || m.ContentSID != "" || m.Status == "failed" {
		t.Fatalf("code prompt: %+v, want a free-form Spanish WhatsApp message", m)
	}
	if r := w.waText(mx, code); r != say(t, "es", bot.ReplySubscribed, bot.ReplyData{Email: "w***@example.com"}) {
		t.Fatalf("code: %q", r)
	}
	if r := w.waText(mx, "AYUDA"); !strings.HasSuffix(r, "U = desvincular, H = ayuda, BAJA = darte de baja. Pueden aplicarse tarifas de mensajes y datos.") {
		t.Fatalf("AYUDA: %q", r)
	}
	if r := w.waText(mx, "ST den 40"); r != "Elige entre 9 y 32C." {
		t.Fatalf("ST den 40 on WhatsApp: %q", r)
	}

	// PARAR: one Spanish answer, and then silence on both channels.
	before := len(w.waMessages(mx))
	if r := w.waText(mx, "PARAR"); r != say(t, "es", bot.ReplyStopped, bot.ReplyData{}) || w.state(mx) != bot.StateOptedOut {
		t.Fatalf("PARAR on WhatsApp: %q, state %s", r, w.state(mx))
	}
	if w.twilio.OptedOut(mx) || w.twilio.OptedOut("whatsapp:"+mx) {
		t.Fatal("the stand-in opted the phone out: Twilio knows neither PARAR nor STOP on WhatsApp")
	}
	for _, body := range []string{"hola", "H", "AYUDA", "GT", "S", "PARAR", "STOP"} {
		if r := w.waText(mx, body); r != "" {
			t.Fatalf("%q on WhatsApp after PARAR: %q", body, r)
		}
	}
	if r := w.text(mx, "AYUDA"); r != "" {
		t.Fatalf("AYUDA by SMS after PARAR on WhatsApp: %q", r)
	}
	w.subscribe(other, "wa-es@example.com") // takes the account; the opted-out phone is not told
	w.waitFor("the account moved", func() bool { return w.appPhone("wa-es@example.com") == other })
	w.settled(mx)
	if n := len(w.waMessages(mx)); n != before {
		t.Fatalf("%d WhatsApp messages reached the opted-out phone", n-before)
	}
	if n := len(w.textsTo(mx)); n != 0 {
		t.Fatalf("%d SMS reached the opted-out phone: %q", n, w.textsTo(mx))
	}
	if m := w.metrics(); !strings.Contains(m, `smsbot_inbound_messages_total{command="stop",state="opted_out"} 3`) {
		t.Errorf("/metrics lacks the three stop words (PARAR, PARAR, STOP):\n%s", grepLines(m, "inbound_messages"))
	}
	if r := w.waText(mx, "Comenzar"); r != say(t, "es", bot.ReplyStarted, bot.ReplyData{}) || w.state(mx) != bot.StateIdle {
		t.Fatalf("COMENZAR: %q, state %s", r, w.state(mx))
	}
	if r := w.waText(mx, "H"); r != say(t, "es", bot.ReplyHelpIdle, bot.ReplyData{WebURL: w.public + "/link"}) {
		t.Fatalf("H after COMENZAR: %q", r)
	}
}
