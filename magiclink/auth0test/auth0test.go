// Package auth0test is a local stand-in for the parts of Auth0 that smsbot
// uses: the browser-facing /authorize login page, the /oauth/token endpoint
// (authorization code with PKCE, client credentials), the JWKS and discovery
// documents, and the few Management API v2 routes that read and update users,
// clients and client grants.
//
// It speaks the documented wire formats closely enough that the real
// go-auth0 clients (authentication.New and management.New) work against it
// unchanged, over TLS with a throw-away certificate from internal/devtls.
// Dev mode runs it inside the real binary so that a person without an Auth0
// account can log in with any email address; tests use it to exercise the
// login and app_metadata code paths end to end, including rate limits and
// dropped connections (see Faults).
//
// Nothing in production mode uses this package.
package auth0test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/smsbot/smsbot/internal/devtls"
)

// DefaultMgmtScopes returns the Management API scopes granted to the
// machine-to-machine client when Options.MgmtScopes is nil.
func DefaultMgmtScopes() []string {
	return []string{
		"read:users",
		"update:users",
		"update:users_app_metadata",
		"read:user_idp_tokens",
		"read:clients",
		"read:client_grants",
	}
}

// Options configures a Server.
type Options struct {
	// ClientID and ClientSecret identify the regular web application that
	// logs people in. Both are required.
	ClientID, ClientSecret string
	// MgmtClientID and MgmtClientSecret identify the machine-to-machine
	// application that calls the Management API. Each one left empty takes
	// the application's value.
	MgmtClientID, MgmtClientSecret string
	// MgmtScopes are the Management API scopes granted to the M2M client.
	// Nil means DefaultMgmtScopes(); an empty non-nil slice grants access to
	// the API with no scopes at all.
	MgmtScopes []string
	// CallbackURLs are the allowed redirect_uri values (exact match), the
	// application's "Allowed Callback URLs".
	CallbackURLs []string
	// Now returns the current time. Nil means time.Now. Authorization codes,
	// access tokens and rate-limit resets use it; note that go-auth0 checks
	// the ID token's iat and exp against the real clock.
	Now func() time.Time
	// OnNewUser, when set, may change a user created by a first login on
	// the login page before it is stored, for example to link a
	// google-oauth2 identity with IdP tokens. It runs with the Server's
	// lock held and must not call the Server's methods.
	OnNewUser func(*User)
}

// Server is a local stand-in for an Auth0 tenant. Its zero value is not
// usable; call New. All methods are safe for concurrent use.
type Server struct {
	now     func() time.Time
	key     *rsa.PrivateKey
	kid     string
	cert    *devtls.Cert
	clients map[string]*client // immutable after New
	appID   string
	mgmtID  string
	mux     *http.ServeMux
	api     *http.ServeMux

	mu       sync.Mutex
	domain   string
	srv      *http.Server
	served   chan struct{} // closed when srv.Serve returns
	users    map[string]*record
	codes    map[string]authCode
	faults   Faults
	rng      *mrand.Rand
	mgmtSeen int
	ccTokens int // client_credentials token requests

	onNewUser func(*User)
}

// client is one application registered in the tenant.
type client struct {
	id, secret, name, appType string
	callbacks                 []string
	grantTypes                []string
	// apiScopes is the client grant on the Management API; nil means the
	// client has no grant at all.
	apiScopes []string
}

// New returns a Server for the given options, with a fresh 2048-bit RSA
// signing key and a TLS certificate. Call Start to serve it.
func New(o Options) (*Server, error) {
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("auth0test: client id and secret are required")
	}
	for _, cb := range o.CallbackURLs {
		u, err := url.Parse(cb)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return nil, fmt.Errorf("auth0test: callback url %q: must be an absolute http(s) url without a fragment", cb)
		}
	}
	mgmtID, mgmtSecret := o.MgmtClientID, o.MgmtClientSecret
	if mgmtID == "" {
		mgmtID = o.ClientID
	}
	if mgmtSecret == "" {
		mgmtSecret = o.ClientSecret
	}
	if mgmtID == o.ClientID && mgmtSecret != o.ClientSecret {
		return nil, errors.New("auth0test: management client has the application's id but a different secret")
	}
	scopes := o.MgmtScopes
	if scopes == nil {
		scopes = DefaultMgmtScopes()
	}
	scopes = append([]string{}, scopes...) // a copy, and non-nil: the grant exists

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("auth0test: signing key: %w", err)
	}
	cert, err := devtls.New()
	if err != nil {
		return nil, fmt.Errorf("auth0test: certificate: %w", err)
	}

	app := &client{
		id:         o.ClientID,
		secret:     o.ClientSecret,
		name:       "smsbot (local stand-in)",
		appType:    "regular_web",
		callbacks:  slices.Clone(o.CallbackURLs),
		grantTypes: []string{"authorization_code", "implicit", "refresh_token"},
	}
	clients := map[string]*client{app.id: app}
	if mgmtID == app.id {
		app.apiScopes = scopes
		app.grantTypes = append(app.grantTypes, "client_credentials")
	} else {
		clients[mgmtID] = &client{
			id:         mgmtID,
			secret:     mgmtSecret,
			name:       "smsbot management (local stand-in)",
			appType:    "non_interactive",
			grantTypes: []string{"client_credentials"},
			apiScopes:  scopes,
		}
	}

	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		now:     now,
		key:     key,
		kid:     thumbprint(&key.PublicKey),
		cert:    cert,
		clients: clients,
		appID:   app.id,
		mgmtID:  mgmtID,
		users:   make(map[string]*record),
		codes:   make(map[string]authCode),
		rng:     mrand.New(mrand.NewPCG(0, 0)),

		onNewUser: o.OnNewUser,
	}
	s.routes()
	return s, nil
}

