package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/bot"
)

var _ bot.Sender = (*Sender)(nil)

// ClientConfig says how to reach the Twilio REST API.
type ClientConfig struct {
	AccountSID string
	AuthToken  string
	// APIURL replaces https://api.twilio.com (a proxy, or a local stand-in
	// in dev mode and tests). Empty means Twilio itself.
	APIURL string
	// HTTPClient is used for the requests; nil means one with a 10 s
	// timeout. Its Transport is wrapped, not changed.
	HTTPClient *http.Client
}

// NewRestClient returns the real twilio-go client. twilio-go has its API
// host built in, so a different APIURL is reached by rewriting each
// request's scheme and host in the transport.
func NewRestClient(c ClientConfig) (*twilio.RestClient, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	if c.HTTPClient != nil {
		copy := *c.HTTPClient
		hc = &copy
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("twilio api url %q: want http(s)://host[:port]", c.APIURL)
		}
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		hc.Transport = &rewrite{base: base, scheme: u.Scheme, host: u.Host, prefix: strings.TrimRight(u.Path, "/")}
	}
	cl := &client.Client{Credentials: client.NewCredentials(c.AccountSID, c.AuthToken), HTTPClient: hc}
	cl.SetAccountSid(c.AccountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl}), nil
}

// rewrite sends every request to another base URL.
type rewrite struct {
	base   http.RoundTripper
	scheme string
	host   string
	prefix string
}

func (t *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = t.scheme, t.host
	r.URL.Path = t.prefix + r.URL.Path
	r.Host = t.host
	return t.base.RoundTrip(r)
}

// Sender sends outbox texts through the Twilio Messages API.
type Sender struct {
	Client *twilio.RestClient
	// From is the sending number; MessagingServiceSID is used instead when
	// set.
	From                string
	MessagingServiceSID string
	// StatusCallback is where Twilio reports delivery, normally PublicURL +
	// /webhooks/twilio/status; empty for none.
	StatusCallback string
	// LookupMax is how many of Twilio's messages to a phone the check of
	// an ambiguous text reads at most; 0 means 5000. A phone with more
	// leaves the answer unknown, and the text fails rather than risk a
	// second copy.
	LookupMax int

	// WhatsAppFrom is the WhatsApp sender (E.164, without "whatsapp:"):
	// texts to phones that write on WhatsApp go from it, or through
	// MessagingServiceSID (whose sender pool has a WhatsApp sender) when it
	// is empty.
	WhatsAppFrom string
	// Templates maps a reply (bot.ReplyCodePrompt, ...) to the ContentSid
	// of the approved WhatsApp template that carries it outside WhatsApp's
	// 24-hour window. A WhatsApp text outside the window without one is
	// skipped.
	Templates map[string]string
}

// whatsapp reports whether j goes out on WhatsApp.
func whatsapp(j *bot.Job) bool { return j.Kind == bot.JobSMS && j.Channel == bot.ChannelWhatsApp }

// from is the sender of j's text: From or WhatsAppFrom as Twilio writes
// it, or "" to send through the Messaging Service.
func (s *Sender) from(j *bot.Job) string {
	if whatsapp(j) {
		if s.WhatsAppFrom != "" {
			return bot.ChannelWhatsApp.Address(s.WhatsAppFrom)
		}
		return ""
	}
	if s.MessagingServiceSID != "" {
		return ""
	}
	return s.From
}

// template is the ContentSid j goes out with outside the window, or "".
func (s *Sender) template(j *bot.Job) string {
	if !whatsapp(j) || j.Template == "" {
		return ""
	}
	return s.Templates[j.Template]
}

