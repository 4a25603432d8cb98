// Package devphone is the Dev Phone of dev mode: a page where a person
// picks a phone number, texts the bot as that number, and watches every
// message the bot sends back, live.
//
// A text from the page becomes an inbound SMS webhook built and signed
// exactly as Twilio builds and signs it, posted to the bot's real webhook.
// The TwiML the bot answers with becomes the replies; texts the bot sends
// later through the REST API land in the twiliotest stand-in, whose feed
// the page follows. Twilio's own handling of STOP, START and HELP on long
// codes is emulated too, with Twilio's default replies.
//
// A phone can also write as a WhatsApp user (a toggle per phone on the
// page): its messages come from "whatsapp:+E164" to the bot's WhatsApp
// number, as Twilio posts them, Twilio's SMS keyword handling does not
// apply, and the stand-in learns of each message, which opens WhatsApp's
// 24-hour window. The conversation shows both channels, each message
// marked with its own.
//
// Nothing in production mode uses it.
package devphone

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// Options configures a Phone.
type Options struct {
	// Twilio is the REST API stand-in: texts the bot sends through it show
	// up in the conversations, and carrier opt-outs are recorded in it.
	// Nil leaves both out.
	Twilio *twiliotest.Server
	// WebhookURL is where inbound webhooks are posted, a loopback URL such
	// as http://127.0.0.1:8080/webhooks/twilio/sms.
	WebhookURL string
	// SignURL is the URL Twilio would have been given (public URL +
	// /webhooks/twilio/sms); X-Twilio-Signature is computed over it.
	SignURL string
	// AuthToken signs the webhooks; AccountSID and BotNumber fill them in.
	AuthToken  string
	AccountSID string
	BotNumber  string
	// WhatsAppNumber is the bot's WhatsApp sender; a phone writing as a
	// WhatsApp user writes to it. "" means BotNumber.
	WhatsAppNumber string
	// WebLinkURL, when set, is the bot's web-first page (log in first,
	// then text the code it shows); the page links to it, to open beside
	// the Dev Phone.
	WebLinkURL string
	// Client posts the webhooks; nil means a client with a 20 s timeout.
	// Each webhook is also bounded by Twilio's own 15 s wait.
	Client *http.Client
	// Logger receives one line per text and per webhook failure; nil
	// discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Phone is the Dev Phone: the simulated phones' conversations and the
// HTTP handler that shows them. It is safe for concurrent use.
type Phone struct {
	opts   Options
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	page   *template.Template

	mu    sync.Mutex
	convs map[string][]Entry // the phone's own entries (not REST texts), oldest first
	subs  map[string]map[int]chan event
	next  int
}

// Entry is one message of a simulated phone's conversation.
type Entry struct {
	ID        string    `json:"id"`        // the MessageSid
	Phone     string    `json:"phone"`     // the simulated phone
	Direction string    `json:"direction"` // "in": sent by the phone to the bot; "out": received by the phone
	Source    string    `json:"source"`    // "phone", "reply" (TwiML), "rest" (REST API) or "twilio" (carrier reply)
	Body      string    `json:"body"`
	Time      time.Time `json:"time"`
	Status    string    `json:"status,omitempty"` // "received", "queued", "sent", "delivered", "failed", ...
	ErrorCode int       `json:"error_code,omitempty"`
	Error     string    `json:"error,omitempty"` // what went wrong, for the developer
	Channel   string    `json:"channel"`         // "sms" or "whatsapp"
	// Template is set on a WhatsApp message the bot sent as an approved
	// template (outside the 24-hour window): its ContentSid.
	Template string `json:"template,omitempty"`
}

// Sources of an Entry.
const (
	SourcePhone  = "phone"
	SourceReply  = "reply"
	SourceREST   = "rest"
	SourceTwilio = "twilio"
)

//go:embed static page.html
var assets embed.FS

// New returns a Phone for the given options.
func New(o Options) *Phone {
	p := &Phone{
		opts:   o,
		client: o.Client,
		log:    o.Logger,
		now:    o.Now,
		page:   template.Must(template.ParseFS(assets, "page.html")),
		convs:  make(map[string][]Entry),
		subs:   make(map[string]map[int]chan event),
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 20 * time.Second}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Handler returns the Dev Phone's routes, to be mounted by the caller
// (r.Mount("/dev", p.Handler())):
//
//	GET  /             the page (a request for the mount point without the
//	                   trailing slash is redirected to it)
//	GET  /static/*     its script and style sheet
//	POST /api/send     {"from": "+15555550123", "body": "S"}: text the bot;
//	                   "whatsapp": true writes as a WhatsApp user
//	GET  /api/messages ?phone=+15555550123: the conversation, as JSON
//	GET  /api/events   ?phone=+15555550123: the conversation as a
//	                   Server-Sent Events stream, then new entries live
func (p *Phone) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/", p.servePage)
	r.Get("/static/*", serveStatic)
	r.Post("/api/send", p.serveSend)
	r.Get("/api/messages", p.serveMessages)
	r.Get("/api/events", p.serveEvents)
	return r
}

// Conversation returns phone's conversation, oldest first: its texts to
// the bot, the replies, Twilio's carrier replies and the texts sent to it
// through the REST API stand-in.
func (p *Phone) Conversation(phone string) []Entry {
	p.mu.Lock()
	out := slices.Clone(p.convs[phone])
	p.mu.Unlock()
	if p.opts.Twilio != nil {
		for _, addr := range []string{phone, bot.ChannelWhatsApp.Address(phone)} {
			for _, m := range p.opts.Twilio.MessagesTo(addr) {
				out = append(out, restEntry(m))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	return out
}

// optedOut reports whether the stand-in has phone opted out.
func (p *Phone) optedOut(phone string) bool {
	return p.opts.Twilio != nil && p.opts.Twilio.OptedOut(phone)
}

// restEntry turns a message sent through the REST API into an Entry.
func restEntry(m twiliotest.Message) Entry {
	phone, ch := bot.SplitAddress(m.To)
	e := Entry{
		ID:        m.SID,
		Phone:     phone,
		Direction: "out",
		Source:    SourceREST,
		Body:      m.Body,
		Time:      m.DateCreated,
		Status:    m.Status,
		ErrorCode: m.ErrorCode,
		Channel:   string(ch),
		Template:  m.ContentSID,
	}
	if m.ErrorCode == twiliotest.CodeOutsideWindow {
		e.Error = "outside WhatsApp's 24-hour window: only a template may go"
	}
	return e
}

// whatsAppNumber is the bot's WhatsApp number.
func (p *Phone) whatsAppNumber() string {
	if p.opts.WhatsAppNumber != "" {
		return p.opts.WhatsAppNumber
	}
	return p.opts.BotNumber
}

// record appends e to its phone's conversation and tells the watchers.
func (p *Phone) record(e Entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.convs[e.Phone] = append(p.convs[e.Phone], e)
	p.publishLocked(e.Phone, event{name: "entry", id: e.ID, data: e})
}

// update replaces the entry with e's ID and tells the watchers.
func (p *Phone) update(e Entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conv := p.convs[e.Phone]
	for i := range conv {
		if conv[i].ID == e.ID {
			conv[i] = e
		}
	}
	p.publishLocked(e.Phone, event{name: "entry", id: e.ID, data: e})
}

// servePage serves the Dev Phone page.
func (p *Phone) servePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] != '/' {
		// Relative URLs in the page need the trailing slash.
		u := *r.URL
		u.Path += "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if err := p.page.Execute(w, struct{ BotNumber, WebLinkURL string }{p.opts.BotNumber, p.opts.WebLinkURL}); err != nil {
		p.log.Error("dev phone: render page", "err", err)
	}
}

// serveStatic serves the embedded script and style sheet.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if name == "" || name[len(name)-1] == '/' {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, "static/"+name)
}
