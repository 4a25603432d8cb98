package auth0test_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auth0/go-auth0/authentication"
	"github.com/auth0/go-auth0/authentication/oauth"
	"golang.org/x/oauth2"

	"github.com/smsbot/smsbot/magiclink/auth0test"
)

const (
	appID         = "app-client-id"
	appSecret     = "app-client-secret"
	mgmtID        = "m2m-client-id"
	mgmtSecret    = "m2m-client-secret"
	callback      = "https://app.example.test/auth/callback"
	otherCallback = "http://localhost:8080/auth/callback?from=dev"
)

// newServer starts a stand-in on loopback and closes it when t ends.
func newServer(t *testing.T, edit ...func(*auth0test.Options)) *auth0test.Server {
	t.Helper()
	o := auth0test.Options{
		ClientID:         appID,
		ClientSecret:     appSecret,
		MgmtClientID:     mgmtID,
		MgmtClientSecret: mgmtSecret,
		CallbackURLs:     []string{callback, otherCallback},
	}
	for _, e := range edit {
		e(&o)
	}
	s, err := auth0test.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newAuth returns a go-auth0 Authentication API client for the stand-in.
func newAuth(t *testing.T, s *auth0test.Server, secret string) *authentication.Authentication {
	t.Helper()
	a, err := authentication.New(t.Context(), s.Domain(),
		authentication.WithClientID(appID),
		authentication.WithClientSecret(secret),
		authentication.WithClient(s.Client()),
	)
	if err != nil {
		t.Fatalf("authentication.New: %v", err)
	}
	return a
}

// flow is the client side of one /authorize round trip.
type flow struct {
	verifier, state, nonce, redirectURI string
}

func newFlow(redirectURI string) flow {
	return flow{
		verifier:    oauth2.GenerateVerifier(),
		state:       oauth2.GenerateVerifier()[:16],
		nonce:       oauth2.GenerateVerifier()[:16],
		redirectURI: redirectURI,
	}
}

// authorizeURL builds the /authorize URL as the application does.
func (f flow) authorizeURL(base string, extra ...oauth2.AuthCodeOption) string {
	cfg := oauth2.Config{
		ClientID:    appID,
		Endpoint:    oauth2.Endpoint{AuthURL: base + "/authorize"},
		RedirectURL: f.redirectURI,
		Scopes:      []string{"openid", "profile", "email"},
	}
	opts := append([]oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(f.verifier),
		oauth2.SetAuthURLParam("nonce", f.nonce),
	}, extra...)
	return cfg.AuthCodeURL(f.state, opts...)
}

// browser returns a client with a cookie jar that follows redirects except
// the one to an allowed callback, which it returns.
func browser(t *testing.T, base *http.Client) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	c := *base
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		u := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
		if strings.HasPrefix(callback, u) || strings.HasPrefix(otherCallback, u) {
			return http.ErrUseLastResponse
		}
		if len(via) > 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	return &c
}

var formTag = regexp.MustCompile(`(?is)<form\b[^>]*>`)
var actionAttr = regexp.MustCompile(`(?is)\baction\s*=\s*"([^"]*)"`)

