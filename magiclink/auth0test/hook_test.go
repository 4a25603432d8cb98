package auth0test_test

import (
	"strings"
	"testing"

	"github.com/auth0/go-auth0/management"

	"github.com/smsbot/smsbot/magiclink/auth0test"
)

func TestServer_OnNewUser(t *testing.T) {
	calls := 0
	s := newServer(t, func(o *auth0test.Options) {
		o.OnNewUser = func(u *auth0test.User) {
			calls++
			u.Identities = append(u.Identities, auth0test.Identity{
				Provider: "google-oauth2", Connection: "google-oauth2", UserID: "1234",
				AccessToken: "ya29.access-" + u.Email, RefreshToken: "1//refresh-" + u.Email,
			})
			u.ID = "changed|ignored" // the id is the stand-in's to choose
		}
	})
	for range 2 { // the second login finds the user: no second call
		f := newFlow(callback)
		login(t, browser(t, s.Client()), f.authorizeURL("https://"+s.Domain()), f, "hook@example.com")
	}
	if calls != 1 {
		t.Fatalf("OnNewUser ran %d times, want 1", calls)
	}
	id := auth0test.UserID("hook@example.com")
	u, ok := s.User(id)
	if !ok || len(u.Identities) != 2 || u.Identities[1].Provider != "google-oauth2" {
		t.Fatalf("user %+v, %v", u, ok)
	}

	tests := []struct {
		name       string
		scopes     []string
		wantTokens bool
	}{
		{"WithIdPTokenScope", nil, true},
		{"WithoutIdPTokenScope", []string{"read:users"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s
			if tt.scopes != nil {
				s = newServer(t, func(o *auth0test.Options) { o.MgmtScopes = tt.scopes })
				s.PutUser(u)
			}
			m := newManagement(t, s, mgmtID, mgmtSecret, management.WithNoRetries())
			got, err := m.User.Read(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var g *management.UserIdentity
			for _, i := range got.Identities {
				if i.GetProvider() == "google-oauth2" {
					g = i
				}
			}
			if g == nil {
				t.Fatalf("no google identity in %+v", got.Identities)
			}
			has := g.GetAccessToken() == "ya29.access-hook@example.com" && strings.HasPrefix(g.GetRefreshToken(), "1//refresh-")
			if has != tt.wantTokens || (!tt.wantTokens && (g.GetAccessToken() != "" || g.GetRefreshToken() != "")) {
				t.Fatalf("tokens %q %q, want present=%v", g.GetAccessToken(), g.GetRefreshToken(), tt.wantTokens)
			}
		})
	}
}
