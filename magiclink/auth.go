package magiclink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auth0/go-auth0/authentication"

	"github.com/smsbot/smsbot/bot"
)

// errLoginUnavailable is what a login gets while Auth0 cannot be reached.
var errLoginUnavailable = errors.New("auth0 is unavailable")

// unavailableMessage is the page shown while Auth0 cannot be reached. The
// link is not used up, so the person can open it again.
const unavailableMessage = "Login is unavailable right now. Try again in a minute: open the link from your text again."

// defaultRetryAfter is how long after a failed attempt to reach Auth0 the
// next one waits.
const defaultRetryAfter = 5 * time.Second

// authClient builds go-auth0's Authentication API client on first use
// (its constructor fetches the tenant's signing keys) and retries a failed
// build no sooner than retryAfter, so that Auth0 being down at startup
// stops nothing but the login.
type authClient struct {
	// ctx outlives each request: go-auth0 keeps its key cache running in a
	// context derived from it.
	ctx   context.Context
	build func(ctx context.Context) (*authentication.Authentication, error)

	mu       sync.Mutex // held while building: one attempt at a time
	auth     *authentication.Authentication
	failedAt time.Time

	// contact is the outcome of the last call to Auth0: 0 none yet, 1
	// answered, -1 unreachable. It is read without waiting for a build.
	contact atomic.Int32
}

func newAuthClient(ctx context.Context, cfg Config) *authClient {
	return &authClient{ctx: ctx, build: func(ctx context.Context) (*authentication.Authentication, error) {
		hc := &http.Client{Timeout: 10 * time.Second}
		if cfg.HTTPClient != nil {
			c := *cfg.HTTPClient // go-auth0 wraps the transport of the client it is given
			hc = &c
		}
		return authentication.New(ctx, cfg.Domain,
			authentication.WithClientID(cfg.ClientID),
			authentication.WithClientSecret(cfg.ClientSecret),
			authentication.WithClient(hc),
			authentication.WithNoAuth0ClientInfo(),
		)
	}}
}

// get returns the client, building it if no attempt failed within the
// last retryAfter. It returns errLoginUnavailable (wrapping the cause of
// a fresh failure) while Auth0 cannot be reached.
func (c *authClient) get(now time.Time, retryAfter time.Duration) (*authentication.Authentication, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auth != nil {
		return c.auth, nil
	}
	if !c.failedAt.IsZero() && now.Sub(c.failedAt) < retryAfter {
		return nil, errLoginUnavailable
	}
	ctx, cancel := context.WithCancel(c.ctx)
	a, err := c.build(ctx)
	if err != nil {
		cancel() // stops the key cache of the failed attempt
		c.failedAt = now
		c.contact.Store(-1)
		return nil, fmt.Errorf("%w: %w", errLoginUnavailable, err)
	}
	context.AfterFunc(c.ctx, cancel) // the key cache ends with the service's context
	c.auth = a
	c.contact.Store(1)
	return a, nil
}

// saw records whether a call to Auth0 got an answer.
func (c *authClient) saw(answered bool) {
	if answered {
		c.contact.Store(1)
		return
	}
	c.contact.Store(-1)
}

// Auth0Reachable reports whether the login's last call to Auth0 (fetching
// its signing keys, or exchanging a code) got an answer; known is false
// until a login first calls Auth0.
func (s *Service) Auth0Reachable() (up, known bool) {
	c := s.auth.contact.Load()
	return c == 1, c != 0
}

// auth0 returns the Authentication API client, or errLoginUnavailable.
func (s *Service) auth0() (*authentication.Authentication, error) {
	retry := s.RetryAfter
	if retry <= 0 {
		retry = defaultRetryAfter
	}
	return s.auth.get(s.now(), retry)
}

// unreachable reports whether err says that Auth0 did not answer, or
// answered that it cannot serve now (429, 5xx), rather than refusing the
// login.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ae *authentication.Error
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode >= 500
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// unavailable shows the "try again in a minute" page (503), its message
// key saying how to try again, and logs why.
func (s *Service) unavailable(w http.ResponseWriter, r *http.Request, key string, err error) {
	s.count("login_unavailable")
	s.logger().WarnContext(r.Context(), "login unavailable: auth0 cannot be reached", "err", err)
	w.Header().Set("Retry-After", "60")
	s.render(w, r, http.StatusServiceUnavailable, "error.html", errorPage{Name: s.cfg.Name, Message: s.message(pageLang(r), pageError(bot.EINTERNAL, key, ""))})
}
