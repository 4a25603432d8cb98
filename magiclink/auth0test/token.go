package auth0test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	// tokenTTL is the lifetime of access tokens, as expires_in reports it.
	tokenTTL = 24 * time.Hour
	// idTokenTTL is the lifetime of ID tokens (Auth0's default).
	idTokenTTL = 10 * time.Hour
)

// tokenResponse is the body of a successful /oauth/token response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token,omitempty"`
	Scope       string `json:"scope,omitempty"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// oauthError writes an Authentication API error body.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// handleToken implements POST /oauth/token for the authorization_code and
// client_credentials grants. Client credentials are accepted in the body
// (client_secret_post, what go-auth0 sends) or as HTTP Basic
// (client_secret_basic, what golang.org/x/oauth2 tries first).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, err := tokenForm(w, r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		s.grantAuthCode(w, r, form)
	case "client_credentials":
		s.grantClientCredentials(w, r, form)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: "+gt)
	}
}

// tokenForm reads a form-encoded or JSON token request, both of which
// Auth0 accepts.
func tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("read form: %w", err)
		}
		return r.PostForm, nil
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("read json body: %w", err)
	}
	form := url.Values{}
	for k, v := range body {
		if s, ok := v.(string); ok {
			form.Set(k, s)
		}
	}
	return form, nil
}

// authenticateClient checks the client's credentials and returns it, or
// writes the error and returns nil.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) *client {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		bu, err1 := url.QueryUnescape(u)
		bp, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || (id != "" && id != bu) || secret != "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Conflicting or malformed client credentials")
			return nil
		}
		id, secret = bu, bp
	}
	if id == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: client_id")
		return nil
	}
	c, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return nil
	}
	return c
}

// grantAuthCode redeems an authorization code. Like Auth0, it answers
// invalid_grant with 403.
func (s *Server) grantAuthCode(w http.ResponseWriter, r *http.Request, form url.Values) {
	c := s.authenticateClient(w, r, form)
	if c == nil {
		return
	}
	code := form.Get("code")
	if code == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code")
		return
	}
	now := s.now()
	s.mu.Lock()
	ac, ok := s.codes[code]
	delete(s.codes, code) // single use, even when the redemption fails
	s.mu.Unlock()
	if !ok || ac.clientID != c.id || now.After(ac.expires) {
		oauthError(w, http.StatusForbidden, "invalid_grant", "Invalid authorization code")
		return
	}
	if form.Get("redirect_uri") != ac.redirectURI {
		oauthError(w, http.StatusForbidden, "invalid_grant", "The redirect_uri does not match the one used in the authorization request")
		return
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		oauthError(w, http.StatusForbidden, "invalid_grant", "Parameter 'code_verifier' is required")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(ac.challenge)) != 1 {
		oauthError(w, http.StatusForbidden, "invalid_grant", "Failed to verify code verifier")
		return
	}
	s.mu.Lock()
	rec, ok := s.users[ac.userID]
	var email, locale string
	if ok {
		email, locale = rec.user.Email, rec.user.Locale
	}
	s.mu.Unlock()
	if !ok {
		oauthError(w, http.StatusForbidden, "invalid_grant", "The user no longer exists")
		return
	}

	iss := s.issuer(r)
	claims := map[string]any{
		"iss":            iss,
		"sub":            ac.userID,
		"aud":            c.id,
		"iat":            now.Unix(),
		"exp":            now.Add(idTokenTTL).Unix(),
		"auth_time":      ac.authTime.Unix(),
		"nonce":          ac.nonce,
		"email":          email,
		"email_verified": true,
		"name":           email,
		"nickname":       nickname(email),
	}
	if locale != "" {
		claims["locale"] = locale
	}
	idToken, err := s.sign(claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "Could not sign the ID token")
		return
	}
	aud := []string{iss + "userinfo"}
	if ac.audience != "" {
		aud = append([]string{ac.audience}, aud...)
	}
	accessToken, err := s.sign(map[string]any{
		"iss":   iss,
		"sub":   ac.userID,
		"aud":   aud,
		"azp":   c.id,
		"iat":   now.Unix(),
		"exp":   now.Add(tokenTTL).Unix(),
		"scope": ac.scope,
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "Could not sign the access token")
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: accessToken,
		IDToken:     idToken,
		Scope:       ac.scope,
		ExpiresIn:   int(tokenTTL / time.Second),
		TokenType:   "Bearer",
	})
}

// validVerifier reports whether v is a well-formed RFC 7636 code verifier.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !isUnreserved(r) {
			return false
		}
	}
	return true
}

// grantClientCredentials issues a Management API access token.
func (s *Server) grantClientCredentials(w http.ResponseWriter, r *http.Request, form url.Values) {
	s.mu.Lock()
	s.ccTokens++
	s.mu.Unlock()
	c := s.authenticateClient(w, r, form)
	if c == nil {
		return
	}
	aud, want := form.Get("audience"), s.apiAudience(r)
	switch {
	case aud == "":
		oauthError(w, http.StatusForbidden, "access_denied", "No audience parameter was provided, and no default audience has been configured")
		return
	case aud != want:
		oauthError(w, http.StatusForbidden, "access_denied", "Service not found: "+aud)
		return
	case c.apiScopes == nil:
		oauthError(w, http.StatusForbidden, "access_denied", fmt.Sprintf(
			"Client is not authorized to access %q. You need to create a \"client-grant\" associated to this API.", aud))
		return
	}
	scopes := c.apiScopes
	if req := strings.Fields(form.Get("scope")); len(req) > 0 {
		scopes = slices.DeleteFunc(slices.Clone(req), func(sc string) bool { return !slices.Contains(c.apiScopes, sc) })
	}
	scope := strings.Join(scopes, " ")
	now := s.now()
	token, err := s.sign(map[string]any{
		"iss":   s.issuer(r),
		"sub":   c.id + "@clients",
		"aud":   aud,
		"azp":   c.id,
		"iat":   now.Unix(),
		"exp":   now.Add(tokenTTL).Unix(),
		"scope": scope,
		"gty":   "client-credentials",
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "Could not sign the access token")
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		Scope:       scope,
		ExpiresIn:   int(tokenTTL / time.Second),
		TokenType:   "Bearer",
	})
}

// handleUserinfo implements GET /userinfo for access tokens from the
// authorization code grant.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	claims, failure := s.verifyBearer(r, s.issuer(r)+"userinfo")
	if failure != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", failure)
		return
	}
	sub, _ := claims["sub"].(string)
	s.mu.Lock()
	rec, ok := s.users[sub]
	var email, name, nick, locale string
	if ok {
		email, name, nick, locale = rec.user.Email, rec.name, rec.nickname, rec.user.Locale
	}
	s.mu.Unlock()
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_token", "The user no longer exists")
		return
	}
	info := map[string]any{
		"sub":            sub,
		"email":          email,
		"email_verified": true,
		"name":           name,
		"nickname":       nick,
	}
	if locale != "" {
		info["locale"] = locale
	}
	writeJSON(w, http.StatusOK, info)
}

// handleJWKS serves the public signing key.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	pub := &s.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": s.kid,
		"n":   b64(pub.N.Bytes()),
		"e":   b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// handleDiscovery serves the OpenID Connect discovery document.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "authorize",
		"token_endpoint":                        iss + "oauth/token",
		"userinfo_endpoint":                     iss + "userinfo",
		"jwks_uri":                              iss + ".well-known/jwks.json",
		"end_session_endpoint":                  iss + "v2/logout",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"claims_supported":                      []string{"aud", "auth_time", "email", "email_verified", "exp", "iat", "iss", "locale", "name", "nickname", "nonce", "sub"},
	})
}

// sign returns claims as a compact RS256 JWT with s's kid.
func (s *Server) sign(claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	if err != nil {
		return "", fmt.Errorf("encode jwt header: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return input + "." + b64(sig), nil
}

// verifyBearer checks the request's bearer token (signature, issuer, expiry,
// audience) and returns its claims. On failure it returns the message that
// the Management API answers 401 with.
func (s *Server) verifyBearer(r *http.Request, audience string) (claims map[string]any, failure string) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, "Missing authentication"
	}
	claims, err := s.verify(token)
	if err != nil {
		return nil, "Invalid token"
	}
	if iss, _ := claims["iss"].(string); iss != s.issuer(r) {
		return nil, "Invalid token"
	}
	exp, _ := claims["exp"].(float64)
	if !s.now().Before(time.Unix(int64(exp), 0)) {
		return nil, "Expired token received for JSON Web Token validation"
	}
	if !hasAudience(claims["aud"], audience) {
		return nil, fmt.Sprintf("Bad audience: %v", claims["aud"])
	}
	return claims, ""
}

// hasAudience reports whether a JWT aud claim (string or array) has want.
func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}

// verify checks an RS256 JWT signed by s and returns its claims.
func (s *Server) verify(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed jwt")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("decode jwt header: %w", err)
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("parse jwt header: %w", err)
	}
	if h.Alg != "RS256" || h.Kid != s.kid {
		return nil, errors.New("unexpected jwt alg or kid")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("decode jwt signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("verify jwt: %w", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode jwt claims: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		return nil, fmt.Errorf("parse jwt claims: %w", err)
	}
	return claims, nil
}
