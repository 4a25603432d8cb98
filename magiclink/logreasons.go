package magiclink

import (
	"errors"
	"net"

	"github.com/auth0/go-auth0/authentication"
)

// oauthErrors are the error codes an authorization server may send back
// (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6). Anything else in the
// callback's error parameter is logged as "other": it is the browser's
// text, not Auth0's.
var oauthErrors = map[string]bool{
	"invalid_request": true, "unauthorized_client": true, "access_denied": true,
	"unsupported_response_type": true, "invalid_scope": true, "server_error": true,
	"temporarily_unavailable": true, "interaction_required": true, "login_required": true,
	"account_selection_required": true, "consent_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true,
}

// oauthErrorReason is the callback's error parameter fit for the logs.
func oauthErrorReason(e string) string {
	if oauthErrors[e] {
		return e
	}
	return "other"
}

// exchangeReason says why the code exchange failed without the error's
// text: go-auth0's ID token errors quote the expected nonce.
func exchangeReason(err error) string {
	var ae *authentication.Error
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return "auth0 refused the code exchange: " + oauthErrorReason(ae.Err)
	case errors.As(err, &ne):
		return "auth0 unreachable"
	default:
		return "id token rejected (signature, issuer, audience, expiry or nonce)"
	}
}
