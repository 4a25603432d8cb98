package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// TestCluster runs three real `smsbot serve` processes on one PostgreSQL
// schema behind a load balancer in the test, which sends every webhook and
// every browser request to a random instance. Before the load it checks
// the promises that need several instances by name: a login whose link is
// opened on one instance, whose callback lands on another and whose code
// is texted to the third; one MessageSid posted to two (and three)
// instances at the same moment; six S texts from one phone at once over
// the three instances. Then whole subscription flows (some to accounts
// that other phones use, so bindings move), steady texts from many phones,
// MessageSids sent to two instances at once and a phone that texts S
// without pause, while a random instance is killed with SIGKILL and
// restarted, again and again. Twilio's stand-in drops, delays and queues
// messages as in TestCrash.
//
// At the end, with the outbox drained: no acknowledged text lost, no text
// sent twice to Twilio, no code prompt missing, every account's
// app_metadata.phone at Auth0 equal to its binding, no phone in an
// impossible state, no phone with more than 3 links (the hourly limit).
//
// make test runs a few kills; make clustertest runs SMSBOT_CLUSTER_KILLS=20
// with more phones. The random seed is logged; SMSBOT_CLUSTER_SEED=N
// replays its load choices, kill moments and Twilio faults.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	began := time.Now()
	dbURL := postgrestest.SchemaURL(t)
	kills := envInt("SMSBOT_CLUSTER_KILLS", 3)
	phones := envInt("SMSBOT_CLUSTER_PHONES", 200)
	seed := testSeed(t, "SMSBOT_CLUSTER_SEED")
	rng := rand.New(rand.NewPCG(seed, 1))
	c := startCluster(t, dbURL, seed)
	e := c.e2e
	t.Logf("three instances up on one schema in %v (build included)", time.Since(began).Round(time.Millisecond))

	accounts := map[string]bool{} // every email a login used
	c.loginAcrossInstances(accounts)
	c.sameSidAtOnce(accounts)
	c.linkLimitAtOnce()

	// The load: workers through the balancer, one phone texting S without
	// pause, and the kills on this goroutine.
	load := &clusterLoad{acked: map[string]string{}, pages: map[string]int{}, spamS: map[string]int{}, accounts: accounts}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		seed := rng.Uint64()
		wg.Go(func() { c.work(ctx, load, rand.New(rand.NewPCG(seed, 2)), phones) })
	}
	spamSeed := rng.Uint64()
	wg.Go(func() { c.spam(ctx, load, rand.New(rand.NewPCG(spamSeed, 3))) })
	defer func() { cancel(); wg.Wait() }() // also when a restart fails the test
	loadStart := time.Now()
	var downtime time.Duration
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond) // the random moment
		in := c.insts[rng.IntN(len(c.insts))]
		in.cmd.Process.Kill()
		in.cmd.Wait()
		down := time.Now()
		in.up.Store(false) // the balancer's health check notices
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		in.cmd = startBinary(t, c.bin, c.env, in.ln, in.logs)
		in.up.Store(true)
		downtime += time.Since(down)
	}
	time.Sleep(300 * time.Millisecond) // a last stretch with all three up
	cancel()
	wg.Wait()
	loadTime := time.Since(loadStart)

	// All three deliver what is queued.
	drainStart, queued := time.Now(), e.pending()
	for e.pending() != 0 {
		if time.Since(drainStart) > 60*time.Second {
			t.Fatalf("%d outbox jobs still pending 60 s after the load", e.pending())
		}
		time.Sleep(20 * time.Millisecond)
	}
	drained := time.Since(drainStart)
	for i, in := range c.insts {
		in.up.Store(false)
		in.cmd.Process.Signal(syscall.SIGTERM)
		if err := in.cmd.Wait(); err != nil {
			t.Errorf("instance %d after SIGTERM: %v", i, err)
		}
		in.cmd = nil
	}

	// Every acknowledged text has its effect: its MessageSid is stored.
	stored := map[string]bool{}
	c.query(`SELECT message_sid FROM inbound`, func(rows *sql.Rows) error {
		var sid string
		err := rows.Scan(&sid)
		stored[sid] = true
		return err
	})
	lost := 0
	for sid := range load.acked {
		if !stored[sid] {
			lost++
		}
	}
	if lost != 0 {
		t.Errorf("%d of %d acknowledged texts lost", lost, len(load.acked))
	}
	var failed int
	c.scalar(&failed, `SELECT COUNT(*) FROM outbox WHERE state = 'failed'`)
	if failed != 0 {
		t.Errorf("%d outbox jobs failed", failed)
	}
	// Every queued text reached Twilio exactly once, and every code page
	// shown was followed by its text.
	delivered, twice, shared := e.checkOnce()
	missing := 0
	for phone, n := range load.pages {
		if got := e.prompts(phone); got < n {
			t.Errorf("%s saw %d code pages but got %d prompts", phone, n, got)
			missing += n - got
		}
	}
	// Auth0 holds every binding, and only those.
	bound := map[string]string{} // user id -> phone
	c.query(`SELECT user_id, phone FROM phones WHERE user_id IS NOT NULL`, func(rows *sql.Rows) error {
		var user, phone string
		err := rows.Scan(&user, &phone)
		bound[user] = phone
		return err
	})
	wrongAuth0 := 0
	for email := range load.accounts {
		user := auth0test.UserID(email)
		var want any
		if p, ok := bound[user]; ok {
			want = p
		}
		if got := e.appPhone(email); got != want {
			t.Errorf("%s: app_metadata.phone %v at Auth0, bound to %v here", email, got, want)
			wrongAuth0++
		}
		delete(bound, user)
	}
	for user, phone := range bound {
		t.Errorf("%s is bound to %s, an account no login used", phone, user)
	}
	var impossible int
	c.scalar(&impossible, impossiblePhones)
	if impossible != 0 {
		t.Errorf("%d phones in an impossible state", impossible)
	}
	// The link limit held for the whole cluster: all of this took less
	// than the hour the limit counts.
	links := map[string]int{}
	c.query(`SELECT phone, COUNT(*) FROM links GROUP BY phone`, func(rows *sql.Rows) error {
		var phone string
		var n int
		err := rows.Scan(&phone, &n)
		links[phone] = n
		return err
	})
	maxLinks := 0
	for phone, n := range links {
		maxLinks = max(maxLinks, n)
		if n > 3 {
			t.Errorf("%s has %d links (limit 3 per hour)", phone, n)
		}
	}
	for phone, n := range load.spamS {
		if n >= 3 && links[phone] != 3 {
			t.Errorf("%s texted S %d times (answered 200) and has %d links, want 3", phone, n, links[phone])
		}
	}
	if len(load.acked) == 0 || load.flows == 0 || delivered == 0 {
		t.Errorf("the load never got through: %d acked, %d flows, %d delivered", len(load.acked), load.flows, delivered)
	}
	served := make([]int64, len(c.insts))
	for i, in := range c.insts {
		served[i] = in.served.Load()
	}
	t.Logf("cluster test: 3 instances, %d kills (down %v on average), %v of load, %d acknowledged texts (%d in %d whole flows, %d MessageSids answered by two instances at once), lost %d, %d texts delivered (the last %d in %v), %d sent twice, %d code prompts missing, %d accounts checked at Auth0 (%d wrong), %d phones in an impossible state, at most %d links per phone (%d link-limit replies), requests per instance %v, %v in all",
		kills, (downtime / time.Duration(max(kills, 1))).Round(time.Millisecond), loadTime.Round(time.Millisecond),
		len(load.acked), load.flowTexts, load.flows, load.doubles, lost, delivered, queued, drained.Round(time.Millisecond),
		twice, missing, len(load.accounts), wrongAuth0, impossible, maxLinks, load.limited, served, time.Since(began).Round(time.Millisecond))
	if shared != 0 {
		t.Logf("%d Twilio messages recorded by two jobs", shared)
	}
}

