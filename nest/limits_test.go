package nest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/nest"
	"github.com/smsbot/smsbot/store"
)

func TestPlugin_Limits(t *testing.T) {
	const gt = "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"
	t.Run("ListCached", func(t *testing.T) {
		e := newEnv(t)
		for range 3 {
			if got := e.send("GT"); got != gt {
				t.Fatalf("GT %q", got)
			}
			e.clock.Advance(5 * time.Second)
		}
		if n := e.sdm.Requests().List; n != 1 {
			t.Fatalf("%d lists for three GTs in 15 s", n)
		}
		e.clock.Advance(30 * time.Second)
		e.send("GT")
		if n := e.sdm.Requests().List; n != 2 {
			t.Fatalf("%d lists after the cache aged", n)
		}
	})
	t.Run("Lists", func(t *testing.T) {
		e := newEnv(t)
		e.plugin.Limits.Fresh = time.Second
		for i := range 5 {
			if got := e.send("GT"); got != gt {
				t.Fatalf("GT %d: %q", i, got)
			}
			e.clock.Advance(2 * time.Second)
		}
		if got := e.send("GT"); got != "Google allows 5 thermostat lists a minute: try again in 50s." {
			t.Fatalf("sixth GT %q", got)
		}
		if n := e.sdm.Requests().List; n != 5 {
			t.Fatalf("%d lists reached Google", n)
		}
		e.clock.Advance(50 * time.Second)
		if got := e.send("GT"); got != gt {
			t.Fatalf("GT after the wait %q", got)
		}
	})
	t.Run("Gets", func(t *testing.T) {
		e := newEnv(t)
		e.plugin.Limits.Fresh = time.Second
		e.send("GT")
		for i := range 10 {
			e.clock.Advance(2 * time.Second)
			if got := e.send("GT den"); !strings.HasPrefix(got, "Den 19.5C") {
				t.Fatalf("GT den %d: %q", i, got)
			}
		}
		e.clock.Advance(2 * time.Second)
		if got := e.send("GT den"); got != "Google allows 10 thermostat reads a minute: try again in 40s." {
			t.Fatalf("eleventh GT den %q", got)
		}
		if n := e.sdm.Requests().Get; n != 10 {
			t.Fatalf("%d reads reached Google", n)
		}
	})
	t.Run("Commands", func(t *testing.T) {
		e := newEnv(t)
		for i := range 10 {
			want := fmt.Sprintf("Den: heat set to %dC", 15+i)
			if got := e.send(fmt.Sprintf("ST den %d", 15+i)); got != want {
				t.Fatalf("ST %d: %q", i, got)
			}
		}
		if got := e.send("ST den 25"); got != "Google allows 10 thermostat changes a minute: try again in 60s." {
			t.Fatalf("eleventh ST %q", got)
		}
		if n := e.sdm.Requests().Command; n != 10 {
			t.Fatalf("%d commands reached Google", n)
		}
		if th := e.thermostat("den"); th.Heat != 24 {
			t.Fatalf("heat %v", th.Heat)
		}
		e.clock.Advance(time.Minute)
		if got := e.send("ST den 25"); got != "Den: heat set to 25C" {
			t.Fatalf("ST after a minute %q", got)
		}
	})
	// After a whole burst, one more a minute: never more than 10 in any
	// minute, however they are spread.
	t.Run("Refill", func(t *testing.T) {
		e := newEnv(t)
		e.plugin.Limits.Gets = 100 // each ST after a change reads its thermostat again
		for i := range 10 {
			e.send(fmt.Sprintf("ST den %d", 15+i))
			e.clock.Advance(5 * time.Second)
		}
		// 50 s after the first: one token back at 60 s, not ten.
		e.clock.Advance(10 * time.Second)
		if got := e.send("ST den 20"); got != "Den: heat set to 20C" {
			t.Fatalf("ST a minute after the first %q", got)
		}
		if got := e.send("ST den 21"); got != "Google allows 10 thermostat changes a minute: try again in 60s." {
			t.Fatalf("a second ST %q", got)
		}
		if n := e.sdm.Requests().Command; n != 11 {
			t.Fatalf("%d commands reached Google, want 11", n)
		}
	})
}

// secondInstance is another plugin, as another smsbot instance has, on
// the same Google stand-in and the same clock.
func (e *env) secondInstance() *nest.Plugin {
	p := e.plugin
	return &nest.Plugin{
		Client: p.Client, Project: p.Project, Now: p.Now,
		Auth: &nest.Auth{
			Tokens: e.idp, ClientID: clientID, ClientSecret: clientSecret,
			TokenURL: p.Auth.TokenURL, HTTPClient: p.Auth.HTTPClient, Now: p.Now,
		},
	}
}

