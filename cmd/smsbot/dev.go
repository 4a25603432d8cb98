package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/nest/sdmtest"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/devphone"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

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
	if cfg.TwilioToken == "" {
		cfg.TwilioToken = devAuthToken
	}
	cfg.TwilioSID, cfg.TwilioFrom, cfg.TwilioService = devAccountSID, devBotNumber, ""
	d := &devMode{}
	d.twilio = twiliotest.New(twiliotest.Options{AccountSID: cfg.TwilioSID, AuthToken: cfg.TwilioToken, Numbers: []string{cfg.TwilioFrom}, DeliverStatus: true})
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
		WebhookURL: fmt.Sprintf("http://127.0.0.1:%d/webhooks/twilio/sms", addr.Port),
		SignURL:    cfg.PublicURL + webhooks.PathSMS,
		AuthToken:  cfg.TwilioToken,
		AccountSID: cfg.TwilioSID,
		BotNumber:  cfg.TwilioFrom,
		Logger:     log.With("component", "devphone"),
	})
	return d, nil
}

// authorizeURL is where browsers log in: in dev mode the stand-in's page
// on the bot's own origin (no certificate warning), else Auth0's.
func (d *devMode) authorizeURL(cfg *config) string {
	if d == nil {
		return ""
	}
	return cfg.PublicURL + "/dev/auth0/authorize"
}

func (d *devMode) mount(r chi.Router) {
	r.Mount("/dev/auth0", http.StripPrefix("/dev/auth0", d.auth0))
	r.Mount("/dev", d.phone.Handler())
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
