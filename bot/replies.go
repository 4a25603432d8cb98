package bot

import "strings"

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
	ReplyLanguages     = "languages"
	ReplyLanguageSet   = "language_set"
	ReplyFailed        = "failed"
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
	ReplyLanguages:     `{{.Name}}: texts are in English. To change, send LANG and one of {{.Choices}}.`,
	ReplyLanguageSet:   `{{.Name}}: texts will be in English from now on. Send H for help.`,
	ReplyFailed:        `{{.Name}}: something went wrong on our side. Please try again.`,
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
	Choices  string // ReplyLanguages: what LANG takes, "EN, ES, PT, FR, DE"
	// WebURL is the page of the web-first path (Engine.WebLinkURL), ""
	// when it is not offered. Every reply may use it.
	WebURL string
}

// SampleReplyData is what templates are checked with when they are
// loaded: every text must fit one segment with a public URL host of 40
// characters.
var SampleReplyData = ReplyData{
	Name:     "smsbot",
	URL:      "https://" + SampleHost + LinkPath + strings.Repeat("x", TokenLen),
	Minutes:  15,
	Email:    "y***@example.com",
	Left:     4,
	Commands: "GT = temperatures, ST room 20 = set",
	Choices:  languageChoices(),
	WebURL:   "https://" + SampleHost + "/link",
}

// SampleHost is a public URL host of 40 characters.
const SampleHost = "smsbot-home-automation.cloud.example.com"

// MaxReplyChars is the longest text Twilio accepts.
const MaxReplyChars = 1600

// NewReplies is NewLocalReplies with overrides of the English templates
// only.
func NewReplies(overrides map[string]string) (r *Replies, warnings []string, err error) {
	return NewLocalReplies(Overrides{English.Code: overrides})
}

// Render renders the named reply in English.
func (r *Replies) Render(name string, data ReplyData) (string, error) {
	return r.RenderIn(English, name, data)
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
