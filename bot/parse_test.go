package bot_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smsbot/smsbot/bot"
)

func TestParse(t *testing.T) {
	tests := []struct {
		body string
		kind bot.Kind
		code string
	}{
		{"S", bot.KindSubscribe, ""},
		{" s ", bot.KindSubscribe, ""},
		{"H", bot.KindHelp, ""},
		{"h\n", bot.KindHelp, ""},
		{"HELP", bot.KindCarrierHelp, ""},
		{"info", bot.KindCarrierHelp, ""},
		{"STOP", bot.KindStop, ""},
		{"stopall", bot.KindStop, ""},
		{"Unsubscribe", bot.KindStop, ""},
		{"cancel", bot.KindStop, ""},
		{"END", bot.KindStop, ""},
		{"quit", bot.KindStop, ""},
		{"START", bot.KindStart, ""},
		{"yes", bot.KindStart, ""},
		{"unstop", bot.KindStart, ""},
		{"U", bot.KindUnsubscribe, ""},
		{"482913", bot.KindCode, "482913"},
		{"482 913", bot.KindCode, "482913"},
		{"482-913", bot.KindCode, "482913"},
		{" 4 8 2 9 1 3 ", bot.KindCode, "482913"},
		{"48291", bot.KindOther, ""},
		{"4829134", bot.KindOther, ""},
		{"482913a", bot.KindOther, ""},
		{"４８２９１３", bot.KindOther, ""}, // full-width digits are not a code
		{"stop now", bot.KindOther, ""},
		{"SS", bot.KindOther, ""},
		{"ST den 19", bot.KindOther, ""},
		{"", bot.KindOther, ""},
	}
	for _, tt := range tests {
		c := bot.Parse(tt.body)
		if c.Kind != tt.kind || c.Code != tt.code {
			t.Errorf("Parse(%q) = %+v, want kind %d code %q", tt.body, c, tt.kind, tt.code)
		}
	}
}

func TestValidPhone(t *testing.T) {
	for s, want := range map[string]bool{
		"+15555550123": true, "+447911123456": true, "+1234567": true,
		"15555550123": false, "+05555550123": false, "+1555555012a": false,
		"+": false, "": false, "+1234567890123456": false, "+1 555 555 0123": false,
	} {
		if got := bot.ValidPhone(s); got != want {
			t.Errorf("ValidPhone(%q) = %v", s, got)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	if got := bot.MaskPhone("+15555554567"); got != "+1******4567" {
		t.Fatalf("MaskPhone = %q", got)
	}
	if got := bot.MaskPhone("+1234"); strings.Contains(got, "1234") {
		t.Fatalf("short number not masked: %q", got)
	}
	for _, s := range []string{"+12345678", "+447700900123", "+123456789012345", "whatsapp:+15555554567"} {
		want := s[:2] + strings.Repeat("*", len(s)-6) + s[len(s)-4:]
		if got := bot.MaskPhone(s); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{"you@example.com": "y***@example.com", "ünî@x.de": "ü***@x.de", "nobody": "your account"} {
		if got := bot.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"S", "H", "STOP", "482 913", "482-913", "\x00", "\xff\xfe", "ST den 19", strings.Repeat("9", 2000), "LINK 4K7Q-9M2P", "4k7q9m2p", "link:", "LINKS"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := bot.Parse(body)
		if !utf8.ValidString(c.Text) {
			t.Fatalf("Parse(%q).Text is not UTF-8", body)
		}
		if utf8.RuneCountInString(c.Text) > bot.MaxBodyRunes {
			t.Fatalf("Parse(%q).Text is %d runes", body, utf8.RuneCountInString(c.Text))
		}
		if c.Kind == bot.KindCode {
			if len(c.Code) != bot.CodeDigits || strings.Trim(c.Code, "0123456789") != "" {
				t.Fatalf("Parse(%q) code %q", body, c.Code)
			}
		}
		if c.Kind == bot.KindLink && c.Code != "" {
			if back, ok := bot.ParseWebCode(c.Code); !ok || back != c.Code {
				t.Fatalf("Parse(%q) web code %q is not canonical", body, c.Code)
			}
		}
		if c.Bare && (c.Kind != bot.KindLink || c.Code == "") {
			t.Fatalf("Parse(%q) = %+v: bare without a code", body, c)
		}
		if (c.Kind == bot.KindSubscribe) != strings.EqualFold(strings.TrimSpace(body), "s") {
			t.Fatalf("Parse(%q) subscribe = %v", body, c.Kind == bot.KindSubscribe)
		}
	})
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"482913", "482 913", "482-913", "48291", "-", " 1-2-3-4-5-6 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := bot.ParseCode(s)
		if !ok {
			return
		}
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("ParseCode(%q) = %q", s, code)
		}
		// Only surrounding white space, and spaces and dashes inside, were
		// dropped.
		if strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, strings.TrimSpace(s)) != code {
			t.Fatalf("ParseCode(%q) = %q dropped more than spaces and dashes", s, code)
		}
	})
}

func FuzzHashToken(f *testing.F) {
	for _, s := range []string{"", "short", strings.Repeat("A", bot.TokenLen), strings.Repeat("_", bot.TokenLen), strings.Repeat("=", bot.TokenLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := bot.HashToken(s)
		if err != nil {
			if bot.ErrorCode(err) != bot.EINVALID {
				t.Fatalf("HashToken(%q): %v", s, err)
			}
			return
		}
		if len(h) != 32 || len(s) != bot.TokenLen {
			t.Fatalf("HashToken(%q) accepted: %d-byte hash", s, len(h))
		}
	})
}
