package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/nest"
	"github.com/smsbot/smsbot/nest/sdmtest"
)

// nestConfig is the Google side of the thermostat commands.
type nestConfig struct {
	Project      string // SDM_PROJECT_ID: the Device Access project; empty turns the commands off
	ClientID     string // GOOGLE_CLIENT_ID: the OAuth client of Auth0's google-oauth2 connection
	ClientSecret string // GOOGLE_CLIENT_SECRET
	APIURL       string // SDM_API_URL
	TokenURL     string // GOOGLE_TOKEN_URL
}

// Dev mode's Google project and OAuth client, known only to the SDM stand-in.
const (
	devSDMProject   = "smsbot-dev-project"
	devGoogleClient = "smsbot-dev.apps.googleusercontent.com"
	devGoogleSecret = "smsbot-dev-google-secret"
)

// check lists what is missing once SDM_PROJECT_ID turns the commands on.
func (n nestConfig) check() []error {
	if n.Project == "" {
		return nil
	}
	var errs []error
	if n.ClientID == "" {
		errs = append(errs, errors.New("GOOGLE_CLIENT_ID is not set (needed with SDM_PROJECT_ID)"))
	}
	if n.ClientSecret == "" {
		errs = append(errs, errors.New("GOOGLE_CLIENT_SECRET is not set (needed with SDM_PROJECT_ID)"))
	}
	return errs
}

// newNestPlugin builds the thermostat commands, or returns nil when they
// are off. Google's access tokens come from the users' Auth0 identities;
// lim keeps the per-user limits.
func newNestPlugin(cfg *config, dir *magiclink.Directory, hc *http.Client, dev *devMode, lim bot.Limiter, log *slog.Logger) bot.Plugin {
	n := cfg.Nest
	if n.Project == "" {
		return nil
	}
	if dev != nil && dev.sdm != nil {
		hc = dev.sdm.Client()
	}
	log = log.With("component", "nest")
	return &nest.Plugin{
		Client:  &nest.Client{BaseURL: n.APIURL, HTTPClient: hc},
		Project: n.Project,
		Limiter: lim,
		Logger:  log,
		Auth: &nest.Auth{
			Tokens:       dir,
			ClientID:     n.ClientID,
			ClientSecret: n.ClientSecret,
			TokenURL:     n.TokenURL,
			HTTPClient:   hc,
		},
	}
}

// startSDM starts the SDM and Google token stand-in and points cfg at it.
func (d *devMode) startSDM(cfg *config) error {
	s, err := sdmtest.New(sdmtest.Options{Project: devSDMProject, ClientID: devGoogleClient, ClientSecret: devGoogleSecret})
	if err != nil {
		return fmt.Errorf("dev: sdm stand-in: %w", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("dev: sdm stand-in: %w", err)
	}
	d.sdm = s
	cfg.Nest = nestConfig{
		Project: devSDMProject, ClientID: devGoogleClient, ClientSecret: devGoogleSecret,
		APIURL: s.APIURL(), TokenURL: s.TokenURL(),
	}
	return nil
}

// googleIdentity links a Google identity to each new dev user, with tokens
// for two simulated thermostats: Den (Celsius, heating) and Bedroom
// (Fahrenheit, cooling).
func (d *devMode) googleIdentity(u *auth0test.User) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	refresh := "1//dev-" + hex.EncodeToString(b)
	access := d.sdm.AddUser(refresh, devThermostats()...)
	u.Identities = append(u.Identities, auth0test.Identity{
		Provider: magiclink.GoogleProvider, Connection: magiclink.GoogleProvider, UserID: hex.EncodeToString(b[:8]),
		AccessToken: access, RefreshToken: refresh, ExpiresIn: 3600,
	})
}

func devThermostats() []sdmtest.Thermostat {
	return []sdmtest.Thermostat{
		{Room: "Den", Scale: "CELSIUS", Mode: "HEAT", Heat: 20, Cool: 24, EcoHeat: 16, EcoCool: 28, Ambient: 19.5, Humidity: 45},
		{Room: "Bedroom", Scale: "FAHRENHEIT", Mode: "COOL", Heat: 18, Cool: 22.2, EcoHeat: 15, EcoCool: 29, Ambient: 23.9, Humidity: 40},
	}
}
