// Package webhooks is smsbot's edge towards Twilio: the inbound SMS and
// status callback webhooks with their signature checks and TwiML answers,
// and the outbound REST client (twilio-go) that the outbox uses.
package webhooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/internal/reqlog"
)

// Conversation answers inbound texts and hears of texts that could not be
// delivered; *bot.Engine implements it.
type Conversation interface {
	HandleSMS(ctx context.Context, in bot.Inbound) (bot.Result, error)
	// NumberLost is told of a delivery error code for a text to phone;
	// ref names the message. Codes that say the number is gone suspend
	// its binding; others are ignored.
	NumberLost(ctx context.Context, phone, ref string, code int) error
}

// StatusRecorder keeps delivery statuses; *store.DB implements it.
type StatusRecorder interface {
	RecordStatus(ctx context.Context, sid, phone, status string, errorCode int, at time.Time) (bool, error)
}

// Redelivery hears of WhatsApp messages Twilio took but could not
// deliver, with what their error code says to do; *bot.Worker implements
// it.
type Redelivery interface {
	Undelivered(ctx context.Context, sid string, de *bot.DeliveryError) error
}

var (
	_ Conversation = (*bot.Engine)(nil)
	_ Redelivery   = (*bot.Worker)(nil)
)

// Paths of the webhooks under the public URL, as Twilio is given them.
const (
	PathSMS    = "/webhooks/twilio/sms"
	PathStatus = "/webhooks/twilio/status"
)

// MaxBody is the largest webhook body accepted. Twilio's inbound SMS
// webhook is a few kilobytes even with a 1,600-character body.
const MaxBody = 64 << 10

// Server handles Twilio's webhooks.
type Server struct {
	Conversation Conversation
	Statuses     StatusRecorder
	// Redelivery, when set, is told of WhatsApp messages that failed
	// after Twilio took them (63016 outside the window, 63018 throttled,
	// ...).
	Redelivery Redelivery
	// PublicURL is the base URL Twilio was given, such as
	// https://bot.example.com; signatures are checked against it plus the
	// request's path and query.
	PublicURL string
	AuthToken string
	Logger    *slog.Logger
	Now       func() time.Time
	// Observe, when set, is told of each webhook: which, the outcome and
	// the time it took.
	Observe func(hook, outcome string, d time.Duration)
	// Delivered, when set, is told of each delivery status that moved a
	// message forward, with Twilio's error code (0 for none).
	Delivered func(status string, errorCode int)
	// SignatureFailed, when set, is told of each request refused for a
	// missing or wrong X-Twilio-Signature, with the hook (HookSMS or
	// HookStatus).
	SignatureFailed func(ctx context.Context, hook string)
}

// The webhooks, as Observe and SignatureFailed name them.
const (
	HookSMS    = "sms"
	HookStatus = "status"
)

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// verify reads the POST form and checks X-Twilio-Signature over the public
// URL and every POST parameter. It writes the error response itself and
// returns false when the request must go no further.
func (s *Server) verify(w http.ResponseWriter, r *http.Request, hook string) bool {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != formType { // Twilio's, as it is: no parameters to parse
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			http.Error(w, "unsupported content type: want application/x-www-form-urlencoded", http.StatusUnsupportedMediaType)
			return false
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := parseForm(r); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return false
		}
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return false
	}
	if l := reqlog.FromContext(r.Context()); l != nil {
		// The request's line names the message, whatever becomes of it.
		if sid := r.PostForm.Get("MessageSid"); sid != "" && len(sid) <= 64 {
			l.Add(slog.String("message_sid", sid))
		}
	}
	sig := r.Header.Get("X-Twilio-Signature")
	for _, v := range r.PostForm {
		if len(v) != 1 {
			http.Error(w, "repeated form parameter", http.StatusBadRequest)
			return false
		}
	}
	url := strings.TrimRight(s.PublicURL, "/") + r.URL.RequestURI()
	if !validSignature(s.AuthToken, url, r.PostForm, sig) {
		s.logger().WarnContext(r.Context(), "webhook signature check failed", "path", r.URL.Path, "signed", sig != "")
		if s.SignatureFailed != nil {
			s.SignatureFailed(r.Context(), hook)
		}
		http.Error(w, "invalid signature", http.StatusForbidden)
		return false
	}
	return true
}

