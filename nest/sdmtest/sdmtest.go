// Package sdmtest is a local stand-in for Google's Smart Device Management
// API (the device list, device reads and executeCommand for thermostats)
// and for Google's OAuth token endpoint (the refresh_token grant).
//
// Each user is known by a refresh token and owns thermostats of its own;
// the access tokens the stand-in hands out name the user. Commands change
// the thermostats in memory, so a SetHeat is what the next read shows.
// Tests inject faults: offline thermostats, errors such as 429, expired
// access tokens, and slow or held responses. It serves over TLS with a
// throw-away certificate from internal/devtls, like the other stand-ins.
//
// Nothing in production mode uses this package.
package sdmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/internal/devtls"
)

// Options configures a Server.
type Options struct {
	// Project is the Device Access project id: devices live under
	// enterprises/{Project}. Required.
	Project string
	// ClientID and ClientSecret are the only OAuth client the token
	// endpoint accepts. Required.
	ClientID, ClientSecret string
	// TokenTTL is how long access tokens live (default one hour).
	TokenTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Thermostat is one simulated thermostat. Temperatures are Celsius.
type Thermostat struct {
	ID             string   // the device id; New derives one when empty
	Room           string   // parentRelations[0].displayName
	CustomName     string   // Info.customName
	Scale          string   // CELSIUS or FAHRENHEIT (the default)
	Mode           string   // HEAT, COOL, HEATCOOL or OFF
	AvailableModes []string // default HEAT, COOL, HEATCOOL, OFF
	Eco            bool     // ThermostatEco MANUAL_ECO
	EcoHeat        float64
	EcoCool        float64
	Heat, Cool     float64 // setpoints
	Ambient        float64
	Humidity       float64
	Offline        bool
}

// Counts are the requests the stand-in received, faults included.
type Counts struct {
	List, Get, Command, Token int
}

// Server is the SDM and token endpoint stand-in. All methods are safe for
// concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	cert *devtls.Cert

	ctx    context.Context // ended by Close: releases held requests
	cancel context.CancelFunc

	mu       sync.Mutex
	users    map[string]*user // by refresh token
	access   map[string]accessToken
	nextID   int
	counts   Counts
	fail     []int // statuses for the next API requests
	latency  time.Duration
	hold     chan struct{} // non-nil: API requests wait until it is closed
	srv      *http.Server
	served   chan struct{}
	url      string
	closed   bool
	received chan struct{} // signalled when a request starts waiting in Hold
}

type user struct {
	refresh     string
	revoked     bool
	thermostats []*Thermostat
}

type accessToken struct {
	user    *user
	expires time.Time
}

// New returns a Server; call Start to serve it.
func New(o Options) (*Server, error) {
	if o.Project == "" || o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("sdmtest: project, client id and client secret are required")
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	cert, err := devtls.New()
	if err != nil {
		return nil, fmt.Errorf("sdmtest: %w", err)
	}
	s := &Server{
		opts:     o,
		now:      o.Now,
		cert:     cert,
		users:    make(map[string]*user),
		access:   make(map[string]accessToken),
		received: make(chan struct{}, 64),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start serves s over TLS on addr (for example "127.0.0.1:0") until Close.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.closed {
		return errors.New("sdmtest: already started or closed")
	}
	ln, err := s.cert.Listen(addr)
	if err != nil {
		return fmt.Errorf("sdmtest: start: %w", err)
	}
	s.url = "https://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func(srv *http.Server, ln net.Listener, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed after Close
	}(s.srv, ln, s.served)
	return nil
}

// URL returns the base URL, such as "https://127.0.0.1:40123"; "" before
// Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// APIURL is the SDM API base URL to configure: URL() + "/v1".
func (s *Server) APIURL() string { return s.URL() + "/v1" }

// TokenURL is the token endpoint to configure: URL() + "/token".
func (s *Server) TokenURL() string { return s.URL() + "/token" }

// CertPEM returns the certificate s presents, PEM-encoded.
func (s *Server) CertPEM() []byte { return append([]byte(nil), s.cert.PEM...) }

// Client returns a new HTTP client that trusts s's certificate.
func (s *Server) Client() *http.Client { return s.cert.Client() }

// Close stops serving and releases held requests. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	srv, done := s.srv, s.served
	s.mu.Unlock()
	s.cancel()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	if err != nil {
		return fmt.Errorf("sdmtest: close: %w", err)
	}
	return nil
}

// AddUser creates a user known by the refresh token, owning the given
// thermostats, and returns a fresh access token for it. Adding a known
// refresh token adds thermostats to that user.
func (s *Server) AddUser(refresh string, ts ...Thermostat) (accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[refresh]
	if !ok {
		u = &user{refresh: refresh}
		s.users[refresh] = u
	}
	for _, t := range ts {
		t := t
		if t.ID == "" {
			s.nextID++
			t.ID = fmt.Sprintf("AVPH%08d", s.nextID)
		}
		if t.Scale == "" {
			t.Scale = "FAHRENHEIT"
		}
		if t.AvailableModes == nil {
			t.AvailableModes = []string{"HEAT", "COOL", "HEATCOOL", "OFF"}
		}
		t.AvailableModes = slices.Clone(t.AvailableModes)
		u.thermostats = append(u.thermostats, &t)
	}
	return s.issue(u)
}

