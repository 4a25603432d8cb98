package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// step drives one event through the running program and names the
// increments it must cause, exactly.
type step struct {
	name  string
	drive func(e *e2e)
	want  map[string]float64 // series: increment
}

// TestE2E_MetricsCountOnce drives each event through the whole program and
// checks that every metric family it feeds moves by exactly the expected
// amount: not zero, not twice.
func TestE2E_MetricsCountOnce(t *testing.T) {
	e := startE2E(t, nil)
	const p1, p2, p3, p4 = "+15555550241", "+15555550242", "+15555550243", "+15555550244"
	var dup url.Values
	steps := []step{
		{"an answered text", func(e *e2e) {
			dup = e.form(p1, "H")
			if status, _ := e.post(dup, e.sign(dup)); status != 200 {
				t.Fatalf("H: %d", status)
			}
		}, map[string]float64{
			`smsbot_inbound_messages_total{command="help",state="idle"}`:     1,
			`smsbot_replies_total{result="replied"}`:                         1,
			`smsbot_webhook_duration_seconds_count{hook="sms",outcome="ok"}`: 1,
			`smsbot_transitions_total{from="idle",to="awaiting_login"}`:      0,
			`smsbot_webhook_signature_failures_total{hook="sms"}`:            0,
		}},
		{"a replayed MessageSid", func(e *e2e) { e.post(dup, e.sign(dup)) }, map[string]float64{
			`smsbot_replies_total{result="duplicate"}`:                   1,
			`smsbot_replies_total{result="replied"}`:                     0,
			`smsbot_inbound_messages_total{command="help",state="idle"}`: 0, // counted the first time

		}},
		{"a transition", func(e *e2e) { e.text(p2, "S") }, map[string]float64{
			`smsbot_transitions_total{from="idle",to="awaiting_login"}`: 1,
		}},
		{"the link limit", func(e *e2e) {
			for range 3 { // links two and three, then one too many
				e.text(p2, "S")
			}
		}, map[string]float64{
			`smsbot_limits_hit_total{limit="links"}`:                    1,
			`smsbot_transitions_total{from="idle",to="awaiting_login"}`: 0,
		}},
		{"a bad signature on each hook", func(e *e2e) {
			if status, _ := e.post(e.form(p1, "H"), "bad-signature"); status != 403 {
				t.Fatalf("bad sms signature: %d", status)
			}
			f := url.Values{"MessageSid": {"SM" + strings.Repeat("0", 32)}, "MessageStatus": {"delivered"}}
			res, err := http.PostForm(e.base+"/webhooks/twilio/status", f)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Fatalf("unsigned status callback: %d", res.StatusCode)
			}
		}, map[string]float64{
			`smsbot_webhook_signature_failures_total{hook="sms"}`:                  1,
			`smsbot_webhook_signature_failures_total{hook="status"}`:               1,
			`smsbot_webhook_duration_seconds_count{hook="sms",outcome="rejected"}`: 1,
		}},
		{"a whole subscription", func(e *e2e) {
			e.subscribe(p3, "count@example.com")
		}, map[string]float64{
			`smsbot_transitions_total{from="idle",to="awaiting_login"}`:          1,
			`smsbot_transitions_total{from="awaiting_login",to="awaiting_code"}`: 1,
			`smsbot_transitions_total{from="awaiting_code",to="subscribed"}`:     1,
			`smsbot_login_events_total{event="link_ok"}`:                         1,
			`smsbot_outbound_texts_total{error_code="0",result="sent"}`:          1, // the code prompt
			`smsbot_auth0_syncs_total{result="sent",status="0"}`:                 1,
			`smsbot_auth0_request_duration_seconds_count{endpoint="users"}`:      1,
		}},
		{"a status callback, then the same again", func(e *e2e) {
			msgs := e.twilio.MessagesTo(p3)
			if len(msgs) != 1 {
				t.Fatalf("texts to %s: %d", p3, len(msgs))
			}
			for range 2 {
				e.postStatus(url.Values{"MessageSid": {msgs[0].SID}, "MessageStatus": {"delivered"}, "To": {p3}, "AccountSid": {e2eSID}})
			}
		}, map[string]float64{
			`smsbot_delivery_status_total{error_code="0",status="delivered"}`:   1,
			`smsbot_webhook_duration_seconds_count{hook="status",outcome="ok"}`: 2,
		}},
		{"a text Twilio refuses", func(e *e2e) {
			e.text(p4, "H")
			e.twilio.OptOut(p4)
			if err := e.sendLater(p4); err != nil {
				t.Fatal(err)
			}
		}, map[string]float64{
			`smsbot_outbound_texts_total{error_code="21610",result="failed"}`: 1,
			`smsbot_outbound_texts_total{error_code="0",result="sent"}`:       0,
		}},
	}
	for _, s := range steps {
		before := e.scrape()
		s.drive(e)
		var short string // a series still below its increment
		e.waitFor(s.name+" in the metrics", func() bool {
			after := e.scrape()
			for series, want := range s.want {
				if sample(after, series)-sample(before, series) < want {
					if short != series {
						t.Logf("waiting for %s: %v", series, sample(after, series)-sample(before, series))
					}
					short = series
					return false
				}
			}
			return true
		})
		e.waitFor("the outbox to drain", func() bool { return sample(e.scrape(), "smsbot_outbox_depth") == 0 })
		after := e.scrape()
		for series, want := range s.want {
			if got := sample(after, series) - sample(before, series); got != want {
				t.Errorf("%s: %s moved by %v, want %v", s.name, series, got, want)
			}
		}
	}
}

