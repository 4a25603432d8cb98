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
	CAFile      string
	Templates   string
	Pprof       string // SMSBOT_PPROF: net/http/pprof on this loopback address

	AnswerKeywords bool
	Limits         bot.Limits
	WebPerMinute   int    // requests per minute per client address on /l/ and /auth/callback
	WebBurst       int    // and the burst allowed
	ClientIPHeader string // the header a trusted proxy puts the client address in
	TextsPerMinute int    // global cap on texts sent through the REST API

	HTTPTimeout  time.Duration // for calls to Twilio and Auth0
	OutboxLease  time.Duration // how long a worker owns a claimed job
	RetryBase    time.Duration // first retry delay of the outbox
	RetryMax     time.Duration // longest retry delay
	RetryAttempt int           // tries before a job fails
	OutboxLanes  int           // outbox deliveries under way at once
	Retention    time.Duration // how long MessageSids, finished jobs and statuses are kept

	TwilioSID, TwilioToken, TwilioFrom, TwilioService, TwilioAPIURL string

	Auth0Domain, Auth0ClientID, Auth0Secret, Auth0Connection string
	Auth0MgmtID, Auth0MgmtSecret                             string

	Nest nestConfig
}

// setting documents one environment variable.
type setting struct {
	Env, Default, Help string
}

// settings lists every environment variable; the README's table mirrors it.
var settings = []setting{
	{"SMSBOT_ADDR", ":8080 (127.0.0.1:8080 in dev)", "address to listen on"},
	{"SMSBOT_DB", "smsbot.db", "SQLite database file"},
	{"SMSBOT_PUBLIC_URL", "http://localhost:PORT in dev", "the https URL Twilio and browsers use to reach the bot"},
	{"SMSBOT_SECRET", "generated once, kept in SMSBOT_KEY_FILE", "server key (32+ bytes, or 64 hex digits) for codes, cookies and stored replies"},
	{"SMSBOT_KEY_FILE", "SMSBOT_DB with .key appended", "file (0600) holding the generated server key when SMSBOT_SECRET is not set; keep it apart from database backups"},
	{"SMSBOT_NAME", "smsbot", "program name in texts and pages"},
	{"SMSBOT_SYNCHRONOUS", "FULL", "SQLite synchronous pragma: FULL (survives power loss) or NORMAL (survives a crash)"},
	{"SMSBOT_ANSWER_KEYWORDS", "false", "answer STOP/START/HELP ourselves (short codes, or Twilio's opt-out handling off)"},
	{"SMSBOT_TEMPLATES", "", "JSON file of reply templates overriding the defaults"},
	{"SMSBOT_PPROF", "", "serve net/http/pprof on this loopback address (profiling only), such as 127.0.0.1:6060"},
	{"SMSBOT_CA_FILE", "", "PEM file of extra CA certificates trusted for Twilio and Auth0 (proxies, tests)"},
	{"SMSBOT_LINKS_PER_HOUR", "3", "login links per phone per hour"},
	{"SMSBOT_LINKS_PER_DAY", "10", "login links per phone per day"},
	{"SMSBOT_CODE_ATTEMPTS", "5", "wrong codes allowed per login"},
	{"SMSBOT_REPLY_BUDGET", "20", "replies per phone per 10 minutes, then silence"},
	{"SMSBOT_WEB_PER_MINUTE", "30", "requests per minute per client address on /l/ and /auth/callback"},
	{"SMSBOT_WEB_BURST", "10", "burst allowed above SMSBOT_WEB_PER_MINUTE"},
	{"SMSBOT_CLIENT_IP_HEADER", "", "header with the client address set by a trusted proxy (X-Forwarded-For, X-Real-IP)"},
	{"SMSBOT_TEXTS_PER_MINUTE", "60", "global cap on texts sent through the Twilio REST API"},
	{"SMSBOT_HTTP_TIMEOUT", "10s", "timeout of each call to Twilio and Auth0"},
	{"SMSBOT_OUTBOX_LEASE", "1m", "how long a worker owns a claimed outbox job; after a crash the job is retried once this passed"},
	{"SMSBOT_OUTBOX_RETRY_BASE", "1s", "first retry delay of the outbox (doubles each try, with jitter)"},
	{"SMSBOT_OUTBOX_RETRY_MAX", "10m", "longest retry delay of the outbox"},
	{"SMSBOT_OUTBOX_ATTEMPTS", "12", "tries before an outbox job is given up"},
	{"SMSBOT_OUTBOX_WORKERS", "4", "outbox deliveries under way at once (the texts-per-minute cap still holds)"},
	{"SMSBOT_RETENTION", "720h", "how long inbound MessageSids (for replays), finished outbox jobs and delivery statuses are kept; pruned hourly"},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account SID (AC...)"},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token; checks webhook signatures and sends texts"},
	{"TWILIO_FROM_NUMBER", "", "the Twilio number texts are sent from (E.164)"},
	{"TWILIO_MESSAGING_SERVICE_SID", "", "a Messaging Service (MG...) to send from instead of a number"},
	{"TWILIO_API_URL", "https://api.twilio.com", "base URL of the Twilio REST API (proxies, tests)"},
	{"AUTH0_DOMAIN", "", "Auth0 tenant domain, such as example.us.auth0.com"},
	{"AUTH0_CLIENT_ID", "", "Auth0 Regular Web Application client id"},
	{"AUTH0_CLIENT_SECRET", "", "its client secret"},
	{"AUTH0_CONNECTION", "", "optional: the Auth0 connection to log in with"},
	{"AUTH0_MGMT_CLIENT_ID", "AUTH0_CLIENT_ID", "machine-to-machine application for the Management API"},
	{"AUTH0_MGMT_CLIENT_SECRET", "AUTH0_CLIENT_SECRET", "its client secret"},
	{"SDM_PROJECT_ID", "", "Google Device Access project id; turns on the thermostat commands (GT, ST, MODE)"},
	{"GOOGLE_CLIENT_ID", "", "the Google OAuth client of Auth0's google-oauth2 connection (refreshes Google tokens)"},
	{"GOOGLE_CLIENT_SECRET", "", "its client secret"},
	{"SDM_API_URL", "https://smartdevicemanagement.googleapis.com/v1", "base URL of the Smart Device Management API (proxies, tests)"},
	{"GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token", "Google's OAuth token endpoint (proxies, tests)"},
}

