package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// config is every setting, from the environment with flags on top.
type config struct {
	Dev         bool
	Addr        string
	DB          string
	PublicURL   string
	Secret      string
	KeyFile     string
	Name        string
	Synchronous string
	PGPool      int // SMSBOT_PG_POOL: PostgreSQL connections per instance, 0 for pgxpool's default
	CAFile      string
	Templates   string
	Pprof       string // SMSBOT_PPROF: net/http/pprof on this loopback address
	MetricsAddr string // SMSBOT_METRICS_ADDR: /metrics on this address, not on Addr

	PGTimeout  time.Duration // SMSBOT_PG_TIMEOUT: bound of one PostgreSQL transaction
	PGPoolWait time.Duration // SMSBOT_PG_POOL_WAIT: bound of the wait for a free pool connection

	AnswerKeywords bool
	AccountLocale  bool // SMSBOT_ACCOUNT_LOCALE: the Auth0 locale claim sets a phone's language at the login
	Limits         bot.Limits
	WebPerMinute   int    // requests per minute per client address on /l/ and /auth/callback
	WebBurst       int    // and the burst allowed
	ClientIPHeader string // the header a trusted proxy puts the client address in
	TextsPerMinute int    // global cap on texts sent through the REST API

	HTTPTimeout     time.Duration // for calls to Twilio and Auth0
	ShutdownTimeout time.Duration // how long requests in flight may take on SIGTERM
	Drain           time.Duration // on SIGTERM, how long /readyz says 503 while requests are still served
	OutboxLease     time.Duration // how long a worker owns a claimed job
	RetryBase       time.Duration // first retry delay of the outbox
	RetryMax        time.Duration // longest retry delay
	RetryAttempt    int           // tries before a job fails
	OutboxLanes     int           // outbox deliveries under way at once
	Retention       time.Duration // how long MessageSids, finished jobs and statuses are kept

	TwilioSID, TwilioToken, TwilioFrom, TwilioService, TwilioAPIURL string
	TextNumber                                                      string // SMSBOT_TEXT_NUMBER: the number people text, for /link

	WhatsAppFrom      string            // TWILIO_WHATSAPP_FROM, E.164 without "whatsapp:"
	WhatsAppTemplates map[string]string // TWILIO_WHATSAPP_TEMPLATES: reply → ContentSid

	Auth0Domain, Auth0ClientID, Auth0Secret, Auth0Connection string
	Auth0MgmtID, Auth0MgmtSecret                             string

	Nest nestConfig
}

// setting is one environment variable: its name, the serve flag that
// overrides it (if any), its default, its help and how its value is put
// into the config. The settings table is the one place a setting is
// written down: loadConfig, serve --help and the README's table all read
// it, so adding a setting is adding a row.
type setting struct {
	Env  string
	Flag string // serve's flag that overrides Env, or ""
	// Default is the value parsed when neither Env nor Flag is given ("":
	// none). DefaultDoc, when set, describes a default that is not a plain
	// value, for the help and the README.
	Default, DefaultDoc string
	Help                string
	set                 func(c *config, v string) error
}

// doc is the default as the help and the README show it.
func (s setting) doc() string {
	if s.DefaultDoc != "" {
		return s.DefaultDoc
	}
	return s.Default
}

