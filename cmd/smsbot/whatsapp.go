package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// contentSID is the shape of a Twilio content template's SID.
var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// whatsAppSender parses TWILIO_WHATSAPP_FROM: an E.164 number, with or
// without Twilio's "whatsapp:" prefix.
func whatsAppSender(c *config, v string) error {
	phone, _ := bot.SplitAddress(strings.TrimSpace(v))
	if !bot.ValidPhone(phone) {
		return fmt.Errorf("want an E.164 number such as +15551234567 (or whatsapp:+15551234567), not %q", v)
	}
	c.WhatsAppFrom = phone
	return nil
}

// templateReplies are the replies a WhatsApp template can carry, sorted.
func templateReplies() []string {
	var names []string
	for name := range bot.WhatsAppVariables {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// whatsAppTemplates parses TWILIO_WHATSAPP_TEMPLATES: reply=ContentSid
// pairs, comma-separated, each reply one the outbox may send outside the
// window.
func whatsAppTemplates(c *config, v string) error {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, sid, ok := strings.Cut(pair, "=")
		name, sid = strings.TrimSpace(name), strings.TrimSpace(sid)
		switch {
		case !ok:
			return fmt.Errorf("%q: want reply=ContentSid", pair)
		case !slices.Contains(templateReplies(), name):
			return fmt.Errorf("%q: no template for %q; the replies that can have one are %s", pair, name, strings.Join(templateReplies(), ", "))
		case !contentSID.MatchString(sid):
			return fmt.Errorf("%q: %q is not a ContentSid (HX and 32 hex digits)", pair, sid)
		case out[name] != "":
			return fmt.Errorf("%q: %s is named twice", pair, name)
		}
		out[name] = sid
	}
	c.WhatsAppTemplates = out
	return nil
}

// whatsAppObserver counts the WhatsApp texts the outbox tried, as
// smsbot_whatsapp_texts_total: by form (freeform inside the 24-hour
// window, template outside it), result and Twilio error code.
func whatsAppObserver(reg prometheus.Registerer) func(bot.WhatsAppForm, bot.Outcome, int) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "smsbot", Name: "whatsapp_texts_total",
		Help: "WhatsApp texts tried by the outbox, by form (freeform inside the 24-hour window, template outside it), result (sent, retry, failed, skipped) and Twilio error code (0 for none)."},
		[]string{"form", "result", "error_code"})
	reg.MustRegister(c)
	return func(form bot.WhatsAppForm, outcome bot.Outcome, code int) {
		c.WithLabelValues(string(form), string(outcome), strconv.Itoa(code)).Inc()
	}
}

// suggestedTemplate is the WhatsApp template to create for reply name:
// the reply as replies renders it (SMSBOT_TEMPLATES included), its values
// replaced by the placeholders {{1}}, {{2}}, ... that smsbot fills in
// (bot.WhatsAppVariables).
func suggestedTemplate(replies *bot.Replies, name string) (string, error) {
	d := bot.ReplyData{Name: "\x00name\x00", Email: "\x00email\x00"}
	text, err := replies.Render(name, d)
	if err != nil {
		return "", err
	}
	for i, v := range bot.WhatsAppVariables[name](d) {
		text = strings.ReplaceAll(text, v, "{{"+strconv.Itoa(i+1)+"}}")
	}
	return text, nil
}

// devWhatsApp makes dev mode's WhatsApp: the bot's number is its WhatsApp
// sender too, and the stand-in has an approved template for each reply
// that can have one (the suggested text), whose ContentSids smsbot uses.
func devWhatsApp(cfg *config) (map[string]twiliotest.Content, error) {
	overrides, err := loadTemplates(cfg.Templates)
	if err != nil {
		return nil, err
	}
	replies, _, err := bot.NewLocalReplies(overrides)
	if err != nil {
		return nil, err
	}
	cfg.WhatsAppFrom = cfg.TwilioFrom
	cfg.WhatsAppTemplates = map[string]string{}
	contents := map[string]twiliotest.Content{}
	for _, name := range templateReplies() {
		body, err := suggestedTemplate(replies, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte("smsbot dev template " + name))
		sid := "HX" + hex.EncodeToString(sum[:16])
		contents[sid] = twiliotest.Content{Name: "smsbot_" + name, Body: body}
		cfg.WhatsAppTemplates[name] = sid
	}
	return contents, nil
}

// whatsAppWindow says, for subscribers show, until when WhatsApp's window
// to p is open.
func whatsAppWindow(p *bot.Phone) string {
	if p.WhatsAppSeen.IsZero() {
		return ""
	}
	end := p.WhatsAppSeen.Add(bot.WhatsAppWindow)
	if !p.WindowOpen(time.Now()) {
		return fmt.Sprintf(" (WhatsApp window closed; last WhatsApp message %s)", when(p.WhatsAppSeen))
	}
	return fmt.Sprintf(" (WhatsApp window open until %s)", when(end))
}

// checkWhatsApp is doctor's WhatsApp checks, when TWILIO_WHATSAPP_FROM or
// TWILIO_WHATSAPP_TEMPLATES is set: the sender, where its messages go and
// the templates' approval.
func (d *doctor) checkWhatsApp() {
	c := d.cfg
	if c.WhatsAppFrom == "" && len(c.WhatsAppTemplates) == 0 {
		return // SMS only
	}
	checks := []string{"whatsapp sender", "whatsapp webhook", "whatsapp templates"}
	skipAll := func(why string) {
		for _, ch := range checks {
			d.skip(ch, why)
		}
	}
	if d.failedCheck("twilio account") {
		skipAll("the Twilio account check failed")
		return
	}
	tw, err := c.twilioAdmin(d.hc)
	if err != nil {
		skipAll("no Twilio client")
		return
	}
	d.checkWhatsAppSender(tw)
	d.checkWhatsAppTemplates(tw)
}

