package magiclink

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

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Tenant checks an Auth0 tenant's configuration for the operator commands
// (doctor): its signing keys, the login application's credentials, the
// Management API client, its scopes and the allowed callbacks. It gets at
// most one Management API token. Errors from Auth0 are *AuthError.
type Tenant struct {
	cfg TenantConfig
	hc  *http.Client

	mu sync.Mutex
	m  *management.Management // built with the first token
}

// TenantConfig says which tenant and which Management API client.
type TenantConfig struct {
	Domain                   string
	MgmtClientID, MgmtSecret string
	HTTPClient               *http.Client // nil: a client with a 10 s timeout
}

// NewTenant builds the checker. It does not call Auth0.
func NewTenant(cfg TenantConfig) *Tenant {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Tenant{cfg: cfg, hc: hc}
}

// AuthError is an error answer from Auth0's Authentication or Management
// API.
type AuthError struct {
	Status  int    // the HTTP status
	Code    string // such as invalid_client, access_denied
	Message string
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (t *Tenant) base() string { return "https://" + t.cfg.Domain }

// SigningKeys returns how many signing keys the tenant publishes at
// /.well-known/jwks.json.
func (t *Tenant) SigningKeys(ctx context.Context) (int, error) {
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := t.call(ctx, http.MethodGet, "/.well-known/jwks.json", nil, &jwks); err != nil {
		return 0, err
	}
	return len(jwks.Keys), nil
}

// CheckLogin tells whether the login application's credentials are
// accepted, by redeeming a made-up authorization code: Auth0 checks the
// client first (401 when wrong), then the code (403 invalid_grant). It
// returns nil when only the code was refused.
func (t *Tenant) CheckLogin(ctx context.Context, clientID, secret, redirectURI string) error {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"code":          {"smsbot-doctor-check"},
		"code_verifier": {strings.Repeat("v", 43)},
		"redirect_uri":  {redirectURI},
	}
	err := t.call(ctx, http.MethodPost, "/oauth/token", form, nil)
	var ae *AuthError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Code == "invalid_grant" {
		return nil
	}
	if err == nil {
		return errors.New("auth0 accepted a made-up authorization code")
	}
	return err
}

// call makes one request to the tenant and decodes a 2xx answer into out,
// or returns an *AuthError.
func (t *Tenant) call(ctx context.Context, method, path string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base()+path, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := t.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Message     string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		return &AuthError{Status: res.StatusCode, Code: e.Error, Message: e.Description + e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// management returns the Management API client, getting the token the
// first time.
func (t *Tenant) management(ctx context.Context) (*management.Management, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m != nil {
		return t.m, nil
	}
	cc := clientcredentials.Config{
		ClientID: t.cfg.MgmtClientID, ClientSecret: t.cfg.MgmtSecret,
		TokenURL:       t.base() + "/oauth/token",
		EndpointParams: url.Values{"audience": {t.base() + "/api/v2/"}},
		AuthStyle:      oauth2.AuthStyleInParams, // one request, the way Auth0 documents it
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.hc))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return nil, &AuthError{Status: re.Response.StatusCode, Code: re.ErrorCode, Message: re.ErrorDescription}
		}
		return nil, err
	}
	m, err := management.New(t.cfg.Domain,
		management.WithStaticToken(tok.AccessToken),
		management.WithClient(t.hc),
		management.WithNoRetries(),
		management.WithNoAuth0ClientInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("auth0 management client: %w", err)
	}
	t.m = m
	return m, nil
}

// ManagementToken gets a Management API token with the client credentials
// grant, as the outbox worker does.
func (t *Tenant) ManagementToken(ctx context.Context) error {
	_, err := t.management(ctx)
	return err
}

// mgmtError turns a go-auth0 Management API error into an *AuthError.
func mgmtError(err error) error {
	var me management.Error
	if errors.As(err, &me) {
		return &AuthError{Status: me.Status(), Message: me.Error()}
	}
	return err
}

// Callbacks returns the Allowed Callback URLs of the application clientID
// (the Management API client needs read:clients).
func (t *Tenant) Callbacks(ctx context.Context, clientID string) ([]string, error) {
	m, err := t.management(ctx)
	if err != nil {
		return nil, err
	}
	app, err := m.Client.Read(ctx, clientID, management.IncludeFields("callbacks"))
	if err != nil {
		return nil, mgmtError(err)
	}
	return app.GetCallbacks(), nil
}

// ManagementScopes returns the scopes granted to the Management API
// client on the Management API (it needs read:client_grants).
func (t *Tenant) ManagementScopes(ctx context.Context) ([]string, error) {
	m, err := t.management(ctx)
	if err != nil {
		return nil, err
	}
	list, err := m.ClientGrant.List(ctx,
		management.Parameter("client_id", t.cfg.MgmtClientID),
		management.Parameter("audience", t.base()+"/api/v2/"))
	if err != nil {
		return nil, mgmtError(err)
	}
	var have []string
	for _, g := range list.ClientGrants {
		if g.GetClientID() == t.cfg.MgmtClientID && g.Scope != nil {
			have = append(have, *g.Scope...)
		}
	}
	return have, nil
}