// settings lists every environment variable, in the order the help and
// the README show them.
var settings = []setting{
	{Env: "SMSBOT_ADDR", Flag: "addr", Default: ":8080", DefaultDoc: ":8080 (127.0.0.1:8080 in dev)", Help: "address to listen on, or fd:N to serve on the open socket N (systemd socket activation)", set: text(func(c *config) *string { return &c.Addr })},
	{Env: "SMSBOT_DB", Flag: "db", Default: "smsbot.db", Help: "SQLite database file, or a postgres:// (postgresql://) URL to keep the state in PostgreSQL (several instances)", set: text(func(c *config) *string { return &c.DB })},
	{Env: "SMSBOT_PUBLIC_URL", Flag: "public-url", DefaultDoc: "http://localhost:PORT in dev", Help: "the https URL Twilio and browsers use to reach the bot", set: text(func(c *config) *string { return &c.PublicURL })},
	{Env: "SMSBOT_SECRET", DefaultDoc: "generated once, kept in SMSBOT_KEY_FILE", Help: "server key (32+ bytes, or 64 hex digits) for codes, cookies and stored replies", set: text(func(c *config) *string { return &c.Secret })},
	{Env: "SMSBOT_KEY_FILE", DefaultDoc: "SMSBOT_DB with .key appended (SQLite)", Help: "file (0600) holding the generated server key when SMSBOT_SECRET is not set; keep it apart from database backups. With PostgreSQL set SMSBOT_SECRET or this", set: text(func(c *config) *string { return &c.KeyFile })},
	{Env: "SMSBOT_NAME", Default: "smsbot", Help: "program name in texts and pages", set: text(func(c *config) *string { return &c.Name })},
	{Env: "SMSBOT_SYNCHRONOUS", Default: "FULL", Help: "SQLite synchronous pragma: FULL (survives power loss) or NORMAL (survives a crash)", set: text(func(c *config) *string { return &c.Synchronous })},
	{Env: "SMSBOT_PG_POOL", DefaultDoc: "the greater of 4 and the number of CPUs", Help: "PostgreSQL connections per instance (pool size); SQLite ignores it", set: count(func(c *config) *int { return &c.PGPool })},
	{Env: "SMSBOT_PG_TIMEOUT", Default: "5s", Help: "PostgreSQL: the longest one transaction may take, the wait for a connection included, and the longest connecting may take (unless the URL sets connect_timeout); past it a webhook answers 503 and acknowledges nothing, well within Twilio's 15 s. SQLite ignores it", set: duration(func(c *config) *time.Duration { return &c.PGTimeout })},
	{Env: "SMSBOT_PG_POOL_WAIT", Default: "2s", Help: "PostgreSQL: how long a request waits for a free connection when all SMSBOT_PG_POOL are taken; then it answers 503 (within SMSBOT_PG_TIMEOUT)", set: duration(func(c *config) *time.Duration { return &c.PGPoolWait })},
	{Env: "SMSBOT_ANSWER_KEYWORDS", Default: "false", Help: "answer STOP/START/HELP ourselves (short codes, or Twilio's opt-out handling off)", set: boolean(func(c *config) *bool { return &c.AnswerKeywords })},
	{Env: "SMSBOT_TEMPLATES", Help: "JSON file of reply templates overriding the defaults: name to template (English), or language code to such an object (`{\"es\": {...}}`)", set: text(func(c *config) *string { return &c.Templates })},
	{Env: "SMSBOT_ACCOUNT_LOCALE", Default: "true", Help: "at the login, the Auth0 user's locale claim becomes the phone's language, unless the person chose one with LANG", set: boolean(func(c *config) *bool { return &c.AccountLocale })},
	{Env: "SMSBOT_METRICS_ADDR", Help: "serve /metrics on this address instead of SMSBOT_ADDR, such as :9090 (a bare port means 127.0.0.1; any other host is served as written, with a warning)", set: text(func(c *config) *string { return &c.MetricsAddr })},
	{Env: "SMSBOT_PPROF", Help: "serve net/http/pprof on this loopback address (profiling only), such as :6060 (127.0.0.1); the same address as SMSBOT_METRICS_ADDR shares its listener", set: text(func(c *config) *string { return &c.Pprof })},
	{Env: "SMSBOT_CA_FILE", Help: "PEM file of extra CA certificates trusted for Twilio and Auth0 (proxies, tests)", set: text(func(c *config) *string { return &c.CAFile })},
	{Env: "SMSBOT_LINKS_PER_HOUR", Default: strconv.Itoa(bot.DefaultLimits().LinksPerHour), Help: "login links per phone per hour", set: positive(func(c *config) *int { return &c.Limits.LinksPerHour })},
	{Env: "SMSBOT_LINKS_PER_DAY", Default: strconv.Itoa(bot.DefaultLimits().LinksPerDay), Help: "login links per phone per day", set: positive(func(c *config) *int { return &c.Limits.LinksPerDay })},
	{Env: "SMSBOT_CODE_ATTEMPTS", Default: strconv.Itoa(bot.DefaultLimits().CodeAttempts), Help: "wrong codes allowed per login", set: positive(func(c *config) *int { return &c.Limits.CodeAttempts })},
	{Env: "SMSBOT_CODE_ATTEMPTS_PER_ACCOUNT", Default: strconv.Itoa(bot.DefaultLimits().CodeAttemptsPerAccount), Help: "wrong codes allowed per Auth0 account per 24 hours, across all phones; then no code is checked (0: no cap)", set: count(func(c *config) *int { return &c.Limits.CodeAttemptsPerAccount })},
	{Env: "SMSBOT_REVERIFY_AFTER", Default: "2160h", Help: "a bound phone silent this long must link again (S) before its next command (0: never)", set: durationOrOff(func(c *config) *time.Duration { return &c.Limits.ReverifyAfter })},
	{Env: "SMSBOT_REPLY_BUDGET", Default: strconv.Itoa(bot.DefaultLimits().ReplyBudget), Help: "replies per phone per 10 minutes, then silence", set: positive(func(c *config) *int { return &c.Limits.ReplyBudget })},
	{Env: "SMSBOT_WEB_PER_MINUTE", Default: "30", Help: "requests per minute per client address on /l/ and /auth/callback", set: positive(func(c *config) *int { return &c.WebPerMinute })},
	{Env: "SMSBOT_WEB_BURST", Default: "10", Help: "burst allowed above SMSBOT_WEB_PER_MINUTE", set: positive(func(c *config) *int { return &c.WebBurst })},
	{Env: "SMSBOT_CLIENT_IP_HEADER", Help: "header with the client address set by a trusted proxy (X-Forwarded-For, X-Real-IP)", set: text(func(c *config) *string { return &c.ClientIPHeader })},
	{Env: "SMSBOT_TEXTS_PER_MINUTE", Default: "60", Help: "global cap on texts sent through the Twilio REST API", set: positive(func(c *config) *int { return &c.TextsPerMinute })},
	{Env: "SMSBOT_HTTP_TIMEOUT", Default: "10s", Help: "timeout of each call to Twilio and Auth0", set: duration(func(c *config) *time.Duration { return &c.HTTPTimeout })},
	{Env: "SMSBOT_SHUTDOWN_TIMEOUT", Default: "10s", Help: "on SIGTERM, how long requests in flight may take before they are cut (the stop still exits 0)", set: duration(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{Env: "SMSBOT_DRAIN", Default: "0s", Help: "on SIGTERM, how long /readyz answers 503 while requests are still served, before the socket closes: above the load balancer's health-check interval, so it turns new requests away first (`0s`: close at once, as for one instance)", set: durationOrOff(func(c *config) *time.Duration { return &c.Drain })},
	{Env: "SMSBOT_OUTBOX_LEASE", Default: "1m", Help: "how long a worker owns a claimed outbox job; after a crash the job is retried once this passed", set: duration(func(c *config) *time.Duration { return &c.OutboxLease })},
	{Env: "SMSBOT_OUTBOX_RETRY_BASE", Default: "1s", Help: "first retry delay of the outbox (doubles each try, with jitter)", set: duration(func(c *config) *time.Duration { return &c.RetryBase })},
	{Env: "SMSBOT_OUTBOX_RETRY_MAX", Default: "10m", Help: "longest retry delay of the outbox", set: duration(func(c *config) *time.Duration { return &c.RetryMax })},
	{Env: "SMSBOT_OUTBOX_ATTEMPTS", Default: "12", Help: "tries before an outbox job is given up", set: positive(func(c *config) *int { return &c.RetryAttempt })},
	{Env: "SMSBOT_OUTBOX_WORKERS", Default: "4", Help: "outbox deliveries under way at once (the texts-per-minute cap still holds)", set: positive(func(c *config) *int { return &c.OutboxLanes })},
	{Env: "SMSBOT_RETENTION", Default: "720h", Help: "how long inbound MessageSids (for replays), finished outbox jobs and delivery statuses are kept; pruned hourly", set: duration(func(c *config) *time.Duration { return &c.Retention })},
	{Env: "TWILIO_ACCOUNT_SID", Help: "Twilio account SID (AC...)", set: text(func(c *config) *string { return &c.TwilioSID })},
	{Env: "TWILIO_AUTH_TOKEN", Help: "Twilio auth token; checks webhook signatures and sends texts", set: text(func(c *config) *string { return &c.TwilioToken })},
	{Env: "TWILIO_FROM_NUMBER", Help: "the Twilio number texts are sent from (E.164)", set: text(func(c *config) *string { return &c.TwilioFrom })},
	{Env: "TWILIO_MESSAGING_SERVICE_SID", Help: "a Messaging Service (MG...) to send from instead of a number", set: text(func(c *config) *string { return &c.TwilioService })},
	{Env: "TWILIO_WHATSAPP_FROM", Help: "the WhatsApp sender (E.164, whatsapp: optional); texts to people who write on WhatsApp go from it, else through TWILIO_MESSAGING_SERVICE_SID", set: whatsAppSender},
	{Env: "TWILIO_WHATSAPP_TEMPLATES", Help: "approved WhatsApp templates for texts outside the 24-hour window, reply=ContentSid, comma-separated (code_prompt=HX...,replaced=HX...,unsubscribed=HX...); without one such a text is skipped", set: whatsAppTemplates},
	{Env: "SMSBOT_TEXT_NUMBER", DefaultDoc: "TWILIO_FROM_NUMBER", Help: "the number people text (E.164), shown on the web-first page /link and in its sms: link and QR code; with a Messaging Service set it to one of the service's numbers, else /link is not offered", set: text(func(c *config) *string { return &c.TextNumber })},
	{Env: "TWILIO_API_URL", DefaultDoc: "https://api.twilio.com", Help: "base URL of the Twilio REST API (proxies, tests)", set: text(func(c *config) *string { return &c.TwilioAPIURL })},
	{Env: "AUTH0_DOMAIN", Help: "Auth0 tenant domain, such as example.us.auth0.com", set: func(c *config, v string) error {
		c.Auth0Domain = strings.TrimSuffix(strings.TrimPrefix(v, "https://"), "/")
		return nil
	}},
	{Env: "AUTH0_CLIENT_ID", Help: "Auth0 Regular Web Application client id", set: text(func(c *config) *string { return &c.Auth0ClientID })},
	{Env: "AUTH0_CLIENT_SECRET", Help: "its client secret", set: text(func(c *config) *string { return &c.Auth0Secret })},
	{Env: "AUTH0_CONNECTION", Help: "optional: the Auth0 connection to log in with", set: text(func(c *config) *string { return &c.Auth0Connection })},
	{Env: "AUTH0_MGMT_CLIENT_ID", DefaultDoc: "AUTH0_CLIENT_ID", Help: "machine-to-machine application for the Management API", set: text(func(c *config) *string { return &c.Auth0MgmtID })},
	{Env: "AUTH0_MGMT_CLIENT_SECRET", DefaultDoc: "AUTH0_CLIENT_SECRET", Help: "its client secret", set: text(func(c *config) *string { return &c.Auth0MgmtSecret })},
	{Env: "SDM_PROJECT_ID", Help: "Google Device Access project id; turns on the thermostat commands (GT, ST, MODE)", set: text(func(c *config) *string { return &c.Nest.Project })},
	{Env: "GOOGLE_CLIENT_ID", Help: "the Google OAuth client of Auth0's google-oauth2 connection (refreshes Google tokens)", set: text(func(c *config) *string { return &c.Nest.ClientID })},
	{Env: "GOOGLE_CLIENT_SECRET", Help: "its client secret", set: text(func(c *config) *string { return &c.Nest.ClientSecret })},
	{Env: "SDM_API_URL", DefaultDoc: "https://smartdevicemanagement.googleapis.com/v1", Help: "base URL of the Smart Device Management API (proxies, tests)", set: text(func(c *config) *string { return &c.Nest.APIURL })},
	{Env: "GOOGLE_TOKEN_URL", DefaultDoc: "https://oauth2.googleapis.com/token", Help: "Google's OAuth token endpoint (proxies, tests)", set: text(func(c *config) *string { return &c.Nest.TokenURL })},
}

// text parses a setting that is kept as given.
func text(field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *field(c) = v; return nil }
}

// positive parses a whole number of at least 1.
func positive(field func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 {
			return fmt.Errorf("want a positive whole number, not %q", v)
		}
		*field(c) = i
		return nil
	}
}

