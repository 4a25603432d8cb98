package twiliotest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// WhatsApp, as the stand-in speaks it: addresses are "whatsapp:+E164" in
// To and From; a message from "whatsapp:+..." must come from one of
// Options.WhatsApp (else 63007); a Messaging Service sends WhatsApp
// messages from the first of them. A free-form message to a person who
// has not written within 24 hours (Inbound) is accepted and then fails
// with 63016, as Twilio does: only a content template (ContentSid, from
// Options.Contents) may go outside the window. The Channels Senders list
// (/v2/Channels/Senders) and the Content API's approval status
// (/v1/Content/{Sid}/ApprovalRequests) answer what doctor asks.

// Content is a content template of the account.
type Content struct {
	Name string // the template's name, such as "smsbot_code_prompt"
	// Body is its text, with placeholders {{1}}, {{2}}, ... filled from
	// ContentVariables.
	Body string
	// Status is its WhatsApp approval: "approved" (the default),
	// "pending", "rejected", ...
	Status string
}

// Twilio error codes of WhatsApp and of content templates.
const (
	codeContentInvalid   = 21655 // the ContentSid is not one of the account's
	codeContentVariables = 21656 // ContentVariables is not valid JSON, or misses a placeholder
	codeChannelsMismatch = 21910 // From and To are not on the same channel
	codeNoWhatsAppSender = 63007 // no channel with this From address
	// CodeOutsideWindow is the error a free-form WhatsApp message outside
	// the 24-hour window fails with.
	CodeOutsideWindow = 63016
)

// whatsAppWindow is WhatsApp's customer service window.
const whatsAppWindow = 24 * time.Hour

var placeholder = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

// Inbound records that from (an address: "+E164" or "whatsapp:+E164")
// wrote to the account now, as Twilio sees every inbound message: for
// WhatsApp it opens the 24-hour window in which free-form messages may go
// to from. The Dev Phone calls it for each text; tests call it for the
// messages they post to the webhook.
func (s *Server) Inbound(from string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inbound == nil {
		s.inbound = make(map[string]time.Time)
	}
	s.inbound[from] = s.now()
}

// WindowOpen reports whether a free-form WhatsApp message may go to addr
// now.
func (s *Server) WindowOpen(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.windowOpenLocked(addr)
}

func (s *Server) windowOpenLocked(addr string) bool {
	at, ok := s.inbound[addr]
	return ok && s.now().Sub(at) < whatsAppWindow
}

// FailNext makes the next n messages accepted for to (an address) fail
// after they were accepted, with Twilio error code: what WhatsApp's rate
// limits (63018) or an unknown recipient (63024) look like.
func (s *Server) FailNext(to string, code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext == nil {
		s.failNext = make(map[string][]int)
	}
	for range n {
		s.failNext[to] = append(s.failNext[to], code)
	}
}

// SetWhatsAppWebhook sets the incoming message URL of the WhatsApp sender
// phone (one of Options.WhatsApp), as the console does; it reports whether
// there is such a sender.
func (s *Server) SetWhatsAppWebhook(phone, callbackURL string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.opts.WhatsApp {
		if p == phone {
			if s.waHooks == nil {
				s.waHooks = make(map[string]string)
			}
			s.waHooks[phone] = callbackURL
			return true
		}
	}
	return false
}

// isWhatsAppSender reports whether phone is one of the account's WhatsApp
// senders; s.mu must be held.
func (s *Server) isWhatsAppSender(phone string) bool {
	for _, p := range s.opts.WhatsApp {
		if p == phone {
			return true
		}
	}
	return false
}

// checkChannels checks a create request's To and From as Twilio does for
// channels; it returns a Twilio error code and message when it refuses.
// s.mu must be held.
func (s *Server) checkChannels(to, from, mg string) (int, string) {
	_, toCh := bot.SplitAddress(to)
	if from == "" {
		if toCh == bot.ChannelWhatsApp && mg != "" && len(s.opts.WhatsApp) == 0 {
			return codeNoWhatsAppSender, "The Messaging Service " + mg + " has no WhatsApp sender."
		}
		return 0, ""
	}
	fromPhone, fromCh := bot.SplitAddress(from)
	switch {
	case fromCh != toCh:
		return codeChannelsMismatch, "Invalid From and To pair. From and To should be of the same channel"
	case fromCh == bot.ChannelWhatsApp && !s.isWhatsAppSender(fromPhone):
		return codeNoWhatsAppSender, "Twilio could not find a Channel with the specified From address"
	case fromCh == bot.ChannelSMS && s.numberByPhone(from) == nil:
		return codeFromNotOwned, "The 'From' number " + from +
			" is not a valid, SMS-capable inbound phone number or short code for your account."
	}
	return 0, ""
}

// renderContent fills the content template sid with vars (a JSON object);
// it returns a Twilio error code and message when it refuses. s.mu must be
// held.
func (s *Server) renderContent(sid, vars string) (string, int, string) {
	c, ok := s.opts.Contents[sid]
	if !ok {
		return "", codeContentInvalid, "The Content SID " + sid + " is invalid."
	}
	values := map[string]string{}
	if vars != "" {
		if err := json.Unmarshal([]byte(vars), &values); err != nil {
			return "", codeContentVariables, "The ContentVariables Parameter is invalid: " + err.Error()
		}
	}
	missing := ""
	body := placeholder.ReplaceAllStringFunc(c.Body, func(m string) string {
		n := placeholder.FindStringSubmatch(m)[1]
		v, ok := values[n]
		if !ok || strings.TrimSpace(v) == "" {
			missing = n
		}
		return v
	})
	if missing != "" {
		return "", codeContentVariables, "The ContentVariables Parameter is invalid: no value for {{" + missing + "}}"
	}
	return body, 0, ""
}