// scrape returns the program's /metrics.
func (e *e2e) scrape() string {
	e.t.Helper()
	status, body := get(e.t, e.base+"/metrics")
	if status != 200 {
		e.t.Fatalf("metrics: %d", status)
	}
	return body
}

// sample is a series' value, 0 when it is not there yet.
func sample(body, series string) float64 {
	return max(metricValue(body, series), 0)
}

// postStatus posts a signed delivery status callback.
func (e *e2e) postStatus(f url.Values) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/twilio/status", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(e2eToken, e.public+"/webhooks/twilio/status", f))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		e.t.Fatalf("status callback: %d", res.StatusCode)
	}
}

// The engine's typed hooks land in their metric families, once each.
func TestMetrics_EngineHooks(t *testing.T) {
	m := newMetrics(emptyOutbox{}, time.Now)
	h := m.engineHooks()
	h.Transition(bot.StateSubscribed, bot.StateIdle)
	h.LimitHit(bot.LimitCodeAttempts)
	h.PluginSlow()
	h.Suspended(bot.CauseSilent)
	w := httptest.NewRecorder()
	m.handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := w.Body.String()
	for series, want := range map[string]float64{
		`smsbot_transitions_total{from="subscribed",to="idle"}`: 1,
		`smsbot_limits_hit_total{limit="code_attempts"}`:        1,
		`smsbot_events_total{event="plugin_slow"}`:              1,
		`smsbot_suspensions_total{cause="silent"}`:              1,
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, family := range []string{"smsbot_transitions_total{", "smsbot_limits_hit_total{", "smsbot_events_total{", "smsbot_suspensions_total{"} {
		if n := strings.Count(body, "\n"+family); n != 1 {
			t.Errorf("%s has %d series, want 1", family, n)
		}
	}
}

// emptyOutbox is an outbox with nothing in it.
type emptyOutbox struct{}

func (emptyOutbox) OutboxStats(context.Context) (store.OutboxStats, error) {
	return store.OutboxStats{}, nil
}

// scriptedConversation answers texts with the results it is given, in turn.
type scriptedConversation struct{ results []bot.Result }

func (c *scriptedConversation) HandleSMS(ctx context.Context, in bot.Inbound) (bot.Result, error) {
	r := c.results[0]
	c.results = c.results[1:]
	return r, nil
}

func (c *scriptedConversation) NumberLost(ctx context.Context, phone, ref string, code int) error {
	return nil
}

// TestMetrics_TextSeries: the series a text moves, resolved once, count
// what WithLabelValues would count, series unknown in advance (a state
// or an outcome not listed) too, and a series shows only once it was
// used.
func TestMetrics_TextSeries(t *testing.T) {
	m := newMetrics(emptyOutbox{}, time.Now)
	results := []bot.Result{
		{Kind: bot.KindHelp, State: bot.StateIdle, Reply: "help"},
		{Kind: bot.KindHelp, State: bot.StateIdle, Reply: "help"},
		{Kind: bot.KindOther, State: bot.StateSubscribed},
		{Kind: bot.KindSubscribe, State: "a state added later", Reply: "link"},
		{Kind: bot.KindHelp, Duplicate: true, Reply: "help"},
	}
	c := countedConversation{next: &scriptedConversation{results: results}, m: m}
	for range results {
		if _, err := c.HandleSMS(context.Background(), bot.Inbound{}); err != nil {
			t.Fatal(err)
		}
	}
	m.webhookObserve(webhooks.HookSMS, "ok", time.Millisecond)
	m.webhookObserve(webhooks.HookSMS, "ok", time.Millisecond)
	m.webhookObserve(webhooks.HookSMS, "an outcome added later", time.Millisecond)
	w := httptest.NewRecorder()
	m.handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := w.Body.String()
	for series, want := range map[string]float64{
		`smsbot_inbound_messages_total{command="help",state="idle"}`:                         2,
		`smsbot_inbound_messages_total{command="other",state="subscribed"}`:                  1,
		`smsbot_inbound_messages_total{command="subscribe",state="a state added later"}`:     1,
		`smsbot_replies_total{result="replied"}`:                                             3,
		`smsbot_replies_total{result="silent"}`:                                              1,
		`smsbot_replies_total{result="duplicate"}`:                                           1,
		`smsbot_webhook_duration_seconds_count{hook="sms",outcome="ok"}`:                     2,
		`smsbot_webhook_duration_seconds_count{hook="sms",outcome="an outcome added later"}`: 1,
		`smsbot_replies_total{result="muted"}`:                                               -1, // never used
		`smsbot_inbound_messages_total{command="stop",state="opted_out"}`:                    -1,
		`smsbot_webhook_duration_seconds_count{hook="status",outcome="ok"}`:                  -1,
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}
