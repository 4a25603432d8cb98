package magiclink_test

import (
	"context"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
)

func TestDirectory_GoogleTokens(t *testing.T) {
	ctx := context.Background()
	google := auth0test.Identity{Provider: "google-oauth2", Connection: "google-oauth2", UserID: "1087", AccessToken: "ya29.a", RefreshToken: "1//r"}
	db := auth0test.Identity{Provider: "auth0", Connection: "Username-Password-Authentication", UserID: "abc"}
	tests := []struct {
		name          string
		scopes        []string // nil: the defaults, with read:user_idp_tokens
		user          *auth0test.User
		access, fresh string
		code          string // bot error code wanted; "" none
	}{
		{name: "GoogleUser", user: &auth0test.User{ID: "google-oauth2|1087", Email: "g@example.com", Identities: []auth0test.Identity{google}}, access: "ya29.a", fresh: "1//r"},
		{name: "LinkedGoogle", user: &auth0test.User{ID: "auth0|abc", Email: "l@example.com", Identities: []auth0test.Identity{db, google}}, access: "ya29.a", fresh: "1//r"},
		{name: "NoGoogle", user: &auth0test.User{ID: "auth0|abc", Email: "n@example.com", Identities: []auth0test.Identity{db}}, code: bot.ENOTFOUND},
		{name: "UnknownUser", code: bot.ENOTFOUND},
		{name: "NoIdPTokenScope", scopes: []string{"read:users"}, user: &auth0test.User{ID: "google-oauth2|1087", Email: "g@example.com", Identities: []auth0test.Identity{google}}, code: bot.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := auth0test.New(auth0test.Options{ClientID: "cid", ClientSecret: "csecret", MgmtScopes: tt.scopes})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			id := "auth0|nobody"
			if tt.user != nil {
				a.PutUser(*tt.user)
				id = tt.user.ID
			}
			d, err := magiclink.NewDirectory(ctx, magiclink.DirectoryConfig{Domain: a.Domain(), ClientID: "cid", ClientSecret: "csecret", HTTPClient: a.Client()})
			if err != nil {
				t.Fatal(err)
			}
			access, refresh, err := d.GoogleTokens(ctx, id)
			if bot.ErrorCode(err) != tt.code {
				t.Fatalf("err %v, want code %q", err, tt.code)
			}
			if access != tt.access || refresh != tt.fresh {
				t.Fatalf("tokens %q %q, want %q %q", access, refresh, tt.access, tt.fresh)
			}
		})
	}
}