const formType = "application/x-www-form-urlencoded"

// parseForm is r.ParseForm for a webhook. Twilio posts its webhooks
// without a query string, and then the form in the body is all of
// r.Form: r.Form is r.PostForm, the same map, rather than a copy of it
// (r.ParseForm copies every value into a second map). With a query string
// it is r.ParseForm.
func parseForm(r *http.Request) error {
	if r.URL.RawQuery != "" || r.PostForm != nil {
		return r.ParseForm()
	}
	n := 512
	if r.ContentLength > 0 && r.ContentLength < MaxBody {
		n = int(r.ContentLength) + 1 // room to see the end without growing
	}
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return err
	}
	r.PostForm, r.Form = form, form
	return nil
}

// HandleSMS answers an inbound SMS, or WhatsApp message, with TwiML.
// Twilio posts both to the same webhook; a WhatsApp sender's From is
// "whatsapp:+E164", and the reply goes back the way the message came. A
// tapped button or list reply arrives as ButtonPayload (the template's
// id for it) and ButtonText: the payload, else the button's text, is the
// text.
func (s *Server) HandleSMS(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	outcome := "error"
	defer func() {
		if s.Observe != nil {
			s.Observe(HookSMS, outcome, s.now().Sub(start))
		}
	}()
	if !s.verify(w, r, HookSMS) {
		outcome = "rejected"
		return
	}
	in := bot.Inbound{
		MessageSID: r.PostForm.Get("MessageSid"),
		Body:       r.PostForm.Get("Body"),
	}
	in.From, in.Channel = bot.SplitAddress(r.PostForm.Get("From"))
	button := false
	for _, k := range []string{"ButtonPayload", "ButtonText"} {
		if v := r.PostForm.Get(k); strings.TrimSpace(v) != "" {
			in.Body, button = v, true
			break
		}
	}
	if in.MessageSID == "" {
		in.MessageSID = r.PostForm.Get("SmsSid")
	}
	switch {
	case in.MessageSID == "" || !validSID(in.MessageSID):
		outcome = "invalid"
		http.Error(w, "missing or malformed MessageSid", http.StatusBadRequest)
		return
	case !r.PostForm.Has("From"):
		outcome = "invalid"
		http.Error(w, "missing From", http.StatusBadRequest)
		return
	case !bot.ValidPhone(in.From):
		outcome = "invalid"
		http.Error(w, "From is not an E.164 phone number", http.StatusBadRequest)
		return
	case !r.PostForm.Has("Body") && !button:
		outcome = "invalid"
		http.Error(w, "missing Body", http.StatusBadRequest)
		return
	}
	res, err := s.Conversation.HandleSMS(r.Context(), in)
	if err != nil {
		if bot.ErrorCode(err) == bot.EINVALID {
			outcome = "invalid"
			http.Error(w, bot.ErrorMessage(err), http.StatusBadRequest)
			return
		}
		s.logText(r, in, slog.LevelError, "inbound sms failed", slog.Any("err", err))
		outcome = failed(w, err)
		return
	}
	outcome = "ok"
	if res.Duplicate {
		outcome = "duplicate"
	}
	s.logText(r, in, slog.LevelInfo, "inbound sms", slog.String("state", res.State), slog.Bool("replied", res.Reply != ""),
		slog.Bool("duplicate", res.Duplicate), slog.Bool("muted", res.Muted))
	writeTwiML(w, res.Reply)
}

// logText logs what became of the inbound text in: on the access log's
// line for the request when there is one (reqlog), so that a text is one
// line, else on a line of its own, msg.
func (s *Server) logText(r *http.Request, in bot.Inbound, level slog.Level, msg string, attrs ...slog.Attr) {
	var all [8]slog.Attr
	all[0] = slog.String("message_sid", in.MessageSID)
	all[1] = slog.String("phone", bot.MaskPhone(in.From))
	all[2] = slog.String("channel", string(in.Channel))
	n := 3 + copy(all[3:], attrs)
	l := reqlog.FromContext(r.Context())
	if l == nil {
		s.logger().LogAttrs(r.Context(), level, msg, all[:n]...)
		return
	}
	from := 0
	if r.PostForm.Get("MessageSid") == in.MessageSID {
		from = 1 // verify put it on the line
	}
	l.Add(all[from:n]...)
	if level > slog.LevelInfo {
		l.Raise(level)
	}
}

