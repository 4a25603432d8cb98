package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// metrics are the Prometheus metrics, fed by the hooks of bot, webhooks
// and magiclink; those packages know nothing of Prometheus. Labels never
// carry a phone number, a user or a message.
type metrics struct {
	reg *prometheus.Registry

	inbound       *prometheus.CounterVec
	transitions   *prometheus.CounterVec
	replies       *prometheus.CounterVec
	texts         *prometheus.CounterVec
	accountSyncs  *prometheus.CounterVec
	delivery      *prometheus.CounterVec
	signatureFail *prometheus.CounterVec
	limits        *prometheus.CounterVec
	logins        *prometheus.CounterVec
	events        *prometheus.CounterVec
	suspensions   *prometheus.CounterVec
	webhook       *prometheus.HistogramVec
	auth0         *prometheus.HistogramVec
	auth0Errors   *prometheus.CounterVec

	// The series every text moves, found once by their label values
	// (lazy) instead of by GetMetricWithLabelValues each time.
	inboundOf map[[2]string]func() prometheus.Counter  // command, state
	replyOf   map[string]func() prometheus.Counter     // result
	webhookOf map[[2]string]func() prometheus.Observer // hook, outcome
}

// lazy returns the series with labels of a vector (with is its
// WithLabelValues), resolved when it is first asked for: a series shows
// in /metrics once it is used, not before, as with WithLabelValues.
func lazy[M any](with func(...string) M, labels ...string) func() M {
	return sync.OnceValue(func() M { return with(labels...) })
}

// resolveTextSeries fills inboundOf, replyOf and webhookOf with the
// series a text can move; others are looked up as they come.
func (m *metrics) resolveTextSeries() {
	m.inboundOf = map[[2]string]func() prometheus.Counter{}
	for _, kind := range commandKinds {
		for _, state := range bot.States {
			m.inboundOf[[2]string{kind, state}] = lazy(m.inbound.WithLabelValues, kind, state)
		}
	}
	m.replyOf = map[string]func() prometheus.Counter{}
	for _, r := range []string{"duplicate", "muted", "replied", "silent"} {
		m.replyOf[r] = lazy(m.replies.WithLabelValues, r)
	}
	m.webhookOf = map[[2]string]func() prometheus.Observer{}
	for _, hook := range []string{webhooks.HookSMS, webhooks.HookStatus} {
		for _, outcome := range []string{"ok", "duplicate", "rejected", "invalid", "unavailable", "error"} {
			m.webhookOf[[2]string{hook, outcome}] = lazy(m.webhook.WithLabelValues, hook, outcome)
		}
	}
}

// reply counts an answer to a text in replies_total.
func (m *metrics) reply(result string) {
	if c, ok := m.replyOf[result]; ok {
		c().Inc()
		return
	}
	m.replies.WithLabelValues(result).Inc()
}

// outboxStatser is what the outbox gauges read at scrape time; *store.DB
// implements it.
type outboxStatser interface {
	OutboxStats(ctx context.Context) (store.OutboxStats, error)
}

