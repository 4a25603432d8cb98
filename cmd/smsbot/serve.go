package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// app is the running program's parts.
type app struct {
	cfg    *config
	log    *slog.Logger
	db     database
	engine *bot.Engine
	worker *bot.Worker
	hooks  *webhooks.Server
	links  *magiclink.Service
	dev    *devMode // nil in production

	ready    *readiness // /readyz; set by the routes
	webLimit *magiclink.IPLimiter
	webPoll  *magiclink.IPLimiter // the web-first page's status polls
	metrics  *metrics
	instance string // this start's nonce, served by /readyz and kept in the database (heartbeat) for doctor
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	if cfg.Dev {
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	return slog.New(requestIDs(maskPhones(h)))
}

// serve runs the server until ctx ends, then shuts down in order.
func serve(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	gc := tuneGC()
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	if cfg.PublicURL == "" && cfg.Dev {
		cfg.PublicURL = fmt.Sprintf("http://localhost:%d", addr.Port)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")

	a, err := build(ctx, cfg, log, addr)
	if err != nil {
		return err
	}
	defer a.close()
	stopOps, err := a.startOps(log)
	if err != nil {
		return err
	}
	defer stopOps()

	var conns openConns
	srv := &http.Server{
		Handler:           closeWhileDraining(a.routes(), a.ready),
		ConnState:         conns.track,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.worker.Run(workCtx) })
	wg.Go(func() { a.prune(workCtx) })
	wg.Go(func() { a.heartbeat(workCtx) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "smsbot listening on http://%s (public URL %s)\n", ln.Addr(), cfg.PublicURL)
	if a.dev != nil {
		a.dev.banner(stdout, cfg)
	}
	log.Info("started", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "dev", cfg.Dev, "synchronous", cfg.Synchronous, "gogc", gc)

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		drain(a.ready, cfg.Drain, log)
		log.Info("shutting down")
		err = shutdown(srv, &conns, cfg.ShutdownTimeout, log)
	}
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// listen listens on addr, or takes over the open socket of "fd:N"
// (systemd socket activation, tests that hold their port).
func listen(addr string) (net.Listener, error) {
	fd, ok := strings.CutPrefix(addr, "fd:")
	if !ok {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		return ln, nil
	}
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return nil, usageError{fmt.Errorf("SMSBOT_ADDR %q: want fd:N with N a file descriptor of 3 or more", addr)}
	}
	f := os.NewFile(uintptr(n), "listener")
	defer f.Close() // the listener has its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if _, ok := ln.Addr().(*net.TCPAddr); !ok {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: not a TCP socket", addr)
	}
	return ln, nil
}

// openConns counts the connections that carry a request, or are about to:
// those http.Server.Shutdown waits for.
type openConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// track is the server's ConnState hook.
func (o *openConns) track(c net.Conn, s http.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conns == nil {
		o.conns = map[net.Conn]bool{}
	}
	if s == http.StateNew || s == http.StateActive {
		o.conns[c] = true
	} else {
		delete(o.conns, c)
	}
}

func (o *openConns) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.conns)
}

// drain keeps serving for d while /readyz answers 503 and each answer
// closes its connection (closeWhileDraining), so that a load balancer's
// health check takes the instance out, and its clients reconnect to
// others, before the socket closes. A zero d returns at once.
//
// Idle connections stay open meanwhile (not SetKeepAlivesEnabled(false),
// which closes them at once): a balancer may be writing a request to one
// at that moment, and one that cannot send a POST's body again (Caddy)
// would answer the webhook 502. By the end of the drain the balancer no
// longer picks the instance, and the shutdown closes them.
func drain(ready *readiness, d time.Duration, log *slog.Logger) {
	if d <= 0 || ready == nil {
		return
	}
	log.Info("draining: /readyz answers 503 until the stop", "drain", d.String())
	ready.draining.Store(true)
	time.Sleep(d)
}

