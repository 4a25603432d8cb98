package auth0test

import (
	_ "embed"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
)

// codeTTL is how long an authorization code can be redeemed.
const codeTTL = 10 * time.Minute

//go:embed static/login.css
var loginCSS []byte

// authCode is an issued, not yet redeemed authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	audience    string
	userID      string
	authTime    time.Time
	expires     time.Time
}

// authzRequest is a validated /authorize request.
type authzRequest struct {
	client      *client
	redirectURI string
	scope       string
	state       string
	nonce       string
	challenge   string
	audience    string
	prompt      string
	loginHint   string
	uiLocale    string // the first of ui_locales: the login page's language
}

// authzError is an error reported back to the redirect_uri.
type authzError struct {
	code, description string
}

// parseAuthorize validates the /authorize query. A non-empty fatal message
// means client_id or redirect_uri is unusable: it must be shown on an error
// page and never redirected to. Otherwise a non-nil authzError must be
// reported to req.redirectURI.
func (s *Server) parseAuthorize(q url.Values) (req authzRequest, fatal string, aerr *authzError) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return req, "The " + k + " parameter must not be repeated.", nil
		}
	}
	c, ok := s.clients[q.Get("client_id")]
	switch {
	case q.Get("client_id") == "":
		return req, "Missing required parameter: client_id.", nil
	case !ok:
		return req, "Unknown client: " + q.Get("client_id") + ".", nil
	}
	req.client = c
	req.redirectURI = q.Get("redirect_uri")
	switch {
	case req.redirectURI == "":
		return req, "Missing required parameter: redirect_uri.", nil
	case !slices.Contains(c.callbacks, req.redirectURI):
		return req, "Callback URL mismatch. " + req.redirectURI +
			" is not in the list of allowed callback URLs of this application.", nil
	}

	req.scope = q.Get("scope")
	req.state = q.Get("state")
	req.nonce = q.Get("nonce")
	req.challenge = q.Get("code_challenge")
	req.audience = q.Get("audience")
	req.prompt = q.Get("prompt")
	req.loginHint = q.Get("login_hint")
	if f := strings.Fields(q.Get("ui_locales")); len(f) > 0 && len(f[0]) <= 35 && strings.Trim(f[0], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") == "" {
		req.uiLocale = f[0]
	}
	for k, v := range q {
		if len(v) > 1 {
			return req, "", &authzError{"invalid_request", "The " + k + " parameter must not be repeated"}
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return req, "", &authzError{"invalid_request", "Missing required parameter: response_type"}
	case rt != "code":
		return req, "", &authzError{"unsupported_response_type", "Unsupported response type: " + rt}
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return req, "", &authzError{"invalid_request", "Unsupported response_mode: " + rm + " (only query is supported)"}
	}
	if !slices.Contains(strings.Fields(req.scope), "openid") {
		return req, "", &authzError{"invalid_request", "The scope parameter must include openid"}
	}
	if req.state == "" {
		return req, "", &authzError{"invalid_request", "Missing required parameter: state"}
	}
	if req.nonce == "" {
		return req, "", &authzError{"invalid_request", "Missing required parameter: nonce"}
	}
	if req.challenge == "" {
		return req, "", &authzError{"invalid_request", "Missing required parameter: code_challenge"}
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return req, "", &authzError{"invalid_request", "code_challenge_method must be S256"}
	}
	if !isS256Challenge(req.challenge) {
		return req, "", &authzError{"invalid_request", "code_challenge must be 43 base64url characters (SHA-256)"}
	}
	return req, "", nil
}

// isS256Challenge reports whether c looks like base64url(SHA-256(...)).
func isS256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	for _, r := range c {
		if !isUnreserved(r) || r == '.' || r == '~' {
			return false
		}
	}
	return true
}

// isUnreserved reports whether r is an RFC 3986 unreserved character, the
// alphabet of PKCE code verifiers.
func isUnreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// handleAuthorizeGet shows the login page.
func (s *Server) handleAuthorizeGet(w http.ResponseWriter, r *http.Request) {
	req, fatal, aerr := s.parseAuthorize(r.URL.Query())
	if fatal != "" {
		renderError(w, http.StatusBadRequest, fatal)
		return
	}
	if aerr == nil && req.prompt == "none" {
		// There are no sessions here, so a silent login can never succeed.
		aerr = &authzError{"login_required", "Login required"}
	}
	if aerr != nil {
		redirectError(w, req, aerr)
		return
	}
	renderLogin(w, http.StatusOK, req, req.loginHint, "")
}

