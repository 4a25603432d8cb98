package main

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// whatsAppFarEnds is newFarEnds with a Twilio stand-in that has a
// WhatsApp sender (the bot's number, its incoming URL set) and templates:
// approved ones for code_prompt and replaced, a pending one.
func whatsAppFarEnds(t *testing.T) (*farEnds, map[string]string) {
	t.Helper()
	f := newFarEnds(t, nil)
	sids := map[string]string{
		bot.ReplyCodePrompt:   "HX11111111111111111111111111111111",
		bot.ReplyReplaced:     "HX22222222222222222222222222222222",
		bot.ReplyUnsubscribed: "HX33333333333333333333333333333333",
	}
	tw := twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}, WhatsApp: []string{e2eNumber},
		Contents: map[string]twiliotest.Content{
			sids[bot.ReplyCodePrompt]:   {Name: "code_prompt", Body: "{{1}}: reply with the code."},
			sids[bot.ReplyReplaced]:     {Name: "replaced", Body: "{{1}}: no longer linked to {{2}}."},
			sids[bot.ReplyUnsubscribed]: {Name: "unsubscribed", Body: "{{1}}: unsubscribed.", Status: "pending"},
		}})
	t.Cleanup(func() { tw.Close() })
	tw.SetWhatsAppWebhook(e2eNumber, cmdPublic+webhooks.PathSMS)
	mux := http.NewServeMux()
	mux.Handle("/v1/Content/", tw)
	mux.Handle("/v1/", f.svc)
	mux.Handle("/", tw)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemTW := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, append(pemTW, f.auth0.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	f.twilio = tw
	f.env = with(f.env, "TWILIO_API_URL", srv.URL, "SMSBOT_CA_FILE", ca)
	return f, sids
}

// TestDoctor_WhatsApp: with a WhatsApp sender set, doctor checks that it
// is an online sender of the account whose messages come to the webhook,
// and that each template is approved; it says nothing of WhatsApp when
// none is set.
func TestDoctor_WhatsApp(t *testing.T) {
	f, sids := whatsAppFarEnds(t)
	runCmd(t, f.env, "twilio-webhook")
	out, _, code := runCmd(t, f.env, "doctor")
	if code != 0 || strings.Contains(out, "whatsapp") {
		t.Fatalf("SMS only: exit %d\n%s", code, out)
	}
	approved := "code_prompt=" + sids[bot.ReplyCodePrompt] + ",replaced=" + sids[bot.ReplyReplaced]
	env := with(f.env, "TWILIO_WHATSAPP_FROM", e2eNumber, "TWILIO_WHATSAPP_TEMPLATES", approved)
	out, _, code = runCmd(t, env, "doctor")
	for _, want := range [][3]string{
		{"OK", "whatsapp sender", e2eNumber + " is an online WhatsApp sender"},
		{"OK", "whatsapp webhook", cmdPublic + webhooks.PathSMS},
		{"OK", "whatsapp templates", "code_prompt, replaced approved"},
	} {
		if l := line(out, want[0], want[1]); !strings.Contains(l, want[2]) {
			t.Errorf("want %s %s with %q:\n%s", want[0], want[1], want[2], out)
		}
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name                string
		env                 []string
		status, check, want string
		exit                int
	}{
		{"not a WhatsApp sender", []string{"TWILIO_WHATSAPP_FROM", "+15005550007"}, "FAIL", "whatsapp sender", "not a WhatsApp sender of account", exitFailed},
		{"the Sandbox", []string{"TWILIO_WHATSAPP_FROM", webhooks.SandboxNumber}, "WARN", "whatsapp sender", "Sandbox", exitOK},
		{"a pending template", []string{"TWILIO_WHATSAPP_TEMPLATES", approved + ",unsubscribed=" + sids[bot.ReplyUnsubscribed]}, "FAIL", "whatsapp templates", "unsubscribed (" + sids[bot.ReplyUnsubscribed] + ") is pending", exitFailed},
		{"an unknown template", []string{"TWILIO_WHATSAPP_TEMPLATES", "replaced=HX44444444444444444444444444444444"}, "FAIL", "whatsapp templates", "20404", exitFailed},
		{"no templates", []string{"TWILIO_WHATSAPP_TEMPLATES", ""}, "WARN", "whatsapp templates", "skipped", exitOK},
		{"webhook elsewhere", []string{"SMSBOT_PUBLIC_URL", "https://other.example.com"}, "FAIL", "whatsapp webhook", "want \"https://other.example.com/webhooks/twilio/sms\"", exitFailed},
		{"wrong Twilio token", []string{"TWILIO_AUTH_TOKEN", "wrongtoken000000000000000000000000"}, "SKIP", "whatsapp sender", "the Twilio account check failed", exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code := runCmd(t, with(env, tc.env...), "doctor")
			if code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
			l := line(out, tc.status, tc.check)
			if l == "" || !strings.Contains(l, tc.want) || (tc.status == "FAIL" && !strings.Contains(l, "fix:")) {
				t.Errorf("want a %s line for %s with %q:\n%s", tc.status, tc.check, tc.want, out)
			}
		})
	}
}

// whatsAppTemplateTable is the README's list of the WhatsApp templates to
// create: each reply the outbox may send outside the window, with its
// placeholders and the suggested text (the default reply's).
func whatsAppTemplateTable(t *testing.T) string {
	t.Helper()
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The placeholders, described by the fields they are filled from.
	desc := bot.ReplyData{Name: "the name (`SMSBOT_NAME`)", Email: "the account's email, masked"}
	var b strings.Builder
	b.WriteString("| reply | sent when | placeholders | template text to submit (category Utility) |\n|---|---|---|---|\n")
	for _, name := range templateReplies() {
		text, err := suggestedTemplate(replies, name)
		if err != nil {
			t.Fatal(err)
		}
		var holders []string
		for i, v := range bot.WhatsAppVariables[name](desc) {
			holders = append(holders, fmt.Sprintf("`{{%d}}` %s", i+1, v))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` |\n", name, templateUse[name], strings.Join(holders, ", "), strings.ReplaceAll(text, "|", `\|`))
	}
	return b.String()
}
