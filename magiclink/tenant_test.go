package magiclink_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
)

func TestTenant(t *testing.T) {
	ctx := context.Background()
	const cb = "https://bot.example.com/auth/callback"
	a, err := auth0test.New(auth0test.Options{ClientID: "cid", ClientSecret: "csecret", CallbackURLs: []string{cb}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	tn := magiclink.NewTenant(magiclink.TenantConfig{Domain: a.Domain(), MgmtClientID: "cid", MgmtSecret: "csecret", HTTPClient: a.Client()})

	if n, err := tn.SigningKeys(ctx); err != nil || n == 0 {
		t.Fatalf("signing keys: %d %v", n, err)
	}
	if err := tn.CheckLogin(ctx, "cid", "csecret", cb); err != nil {
		t.Fatalf("right login credentials: %v", err)
	}
	var ae *magiclink.AuthError
	if err := tn.CheckLogin(ctx, "cid", "wrong", cb); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := tn.ManagementToken(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := tn.Callbacks(ctx, "cid"); err != nil || !slices.Contains(got, cb) {
		t.Fatalf("callbacks: %v %v", got, err)
	}
	if got, err := tn.ManagementScopes(ctx); err != nil || !slices.Contains(got, "read:users") {
		t.Fatalf("scopes: %v %v", got, err)
	}
	if _, err := tn.Callbacks(ctx, "nope"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("unknown application: %v", err)
	}
	if n := a.TokenRequests(); n != 1 {
		t.Fatalf("%d Management API tokens for one Tenant, want 1", n)
	}

	bad := magiclink.NewTenant(magiclink.TenantConfig{Domain: a.Domain(), MgmtClientID: "cid", MgmtSecret: "wrong", HTTPClient: a.Client()})
	if err := bad.ManagementToken(ctx); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("wrong management secret: %v", err)
	}
}