// closeWhileDraining answers "Connection: close" while the instance
// drains, so that a connection ends after the answer it carries.
func closeWhileDraining(h http.Handler, ready *readiness) http.Handler {
	if ready == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// shutdown stops accepting and waits up to timeout for the requests in
// flight. Requests still open then are cut and logged: a stop bounded by
// its timeout is a routine stop, not a failure.
func shutdown(srv *http.Server, conns *openConns, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Warn("shutdown timeout: cutting the requests still open", "requests_cut", conns.count(), "timeout", timeout.String())
	srv.Close() // its error is the listener's, closed already by Shutdown
	return nil
}

// build opens the database and wires the parts.
func build(ctx context.Context, cfg *config, log *slog.Logger, addr *net.TCPAddr) (*app, error) {
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, metrics: newMetrics(db, time.Now)}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	if err := useMode(ctx, cfg, db); err != nil {
		return nil, err
	}

	a.instance = rand.Text()
	if err := db.Heartbeat(ctx, a.instance, time.Now(), instanceStale); err != nil {
		return nil, err
	}
	secret, err := loadSecret(ctx, cfg, db, log)
	if err != nil {
		return nil, err
	}
	keys, err := bot.NewKeyring(secret)
	if err != nil {
		return nil, err
	}
	overrides, err := loadTemplates(cfg.Templates)
	if err != nil {
		return nil, err
	}
	replies, warnings, err := bot.NewLocalReplies(overrides)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	// The link reply carries the public URL: check its length with the real one.
	for _, l := range bot.Languages {
		if s, err := replies.RenderIn(l, bot.ReplyLink, bot.ReplyData{Name: cfg.Name, URL: cfg.PublicURL + bot.LinkPath + strings.Repeat("x", bot.TokenLen), Minutes: int(cfg.Limits.LinkTTL / time.Minute)}); err == nil && bot.Segments(s) > 1 {
			log.Warn("the link reply takes more than one SMS segment with this public URL; a shorter SMSBOT_NAME, host or link template fits one", "language", l.Code, "segments", bot.Segments(s))
		}
	}

	if cfg.Dev {
		if a.dev, err = startDev(cfg, log, addr); err != nil {
			return nil, err
		}
	}
	hc, err := cfg.httpClient()
	if err != nil {
		return nil, err
	}
	authClient, twilioClient := hc, hc
	if a.dev != nil {
		authClient, twilioClient = a.dev.auth0.Client(), a.dev.twilio.Client()
	}
	authClient = a.metrics.instrument(authClient)

	rc, err := webhooks.NewRestClient(webhooks.ClientConfig{
		AccountSID: cfg.TwilioSID, AuthToken: cfg.TwilioToken, APIURL: cfg.TwilioAPIURL, HTTPClient: twilioClient,
	})
	if err != nil {
		return nil, err
	}
	sender := &webhooks.Sender{
		Client:              rc,
		From:                cfg.TwilioFrom,
		MessagingServiceSID: cfg.TwilioService,
		StatusCallback:      cfg.PublicURL + webhooks.PathStatus,
		WhatsAppFrom:        cfg.WhatsAppFrom,
		Templates:           cfg.WhatsAppTemplates,
	}
	dir, err := magiclink.NewDirectory(ctx, magiclink.DirectoryConfig{
		Domain: cfg.Auth0Domain, ClientID: cfg.Auth0MgmtID, ClientSecret: cfg.Auth0MgmtSecret, HTTPClient: authClient,
	})
	if err != nil {
		return nil, err
	}

	a.worker = &bot.Worker{Outbox: db, Store: db, SMS: sender, Accounts: dir, Logger: log.With("component", "outbox"),
		Limit: textLimit(newLimiter(cfg, db), cfg.TextsPerMinute, log.With("component", "outbox")), Lease: cfg.OutboxLease, BaseDelay: cfg.RetryBase,
		MaxDelay: cfg.RetryMax, MaxAttempts: cfg.RetryAttempt, Concurrency: cfg.OutboxLanes, Sort: webhooks.SortCode}
	a.engine = &bot.Engine{
		Store:          db,
		Keys:           keys,
		Replies:        replies,
		Name:           cfg.Name,
		PublicURL:      cfg.PublicURL,
		Limits:         cfg.Limits,
		AnswerKeywords: cfg.AnswerKeywords,
		AccountLocale:  cfg.AccountLocale,
		Logger:         log.With("component", "bot"),
		Notify:         a.worker.Wake,
	}
	if p := newNestPlugin(cfg, dir, hc, a.dev, newLimiter(cfg, db), log); p != nil {
		a.engine.Plugins = append(a.engine.Plugins, p)
	}
	a.hooks = &webhooks.Server{
		Conversation: a.engine,
		Statuses:     db,
		Redelivery:   a.worker,
		PublicURL:    cfg.PublicURL,
		AuthToken:    cfg.TwilioToken,
		Logger:       log.With("component", "webhooks"),
	}
	botNumber := cfg.webNumber()
	a.links, err = magiclink.New(ctx, magiclink.Config{
		PublicURL:    cfg.PublicURL,
		Domain:       cfg.Auth0Domain,
		ClientID:     cfg.Auth0ClientID,
		ClientSecret: cfg.Auth0Secret,
		Connection:   cfg.Auth0Connection,
		AuthorizeURL: a.dev.authorizeURL(cfg),
		BotNumber:    botNumber,
		Name:         cfg.Name,
		HTTPClient:   authClient,

		WhatsAppNumber: cfg.WhatsAppFrom,
	}, a.engine, keys)
	if err != nil {
		return nil, err
	}
	a.links.Logger = log.With("component", "magiclink")
	registerFarEnds(a.metrics.reg, a.links.Auth0Reachable)
	a.webLimit = magiclink.NewIPLimiter(cfg.WebPerMinute, cfg.WebBurst)
	a.webLimit.Header = cfg.ClientIPHeader
	a.webLimit.Limiter, a.webLimit.Logger = newLimiter(cfg, db), log.With("component", "web")
	a.setupWebLink(replies)
	a.instrument()
	ok = true
	return a, nil
}

