package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	cmdPublic  = "https://bot.example.com"
	cmdService = "MG22222222222222222222222222222222"
)

// farEnds are the Twilio and Auth0 stand-ins a command talks to, and the
// environment that points the command at them.
type farEnds struct {
	twilio *twiliotest.Server
	auth0  *auth0test.Server
	svc    *fakeServices
	env    map[string]string
}

// fakeServices is the Messaging Services resource, which the Twilio
// stand-in lacks, in front of the stand-in.
type fakeServices struct {
	mu   sync.Mutex
	sid  string
	conf map[string]string // InboundRequestUrl, InboundMethod, StatusCallback
}

func (f *fakeServices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/Services/"+f.sid {
		http.Error(w, `{"code":20404,"message":"not found","status":404}`, http.StatusNotFound)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost {
		r.ParseForm()
		for k := range f.conf {
			if v := r.PostForm.Get(k); v != "" {
				f.conf[k] = v
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"sid": f.sid, "friendly_name": "smsbot test service",
		"inbound_request_url": f.conf["InboundRequestUrl"], "inbound_method": f.conf["InboundMethod"],
		"status_callback": f.conf["StatusCallback"], "use_inbound_webhook_on_number": false,
	})
}

func newFarEnds(t *testing.T, auth0Opts func(*auth0test.Options)) *farEnds {
	t.Helper()
	f := &farEnds{}
	f.twilio = twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	f.svc = &fakeServices{sid: cmdService, conf: map[string]string{"InboundRequestUrl": "", "InboundMethod": "POST", "StatusCallback": ""}}
	mux := http.NewServeMux()
	mux.Handle("/v1/", f.svc)
	mux.Handle("/", f.twilio)
	tw := httptest.NewTLSServer(mux)
	t.Cleanup(tw.Close)
	t.Cleanup(func() { f.twilio.Close() })

	o := auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{cmdPublic + "/auth/callback"}}
	if auth0Opts != nil {
		auth0Opts(&o)
	}
	a, err := auth0test.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	f.auth0 = a

	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pemTW := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tw.Certificate().Raw})
	if err := os.WriteFile(ca, append(pemTW, a.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	f.env = map[string]string{
		"SMSBOT_DB":           filepath.Join(dir, "cmd.db"),
		"SMSBOT_PUBLIC_URL":   cmdPublic,
		"SMSBOT_CA_FILE":      ca,
		"TWILIO_ACCOUNT_SID":  e2eSID,
		"TWILIO_AUTH_TOKEN":   e2eToken,
		"TWILIO_FROM_NUMBER":  e2eNumber,
		"TWILIO_API_URL":      tw.URL,
		"AUTH0_DOMAIN":        a.Domain(),
		"AUTH0_CLIENT_ID":     e2eClient,
		"AUTH0_CLIENT_SECRET": e2eSecret,
	}
	return f
}

// runCmd runs the program with env and returns its output and exit code.
func runCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func with(env map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(env))
	for k, v := range env {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// line returns the doctor's line for a check.
func line(out, status, check string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, status) && strings.HasPrefix(strings.TrimSpace(l[len(status):]), check) {
			return l
		}
	}
	return ""
}

