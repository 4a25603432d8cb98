package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsbot/smsbot/webhooks"
)

// target is a server the load goes to: one process, or several
// instances of one deployment that take turns (round-robin).
type target struct {
	name    string
	bases   []string // where its instances listen
	public  string   // the URL its webhooks are signed for
	pubHost string   // and its host
	client  *http.Client
	turn    atomic.Uint64 // the next instance
	acked   atomic.Int64  // webhooks answered 200
}

func newTarget(name string, bases []string, public string, conns int) *target {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns + 16
	tr.MaxIdleConnsPerHost = conns + 16
	tr.DisableCompression = true
	t := &target{name: name, bases: bases, public: public, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if u, err := url.Parse(public); err == nil {
		t.pubHost = u.Host
	}
	return t
}

// next is the base URL of the instance whose turn it is.
func (t *target) next() string {
	return t.bases[(t.turn.Add(1)-1)%uint64(len(t.bases))]
}

// browser is c with its own cookies; with several instances, each of its
// requests to the public URL goes to the next instance in turn, as a
// load balancer would send it, with the public Host.
func (t *target) browser(c *http.Client) *http.Client {
	b := *c
	b.Jar, _ = cookiejar.New(nil)
	if len(t.bases) > 1 {
		b.Transport = spread{t: t, next: orDefaultTransport(c.Transport)}
	}
	return &b
}

func orDefaultTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// spread sends requests for t's public URL to t's instances in turn.
type spread struct {
	t    *target
	next http.RoundTripper
}

func (s spread) RoundTrip(req *http.Request) (*http.Response, error) {
	pub := s.t.publicHost()
	if req.URL.Host != pub {
		return s.next.RoundTrip(req)
	}
	inst, err := url.Parse(s.t.next())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.URL.Host = inst.Host
	r.Host = pub
	return s.next.RoundTrip(r)
}

// publicHost is the host of the public URL.
func (t *target) publicHost() string { return t.pubHost }

// sids numbers MessageSids across the whole run, so every one is new.
var sids atomic.Int64

// text posts one signed inbound SMS webhook, as Twilio does, and returns
// the TwiML.
func (t *target) text(ctx context.Context, from, body string) (string, error) {
	form := url.Values{
		"MessageSid": {fmt.Sprintf("SM%032x", sids.Add(1))},
		"AccountSid": {benchSID}, "From": {from}, "To": {benchNumber}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.next()+"/webhooks/twilio/sms", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Host = t.publicHost() // as a load balancer passes it on
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(benchToken, t.public+"/webhooks/twilio/sms", form))
	res, err := t.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: status %d: %.200s", t.name, res.StatusCode, b)
	}
	if !strings.Contains(string(b), "<Response") {
		return "", fmt.Errorf("%s: not TwiML: %.200s", t.name, b)
	}
	t.acked.Add(1)
	return string(b), nil
}

// op is one unit of load: a text, or a whole subscription flow.
type op func(ctx context.Context, w *worker) error

// worker is one simulated sender; each has its own random source.
type worker struct {
	id  int
	rng *rand.Rand
	web *http.Client // a browser (flows only)
}

// steady texts H or an unknown command from a preloaded phone drawn
// uniformly.
func steady(t *target, phones int) op {
	return func(ctx context.Context, w *worker) error {
		body := "H"
		if w.rng.IntN(2) == 0 {
			body = "what is the temperature"
		}
		_, err := t.text(ctx, benchPhone(w.rng.IntN(phones)), body)
		return err
	}
}

var (
	linkRE = regexp.MustCompile(`https?://[^ <]+/l/[A-Za-z0-9_-]+`)
	codeRE = regexp.MustCompile(`id="code">(\d{6})<`)
)

// flows counts subscription flows across the run, for fresh phones.
var flows atomic.Int64