// failed answers a webhook that could not be handled and returns the
// outcome to observe. When the database is away or did not answer in
// time (bot.EUNAVAILABLE) it is 503: nothing was acknowledged, and Twilio
// may try again (a retry policy in the webhook URL's connection
// overrides) or turn to the fallback URL. Any other failure is 500, which
// at least shows in Twilio's debugger.
func failed(w http.ResponseWriter, err error) string {
	if bot.ErrorCode(err) == bot.EUNAVAILABLE {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "temporarily unavailable, try again", http.StatusServiceUnavailable)
		return "unavailable"
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
	return "error"
}

// writeTwiML answers with one message, or with an empty response that sends
// nothing.
func writeTwiML(w http.ResponseWriter, reply string) {
	xml := appendTwiML(make([]byte, 0, 96+len(reply)+len(reply)/8), reply)
	h := w.Header()
	h["Content-Type"] = twimlType
	h["Cache-Control"] = noStore
	w.Write(xml)
}

// The values of writeTwiML's headers, made once: Header.Set makes a new
// slice for each. Every answer shares them, so they must never be
// written in place; Set and Add do not (Set replaces a header's slice,
// and Add appends to it, which copies a full slice of one).
var (
	twimlType = []string{"text/xml; charset=utf-8"}
	noStore   = []string{"no-store"}
)

// HandleStatus records a delivery status callback.
func (s *Server) HandleStatus(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	outcome := "error"
	defer func() {
		if s.Observe != nil {
			s.Observe(HookStatus, outcome, s.now().Sub(start))
		}
	}()
	if !s.verify(w, r, HookStatus) {
		outcome = "rejected"
		return
	}
	sid := r.PostForm.Get("MessageSid")
	status := r.PostForm.Get("MessageStatus")
	if status == "" {
		status = r.PostForm.Get("SmsStatus")
	}
	code := 0
	if c := r.PostForm.Get("ErrorCode"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			outcome = "invalid"
			http.Error(w, "malformed ErrorCode", http.StatusBadRequest)
			return
		}
		code = n
	}
	if !validSID(sid) || status == "" {
		outcome = "invalid"
		http.Error(w, "missing MessageSid or MessageStatus", http.StatusBadRequest)
		return
	}
	to, ch := bot.SplitAddress(r.PostForm.Get("To"))
	changed, err := s.Statuses.RecordStatus(r.Context(), sid, to, status, code, s.now())
	if err != nil {
		if bot.ErrorCode(err) == bot.EINVALID {
			outcome = "invalid"
			http.Error(w, bot.ErrorMessage(err), http.StatusBadRequest)
			return
		}
		s.logger().ErrorContext(r.Context(), "status callback failed", "message_sid", sid, "err", err)
		outcome = failed(w, err)
		return
	}
	// Not only when changed: a callback repeated after a failure here must
	// still count; NumberLost counts each message once, and Undelivered
	// takes each message once.
	var ferr error
	switch {
	case code == 0:
	case ch == bot.ChannelWhatsApp:
		// WhatsApp's errors say nothing of the SIM: they never suspend a
		// binding, but some send the message again.
		if s.Redelivery != nil && (status == "failed" || status == "undelivered") {
			if de := SortCode(code); de != nil {
				ferr = s.Redelivery.Undelivered(r.Context(), sid, de)
			}
		}
	case bot.ValidPhone(to):
		ferr = s.Conversation.NumberLost(r.Context(), to, sid, code)
	}
	if ferr != nil {
		s.logger().ErrorContext(r.Context(), "status callback failed", "message_sid", sid, "err", ferr)
		outcome = failed(w, ferr)
		return
	}
	outcome = "ok"
	if changed && s.Delivered != nil {
		s.Delivered(status, code)
	}
	lvl := slog.LevelDebug
	if code != 0 {
		lvl = slog.LevelWarn
	}
	s.logger().Log(r.Context(), lvl, "message status", "message_sid", sid, "status", status, "error_code", code, "channel", ch, "changed", changed)
	w.WriteHeader(http.StatusNoContent)
}

// validSID checks the shape of a Twilio SID: two letters and 32 hex digits.
func validSID(s string) bool {
	if len(s) != 34 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i < 2 && c >= 'A' && c <= 'Z':
		case i >= 2 && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}
