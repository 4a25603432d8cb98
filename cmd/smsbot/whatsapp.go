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
	replies, _, err := bot.NewReplies(overrides)
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