// prune deletes old MessageSids, links, finished jobs and statuses every
// hour, starting a minute after start.
func (a *app) prune(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, err := a.db.Prune(ctx, time.Now(), a.cfg.Retention)
		if err != nil && ctx.Err() == nil {
			a.log.Error("prune", "err", err)
		} else if p != (store.Pruned{}) {
			a.log.Info("pruned", "inbound", p.Inbound, "links", p.Links, "outbox", p.Outbox, "statuses", p.Messages)
		}
		t.Reset(time.Hour)
	}
}

func (a *app) close() {
	if a.dev != nil {
		a.dev.close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

// loadTemplates reads SMSBOT_TEMPLATES: a JSON object of reply name to
// template (English), or of language code to such an object; the two
// forms mix ({"hint": "...", "es": {"hint": "..."}}). bot.NewLocalReplies
// checks the names and the templates.
func loadTemplates(path string) (bot.Overrides, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SMSBOT_TEMPLATES: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("SMSBOT_TEMPLATES %s: %w", path, err)
	}
	out := bot.Overrides{}
	flat := map[string]string{}
	for key, raw := range m {
		var text string
		if err := json.Unmarshal(raw, &text); err == nil {
			flat[key] = text
			continue
		}
		var lang map[string]string
		if err := json.Unmarshal(raw, &lang); err != nil {
			return nil, fmt.Errorf("SMSBOT_TEMPLATES %s: %q is neither a template nor a language's templates (an object of name to template)", path, key)
		}
		out[key] = lang
	}
	if len(flat) > 0 {
		for key := range out {
			if strings.EqualFold(key, bot.English.Code) {
				return nil, fmt.Errorf("SMSBOT_TEMPLATES %s: English templates both at the top and under %q; use one", path, key)
			}
		}
		out[bot.English.Code] = flat
	}
	return out, nil
}

// migrate applies the migrations and exits.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "smsbot migrate [--db FILE|URL] [--from sqlite:PATH]", "Applies the database migrations that SMSBOT_DB has not seen yet, each in its own\ntransaction, and exits. serve does the same at start; run it before a new\nversion starts (systemd's ExecStartPre), and with PostgreSQL once per deploy.\n\nWith --from, moves a SQLite deployment to PostgreSQL: SMSBOT_DB is the new,\nempty PostgreSQL database, and SMSBOT_SECRET or SMSBOT_KEY_FILE the SQLite\ndeployment's server key (the command says what to set).", stderr)
	cfg, _ := envConfig(getenv)
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite database file or postgres:// URL (SMSBOT_DB)")
	from := fs.String("from", "", migrateFromFlag)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))}
	}
	moving := false
	fs.Visit(func(f *flag.Flag) { moving = moving || f.Name == "from" })
	if moving {
		return migrateFrom(ctx, cfg, *from, stdout)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	names, err := db.Migrations(ctx)
	if err != nil {
		return fmt.Errorf("database %s: %w", dbName(cfg.DB), err)
	}
	fmt.Fprintf(stdout, "%s (%s): applied %d migration(s) now, %d in all (latest %s)\n", dbName(cfg.DB), backendName(cfg.DB), len(db.Applied()), len(names), names[len(names)-1])
	return nil
}
