package bot

import (
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// The names of the replies the bot sends.
const (
	ReplyLink          = "link"
	ReplyLinkLimit     = "link_limit"
	ReplyCodePrompt    = "code_prompt"
	ReplySubscribed    = "subscribed"
	ReplyWrongCode     = "wrong_code"
	ReplyLocked        = "locked"
	ReplyCodeExpired   = "code_expired"
	ReplyCodeHint      = "code_hint"
	ReplyLoginHint     = "login_hint"
	ReplyHint          = "hint"
	ReplyUnknown       = "unknown"
	ReplyUnsubscribed  = "unsubscribed"
	ReplyNotSubscribed = "not_subscribed"
	ReplyReplaced      = "replaced"
	ReplyHelpIdle      = "help_idle"
	ReplyHelpLogin     = "help_awaiting_login"
	ReplyHelpCode      = "help_awaiting_code"
	ReplyHelpSub       = "help_subscribed"
	ReplyStopped       = "stopped"
	ReplyStarted       = "started"
	ReplyWorking       = "working"
	ReplyReverify      = "reverify"
	ReplyCodeLimit     = "code_limit"
	ReplyLinkHint      = "link_hint"
	ReplyLinkWrong     = "link_wrong"
	ReplyLinkLocked    = "link_locked"
	ReplyLinkExpired   = "link_expired"
	ReplyLinkUsed      = "link_used"
)

// DefaultReplies are the built-in reply templates. Each renders with
// ReplyData. The help replies carry what carriers require: the program
// name, how to get help, how to stop, and that rates may apply.
var DefaultReplies = map[string]string{
	ReplyLink:          `{{.Name}}: log in to link this phone: {{.URL}} (valid {{.Minutes}} min). Didn't ask? Ignore this.`,
	ReplyLinkLimit:     `{{.Name}}: too many login links for this phone. Please try again later.`,
	ReplyCodePrompt:    `{{.Name}}: reply with the 6-digit code shown on the login page. Never share it with anyone.`,
	ReplySubscribed:    `{{.Name}}: you're subscribed. This phone is linked to {{.Email}}. Send H for help.`,
	ReplyWrongCode:     `{{.Name}}: wrong code. {{.Left}} {{if eq .Left 1}}try{{else}}tries{{end}} left.`,
	ReplyLocked:        `{{.Name}}: wrong code too many times. Send S for a new link.`,
	ReplyCodeExpired:   `{{.Name}}: that code has expired. Send S for a new link.`,
	ReplyCodeHint:      `{{.Name}}: reply with the 6-digit code shown on the login page, or send S for a new link.`,
	ReplyLoginHint:     `{{.Name}}: open the link we texted you to log in, or send S for a new link. H for help.`,
	ReplyHint:          `{{.Name}}: send S to subscribe, H for help.`,
	ReplyUnknown:       `{{.Name}}: unknown command. Send H for help.`,
	ReplyUnsubscribed:  `{{.Name}}: unsubscribed. This phone is no longer linked to your account. Send S to subscribe again.`,
	ReplyNotSubscribed: `{{.Name}}: this phone is not subscribed. Send S to subscribe.`,
	ReplyReplaced:      `{{.Name}}: this phone is no longer linked to {{.Email}}; another phone was linked in its place. Send S to link it again.`,
	ReplyHelpIdle:      `{{.Name}}: S = subscribe{{if .WebURL}} (or log in at {{.WebURL}}){{else}} (link this phone to your account){{end}}, H = help, STOP = no more texts. Msg & data rates may apply.`,
	ReplyHelpLogin:     `{{.Name}}: open the link we texted you and log in. S = new link, H = help, STOP = no more texts. Msg & data rates may apply.`,
	ReplyHelpCode:      `{{.Name}}: reply with the 6-digit code shown after login. S = new link, H = help, STOP = no more texts. Msg & data rates may apply.`,
	ReplyHelpSub:       `{{.Name}}: {{if .Commands}}{{.Commands}}, {{end}}U = unsubscribe, S = relink, H = help, STOP = no more texts. Msg & data rates may apply.`,
	ReplyStopped:       `{{.Name}}: you will get no more texts from us. Reply START to resume.`,
	ReplyStarted:       `{{.Name}}: texts resumed. Send H for help.`,
	ReplyWorking:       `{{.Name}}: working on it; the answer will follow in a text.`,
	ReplyReverify:      `{{.Name}}: please confirm this phone is still yours: send S to link it again. H for help.`,
	ReplyCodeLimit:     `{{.Name}}: too many wrong codes for this account today. Please try again tomorrow.`,
	ReplyLinkHint:      `{{.Name}}: {{if .WebURL}}log in at {{.WebURL}}, then text LINK and the code the page shows. Or {{end}}send S to subscribe.`,
	ReplyLinkWrong:     `{{.Name}}: that code is not valid. {{.Left}} {{if eq .Left 1}}try{{else}}tries{{end}} left. Text LINK and the code exactly as the page shows it.`,
	ReplyLinkLocked:    `{{.Name}}: too many wrong codes. Wait {{.Minutes}} minutes, then text the code from the page again.`,
	ReplyLinkExpired:   `{{.Name}}: that code has expired. Ask the page for a new one and text it again.`,
	ReplyLinkUsed:      `{{.Name}}: that code was already used. Log in on the page again for a new one.`,
}

// ReplyData is what reply templates can use.
type ReplyData struct {
	Name     string // the program name
	URL      string // ReplyLink: the one-time link
	Minutes  int    // ReplyLink: how long it is valid
	Email    string // the account, masked
	Left     int    // ReplyWrongCode: tries left
	Commands string // ReplyHelpSub: the registry's commands, short
	// WebURL is the page of the web-first path (Engine.WebLinkURL), ""
	// when it is not offered. Every reply may use it.
	WebURL string
}

// sampleReplyData is used to check templates when they are loaded.
var sampleReplyData = ReplyData{
	Name:     "smsbot",
	URL:      "https://smsbot.example.com" + LinkPath + strings.Repeat("x", TokenLen),
	Minutes:  15,
	Email:    "y***@example.com",
	Left:     4,
	Commands: "GT = temperatures, ST room 20 = set",
	WebURL:   "https://smsbot.example.com/link",
}

// MaxReplyChars is the longest text Twilio accepts.
const MaxReplyChars = 1600

// Replies renders the bot's texts.
type Replies struct {
	t *template.Template
}

// NewReplies parses the defaults with overrides on top and renders each
// with sample data. It fails on an unknown name, a template that does not
// parse or run, or a text over MaxReplyChars; warnings lists texts longer
// than one SMS segment.
func NewReplies(overrides map[string]string) (r *Replies, warnings []string, err error) {
	t := template.New("replies").Option("missingkey=error")
	names := make([]string, 0, len(DefaultReplies))
	for name := range DefaultReplies {
		names = append(names, name)
	}
	sort.Strings(names)
	for name := range overrides {
		if _, ok := DefaultReplies[name]; !ok {
			return nil, nil, fmt.Errorf("replies: unknown template %q", name)
		}
	}
	for _, name := range names {
		text := DefaultReplies[name]
		if o, ok := overrides[name]; ok {
			text = o
		}
		if _, err := t.New(name).Parse(text); err != nil {
			return nil, nil, fmt.Errorf("replies: %s: %w", name, err)
		}
	}
	r = &Replies{t: t}
	for _, name := range names {
		s, err := r.Render(name, sampleReplyData)
		if err != nil {
			return nil, nil, err
		}
		if n := len([]rune(s)); n > MaxReplyChars {
			return nil, nil, fmt.Errorf("replies: %s: %d characters, over the limit of %d", name, n, MaxReplyChars)
		}
		if seg := Segments(s); seg > 1 {
			warnings = append(warnings, fmt.Sprintf("reply %s is %d SMS segments (%s)", name, seg, Encoding(s)))
		}
	}
	return r, warnings, nil
}

// Render renders the named reply.
func (r *Replies) Render(name string, data ReplyData) (string, error) {
	var b strings.Builder
	if err := r.t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("reply %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// gsm7 is the GSM 03.38 basic character set; gsm7ext the extension table,
// whose characters take two septets.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7ext = "^{}\\[~]|€\f"
)

// Encoding returns "GSM-7" when s fits the GSM alphabet, "UCS-2" otherwise.
func Encoding(s string) string {
	for _, r := range s {
		if !strings.ContainsRune(gsm7, r) && !strings.ContainsRune(gsm7ext, r) {
			return "UCS-2"
		}
	}
	return "GSM-7"
}

// Segments returns how many SMS segments s takes: 160 septets in one
// GSM-7 segment or 153 each when split; 70 UCS-2 units, or 67 when split.
func Segments(s string) int {
	var units, single, multi int
	if Encoding(s) == "GSM-7" {
		for _, r := range s {
			units++
			if strings.ContainsRune(gsm7ext, r) {
				units++
			}
		}
		single, multi = 160, 153
	} else {
		for _, r := range s {
			units++
			if r > 0xFFFF {
				units++ // a surrogate pair
			}
		}
		single, multi = 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}