// duration parses a positive duration such as 10s.
func duration(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a duration such as 10s, not %q", v)
		}
		*field(c) = d
		return nil
	}
}

// count parses a whole number, 0 meaning off.
func count(field func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return fmt.Errorf("want a whole number (0 for off), not %q", v)
		}
		*field(c) = i
		return nil
	}
}

// durationOrOff parses a duration such as 2160h, 0 meaning off.
func durationOrOff(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 2160h (0 for off), not %q", v)
		}
		*field(c) = d
		return nil
	}
}

// boolean parses true or false.
func boolean(field func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, not %q", v)
		}
		*field(c) = b
		return nil
	}
}

// Dev mode's fixed credentials. They only ever reach the local stand-ins.
const (
	devAccountSID = "AC00000000000000000000000000000000"
	devAuthToken  = "devtoken0000000000000000000000000"
	devBotNumber  = "+15005550006"
	devClientID   = "smsbot-dev-client"
	devSecret     = "smsbot-dev-client-secret"
)

// loadConfig reads the settings from the environment, with serve's flags
// on top, and checks that production has what it needs.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{Limits: bot.DefaultLimits()}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: smsbot serve [--dev] [flags]\n\nRuns the bot. Without --dev every Twilio and Auth0 setting is required.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEnvironment:\n")
		for _, s := range settings {
			fmt.Fprintf(stderr, "  %-30s %s (default: %s)\n", s.Env, s.Help, orNone(s.doc()))
		}
	}
	fs.BoolVar(&c.Dev, "dev", false, "dev mode: local stand-ins for Twilio and Auth0, the Dev Phone at /dev")
	flags := map[string]*string{}
	for _, s := range settings {
		if s.Flag != "" {
			flags[s.Flag] = fs.String(s.Flag, "", fmt.Sprintf("%s (%s)", s.Help, s.Env))
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var errs []error
	for _, s := range settings {
		v := getenv(s.Env)
		if given[s.Flag] {
			v = *flags[s.Flag]
		}
		if v == "" {
			v = s.Default
		}
		if v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
		}
	}
	if c.Dev && getenv("SMSBOT_ADDR") == "" && !given["addr"] {
		c.Addr = devAddr
	}
	if c.Auth0MgmtID == "" {
		c.Auth0MgmtID = c.Auth0ClientID
	}
	if c.Auth0MgmtSecret == "" {
		c.Auth0MgmtSecret = c.Auth0Secret
	}
	if c.Dev {
		if isPostgres(c.DB) {
			errs = append(errs, errors.New("dev mode stays on SQLite: SMSBOT_DB is a PostgreSQL URL; pass --db FILE"))
		}
		return c, errors.Join(errs...)
	}
	return c, errors.Join(append(errs, c.checkProduction()...)...)
}