// failedCheck reports whether check was reported as anything but OK.
func (d *doctor) failedCheck(check string) bool {
	for _, f := range d.findings {
		if f.Check == check {
			return f.Status != checkOK
		}
	}
	return true
}

func (d *doctor) checkWhatsAppSender(tw *webhooks.Admin) {
	c := d.cfg
	hook := strings.TrimRight(c.PublicURL, "/") + webhooks.PathSMS
	switch {
	case c.WhatsAppFrom == "" && c.TwilioService != "":
		d.skip("whatsapp sender", "TWILIO_WHATSAPP_FROM is not set: WhatsApp texts go through the Messaging Service "+c.TwilioService+", which needs a WhatsApp sender in its pool")
		d.skip("whatsapp webhook", "the Messaging Service's incoming URL applies (see twilio webhook)")
		return
	case c.WhatsAppFrom == "":
		d.fail("whatsapp sender", "TWILIO_WHATSAPP_TEMPLATES is set but there is no WhatsApp sender", "set TWILIO_WHATSAPP_FROM, or TWILIO_MESSAGING_SERVICE_SID with a WhatsApp sender in its pool")
		d.skip("whatsapp webhook", "no WhatsApp sender")
		return
	case c.WhatsAppFrom == webhooks.SandboxNumber:
		d.report(finding{Status: checkWarn, Check: "whatsapp sender",
			Detail: c.WhatsAppFrom + " is Twilio's WhatsApp Sandbox: for trying only; each person must first send it the sandbox's join words",
			Fix:    "register a WhatsApp sender for production (Messaging > Senders > WhatsApp senders)"})
		d.report(finding{Status: checkWarn, Check: "whatsapp webhook",
			Detail: "the Sandbox's URL cannot be read through the API",
			Fix:    "set \"When a message comes in\" to " + hook + " (POST) in the console's Sandbox settings"})
		return
	}
	senders, err := tw.WhatsAppSenders()
	if err != nil {
		d.fail("whatsapp sender", err.Error(), "check the Twilio credentials and network")
		d.skip("whatsapp webhook", "the WhatsApp senders could not be read")
		return
	}
	var found *webhooks.WhatsAppSender
	for i := range senders {
		if senders[i].Phone == c.WhatsAppFrom {
			found = &senders[i]
		}
	}
	switch {
	case found == nil:
		d.fail("whatsapp sender", fmt.Sprintf("%s is not a WhatsApp sender of account %s", c.WhatsAppFrom, c.TwilioSID),
			"register it (Messaging > Senders > WhatsApp senders), or set TWILIO_WHATSAPP_FROM to one of the account's")
		d.skip("whatsapp webhook", "no such sender")
		return
	case found.Status != "ONLINE":
		d.fail("whatsapp sender", fmt.Sprintf("WhatsApp sender %s is %s, not ONLINE", c.WhatsAppFrom, found.Status),
			"finish its registration with Meta (Messaging > Senders > WhatsApp senders)")
	default:
		d.ok("whatsapp sender", "%s is an online WhatsApp sender of the account", c.WhatsAppFrom)
	}
	switch {
	case c.PublicURL == "":
		d.skip("whatsapp webhook", "SMSBOT_PUBLIC_URL is not set")
	case found.CallbackURL == "" && c.TwilioService != "":
		d.report(finding{Status: checkWarn, Check: "whatsapp webhook",
			Detail: "the sender has no URL of its own: the Messaging Service's incoming URL applies if the sender is in its pool",
			Fix:    "set the sender's webhook URL to " + hook + ", or check the service (twilio webhook)"})
	case found.CallbackURL != hook:
		d.fail("whatsapp webhook", fmt.Sprintf("incoming messages go to %q, want %q", found.CallbackURL, hook),
			"set the sender's \"Webhook URL for incoming messages\" to "+hook+" (POST) in the console (Messaging > Senders > WhatsApp senders)")
	default:
		d.ok("whatsapp webhook", "incoming messages go to %s", hook)
	}
}

func (d *doctor) checkWhatsAppTemplates(tw *webhooks.Admin) {
	c := d.cfg
	if len(c.WhatsAppTemplates) == 0 {
		d.report(finding{Status: checkWarn, Check: "whatsapp templates",
			Detail: "TWILIO_WHATSAPP_TEMPLATES is not set: texts to WhatsApp users outside the 24-hour window are skipped (" + strings.Join(templateReplies(), ", ") + ")",
			Fix:    "create the templates of the README's WhatsApp section and set TWILIO_WHATSAPP_TEMPLATES"})
		return
	}
	var ok, bad []string
	for _, name := range templateReplies() {
		sid, set := c.WhatsAppTemplates[name]
		if !set {
			continue
		}
		a, err := tw.TemplateApproval(sid)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s (%s): %v", name, sid, err))
		case a.Status != "approved":
			why := a.Status
			if why == "" {
				why = "not submitted to WhatsApp"
			}
			if a.Rejection != "" {
				why += ": " + a.Rejection
			}
			bad = append(bad, fmt.Sprintf("%s (%s) is %s", name, sid, why))
		default:
			ok = append(ok, name)
		}
	}
	if len(bad) > 0 {
		d.fail("whatsapp templates", strings.Join(bad, "; "), "submit each template for WhatsApp approval (Messaging > Content Template Builder) and wait for approved, or fix its ContentSid in TWILIO_WHATSAPP_TEMPLATES")
		return
	}
	d.ok("whatsapp templates", "%s approved for WhatsApp", strings.Join(ok, ", "))
}
