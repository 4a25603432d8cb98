package nest_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/nest"
	"github.com/smsbot/smsbot/nest/sdmtest"
)

func TestAuth_Refresh(t *testing.T) {
	const gt = "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"
	t.Run("ExpiredAtFirstUse", func(t *testing.T) {
		// Auth0 kept an access token that has expired since: Google
		// refuses it, the plugin refreshes once and goes on.
		e := newEnv(t)
		var logs bytes.Buffer
		e.plugin.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		e.sdm.ExpireAccessTokens(aliceRefresh)
		if got := e.send("GT"); got != gt {
			t.Fatalf("GT %q", got)
		}
		if n := e.sdm.Requests(); n.Token != 1 || n.List != 2 {
			t.Fatalf("requests %+v, want 1 refresh and the list twice", n)
		}
		// The refreshed token is cached: no refresh for the next reads.
		e.clock.Advance(time.Minute)
		e.send("GT")
		e.send("ST den 21")
		if n := e.sdm.Requests(); n.Token != 1 {
			t.Fatalf("refreshed again: %+v", n)
		}
		// Shortly before it expires (one hour) it is refreshed before use,
		// without a 401 first.
		e.clock.Advance(time.Hour - 90*time.Second)
		before := e.sdm.Requests()
		if got := e.send("GT den"); got != "Den 19.5C 45% heat 21 heating" {
			t.Fatalf("GT den %q", got)
		}
		if n := e.sdm.Requests(); n.Token != before.Token+1 || n.Get+n.List != before.Get+before.List+1 {
			t.Fatalf("requests %+v, before %+v", n, before)
		}
		for _, secret := range []string{aliceRefresh, clientSecret, "ya29."} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("logs carry %q", secret)
			}
		}
	})
	t.Run("ExpiredLater", func(t *testing.T) {
		e := newEnv(t)
		e.send("GT")
		e.sdm.ExpireAccessTokens(aliceRefresh)
		e.clock.Advance(time.Minute)
		if got := e.send("GT"); got != gt {
			t.Fatalf("GT %q", got)
		}
		if n := e.sdm.Requests(); n.Token != 1 {
			t.Fatalf("requests %+v", n)
		}
	})
	t.Run("NoAccessToken", func(t *testing.T) {
		e := newEnv(t)
		e.idp.set(alice, "", aliceRefresh)
		if got := e.send("GT"); got != gt {
			t.Fatalf("GT %q", got)
		}
		if n := e.sdm.Requests(); n.Token != 1 || n.List != 1 {
			t.Fatalf("requests %+v", n)
		}
	})
	t.Run("RefreshRevoked", func(t *testing.T) {
		e := newEnv(t)
		e.sdm.ExpireAccessTokens(aliceRefresh)
		e.sdm.Revoke(aliceRefresh)
		if got := e.send("GT"); got != "The link to Google expired: send S to link again." {
			t.Fatalf("GT %q", got)
		}
	})
	t.Run("WrongClient", func(t *testing.T) {
		e := newEnv(t)
		e.plugin.Auth.ClientSecret = "wrong"
		e.sdm.ExpireAccessTokens(aliceRefresh)
		_, _, err := e.plugin.Handle(context.Background(), req("GT"))
		if err == nil || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("PerUser", func(t *testing.T) {
		e := newEnv(t)
		bob := "google-oauth2|bob"
		e.idp.set(bob, e.sdm.AddUser("1//bob", sdmtest.Thermostat{ID: "office", Room: "Office", Scale: "CELSIUS", Mode: "OFF", Ambient: 17, Humidity: 50}), "1//bob")
		if got := e.sendAs(bob, "GT"); got != "Office 17C 50% off" {
			t.Fatalf("bob GT %q", got)
		}
		if got := e.send("GT"); got != gt {
			t.Fatalf("alice GT %q", got)
		}
		if got := e.sendAs(bob, "GT den"); got != `No thermostat "den". Yours: Office` {
			t.Fatalf("bob GT den %q", got)
		}
	})
}

func TestAuth_Token(t *testing.T) {
	e := newEnv(t)
	a := &nest.Auth{Tokens: e.idp, ClientID: clientID, ClientSecret: clientSecret, TokenURL: e.sdm.TokenURL(), HTTPClient: e.sdm.Client(), Now: e.clock.Now}
	ctx := context.Background()
	first, err := a.Token(ctx, alice)
	if err != nil || !strings.HasPrefix(first, "ya29.") {
		t.Fatalf("token %q, %v", first, err)
	}
	if again, _ := a.Token(ctx, alice); again != first || e.idp.reads != 1 {
		t.Fatalf("not cached: %q, %d reads", again, e.idp.reads)
	}
	fresh, err := a.Refresh(ctx, alice)
	if err != nil || fresh == first {
		t.Fatalf("refresh %q, %v", fresh, err)
	}
	if again, _ := a.Token(ctx, alice); again != fresh {
		t.Fatalf("after refresh %q", again)
	}
	if _, err := a.Token(ctx, "google-oauth2|nobody"); err == nil {
		t.Fatal("token for a user without Google")
	}
}
