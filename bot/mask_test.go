package bot

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

func TestMaskPhones(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"twilio 21211: The 'To' number +15005550001 is not a valid phone number.", "twilio 21211: The 'To' number +1******0001 is not a valid phone number."},
		{`Get "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=20&To=%2B15555550123": context deadline exceeded`,
			`Get "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=20&To=%2B1******0123": context deadline exceeded`},
		{"to=%2b447700900123&from=+447700900999", "to=%2b4*******0123&from=+4*******0999"},
		{"'To' and 'From' number cannot be the same: +15005550006", "'To' and 'From' number cannot be the same: +1******0006"},
		{"already masked +1******4567", "already masked +1******4567"},
		{"no number: 1+1=2, 50% off, %2F, +0123456789, +123456", "no number: 1+1=2, 50% off, %2F, +0123456789, +123456"},
		{"+12345678901234567890 is too long for E.164", "+12345678901234567890 is too long for E.164"},
		{"", ""},
	} {
		if got := MaskPhones(tc.in); got != tc.want {
			t.Errorf("MaskPhones(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	if got, want := MaskPhones("+15555554567"), MaskPhone("+15555554567"); got != want {
		t.Errorf("MaskPhones %q, MaskPhone %q", got, want)
	}
}

func TestMaskErr(t *testing.T) {
	err := MaskErr(fmt.Errorf("send to +15555550123: %w", io.ErrUnexpectedEOF))
	if err.Error() != "send to +1******0123: unexpected EOF" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%v, is EOF %v", err, errors.Is(err, io.ErrUnexpectedEOF))
	}
	if MaskErr(nil) != nil {
		t.Fatal("MaskErr(nil) is not nil")
	}
}

func FuzzMaskPhones(f *testing.F) {
	f.Add("+15555550123 %2B15555550123")
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskPhones(s)
		if len(m) != len(s) {
			t.Fatalf("length changed: %q -> %q", s, m)
		}
		if MaskPhones(m) != m {
			t.Fatalf("not idempotent: %q -> %q", m, MaskPhones(m))
		}
		if slow := maskPhones(s); m != slow {
			t.Fatalf("fast path %q, slow path %q for %q", m, slow, s)
		}
	})
}

// TestMaskPhones_FastPath: MaskPhones, which skips text that cannot hold
// a number (mayHoldPhone), masks exactly what the full search
// (maskPhones) masks: over the cases above, the fuzz seed, and random
// strings made mostly of the characters a number is made of.
func TestMaskPhones_FastPath(t *testing.T) {
	inputs := []string{
		"+15555550123 %2B15555550123", // FuzzMaskPhones's seed
		"twilio 21211: The 'To' number +15005550001 is not a valid phone number.",
		"to=%2b447700900123&from=+447700900999", "already masked +1******4567",
		"no number: 1+1=2, 50% off, %2F, +0123456789, +123456", "+12345678901234567890", "",
		"SM0123456789abcdef0123456789abcdef", "1234567+", "+%2B1234567", "%2B%2B1234567",
	}
	rng := rand.New(rand.NewPCG(15, 2))
	const alphabet = "+%2Bb0123456789 0123456789a*"
	for range 100000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	skipped, masked := 0, 0
	for _, s := range inputs {
		fast, slow := MaskPhones(s), maskPhones(s)
		if fast != slow {
			t.Fatalf("MaskPhones(%q) = %q, the full search gives %q", s, fast, slow)
		}
		if !mayHoldPhone(s) {
			skipped++
		}
		if slow != s {
			masked++
		}
	}
	// Both paths must have been taken, or the comparison shows nothing.
	if skipped == 0 || masked == 0 {
		t.Fatalf("of %d strings %d skipped by the fast path, %d masked", len(inputs), skipped, masked)
	}
}