// routes registers every endpoint. The browser-facing ones (/authorize,
// static/, /v2/logout) only use relative links so that they also work
// mounted under a prefix with http.StripPrefix.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /authorize", s.handleAuthorizeGet)
	s.mux.HandleFunc("POST /authorize", s.handleAuthorizePost)
	s.mux.HandleFunc("GET /static/login.css", s.handleCSS)
	s.mux.HandleFunc("GET /v2/logout", s.handleLogout)
	s.mux.HandleFunc("POST /oauth/token", s.handleToken)
	s.mux.HandleFunc("GET /userinfo", s.handleUserinfo)
	s.mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	s.mux.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
	s.mux.HandleFunc("/api/v2/", s.handleAPI)

	s.api = http.NewServeMux()
	s.api.HandleFunc("GET /api/v2/users/{id}", s.handleUserRead)
	s.api.HandleFunc("PATCH /api/v2/users/{id}", s.handleUserUpdate)
	s.api.HandleFunc("GET /api/v2/clients/{id}", s.handleClientRead)
	s.api.HandleFunc("GET /api/v2/client-grants", s.handleClientGrants)
	s.api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mgmtError(w, http.StatusNotFound, "", "Not Found")
	})
}

// Start serves s over TLS on addr (for example "127.0.0.1:0") until Close.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("auth0test: already started")
	}
	ln, err := s.cert.Listen(addr)
	if err != nil {
		return fmt.Errorf("auth0test: start: %w", err)
	}
	s.domain = ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func(srv *http.Server, ln net.Listener, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln) // always returns an error; ErrServerClosed after Close
	}(s.srv, ln, s.served)
	return nil
}

// Domain returns the host:port that s serves on, for example
// "127.0.0.1:43127": the domain to give go-auth0. The issuer is
// "https://" + Domain() + "/". It is empty before Start.
func (s *Server) Domain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.domain
}

// CertPEM returns the PEM-encoded TLS certificate that s presents.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.cert.PEM...) }

// Client returns a new HTTP client that trusts s's certificate. Each call
// returns a distinct client, because go-auth0 wraps the Transport of the
// client it is given in place.
func (s *Server) Client() *http.Client { return s.cert.Client() }

// Close stops serving and closes open connections. It is safe to call more
// than once and on a Server that was never started.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, done := s.srv, s.served
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	if err != nil {
		return fmt.Errorf("auth0test: close: %w", err)
	}
	return nil
}

// ServeHTTP serves every endpoint. The login pages also work when s is
// mounted under a prefix, for example http.StripPrefix("/dev/auth0", s) on a
// plain-HTTP dev server; the token, JWKS and API endpoints are meant to be
// reached at Domain() over TLS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down() {
		http.Error(w, "auth0test: the tenant is down", http.StatusServiceUnavailable)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// down reports whether Faults.Down is set.
func (s *Server) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Down
}

// issuer returns the tenant's issuer URL, "https://" + Domain() + "/".
// Before Start it falls back to the request's host, which keeps the handler
// usable behind httptest.NewTLSServer.
func (s *Server) issuer(r *http.Request) string {
	d := s.Domain()
	if d == "" {
		d = r.Host
	}
	return "https://" + d + "/"
}

// apiAudience returns the Management API identifier for the tenant.
func (s *Server) apiAudience(r *http.Request) string { return s.issuer(r) + "api/v2/" }

// thumbprint returns the RFC 7638 JWK thumbprint of k, used as its kid.
func thumbprint(k *rsa.PublicKey) string {
	j := fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(big.NewInt(int64(k.E)).Bytes()), b64(k.N.Bytes()))
	sum := sha256.Sum256([]byte(j))
	return b64(sum[:])
}

// b64 is unpadded base64url, as JOSE uses.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return b64(b)
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
