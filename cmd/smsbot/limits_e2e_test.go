package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// The rate limits with two instances on one PostgreSQL schema: each holds
// for the deployment, whichever instance a request or a text reaches.

// startLimitsE2E is startPostgresE2E with settings of its own, and with
// before run on the migrated schema before the first instance starts.
func startLimitsE2E(t *testing.T, extra map[string]string, before func(db *postgres.DB)) *pgE2E {
	t.Helper()
	u := postgrestest.SchemaURL(t)
	db, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if before != nil {
		before(db)
	}
	env := map[string]string{"SMSBOT_DB": u, "SMSBOT_PG_POOL": "8"}
	for k, v := range extra {
		env[k] = v
	}
	e := newE2E(t, env)
	runProgram(t, []string{"serve"}, e.env, e.base, e.logs)
	return &pgE2E{e2e: e, db: db}
}

// metric returns the value of the series that starts with series in the
// instance's /metrics, 0 when it is not there.
func metric(t *testing.T, base, series string) int {
	t.Helper()
	_, page := getBody(t, http.DefaultClient, base+"/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestE2E_Postgres_WebLimitAcrossInstances: one client address's requests
// to /l/ and /auth/callback, spread over two instances, share one bucket
// (a burst of 4): the 5th is refused with a 429 whichever instance gets
// it, while another address goes on. Per instance, each would have
// allowed 4.
func TestE2E_Postgres_WebLimitAcrossInstances(t *testing.T) {
	p := startLimitsE2E(t, map[string]string{
		"SMSBOT_WEB_PER_MINUTE":   "1",
		"SMSBOT_WEB_BURST":        "4",
		"SMSBOT_CLIENT_IP_HEADER": "X-Forwarded-For",
	}, nil)
	b := p.second()
	link := p.linkFrom(p.text("+15555550121", "S"))
	path := strings.TrimPrefix(link, p.public)
	get := func(base, path, client string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("X-Forwarded-For", client)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const client, other = "203.0.113.9", "198.51.100.7"
	callback := magiclink.PathCallback + "?state=made-up&code=made-up"
	for i, r := range []struct{ base, path string }{{p.base, path}, {b, path}, {p.base, callback}, {b, path}} {
		if res := get(r.base, r.path, client); res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
			t.Fatalf("request %d of the burst (%s%s): %d", i+1, r.base, r.path, res.StatusCode)
		}
	}
	for i, base := range []string{p.base, b, b, p.base} {
		res := get(base, []string{path, callback}[i%2], client)
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("request %d past the burst, at %s: %d, want 429", i+5, base, res.StatusCode)
		}
		// One a minute: the next is about a minute away.
		if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 45 || ra > 60 {
			t.Errorf("Retry-After %q, want about a minute", res.Header.Get("Retry-After"))
		}
	}
	for _, base := range []string{b, p.base} {
		if res := get(base, path, other); res.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("another address at %s: 429", base)
		}
	}
	const hits = `smsbot_limits_hit_total{limit="web"}`
	if m1, m2 := metric(t, p.base, hits), metric(t, b, hits); m1 != 2 || m2 != 2 {
		t.Errorf("web limit hits: %d and %d, want 2 at each instance", m1, m2)
	}
}

// TestE2E_Postgres_TextCapAcrossInstances: SMSBOT_TEXTS_PER_MINUTE=11 (a
// burst of 1, then one every 5.455 s) with six texts queued before two
// instances start: both claim texts at once, one goes out and the other
// instance's wait for the shared cap (both report deferred texts); the
// second text of the deployment leaves a whole interval after the first.
// Per instance, each would have sent one at start.
func TestE2E_Postgres_TextCapAcrossInstances(t *testing.T) {
	const every = 5455 * time.Millisecond // a minute / 11, in whole milliseconds
	var phones []string
	p := startLimitsE2E(t, map[string]string{"SMSBOT_TEXTS_PER_MINUTE": "11"}, func(db *postgres.DB) {
		ctx := context.Background()
		now := time.Now()
		for i := range 6 {
			phone := fmt.Sprintf("+1555555013%d", i)
			phones = append(phones, phone)
			if err := storetest.SavePhone(ctx, db, &bot.Phone{Number: phone, State: bot.StateIdle, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			storetest.Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phone, Body: fmt.Sprint("cap test ", i), CreatedAt: now})
		}
	})
	b := p.second()
	sent := func() []time.Time {
		var at []time.Time
		for _, m := range p.twilio.Messages() {
			if strings.HasPrefix(m.Body, "cap test ") {
				at = append(at, m.DateCreated)
			}
		}
		return at
	}
	const deferred = `smsbot_outbound_texts_total{error_code="0",result="deferred"}`
	p.waitFor("both instances deferring texts for the cap", func() bool {
		return metric(t, p.base, deferred) > 0 && metric(t, b, deferred) > 0
	})
	first := sent()
	if len(first) == 0 {
		t.Fatal("the instances defer texts, but none went out")
	}
	if elapsed := time.Since(first[0]); len(first) > 1+int((elapsed+time.Second)/every) {
		t.Fatalf("%d texts went out in %s, want at most 1 and one per %s", len(first), elapsed, every)
	}
	p.waitFor("the second text", func() bool { return len(sent()) >= 2 })
	at := sent()
	if gap := at[1].Sub(at[0]); gap < every-time.Second {
		t.Fatalf("the second text left %s after the first, want about %s", gap, every)
	}
	t.Logf("texts at +0 and +%s; deferred %d and %d times", at[1].Sub(at[0]).Round(time.Millisecond), metric(t, p.base, deferred), metric(t, b, deferred))
}
