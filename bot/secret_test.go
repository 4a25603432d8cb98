package bot_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok, hash, err := bot.NewToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] || len(tok) != bot.TokenLen {
			t.Fatalf("token %q repeated or wrong length", tok)
		}
		seen[tok] = true
		h, err := bot.HashToken(tok)
		if err != nil || !bytes.Equal(h, hash) {
			t.Fatalf("HashToken(%q) = %x, %v; want %x", tok, h, err, hash)
		}
	}
}

func TestNewCode_Uniform(t *testing.T) {
	var counts [10]int
	for i := 0; i < 2000; i++ {
		c, err := bot.NewCode(rand.Reader)
		if err != nil || len(c) != 6 {
			t.Fatalf("code %q: %v", c, err)
		}
		for _, d := range c {
			counts[d-'0']++
		}
	}
	// 12000 digits: each should be near 1200; 900 is far outside chance.
	for d, n := range counts {
		if n < 900 || n > 1500 {
			t.Errorf("digit %d appeared %d times of 12000", d, n)
		}
	}
}

func TestKeyring(t *testing.T) {
	if _, err := bot.NewKeyring([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
	k, _ := bot.NewKeyring([]byte(strings.Repeat("a", 32)))
	k2, _ := bot.NewKeyring([]byte(strings.Repeat("b", 32)))
	if bytes.Equal(k.MAC("code", "ab", "c"), k.MAC("code", "a", "bc")) {
		t.Fatal("MAC parts are not separated")
	}
	if bytes.Equal(k.MAC("code", "x"), k2.MAC("code", "x")) || bytes.Equal(k.MAC("code", "x"), k.MAC("other", "x")) {
		t.Fatal("MAC ignores the secret or the purpose")
	}
	sealed, err := k.Seal(rand.Reader, "reply", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hello")) {
		t.Fatal("sealed text is readable")
	}
	if got, err := k.Open("reply", sealed); err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open("login", sealed); err == nil {
		t.Fatal("opened under another purpose")
	}
	if _, err := k2.Open("reply", sealed); err == nil {
		t.Fatal("opened with another secret")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open("reply", sealed); err == nil {
		t.Fatal("opened altered text")
	}
}

func TestNewReplies(t *testing.T) {
	r, warnings, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("default reply over one segment: %s", w)
	}
	s, err := r.Render(bot.ReplyWrongCode, bot.ReplyData{Name: "x", Left: 1})
	if err != nil || s != "x: wrong code. 1 try left." {
		t.Fatalf("render: %q %v", s, err)
	}
	if _, _, err := bot.NewReplies(map[string]string{"nope": "x"}); err == nil {
		t.Fatal("unknown template accepted")
	}
	if _, _, err := bot.NewReplies(map[string]string{bot.ReplyHint: "{{.Missing}}"}); err == nil {
		t.Fatal("template with an unknown field accepted")
	}
	if _, _, err := bot.NewReplies(map[string]string{bot.ReplyHint: strings.Repeat("x", 1601)}); err == nil {
		t.Fatal("1601-character reply accepted")
	}
	_, warnings, err = bot.NewReplies(map[string]string{bot.ReplyHint: strings.Repeat("x", 161)})
	if err != nil || len(warnings) != 1 {
		t.Fatalf("161 chars: %v %v", warnings, err)
	}
}

func TestSegments(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1},
		{strings.Repeat("€", 81), 2},
		{strings.Repeat("é", 160), 1},
		{strings.Repeat("ü", 160), 1},
		{strings.Repeat("ł", 70), 1},
		{strings.Repeat("ł", 71), 2},
		{"hi 🙂", 1},
		{"", 1},
		{strings.Repeat("😀", 35), 1}, // two UTF-16 units each
		{strings.Repeat("😀", 36), 2},
	} {
		if got := bot.Segments(tt.s); got != tt.want {
			t.Errorf("Segments(%d × %q…) = %d, want %d", len([]rune(tt.s)), []rune(tt.s)[0], got, tt.want)
		}
	}
}