// issue makes an access token for u; s.mu is held.
func (s *Server) issue(u *user) string {
	tok := "ya29.sdmtest-" + random()
	s.access[tok] = accessToken{user: u, expires: s.now().Add(s.opts.TokenTTL)}
	return tok
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Thermostats returns copies of the user's thermostats.
func (s *Server) Thermostats(refresh string) []Thermostat {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[refresh]
	if !ok {
		return nil
	}
	out := make([]Thermostat, len(u.thermostats))
	for i, t := range u.thermostats {
		out[i] = *t
		out[i].AvailableModes = slices.Clone(t.AvailableModes)
	}
	return out
}

// Update changes the user's thermostat with the given id, as if someone
// used the thermostat or the Nest app. It reports whether it exists.
func (s *Server) Update(refresh, id string, fn func(*Thermostat)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[refresh]; ok {
		for _, t := range u.thermostats {
			if t.ID == id {
				fn(t)
				return true
			}
		}
	}
	return false
}

// ExpireAccessTokens ends every access token of the user: the API answers
// them with 401 until the client refreshes.
func (s *Server) ExpireAccessTokens(refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, a := range s.access {
		if a.user.refresh == refresh {
			a.expires = s.now().Add(-time.Second)
			s.access[k] = a
		}
	}
}

// Revoke revokes the user's refresh token (and its access tokens), as when
// the person removes the project's access in their Google account.
func (s *Server) Revoke(refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[refresh]; ok {
		u.revoked = true
	}
	for k, a := range s.access {
		if a.user.refresh == refresh {
			delete(s.access, k)
		}
	}
}

// FailNext makes the next API requests (not the token endpoint) fail, one
// status each, with Google's error body: 429 RESOURCE_EXHAUSTED, 401
// UNAUTHENTICATED, 403 PERMISSION_DENIED, 500 INTERNAL, 503 UNAVAILABLE.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// SetLatency makes every API request wait d before it is answered.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Hold makes API requests wait until release is called (or the client
// gives up, or Close). Waiting reports each held request as it arrives.
func (s *Server) Hold() (waiting <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.hold = ch
	var once sync.Once
	return s.received, func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Requests returns the counts of requests received so far.
func (s *Server) Requests() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// ServeHTTP serves /token and /v1/enterprises/{project}/devices...
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.handleToken(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/enterprises/")
	if !ok {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
		return
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && parts[1] == "devices" && r.Method == http.MethodGet:
		s.count(func(c *Counts) { c.List++ })
		s.api(w, r, parts[0], func(u *user) { s.list(w, parts[0], u) })
	case len(parts) == 3 && parts[1] == "devices":
		id, cmd := parts[2], false
		if before, ok := strings.CutSuffix(id, ":executeCommand"); ok {
			id, cmd = before, true
		}
		switch {
		case cmd && r.Method == http.MethodPost:
			s.count(func(c *Counts) { c.Command++ })
			var body struct {
				Command string         `json:"command"`
				Params  map[string]any `json:"params"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
				apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
				return
			}
			s.api(w, r, parts[0], func(u *user) { s.execute(w, parts[0], u, id, body.Command, body.Params) })
		case !cmd && r.Method == http.MethodGet:
			s.count(func(c *Counts) { c.Get++ })
			s.api(w, r, parts[0], func(u *user) { s.get(w, parts[0], u, id) })
		default:
			apiError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "Method not allowed.")
		}
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
	}
}

func (s *Server) count(fn func(*Counts)) {
	s.mu.Lock()
	fn(&s.counts)
	s.mu.Unlock()
}

// api applies latency, holds and injected faults, checks the bearer token
// and the project, then runs fn with s.mu held.
func (s *Server) api(w http.ResponseWriter, r *http.Request, project string, fn func(*user)) {
	s.mu.Lock()
	latency, hold := s.latency, s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case s.received <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fail) > 0 {
		status := s.fail[0]
		s.fail = s.fail[1:]
		fault(w, status)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, ok := s.access[tok]
	if !ok || !s.now().Before(a.expires) || a.user.revoked {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if project != s.opts.Project {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Enterprise enterprises/"+project+" not found.")
		return
	}
	fn(a.user)
}

// fault writes the error body Google sends with status.
func fault(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		apiError(w, status, "RESOURCE_EXHAUSTED", "Rate limited.")
	case http.StatusUnauthorized:
		apiError(w, status, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
	case http.StatusForbidden:
		apiError(w, status, "PERMISSION_DENIED", "The caller does not have permission")
	case http.StatusServiceUnavailable:
		apiError(w, status, "UNAVAILABLE", "The service is currently unavailable.")
	default:
		apiError(w, status, "INTERNAL", "Internal error encountered.")
	}
}

// apiError writes {"error":{"code","message","status"}}.
func apiError(w http.ResponseWriter, code int, status, message string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": message, "status": status}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