// getLoginPage fetches the login page and returns the URL its form posts to,
// resolved as a browser would, and the page body.
func getLoginPage(t *testing.T, c *http.Client, pageURL string) (string, string) {
	t.Helper()
	resp, err := c.Get(pageURL)
	if err != nil {
		t.Fatalf("GET /authorize: %v", err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorize: status %d, body %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /authorize: content type %q", ct)
	}
	tag := formTag.FindString(body)
	if tag == "" {
		t.Fatalf("login page has no form: %s", body)
	}
	if !strings.Contains(strings.ToLower(tag), `method="post"`) {
		t.Fatalf("form is not method=post: %s", tag)
	}
	if !regexp.MustCompile(`<input\b[^>]*\bname="email"[^>]*>`).MatchString(body) {
		t.Fatalf("login page has no email input: %s", body)
	}
	action := pageURL
	if m := actionAttr.FindStringSubmatch(tag); m != nil {
		base, _ := url.Parse(pageURL)
		ref, err := url.Parse(m[1])
		if err != nil {
			t.Fatalf("form action %q: %v", m[1], err)
		}
		action = base.ResolveReference(ref).String()
	}
	return action, body
}

// login drives the login page with the given email and returns the code
// from the redirect to the callback.
func login(t *testing.T, c *http.Client, pageURL string, f flow, email string) string {
	t.Helper()
	action, _ := getLoginPage(t, c, pageURL)
	resp, err := c.PostForm(action, url.Values{"email": {email}})
	if err != nil {
		t.Fatalf("POST /authorize: %v", err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /authorize: status %d, body %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; !strings.HasPrefix(f.redirectURI, got) {
		t.Fatalf("redirected to %s, want %s", loc, f.redirectURI)
	}
	q := loc.Query()
	if q.Get("state") != f.state {
		t.Fatalf("state = %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	return q.Get("code")
}

// exchange redeems code with go-auth0.
func exchange(t *testing.T, a *authentication.Authentication, f flow, code, nonce string) (*oauth.TokenSet, error) {
	t.Helper()
	return a.OAuth.LoginWithAuthCodeWithPKCE(t.Context(), oauth.LoginWithAuthCodeWithPKCERequest{
		Code:         code,
		CodeVerifier: f.verifier,
		RedirectURI:  f.redirectURI,
	}, oauth.IDTokenValidationOptions{Nonce: nonce})
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// jwtClaims decodes a JWT's claims without verifying it (go-auth0 did).
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode claims: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse claims: %v", err)
	}
	return c
}

// wantGrantError checks that err is the Authentication API error code.
func wantAuthError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *authentication.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *authentication.Error", err, err)
	}
	if ae.StatusCode != status || ae.Err != code {
		t.Fatalf("error = %d %s (%s), want %d %s", ae.StatusCode, ae.Err, ae.Message, status, code)
	}
}

func TestServer_LoginWithAuthCodeWithPKCE(t *testing.T) {
	s := newServer(t)
	a := newAuth(t, s, appSecret)
	base := "https://" + s.Domain()
	c := browser(t, s.Client())

	t.Run("Success", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, " Alice@Example.COM ")
		tokens, err := exchange(t, a, f, code, f.nonce)
		if err != nil {
			t.Fatalf("LoginWithAuthCodeWithPKCE: %v", err)
		}
		if tokens.AccessToken == "" || tokens.TokenType != "Bearer" || tokens.ExpiresIn != 86400 {
			t.Errorf("tokens = %+v", tokens)
		}
		claims := jwtClaims(t, tokens.IDToken)
		wantID := auth0test.UserID("alice@example.com")
		if claims["sub"] != wantID {
			t.Errorf("sub = %v, want %s", claims["sub"], wantID)
		}
		if claims["iss"] != base+"/" || claims["aud"] != appID || claims["nonce"] != f.nonce {
			t.Errorf("iss/aud/nonce = %v %v %v", claims["iss"], claims["aud"], claims["nonce"])
		}
		if claims["email"] != "alice@example.com" || claims["email_verified"] != true {
			t.Errorf("email claims = %v %v", claims["email"], claims["email_verified"])
		}
		iat, _ := claims["iat"].(float64)
		exp, _ := claims["exp"].(float64)
		if exp-iat != (10 * time.Hour).Seconds() {
			t.Errorf("exp - iat = %v, want 10h", exp-iat)
		}
		u, ok := s.User(wantID)
		if !ok || u.Email != "alice@example.com" || u.LoginsCount != 1 {
			t.Fatalf("User = %+v, %v", u, ok)
		}
		if len(u.Identities) != 1 || u.Identities[0].Provider != "auth0" || "auth0|"+u.Identities[0].UserID != wantID {
			t.Errorf("identities = %+v", u.Identities)
		}

		// A second login counts, and userinfo knows the user.
		f2 := newFlow(otherCallback)
		if _, err := exchange(t, a, f2, login(t, c, f2.authorizeURL(base), f2, "alice@example.com"), f2.nonce); err != nil {
			t.Fatalf("second login: %v", err)
		}
		if u, _ := s.User(wantID); u.LoginsCount != 2 {
			t.Errorf("LoginsCount = %d, want 2", u.LoginsCount)
		}
		info, err := a.UserInfo(t.Context(), tokens.AccessToken)
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		if info.Sub != wantID || info.Email != "alice@example.com" {
			t.Errorf("UserInfo = %+v", info)
		}
	})

	t.Run("WrongVerifier", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, "bob@example.com")
		f.verifier = oauth2.GenerateVerifier()
		_, err := exchange(t, a, f, code, f.nonce)
		wantAuthError(t, err, http.StatusForbidden, "invalid_grant")
	})

	t.Run("ReusedCode", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, "bob@example.com")
		if _, err := exchange(t, a, f, code, f.nonce); err != nil {
			t.Fatalf("first use: %v", err)
		}
		_, err := exchange(t, a, f, code, f.nonce)
		wantAuthError(t, err, http.StatusForbidden, "invalid_grant")
		var ae *authentication.Error
		if errors.As(err, &ae) && ae.Message != "Invalid authorization code" {
			t.Errorf("message = %q", ae.Message)
		}
	})

	t.Run("WrongNonce", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, "bob@example.com")
		_, err := exchange(t, a, f, code, "some-other-nonce")
		if err == nil || !strings.Contains(err.Error(), "nonce") {
			t.Fatalf("error = %v, want a nonce mismatch", err)
		}
	})

	t.Run("WrongRedirectURI", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, "bob@example.com")
		f.redirectURI = otherCallback // also allowed, but not the one used
		_, err := exchange(t, a, f, code, f.nonce)
		wantAuthError(t, err, http.StatusForbidden, "invalid_grant")
	})

	t.Run("WrongClientSecret", func(t *testing.T) {
		f := newFlow(callback)
		code := login(t, c, f.authorizeURL(base), f, "bob@example.com")
		_, err := exchange(t, newAuth(t, s, "not-the-secret"), f, code, f.nonce)
		wantAuthError(t, err, http.StatusUnauthorized, "access_denied")
	})

	t.Run("UnknownCode", func(t *testing.T) {
		_, err := exchange(t, a, newFlow(callback), "no-such-code", "")
		wantAuthError(t, err, http.StatusForbidden, "invalid_grant")
	})
}

