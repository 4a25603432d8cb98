package auth0test_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/management"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/smsbot/smsbot/magiclink/auth0test"
)

// newManagement returns a go-auth0 Management API client for the stand-in.
// The client-credentials token fetch ignores WithClient, so the context
// carries the client that trusts the stand-in's certificate.
func newManagement(t *testing.T, s *auth0test.Server, id, secret string, opts ...management.Option) *management.Management {
	t.Helper()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, s.Client())
	opts = append([]management.Option{
		management.WithClientCredentials(ctx, id, secret),
		management.WithClient(s.Client()),
	}, opts...)
	m, err := management.New(s.Domain(), opts...)
	if err != nil {
		t.Fatalf("management.New: %v", err)
	}
	return m
}

// wantStatus checks that err is a management.Error with the given status.
func wantStatus(t *testing.T, err error, status int) management.Error {
	t.Helper()
	var me management.Error
	if !errors.As(err, &me) {
		t.Fatalf("error = %v (%T), want a management.Error", err, err)
	}
	if me.Status() != status {
		t.Fatalf("status = %d (%v), want %d", me.Status(), me, status)
	}
	return me
}

// setPhone sets app_metadata.phone (nil removes it).
func setPhone(ctx context.Context, m *management.Management, id string, phone any) error {
	return m.User.Update(ctx, id, &management.User{AppMetadata: &map[string]any{"phone": phone}})
}

