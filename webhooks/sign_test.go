package webhooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// TestValidSignature_AsRequestValidator: the check with one HMAC accepts
// exactly the signatures twilio-go's RequestValidator accepts, for public
// URLs with and without a port, http and https, a query, IPv6; signed
// over the URL as it is, with the port added, with the port taken away,
// over another URL, with another token, over other parameters, and
// garbage.
func TestValidSignature_AsRequestValidator(t *testing.T) {
	const token = "12345678901234567890123456789012"
	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "From": {"+15555550100"}, "Body": {"H é&<"}, "To": {"+15005550006"}}
	other := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "From": {"+15555550101"}, "Body": {"H é&<"}, "To": {"+15005550006"}}
	urls := [][3]string{ // as given, with the port, without
		{"https://bot.example.com/webhooks/twilio/sms", "https://bot.example.com:443/webhooks/twilio/sms", "https://bot.example.com/webhooks/twilio/sms"},
		{"https://bot.example.com:443/webhooks/twilio/sms", "https://bot.example.com:443/webhooks/twilio/sms", "https://bot.example.com/webhooks/twilio/sms"},
		{"http://127.0.0.1:8080/webhooks/twilio/sms", "http://127.0.0.1:8080/webhooks/twilio/sms", "http://127.0.0.1/webhooks/twilio/sms"},
		{"http://bot.example.com/webhooks/twilio/sms?x=1&y=%20", "http://bot.example.com:80/webhooks/twilio/sms?x=1&y=%20", "http://bot.example.com/webhooks/twilio/sms?x=1&y=%20"},
		{"https://[::1]:8443/webhooks/twilio/sms", "https://[::1]:8443/webhooks/twilio/sms", "https://[/webhooks/twilio/sms"},
	}
	v := client.NewRequestValidator(token)
	params := func(f url.Values) map[string]string {
		m := map[string]string{}
		for k, vs := range f {
			m[k] = vs[0]
		}
		return m
	}
	var accepted, refused int
	for _, u := range urls {
		sigs := map[string]string{
			"as given":         Signature(token, u[0], form),
			"with the port":    Signature(token, u[1], form),
			"without the port": Signature(token, u[2], form),
			"another URL":      Signature(token, "https://evil.example.com/webhooks/twilio/sms", form),
			"another token":    Signature("other", u[0], form),
			"other parameters": Signature(token, u[0], other),
			"garbage":          "bm90IGEgc2lnbmF0dXJl",
			"empty":            "",
		}
		for name, sig := range sigs {
			want := sig != "" && v.Validate(u[0], params(form), sig)
			if got := validSignature(token, u[0], form, sig); got != want {
				t.Errorf("%s, signed %s: %v, RequestValidator says %v", u[0], name, got, want)
			}
			if want {
				accepted++
			} else {
				refused++
			}
		}
		if !validSignature(token, u[0], form, sigs["as given"]) {
			t.Errorf("%s: the signature over the URL as given is refused", u[0])
		}
	}
	if accepted < 2*len(urls) || refused < 5*len(urls) {
		t.Fatalf("%d accepted, %d refused: the cases test too little", accepted, refused)
	}
}

// TestSignature_PooledSigners: the pooled HMAC states give the HMAC a
// new one gives, whichever token and form the state signed before, from
// goroutines running at once (go test -race).
func TestSignature_PooledSigners(t *testing.T) {
	tokens := []string{"12345678901234567890123456789012", "another token", ""}
	fresh := func(token, u string, form url.Values) string {
		keys := slices.Sorted(maps.Keys(form))
		m := hmac.New(sha1.New, []byte(token))
		m.Write([]byte(u))
		for _, k := range keys {
			m.Write([]byte(k + form[k][0]))
		}
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				token := tokens[(g+i)%len(tokens)]
				form := url.Values{"MessageSid": {fmt.Sprintf("SM%032x", i)}, "Body": {strings.Repeat("x", i)}}
				if i%3 == 0 {
					form.Set("From", "+15555550100")
				}
				u := fmt.Sprintf("https://bot%d.example.com/webhooks/twilio/sms", i%5)
				want := fresh(token, u, form)
				if got := Signature(token, u, form); got != want {
					t.Errorf("token %q, form %v: %s, want %s", token, form, got, want)
					return
				}
				if !validSignature(token, u, form, want) || validSignature(token, u+"x", form, want) {
					t.Errorf("token %q, form %v: the check disagrees with the signature", token, form)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkValidSignature(b *testing.B) {
	const token = "12345678901234567890123456789012"
	const u = "https://bot.example.com/webhooks/twilio/sms"
	form := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "AccountSid": {"AC22222222222222222222222222222222"},
		"From": {"+15555550100"}, "To": {"+15005550006"}, "Body": {"H"},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	sig := Signature(token, u, form)
	b.Run("RequestValidator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			params := make(map[string]string, len(form))
			for k, v := range form {
				params[k] = v[0]
			}
			v := client.NewRequestValidator(token)
			if !v.Validate(u, params, sig) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("validSignature", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !validSignature(token, u, form, sig) {
				b.Fatal("refused")
			}
		}
	})
}