// subscribe is a whole subscription flow from a fresh phone: S, open the
// link, log in at the Auth0 stand-in, text back the code.
func subscribe(t *target) op {
	return func(ctx context.Context, w *worker) error {
		n := int(flows.Add(1))
		phone := flowPhone(n)
		reply, err := t.text(ctx, phone, "S")
		if err != nil {
			return err
		}
		link := linkRE.FindString(reply)
		if link == "" {
			return fmt.Errorf("no link in %q", reply)
		}
		browser := t.browser(w.web)
		res, body, err := fetch(ctx, browser, http.MethodGet, link, nil)
		if err != nil {
			return fmt.Errorf("open link: %w", err)
		}
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="email"`) {
			return fmt.Errorf("link led to %s: %d", res.Request.URL, res.StatusCode)
		}
		login := res.Request.URL.String()
		res, body, err = fetch(ctx, browser, http.MethodPost, login, url.Values{"email": {fmt.Sprintf("flow%d@bench.example", n)}})
		if err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		m := codeRE.FindStringSubmatch(body)
		if res.StatusCode != http.StatusOK || m == nil {
			return fmt.Errorf("code page: %d %.200s", res.StatusCode, body)
		}
		reply, err = t.text(ctx, phone, m[1])
		if err != nil {
			return err
		}
		if !strings.Contains(reply, "subscribed") {
			return fmt.Errorf("code reply %q", reply)
		}
		return nil
	}
}

func fetch(ctx context.Context, c *http.Client, method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// stats are the measurements of one run.
type stats struct {
	Ops      int
	Errors   int
	Elapsed  time.Duration
	lat      []time.Duration
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
	Max      time.Duration
	FirstErr string
}

// Rate is operations per second.
func (s stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

func (s *stats) finish() {
	slices.Sort(s.lat)
	q := func(p float64) time.Duration {
		if len(s.lat) == 0 {
			return 0
		}
		i := int(p * float64(len(s.lat)))
		return s.lat[min(i, len(s.lat)-1)]
	}
	s.Ops = len(s.lat)
	s.P50, s.P90, s.P99 = q(0.50), q(0.90), q(0.99)
	if len(s.lat) > 0 {
		s.Max = s.lat[len(s.lat)-1]
	}
	s.lat = nil
}

// recorder collects latencies from many workers.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	errors   int
	firstErr error
}

// tally is one worker's measurements, merged into the recorder at the end.
type tally struct {
	lat   []time.Duration
	errs  int
	first error
}

// note records one operation: its latency, or its error.
func (t *tally) note(err error, took time.Duration) {
	if err == nil {
		t.lat = append(t.lat, took)
		return
	}
	t.errs++
	if t.first == nil {
		t.first = err
	}
}

func (r *recorder) add(t tally) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, t.lat...)
	r.errors += t.errs
	if r.firstErr == nil {
		r.firstErr = t.first
	}
}

func (r *recorder) stats(elapsed time.Duration) stats {
	s := stats{lat: r.lat, Errors: r.errors, Elapsed: elapsed}
	if r.firstErr != nil {
		s.FirstErr = r.firstErr.Error()
	}
	s.finish()
	return s
}

// closedLoop runs n workers, each doing o back to back, for warmup and
// then measures for d: throughput at a set concurrency.
func closedLoop(ctx context.Context, n int, warmup, d time.Duration, newWorker func(i int) *worker, o op) stats {
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(d)
	var rec recorder
	var wg sync.WaitGroup
	for i := range n {
		w := newWorker(i)
		wg.Go(func() {
			var t tally
			for ctx.Err() == nil {
				began := time.Now()
				if !began.Before(end) {
					break
				}
				err := o(ctx, w)
				if !began.Before(measureFrom) {
					t.note(err, time.Since(began))
				}
			}
			rec.add(t)
		})
	}
	wg.Wait()
	return rec.stats(d)
}

// openLoop starts o at a fixed rate for warmup and then d, whatever the
// answers' speed, on up to n workers. Latency counts from when an
// operation was due, so a server that falls behind shows it.
func openLoop(ctx context.Context, rate float64, n int, warmup, d time.Duration, newWorker func(i int) *worker, o op) stats {
	began := time.Now()
	measureFrom := began.Add(warmup)
	end := measureFrom.Add(d)
	due := make(chan time.Time, 1<<16)
	var rec recorder
	var wg sync.WaitGroup
	for i := range n {
		w := newWorker(i)
		wg.Go(func() {
			var t tally
			for at := range due {
				err := o(ctx, w)
				if !at.Before(measureFrom) {
					t.note(err, time.Since(at))
				}
			}
			rec.add(t)
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	sent := 0
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		for ; ; sent++ {
			at := began.Add(time.Duration(sent) * interval)
			if at.After(now) || !at.Before(end) {
				break
			}
			select {
			case due <- at:
			default:
				// the workers are all stuck: count it as an error, not a wait
				rec.add(tally{errs: 1, first: errors.New("open loop: no worker free, request dropped")})
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(due)
	wg.Wait()
	return rec.stats(d)
}