func TestServer_CodeExpiry(t *testing.T) {
	var offset atomic.Int64 // nanoseconds added to the real clock
	s := newServer(t, func(o *auth0test.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	a := newAuth(t, s, appSecret)
	c := browser(t, s.Client())
	f := newFlow(callback)
	code := login(t, c, f.authorizeURL("https://"+s.Domain()), f, "carol@example.com")
	offset.Store(int64(11 * time.Minute))
	_, err := exchange(t, a, f, code, f.nonce)
	wantAuthError(t, err, http.StatusForbidden, "invalid_grant")
}

func TestServer_Authorize(t *testing.T) {
	s := newServer(t)
	base := "https://" + s.Domain()
	c := browser(t, s.Client())

	t.Run("Page", func(t *testing.T) {
		f := newFlow(callback)
		page := f.authorizeURL(base, oauth2.SetAuthURLParam("login_hint", "dana@example.com"))
		_, body := getLoginPage(t, c, page)
		for _, want := range []string{
			"Log in — local Auth0 stand-in (dev mode)",
			`type="email"`, "required", `value="dana@example.com"`,
			`<button type="submit"`, `href="static/login.css"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		for _, bad := range []string{"<script", "<style", "style="} {
			if strings.Contains(strings.ToLower(body), bad) {
				t.Errorf("page has inline %q", bad)
			}
		}
		resp, err := c.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("CSP = %q", csp)
		}
		resp, err = c.Get(base + "/static/login.css")
		if err != nil {
			t.Fatal(err)
		}
		css := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, "button") {
			t.Errorf("login.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	// Requests whose client or redirect_uri cannot be trusted get an error
	// page and never a redirect.
	fatal := map[string]func(q url.Values){
		"UnknownClient":      func(q url.Values) { q.Set("client_id", "nope") },
		"MissingClient":      func(q url.Values) { q.Del("client_id") },
		"BadRedirectURI":     func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"RedirectURIPrefix":  func(q url.Values) { q.Set("redirect_uri", callback+"/more") },
		"MissingRedirectURI": func(q url.Values) { q.Del("redirect_uri") },
		"RepeatedRedirect":   func(q url.Values) { q.Add("redirect_uri", "https://evil.example/cb") },
	}
	for name, edit := range fatal {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(name+"/"+method, func(t *testing.T) {
				u, _ := url.Parse(newFlow(callback).authorizeURL(base))
				q := u.Query()
				edit(q)
				u.RawQuery = q.Encode()
				var resp *http.Response
				var err error
				if method == http.MethodGet {
					resp, err = c.Get(u.String())
				} else {
					resp, err = c.PostForm(u.String(), url.Values{"email": {"eve@example.com"}})
				}
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", resp.StatusCode)
				}
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Errorf("redirected to %s", loc)
				}
				if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "</html>") {
					t.Errorf("not an HTML error page: %s", body)
				}
				if _, ok := s.User(auth0test.UserID("eve@example.com")); ok {
					t.Errorf("user created by a rejected request")
				}
			})
		}
	}

	// Other problems are reported to the callback, OAuth-style.
	redirected := []struct {
		name, code string
		edit       func(q url.Values)
	}{
		{"MissingChallenge", "invalid_request", func(q url.Values) { q.Del("code_challenge") }},
		{"PlainChallenge", "invalid_request", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"MissingMethod", "invalid_request", func(q url.Values) { q.Del("code_challenge_method") }},
		{"MissingNonce", "invalid_request", func(q url.Values) { q.Del("nonce") }},
		{"MissingState", "invalid_request", func(q url.Values) { q.Del("state") }},
		{"NoOpenID", "invalid_request", func(q url.Values) { q.Set("scope", "profile email") }},
		{"ResponseTypeToken", "unsupported_response_type", func(q url.Values) { q.Set("response_type", "token") }},
		{"PromptNone", "login_required", func(q url.Values) { q.Set("prompt", "none") }},
	}
	for _, tc := range redirected {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(otherCallback)
			u, _ := url.Parse(f.authorizeURL(base))
			q := u.Query()
			tc.edit(q)
			u.RawQuery = q.Encode()
			resp, err := c.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302", resp.StatusCode)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			lq := loc.Query()
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://localhost:8080/auth/callback" || lq.Get("from") != "dev" {
				t.Errorf("redirected to %s", loc)
			}
			if lq.Get("error") != tc.code || lq.Get("error_description") == "" || lq.Get("code") != "" {
				t.Errorf("error = %q (%q), code = %q", lq.Get("error"), lq.Get("error_description"), lq.Get("code"))
			}
			if q.Get("state") != "" && lq.Get("state") != f.state {
				t.Errorf("state = %q, want %q", lq.Get("state"), f.state)
			}
		})
	}

	t.Run("InvalidEmail", func(t *testing.T) {
		page := newFlow(callback).authorizeURL(base)
		for _, email := range []string{"", "not-an-email", "Eve <eve@example.com>", "eve@"} {
			resp, err := c.PostForm(page, url.Values{"email": {email}})
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%q: status %d, Location %q", email, resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, `name="email"`) || !strings.Contains(body, "valid email") {
				t.Errorf("%q: form not shown again with an error: %s", email, body)
			}
		}
	})
}

func TestServer_StripPrefix(t *testing.T) {
	s := newServer(t)
	mux := http.NewServeMux()
	mux.Handle("/dev/auth0/", http.StripPrefix("/dev/auth0", s))
	dev := httptest.NewServer(mux)
	defer dev.Close()

	c := browser(t, dev.Client())
	f := newFlow(otherCallback)
	page := f.authorizeURL(dev.URL + "/dev/auth0")
	_, body := getLoginPage(t, c, page)

	// The stylesheet resolves under the prefix.
	href := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`).FindStringSubmatch(body)
	if href == nil {
		t.Fatalf("no stylesheet link: %s", body)
	}
	pu, _ := url.Parse(page)
	ref, _ := url.Parse(href[1])
	cssURL := pu.ResolveReference(ref)
	if !strings.HasPrefix(cssURL.Path, "/dev/auth0/") {
		t.Errorf("stylesheet at %s, outside the prefix", cssURL)
	}
	resp, err := c.Get(cssURL.String())
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d %s", cssURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	code := login(t, c, page, f, "erin@example.com")
	tokens, err := exchange(t, newAuth(t, s, appSecret), f, code, f.nonce)
	if err != nil {
		t.Fatalf("LoginWithAuthCodeWithPKCE: %v", err)
	}
	if sub := jwtClaims(t, tokens.IDToken)["sub"]; sub != auth0test.UserID("erin@example.com") {
		t.Errorf("sub = %v", sub)
	}
}

func TestServer_WellKnown(t *testing.T) {
	s := newServer(t)
	c := s.Client()
	iss := "https://" + s.Domain() + "/"

	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	getJSON(t, c, iss+".well-known/jwks.json", &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("keys = %v", jwks.Keys)
	}
	k := jwks.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" || k["e"] != "AQAB" {
		t.Errorf("key = %v", k)
	}
	if n, err := base64.RawURLEncoding.DecodeString(k["n"]); err != nil || len(n) != 256 {
		t.Errorf("modulus: %d bytes, %v", len(n), err)
	}

	var disc map[string]any
	getJSON(t, c, iss+".well-known/openid-configuration", &disc)
	for key, want := range map[string]string{
		"issuer":                 iss,
		"authorization_endpoint": iss + "authorize",
		"token_endpoint":         iss + "oauth/token",
		"jwks_uri":               iss + ".well-known/jwks.json",
		"userinfo_endpoint":      iss + "userinfo",
	} {
		if disc[key] != want {
			t.Errorf("%s = %v, want %s", key, disc[key], want)
		}
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func TestServer_Token(t *testing.T) {
	s := newServer(t)
	tokenURL := "https://" + s.Domain() + "/oauth/token"
	post := func(t *testing.T, form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := s.Client().PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(readBody(t, resp)), &body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	audience := "https://" + s.Domain() + "/api/v2/"
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"BadSecret", url.Values{"grant_type": {"client_credentials"}, "client_id": {mgmtID}, "client_secret": {"x"}, "audience": {audience}}, 401, "access_denied"},
		{"UnknownClient", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nope"}, "client_secret": {mgmtSecret}, "audience": {audience}}, 401, "access_denied"},
		{"WrongAudience", url.Values{"grant_type": {"client_credentials"}, "client_id": {mgmtID}, "client_secret": {mgmtSecret}, "audience": {"https://other/api"}}, 403, "access_denied"},
		{"NoGrant", url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {appSecret}, "audience": {audience}}, 403, "access_denied"},
		{"RefreshToken", url.Values{"grant_type": {"refresh_token"}, "client_id": {appID}, "client_secret": {appSecret}, "refresh_token": {"x"}}, 400, "unsupported_grant_type"},
		{"NoGrantType", url.Values{"client_id": {appID}}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.form)
			if status != tc.status || body["error"] != tc.code || body["error_description"] == "" {
				t.Errorf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	t.Run("ClientCredentialsScope", func(t *testing.T) {
		status, body := post(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {mgmtID},
			"client_secret": {mgmtSecret}, "audience": {audience}, "scope": {"read:users delete:users"}})
		if status != http.StatusOK || body["scope"] != "read:users" || body["expires_in"] != float64(86400) {
			t.Errorf("got %d %v", status, body)
		}
	})
}

func TestUserID(t *testing.T) {
	sum := sha256.Sum256([]byte("alice@example.com"))
	want := "auth0|" + hex.EncodeToString(sum[:])[:24]
	for _, email := range []string{"alice@example.com", "  Alice@Example.COM\n"} {
		if got := auth0test.UserID(email); got != want {
			t.Errorf("UserID(%q) = %q, want %q", email, got, want)
		}
	}
	if auth0test.UserID("bob@example.com") == want {
		t.Error("different emails share an id")
	}
}

func TestNew(t *testing.T) {
	bad := map[string]auth0test.Options{
		"NoClientID":     {ClientSecret: "s"},
		"NoSecret":       {ClientID: "c"},
		"RelativeURL":    {ClientID: "c", ClientSecret: "s", CallbackURLs: []string{"/callback"}},
		"Fragment":       {ClientID: "c", ClientSecret: "s", CallbackURLs: []string{"https://a.example/cb#x"}},
		"SameIDOtherKey": {ClientID: "c", ClientSecret: "s", MgmtClientID: "c", MgmtClientSecret: "t"},
	}
	for name, o := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := auth0test.New(o); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	t.Run("Lifecycle", func(t *testing.T) {
		s, err := auth0test.New(auth0test.Options{ClientID: "c", ClientSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Domain() != "" || len(s.CertPEM()) == 0 {
			t.Errorf("before Start: domain %q, %d bytes of PEM", s.Domain(), len(s.CertPEM()))
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close before Start: %v", err)
		}
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if err := s.Start("127.0.0.1:0"); err == nil {
			t.Error("second Start succeeded")
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.Domain()+"/.well-known/jwks.json", nil)
		if resp, err := s.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Error("server still answers after Close")
		}
	})
}

func TestServer_User(t *testing.T) {
	s := newServer(t)
	s.PutUser(auth0test.User{
		Email:       "frank@example.com",
		AppMetadata: map[string]any{"plan": "free", "n": 3, "tags": []string{"a"}, "nested": map[string]any{"k": "v"}},
	})
	id := auth0test.UserID("frank@example.com")
	u, ok := s.User(id)
	if !ok || u.ID != id {
		t.Fatalf("User = %+v, %v", u, ok)
	}
	if u.AppMetadata["n"] != float64(3) {
		t.Errorf("n = %#v, want float64 3 (as JSON would return it)", u.AppMetadata["n"])
	}
	if len(u.Identities) != 1 || u.Identities[0].Connection != "Username-Password-Authentication" {
		t.Errorf("identities = %+v", u.Identities)
	}
	u.AppMetadata["plan"] = "changed"
	u.AppMetadata["nested"].(map[string]any)["k"] = "changed"
	u.Identities[0].Provider = "changed"
	again, _ := s.User(id)
	if again.AppMetadata["plan"] != "free" || again.AppMetadata["nested"].(map[string]any)["k"] != "v" || again.Identities[0].Provider != "auth0" {
		t.Errorf("User is not a deep copy: %+v", again)
	}
	if _, ok := s.User("auth0|nobody"); ok {
		t.Error("unknown user found")
	}
}

func TestServer_Logout(t *testing.T) {
	s := newServer(t)
	c := browser(t, s.Client())
	logout := "https://" + s.Domain() + "/v2/logout?returnTo="
	resp, err := c.Get(logout + url.QueryEscape("http://localhost:8080/"))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://localhost:8080/" {
		t.Errorf("allowed returnTo: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.Get(logout + url.QueryEscape("https://evil.example/"))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("foreign returnTo: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
