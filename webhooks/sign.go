package webhooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/url"
	"slices"
	"sync"

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
	s := signerFor(authToken)
	defer signers.Put(s)
	return append([]byte(nil), s.sign(url, form)...)
}

// signer is the state of an HMAC-SHA1 under one auth token, with the
// buffers for what it signs, reused from request to request (signers)
// instead of a new HMAC and its buffers for each.
type signer struct {
	key  string
	mac  hash.Hash
	msg  []byte
	keys []string
	sum  [sha1.Size]byte
}

var signers = sync.Pool{New: func() any { return new(signer) }}

// signerFor takes a signer keyed with authToken from signers; the caller
// puts it back.
func signerFor(authToken string) *signer {
	s := signers.Get().(*signer)
	if s.mac == nil || s.key != authToken {
		s.key, s.mac = authToken, hmac.New(sha1.New, []byte(authToken))
	} else {
		// Reset restores the keyed state: the key is not hashed again.
		s.mac.Reset()
	}
	return s
}

// sign returns the HMAC behind Signature, in s's buffer: it is good
// until s is put back.
func (s *signer) sign(url string, form url.Values) []byte {
	s.keys = s.keys[:0]
	n := len(url)
	for k, vs := range form {
		s.keys = append(s.keys, k)
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	slices.Sort(s.keys)
	msg := append(slices.Grow(s.msg[:0], n), url...)
	for _, k := range s.keys {
		for _, v := range form[k] {
			msg = append(msg, k...)
			msg = append(msg, v...)
		}
	}
	s.mac.Write(msg)
	if cap(msg) <= 2*MaxBody { // keep a buffer the size of a webhook, not of anything signed
		s.msg = msg
	}
	clear(s.keys) // let the form go
	return s.mac.Sum(s.sum[:0])
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
	s := signerFor(authToken)
	base64.StdEncoding.Encode(b64[:], s.sign(url, form))
	signers.Put(s)
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
