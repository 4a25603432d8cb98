package main

import (
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

	warning string // exposed's, when dev mode listens beyond loopback
}

// startDev starts the stand-ins and points cfg at them.
func startDev(cfg *config, log *slog.Logger, addr *net.TCPAddr) (*devMode, error) {
	if cfg.TwilioToken == "" {
		cfg.TwilioToken = devAuthToken
	}
	cfg.TwilioSID, cfg.TwilioFrom, cfg.TwilioService = devAccountSID, devBotNumber, ""
	d := &devMode{warning: exposed(addr)}
	if d.warning != "" {
		log.Warn(d.warning)
	}
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
		WebhookURL: "http://" + dialable(addr) + webhooks.PathSMS,
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

// mount serves the Dev Phone and the Auth0 stand-in's login pages; their
// writes only to same-origin requests.
func (d *devMode) mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(http.NewCrossOriginProtection().Handler)
		r.Mount("/dev/auth0", http.StripPrefix("/dev/auth0", d.auth0))
		r.Mount("/dev", d.phone.Handler())
	})
}

// guard makes the whole server answer only to loopback Host names in dev
// mode: besides the Dev Phone, the webhook takes texts signed with the
// fixed dev token, which any web page could sign. Production is left as
// it is.
func (d *devMode) guard(h http.Handler) http.Handler {
	if d == nil {
		return h
	}
	return loopbackHost(h)
}

// loopbackHost answers 403 to a request whose Host is not localhost,
// 127.0.0.1 or [::1]: a page of another site that points its own name at
// 127.0.0.1 (DNS rebinding) reaches the port, but under its own Host.
func loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		if host != "localhost" && host != "127.0.0.1" && host != "::1" {
			http.Error(w, "dev mode answers on localhost only: open http://localhost:PORT/dev", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// defaultAddr is where serve listens when SMSBOT_ADDR and --addr are not
// given: in dev mode on loopback only, since anyone who reaches the Dev
// Phone can text as any number and log in as anyone.
func defaultAddr(dev bool) string {
	if dev {
		return "127.0.0.1:8080"
	}
	return ":8080"
}

// checkDev lists what dev mode refuses: a public URL that is not on
// loopback (Twilio and browsers elsewhere would be sent to dev mode).
func (c *config) checkDev() []error {
	if c.PublicURL == "" {
		return nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || !isLoopback(u.Hostname()) {
		return []error{fmt.Errorf("SMSBOT_PUBLIC_URL %q: serve --dev runs on this machine only; leave it unset or use http://localhost:PORT", c.PublicURL)}
	}
	return nil
}

// dialable is where this process reaches its own listener.
func dialable(addr *net.TCPAddr) string {
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// exposed is the warning for dev mode listening beyond loopback, or "".
func exposed(addr *net.TCPAddr) string {
	if addr.IP.IsLoopback() {
		return ""
	}
	return fmt.Sprintf("DEV MODE LISTENS ON %s, NOT ONLY ON LOOPBACK: anyone who reaches this port with a localhost Host header can text as any number, read every conversation and log in as anyone; unset SMSBOT_ADDR and --addr to listen on 127.0.0.1 only", addr)
}

func (d *devMode) banner(w io.Writer, cfg *config) {
	if d.warning != "" {
		fmt.Fprintf(w, "\n!!! %s !!!\n\n", d.warning)
	}
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
