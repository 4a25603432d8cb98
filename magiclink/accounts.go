package magiclink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"

	"github.com/smsbot/smsbot/bot"
)

var _ bot.Accounts = (*Directory)(nil)

// Directory keeps app_metadata.phone in Auth0 equal to the local binding,
// through the Management API (go-auth0). It implements bot.Accounts.
type Directory struct {
	m *management.Management
}

// DirectoryConfig says how to reach the Management API.
type DirectoryConfig struct {
	Domain       string
	ClientID     string // the machine-to-machine application
	ClientSecret string
	HTTPClient   *http.Client // nil: a client with a 10 s timeout
	Now          func() time.Time
}

// NewDirectory builds the Management API client. It does not call Auth0
// until the first update. go-auth0's own retries are off: the outbox
// retries, honouring X-RateLimit-Reset, without holding a worker.
func NewDirectory(ctx context.Context, c DirectoryConfig) (*Directory, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	if c.HTTPClient != nil {
		cp := *c.HTTPClient
		hc = &cp
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	hc.Transport = &rateLimitTransport{base: base, now: now}
	// The token request ignores WithClient and uses the context's client.
	tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
	m, err := management.New(c.Domain,
		management.WithClientCredentials(tokenCtx, c.ClientID, c.ClientSecret),
		management.WithClient(hc),
		management.WithNoRetries(),
		management.WithNoAuth0ClientInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("auth0 management client: %w", err)
	}
	return &Directory{m: m}, nil
}

// SetPhone sets app_metadata.phone of the user, or removes it when phone is
// "". Auth0 merges app_metadata: other keys are left alone.
func (d *Directory) SetPhone(ctx context.Context, userID, phone string) error {
	var v any
	if phone != "" {
		v = phone
	}
	hold := &retryAfter{}
	ctx = context.WithValue(ctx, retryAfterKey{}, hold)
	err := d.m.User.Update(ctx, userID, &management.User{AppMetadata: &map[string]interface{}{"phone": v}})
	if err == nil {
		return nil
	}
	de := &bot.DeliveryError{Err: bot.MaskErr(fmt.Errorf("auth0 update user: %w", err))}
	var me management.Error
	var op *net.OpError
	switch {
	case errors.As(err, &me):
		de.Code = me.Status()
		switch {
		case me.Status() == http.StatusTooManyRequests:
			de.RetryAfter = hold.get()
		case me.Status() == http.StatusNotFound:
			de.Permanent = true // the user was deleted in Auth0: nothing to update
		case me.Status() == http.StatusUnauthorized || me.Status() == http.StatusForbidden:
			de.BadSender, de.Permanent = true, true // credentials or scopes: an operator must act
		case me.Status() >= 400 && me.Status() < 500:
			de.Permanent = true
		}
	case errors.As(err, &op) && op.Op == "dial":
	default:
		de.Ambiguous = true // harmless: the update is idempotent
	}
	return de
}

type retryAfterKey struct{}

// retryAfter carries the wait a 429 asked for back to SetPhone.
type retryAfter struct {
	mu sync.Mutex
	d  time.Duration
}

func (r *retryAfter) set(d time.Duration) {
	r.mu.Lock()
	r.d = d
	r.mu.Unlock()
}

func (r *retryAfter) get() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d
}

// rateLimitTransport reads X-RateLimit-Reset (unix seconds) from 429
// answers.
type rateLimitTransport struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t *rateLimitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(r)
	if err != nil || res.StatusCode != http.StatusTooManyRequests {
		return res, err
	}
	hold, ok := r.Context().Value(retryAfterKey{}).(*retryAfter)
	if !ok {
		return res, err
	}
	if reset, perr := strconv.ParseInt(res.Header.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
		if d := time.Unix(reset, 0).Sub(t.now()); d > 0 {
			hold.set(d + 500*time.Millisecond)
		}
	}
	return res, err
}
