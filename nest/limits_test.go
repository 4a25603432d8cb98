package nest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
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