func TestRun_Help(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"doctor", "--help"}, {"twilio-webhook", "--help"},
		{"subscribers", "--help"}, {"subscribers", "list", "--help"}, {"subscribers", "show", "--help"},
		{"subscribers", "remove", "--help"}, {"subscribers", "export", "--help"}, {"migrate", "--help"}, {"version", "--help"},
	} {
		out, errOut, code := runCmd(t, nil, args...)
		if code != exitOK {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
		if text := out + errOut; !strings.Contains(text, "Usage") {
			t.Errorf("%v: no usage:\n%s", args, text)
		}
	}
	for _, args := range [][]string{
		{}, {"nonsense"}, {"doctor", "--nonsense"}, {"doctor", "extra"}, {"subscribers"}, {"subscribers", "frob"},
		{"subscribers", "show"}, {"subscribers", "show", "5551234"}, {"subscribers", "export", "--format", "xml"},
		{"subscribers", "list", "--state", "happy"}, {"twilio-webhook", "--nonsense"}, {"version", "x"},
	} {
		if _, errOut, code := runCmd(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
	_, errOut, _ := runCmd(t, nil, "doctor", "--help")
	for _, want := range []string{"twilio webhook", "auth0 scopes", "Exit codes: 0 ok, 1 failed, 2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("doctor --help lacks %q", want)
		}
	}
}

// voiceCallback is an operator's own status callback for calls to the
// number, which smsbot must leave alone.
const voiceCallback = "https://voice.example.com/call-status"

func TestTwilioWebhook(t *testing.T) {
	f := newFarEnds(t, nil)
	f.twilio.SetStatusCallback(e2eNumber, voiceCallback)
	out, errOut, code := runCmd(t, f.env, "twilio-webhook", "--dry-run")
	if code != 0 || !strings.Contains(out, "Dry run") {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	if n, _ := f.twilio.Number(e2eNumber); n.SmsURL != "" {
		t.Fatalf("dry run changed the number: %+v", n)
	}
	out, errOut, code = runCmd(t, f.env, "twilio-webhook")
	if code != 0 || !strings.Contains(out, "Updated.") {
		t.Fatalf("twilio-webhook: %d %s %s", code, out, errOut)
	}
	n, _ := f.twilio.Number(e2eNumber)
	if n.SmsURL != cmdPublic+"/webhooks/twilio/sms" || n.SmsMethod != "POST" || n.StatusCallback != voiceCallback {
		t.Fatalf("number after twilio-webhook (the voice status callback must stay): %+v", n)
	}
	if out, _, code = runCmd(t, f.env, "twilio-webhook"); code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Fatalf("second run: %d %s", code, out)
	}

	// A Messaging Service instead of a number.
	svcEnv := with(f.env, "TWILIO_FROM_NUMBER", "", "TWILIO_MESSAGING_SERVICE_SID", cmdService)
	if out, errOut, code = runCmd(t, svcEnv, "twilio-webhook"); code != 0 || !strings.Contains(out, "Updated.") {
		t.Fatalf("service: %d %s %s", code, out, errOut)
	}
	if got := f.svc.conf["InboundRequestUrl"]; got != cmdPublic+"/webhooks/twilio/sms" {
		t.Fatalf("service inbound URL %q", got)
	}

	// Failures: a number the account lacks (1), missing settings (2), bad credentials (1).
	if _, errOut, code = runCmd(t, with(f.env, "TWILIO_FROM_NUMBER", "+15005550999"), "twilio-webhook"); code != exitFailed || !strings.Contains(errOut, "not a number of account") {
		t.Errorf("unknown number: %d %s", code, errOut)
	}
	if _, errOut, code = runCmd(t, with(f.env, "SMSBOT_PUBLIC_URL", ""), "twilio-webhook"); code != exitUsage || !strings.Contains(errOut, "SMSBOT_PUBLIC_URL") {
		t.Errorf("no public URL: %d %s", code, errOut)
	}
	if _, errOut, code = runCmd(t, with(f.env, "TWILIO_AUTH_TOKEN", "wrongtoken000000000000000000000000"), "twilio-webhook"); code != exitFailed || !strings.Contains(errOut, "20003") {
		t.Errorf("wrong token: %d %s", code, errOut)
	}
}

func TestDoctor_AllGood(t *testing.T) {
	f := newFarEnds(t, nil)
	f.twilio.SetStatusCallback(e2eNumber, voiceCallback) // calls are none of doctor's business
	if _, errOut, code := runCmd(t, f.env, "twilio-webhook"); code != 0 {
		t.Fatal(errOut)
	}
	tokens := f.auth0.TokenRequests()
	out, errOut, code := runCmd(t, f.env, "doctor")
	if code != exitOK {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := f.auth0.TokenRequests() - tokens; n != 1 {
		t.Errorf("doctor asked for %d Management API tokens, want 1", n)
	}
	for _, check := range []string{"config", "public URL", "database", "reply templates", "twilio account", "twilio sender",
		"twilio webhook", "auth0 domain", "auth0 login app", "auth0 management", "auth0 callback", "auth0 scopes"} {
		if line(out, "OK", check) == "" {
			t.Errorf("no OK line for %s:\n%s", check, out)
		}
	}
	if strings.Contains(out, "FAIL") || strings.Contains(out, e2eSecret) || strings.Contains(out, e2eToken) {
		t.Fatalf("doctor output:\n%s", out)
	}

	// The same through a Messaging Service.
	svcEnv := with(f.env, "TWILIO_FROM_NUMBER", "", "TWILIO_MESSAGING_SERVICE_SID", cmdService)
	if out, _, _ = runCmd(t, svcEnv, "doctor"); line(out, "FAIL", "twilio webhook") == "" {
		t.Fatalf("service webhook not set, yet:\n%s", out)
	}
	runCmd(t, svcEnv, "twilio-webhook")
	if out, _, code = runCmd(t, svcEnv, "doctor"); code != 0 || line(out, "OK", "twilio sender") == "" {
		t.Fatalf("service: %d\n%s", code, out)
	}
}

func TestDoctor_Failures(t *testing.T) {
	f := newFarEnds(t, nil)
	runCmd(t, f.env, "twilio-webhook")
	badTemplates := filepath.Join(t.TempDir(), "t.json")
	os.WriteFile(badTemplates, []byte(`{"help_idle": "{{.Name}}: S = subscribe, H = help."}`), 0o600)
	badSpanish := filepath.Join(t.TempDir(), "es.json")
	os.WriteFile(badSpanish, []byte(`{"es": {"help_idle": "{{.Name}}: S = suscribirte, H = ayuda, BAJA = no recibir SMS."}}`), 0o600)
	badLanguage := filepath.Join(t.TempDir(), "it.json")
	os.WriteFile(badLanguage, []byte(`{"it": {"hint": "{{.Name}}: manda S."}}`), 0o600)

	for _, tc := range []struct {
		name        string
		env         []string
		status      string
		check, want string
	}{
		{"http public URL", []string{"SMSBOT_PUBLIC_URL", "http://bot.example.com"}, "FAIL", "config", "must be https"},
		{"http public URL: wrong scheme", []string{"SMSBOT_PUBLIC_URL", "http://bot.example.com"}, "FAIL", "public URL", "wrong scheme"},
		{"webhook elsewhere", []string{"SMSBOT_PUBLIC_URL", "https://other.example.com"}, "FAIL", "twilio webhook", "run smsbot twilio-webhook"},
		{"wrong Twilio token", []string{"TWILIO_AUTH_TOKEN", "wrongtoken000000000000000000000000"}, "FAIL", "twilio account", "20003"},
		{"unknown number", []string{"TWILIO_FROM_NUMBER", "+15005550999"}, "FAIL", "twilio sender", "not a number of account"},
		{"unknown service", []string{"TWILIO_FROM_NUMBER", "", "TWILIO_MESSAGING_SERVICE_SID", "MG99999999999999999999999999999999"}, "FAIL", "twilio sender", "MG9999"},
		{"unreachable Auth0", []string{"AUTH0_DOMAIN", "127.0.0.1:1"}, "FAIL", "auth0 domain", "127.0.0.1:1"},
		{"untrusted Twilio certificate: the host dialled", []string{"SMSBOT_CA_FILE", ""}, "FAIL", "twilio account", strings.TrimPrefix(f.env["TWILIO_API_URL"], "https://")},
		{"untrusted Twilio certificate: the fix", []string{"SMSBOT_CA_FILE", ""}, "FAIL", "twilio account", "SMSBOT_CA_FILE"},
		{"wrong app secret", []string{"AUTH0_CLIENT_SECRET", "not-the-secret"}, "FAIL", "auth0 login app", "AUTH0_CLIENT_SECRET"},
		{"wrong management secret", []string{"AUTH0_MGMT_CLIENT_SECRET", "not-the-secret"}, "FAIL", "auth0 management", "AUTH0_MGMT_CLIENT_SECRET"},
		{"callback not allowed", []string{"SMSBOT_PUBLIC_URL", "https://other.example.com"}, "FAIL", "auth0 callback", "Allowed Callback URLs"},
		{"database not writable", []string{"SMSBOT_DB", "/nonexistent/dir/x.db"}, "FAIL", "database", "/nonexistent/dir/x.db"},
		{"HELP without STOP", []string{"SMSBOT_TEMPLATES", badTemplates}, "FAIL", "reply templates", "how to stop"},
		{"Spanish HELP without the rates", []string{"SMSBOT_TEMPLATES", badSpanish}, "FAIL", "reply templates", "help_idle (es) lacks \"Pueden aplicarse tarifas de mensajes y datos\""},
		{"a language the bot does not speak", []string{"SMSBOT_TEMPLATES", badLanguage}, "FAIL", "reply templates", `unknown language "it"`},
		{"nothing set", []string{"TWILIO_ACCOUNT_SID", "", "AUTH0_DOMAIN", ""}, "FAIL", "config", "TWILIO_ACCOUNT_SID is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code := runCmd(t, with(f.env, tc.env...), "doctor")
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			l := line(out, tc.status, tc.check)
			if l == "" || !strings.Contains(l, tc.want) || (tc.status == "FAIL" && !strings.Contains(l, "fix:")) {
				t.Errorf("want a %s line for %s with %q:\n%s", tc.status, tc.check, tc.want, out)
			}
		})
	}
}

func TestDoctor_Auth0Grants(t *testing.T) {
	const mgmt, mgmtSecret = "m2m-client", "m2m-client-secret"
	for _, tc := range []struct {
		name          string
		scopes        []string
		status, check string
		want          string
		exit          int
	}{
		{"missing update scope", []string{"read:users", "read:clients", "read:client_grants"}, "FAIL", "auth0 scopes", "update:users_app_metadata", exitFailed},
		{"cannot read grants", []string{"read:users", "update:users_app_metadata", "read:clients"}, "WARN", "auth0 scopes", "read:client_grants", exitOK},
		{"cannot read clients", []string{"read:users", "update:users_app_metadata", "read:client_grants"}, "WARN", "auth0 callback", "read:clients", exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFarEnds(t, func(o *auth0test.Options) {
				o.MgmtClientID, o.MgmtClientSecret, o.MgmtScopes = mgmt, mgmtSecret, tc.scopes
			})
			env := with(f.env, "AUTH0_MGMT_CLIENT_ID", mgmt, "AUTH0_MGMT_CLIENT_SECRET", mgmtSecret)
			runCmd(t, env, "twilio-webhook")
			out, _, code := runCmd(t, env, "doctor")
			if code != tc.exit {
				t.Errorf("exit %d, want %d\n%s", code, tc.exit, out)
			}
			if l := line(out, tc.status, tc.check); !strings.Contains(l, tc.want) {
				t.Errorf("want a %s line for %s with %q:\n%s", tc.status, tc.check, tc.want, out)
			}
		})
	}
}

