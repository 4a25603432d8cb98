package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/nest"
)

// TestReplies_HelpMeetsCarrierRules checks every HELP reply, as shipped,
// in every language, for what US carriers require (program name, how to
// get help, how to stop, the rates notice in that language) and that it
// fits one SMS segment.
func TestReplies_HelpMeetsCarrierRules(t *testing.T) {
	replies, _, err := bot.NewLocalReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bot.Languages {
		for _, name := range helpReplies {
			// With no plugin, a short one, and the thermostat's help in
			// the language; without the web path, and with it on a
			// 40-character host.
			for _, cmds := range []string{"", "GT = temps, ST den 20", (&nest.Plugin{}).HelpIn(l)} {
				for _, web := range []string{"", "https://" + bot.SampleHost + "/link"} {
					text, err := replies.RenderIn(l, name, bot.ReplyData{Name: "smsbot", Commands: cmds, WebURL: web})
					if err != nil {
						t.Fatal(err)
					}
					if missing := carrierRules(text, "smsbot", l); len(missing) > 0 {
						t.Errorf("%s/%s lacks %v: %q", l.Code, name, missing, text)
					}
					if n := bot.Segments(text); n != 1 {
						t.Errorf("%s/%s takes %d segments: %q", l.Code, name, n, text)
					}
				}
			}
		}
	}
	// The rules catch what they should.
	for _, bad := range []string{
		"S = subscribe, H = help, STOP = no more texts. Msg & data rates may apply.", // no name
		"smsbot: S = subscribe, STOP = no more texts. Msg & data rates may apply.",   // no help
		"smsbot: S = subscribe, H = help. Msg & data rates may apply.",               // no STOP
		"smsbot: S = subscribe, H = help, STOP = no more texts.",                     // no rates
	} {
		if len(carrierRules(bad, "smsbot", bot.English)) != 1 {
			t.Errorf("carrierRules(%q) = %v", bad, carrierRules(bad, "smsbot", bot.English))
		}
	}
	es, _ := bot.FindLanguage("es")
	for _, bad := range []string{
		"smsbot: H = ayuda, BAJA = no recibir SMS.",                                              // no rates
		"smsbot: H = ayuda. Pueden aplicarse tarifas de mensajes y datos.",                       // no stop
		"smsbot: BAJA = no recibir SMS. Pueden aplicarse tarifas de mensajes y datos.",           // no help
		"smsbot: H = help, BAJA = no recibir SMS. Pueden aplicarse tarifas de mensajes y datos.", // help in English
		"smsbot: H = ayuda, STOP = no more texts, BAJA. Msg & data rates may apply.",             // English rates
	} {
		if len(carrierRules(bad, "smsbot", es)) != 1 {
			t.Errorf("es carrierRules(%q) = %v", bad, carrierRules(bad, "smsbot", es))
		}
	}
	if m := carrierRules("smsbot: H = ayuda, PARAR = no recibir SMS. Pueden aplicarse tarifas de mensajes y datos.", "smsbot", es); len(m) != 0 {
		t.Errorf("PARAR is a way to stop in Spanish: %v", m)
	}
}

// TestE2E_CarrierHelpAnswered: with SMSBOT_ANSWER_KEYWORDS the bot answers
// the carrier's HELP keyword itself, with a reply that meets the rules.
func TestE2E_CarrierHelpAnswered(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_ANSWER_KEYWORDS": "true", "SMSBOT_NAME": "Thermo"})
	for _, word := range []string{"HELP", "info", "H"} {
		r := e.text("+15555550401", word)
		if missing := carrierRules(r, "Thermo", bot.English); len(missing) > 0 || !strings.HasPrefix(r, "Thermo:") {
			t.Errorf("%s: %q lacks %v", word, r, missing)
		}
	}
}

// TestLoadTemplates: SMSBOT_TEMPLATES in the flat form (English), per
// language, or both; what is neither is refused.
func TestLoadTemplates(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, strings.Repeat("x", len(body)%50)+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o, err := loadTemplates(file(`{"hint": "{{.Name}}: S!", "es": {"hint": "{{.Name}}: ¡S!"}, "pt-BR": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	if o["en"]["hint"] != "{{.Name}}: S!" || o["es"]["hint"] != "{{.Name}}: ¡S!" || o["pt-BR"] == nil || len(o) != 3 {
		t.Fatalf("loaded %v", o)
	}
	replies, _, err := bot.NewLocalReplies(o)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := bot.FindLanguage("es")
	if s, _ := replies.RenderIn(es, bot.ReplyHint, bot.ReplyData{Name: "x"}); s != "x: ¡S!" {
		t.Fatalf("es hint %q", s)
	}
	if o, err := loadTemplates(file(`{"hint": "a"}`)); err != nil || o["en"]["hint"] != "a" || len(o) != 1 {
		t.Fatalf("flat: %v %v", o, err)
	}
	for name, body := range map[string]string{
		"English twice": `{"hint": "a", "en": {"hint": "b"}}`,
		"a number":      `{"hint": 3}`,
		"nested deeper": `{"es": {"hint": {"x": "y"}}}`,
		"not JSON":      `{"hint": `,
	} {
		if _, err := loadTemplates(file(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