// checkProduction lists what production lacks or has malformed.
func (c *config) checkProduction() []error {
	var errs []error
	missing := func(env, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is not set", env))
		}
	}
	missing("SMSBOT_PUBLIC_URL", c.PublicURL)
	missing("TWILIO_ACCOUNT_SID", c.TwilioSID)
	missing("TWILIO_AUTH_TOKEN", c.TwilioToken)
	if c.TwilioFrom == "" && c.TwilioService == "" {
		errs = append(errs, errors.New("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is not set"))
	}
	missing("AUTH0_DOMAIN", c.Auth0Domain)
	missing("AUTH0_CLIENT_ID", c.Auth0ClientID)
	missing("AUTH0_CLIENT_SECRET", c.Auth0Secret)
	errs = append(errs, c.Nest.check()...)
	if err := checkKeySource(c); err != nil {
		errs = append(errs, err)
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TextNumber != "" && !bot.ValidPhone(c.TextNumber) {
		errs = append(errs, fmt.Errorf("SMSBOT_TEXT_NUMBER %q is not an E.164 number such as +15551234567", c.TextNumber))
	}
	if c.TwilioFrom != "" && !bot.ValidPhone(c.TwilioFrom) {
		errs = append(errs, fmt.Errorf("TWILIO_FROM_NUMBER %q is not an E.164 number such as +15551234567", c.TwilioFrom))
	}
	return errs
}

// checkPublicURL wants https, except on loopback addresses (tests, a local
// proxy).
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("SMSBOT_PUBLIC_URL %q: want https://host[:port]", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("SMSBOT_PUBLIC_URL %q: want just scheme and host, no path or query", s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("SMSBOT_PUBLIC_URL %q: must be https (Twilio signs and browsers send cookies to it)", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// httpClient returns the client for Twilio and Auth0: the system roots plus
// SMSBOT_CA_FILE's certificates.
func (c *config) httpClient() (*http.Client, error) {
	hc := &http.Client{Timeout: c.HTTPTimeout}
	if c.CAFile == "" {
		return hc, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("SMSBOT_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SMSBOT_CA_FILE %s: no PEM certificates in it", c.CAFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	hc.Transport = tr
	return hc, nil
}