// handleAuthorizePost handles the login form: it creates or updates the
// user and redirects to the callback with a fresh authorization code.
func (s *Server) handleAuthorizePost(w http.ResponseWriter, r *http.Request) {
	req, fatal, aerr := s.parseAuthorize(r.URL.Query())
	if fatal != "" {
		renderError(w, http.StatusBadRequest, fatal)
		return
	}
	if aerr != nil {
		redirectError(w, req, aerr)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		renderError(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	raw := r.PostForm.Get("email")
	email, ok := normalizeEmail(raw)
	if !ok {
		renderLogin(w, http.StatusBadRequest, req, raw, "Enter a valid email address, like name@example.com.")
		return
	}

	userID := s.login(email)
	now := s.now()
	code := randomToken(32)
	s.mu.Lock()
	for k, c := range s.codes {
		if now.After(c.expires) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = authCode{
		clientID:    req.client.id,
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		nonce:       req.nonce,
		scope:       req.scope,
		audience:    req.audience,
		userID:      userID,
		authTime:    now,
		expires:     now.Add(codeTTL),
	}
	s.mu.Unlock()
	redirect(w, req.redirectURI, url.Values{"code": {code}, "state": {req.state}})
}

// normalizeEmail trims and lowercases a plain address like a@b.example and
// reports whether it is one.
func normalizeEmail(raw string) (string, bool) {
	e := strings.TrimSpace(raw)
	if e == "" || len(e) > 254 {
		return "", false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", false
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" {
		return "", false
	}
	return strings.ToLower(e), true
}

// redirectError reports aerr to the (already validated) redirect URI.
func redirectError(w http.ResponseWriter, req authzRequest, aerr *authzError) {
	v := url.Values{"error": {aerr.code}, "error_description": {aerr.description}}
	if req.state != "" {
		v.Set("state", req.state)
	}
	redirect(w, req.redirectURI, v)
}

// redirect sends a 302 to target with params added to its query.
func redirect(w http.ResponseWriter, target string, params url.Values) {
	u, err := url.Parse(target)
	if err != nil { // callback URLs are validated in New
		renderError(w, http.StatusInternalServerError, "Invalid callback URL.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// handleCSS serves the login page's stylesheet.
func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(loginCSS)
}

// handleLogout implements /v2/logout: it redirects to returnTo when its
// origin is the origin of an allowed callback URL.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get("returnTo")
	if returnTo == "" {
		renderPage(w, http.StatusOK, pageData{Title: "Logged out", Message: "You are logged out of the local Auth0 stand-in."})
		return
	}
	if !s.allowedLogout(returnTo) {
		renderError(w, http.StatusBadRequest, "The returnTo URL "+returnTo+" is not allowed: its origin is not that of an allowed callback URL.")
		return
	}
	w.Header().Set("Location", returnTo)
	w.WriteHeader(http.StatusFound)
}

// allowedLogout reports whether target has the origin of a callback URL.
func (s *Server) allowedLogout(target string) bool {
	t, err := url.Parse(target)
	if err != nil || t.Host == "" || t.User != nil {
		return false
	}
	for _, c := range s.clients {
		for _, cb := range c.callbacks {
			u, err := url.Parse(cb)
			if err == nil && u.Scheme == t.Scheme && u.Host == t.Host {
				return true
			}
		}
	}
	return false
}

// pageData fills pageTmpl.
type pageData struct {
	Lang       string // ui_locales' first: the page's lang attribute (the texts stay English)
	Title      string
	Message    string
	Login      bool
	ClientName string
	ReturnTo   string
	Email      string
	Error      string
}

// renderLogin shows the login form. The form has no action, so it posts back
// to the current URL, query included, wherever the handler is mounted.
func renderLogin(w http.ResponseWriter, status int, req authzRequest, email, problem string) {
	returnTo := req.redirectURI
	if u, err := url.Parse(req.redirectURI); err == nil {
		returnTo = u.Scheme + "://" + u.Host
	}
	lang := req.uiLocale
	if lang == "" {
		lang = "en"
	}
	renderPage(w, status, pageData{
		Lang:       lang,
		Title:      "Log in",
		Login:      true,
		ClientName: req.client.name,
		ReturnTo:   returnTo,
		Email:      email,
		Error:      problem,
	})
}

// renderError shows an error page.
func renderError(w http.ResponseWriter, status int, msg string) {
	renderPage(w, status, pageData{Lang: "en", Title: "Something went wrong", Message: msg})
}

// renderPage writes a page with headers that forbid inline scripts and
// styles and framing.
func renderPage(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} — local Auth0 stand-in (dev mode)</title>
<link rel="stylesheet" href="static/login.css">
</head>
<body>
<main class="card">
<p class="badge">Dev mode · local stand-in, not the real Auth0</p>
<h1>{{.Title}}</h1>
{{- if .Login}}
<p class="lead">to continue to <strong>{{.ClientName}}</strong></p>
{{- if .Error}}
<p class="error" role="alert">{{.Error}}</p>
{{- end}}
<form method="post">
<label for="email">Email address</label>
<input id="email" name="email" type="email" required autocomplete="email" autocapitalize="off" spellcheck="false" autofocus value="{{.Email}}">
<button type="submit">Continue</button>
</form>
<p class="note">Any email address works and there is no password. You will be sent back to <code>{{.ReturnTo}}</code>.</p>
{{- else}}
<p>{{.Message}}</p>
{{- end}}
</main>
</body>
</html>
`))