// Send sends one text. Before retrying a text whose earlier try may have
// reached Twilio (a lost response), it asks Twilio whether the text is
// already there, so that no accepted text is sent twice.
//
// A WhatsApp text goes as it is inside WhatsApp's 24-hour window
// (j.WindowOpen); outside it, as the approved template for its reply
// (ContentSid and ContentVariables), or not at all: a *bot.DeliveryError
// that says it was skipped.
func (s *Sender) Send(ctx context.Context, j *bot.Job) (string, error) {
	from := s.from(j)
	if whatsapp(j) && from == "" && s.MessagingServiceSID == "" {
		return "", &bot.DeliveryError{BadSender: true, Permanent: true,
			Err: errors.New("no WhatsApp sender: set TWILIO_WHATSAPP_FROM (or TWILIO_MESSAGING_SERVICE_SID with a WhatsApp sender in its pool)")}
	}
	if j.Ambiguous {
		// Before anything else: an earlier try may have gone, even one
		// made while the window was open.
		sid, err := s.find(j)
		var de *bot.DeliveryError
		if errors.As(err, &de) {
			return "", de
		} else if err != nil {
			return "", classify(bot.MaskErr(fmt.Errorf("look for an earlier try: %w", err)))
		}
		if sid != "" {
			return sid, nil
		}
	}
	content := ""
	if whatsapp(j) && !j.WindowOpen {
		if content = s.template(j); content == "" {
			what := "this text has no template"
			if j.Template != "" {
				what = "TWILIO_WHATSAPP_TEMPLATES names no template for " + j.Template
			}
			return "", &bot.DeliveryError{Skipped: true,
				Err: fmt.Errorf("outside WhatsApp's 24-hour window and %s", what)}
		}
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(j.Channel.Address(j.To))
	if content != "" {
		p.SetContentSid(content)
		if j.Vars != "" {
			p.SetContentVariables(j.Vars)
		}
	} else {
		p.SetBody(j.Body)
	}
	if from == "" {
		p.SetMessagingServiceSid(s.MessagingServiceSID)
	} else {
		p.SetFrom(from)
	}
	if s.StatusCallback != "" {
		p.SetStatusCallback(s.StatusCallback)
	}
	m, err := s.Client.Api.CreateMessage(p)
	if err != nil {
		return "", classify(err)
	}
	if m.Sid == nil {
		return "", &bot.DeliveryError{Err: errors.New("twilio accepted the message but returned no sid"), Ambiguous: true}
	}
	return *m.Sid, nil
}

// Bounds of the lookup for an earlier try of an ambiguous text.
const (
	findPageSize = 1000        // messages per page of the list (Twilio's most)
	findMax      = 5000        // messages read at most, unless Sender.LookupMax
	findMargin   = time.Minute // slack for the clocks of Twilio and ours; well inside bot.TakenWindow
)

// find looks for the message an earlier try of the ambiguous job j may
// have created: to j.To, sent through the API by our sender, ending with
// j.Body (trial accounts prefix it), created at Twilio no earlier than a
// margin before the job's first try, and not the result of another job
// (j.Taken). The Outbox hands out one job per phone at a time, so no other
// job's text can be in flight meanwhile.
//
// The list is filtered by To only and date_created is checked here:
// Twilio's DateSent filters match the sent date, which a message still
// queued does not have, and the list's order (documented as by sent
// date) is not relied on. It returns "" when there is no such message,
// and a permanent *bot.DeliveryError when the phone has more messages than
// LookupMax, which leaves the answer unknown.
func (s *Sender) find(j *bot.Job) (string, error) {
	most := s.LookupMax
	if most <= 0 {
		most = findMax
	}
	since := j.FirstTry.Add(-findMargin).Truncate(time.Second)
	p := &openapi.ListMessageParams{}
	p.SetTo(j.Channel.Address(j.To))
	p.SetPageSize(min(findPageSize, most+1))
	p.SetLimit(most + 1)
	msgs, err := s.Client.Api.ListMessage(p)
	if err != nil {
		return "", err
	}
	if len(msgs) > most {
		return "", &bot.DeliveryError{Permanent: true,
			Err: fmt.Errorf("more than %d messages to %s at twilio: cannot tell whether an earlier try went out, so not sending again", most, bot.MaskPhone(j.To))}
	}
	var sid string
	var first time.Time
	for _, m := range msgs {
		if !s.ours(m, j) {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, *m.DateCreated)
		if err != nil {
			return "", fmt.Errorf("message %s: date_created: %w", *m.Sid, err)
		}
		if !created.Before(since) && (sid == "" || created.Before(first)) {
			sid, first = *m.Sid, created
		}
	}
	return sid, nil
}

// ours reports whether m could be a try of job j: a message we sent
// through the API, from our sender, with j's body, that no other job has
// taken. A WhatsApp text that may have gone as its template has a body
// Twilio rendered from it: any body is j's then (the Worker hands such a
// job every other job's message to that phone as taken).
func (s *Sender) ours(m openapi.ApiV2010Message, j *bot.Job) bool {
	from := s.from(j)
	switch {
	case m.Sid == nil || m.DateCreated == nil || slices.Contains(j.Taken, *m.Sid):
		return false
	case m.Direction != nil && *m.Direction != "outbound-api":
		return false // a TwiML reply, or a text to us
	case m.Body == nil || !strings.HasSuffix(*m.Body, j.Body) && s.template(j) == "":
		return false
	case from == "":
		return m.MessagingServiceSid != nil && *m.MessagingServiceSid == s.MessagingServiceSID
	default:
		return m.From != nil && *m.From == from
	}
}

// Twilio error codes that decide what the outbox does.
const (
	codeTooManyRequests = 20429
	codeOptedOut        = 21610
	codeOutsideWindow   = 63016 // WhatsApp: free-form outside the 24-hour window
)

var (
	badRecipient = map[int]bool{21211: true, 21614: true, 21408: true, 21612: true, 21604: true, 21617: true, 21602: true,
		// WhatsApp: no such WhatsApp user (63003, 63024), the sandbox's
		// recipient has not joined it (63015), Meta does not deliver to
		// this user (63032, 63049).
		63003: true, 63024: true, 63015: true, 63032: true, 63049: true}
	badContent = map[int]bool{
		// WhatsApp: content the channel refuses or does not support.
		63005: true, 63013: true, 63021: true, 63022: true}
	badSender = map[int]bool{21606: true, 21212: true, 21659: true, 21701: true, 20003: true,
		// WhatsApp: no such sender (63007), or not ready to send (63020).
		63007: true, 63020: true}
	// later are worth another try after a while: WhatsApp's rate limits
	// (63018) and the channel's own failures (63012 internal error,
	// 63038 the account's daily limit).
	later = map[int]time.Duration{63018: time.Minute, 63012: time.Minute, 63038: time.Hour}
)

// codeTexts say what WhatsApp's error codes mean, for status callbacks,
// which carry only the number.
var codeTexts = map[int]string{
	63003: "channel could not find the To address (not a WhatsApp user)",
	63005: "channel did not accept the content",
	63007: "no channel with this From address",
	63012: "the channel provider's internal error",
	63013: "channel policy violation",
	63015: "the sandbox's recipient has not joined it",
	63016: "outside WhatsApp's 24-hour window: only a template may go",
	63018: "rate limit exceeded for the channel",
	63020: "the sender is not ready (Business Manager invitation)",
	63021: "invalid content for the channel",
	63022: "invalid vname certificate",
	63024: "invalid message recipient",
	63032: "WhatsApp does not deliver to this user",
	63038: "the account's daily message limit",
	63049: "Meta chose not to deliver this message",
}

// codeText says what a Twilio error code means.
func codeText(code int) string {
	if t, ok := codeTexts[code]; ok {
		return t
	}
	return "see https://www.twilio.com/docs/errors/" + fmt.Sprint(code)
}

// SortCode sorts the error code of a status callback into what the outbox
// should do (bot.Worker.Sort); nil when the code has no rule of its own.
func SortCode(code int) *bot.DeliveryError {
	return sortCode(code, fmt.Errorf("twilio %d: %s", code, codeText(code)))
}

// sortCode sorts a Twilio error code, from a refused request or a status
// callback, into what the outbox should do; nil when the code has no rule
// of its own.
func sortCode(code int, err error) *bot.DeliveryError {
	de := &bot.DeliveryError{Err: err, Code: code}
	switch {
	case code == codeOptedOut:
		de.OptedOut, de.Permanent = true, true
	case code == codeOutsideWindow:
		de.WindowClosed = true
	case badRecipient[code] || badContent[code]:
		de.Permanent = true
	case badSender[code]:
		de.BadSender, de.Permanent = true, true
	case later[code] > 0:
		de.RetryAfter = later[code]
	case code == codeTooManyRequests:
		de.RetryAfter = time.Second
	default:
		return nil
	}
	return de
}

// classify sorts a twilio-go error into what the outbox should do.
func classify(err error) error {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		msg := fmt.Errorf("twilio %d: %s", te.Code, bot.MaskPhones(te.Message))
		if de := sortCode(te.Code, msg); de != nil {
			return de
		}
		de := &bot.DeliveryError{Err: msg, Code: te.Code}
		switch {
		case te.Status == http.StatusTooManyRequests:
			de.RetryAfter = time.Second
		case te.Status >= 500:
			de.Ambiguous = true
		case te.Status >= 400:
			de.Permanent = true
		}
		return de
	}
	// A connection that was never made cannot have sent anything; any
	// other failure (timeout, reset, a non-JSON 5xx) may have.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &bot.DeliveryError{Err: err}
	}
	return &bot.DeliveryError{Err: err, Ambiguous: true}
}