// cluster is three real smsbot serve processes on one PostgreSQL schema,
// each on a listening socket the test holds (a restart takes the same
// address), behind a load balancer in the test. Its e2e's base and public
// URL are the balancer's; its db is the schema.
type cluster struct {
	*e2e
	bin   string
	env   []string
	insts []*instance

	mu  sync.Mutex
	rng *rand.Rand // the balancer's choices
}

// instance is one smsbot serve process; only the test's goroutine starts
// and kills it.
type instance struct {
	ln     net.Listener
	base   string
	logs   *syncBuffer
	cmd    *exec.Cmd
	up     atomic.Bool // the balancer sends requests to it
	served atomic.Int64
}

// clusterLoad is what the load saw, for the checks at the end.
type clusterLoad struct {
	mu        sync.Mutex
	acked     map[string]string // MessageSid -> phone, for every 200
	pages     map[string]int    // phone -> code pages shown
	spamS     map[string]int    // the S texter's phone -> S texts answered 200
	accounts  map[string]bool   // every email a login used
	texts     int               // acknowledged texts outside whole flows
	flows     int               // flows that showed a code page
	flowTexts int               // acknowledged texts within those
	doubles   int               // MessageSids that two instances both answered
	limited   int               // link-limit replies
}

const linkLimitReply = "too many login links"