func TestManagement_User(t *testing.T) {
	s := newServer(t)
	m := newManagement(t, s, mgmtID, mgmtSecret)
	ctx := t.Context()
	id := auth0test.UserID("gina@example.com")
	s.PutUser(auth0test.User{Email: "gina@example.com", AppMetadata: map[string]any{"plan": "free"}})

	t.Run("SetPhone", func(t *testing.T) {
		if err := setPhone(ctx, m, id, "+15551234567"); err != nil {
			t.Fatalf("Update: %v", err)
		}
		u, _ := s.User(id)
		if u.AppMetadata["phone"] != "+15551234567" || u.AppMetadata["plan"] != "free" {
			t.Errorf("app_metadata = %v", u.AppMetadata)
		}
		got, err := m.User.Read(ctx, id)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if got.GetID() != id || got.GetEmail() != "gina@example.com" {
			t.Errorf("user = %s %s", got.GetID(), got.GetEmail())
		}
		if (*got.AppMetadata)["phone"] != "+15551234567" || (*got.AppMetadata)["plan"] != "free" {
			t.Errorf("read app_metadata = %v", *got.AppMetadata)
		}
		if len(got.Identities) != 1 || got.Identities[0].GetProvider() != "auth0" || "auth0|"+got.Identities[0].GetUserID() != id {
			t.Errorf("identities = %+v", got.Identities)
		}
	})

	t.Run("RemovePhone", func(t *testing.T) {
		if err := setPhone(ctx, m, id, nil); err != nil {
			t.Fatalf("Update: %v", err)
		}
		u, _ := s.User(id)
		if _, ok := u.AppMetadata["phone"]; ok || u.AppMetadata["plan"] != "free" {
			t.Errorf("app_metadata = %v", u.AppMetadata)
		}
		got, err := m.User.Read(ctx, id)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if _, ok := got.GetAppMetadata()["phone"]; ok {
			t.Errorf("read app_metadata = %v", got.GetAppMetadata())
		}
	})

	t.Run("EmptyObjectClears", func(t *testing.T) {
		if err := m.User.Update(ctx, id, &management.User{AppMetadata: &map[string]any{}}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if u, _ := s.User(id); len(u.AppMetadata) != 0 {
			t.Errorf("app_metadata = %v", u.AppMetadata)
		}
	})

	t.Run("UnknownUser", func(t *testing.T) {
		_, err := m.User.Read(ctx, "auth0|nobody")
		wantStatus(t, err, http.StatusNotFound)
		err = setPhone(ctx, m, "auth0|nobody", "+15550000000")
		wantStatus(t, err, http.StatusNotFound)
		if _, ok := s.User("auth0|nobody"); ok {
			t.Error("PATCH created a user")
		}
	})

	t.Run("BadBody", func(t *testing.T) {
		err := m.Request(ctx, http.MethodPatch, m.URI("users", id), map[string]any{"favourite_colour": "blue"})
		wantStatus(t, err, http.StatusBadRequest)
		err = m.Request(ctx, http.MethodPatch, m.URI("users", id), map[string]any{"app_metadata": "nope"})
		wantStatus(t, err, http.StatusBadRequest)
	})
}

func TestManagement_Scopes(t *testing.T) {
	s := newServer(t, func(o *auth0test.Options) { o.MgmtScopes = []string{"read:users", "update:users_app_metadata"} })
	ctx := t.Context()
	id := "google-oauth2|1234567890"
	s.PutUser(auth0test.User{ID: id, Email: "hana@example.com", Identities: []auth0test.Identity{{
		Provider: "google-oauth2", Connection: "google-oauth2", UserID: "1234567890",
		AccessToken: "ya29.token", RefreshToken: "1//refresh", ExpiresIn: 3599,
	}}})
	limited := newManagement(t, s, mgmtID, mgmtSecret)

	t.Run("MetadataOnlyScope", func(t *testing.T) {
		if err := setPhone(ctx, limited, id, "+15557654321"); err != nil {
			t.Fatalf("Update app_metadata: %v", err)
		}
		err := limited.User.Update(ctx, id, &management.User{Email: auth0String("new@example.com")})
		me := wantStatus(t, err, http.StatusForbidden)
		if !strings.Contains(me.Error(), "Insufficient scope, expected any of: update:users") {
			t.Errorf("error = %v", me)
		}
		if u, _ := s.User(id); u.Email != "hana@example.com" {
			t.Errorf("email changed to %s", u.Email)
		}
	})

	t.Run("IdPTokensNeedScope", func(t *testing.T) {
		got, err := limited.User.Read(ctx, id)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(got.Identities) != 1 || got.Identities[0].AccessToken != nil || got.Identities[0].RefreshToken != nil {
			t.Errorf("identities without read:user_idp_tokens = %+v", got.Identities)
		}
		if !got.Identities[0].GetIsSocial() {
			t.Error("google identity is not social")
		}
	})

	t.Run("ReadClientNeedsScope", func(t *testing.T) {
		_, err := limited.Client.Read(ctx, appID)
		me := wantStatus(t, err, http.StatusForbidden)
		if !strings.Contains(me.Error(), "read:clients") {
			t.Errorf("error = %v", me)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		s := newServer(t, func(o *auth0test.Options) { o.MgmtScopes = []string{"read:users"} })
		s.PutUser(auth0test.User{ID: id, Email: "hana@example.com"})
		m := newManagement(t, s, mgmtID, mgmtSecret)
		me := wantStatus(t, setPhone(ctx, m, id, "+15550000000"), http.StatusForbidden)
		if !strings.HasSuffix(me.Error(), "Insufficient scope, expected any of: update:users,update:users_app_metadata") {
			t.Errorf("error = %v", me)
		}
		if _, err := m.User.Read(ctx, id); err != nil {
			t.Errorf("Read with read:users: %v", err)
		}
	})

	t.Run("NoScopes", func(t *testing.T) {
		s := newServer(t, func(o *auth0test.Options) { o.MgmtScopes = []string{} })
		s.PutUser(auth0test.User{ID: id, Email: "hana@example.com"})
		err := setPhone(ctx, newManagement(t, s, mgmtID, mgmtSecret), id, "+15550000000")
		wantStatus(t, err, http.StatusForbidden)
		if u, _ := s.User(id); u.AppMetadata["phone"] != nil {
			t.Errorf("forbidden update applied: %v", u.AppMetadata)
		}
	})

	t.Run("IdPTokensWithScope", func(t *testing.T) {
		s := newServer(t) // default scopes include read:user_idp_tokens
		s.PutUser(auth0test.User{ID: id, Email: "hana@example.com", Identities: []auth0test.Identity{{
			Provider: "google-oauth2", Connection: "google-oauth2", UserID: "1234567890",
			AccessToken: "ya29.token", RefreshToken: "1//refresh", ExpiresIn: 3599,
		}}})
		got, err := newManagement(t, s, mgmtID, mgmtSecret).User.Read(ctx, id)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(got.Identities) != 1 || got.Identities[0].GetAccessToken() != "ya29.token" || got.Identities[0].GetRefreshToken() != "1//refresh" {
			t.Errorf("identities = %+v", got.Identities)
		}
	})
}

func auth0String(s string) *string { return &s }

func TestManagement_Credentials(t *testing.T) {
	s := newServer(t)
	s.PutUser(auth0test.User{Email: "ivan@example.com"})
	id := auth0test.UserID("ivan@example.com")

	t.Run("WrongSecret", func(t *testing.T) {
		before := s.MgmtRequests()
		_, err := newManagement(t, s, mgmtID, "wrong", management.WithNoRetries()).User.Read(t.Context(), id)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			t.Fatalf("error = %v (%T), want *oauth2.RetrieveError", err, err)
		}
		if re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "access_denied" {
			t.Errorf("token error = %d %q", re.Response.StatusCode, re.ErrorCode)
		}
		if n := s.MgmtRequests() - before; n != 0 {
			t.Errorf("%d API requests without a token", n)
		}
	})

	t.Run("NoToken", func(t *testing.T) {
		resp, err := s.Client().Get("https://" + s.Domain() + "/api/v2/users/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(readBody(t, resp)), &body); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || body["statusCode"] != float64(401) || body["error"] != "Unauthorized" || body["message"] == "" {
			t.Errorf("got %d %v", resp.StatusCode, body)
		}
	})

	t.Run("AppTokenHasNoAPIAccess", func(t *testing.T) {
		// The web application has no client grant on the Management API.
		_, err := newManagement(t, s, appID, appSecret, management.WithNoRetries()).User.Read(t.Context(), id)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusForbidden {
			t.Fatalf("error = %v, want a 403 from /oauth/token", err)
		}
	})

	t.Run("SharedClient", func(t *testing.T) {
		// With no M2M client configured, the application's credentials work.
		s := newServer(t, func(o *auth0test.Options) { o.MgmtClientID, o.MgmtClientSecret = "", "" })
		s.PutUser(auth0test.User{Email: "ivan@example.com"})
		if _, err := newManagement(t, s, appID, appSecret, management.WithNoRetries()).User.Read(t.Context(), id); err != nil {
			t.Fatalf("Read: %v", err)
		}
	})
}

func TestManagement_ClientsAndGrants(t *testing.T) {
	s := newServer(t)
	m := newManagement(t, s, mgmtID, mgmtSecret)
	ctx := t.Context()

	c, err := m.Client.Read(ctx, appID, management.IncludeFields("callbacks"))
	if err != nil {
		t.Fatalf("Client.Read: %v", err)
	}
	if !slices.Equal(c.GetCallbacks(), []string{callback, otherCallback}) {
		t.Errorf("callbacks = %v", c.GetCallbacks())
	}
	if c.ClientID != nil {
		t.Errorf("fields=callbacks returned client_id %q too", c.GetClientID())
	}
	full, err := m.Client.Read(ctx, appID)
	if err != nil {
		t.Fatalf("Client.Read: %v", err)
	}
	if full.GetClientID() != appID || full.GetName() == "" || len(full.GetCallbacks()) != 2 {
		t.Errorf("client = %s %q %v", full.GetClientID(), full.GetName(), full.GetCallbacks())
	}
	_, err = m.Client.Read(ctx, "no-such-client")
	wantStatus(t, err, http.StatusNotFound)

	grants, err := m.ClientGrant.List(ctx, management.Parameter("client_id", mgmtID))
	if err != nil {
		t.Fatalf("ClientGrant.List: %v", err)
	}
	if len(grants.ClientGrants) != 1 {
		t.Fatalf("grants = %+v", grants.ClientGrants)
	}
	g := grants.ClientGrants[0]
	if g.GetClientID() != mgmtID || g.GetAudience() != "https://"+s.Domain()+"/api/v2/" {
		t.Errorf("grant = %s %s", g.GetClientID(), g.GetAudience())
	}
	if !slices.Equal(g.GetScope(), auth0test.DefaultMgmtScopes()) {
		t.Errorf("scopes = %v", g.GetScope())
	}
	none, err := m.ClientGrant.List(ctx, management.Parameter("client_id", appID))
	if err != nil {
		t.Fatalf("ClientGrant.List: %v", err)
	}
	if len(none.ClientGrants) != 0 {
		t.Errorf("the web app has grants: %+v", none.ClientGrants)
	}

	// Without include_totals the body is a bare array, as in Auth0.
	var bare []map[string]any
	if err := m.Request(ctx, http.MethodGet, m.URI("client-grants")+"?client_id="+mgmtID, &bare); err != nil {
		t.Fatalf("GET client-grants: %v", err)
	}
	if len(bare) != 1 || bare[0]["client_id"] != mgmtID {
		t.Errorf("bare list = %v", bare)
	}
}

func TestManagement_Faults(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	s := newServer(t)
	ctx := t.Context()
	id := auth0test.UserID("jo@example.com")
	s.PutUser(auth0test.User{Email: "jo@example.com"})
	phone := func() any { u, _ := s.User(id); return u.AppMetadata["phone"] }

	t.Run("429Response", func(t *testing.T) {
		fixed := newServer(t, func(o *auth0test.Options) { o.Now = func() time.Time { return clock } })
		fixed.SetFaults(auth0test.Faults{Rate429: 1, ResetAfter: 30 * time.Second})
		cc := clientcredentials.Config{
			ClientID: mgmtID, ClientSecret: mgmtSecret,
			TokenURL:       "https://" + fixed.Domain() + "/oauth/token",
			EndpointParams: map[string][]string{"audience": {"https://" + fixed.Domain() + "/api/v2/"}},
		}
		c := cc.Client(context.WithValue(ctx, oauth2.HTTPClient, fixed.Client()))
		resp, err := c.Get("https://" + fixed.Domain() + "/api/v2/users/" + id)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("status = %d", resp.StatusCode)
		}
		h := resp.Header
		if h.Get("X-RateLimit-Limit") == "" || h.Get("X-RateLimit-Remaining") != "0" ||
			h.Get("X-RateLimit-Reset") != strconv.FormatInt(clock.Add(30*time.Second).Unix(), 10) {
			t.Errorf("rate limit headers = %v", h)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"statusCode": float64(429), "error": "Too Many Requests", "message": "Global limit has been reached"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("body = %v, want %v", got, want)
		}
		if fixed.MgmtRequests() != 1 {
			t.Errorf("MgmtRequests = %d, want 1", fixed.MgmtRequests())
		}
	})

	t.Run("429NoRetries", func(t *testing.T) {
		s.SetFaults(auth0test.Faults{Rate429: 1})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret, management.WithNoRetries())
		before := s.MgmtRequests()
		wantStatus(t, setPhone(ctx, m, id, "+15550000001"), http.StatusTooManyRequests)
		if n := s.MgmtRequests() - before; n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		if phone() != nil {
			t.Errorf("rate-limited update applied")
		}
	})

	t.Run("429DefaultRetries", func(t *testing.T) {
		s.SetFaults(auth0test.Faults{Rate429: 1})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret)
		before := s.MgmtRequests()
		wantStatus(t, setPhone(ctx, m, id, "+15550000002"), http.StatusTooManyRequests)
		if n := s.MgmtRequests() - before; n != 3 {
			t.Errorf("%d requests, want 3 (go-auth0 retries 429 twice)", n)
		}
	})

	t.Run("429RetriedUntilSuccess", func(t *testing.T) {
		s.SetFaults(auth0test.Faults{Rate429: 0.5, Seed: 7})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret, management.WithRetries(10, []int{http.StatusTooManyRequests}))
		before := s.MgmtRequests()
		for i := range 10 {
			p := fmt.Sprintf("+1555000%04d", i)
			if err := setPhone(ctx, m, id, p); err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
			if phone() != p {
				t.Fatalf("phone = %v, want %s", phone(), p)
			}
		}
		if n := s.MgmtRequests() - before; n <= 10 {
			t.Errorf("%d requests for 10 updates: no 429 was injected", n)
		}
	})

	t.Run("500", func(t *testing.T) {
		s.SetFaults(auth0test.Faults{Rate500: 1})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret)
		before := s.MgmtRequests()
		wantStatus(t, setPhone(ctx, m, id, "+15550000003"), http.StatusInternalServerError)
		if n := s.MgmtRequests() - before; n != 1 {
			t.Errorf("%d requests, want 1 (500 is not retried by default)", n)
		}
	})

	t.Run("Drop", func(t *testing.T) {
		s.SetFaults(auth0test.Faults{RateDrop: 1, Seed: 3})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret, management.WithNoRetries())
		applied, lost := 0, 0
		for i := range 20 {
			p := fmt.Sprintf("+1555100%04d", i)
			err := setPhone(ctx, m, id, p)
			if err == nil {
				t.Fatalf("update %d succeeded through a dropped connection", i)
			}
			var me management.Error
			if errors.As(err, &me) {
				t.Fatalf("update %d: got an HTTP response: %v", i, err)
			}
			if phone() == p {
				applied++
			} else {
				lost++
			}
		}
		if applied == 0 || lost == 0 {
			t.Errorf("applied %d, lost %d: want drops both before and after applying", applied, lost)
		}
	})

	t.Run("DropRetried", func(t *testing.T) {
		// go-auth0 backs off 250ms and more after a connection error, so
		// this uses few updates and a low drop rate.
		s.SetFaults(auth0test.Faults{RateDrop: 0.25, Seed: 11})
		defer s.SetFaults(auth0test.Faults{})
		m := newManagement(t, s, mgmtID, mgmtSecret, management.WithRetries(10, []int{http.StatusTooManyRequests}))
		before := s.MgmtRequests()
		for i := range 5 {
			p := fmt.Sprintf("+1555200%04d", i)
			if err := setPhone(ctx, m, id, p); err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
			if phone() != p {
				t.Fatalf("phone = %v, want %s", phone(), p)
			}
		}
		if n := s.MgmtRequests() - before; n <= 5 {
			t.Errorf("%d requests for 5 updates: no connection was dropped", n)
		}
	})
}
