package webhooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
)

// Signature computes X-Twilio-Signature the way Twilio does for a POST
// webhook: HMAC-SHA1 with the auth token over the URL followed by every
// parameter's name and value, sorted by name, in base64. The Dev Phone,
// the tests and the load generator sign with it; twilio-go's
// RequestValidator checks it.
func Signature(authToken, url string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(url))
	for _, k := range keys {
		for _, v := range form[k] {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