// startCluster builds the binary, starts the stand-ins and the balancer,
// and starts the three instances at once (they migrate the fresh schema
// together).
func startCluster(t *testing.T, dbURL string, seed uint64) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{bin: buildBinary(t, dir), rng: rand.New(rand.NewPCG(seed, 4))}

	tw := twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	tw.SetFaults(twiliotest.Faults{RateDropBefore: 0.05, RateDropAfter: 0.05, RateLateAnswer: 0.1, RateQueued: 0.3, Hang: 1500 * time.Millisecond, Seed: int64(seed)})

	// The balancer: each request to a random instance that is up.
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	quiet := log.New(io.Discard, "", 0)
	lb := &http.Server{ErrorLog: quiet, Handler: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			in := c.pick(1)[0]
			in.served.Add(1)
			pr.SetURL(&url.URL{Scheme: "http", Host: in.ln.Addr().String()})
		},
		Transport: tr,
		ErrorLog:  quiet,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}}
	go lb.Serve(lbLn)
	t.Cleanup(func() {
		lb.Close()
		tr.CloseIdleConnections()
	})
	c.e2e = &e2e{t: t, base: "http://" + lbLn.Addr().String(), twilio: tw, logs: &syncBuffer{}}
	c.public = c.base

	a, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{c.public + magiclink.PathCallback}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c.auth0 = a
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, append(tw.CertPEM(), a.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = append(os.Environ(),
		"SMSBOT_ADDR=fd:3", "SMSBOT_DB="+dbURL, "SMSBOT_PG_POOL=4", "SMSBOT_PUBLIC_URL="+c.public,
		"SMSBOT_SECRET="+e2eKey, "SMSBOT_CA_FILE="+ca,
		"TWILIO_ACCOUNT_SID="+e2eSID, "TWILIO_AUTH_TOKEN="+e2eToken, "TWILIO_FROM_NUMBER="+e2eNumber, "TWILIO_API_URL="+tw.URL(),
		"AUTH0_DOMAIN="+a.Domain(), "AUTH0_CLIENT_ID="+e2eClient, "AUTH0_CLIENT_SECRET="+e2eSecret,
		"SMSBOT_OUTBOX_WORKERS=4", "SMSBOT_HTTP_TIMEOUT=1s", "SMSBOT_OUTBOX_LEASE=2s", "SMSBOT_OUTBOX_RETRY_BASE=20ms", "SMSBOT_OUTBOX_RETRY_MAX=200ms", "SMSBOT_OUTBOX_ATTEMPTS=1000",
		"SMSBOT_TEXTS_PER_MINUTE=1000000", "SMSBOT_WEB_PER_MINUTE=1000000", "SMSBOT_WEB_BURST=1000000", "SMSBOT_REPLY_BUDGET=1000000",
		// The link limit under test; wrong codes from the steady texts
		// must not lock the shared accounts out of the flows.
		"SMSBOT_LINKS_PER_HOUR=3", "SMSBOT_LINKS_PER_DAY=10", "SMSBOT_CODE_ATTEMPTS_PER_ACCOUNT=0",
	)

	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.insts = append(c.insts, &instance{ln: ln, base: "http://" + ln.Addr().String(), logs: &syncBuffer{}})
	}
	t.Cleanup(func() {
		for i, in := range c.insts {
			if in.cmd != nil {
				in.cmd.Process.Kill()
				in.cmd.Wait()
			}
			in.ln.Close()
			if t.Failed() {
				t.Logf("instance %d logs (the end):\n%s", i, tail(in.logs.String(), 6000))
			}
		}
	})
	for _, in := range c.insts {
		in.cmd = launchBinary(t, c.bin, c.env, in.ln, in.logs)
	}
	for _, in := range c.insts {
		waitHealthy(t, in.base, in.cmd)
		in.up.Store(true)
	}

	c.db, err = sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	c.db.SetMaxOpenConns(2)
	t.Cleanup(func() { c.db.Close() })
	return c
}

