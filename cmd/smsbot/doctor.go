package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/webhooks"
)

const doctorHelp = `
Checks the configuration and the far ends, one line per check: OK, FAIL
(with how to fix it), WARN (could not check; does not fail) or SKIP (an
earlier check failed). It reads the same environment as smsbot serve.

  config            every setting serve needs is set and well-formed
  public URL        SMSBOT_PUBLIC_URL is https
  database          SMSBOT_DB opens, migrates and takes a write
  public path       SMSBOT_PUBLIC_URL/readyz reaches a smsbot serve that
                    uses SMSBOT_DB (it serves the nonce of its start, which
                    each instance records there; behind a load balancer,
                    any instance's will do)
  client IP header  with SMSBOT_CLIENT_IP_HEADER set: the proxy sets it
  file modes        the database, its -wal/-shm and the key file are not
                    readable by other users (WARN with the chmod to run)
  reply templates   SMSBOT_TEMPLATES parses; HELP replies meet carrier rules
  twilio account    TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN work
  twilio sender     TWILIO_FROM_NUMBER is a number of the account, or
                    TWILIO_MESSAGING_SERVICE_SID exists
  twilio webhook    the number's SMS URL (POST) is SMSBOT_PUBLIC_URL +
                    /webhooks/twilio/sms (its voice status callback is left
                    alone); a Messaging Service's incoming URL and status
                    callback are /webhooks/twilio/sms and /status
  whatsapp sender   with TWILIO_WHATSAPP_FROM set: it is an online WhatsApp
                    sender of the account (WARN for the Sandbox's number)
  whatsapp webhook  its incoming messages come to /webhooks/twilio/sms
  whatsapp templates  each ContentSid of TWILIO_WHATSAPP_TEMPLATES is
                    approved for WhatsApp (WARN when none is set)
  auth0 domain      AUTH0_DOMAIN answers with its signing keys (JWKS)
  auth0 login app   AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are accepted
  auth0 management  the management client gets a Management API token
  auth0 callback    SMSBOT_PUBLIC_URL/auth/callback is an allowed callback
  auth0 scopes      the management client has read:users and
                    update:users_app_metadata

It changes nothing at Twilio or Auth0; it creates the database file if
there is none. It exits 1 when any check fails. --json prints the same
findings as one JSON object, for scripts.
`

// Statuses of a doctor check.
const (
	checkOK   = "OK"
	checkFail = "FAIL"
	checkWarn = "WARN"
	checkSkip = "SKIP"
)

