package webhooks

import (
	"strings"
	"testing"

	"github.com/twilio/twilio-go/twiml"
)

// twilioGoTwiML is the answer twilio-go writes for reply.
func twilioGoTwiML(t testing.TB, reply string) string {
	var verbs []twiml.Element
	if reply != "" {
		verbs = []twiml.Element{&twiml.MessagingMessage{Body: reply}}
	}
	x, err := twiml.Messages(verbs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

var twimlCases = []string{
	"", "H", " a ", "smsbot: you're subscribed. U = unsubscribe, S = link again, H = this help.",
	"<&>'\"", "a&&b<<c", "x\ty\nz\r", "\x00\x01\x1f\x7f", "\xff", "a\xffb\xc3", "\xef\xbf\xbd",
	"Dén 19.5°C — ok ✓ 😀", "\ufffe\uffff", "\ud7ff\ue000", "open https://bot.example.com/l/abc?x=1&y=2",
	strings.Repeat("é<", 300),
}

// TestAppendTwiML_AsTwilioGo: the answer written directly is byte for
// byte the one twilio-go's twiml.Messages writes, for plain replies,
// every escaped character, line ends, control characters, invalid UTF-8
// and characters XML cannot hold.
func TestAppendTwiML_AsTwilioGo(t *testing.T) {
	for _, reply := range twimlCases {
		if got, want := string(appendTwiML(nil, reply)), twilioGoTwiML(t, reply); got != want {
			t.Errorf("reply %q:\n got %q\nwant %q", reply, got, want)
		}
	}
}

func FuzzAppendTwiML(f *testing.F) {
	for _, c := range twimlCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		if got, want := string(appendTwiML(nil, reply)), twilioGoTwiML(t, reply); got != want {
			t.Fatalf("reply %q:\n got %q\nwant %q", reply, got, want)
		}
	})
}

func BenchmarkTwiML(b *testing.B) {
	const reply = "smsbot: you're subscribed. U = unsubscribe, S = link again, H = this help."
	b.Run("twilio-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			twiml.Messages([]twiml.Element{&twiml.MessagingMessage{Body: reply}})
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			appendTwiML(nil, reply)
		}
	})
}