func newMetrics(outbox outboxStatser, now func() time.Time) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "smsbot", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.inbound = counter("inbound_messages_total", "Inbound texts answered, by command kind and the phone's resulting state.", "command", "state")
	m.transitions = counter("transitions_total", "State machine transitions.", "from", "to")
	m.replies = counter("replies_total", "Answers to inbound texts: replied, silent (nothing due), muted (reply budget spent) or duplicate (a replayed MessageSid).", "result")
	m.texts = counter("outbound_texts_total", "Texts sent through the Twilio REST API by the outbox, by result (sent, retry, failed, skipped, deferred) and Twilio error code (0 for none).", "result", "error_code")
	m.accountSyncs = counter("auth0_syncs_total", "app_metadata.phone updates delivered by the outbox, by result and Auth0's HTTP status when it refused one (0: accepted, or no answer).", "result", "status")
	m.delivery = counter("delivery_status_total", "Delivery statuses from Twilio's status callbacks that moved a text forward, by status and Twilio error code (0 for none).", "status", "error_code")
	m.signatureFail = counter("webhook_signature_failures_total", "Webhook requests refused for a missing or wrong X-Twilio-Signature.", "hook")
	m.limits = counter("limits_hit_total", "Limits hit: links (per phone), code_attempts, account_code_attempts, link_attempts (wrong LINK codes per phone), web_codes (per web login), reply_budget, web (per client address).", "limit")
	m.logins = counter("login_events_total", "Outcomes of the web half of subscribing (links opened, logins, errors).", "event")
	m.events = counter("events_total", "Other events of the conversation engine: plugin_slow.", "event")
	m.suspensions = counter("suspensions_total", "Bindings suspended until the phone links again, by cause: silent (no text for SMSBOT_REVERIFY_AFTER), lost (delivery errors say the number is gone), reassigned (the carrier lookup).", "cause")
	m.webhook = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "smsbot", Name: "webhook_duration_seconds",
		Help:    "Time to answer Twilio's webhooks, by hook (sms, status) and outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"hook", "outcome"})
	m.auth0 = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "smsbot", Name: "auth0_request_duration_seconds",
		Help:    "Calls to Auth0, by endpoint (token, jwks, users, userinfo, other).",
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"endpoint"})
	m.auth0Errors = counter("auth0_errors_total", "Failed calls to Auth0, by endpoint and HTTP status (0: no answer).", "endpoint", "status")
	m.resolveTextSeries()
	m.reg.MustRegister(m.webhook, m.auth0,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&outboxCollector{outbox: outbox, now: now,
			depth:  prometheus.NewDesc("smsbot_outbox_depth", "Outbox jobs waiting to be delivered.", nil, nil),
			oldest: prometheus.NewDesc("smsbot_outbox_oldest_age_seconds", "Age of the oldest waiting outbox job (0 when none waits).", nil, nil),
			failed: prometheus.NewDesc("smsbot_outbox_failed", "Outbox jobs given up for good.", nil, nil),
			up:     prometheus.NewDesc("smsbot_outbox_stats_up", "1 when the outbox could be read at this scrape.", nil, nil),
		})
	return m
}

// handler serves the metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// engineHooks are the engine's hooks into the metrics.
func (m *metrics) engineHooks() bot.Hooks {
	return bot.Hooks{Transition: m.transition, LimitHit: m.limitHit, PluginSlow: m.pluginSlow, Suspended: m.suspended}
}

// suspended is bot.Hooks.Suspended.
func (m *metrics) suspended(c bot.SuspendCause) { m.suspensions.WithLabelValues(string(c)).Inc() }

// transition is bot.Hooks.Transition.
func (m *metrics) transition(from, to string) { m.transitions.WithLabelValues(from, to).Inc() }

// limitHit is bot.Hooks.LimitHit.
func (m *metrics) limitHit(l bot.Limit) { m.limits.WithLabelValues(string(l)).Inc() }

// pluginSlow is bot.Hooks.PluginSlow.
func (m *metrics) pluginSlow() { m.events.WithLabelValues("plugin_slow").Inc() }

// workerObserve is bot.Worker.Observe.
func (m *metrics) workerObserve(kind string, outcome bot.Outcome, code int) {
	switch kind {
	case bot.JobSMS:
		m.texts.WithLabelValues(string(outcome), strconv.Itoa(code)).Inc()
	case bot.JobAccountSync:
		m.accountSyncs.WithLabelValues(string(outcome), strconv.Itoa(code)).Inc()
	}
}

// delivered is webhooks.Server.Delivered.
func (m *metrics) delivered(status string, code int) {
	m.delivery.WithLabelValues(status, strconv.Itoa(code)).Inc()
}

// webhookObserve is webhooks.Server.Observe.
func (m *metrics) webhookObserve(hook, outcome string, d time.Duration) {
	if o, ok := m.webhookOf[[2]string{hook, outcome}]; ok {
		o().Observe(d.Seconds())
		return
	}
	m.webhook.WithLabelValues(hook, outcome).Observe(d.Seconds())
}