// TestPlugin_SharedLimits: two instances that share the database's
// limiter keep a person within the quota together: 10 changes across
// both, the 11th refused by either; without it, each allows 10.
func TestPlugin_SharedLimits(t *testing.T) {
	e := newEnv(t)
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other := e.secondInstance()
	e.plugin.Limiter, other.Limiter = db, db
	plugins := []*nest.Plugin{e.plugin, other}
	send := func(p *nest.Plugin, text string) string {
		t.Helper()
		reply, _, err := p.Handle(context.Background(), req(text))
		if err != nil {
			return bot.ErrorMessage(err)
		}
		return reply
	}
	for i := range 10 {
		if got := send(plugins[i%2], fmt.Sprintf("ST den %d", 15+i)); !strings.HasSuffix(got, fmt.Sprintf("set to %dC", 15+i)) {
			t.Fatalf("ST %d: %q", i, got)
		}
	}
	for i, p := range plugins {
		if got := send(p, "ST den 25"); got != "Google allows 10 thermostat changes a minute: try again in 60s." {
			t.Fatalf("instance %d, 11th ST: %q", i, got)
		}
	}
	if n := e.sdm.Requests().Command; n != 10 {
		t.Fatalf("%d commands reached Google, want 10", n)
	}
	// Each instance on its own memory would have let 10 more through.
	e.plugin.Limiter, other.Limiter = nil, nil
	if got := send(other, "ST den 25"); got != "Den: heat set to 25C" {
		t.Fatalf("in memory: %q", got)
	}
}

// failingLimiter is a limiter whose database is away.
type failingLimiter struct{}

func (failingLimiter) Take(context.Context, string, bot.Rate, time.Time) (time.Duration, error) {
	return 0, errors.New("database away")
}

// TestPlugin_LimiterDown: a limit that cannot be checked refuses the
// command (an internal error, answered generically) and Google is not
// asked.
func TestPlugin_LimiterDown(t *testing.T) {
	e := newEnv(t)
	e.plugin.Limiter = failingLimiter{}
	_, handled, err := e.plugin.Handle(context.Background(), req("ST den 22"))
	if !handled || bot.ErrorCode(err) != bot.EINTERNAL || !strings.Contains(err.Error(), "database away") {
		t.Fatalf("handled %v, err %v, want an internal error", handled, err)
	}
	if n := e.sdm.Requests(); n.Command != 0 || n.List != 0 {
		t.Fatalf("Google was asked: %+v", n)
	}
}

// A slow SDM: the engine acknowledges the text within PluginTimeout and
// the answer follows as a text through the outbox.
func TestPlugin_SlowThroughEngine(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "bot.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := bot.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	notified := make(chan struct{}, 10)
	eng := &bot.Engine{
		Store: db, Keys: keys, Replies: replies, Name: "smsbot", Limits: bot.DefaultLimits(),
		Plugins: []bot.Plugin{e.plugin}, PluginTimeout: 50 * time.Millisecond,
		Notify: func() { notified <- struct{}{} },
	}
	const phone = "+15555550100"
	err = db.Update(ctx, func(tx bot.Tx) error {
		return tx.SavePhone(ctx, &bot.Phone{Number: phone, State: bot.StateSubscribed, UserID: alice, BoundAt: time.Now(), CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}

	// Quick: the answer is the reply itself.
	res, err := eng.HandleSMS(ctx, bot.Inbound{MessageSID: "SM1", From: phone, Body: "GT den"})
	if err != nil || res.Reply != "Den 19.5C 45% heat 20 heating" {
		t.Fatalf("quick: %+v, %v", res, err)
	}

	// Slow: Google holds the command until released.
	waiting, release := e.sdm.Hold()
	defer release()
	res, err = eng.HandleSMS(ctx, bot.Inbound{MessageSID: "SM2", From: phone, Body: "ST den 22"})
	if err != nil || !strings.Contains(res.Reply, "working on it") {
		t.Fatalf("slow: %+v, %v", res, err)
	}
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the command never reached the stand-in")
	}
	for len(notified) > 0 {
		<-notified
	}
	release()
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("the late answer was never queued")
	}
	j, err := db.Claim(ctx, time.Now().Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if j.Kind != bot.JobSMS || j.To != phone || j.Body != "Den: heat set to 22C" {
		t.Fatalf("queued %+v", j)
	}
	if th := e.thermostat("den"); th.Heat != 22 {
		t.Fatalf("heat %v", th.Heat)
	}
}
