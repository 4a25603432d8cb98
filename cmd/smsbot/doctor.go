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

	"github.com/auth0/go-auth0/management"
	twilio "github.com/twilio/twilio-go"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"golang.org/x/oauth2"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/store"
)

const doctorHelp = `
Checks the configuration and the far ends, one line per check: OK, FAIL
(with how to fix it), WARN (could not check; does not fail) or SKIP (an
earlier check failed). It reads the same environment as smsbot serve.

  config            every setting serve needs is set and well-formed
  public URL        SMSBOT_PUBLIC_URL is https
  database          SMSBOT_DB opens, migrates and takes a write
  reply templates   SMSBOT_TEMPLATES parses; HELP replies meet carrier rules
  twilio account    TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN work
  twilio sender     TWILIO_FROM_NUMBER is a number of the account, or
                    TWILIO_MESSAGING_SERVICE_SID exists
  twilio webhook    the number's SMS URL (POST) and status callback are
                    SMSBOT_PUBLIC_URL + /webhooks/twilio/sms and /status
  auth0 domain      AUTH0_DOMAIN answers with its signing keys (JWKS)
  auth0 login app   AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are accepted
  auth0 management  the management client gets a Management API token
  auth0 callback    SMSBOT_PUBLIC_URL/auth/callback is an allowed callback
  auth0 scopes      the management client has read:users and
                    update:users_app_metadata

It changes nothing at Twilio or Auth0; it creates the database file if
there is none. It exits 1 when any check fails.
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
	Status, Check, Detail, Fix string
}

// doctor runs the checks and prints each one as it finishes.
type doctor struct {
	ctx    context.Context
	cfg    *config
	out    io.Writer
	hc     *http.Client
	failed int
	// mgmtToken is the Management API token once the management check
	// passed.
	mgmtToken string
}

func (d *doctor) report(f finding) {
	if f.Status == checkFail {
		d.failed++
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
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for each call to Twilio or Auth0")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))}
	}
	cfg, cfgErr := envConfig(getenv)
	d := &doctor{ctx: ctx, cfg: cfg, out: stdout}
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
	d.checkFileModes()
	d.checkTemplates()
	d.checkTwilio()
	d.checkAuth0()
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
		d.fail(check, fmt.Sprintf("%s is not https", pub),
			"put a TLS-terminating reverse proxy in front of smsbot and set SMSBOT_PUBLIC_URL to its https:// URL")
	default:
		d.ok(check, "%s", pub)
	}
}

func (d *doctor) checkDatabase() {
	const check = "database"
	db, err := store.Open(d.ctx, d.cfg.DB, store.Options{Synchronous: d.cfg.Synchronous})
	if err != nil {
		d.fail(check, fmt.Sprintf("%s: %v", d.cfg.DB, err), "make SMSBOT_DB a file in a directory smsbot can write to")
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

func (d *doctor) checkTemplates() {
	const check = "reply templates"
	overrides, err := loadTemplates(d.cfg.Templates)
	if err != nil {
		d.fail(check, err.Error(), "fix the JSON file SMSBOT_TEMPLATES names, or unset it")
		return
	}
	replies, warnings, err := bot.NewReplies(overrides)
	if err != nil {
		d.fail(check, err.Error(), "fix that template in SMSBOT_TEMPLATES")
		return
	}
	for _, name := range helpReplies {
		text, err := replies.Render(name, bot.ReplyData{Name: d.cfg.Name, Commands: "X = example"})
		if err != nil {
			d.fail(check, err.Error(), "fix that template in SMSBOT_TEMPLATES")
			return
		}
		if missing := carrierRules(text, d.cfg.Name); len(missing) > 0 {
			d.fail(check, fmt.Sprintf("%s lacks %s", name, strings.Join(missing, ", ")),
				"carriers require the program name, how to get help, how to stop and \"Msg & data rates may apply\" in HELP replies")
			return
		}
	}
	if len(warnings) > 0 {
		d.ok(check, "%d templates; longer than one SMS segment: %s", len(bot.DefaultReplies), strings.Join(warnings, "; "))
		return
	}
	d.ok(check, "%d templates, each one SMS segment; HELP replies meet carrier rules", len(bot.DefaultReplies))
}

// helpReplies are the replies to H (and HELP when the bot answers it).
var helpReplies = []string{bot.ReplyHelpIdle, bot.ReplyHelpLogin, bot.ReplyHelpCode, bot.ReplyHelpSub}

// carrierRules lists what a HELP reply lacks of what US carriers (CTIA)
// require: the program name, how to get help, how to opt out, and the
// rates notice.
func carrierRules(text, name string) []string {
	var missing []string
	if name == "" {
		name = "smsbot"
	}
	if !strings.Contains(text, name) {
		missing = append(missing, "the program name")
	}
	if !strings.Contains(strings.ToLower(text), "help") {
		missing = append(missing, "how to get help")
	}
	if !strings.Contains(text, "STOP") {
		missing = append(missing, "how to stop (STOP)")
	}
	if !strings.Contains(text, "Msg & data rates may apply") {
		missing = append(missing, `"Msg & data rates may apply"`)
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
	rc, err := c.twilioClient(d.hc)
	if err != nil {
		d.fail("twilio account", err.Error(), "fix TWILIO_API_URL, or unset it")
		d.skip("twilio sender", "no Twilio client")
		d.skip("twilio webhook", "no Twilio client")
		return
	}
	acct, err := rc.Api.FetchAccount(c.TwilioSID)
	switch {
	case err != nil:
		fix := "copy Account SID and Auth Token from the Twilio console (Account Info) into TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
		if twilioCode(err) == 0 {
			fix = "check that api.twilio.com is reachable from here (proxy, firewall, SMSBOT_CA_FILE)"
		}
		d.fail("twilio account", twilioError(err), fix)
		d.skip("twilio sender", "the Twilio account check failed")
		d.skip("twilio webhook", "the Twilio account check failed")
		return
	case deref(acct.Status) != "active":
		d.fail("twilio account", fmt.Sprintf("account %s is %s", c.TwilioSID, deref(acct.Status)), "reactivate the account in the Twilio console")
	default:
		d.ok("twilio account", "account %s is active", c.TwilioSID)
	}
	switch {
	case c.TwilioFrom != "":
		d.checkNumber(rc)
	case c.TwilioService != "":
		d.checkService(rc)
	default:
		d.skip("twilio sender", "neither TWILIO_FROM_NUMBER nor TWILIO_MESSAGING_SERVICE_SID is set")
		d.skip("twilio webhook", "no sender")
	}
}

// findNumber returns the account's IncomingPhoneNumber for phone.
func findNumber(rc *twilio.RestClient, phone string) (*openapi.ApiV2010IncomingPhoneNumber, error) {
	list, err := rc.Api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(phone).SetLimit(20))
	if err != nil {
		return nil, err
	}
	for i := range list {
		if deref(list[i].PhoneNumber) == phone {
			return &list[i], nil
		}
	}
	return nil, nil
}

func (d *doctor) checkNumber(rc *twilio.RestClient) {
	c := d.cfg
	n, err := findNumber(rc, c.TwilioFrom)
	switch {
	case err != nil:
		d.fail("twilio sender", twilioError(err), "check the Twilio credentials and network")
		d.skip("twilio webhook", "the number could not be read")
		return
	case n == nil:
		d.fail("twilio sender", fmt.Sprintf("%s is not a number of account %s", c.TwilioFrom, c.TwilioSID),
			"set TWILIO_FROM_NUMBER to one of the account's numbers (Phone Numbers > Active numbers), in E.164 form")
		d.skip("twilio webhook", "no such number")
		return
	}
	d.ok("twilio sender", "%s belongs to the account (%s)", c.TwilioFrom, deref(n.Sid))
	if c.PublicURL == "" {
		d.skip("twilio webhook", "SMSBOT_PUBLIC_URL is not set")
		return
	}
	d.checkHookURLs("SMS", deref(n.SmsUrl), deref(n.SmsMethod), deref(n.StatusCallback))
}

// checkHookURLs compares where Twilio sends texts (what names that URL:
// "SMS" on a number, "incoming" on a Messaging Service) and delivery
// statuses with our public URL.
func (d *doctor) checkHookURLs(what, url, method, status string) {
	pub := strings.TrimRight(d.cfg.PublicURL, "/")
	var wrong []string
	if want := pub + pathSMS; url != want {
		wrong = append(wrong, fmt.Sprintf("%s URL is %q, want %q", what, url, want))
	}
	if got := strings.ToUpper(method); got != "" && got != http.MethodPost {
		wrong = append(wrong, fmt.Sprintf("%s method is %s, want POST", what, got))
	}
	if want := pub + pathStatus; status != want {
		wrong = append(wrong, fmt.Sprintf("status callback is %q, want %q", status, want))
	}
	if len(wrong) > 0 {
		d.fail("twilio webhook", strings.Join(wrong, "; "), "run smsbot twilio-webhook")
		return
	}
	d.ok("twilio webhook", "%s URL %s (POST), status callback %s", what, pub+pathSMS, pub+pathStatus)
}

func (d *doctor) checkService(rc *twilio.RestClient) {
	c := d.cfg
	svc, err := rc.MessagingV1.FetchService(c.TwilioService)
	if err != nil {
		fix := "check the Twilio credentials and network"
		if twilioCode(err) == 20404 {
			fix = "set TWILIO_MESSAGING_SERVICE_SID to a service of this account (Messaging > Services)"
		}
		d.fail("twilio sender", fmt.Sprintf("Messaging Service %s: %s", c.TwilioService, twilioError(err)), fix)
		d.skip("twilio webhook", "the Messaging Service could not be read")
		return
	}
	d.ok("twilio sender", "Messaging Service %s (%s) exists", c.TwilioService, deref(svc.FriendlyName))
	if c.PublicURL == "" {
		d.skip("twilio webhook", "SMSBOT_PUBLIC_URL is not set")
		return
	}
	if deref(svc.UseInboundWebhookOnNumber) {
		d.report(finding{Status: checkWarn, Check: "twilio webhook",
			Detail: "the service uses each number's own webhook; check the numbers' SMS URLs",
			Fix:    "turn off \"use inbound webhook on number\", or run smsbot twilio-webhook with TWILIO_FROM_NUMBER set"})
		return
	}
	d.checkHookURLs("incoming", deref(svc.InboundRequestUrl), deref(svc.InboundMethod), deref(svc.StatusCallback))
}

// auth0Error is the error body of Auth0's Authentication and Management
// APIs.
type auth0Error struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Message     string `json:"message"`
	ErrorCode   string `json:"errorCode"`
}

func (e auth0Error) String() string {
	s := e.Error
	if d := e.Description + e.Message; d != "" {
		s += ": " + d
	}
	return s
}

// auth0Call makes one request to the tenant and decodes the answer into
// out (on 2xx) or an auth0Error.
func (d *doctor) auth0Call(method, path string, form url.Values, bearer string, out any) (int, auth0Error, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(d.ctx, method, "https://"+d.cfg.Auth0Domain+path, body)
	if err != nil {
		return 0, auth0Error{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := d.hc.Do(req)
	if err != nil {
		return 0, auth0Error{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, auth0Error{}, err
	}
	var ae auth0Error
	if res.StatusCode >= 300 {
		_ = json.Unmarshal(b, &ae)
		if ae.Error == "" {
			ae.Error = res.Status
		}
		return res.StatusCode, ae, nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, ae, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return res.StatusCode, ae, nil
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
	// The domain and its signing keys, which the login needs to verify ID
	// tokens.
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	status, ae, err := d.auth0Call(http.MethodGet, "/.well-known/jwks.json", nil, "", &jwks)
	switch {
	case err != nil:
		d.fail("auth0 domain", fmt.Sprintf("https://%s: %v", c.Auth0Domain, err),
			"set AUTH0_DOMAIN to the tenant's domain (such as example.us.auth0.com) and check the network")
		for _, ch := range checks[1:] {
			d.skip(ch, "Auth0 is not reachable")
		}
		return
	case status != http.StatusOK || len(jwks.Keys) == 0:
		d.fail("auth0 domain", fmt.Sprintf("https://%s/.well-known/jwks.json answered %d %s with %d keys", c.Auth0Domain, status, ae, len(jwks.Keys)),
			"set AUTH0_DOMAIN to the tenant's domain, such as example.us.auth0.com")
		for _, ch := range checks[1:] {
			d.skip(ch, "Auth0 is not reachable")
		}
		return
	}
	d.ok("auth0 domain", "https://%s answers, %d signing keys", c.Auth0Domain, len(jwks.Keys))
	d.checkLoginApp()
	d.checkManagement()
	if d.mgmtToken == "" {
		d.skip("auth0 callback", "no Management API token")
		d.skip("auth0 scopes", "no Management API token")
		return
	}
	d.checkCallback()
	d.checkScopes()
}

// checkLoginApp redeems a made-up authorization code: Auth0 checks the
// client's credentials first (401 when wrong), then the code (403
// invalid_grant), so invalid_grant means the credentials are right.
func (d *doctor) checkLoginApp() {
	const check = "auth0 login app"
	c := d.cfg
	if c.Auth0ClientID == "" || c.Auth0Secret == "" {
		d.skip(check, "AUTH0_CLIENT_ID or AUTH0_CLIENT_SECRET is not set")
		return
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c.Auth0ClientID},
		"client_secret": {c.Auth0Secret},
		"code":          {"smsbot-doctor-check"},
		"code_verifier": {strings.Repeat("v", 43)},
		"redirect_uri":  {strings.TrimRight(c.PublicURL, "/") + pathCallback},
	}
	status, ae, err := d.auth0Call(http.MethodPost, "/oauth/token", form, "", nil)
	switch {
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
	case status == http.StatusForbidden && ae.Error == "invalid_grant":
		d.ok(check, "client %s and its secret are accepted", c.Auth0ClientID)
	case status == http.StatusUnauthorized || ae.Error == "access_denied" || ae.Error == "invalid_client":
		d.fail(check, fmt.Sprintf("client %s: %s", c.Auth0ClientID, ae),
			"copy Client ID and Client Secret from Auth0 (Applications > your Regular Web Application > Settings) into AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET")
	case ae.Error == "unauthorized_client":
		d.fail(check, fmt.Sprintf("client %s: %s", c.Auth0ClientID, ae),
			"enable the Authorization Code grant (Application > Advanced Settings > Grant Types)")
	default:
		d.fail(check, fmt.Sprintf("client %s: HTTP %d %s", c.Auth0ClientID, status, ae), "check the application in the Auth0 dashboard")
	}
}

// checkManagement gets a Management API token with the client
// credentials grant, as the outbox worker does.
func (d *doctor) checkManagement() {
	const check = "auth0 management"
	c := d.cfg
	if c.Auth0MgmtID == "" || c.Auth0MgmtSecret == "" {
		d.skip(check, "AUTH0_MGMT_CLIENT_ID or AUTH0_MGMT_CLIENT_SECRET is not set")
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.Auth0MgmtID},
		"client_secret": {c.Auth0MgmtSecret},
		"audience":      {"https://" + c.Auth0Domain + "/api/v2/"},
	}
	status, ae, err := d.auth0Call(http.MethodPost, "/oauth/token", form, "", &tok)
	switch {
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
	case status == http.StatusOK && tok.AccessToken != "":
		d.mgmtToken = tok.AccessToken
		d.ok(check, "client %s gets a Management API token", c.Auth0MgmtID)
	case status == http.StatusUnauthorized:
		d.fail(check, fmt.Sprintf("client %s: %s", c.Auth0MgmtID, ae),
			"set AUTH0_MGMT_CLIENT_ID and AUTH0_MGMT_CLIENT_SECRET to the Machine to Machine application's Client ID and Secret")
	default:
		d.fail(check, fmt.Sprintf("client %s: HTTP %d %s", c.Auth0MgmtID, status, ae),
			"authorize the Machine to Machine application for the Auth0 Management API (Applications > APIs > Auth0 Management API > Machine to Machine Applications)")
	}
}

// management is a go-auth0 Management API client for the tenant, through
// the same Directory the outbox worker uses.
func (d *doctor) management() (*management.Management, error) {
	ctx := context.WithValue(d.ctx, oauth2.HTTPClient, d.hc)
	dir, err := magiclink.NewDirectory(ctx, magiclink.DirectoryConfig{
		Domain: d.cfg.Auth0Domain, ClientID: d.cfg.Auth0MgmtID, ClientSecret: d.cfg.Auth0MgmtSecret, HTTPClient: d.hc,
	})
	if err != nil {
		return nil, err
	}
	return dir.Management(), nil
}

// managementStatus returns the HTTP status of a Management API error.
func managementStatus(err error) int {
	var me management.Error
	if errors.As(err, &me) {
		return me.Status()
	}
	return 0
}

func (d *doctor) checkCallback() {
	const check = "auth0 callback"
	c := d.cfg
	if c.PublicURL == "" || c.Auth0ClientID == "" {
		d.skip(check, "SMSBOT_PUBLIC_URL or AUTH0_CLIENT_ID is not set")
		return
	}
	want := strings.TrimRight(c.PublicURL, "/") + pathCallback
	m, err := d.management()
	if err != nil {
		d.fail(check, err.Error(), "check AUTH0_DOMAIN")
		return
	}
	app, err := m.Client.Read(d.ctx, c.Auth0ClientID, management.IncludeFields("callbacks"))
	switch {
	case managementStatus(err) == http.StatusForbidden:
		d.report(finding{Status: checkWarn, Check: check,
			Detail: fmt.Sprintf("cannot read the application's callbacks: %v", err),
			Fix:    fmt.Sprintf("give the management client read:clients so doctor can check, or make sure Allowed Callback URLs has %s", want)})
		return
	case managementStatus(err) == http.StatusNotFound:
		d.fail(check, fmt.Sprintf("no application %s in the tenant", c.Auth0ClientID), "set AUTH0_CLIENT_ID to the Regular Web Application's Client ID")
		return
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
		return
	}
	if !slices.Contains(app.GetCallbacks(), want) {
		d.fail(check, fmt.Sprintf("%s is not among the Allowed Callback URLs %q", want, app.GetCallbacks()),
			fmt.Sprintf("add %s to Allowed Callback URLs (Applications > your app > Settings)", want))
		return
	}
	d.ok(check, "%s is allowed", want)
}

// neededScopes are the Management API scopes the outbox worker needs; an
// alternative that also serves is listed after a |.
var neededScopes = []string{"read:users", "update:users_app_metadata|update:users"}

func (d *doctor) checkScopes() {
	const check = "auth0 scopes"
	c := d.cfg
	m, err := d.management()
	if err != nil {
		d.fail(check, err.Error(), "check AUTH0_DOMAIN")
		return
	}
	list, err := m.ClientGrant.List(d.ctx,
		management.Parameter("client_id", c.Auth0MgmtID),
		management.Parameter("audience", "https://"+c.Auth0Domain+"/api/v2/"))
	switch {
	case managementStatus(err) == http.StatusForbidden:
		d.report(finding{Status: checkWarn, Check: check,
			Detail: fmt.Sprintf("cannot read client grants: %v", err),
			Fix:    "give the management client read:client_grants so doctor can check, or make sure it has read:users and update:users_app_metadata"})
		return
	case err != nil:
		d.fail(check, err.Error(), "check the network to Auth0")
		return
	}
	var have []string
	for _, g := range list.ClientGrants {
		if g.GetClientID() == c.Auth0MgmtID {
			have = append(have, deref(g.Scope)...)
		}
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