// pick returns n distinct instances that are up, at random (all of them
// when fewer are up, so that a request still goes somewhere).
func (c *cluster) pick(n int) []*instance {
	c.mu.Lock()
	order := c.rng.Perm(len(c.insts))
	c.mu.Unlock()
	var up, down []*instance
	for _, i := range order {
		if c.insts[i].up.Load() {
			up = append(up, c.insts[i])
		} else {
			down = append(down, c.insts[i])
		}
	}
	return append(up, down...)[:n]
}

// work is one worker of the load until ctx ends: whole flows, steady
// texts and MessageSids posted to two instances at once, from phones
// picked at random.
func (c *cluster) work(ctx context.Context, load *clusterLoad, r *rand.Rand, phones int) {
	e := c.e2e
	for ctx.Err() == nil {
		phone := fmt.Sprintf("+1555581%04d", r.IntN(phones))
		switch n := r.IntN(10); {
		case n < 3:
			// A whole flow, most to the phone's own account, some to a
			// few shared accounts: each of those moves a binding.
			email := phone[1:] + "@example.com"
			if r.IntN(3) == 0 {
				email = fmt.Sprintf("shared%d@example.com", r.IntN(6))
			}
			sids, page := crashFlow(e, phone, email)
			load.mu.Lock()
			load.accounts[email] = true
			for _, s := range sids {
				load.acked[s] = phone
			}
			if page {
				load.pages[phone]++
				load.flows++
				load.flowTexts += len(sids)
			} else {
				load.texts += len(sids)
			}
			load.mu.Unlock()
		case n == 3:
			// One MessageSid to two instances at the same moment.
			f := e.form(phone, []string{"S", "H", "hi", "U", "123456"}[r.IntN(5)])
			ins := c.pick(2)
			status, replies := make([]int, 2), make([]string, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, in := range ins {
				wg.Go(func() {
					<-start
					status[i], replies[i] = crashPost(e, in.base, f)
				})
			}
			close(start)
			wg.Wait()
			load.mu.Lock()
			if status[0] == 200 || status[1] == 200 {
				load.acked[f.Get("MessageSid")] = phone
				load.texts++
			}
			if status[0] == 200 && status[1] == 200 {
				load.doubles++
				if replies[0] != replies[1] {
					c.t.Errorf("MessageSid %s (%q) at two instances at once: different replies\n%s\n%s", f.Get("MessageSid"), f.Get("Body"), replies[0], replies[1])
				}
			}
			load.mu.Unlock()
		default:
			f := e.form(phone, []string{"H", "hi", "U", "123456"}[r.IntN(4)])
			status, _ := crashPost(e, e.base, f)
			if status == 200 {
				load.mu.Lock()
				load.acked[f.Get("MessageSid")] = phone
				load.texts++
				load.mu.Unlock()
			}
		}
	}
}

// spam texts S without pause from a few phones, through the balancer.
func (c *cluster) spam(ctx context.Context, load *clusterLoad, r *rand.Rand) {
	for ctx.Err() == nil {
		phone := fmt.Sprintf("+1555585%04d", r.IntN(3))
		f := c.form(phone, "S")
		status, reply := crashPost(c.e2e, c.base, f)
		if status != 200 {
			continue
		}
		load.mu.Lock()
		load.acked[f.Get("MessageSid")] = phone
		load.texts++
		load.spamS[phone]++
		if strings.Contains(reply, linkLimitReply) {
			load.limited++
		}
		load.mu.Unlock()
		time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
	}
}

// loginAcrossInstances runs a whole login for each order of the three
// instances: S and the link opened on the first, Auth0's callback on the
// second, the code texted to the third. It adds the accounts it bound.
func (c *cluster) loginAcrossInstances(accounts map[string]bool) {
	c.t.Helper()
	for i, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		a, b, cc := c.insts[order[0]], c.insts[order[1]], c.insts[order[2]]
		phone, email := fmt.Sprintf("+1555582%04d", i), fmt.Sprintf("across%d@example.com", i)
		accounts[email] = true
		status, reply := crashPost(c.e2e, a.base, c.form(phone, "S"))
		if status != 200 {
			c.t.Fatalf("S at instance %d: %d %s", order[0], status, reply)
		}
		link := strings.Replace(c.linkFrom(reply), c.public, a.base, 1)
		browser := c.browser()
		bHost := strings.TrimPrefix(b.base, "http://")
		browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == magiclink.PathCallback {
				req.URL.Host = bHost // the balancer sends the callback to b
			}
			return nil
		}
		login := c.openLink(browser, link)
		res, page := fetch(c.t, browser, http.MethodPost, login.String(), url.Values{"email": {email}})
		code := codeRE.FindStringSubmatch(page)
		if res.StatusCode != 200 || code == nil || res.Request.URL.Host != bHost {
			c.t.Fatalf("code page from %s (want instance %d): %d %s", res.Request.URL, order[1], res.StatusCode, page)
		}
		status, reply = crashPost(c.e2e, cc.base, c.form(phone, code[1]))
		if status != 200 || !strings.Contains(reply, "subscribed") {
			c.t.Fatalf("code texted to instance %d: %d %q", order[2], status, reply)
		}
		if st := c.stateOf(phone); st != "subscribed" {
			c.t.Fatalf("link on %d, callback on %d, code to %d: state %s", order[0], order[1], order[2], st)
		}
		browser.CloseIdleConnections()
	}
}

