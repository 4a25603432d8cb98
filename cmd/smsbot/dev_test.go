package main

import (
	"strings"
	"testing"
)

// TestDevMode_Banner: the banner prints the fixed dev token, never a
// TWILIO_AUTH_TOKEN taken from the environment.
func TestDevMode_Banner(t *testing.T) {
	for _, tc := range []struct{ token, want, never string }{
		{devAuthToken, devAuthToken, ""},
		{"a-real-twilio-token-from-the-env", "not shown", "a-real-twilio-token-from-the-env"},
	} {
		var b strings.Builder
		(&devMode{}).banner(&b, &config{PublicURL: "http://localhost:8080", TwilioToken: tc.token})
		if !strings.Contains(b.String(), tc.want) || tc.never != "" && strings.Contains(b.String(), tc.never) {
			t.Errorf("token %q: banner\n%s", tc.token, b.String())
		}
	}
}
