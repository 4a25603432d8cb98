package main

import (
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// TestReplies_HelpMeetsCarrierRules checks every HELP reply, as shipped,
// for what US carriers require (program name, how to get help, how to
// stop, "Msg & data rates may apply") and that it fits one SMS segment.
func TestReplies_HelpMeetsCarrierRules(t *testing.T) {
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range helpReplies {
		for _, d := range []bot.ReplyData{
			{Name: "smsbot"},
			{Name: "smsbot", Commands: "GT = temps, ST den 20"},
			{Name: "smsbot", WebURL: "https://smsbot.example.com/link"},                                      // the web path named
			{Name: "smsbot", Commands: "GT = temps, ST den 20", WebURL: "https://bot.example-home.com/link"}, // a longer host
		} {
			text, err := replies.Render(name, d)
			if err != nil {
				t.Fatal(err)
			}
			if missing := carrierRules(text, "smsbot"); len(missing) > 0 {
				t.Errorf("%s lacks %v: %q", name, missing, text)
			}
			if n := bot.Segments(text); n != 1 {
				t.Errorf("%s takes %d segments: %q", name, n, text)
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
		if len(carrierRules(bad, "smsbot")) != 1 {
			t.Errorf("carrierRules(%q) = %v", bad, carrierRules(bad, "smsbot"))
		}
	}
}

// TestE2E_CarrierHelpAnswered: with SMSBOT_ANSWER_KEYWORDS the bot answers
// the carrier's HELP keyword itself, with a reply that meets the rules.
func TestE2E_CarrierHelpAnswered(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_ANSWER_KEYWORDS": "true", "SMSBOT_NAME": "Thermo"})
	for _, word := range []string{"HELP", "info", "H"} {
		r := e.text("+15555550401", word)
		if missing := carrierRules(r, "Thermo"); len(missing) > 0 || !strings.HasPrefix(r, "Thermo:") {
			t.Errorf("%s: %q lacks %v", word, r, missing)
		}
	}
}