// sameSidAtOnce posts one MessageSid to two instances, and to all three,
// at the same moment: every one answers the same reply and the text has
// one effect. First S (one link), then the code (one binding). It adds
// the accounts it bound.
func (c *cluster) sameSidAtOnce(accounts map[string]bool) {
	c.t.Helper()
	for i, group := range [][]int{{0, 1}, {1, 2}, {2, 0}, {0, 1, 2}} {
		phone, email := fmt.Sprintf("+1555583%04d", i), fmt.Sprintf("samesid%d@example.com", i)
		accounts[email] = true
		replies := c.atOnce(group, c.form(phone, "S"))
		link := c.linkFrom(replies[0])
		var links, inbound int
		c.scalar(&links, `SELECT COUNT(*) FROM links WHERE phone = $1`, phone)
		c.scalar(&inbound, `SELECT COUNT(*) FROM inbound WHERE phone = $1`, phone)
		if links != 1 || inbound != 1 {
			c.t.Fatalf("one S at instances %v at once: %d links, %d inbound rows, want 1 and 1", group, links, inbound)
		}
		browser := c.browser()
		_, page := c.logIn(browser, c.openLink(browser, link), email)
		browser.CloseIdleConnections()
		code := codeRE.FindStringSubmatch(page)
		if code == nil {
			c.t.Fatalf("no code page: %s", page)
		}
		replies = c.atOnce(group, c.form(phone, code[1]))
		if !strings.Contains(replies[0], "subscribed") {
			c.t.Fatalf("code at instances %v at once: %q", group, replies[0])
		}
		var binds, syncs int
		c.scalar(&binds, `SELECT COUNT(*) FROM audit WHERE action = 'bind' AND phone = $1`, phone)
		c.scalar(&syncs, `SELECT COUNT(*) FROM outbox WHERE kind = 'account_sync' AND user_id = $1`, auth0test.UserID(email))
		if binds != 1 || syncs != 1 {
			c.t.Fatalf("one code at instances %v at once: %d bindings, %d Auth0 updates, want 1 and 1", group, binds, syncs)
		}
		c.waitFor("app_metadata.phone at Auth0", func() bool { return c.appPhone(email) == phone })
	}
}