// failCode is the error an accepted message to to fails with after it was
// accepted, 0 for none: the window (63016) for a free-form WhatsApp
// message, else an injected failure (FailNext). s.mu must be held.
func (s *Server) failCode(to string, content bool) int {
	if q := s.failNext[to]; len(q) > 0 {
		s.failNext[to] = q[1:]
		return q[0]
	}
	if _, ch := bot.SplitAddress(to); ch == bot.ChannelWhatsApp && !content && !s.windowOpenLocked(to) {
		return CodeOutsideWindow
	}
	return 0
}

// fail moves message sid to "failed" with code, posting the status to its
// StatusCallback: Twilio reports a failure whether or not the messages it
// delivers report their progress (DeliverStatus).
func (s *Server) fail(sid string, code int) {
	defer s.wg.Done()
	s.mu.Lock()
	m, ok := s.bySID[sid]
	if !ok || s.closed {
		s.mu.Unlock()
		return
	}
	now := s.now()
	m.Status, m.ErrorCode, m.DateUpdated = "failed", code, now
	if m.From == "" {
		m.From = s.poolSender(m.To)
	}
	s.feeds[feedStatus].publish(*m)
	cp := *m
	s.mu.Unlock()
	if cp.StatusCallback != "" {
		s.postStatus(s.ctx, cp)
	}
}

// poolSender is the sender a Messaging Service picks for to; s.mu must be
// held.
func (s *Server) poolSender(to string) string {
	if _, ch := bot.SplitAddress(to); ch == bot.ChannelWhatsApp {
		if len(s.opts.WhatsApp) > 0 {
			return bot.ChannelWhatsApp.Address(s.opts.WhatsApp[0])
		}
		return ""
	}
	if len(s.numbers) > 0 {
		return s.numbers[0].phone
	}
	return ""
}

// senderSID is the stable "XE..." SID of a WhatsApp sender.
func senderSID(account, phone string) string {
	sum := sha256.Sum256([]byte(account + "|whatsapp|" + phone))
	return "XE" + hex.EncodeToString(sum[:16])
}

// listSenders serves GET /v2/Channels/Senders?Channel=whatsapp: the
// account's WhatsApp senders, all online, with the webhook each has.
func (s *Server) listSenders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if ch := q.Get("Channel"); ch != "" && ch != "whatsapp" {
		writeJSON(w, http.StatusOK, map[string]any{"senders": []any{}, "meta": sendersMeta(r.URL)})
		return
	}
	s.mu.Lock()
	senders := make([]map[string]any, 0, len(s.opts.WhatsApp))
	for _, p := range s.opts.WhatsApp {
		sid := senderSID(s.opts.AccountSID, p)
		hook := s.waHooks[p]
		senders = append(senders, map[string]any{
			"sid":       sid,
			"status":    "ONLINE",
			"sender_id": bot.ChannelWhatsApp.Address(p),
			"webhook": map[string]any{
				"callback_url":    hook,
				"callback_method": http.MethodPost,
			},
			"url": "https://messaging.twilio.com/v2/Channels/Senders/" + sid,
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"senders": senders, "meta": sendersMeta(r.URL)})
}

// sendersMeta is the paging envelope of the v2 list: one page.
func sendersMeta(u *url.URL) map[string]any {
	return map[string]any{
		"page": 0, "page_size": 50, "first_page_url": u.String(), "url": u.String(),
		"next_page_url": nil, "previous_page_url": nil, "key": "senders",
	}
}

// fetchApproval serves GET /v1/Content/{Sid}/ApprovalRequests: the
// content template's WhatsApp approval.
func (s *Server) fetchApproval(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c, ok := s.opts.Contents[sid]
	s.mu.Unlock()
	if !ok {
		notFound(w, r)
		return
	}
	status := c.Status
	if status == "" {
		status = "approved"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sid":         sid,
		"account_sid": s.opts.AccountSID,
		"whatsapp": map[string]any{
			"type": "whatsapp", "name": c.Name, "category": "UTILITY", "content_type": "twilio/text",
			"status": status, "rejection_reason": "",
		},
		"url": "https://content.twilio.com/v1/Content/" + sid + "/ApprovalRequests",
	})
}

// serveChannels serves the non-2010 resources the stand-in knows; it
// reports whether path was one of them.
func (s *Server) serveChannels(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	switch {
	case path == "/v2/Channels/Senders":
		if s.authorized(w, r) && allowMethods(w, r, http.MethodGet) {
			s.listSenders(w, r)
		}
		return true
	case strings.HasPrefix(path, "/v1/Content/") && strings.HasSuffix(path, "/ApprovalRequests"):
		sid := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/Content/"), "/ApprovalRequests")
		if sid == "" || strings.Contains(sid, "/") {
			notFound(w, r)
			return true
		}
		if s.authorized(w, r) && allowMethods(w, r, http.MethodGet) {
			s.fetchApproval(w, r, sid)
		}
		return true
	}
	return false
}