func TestSubscribers(t *testing.T) {
	e := startE2E(t, nil)
	const alice, bob = "+15555550101", "+15555550102"
	e.subscribe(alice, "alice@example.com")
	e.subscribe(bob, "bob@example.com")
	e.text("+15555550103", "hello")
	e.waitFor("Auth0 updates", func() bool { return e.appPhone("alice@example.com") == alice })

	out, errOut, code := runCmd(t, e.env, "subscribers", "list")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	for _, want := range []string{alice, bob, "+15555550103", "subscribed", "idle", "a***@example.com", auth0test.UserID("alice@example.com"), "3 phones, 2 bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alice@example.com") {
		t.Errorf("list shows an email unmasked:\n%s", out)
	}
	if out, _, _ = runCmd(t, e.env, "subscribers", "list", "--unmask", "--state", "subscribed"); !strings.Contains(out, "alice@example.com") || strings.Contains(out, "+15555550103") {
		t.Errorf("list --unmask --state subscribed:\n%s", out)
	}

	// Twilio reports alice's code prompt undelivered: show and /metrics tell.
	e.waitFor("the code prompt", func() bool { return len(e.twilio.MessagesTo(alice)) == 1 })
	status := url.Values{"MessageSid": {e.twilio.MessagesTo(alice)[0].SID}, "MessageStatus": {"undelivered"},
		"ErrorCode": {"30003"}, "To": {alice}, "AccountSid": {e2eSID}}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/twilio/status", strings.NewReader(status.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(e2eToken, e.public+"/webhooks/twilio/status", status))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("status callback: %v %v", res, err)
	}
	if _, page := fetch(t, http.DefaultClient, http.MethodGet, e.base+"/metrics", nil); !strings.Contains(page, `smsbot_delivery_status_total{error_code="30003",status="undelivered"} 1`) {
		t.Errorf("/metrics lacks the undelivered text")
	}

	out, _, code = runCmd(t, e.env, "subscribers", "show", alice)
	if code != 0 || !strings.Contains(out, "subscribed") || !strings.Contains(out, "bind") || !strings.Contains(out, "code confirmed") {
		t.Errorf("show: %d\n%s", code, out)
	}
	if !strings.Contains(out, "en-US, from the country code") {
		t.Errorf("show lacks the language:\n%s", out)
	}
	if !strings.Contains(out, "undelivered (error 30003)") || !strings.Contains(out, "reply with the 6-digit code") {
		t.Errorf("show lacks the undelivered code prompt:\n%s", out)
	}
	if _, errOut, code = runCmd(t, e.env, "subscribers", "show", "+15555550199"); code != exitFailed || !strings.Contains(errOut, "never texted") {
		t.Errorf("show unknown: %d %s", code, errOut)
	}

	out, _, code = runCmd(t, e.env, "subscribers", "export", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 4 || recs[0][0] != "phone" || recs[1][0] != alice || recs[1][3] != "a***@example.com" {
		t.Errorf("export csv: %d %v %q", code, err, recs)
	}
	out, _, code = runCmd(t, e.env, "subscribers", "export", "--format", "json", "--unmask", "--state", "subscribed")
	var rows []exported
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 || rows[1].Email != "bob@example.com" || rows[1].State != "subscribed" {
		t.Errorf("export json: %d %v %+v", code, err, rows)
	}

	// Remove unbinds here and in Auth0, through the audit table and the
	// outbox: Auth0 is updated once, by the server.
	e.waitFor("the outbox to drain", func() bool { return e.pending() == 0 })
	mgmtBefore, tokensBefore := e.auth0.MgmtRequests(), e.auth0.TokenRequests()
	out, errOut, code = runCmd(t, e.env, "subscribers", "remove", alice, "--reason", "test removal")
	if code != 0 || !strings.Contains(out, "outbox removes app_metadata.phone") {
		t.Fatalf("remove: %d %s %s", code, out, errOut)
	}
	e.waitFor("app_metadata.phone removed", func() bool { return e.appPhone("alice@example.com") == nil && e.pending() == 0 })
	if e.state(alice) != "idle" {
		t.Fatalf("after remove: state %s", e.state(alice))
	}
	if n, tok := e.auth0.MgmtRequests()-mgmtBefore, e.auth0.TokenRequests()-tokensBefore; n != 1 || tok != 0 {
		t.Errorf("remove made %d Management API requests and %d token requests, want 1 and 0", n, tok)
	}
	var audits, jobs int
	e.db.QueryRow(`SELECT COUNT(*) FROM audit WHERE phone = ? AND action = 'unbind' AND reason = 'test removal'`, alice).Scan(&audits)
	e.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE kind = 'account_sync' AND user_id = ?`, auth0test.UserID("alice@example.com")).Scan(&jobs)
	if audits != 1 || jobs != 2 {
		t.Errorf("audit rows %d, account_sync jobs %d", audits, jobs)
	}
	if r := e.text(alice, "H"); !strings.Contains(r, "S = subscribe") {
		t.Errorf("H after removal: %q", r)
	}
	if _, errOut, code = runCmd(t, e.env, "subscribers", "remove", alice); code != exitFailed || !strings.Contains(errOut, "not bound") {
		t.Errorf("remove again: %d %s", code, errOut)
	}

	// --notify texts the phone.
	if _, errOut, code = runCmd(t, e.env, "subscribers", "remove", "--notify", bob); code != 0 {
		t.Fatalf("remove --notify: %s", errOut)
	}
	e.waitFor("the unsubscribed text", func() bool {
		for _, m := range e.textsTo(bob) {
			if strings.Contains(m, "unsubscribed") {
				return true
			}
		}
		return false
	})
}

// doctorJSON runs doctor --json and returns its findings by check.
func doctorJSON(t *testing.T, env map[string]string) map[string]finding {
	t.Helper()
	out, errOut, _ := runCmd(t, env, "doctor", "--json")
	var res struct {
		Findings []finding `json:"findings"`
		Failed   int       `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("doctor --json: %v\n%s\n%s", err, out, errOut)
	}
	m := map[string]finding{}
	for _, f := range res.Findings {
		m[f.Check] = f
	}
	return m
}

