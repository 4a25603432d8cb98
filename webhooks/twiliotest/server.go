// Package twiliotest is a local stand-in for the parts of Twilio's REST API
// (2010-04-01) that smsbot uses: sending and listing Messages (SMS and
// WhatsApp, with WhatsApp's 24-hour window and content templates), fetching
// the Account and configuring IncomingPhoneNumbers; and of the Messaging
// and Content APIs, the WhatsApp senders and template approvals. It speaks Twilio's HTTP API
// closely enough that the real twilio-go client runs against it unchanged
// once a Transport rewrites https://api.twilio.com to the stand-in (see
// Server.Client).
//
// Dev mode runs it in-process; tests use it to check what the bot sent and
// to inject the faults a real network produces (429, 500, hangs, dropped
// connections, messages accepted although the client saw an error or
// before it got its answer, messages stuck in the queue).
//
// Nothing in production mode uses it.
package twiliotest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/internal/devtls"
)

// apiPrefix is the path every 2010-04-01 API resource starts with.
const apiPrefix = "/2010-04-01/Accounts/"

// maxFormBytes bounds the body of a POST to the stand-in.
const maxFormBytes = 1 << 20

// Options configures a Server.
type Options struct {
	// AccountSID is the only account the stand-in knows ("AC" + 32 hex).
	// It is also the HTTP basic auth user name. Requests for any other
	// account get 404 (Twilio error 20404).
	AccountSID string
	// AuthToken is the HTTP basic auth password and the key that signs
	// status callbacks.
	AuthToken string
	// Numbers are the phone numbers (E.164) the account owns. A message's
	// From must be one of them unless a MessagingServiceSid is given.
	Numbers []string
	// MessagingServiceSIDs are the accepted MessagingServiceSid values
	// ("MG..."). Messages sent through one get their From from Numbers.
	MessagingServiceSIDs []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// DeliverStatus makes every accepted message go on to "sent" and then
	// "delivered", and posts those statuses, signed like Twilio signs them,
	// to the message's StatusCallback URL when it has one.
	DeliverStatus bool
	// CallbackClient posts the status callbacks; nil means a client with
	// Twilio's 15 s timeout.
	CallbackClient *http.Client
	// WhatsApp are the account's WhatsApp senders (E.164, without
	// "whatsapp:"); see whatsapp.go.
	WhatsApp []string
	// Contents are the account's content templates, by ContentSid ("HX"
	// + 32 hex), sent with ContentSid and ContentVariables.
	Contents map[string]Content
}

// Server is the Twilio REST API stand-in. It is an http.Handler and can
// also serve itself over TLS on loopback (Start). All methods are safe for
// concurrent use.
type Server struct {
	opts     Options
	now      func() time.Time
	callback *http.Client

	// ctx is canceled by Close; hanging handlers and callback senders
	// watch it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // callback senders

	mu         sync.Mutex
	closed     bool
	messages   []*Message
	bySID      map[string]*Message
	sentPairs  map[[2]string]bool // (To, Body) of accepted messages
	duplicates int
	requests   int
	optedOut   map[string]bool
	numbers    []*number // in Options.Numbers order
	services   map[string]bool
	faults     Faults
	rng        *mathrand.Rand
	feeds      [feedCount]feed
	inbound    map[string]time.Time // address → its last message to us (Inbound)
	failNext   map[string][]int     // address → codes its next messages fail with
	waHooks    map[string]string    // WhatsApp sender → its incoming message URL

	cert    *devtls.Cert
	httpSrv *http.Server
	url     string
}

// New returns a Server for the account described by o. It serves nothing
// until Start is called or it is mounted as an http.Handler.
func New(o Options) *Server {
	s := &Server{
		opts:      o,
		now:       o.Now,
		callback:  o.CallbackClient,
		bySID:     make(map[string]*Message),
		sentPairs: make(map[[2]string]bool),
		optedOut:  make(map[string]bool),
		services:  make(map[string]bool),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.now == nil {
		s.now = time.Now
	}
	if s.callback == nil {
		s.callback = &http.Client{Timeout: 15 * time.Second}
	}
	created := s.now().UTC()
	for _, p := range o.Numbers {
		s.numbers = append(s.numbers, &number{
			sid:         numberSID(o.AccountSID, p),
			phone:       p,
			smsMethod:   http.MethodPost,
			dateCreated: created,
			dateUpdated: created,
		})
	}
	for _, mg := range o.MessagingServiceSIDs {
		s.services[mg] = true
	}
	s.rng = newFaultRand(0)
	return s
}

// Start serves the API over TLS, with a fresh self-signed certificate for
// 127.0.0.1 and localhost, on addr (for example "127.0.0.1:0").
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("twiliotest: start: server closed")
	}
	if s.httpSrv != nil {
		return errors.New("twiliotest: start: already started")
	}
	cert, err := devtls.New()
	if err != nil {
		return fmt.Errorf("twiliotest: start: %w", err)
	}
	ln, err := cert.Listen(addr)
	if err != nil {
		return fmt.Errorf("twiliotest: start: %w", err)
	}
	s.cert = cert
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "https://" + ln.Addr().String()
	go func(srv *http.Server, ln net.Listener) {
		// Serve returns http.ErrServerClosed after Close; nothing to report.
		_ = srv.Serve(ln)
	}(s.httpSrv, ln)
	return nil
}