// finding is the result of one check.
type finding struct {
	Status string `json:"status"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctor runs the checks and prints each one as it finishes (or all of
// them as JSON at the end).
type doctor struct {
	ctx      context.Context
	cfg      *config
	out      io.Writer
	hc       *http.Client
	json     bool
	findings []finding
	failed   int
}

func (d *doctor) report(f finding) {
	if f.Status == checkFail {
		d.failed++
	}
	d.findings = append(d.findings, f)
	if d.json {
		return
	}
	line := fmt.Sprintf("%-4s  %-17s %s", f.Status, f.Check, f.Detail)
	if f.Fix != "" {
		line += " -- fix: " + f.Fix
	}
	fmt.Fprintln(d.out, strings.TrimRight(line, " "))
}

func (d *doctor) ok(check, format string, args ...any) {
	d.report(finding{Status: checkOK, Check: check, Detail: fmt.Sprintf(format, args...)})
}

func (d *doctor) fail(check, detail, fix string) {
	d.report(finding{Status: checkFail, Check: check, Detail: detail, Fix: fix})
}

func (d *doctor) skip(check, why string) {
	d.report(finding{Status: checkSkip, Check: check, Detail: why})
}

// runDoctor is `smsbot doctor`.
func runDoctor(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "smsbot doctor [flags]", doctorHelp, stderr)
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for each call to Twilio, Auth0 or the public URL")
	asJSON := fs.Bool("json", false, `print the findings as one JSON object ({"findings": [{"status", "check", "detail", "fix"}], "failed": N}) at the end`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))}
	}
	cfg, cfgErr := envConfig(getenv)
	d := &doctor{ctx: ctx, cfg: cfg, out: stdout, json: *asJSON}
	d.checkConfig(cfgErr)
	hc, err := cfg.httpClient()
	if err != nil {
		d.fail("config", err.Error(), "point SMSBOT_CA_FILE at a readable PEM file, or unset it")
		hc = &http.Client{}
	}
	hc.Timeout = *timeout
	d.hc = hc
	d.checkPublicURL()
	d.checkDatabase()
	d.checkPublicPath()
	d.checkFileModes()
	d.checkTemplates()
	d.checkTwilio()
	d.checkWhatsApp()
	d.checkAuth0()
	if d.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Findings []finding `json:"findings"`
			Failed   int       `json:"failed"`
		}{d.findings, d.failed}); err != nil {
			return err
		}
		if d.failed > 0 {
			return fmt.Errorf("doctor: %d check(s) failed", d.failed)
		}
		return nil
	}
	if d.failed > 0 {
		fmt.Fprintf(stdout, "\n%d check(s) failed.\n", d.failed)
		return fmt.Errorf("doctor: %d check(s) failed", d.failed)
	}
	fmt.Fprintln(stdout, "\nAll checks passed.")
	return nil
}

func (d *doctor) checkConfig(err error) {
	if err == nil {
		d.ok("config", "every required setting is set")
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		d.fail("config", e.Error(), "set it in the environment (smsbot serve --help lists every setting)")
	}
}

func (d *doctor) checkPublicURL() {
	const check = "public URL"
	pub := d.cfg.PublicURL
	if pub == "" {
		d.skip(check, "SMSBOT_PUBLIC_URL is not set")
		return
	}
	u, err := url.Parse(pub)
	switch {
	case err != nil || u.Host == "":
		d.fail(check, fmt.Sprintf("%q is not a URL", pub), "set SMSBOT_PUBLIC_URL to https://your-host")
	case u.Scheme != "https":
		d.fail(check, fmt.Sprintf("wrong scheme: %s is %s, Twilio and browsers need https", pub, u.Scheme),
			"put a TLS-terminating reverse proxy in front of smsbot and set SMSBOT_PUBLIC_URL to its https:// URL")
	default:
		d.ok(check, "%s", pub)
	}
}

func (d *doctor) checkDatabase() {
	const check = "database"
	db, err := openDatabase(d.ctx, d.cfg)
	if err != nil {
		d.fail(check, err.Error(), "make SMSBOT_DB a file in a directory smsbot can write to, or a postgres:// URL of a server that answers")
		return
	}
	defer db.Close()
	if err := db.Ping(d.ctx); err != nil {
		d.fail(check, fmt.Sprintf("%s does not take writes: %v", d.cfg.DB, err), "check the file's permissions and free disk space")
		return
	}
	names, err := db.Migrations(d.ctx)
	if err != nil || len(names) == 0 {
		d.fail(check, fmt.Sprintf("%s: reading migrations: %v", d.cfg.DB, err), "run smsbot migrate")
		return
	}
	d.ok(check, "%s is writable, %d migrations applied", d.cfg.DB, len(names))
}

// checkPublicPath fetches SMSBOT_PUBLIC_URL/readyz, as Twilio and
// browsers reach it, and looks for the instance nonce it serves among
// those the instances of smsbot serve on SMSBOT_DB record there: behind a
// load balancer any of them may answer; with
// SMSBOT_CLIENT_IP_HEADER set, it checks that the proxy sets that header.
func (d *doctor) checkPublicPath() {
	const check, ipCheck = "public path", "client IP header"
	c := d.cfg
	if c.PublicURL == "" {
		d.skip(check, "SMSBOT_PUBLIC_URL is not set")
		return
	}
	target := strings.TrimRight(c.PublicURL, "/") + pathReady
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, target, nil)
	if err != nil {
		d.fail(check, err.Error(), "set SMSBOT_PUBLIC_URL to https://your-host")
		return
	}
	res, err := d.hc.Do(req)
	if err != nil {
		// Not a failure: doctor also runs before the server first starts.
		d.report(finding{Status: checkWarn, Check: check, Detail: fmt.Sprintf("%s: %v", target, err),
			Fix: "start smsbot serve and run doctor again; if it runs, check DNS, the reverse proxy, the firewall and its TLS certificate (SMSBOT_CA_FILE if it is from a private CA)"})
		d.skipClientIP(ipCheck)
		return
	}
	res.Body.Close()
	got := res.Header.Get(headerInstance)
	recorded, live, dbErr := d.instances()
	switch {
	case res.StatusCode != http.StatusOK:
		d.fail(check, fmt.Sprintf("%s answered %s", target, res.Status), "see the server's log: /readyz fails while the database or the outbox worker does")
	case got == "":
		d.fail(check, fmt.Sprintf("%s answers, but not as smsbot (no %s header)", target, headerInstance),
			"point the reverse proxy at smsbot serve (SMSBOT_ADDR)")
	case dbErr != nil:
		d.report(finding{Status: checkWarn, Check: check, Detail: fmt.Sprintf("smsbot answers at %s; cannot read this start's nonce: %v", target, dbErr)})
	case len(recorded) == 0:
		d.report(finding{Status: checkWarn, Check: check,
			Detail: fmt.Sprintf("smsbot answers at %s, but no smsbot serve runs on %s", target, dbName(c.DB)),
			Fix:    "run doctor with the same SMSBOT_DB as smsbot serve"})
	case !slices.Contains(recorded, got):
		d.fail(check, fmt.Sprintf("%s is answered by another smsbot than the ones using %s", target, dbName(c.DB)),
			"point the reverse proxy (and DNS) at the instances on this database, or run doctor with their SMSBOT_DB")
	default:
		d.ok(check, "%s reaches a smsbot serve using %s (%d instance(s) seen there in the last %s)", target, dbName(c.DB), live, instanceStale)
	}
	if c.ClientIPHeader == "" {
		return
	}
	switch res.Header.Get(headerClientIP) {
	case "present":
		d.ok(ipCheck, "the proxy sets %s", c.ClientIPHeader)
	case "absent":
		d.fail(ipCheck, fmt.Sprintf("requests through %s arrive without %s", c.PublicURL, c.ClientIPHeader),
			fmt.Sprintf("make the reverse proxy set %s (nginx: proxy_set_header %s $remote_addr;), or unset SMSBOT_CLIENT_IP_HEADER", c.ClientIPHeader, c.ClientIPHeader))
	default:
		d.skipClientIP(ipCheck)
	}
}

func (d *doctor) skipClientIP(check string) {
	if d.cfg.ClientIPHeader != "" {
		d.skip(check, "smsbot did not answer at the public URL")
	}
}

// instances reads the nonces the instances of smsbot serve recorded in
// SMSBOT_DB, and counts those seen within instanceStale.
func (d *doctor) instances() (recorded []string, live int, err error) {
	db, err := openDatabase(d.ctx, d.cfg)
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	if recorded, err = db.Instances(d.ctx, time.Time{}); err != nil {
		return nil, 0, err
	}
	seen, err := db.Instances(d.ctx, time.Now().Add(-instanceStale))
	return recorded, len(seen), err
}

func (d *doctor) checkTemplates() {
	const check = "reply templates"
	overrides, err := loadTemplates(d.cfg.Templates)
	if err != nil {
		d.fail(check, err.Error(), "fix the JSON file SMSBOT_TEMPLATES names, or unset it")
		return
	}
	replies, warnings, err := bot.NewLocalReplies(overrides)
	if err != nil {
		d.fail(check, err.Error(), "fix that template in SMSBOT_TEMPLATES")
		return
	}
	for _, l := range bot.Languages {
		for _, name := range helpReplies {
			text, err := replies.RenderIn(l, name, bot.ReplyData{Name: d.cfg.Name, Commands: "X = example"})
			if err != nil {
				d.fail(check, err.Error(), "fix that template in SMSBOT_TEMPLATES")
				return
			}
			if missing := carrierRules(text, d.cfg.Name, l); len(missing) > 0 {
				d.fail(check, fmt.Sprintf("%s (%s) lacks %s", name, l.Code, strings.Join(missing, ", ")),
					fmt.Sprintf("carriers require the program name, how to get help, how to stop and %q in HELP replies", l.Rates))
				return
			}
		}
	}
	n := len(bot.DefaultReplies)
	if len(warnings) > 0 {
		d.ok(check, "%d templates in %d languages; %s", n, len(bot.Languages), strings.Join(warnings, "; "))
		return
	}
	d.ok(check, "%d templates in %d languages, each one SMS segment; HELP replies meet carrier rules", n, len(bot.Languages))
}

// helpReplies are the replies to H (and HELP when the bot answers it).
var helpReplies = []string{bot.ReplyHelpIdle, bot.ReplyHelpLogin, bot.ReplyHelpCode, bot.ReplyHelpSub}

// carrierRules lists what a HELP reply in language l lacks of what US
// carriers (CTIA) require: the program name, how to get help (the
// language's word for help), how to opt out (STOP, or the language's own
// STOP word), and the rates notice in the language.
func carrierRules(text, name string, l bot.Language) []string {
	var missing []string
	if name == "" {
		name = "smsbot"
	}
	if !strings.Contains(text, name) {
		missing = append(missing, "the program name")
	}
	if !strings.Contains(strings.ToLower(text), l.HelpNoun) {
		missing = append(missing, fmt.Sprintf("how to get help (%s)", l.HelpNoun))
	}
	stop := strings.Contains(text, "STOP")
	for _, w := range l.Stop {
		stop = stop || strings.Contains(bot.Fold(text), w)
	}
	if !stop {
		missing = append(missing, "how to stop (STOP)")
	}
	if !strings.Contains(text, l.Rates) {
		missing = append(missing, fmt.Sprintf("%q", l.Rates))
	}
	return missing
}

func (d *doctor) checkTwilio() {
	c := d.cfg
	if c.TwilioSID == "" || c.TwilioToken == "" {
		d.skip("twilio account", "TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is not set")
		d.skip("twilio sender", "no Twilio credentials")
		d.skip("twilio webhook", "no Twilio credentials")
		return
	}
	tw, err := c.twilioAdmin(d.hc)
	if err != nil {
		d.fail("twilio account", err.Error(), "fix TWILIO_API_URL, or unset it")
		d.skip("twilio sender", "no Twilio client")
		d.skip("twilio webhook", "no Twilio client")
		return
	}
	acct, err := tw.Account()
	switch {
	case err != nil:
		fix := "copy Account SID and Auth Token from the Twilio console (Account Info) into TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
		if webhooks.ErrorCode(err) == 0 {
			fix = "check that " + twilioHost(c) + " is reachable from here (proxy, firewall; SMSBOT_CA_FILE if it presents a private CA)"
		}
		d.fail("twilio account", err.Error(), fix)
		d.skip("twilio sender", "the Twilio account check failed")
		d.skip("twilio webhook", "the Twilio account check failed")
		return
	case acct.Status != "active":
		d.fail("twilio account", fmt.Sprintf("account %s is %s", c.TwilioSID, acct.Status), "reactivate the account in the Twilio console")
	default:
		d.ok("twilio account", "account %s is active", c.TwilioSID)
	}
	switch {
	case c.TwilioFrom != "":
		d.checkNumber(tw)
	case c.TwilioService != "":
		d.checkService(tw)
	default:
		d.skip("twilio sender", "neither TWILIO_FROM_NUMBER nor TWILIO_MESSAGING_SERVICE_SID is set")
		d.skip("twilio webhook", "no sender")
	}
}

// twilioHost is the host the Twilio checks call: TWILIO_API_URL's, or
// Twilio's own.
func twilioHost(c *config) string {
	if u, err := url.Parse(c.TwilioAPIURL); err == nil && u.Host != "" {
		return u.Host + " (TWILIO_API_URL)"
	}
	return "api.twilio.com"
}

func (d *doctor) checkNumber(tw *webhooks.Admin) {
	c := d.cfg
	n, err := tw.Number(c.TwilioFrom)
	switch {
	case err != nil:
		d.fail("twilio sender", err.Error(), "check the Twilio credentials and network")
		d.skip("twilio webhook", "the number could not be read")
		return
	case n == nil:
		d.fail("twilio sender", fmt.Sprintf("%s is not a number of account %s", c.TwilioFrom, c.TwilioSID),
			"set TWILIO_FROM_NUMBER to one of the account's numbers (Phone Numbers > Active numbers), in E.164 form")
		d.skip("twilio webhook", "no such number")
		return
	}
	d.ok("twilio sender", "%s belongs to the account (%s)", c.TwilioFrom, n.SID)
	if c.PublicURL == "" {
		d.skip("twilio webhook", "SMSBOT_PUBLIC_URL is not set")
		return
	}
	pub := strings.TrimRight(c.PublicURL, "/")
	var wrong []string
	if want := pub + webhooks.PathSMS; n.SMSURL != want {
		wrong = append(wrong, fmt.Sprintf("SMS URL is %q, want %q", n.SMSURL, want))
	}
	if n.SMSMethod != "" && n.SMSMethod != http.MethodPost {
		wrong = append(wrong, fmt.Sprintf("SMS method is %s, want POST", n.SMSMethod))
	}
	if len(wrong) > 0 {
		d.fail("twilio webhook", strings.Join(wrong, "; "), "run smsbot twilio-webhook")
		return
	}
	d.ok("twilio webhook", "SMS URL %s (POST); delivery statuses come with each text", pub+webhooks.PathSMS)
}

func (d *doctor) checkService(tw *webhooks.Admin) {
	c := d.cfg
	svc, err := tw.MessagingService(c.TwilioService)
	if err != nil {
		fix := "check the Twilio credentials and network"
		if webhooks.ErrorCode(err) == 20404 {
			fix = "set TWILIO_MESSAGING_SERVICE_SID to a service of this account (Messaging > Services)"
		}
		d.fail("twilio sender", fmt.Sprintf("Messaging Service %s: %v", c.TwilioService, err), fix)
		d.skip("twilio webhook", "the Messaging Service could not be read")
		return
	}
	d.ok("twilio sender", "Messaging Service %s (%s) exists", c.TwilioService, svc.FriendlyName)
	if c.PublicURL == "" {
		d.skip("twilio webhook", "SMSBOT_PUBLIC_URL is not set")
		return
	}
	if svc.UseNumberWebhooks {
		d.report(finding{Status: checkWarn, Check: "twilio webhook",
			Detail: "the service uses each number's own webhook; check the numbers' SMS URLs",
			Fix:    "turn off \"use inbound webhook on number\", or run smsbot twilio-webhook with TWILIO_FROM_NUMBER set"})
		return
	}
	pub := strings.TrimRight(c.PublicURL, "/")
	var wrong []string
	if want := pub + webhooks.PathSMS; svc.InboundURL != want {
		wrong = append(wrong, fmt.Sprintf("incoming URL is %q, want %q", svc.InboundURL, want))
	}
	if svc.InboundMethod != "" && svc.InboundMethod != http.MethodPost {
		wrong = append(wrong, fmt.Sprintf("incoming method is %s, want POST", svc.InboundMethod))
	}
	if want := pub + webhooks.PathStatus; svc.StatusCallback != want {
		wrong = append(wrong, fmt.Sprintf("status callback is %q, want %q", svc.StatusCallback, want))
	}
	if len(wrong) > 0 {
		d.fail("twilio webhook", strings.Join(wrong, "; "), "run smsbot twilio-webhook")
		return
	}
	d.ok("twilio webhook", "incoming URL %s (POST), status callback %s", pub+webhooks.PathSMS, pub+webhooks.PathStatus)
}

func (d *doctor) checkAuth0() {
	c := d.cfg
	checks := []string{"auth0 domain", "auth0 login app", "auth0 management", "auth0 callback", "auth0 scopes"}
	if c.Auth0Domain == "" {
		for _, ch := range checks {
			d.skip(ch, "AUTH0_DOMAIN is not set")
		}
		return
	}
	t := magiclink.NewTenant(magiclink.TenantConfig{
		Domain: c.Auth0Domain, MgmtClientID: c.Auth0MgmtID, MgmtSecret: c.Auth0MgmtSecret, HTTPClient: d.hc,
	})
	// The domain and its signing keys, which the login needs to verify ID
	// tokens.
	keys, err := t.SigningKeys(d.ctx)
	var ae *magiclink.AuthError
	switch {
	case errors.As(err, &ae):
		d.fail("auth0 domain", fmt.Sprintf("https://%s/.well-known/jwks.json answered %v", c.Auth0Domain, ae),
			"set AUTH0_DOMAIN to the tenant's domain, such as example.us.auth0.com")
	case err == nil && keys == 0:
		d.fail("auth0 domain", fmt.Sprintf("https://%s/.well-known/jwks.json has no signing keys", c.Auth0Domain),
			"set AUTH0_DOMAIN to the tenant's domain, such as example.us.auth0.com")
	case err != nil:
		d.fail("auth0 domain", fmt.Sprintf("https://%s: %v", c.Auth0Domain, err),
			"set AUTH0_DOMAIN to the tenant's domain (such as example.us.auth0.com) and check the network (SMSBOT_CA_FILE if it presents a private CA)")
	default:
		d.ok("auth0 domain", "https://%s answers, %d signing keys", c.Auth0Domain, keys)
		d.checkLoginApp(t)
		if d.checkManagement(t) {
			d.checkCallback(t)
			d.checkScopes(t)
			return
		}
		d.skip("auth0 callback", "no Management API token")
		d.skip("auth0 scopes", "no Management API token")
		return
	}
	for _, ch := range checks[1:] {
		d.skip(ch, "Auth0 is not reachable")
	}
}

// checkLoginApp checks the login application's client id and secret.
func (d *doctor) checkLoginApp(t *magiclink.Tenant) {
	const check = "auth0 login app"
	c := d.cfg
	if c.Auth0ClientID == "" || c.Auth0Secret == "" {
		d.skip(check, "AUTH0_CLIENT_ID or AUTH0_CLIENT_SECRET is not set")
		return
	}
	err := t.CheckLogin(d.ctx, c.Auth0ClientID, c.Auth0Secret, strings.TrimRight(c.PublicURL, "/")+magiclink.PathCallback)
	var ae *magiclink.AuthError
	switch {
	case err == nil:
		d.ok(check, "client %s and its secret are accepted", c.Auth0ClientID)
	case !errors.As(err, &ae):
		d.fail(check, err.Error(), "check the network to Auth0")
	case ae.Status == http.StatusUnauthorized || ae.Code == "access_denied" || ae.Code == "invalid_client":
		d.fail(check, fmt.Sprintf("client %s: %v", c.Auth0ClientID, ae),
			"copy Client ID and Client Secret from Auth0 (Applications > your Regular Web Application > Settings) into AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET")
	case ae.Code == "unauthorized_client":
		d.fail(check, fmt.Sprintf("client %s: %v", c.Auth0ClientID, ae),
			"enable the Authorization Code grant (Application > Advanced Settings > Grant Types)")
	default:
		d.fail(check, fmt.Sprintf("client %s: %v", c.Auth0ClientID, ae), "check the application in the Auth0 dashboard")
	}
}

// checkManagement gets a Management API token with the client
// credentials grant, as the outbox worker does; it reports whether it got
// one.
func (d *doctor) checkManagement(t *magiclink.Tenant) bool {
	const check = "auth0 management"
	c := d.cfg
	if c.Auth0MgmtID == "" || c.Auth0MgmtSecret == "" {
		d.skip(check, "AUTH0_MGMT_CLIENT_ID or AUTH0_MGMT_CLIENT_SECRET is not set")
		return false
	}
	err := t.ManagementToken(d.ctx)
	var ae *magiclink.AuthError
	switch {
	case err == nil:
		d.ok(check, "client %s gets a Management API token", c.Auth0MgmtID)
		return true
	case !errors.As(err, &ae):
		d.fail(check, err.Error(), "check the network to Auth0")
	case ae.Status == http.StatusUnauthorized:
		d.fail(check, fmt.Sprintf("client %s: %v", c.Auth0MgmtID, ae),
			"set AUTH0_MGMT_CLIENT_ID and AUTH0_MGMT_CLIENT_SECRET to the Machine to Machine application's Client ID and Secret")
	default:
		d.fail(check, fmt.Sprintf("client %s: %v", c.Auth0MgmtID, ae),
			"authorize the Machine to Machine application for the Auth0 Management API (Applications > APIs > Auth0 Management API > Machine to Machine Applications)")
	}
	return false
}

// authStatus returns the HTTP status of an Auth0 error answer, or 0.
func authStatus(err error) int {
	var ae *magiclink.AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func (d *doctor) checkCallback(t *magiclink.Tenant) {
	const check = "auth0 callback"
	c := d.cfg
	if c.PublicURL == "" || c.Auth0ClientID == "" {
		d.skip(check, "SMSBOT_PUBLIC_URL or AUTH0_CLIENT_ID is not set")
		return
	}
	want := strings.TrimRight(c.PublicURL, "/") + magiclink.PathCallback
	callbacks, err := t.Callbacks(d.ctx, c.Auth0ClientID)
	switch {
	case authStatus(err) == http.StatusForbidden:
		d.report(finding{Status: checkWarn, Check: check,
			Detail: fmt.Sprintf("cannot read the application's callbacks: %v", err),
			Fix:    fmt.Sprintf("give the management client read:clients so doctor can check, or make sure Allowed Callback URLs has %s", want)})
		return
	case authStatus(err) == http.StatusNotFound:
		d.fail(check, fmt.Sprintf("no application %s in the tenant", c.Auth0ClientID), "set AUTH0_CLIENT_ID to the Regular Web Application's Client ID")
		return
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
		return
	}
	if !slices.Contains(callbacks, want) {
		d.fail(check, fmt.Sprintf("%s is not among the Allowed Callback URLs %q", want, callbacks),
			fmt.Sprintf("add %s to Allowed Callback URLs (Applications > your app > Settings)", want))
		return
	}
	d.ok(check, "%s is allowed", want)
}

// neededScopes are the Management API scopes the outbox worker needs; an
// alternative that also serves is listed after a |.
var neededScopes = []string{"read:users", "update:users_app_metadata|update:users"}

func (d *doctor) checkScopes(t *magiclink.Tenant) {
	const check = "auth0 scopes"
	c := d.cfg
	have, err := t.ManagementScopes(d.ctx)
	switch {
	case authStatus(err) == http.StatusForbidden:
		d.report(finding{Status: checkWarn, Check: check,
			Detail: fmt.Sprintf("cannot read client grants: %v", err),
			Fix:    "give the management client read:client_grants so doctor can check, or make sure it has read:users and update:users_app_metadata"})
		return
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
		return
	}
	var missing []string
	for _, need := range neededScopes {
		found := false
		for _, s := range strings.Split(need, "|") {
			found = found || slices.Contains(have, s)
		}
		if !found {
			missing = append(missing, strings.Split(need, "|")[0])
		}
	}
	if len(missing) > 0 {
		d.fail(check, fmt.Sprintf("client %s lacks %s", c.Auth0MgmtID, strings.Join(missing, ", ")),
			"grant them: Applications > APIs > Auth0 Management API > Machine to Machine Applications > your client > Permissions")
		return
	}
	d.ok(check, "client %s has read:users and update:users_app_metadata", c.Auth0MgmtID)
}