// loginCount is magiclink.Service.Count.
func (m *metrics) loginCount(event string) { m.logins.WithLabelValues(event).Inc() }

// webLimitHit is magiclink.IPLimiter.Hit.
func (m *metrics) webLimitHit() { m.limits.WithLabelValues(limitWeb).Inc() }

// limitWeb is the limits_hit_total label of magiclink's per-address limit.
const limitWeb = "web"

// signatureFailed is webhooks.Server.SignatureFailed.
func (m *metrics) signatureFailed(_ context.Context, hook string) {
	m.signatureFail.WithLabelValues(hook).Inc()
}

// commandKinds names bot.Kind values for the inbound label.
var commandKinds = map[bot.Kind]string{
	bot.KindOther:       "other",
	bot.KindSubscribe:   "subscribe",
	bot.KindHelp:        "help",
	bot.KindCarrierHelp: "carrier_help",
	bot.KindStop:        "stop",
	bot.KindStart:       "start",
	bot.KindUnsubscribe: "unsubscribe",
	bot.KindCode:        "code",
	bot.KindLanguage:    "language",
	bot.KindLink:        "link",
}

// countedConversation counts inbound texts by command kind and result.
type countedConversation struct {
	next webhooks.Conversation
	m    *metrics
}

var _ webhooks.Conversation = countedConversation{}

func (c countedConversation) HandleSMS(ctx context.Context, in bot.Inbound) (bot.Result, error) {
	res, err := c.next.HandleSMS(ctx, in)
	if err != nil {
		return res, err
	}
	if res.Duplicate { // Twilio's retry of a text already counted
		c.m.reply("duplicate")
		return res, nil
	}
	kind, ok := commandKinds[res.Kind]
	if !ok {
		kind = "other"
	}
	if inc, ok := c.m.inboundOf[[2]string{kind, res.State}]; ok {
		inc().Inc()
	} else {
		c.m.inbound.WithLabelValues(kind, res.State).Inc()
	}
	switch {
	case res.Muted:
		c.m.reply("muted")
	case res.Reply != "":
		c.m.reply("replied")
	default:
		c.m.reply("silent")
	}
	return res, nil
}

// NumberLost passes delivery errors through.
func (c countedConversation) NumberLost(ctx context.Context, phone, ref string, code int) error {
	return c.next.NumberLost(ctx, phone, ref, code)
}

// auth0Transport times every call to Auth0 and counts the failed ones.
type auth0Transport struct {
	base http.RoundTripper
	m    *metrics
}

func (t *auth0Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ep := auth0Endpoint(r.URL.Path)
	start := time.Now()
	res, err := t.base.RoundTrip(r)
	t.m.auth0.WithLabelValues(ep).Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		t.m.auth0Errors.WithLabelValues(ep, "0").Inc()
	case res.StatusCode >= 400:
		t.m.auth0Errors.WithLabelValues(ep, strconv.Itoa(res.StatusCode)).Inc()
	}
	return res, err
}

func auth0Endpoint(path string) string {
	switch {
	case path == "/oauth/token":
		return "token"
	case strings.HasSuffix(path, "/jwks.json"):
		return "jwks"
	case strings.HasPrefix(path, "/api/v2/users"):
		return "users"
	case path == "/userinfo":
		return "userinfo"
	default:
		return "other"
	}
}

// instrument returns a copy of hc whose calls are timed.
func (m *metrics) instrument(hc *http.Client) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &auth0Transport{base: base, m: m}
	return &c
}

// outboxCollector reads the outbox's depth at scrape time.
type outboxCollector struct {
	outbox                    outboxStatser
	now                       func() time.Time
	depth, oldest, failed, up *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.failed
	ch <- c.up
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.outbox.OutboxStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	age := 0.0
	if !s.OldestPending.IsZero() {
		age = max(c.now().Sub(s.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(s.Failed))
}
