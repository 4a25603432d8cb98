package webhooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"

	"github.com/twilio/twilio-go/client"
)

// Signature computes X-Twilio-Signature the way Twilio does for a POST
// webhook: HMAC-SHA1 with the auth token over the URL followed by every
// parameter's name and value, sorted by name, in base64. The Dev Phone,
// the tests and the load generator sign with it; validSignature checks
// it.
func Signature(authToken, url string, form url.Values) string {
	return base64.StdEncoding.EncodeToString(signatureMAC(authToken, url, form))
}

// signatureMAC is the HMAC behind Signature, written in one piece.
func signatureMAC(authToken, url string, form url.Values) []byte {
	keys := make([]string, 0, len(form))
	n := len(url)
	for k, vs := range form {
		keys = append(keys, k)
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	slices.Sort(keys)
	msg := make([]byte, 0, n)
	msg = append(msg, url...)
	for _, k := range keys {
		for _, v := range form[k] {
			msg = append(msg, k...)
			msg = append(msg, v...)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write(msg)
	return m.Sum(make([]byte, 0, sha1.Size))
}

// validSignature reports whether sig is a valid X-Twilio-Signature of a
// POST of form to url, form holding each name once: exactly when
// twilio-go's RequestValidator accepts it.
//
// The RequestValidator computes two HMACs for every request, over the URL
// with its port and without it, because Twilio is not consistent about
// ports. One of the two is always the URL as it is (a URL that has a port
// is its own with-port form, one without is its own without-port form),
// and that is the one Twilio signs when it was given the public URL as it
// is configured here. So the URL as it is comes first, with one HMAC, and
// only a signature that does not match it goes on to the
// RequestValidator for the other form.
func validSignature(authToken, url string, form url.Values, sig string) bool {
	if sig == "" {
		return false
	}
	var b64 [28]byte // base64 of a SHA-1 HMAC
	base64.StdEncoding.Encode(b64[:], signatureMAC(authToken, url, form))
	if subtle.ConstantTimeCompare(b64[:], []byte(sig)) == 1 {
		return true
	}
	params := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) > 0 {
			params[k] = vs[0]
		}
	}
	v := client.NewRequestValidator(authToken)
	return v.Validate(url, params, sig)
}
