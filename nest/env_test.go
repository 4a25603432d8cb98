package nest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/nest"
	"github.com/smsbot/smsbot/nest/sdmtest"
)

const (
	project      = "proj-123"
	clientID     = "google-client.apps.googleusercontent.com"
	clientSecret = "google-secret-never-logged"
	alice        = "google-oauth2|alice"
	aliceRefresh = "1//alice-refresh"
)

// clock is the time every part of a test shares.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// idp is a hand-written nest.Tokens: the tokens Auth0 would keep.
type idp struct {
	mu     sync.Mutex
	tokens map[string][2]string
	reads  int
}

func (f *idp) GoogleTokens(_ context.Context, userID string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	t, ok := f.tokens[userID]
	if !ok {
		return "", "", bot.Errorf(bot.ENOTFOUND, "no google identity")
	}
	return t[0], t[1], nil
}

func (f *idp) set(userID, access, refresh string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[userID] = [2]string{access, refresh}
}

// env is the plugin against the SDM stand-in over TLS.
type env struct {
	t      *testing.T
	clock  *clock
	sdm    *sdmtest.Server
	idp    *idp
	plugin *nest.Plugin
}

// den is in Celsius and heating; bedroom in Fahrenheit and cooling.
func den() sdmtest.Thermostat {
	return sdmtest.Thermostat{ID: "den", Room: "Den", CustomName: "Hallway", Scale: "CELSIUS", Mode: "HEAT", Heat: 20, Cool: 25, EcoHeat: 16, EcoCool: 28, Ambient: 19.5, Humidity: 45}
}

func bedroom() sdmtest.Thermostat {
	return sdmtest.Thermostat{ID: "bedroom", Room: "Bedroom", Scale: "FAHRENHEIT", Mode: "COOL", Heat: 18, Cool: 22.2, EcoHeat: 15, EcoCool: 29, Ambient: 23.9, Humidity: 40}
}

func newEnv(t *testing.T, ts ...sdmtest.Thermostat) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)}, idp: &idp{tokens: map[string][2]string{}}}
	s, err := sdmtest.New(sdmtest.Options{Project: project, ClientID: clientID, ClientSecret: clientSecret, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.sdm = s
	if ts == nil {
		ts = []sdmtest.Thermostat{den(), bedroom()}
	}
	e.idp.set(alice, s.AddUser(aliceRefresh, ts...), aliceRefresh)
	e.plugin = &nest.Plugin{
		Client:  &nest.Client{BaseURL: s.APIURL(), HTTPClient: s.Client()},
		Project: project,
		Now:     e.clock.Now,
		Auth: &nest.Auth{
			Tokens: e.idp, ClientID: clientID, ClientSecret: clientSecret,
			TokenURL: s.TokenURL(), HTTPClient: s.Client(), Now: e.clock.Now,
		},
	}
	return e
}

// send runs one text through the plugin and returns what the person reads.
func (e *env) send(text string) string {
	e.t.Helper()
	return e.sendAs(alice, text)
}

func (e *env) sendAs(userID, text string) string {
	e.t.Helper()
	reply, handled, err := e.plugin.Handle(context.Background(), bot.Request{Phone: "+15555550100", UserID: userID, Text: text, Words: strings.Fields(text)})
	if !handled {
		e.t.Fatalf("%q not handled", text)
	}
	if err != nil {
		var be *bot.Error
		if !errors.As(err, &be) {
			e.t.Fatalf("%q: internal error %v", text, err)
		}
		return be.Message
	}
	return reply
}

func (e *env) thermostat(id string) sdmtest.Thermostat {
	e.t.Helper()
	for _, th := range e.sdm.Thermostats(aliceRefresh) {
		if th.ID == id {
			return th
		}
	}
	e.t.Fatalf("no thermostat %s", id)
	return sdmtest.Thermostat{}
}

func (e *env) update(id string, fn func(*sdmtest.Thermostat)) {
	e.t.Helper()
	if !e.sdm.Update(aliceRefresh, id, fn) {
		e.t.Fatalf("no thermostat %s", id)
	}
}

func req(text string) bot.Request {
	return bot.Request{Phone: "+15555550100", UserID: alice, Text: text, Words: strings.Fields(text)}
}
