package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/nest/sdmtest"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/devphone"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// devAddr is where dev mode listens unless SMSBOT_ADDR or --addr says
// otherwise: loopback, since the Dev Phone texts as any number, shows
// every conversation and logs in as anyone.
const devAddr = "127.0.0.1:8080"

// useMode marks the database with the mode that opens it. Dev mode first
// checks that it stays local: a loopback public URL, and a database that
// production has never used.
func useMode(ctx context.Context, cfg *config, db database) error {
	if !cfg.Dev {
		if err := db.UseMode(ctx, store.ModeProduction); errors.Is(err, store.ErrDevDatabase) {
			return usageError{fmt.Errorf("%s: %w", cfg.DB, err)}
		} else if err != nil {
			return err
		}
		return nil
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || !loopbackHost(u.Hostname()) {
		return usageError{fmt.Errorf("dev mode: public URL %q is not on loopback; dev mode serves only http://localhost", cfg.PublicURL)}
	}
	if err := db.UseMode(ctx, store.ModeDev); err != nil {
		if errors.Is(err, store.ErrWrongMode) {
			return usageError{fmt.Errorf("dev mode: %s: %w", cfg.DB, err)}
		}
		return err
	}
	return nil
}

// loopbackHost reports whether host (without port or brackets) is a
// loopback name: localhost, 127.0.0.1 or ::1.
func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// loopbackOnly answers 403 to requests whose Host is not a loopback name,
// so that a page on another site cannot reach a dev-mode server through
// DNS rebinding (its requests carry its own host name).
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = strings.Trim(r.Host, "[]")
		}
		if !loopbackHost(host) {
			http.Error(w, "dev mode answers only to localhost, 127.0.0.1 and [::1]", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// devMode runs the local stand-ins of Twilio and Auth0 on loopback and the
// Dev Phone. Production mode never builds it.
type devMode struct {
	twilio *twiliotest.Server
	auth0  *auth0test.Server
	phone  *devphone.Phone
	sdm    *sdmtest.Server
}

// startDev starts the stand-ins and points cfg at them.
func startDev(cfg *config, log *slog.Logger, addr *net.TCPAddr) (*devMode, error) {
	if !addr.IP.IsLoopback() {
		log.Warn("DEV MODE LISTENS BEYOND LOOPBACK: anyone who reaches "+addr.String()+" can text as any number, read every conversation and log in as anyone; use 127.0.0.1 unless this is a closed network", "addr", addr.String())
	}
	if cfg.TwilioToken == "" {
		cfg.TwilioToken = devAuthToken
	}
	cfg.TwilioSID, cfg.TwilioFrom, cfg.TwilioService, cfg.TextNumber = devAccountSID, devBotNumber, "", ""
	contents, err := devWhatsApp(cfg)
	if err != nil {
		return nil, err
	}
	d := &devMode{}
	d.twilio = twiliotest.New(twiliotest.Options{AccountSID: cfg.TwilioSID, AuthToken: cfg.TwilioToken, Numbers: []string{cfg.TwilioFrom}, DeliverStatus: true,
		WhatsApp: []string{cfg.WhatsAppFrom}, Contents: contents})
	if err := d.twilio.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("dev: twilio stand-in: %w", err)
	}
	cfg.TwilioAPIURL = d.twilio.URL()
	if err := d.startSDM(cfg); err != nil {
		d.close()
		return nil, err
	}

	a, err := auth0test.New(auth0test.Options{
		ClientID:     devClientID,
		ClientSecret: devSecret,
		CallbackURLs: []string{cfg.PublicURL + magiclink.PathCallback},
		OnNewUser:    d.googleIdentity,
	})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("dev: auth0 stand-in: %w", err)
	}
	d.auth0 = a
	if err := a.Start("127.0.0.1:0"); err != nil {
		d.close()
		return nil, fmt.Errorf("dev: auth0 stand-in: %w", err)
	}
	cfg.Auth0Domain, cfg.Auth0ClientID, cfg.Auth0Secret = a.Domain(), devClientID, devSecret
	cfg.Auth0MgmtID, cfg.Auth0MgmtSecret = devClientID, devSecret

	d.phone = devphone.New(devphone.Options{
		Twilio:     d.twilio,
		WebhookURL: "http://" + dialable(addr) + webhooks.PathSMS,
		SignURL:    cfg.PublicURL + webhooks.PathSMS,
		AuthToken:  cfg.TwilioToken,
		AccountSID: cfg.TwilioSID,
		BotNumber:  cfg.TwilioFrom,
		WebLinkURL: cfg.PublicURL + magiclink.PathWebLink,
		Logger:     log.With("component", "devphone"),

		WhatsAppNumber: cfg.WhatsAppFrom,
	})
	return d, nil
}

// dialable is where this process reaches its own listener: 127.0.0.1
// when it listens on every address, else the address it listens on.
func dialable(addr *net.TCPAddr) string {
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// authorizeURL is where browsers log in: in dev mode the stand-in's page
// on the bot's own origin (no certificate warning), else Auth0's.
func (d *devMode) authorizeURL(cfg *config) string {
	if d == nil {
		return ""
	}
	return cfg.PublicURL + "/dev/auth0/authorize"
}

// mount serves the Dev Phone and the Auth0 stand-in's login page,
// refusing cross-site writes (Sec-Fetch-Site, else Origin against Host).
// routes puts the whole server behind loopbackOnly in dev mode.
func (d *devMode) mount(r chi.Router) {
	cop := http.NewCrossOriginProtection()
	r.Mount("/dev/auth0", cop.Handler(http.StripPrefix("/dev/auth0", d.auth0)))
	r.Mount("/dev", cop.Handler(d.phone.Handler()))
}

func (d *devMode) banner(w io.Writer, cfg *config) {
	fmt.Fprintf(w, "dev mode: open %s/dev to text the bot (bot number %s)\n", cfg.PublicURL, cfg.TwilioFrom)
	fmt.Fprintf(w, "dev mode: Twilio stand-in at %s, Auth0 stand-in at https://%s\n", cfg.TwilioAPIURL, cfg.Auth0Domain)
	if cfg.TwilioToken == devAuthToken {
		fmt.Fprintf(w, "dev mode: webhook auth token %q (set TWILIO_AUTH_TOKEN to choose another)\n", devAuthToken)
	} else {
		fmt.Fprintln(w, "dev mode: webhook auth token from TWILIO_AUTH_TOKEN (not shown)")
	}
}

func (d *devMode) close() {
	if d.twilio != nil {
		d.twilio.Close()
	}
	if d.auth0 != nil {
		d.auth0.Close()
	}
	if d.sdm != nil {
		d.sdm.Close()
	}
}