// atOnce posts form to the instances numbered in group at the same moment
// and returns their replies, after checking that all answered 200 with
// the same reply.
func (c *cluster) atOnce(group []int, form url.Values) []string {
	c.t.Helper()
	status, replies := make([]int, len(group)), make([]string, len(group))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, n := range group {
		wg.Go(func() {
			<-start
			status[i], replies[i] = crashPost(c.e2e, c.insts[n].base, form)
		})
	}
	close(start)
	wg.Wait()
	for i := range group {
		if status[i] != 200 || replies[i] != replies[0] {
			c.t.Fatalf("MessageSid %s (%q) at instances %v at once: statuses %v, replies\n%s", form.Get("MessageSid"), form.Get("Body"), group, status, strings.Join(replies, "\n"))
		}
	}
	return replies
}

// linkLimitAtOnce texts S six times from one phone at once, twice to each
// instance: three links, three refusals, three links stored. A seventh S
// at each instance is refused too.
func (c *cluster) linkLimitAtOnce() {
	c.t.Helper()
	const phone = "+15555840001"
	status, replies := make([]int, 6), make([]string, 6)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 6 {
		f := c.form(phone, "S")
		wg.Go(func() {
			<-start
			status[i], replies[i] = crashPost(c.e2e, c.insts[i%3].base, f)
		})
	}
	close(start)
	wg.Wait()
	links, refused := 0, 0
	for i := range 6 {
		switch {
		case status[i] != 200:
			c.t.Fatalf("S %d at instance %d: %d %s", i, i%3, status[i], replies[i])
		case linkRE.MatchString(replies[i]):
			links++
		case strings.Contains(replies[i], linkLimitReply):
			refused++
		}
	}
	var stored int
	c.scalar(&stored, `SELECT COUNT(*) FROM links WHERE phone = $1`, phone)
	if links != 3 || refused != 3 || stored != 3 {
		c.t.Fatalf("six S at once over three instances: %d links, %d refusals, %d links stored; want 3, 3, 3:\n%s", links, refused, stored, strings.Join(replies, "\n"))
	}
	for i, in := range c.insts {
		if status, reply := crashPost(c.e2e, in.base, c.form(phone, "S")); status != 200 || !strings.Contains(reply, linkLimitReply) {
			c.t.Fatalf("a seventh S at instance %d: %d %s", i, status, reply)
		}
	}
}

// stateOf returns a phone's state, "none" for no row.
func (c *cluster) stateOf(phone string) string {
	c.t.Helper()
	var st string
	err := c.db.QueryRow(`SELECT state FROM phones WHERE phone = $1`, phone).Scan(&st)
	if err == sql.ErrNoRows {
		return "none"
	} else if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// scalar scans the one value q returns into dst.
func (c *cluster) scalar(dst any, q string, args ...any) {
	c.t.Helper()
	if err := c.db.QueryRow(q, args...).Scan(dst); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// query calls scan for each row of q.
func (c *cluster) query(q string, scan func(*sql.Rows) error) {
	c.t.Helper()
	rows, err := c.db.Query(q)
	if err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			c.t.Fatalf("%s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
