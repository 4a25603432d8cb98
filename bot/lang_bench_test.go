package bot_test

import (
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// BenchmarkParse_Command is the parse of a thermostat command, which now
// also checks the keywords of every language and LANG.
func BenchmarkParse_Command(b *testing.B) {
	for b.Loop() {
		bot.Parse("ST den 21")
	}
}

// BenchmarkReply_Spanish is what a reply costs a +52 phone: resolving
// its language tag, then rendering.
func BenchmarkReply_Spanish(b *testing.B) {
	r, _, err := bot.NewLocalReplies(nil)
	if err != nil {
		b.Fatal(err)
	}
	p := &bot.Phone{Number: "+5215512345678", Language: "es-MX"}
	d := bot.ReplyData{Name: "smsbot"}
	for b.Loop() {
		if _, err := r.RenderIn(p.Lang(), bot.ReplyHint, d); err != nil {
			b.Fatal(err)
		}
	}
}
