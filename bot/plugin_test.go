package bot_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// echo answers "ECHO ..." and fails on "ECHO fail"; "ECHO slow" waits for
// release.
type echo struct {
	release chan struct{}
	seen    chan bot.Request
}

func (echo) Help() string { return "ECHO x = echo" }

func (p echo) Handle(ctx context.Context, req bot.Request) (string, bool, error) {
	if len(req.Words) == 0 || !strings.EqualFold(req.Words[0], "echo") {
		return "", false, nil
	}
	if p.seen != nil {
		p.seen <- req
	}
	switch strings.Join(req.Words[1:], " ") {
	case "fail":
		return "", true, errors.New("thermostat exploded")
	case "nice fail":
		return "", true, bot.Errorf(bot.EINVALID, "den is offline")
	case "slow":
		<-p.release
		return "slow answer", true, nil
	case "slow fail":
		<-p.release
		return "", true, errors.New("thermostat exploded late")
	}
	return "echo: " + strings.Join(req.Words[1:], " "), true, nil
}

func TestEngine_Plugins(t *testing.T) {
	h := newHarness(t)
	p := echo{release: make(chan struct{}), seen: make(chan bot.Request, 10)}
	h.e.Plugins = []bot.Plugin{p}
	h.e.PluginTimeout = 50 * time.Millisecond
	notified := make(chan struct{}, 10)
	h.e.Notify = func() { notified <- struct{}{} }
	slow := 0
	h.e.Hooks.PluginSlow = func() { slow++ }

	// Idle phones never reach plugins.
	if res := h.text(alice, "ECHO hi"); !strings.Contains(res.Reply, "send S") || len(p.seen) != 0 {
		t.Fatalf("idle: %+v", res)
	}
	h.subscribe(alice, acctY)
	h.jobs()
	if res := h.text(alice, "H"); !strings.Contains(res.Reply, "ECHO x = echo") {
		t.Fatalf("help lacks the plugin: %q", res.Reply)
	}
	if res := h.text(alice, "echo hi there"); res.Reply != "echo: hi there" {
		t.Fatalf("echo: %+v", res)
	}
	if req := <-p.seen; req.UserID != acctY.ID || req.Phone != alice {
		t.Fatalf("request %+v", req)
	}
	if res := h.text(alice, "what"); !strings.Contains(res.Reply, "unknown command") {
		t.Fatalf("unhandled: %q", res.Reply)
	}
	if res := h.text(alice, "echo fail"); strings.Contains(res.Reply, "exploded") || !strings.Contains(res.Reply, "went wrong") {
		t.Fatalf("internal error: %q", res.Reply)
	}
	if res := h.text(alice, "echo nice fail"); res.Reply != "den is offline" {
		t.Fatalf("safe error: %q", res.Reply)
	}
	// A slow plugin: the text is acknowledged, the answer follows by outbox.
	for len(notified) > 0 {
		<-notified
	}
	res := h.text(alice, "echo slow")
	if !strings.Contains(res.Reply, "working on it") {
		t.Fatalf("slow: %+v", res)
	}
	close(p.release)
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("late answer never queued")
	}
	if jobs := h.jobs(); len(jobs) != 1 || jobs[0] != "sms "+alice+": slow answer" {
		t.Fatalf("jobs %q", jobs)
	}
	if slow != 1 {
		t.Errorf("PluginSlow reported %d times, want 1", slow)
	}
}

type requestKey struct{}

// contextLog records each message logged with the requestKey value of the
// context it was logged with.
type contextLog struct {
	slog.Handler
	lines chan string
}

func (contextLog) Enabled(context.Context, slog.Level) bool { return true }

func (h contextLog) Handle(ctx context.Context, r slog.Record) error {
	h.lines <- fmt.Sprintf("%s: %v", r.Message, ctx.Value(requestKey{}))
	return nil
}

// A late plugin answer is logged and queued with the request's context
// values (its request id), after the request itself has ended.
func TestEngine_LateAnswerKeepsRequestContext(t *testing.T) {
	h := newHarness(t)
	p := echo{release: make(chan struct{})}
	h.e.Plugins = []bot.Plugin{p}
	h.e.PluginTimeout = 10 * time.Millisecond
	h.subscribe(alice, acctY)
	h.jobs()
	log := contextLog{Handler: slog.DiscardHandler, lines: make(chan string, 10)}
	h.e.Logger = slog.New(log)
	notified := make(chan struct{}, 10)
	h.e.Notify = func() { notified <- struct{}{} }

	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), requestKey{}, "req-7"))
	res, err := h.e.HandleSMS(ctx, bot.Inbound{MessageSID: "SMlate", From: alice, Body: "echo slow fail"})
	if err != nil || !strings.Contains(res.Reply, "working on it") {
		t.Fatalf("slow: %+v %v", res, err)
	}
	cancel() // the webhook has answered
	close(p.release)
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("late answer never queued")
	}
	select { // logged before the answer was queued
	case got := <-log.lines:
		if got != "command failed: req-7" {
			t.Errorf("late failure logged as %q", got)
		}
	default:
		t.Error("the late failure was not logged")
	}
	if jobs := h.jobs(); len(jobs) != 1 || !strings.Contains(jobs[0], "went wrong") {
		t.Fatalf("jobs %q", jobs)
	}
}

// Every committed transition reaches Hooks.Transition once, including one
// made by expiry in a turn that goes on to a plugin, and a retried
// transaction is not counted twice.
func TestEngine_HooksTransition(t *testing.T) {
	h := newHarness(t)
	h.e.Plugins = []bot.Plugin{echo{}}
	var got []string
	h.e.Hooks.Transition = func(from, to string) { got = append(got, from+">"+to) }
	var limits []bot.Limit
	h.e.Hooks.LimitHit = func(l bot.Limit) { limits = append(limits, l) }
	h.subscribe(alice, acctY)
	h.subscribeStart(alice) // subscribed > awaiting_login, the binding kept
	h.advance(h.e.Limits.LinkTTL)
	if res := h.text(alice, "echo hi"); res.Reply != "echo: hi" {
		t.Fatalf("echo after expiry: %+v", res)
	}
	want := []string{
		"idle>awaiting_login", "awaiting_login>awaiting_code", "awaiting_code>subscribed",
		"subscribed>awaiting_login", "awaiting_login>subscribed",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("transitions\n got %q\nwant %q", got, want)
	}
	for range h.e.Limits.LinksPerHour + 1 { // the last is refused
		h.text(bob, "S")
	}
	if len(limits) != 1 || limits[0] != bot.LimitLinks {
		t.Errorf("limits hit %q, want one %q", limits, bot.LimitLinks)
	}
}
