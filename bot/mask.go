package bot

import "strings"

// MaskPhones masks, the way MaskPhone does, every E.164 number in s and
// its URL-encoded form (%2B...): far ends name the number in their errors
// (Twilio's "The 'To' number +1... is not a valid phone number", a failed
// request's URL with To=%2B1...). Text without one is returned as is.
func MaskPhones(s string) string {
	if !mayHoldPhone(s) {
		return s
	}
	return maskPhones(s)
}

// mayHoldPhone reports whether s has what every number MaskPhones masks
// has: a plus sign ("+" or the "%" of "%2B") somewhere before a run of at
// least 7 digits. It is one pass over s that allocates nothing, and it
// is false for the text of almost every log attribute (a SID, a state, a
// number already masked), which maskPhones would otherwise search for
// plus signs and digits in turn.
func mayHoldPhone(s string) bool {
	plus, run := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			if run++; run >= 7 && plus {
				return true
			}
		case c == '+' || c == '%':
			plus, run = true, 0
		default:
			run = 0
		}
	}
	return false
}

// maskPhones is MaskPhones without the fast path.
func maskPhones(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		p := plusLen(s[i:])
		if p == 0 {
			i++
			continue
		}
		j := i + p
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i - p; n >= 7 && n <= 15 && s[i+p] != '0' {
			b.WriteString(s[last : i+p+1])
			b.WriteString(strings.Repeat("*", n-5))
			b.WriteString(s[j-4 : j])
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// plusLen is the length of the plus sign that starts s: 1 for "+", 3 for
// "%2B" or "%2b", else 0.
func plusLen(s string) int {
	switch {
	case strings.HasPrefix(s, "+"):
		return 1
	case len(s) >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'B' || s[2] == 'b'):
		return 3
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// MaskErr returns err with the phone numbers in its text masked
// (MaskPhones); errors.Is and errors.As still see the error it wraps.
func MaskErr(err error) error {
	if err == nil {
		return nil
	}
	return maskedError{err}
}

type maskedError struct{ err error }

func (e maskedError) Error() string { return MaskPhones(e.err.Error()) }
func (e maskedError) Unwrap() error { return e.err }