// URL returns the stand-in's base URL, such as "https://127.0.0.1:43123",
// once Start has succeeded; "" before.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// CertPEM returns the PEM-encoded certificate the stand-in presents after
// Start, for clients that must trust it; nil before.
func (s *Server) CertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil {
		return nil
	}
	return append([]byte(nil), s.cert.PEM...)
}

// Client returns an HTTP client for a started Server: it trusts the
// stand-in's certificate (and nothing else), and its Transport rewrites
// requests for api.twilio.com (or any *.twilio.com host) to the stand-in,
// so it can be a twilio-go client.Client's HTTPClient as is. Like
// twilio-go's default client it does not follow redirects. It returns nil
// before Start.
func (s *Server) Client() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil {
		return nil
	}
	host := strings.TrimPrefix(s.url, "https://")
	base := s.cert.Client()
	return &http.Client{
		Timeout:       base.Timeout,
		Transport:     &rewriteTransport{host: host, next: base.Transport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// rewriteTransport sends requests for Twilio's hosts to the stand-in.
type rewriteTransport struct {
	host string
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h := r.URL.Hostname()
	if h != "twilio.com" && !strings.HasSuffix(h, ".twilio.com") {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme = "https"
	r.URL.Host = t.host
	r.Host = ""
	return t.next.RoundTrip(r)
}

// Close stops serving, releases hanging requests, stops status callbacks,
// waits for the callback senders and closes every subscription channel.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	srv := s.httpSrv
	for i := range s.feeds {
		s.feeds[i].closeAll()
	}
	s.mu.Unlock()

	var err error
	if srv != nil {
		if cerr := srv.Close(); cerr != nil {
			err = fmt.Errorf("twiliotest: close: %w", cerr)
		}
	}
	s.wg.Wait()
	return err
}

// ServeHTTP serves the 2010-04-01 API resources the stand-in knows, and
// the WhatsApp senders and content approvals of whatsapp.go.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveChannels(w, r) {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		notFound(w, r)
		return
	}
	account, resource, _ := strings.Cut(rest, "/")
	if resource == "" {
		// GET /2010-04-01/Accounts/{Sid}.json
		sid, ok := strings.CutSuffix(account, ".json")
		if !ok || strings.Contains(rest, "/") {
			notFound(w, r)
			return
		}
		if !s.authorized(w, r) {
			return
		}
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		if sid != s.opts.AccountSID {
			notFound(w, r)
			return
		}
		s.fetchAccount(w, r)
		return
	}

	isCreate := r.Method == http.MethodPost && resource == "Messages.json"
	if isCreate {
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
	}
	if !s.authorized(w, r) {
		return
	}
	if account != s.opts.AccountSID {
		notFound(w, r)
		return
	}

	switch {
	case resource == "Messages.json":
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			s.createMessage(w, r)
			return
		}
		s.listMessages(w, r)
	case strings.HasPrefix(resource, "Messages/"):
		sid, ok := singleJSON(resource, "Messages/")
		if !ok {
			notFound(w, r)
			return
		}
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		s.fetchMessage(w, r, sid)
	case resource == "IncomingPhoneNumbers.json":
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		s.listNumbers(w, r)
	case strings.HasPrefix(resource, "IncomingPhoneNumbers/"):
		sid, ok := singleJSON(resource, "IncomingPhoneNumbers/")
		if !ok {
			notFound(w, r)
			return
		}
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			s.updateNumber(w, r, sid)
			return
		}
		s.fetchNumber(w, r, sid)
	default:
		notFound(w, r)
	}
}

// singleJSON returns SID from prefix + "SID.json" with no further segments.
func singleJSON(resource, prefix string) (string, bool) {
	sid, ok := strings.CutSuffix(strings.TrimPrefix(resource, prefix), ".json")
	if !ok || sid == "" || strings.Contains(sid, "/") {
		return "", false
	}
	return sid, true
}

// authorized checks HTTP basic auth against the account's credentials and
// answers 401 (Twilio error 20003) when they do not match.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if ok && s.opts.AccountSID != "" && s.opts.AuthToken != "" &&
		subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.AuthToken)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	writeError(w, http.StatusUnauthorized, codeAuthenticate, "Authenticate")
	return false
}

// allowMethods answers 405 (Twilio error 20004) unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method not allowed")
	return false
}

// fetchAccount answers the Account resource.
func (s *Server) fetchAccount(w http.ResponseWriter, _ *http.Request) {
	created := s.now().UTC().Format(time.RFC1123Z)
	sid := s.opts.AccountSID
	base := apiPrefix + sid
	writeJSON(w, http.StatusOK, map[string]any{
		"sid":               sid,
		"owner_account_sid": sid,
		"friendly_name":     "smsbot local stand-in",
		"status":            "active",
		"type":              "Full",
		"date_created":      created,
		"date_updated":      created,
		"uri":               base + ".json",
		"subresource_uris": map[string]string{
			"messages":               base + "/Messages.json",
			"incoming_phone_numbers": base + "/IncomingPhoneNumbers.json",
		},
	})
}

// newSID returns prefix followed by 32 random hex digits, like a Twilio SID.
func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return prefix + hex.EncodeToString(b[:])
}