// Dev mode's fixed credentials. They only ever reach the local stand-ins.
const (
	devAccountSID = "AC00000000000000000000000000000000"
	devAuthToken  = "devtoken0000000000000000000000000"
	devBotNumber  = "+15005550006"
	devClientID   = "smsbot-dev-client"
	devSecret     = "smsbot-dev-client-secret"
)

// loadConfig reads the environment and the flags of `serve`.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	env := func(k, d string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return d
	}
	c := &config{Limits: bot.DefaultLimits(), WebPerMinute: 30, WebBurst: 10, TextsPerMinute: 60,
		HTTPTimeout: 10 * time.Second, OutboxLease: time.Minute, RetryBase: time.Second, RetryMax: 10 * time.Minute, RetryAttempt: 12, OutboxLanes: 4,
		Retention: 30 * 24 * time.Hour}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: smsbot serve [--dev] [flags]\n\nRuns the bot. Without --dev every Twilio and Auth0 setting is required.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEnvironment:\n")
		for _, s := range settings {
			fmt.Fprintf(stderr, "  %-30s %s (default: %s)\n", s.Env, s.Help, orNone(s.Default))
		}
	}
	fs.BoolVar(&c.Dev, "dev", false, "dev mode: local stand-ins for Twilio and Auth0, the Dev Phone at /dev")
	fs.StringVar(&c.Addr, "addr", env("SMSBOT_ADDR", ":8080"), "address to listen on (SMSBOT_ADDR)")
	fs.StringVar(&c.DB, "db", env("SMSBOT_DB", "smsbot.db"), "SQLite database file (SMSBOT_DB)")
	fs.StringVar(&c.PublicURL, "public-url", getenv("SMSBOT_PUBLIC_URL"), "public base URL (SMSBOT_PUBLIC_URL)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if c.Dev && getenv("SMSBOT_ADDR") == "" && !flagGiven(fs, "addr") {
		c.Addr = devAddr
	}
	c.Secret = getenv("SMSBOT_SECRET")
	c.KeyFile = getenv("SMSBOT_KEY_FILE")
	c.Name = env("SMSBOT_NAME", "smsbot")
	c.Synchronous = env("SMSBOT_SYNCHRONOUS", "FULL")
	c.CAFile = getenv("SMSBOT_CA_FILE")
	c.Templates = getenv("SMSBOT_TEMPLATES")
	c.Pprof = getenv("SMSBOT_PPROF")
	c.ClientIPHeader = getenv("SMSBOT_CLIENT_IP_HEADER")
	c.TwilioSID = getenv("TWILIO_ACCOUNT_SID")
	c.TwilioToken = getenv("TWILIO_AUTH_TOKEN")
	c.TwilioFrom = getenv("TWILIO_FROM_NUMBER")
	c.TwilioService = getenv("TWILIO_MESSAGING_SERVICE_SID")
	c.TwilioAPIURL = getenv("TWILIO_API_URL")
	c.Auth0Domain = strings.TrimSuffix(strings.TrimPrefix(getenv("AUTH0_DOMAIN"), "https://"), "/")
	c.Auth0ClientID = getenv("AUTH0_CLIENT_ID")
	c.Auth0Secret = getenv("AUTH0_CLIENT_SECRET")
	c.Auth0Connection = getenv("AUTH0_CONNECTION")
	c.Auth0MgmtID = env("AUTH0_MGMT_CLIENT_ID", c.Auth0ClientID)
	c.Auth0MgmtSecret = env("AUTH0_MGMT_CLIENT_SECRET", c.Auth0Secret)
	c.Nest = loadNestConfig(getenv)

	var errs []error
	if v := getenv("SMSBOT_ANSWER_KEYWORDS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SMSBOT_ANSWER_KEYWORDS: want true or false, not %q", v))
		}
		c.AnswerKeywords = b
	}
	for _, n := range []struct {
		env string
		dst *int
	}{
		{"SMSBOT_LINKS_PER_HOUR", &c.Limits.LinksPerHour},
		{"SMSBOT_LINKS_PER_DAY", &c.Limits.LinksPerDay},
		{"SMSBOT_CODE_ATTEMPTS", &c.Limits.CodeAttempts},
		{"SMSBOT_REPLY_BUDGET", &c.Limits.ReplyBudget},
		{"SMSBOT_WEB_PER_MINUTE", &c.WebPerMinute},
		{"SMSBOT_WEB_BURST", &c.WebBurst},
		{"SMSBOT_TEXTS_PER_MINUTE", &c.TextsPerMinute},
		{"SMSBOT_OUTBOX_ATTEMPTS", &c.RetryAttempt},
		{"SMSBOT_OUTBOX_WORKERS", &c.OutboxLanes},
	} {
		if v := getenv(n.env); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 {
				errs = append(errs, fmt.Errorf("%s: want a positive whole number, not %q", n.env, v))
				continue
			}
			*n.dst = i
		}
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{"SMSBOT_HTTP_TIMEOUT", &c.HTTPTimeout},
		{"SMSBOT_OUTBOX_LEASE", &c.OutboxLease},
		{"SMSBOT_OUTBOX_RETRY_BASE", &c.RetryBase},
		{"SMSBOT_OUTBOX_RETRY_MAX", &c.RetryMax},
		{"SMSBOT_RETENTION", &c.Retention},
	} {
		if v := getenv(d.env); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				errs = append(errs, fmt.Errorf("%s: want a duration such as 10s, not %q", d.env, v))
				continue
			}
			*d.dst = t
		}
	}
	if c.Dev {
		return c, errors.Join(errs...)
	}
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
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TwilioFrom != "" && !bot.ValidPhone(c.TwilioFrom) {
		errs = append(errs, fmt.Errorf("TWILIO_FROM_NUMBER %q is not an E.164 number such as +15551234567", c.TwilioFrom))
	}
	return c, errors.Join(errs...)
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

// flagGiven reports whether the flag called name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
