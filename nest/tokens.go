package nest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Tokens reads the Google tokens the identity provider keeps for a person
// (Auth0 keeps them on the user's google-oauth2 identity).
type Tokens interface {
	// GoogleTokens returns the access and refresh tokens of the user's
	// Google identity. It returns an ENOTFOUND *bot.Error when the user
	// has no Google identity; the access token may have expired.
	GoogleTokens(ctx context.Context, userID string) (accessToken, refreshToken string, err error)
}

// ErrLinkExpired means Google no longer accepts the person's tokens: they
// must log in with Google again (S).
var ErrLinkExpired = errors.New("nest: google tokens expired or revoked")

// Auth gives access tokens for the SDM API: the one Auth0 keeps at first,
// then ones refreshed at Google's token endpoint with the person's refresh
// token, cached per user until shortly before they expire. It never logs a
// token.
type Auth struct {
	Tokens       Tokens
	ClientID     string // the Google OAuth client of the Auth0 google-oauth2 connection
	ClientSecret string
	TokenURL     string       // default DefaultTokenURL
	HTTPClient   *http.Client // default: 20 s timeout
	Now          func() time.Time
	// Margin is how long before its expiry a token is refreshed (default 1 min).
	Margin time.Duration

	mu    sync.Mutex
	cache map[string]token
}

type token struct {
	access, refresh string
	expires         time.Time // zero: unknown (as read from Auth0)
}

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Auth) margin() time.Duration {
	if a.Margin > 0 {
		return a.Margin
	}
	return time.Minute
}

// Token returns an access token for the user: the cached one while it is
// valid, else a refreshed one, else the one the identity provider keeps.
// It returns ErrLinkExpired when Google refused the refresh token.
func (a *Auth) Token(ctx context.Context, userID string) (string, error) {
	a.mu.Lock()
	t, ok := a.cache[userID]
	a.mu.Unlock()
	if ok && (t.expires.IsZero() || a.now().Add(a.margin()).Before(t.expires)) {
		return t.access, nil
	}
	if ok && t.refresh != "" {
		return a.refresh(ctx, userID, t.refresh)
	}
	access, refresh, err := a.Tokens.GoogleTokens(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("google tokens: %w", err)
	}
	if access == "" {
		if refresh == "" {
			return "", ErrLinkExpired
		}
		return a.refresh(ctx, userID, refresh)
	}
	a.put(userID, token{access: access, refresh: refresh})
	return access, nil
}

// Refresh replaces an access token that Google refused (401) with a new
// one from the refresh token.
func (a *Auth) Refresh(ctx context.Context, userID string) (string, error) {
	a.mu.Lock()
	t, ok := a.cache[userID]
	a.mu.Unlock()
	if !ok || t.refresh == "" {
		_, refresh, err := a.Tokens.GoogleTokens(ctx, userID)
		if err != nil {
			return "", fmt.Errorf("google tokens: %w", err)
		}
		t.refresh = refresh
	}
	if t.refresh == "" {
		a.Forget(userID)
		return "", ErrLinkExpired
	}
	return a.refresh(ctx, userID, t.refresh)
}

// Forget drops the cached tokens of a user.
func (a *Auth) Forget(userID string) {
	a.mu.Lock()
	delete(a.cache, userID)
	a.mu.Unlock()
}

func (a *Auth) put(userID string, t token) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil {
		a.cache = make(map[string]token)
	}
	a.cache[userID] = t
}

// refresh runs the refresh_token grant at Google's token endpoint.
func (a *Auth) refresh(ctx context.Context, userID, refresh string) (string, error) {
	u := a.TokenURL
	if u == "" {
		u = DefaultTokenURL
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refresh},
		"client_id":     {a.ClientID},
		"client_secret": {a.ClientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := a.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	start := a.now()
	res, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("refresh google token: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("refresh google token: %w", err)
	}
	var v struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		Error        string `json:"error"`
	}
	_ = json.Unmarshal(b, &v)
	if res.StatusCode != http.StatusOK || v.AccessToken == "" {
		if v.Error == "invalid_grant" || res.StatusCode == http.StatusUnauthorized {
			// Revoked, expired, or the person removed our access.
			a.Forget(userID)
			return "", ErrLinkExpired
		}
		// Never the body: it may echo what we sent.
		return "", fmt.Errorf("refresh google token: status %d, error %q", res.StatusCode, v.Error)
	}
	t := token{access: v.AccessToken, refresh: refresh}
	if v.RefreshToken != "" {
		t.refresh = v.RefreshToken
	}
	if v.ExpiresIn > 0 {
		t.expires = start.Add(time.Duration(v.ExpiresIn) * time.Second)
	}
	a.put(userID, t)
	return t.access, nil
}

// noGoogle reports whether err says the user has no Google identity.
func noGoogle(err error) bool { return bot.ErrorCode(err) == bot.ENOTFOUND }