func TestDoctor_PublicPath(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_CLIENT_IP_HEADER": "X-Forwarded-For"})

	// Straight to the server: this very instance, but no proxy sets the header.
	got := doctorJSON(t, e.env)
	if f := got["public path"]; f.Status != checkOK {
		t.Errorf("public path: %+v", f)
	}
	if f := got["client IP header"]; f.Status != checkFail || !strings.Contains(f.Fix, "X-Forwarded-For") {
		t.Errorf("client IP header without a proxy: %+v", f)
	}
	if f := got["public URL"]; f.Status != checkFail || !strings.Contains(f.Detail, "wrong scheme") {
		t.Errorf("http public URL: %+v", f)
	}

	// Through a reverse proxy that sets X-Forwarded-For.
	target, _ := url.Parse(e.base)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	got = doctorJSON(t, with(e.env, "SMSBOT_PUBLIC_URL", proxy.URL))
	if got["public path"].Status != checkOK || got["client IP header"].Status != checkOK {
		t.Errorf("through the proxy: %+v %+v", got["public path"], got["client IP header"])
	}

	// Another database: the public URL reaches some other smsbot.
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := store.Open(context.Background(), other, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Heartbeat(context.Background(), "another-start", time.Now(), time.Minute)
	db.Close()
	if f := doctorJSON(t, with(e.env, "SMSBOT_DB", other))["public path"]; f.Status != checkFail || !strings.Contains(f.Detail, "another smsbot") {
		t.Errorf("another instance: %+v", f)
	}

	// Nothing listens: could not check, not a failure.
	if f := doctorJSON(t, with(e.env, "SMSBOT_PUBLIC_URL", "http://127.0.0.1:1"))["public path"]; f.Status != checkWarn {
		t.Errorf("nothing listening: %+v", f)
	}
}

func TestServe_BadFlag(t *testing.T) {
	for _, args := range [][]string{{"serve", "--bogus"}, {"serve", "extra"}} {
		_, errOut, code := runCmd(t, map[string]string{}, args...)
		if code != exitUsage || strings.Contains(errOut, "configuration is incomplete") {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
	}
}
