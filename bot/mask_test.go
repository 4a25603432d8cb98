package bot

import (
	"errors"
	"fmt"
	"io"
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
	})
}
