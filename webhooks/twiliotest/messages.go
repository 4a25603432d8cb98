package twiliotest

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsbot/smsbot/bot"
)

// Message is an outbound message the stand-in accepted through
// POST .../Messages.json.
type Message struct {
	SID                 string // "SM" + 32 hex
	AccountSID          string
	To                  string
	From                string // "" until "sent" when sent through a Messaging Service without From
	MessagingServiceSID string
	Body                string
	Status              string // "queued" (or "accepted" for a Messaging Service without From), "sent", "delivered"
	StatusCallback      string
	DateCreated         time.Time
	DateSent            time.Time // zero until "sent"
	DateUpdated         time.Time
	NumSegments         int // 0 while "accepted", like Twilio
	ErrorCode           int // 0 when none
	// Held is set on a message Faults.RateQueued keeps queued: it is never
	// sent, and the DateSent filters of the list do not return it.
	Held bool
	// ContentSID is the content template the message was sent as; Body
	// is then the template filled with ContentVariables.
	ContentSID string
}

var (
	mgPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// Messages returns a copy of every accepted message, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages))
	for _, m := range s.messages {
		out = append(out, *m)
	}
	return out
}

// MessagesTo returns a copy of every accepted message to phone, oldest
// first.
func (s *Server) MessagesTo(phone string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.To == phone {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns the current state of the accepted message sid.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// OptOut records that phone replied STOP: later sends to it fail with
// Twilio error 21610 (HTTP 400) until OptIn.
func (s *Server) OptOut(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.optedOut[phone] = true
}

// OptIn undoes OptOut, as Twilio does when phone replies START.
func (s *Server) OptIn(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.optedOut, phone)
}

// OptedOut reports whether phone is opted out.
func (s *Server) OptedOut(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.optedOut[phone]
}

// Requests returns how many POST .../Messages.json attempts the stand-in
// has seen, including rejected and faulted ones.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Duplicates returns how many accepted messages have the same (To, Body)
// as an earlier accepted message: what a client that retries blindly
// after an ambiguous failure produces.
func (s *Server) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.duplicates
}

// createMessage serves POST .../Messages.json.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	fault, hang := s.drawFault()
	switch fault {
	case fault429:
		writeError(w, http.StatusTooManyRequests, codeTooManyRequests, "Too Many Requests")
		return
	case fault500:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("500 Internal Server Error\n"))
		return
	case faultHang:
		s.hang(r, hang)
		dropConnection(w)
		return
	case faultDropBefore:
		dropConnection(w)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, "Unable to parse the request body")
		return
	}
	m, code, msg := s.accept(r.PostForm)
	if code != 0 {
		writeError(w, http.StatusBadRequest, code, msg)
		return
	}
	switch fault {
	case faultDropAfter:
		dropConnection(w)
		return
	case faultLateAnswer:
		// The message is listed already; its answer comes late or never.
		s.hang(r, hang)
		if hang == 0 || r.Context().Err() != nil || s.ctx.Err() != nil {
			dropConnection(w)
			return
		}
		m, _ = s.Message(m.SID)
	}
	writeJSON(w, http.StatusCreated, s.messageJSON(m))
}

// accept validates a create request the way Twilio does and stores the
// message. It returns a Twilio error code and message when it refuses.
func (s *Server) accept(f url.Values) (Message, int, string) {
	to := f.Get("To")
	from := f.Get("From")
	mg := f.Get("MessagingServiceSid")
	body := f.Get("Body")
	content := f.Get("ContentSid")
	toPhone, _ := bot.SplitAddress(to)
	switch {
	case to == "":
		return Message{}, codeToRequired, "A 'To' phone number is required."
	case !bot.ValidPhone(toPhone):
		return Message{}, codeInvalidTo, "The 'To' number " + to + " is not a valid phone number."
	case from == "" && mg == "":
		return Message{}, codeFromRequired, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."
	case mg != "" && !mgPattern.MatchString(mg):
		return Message{}, codeServiceInvalid, "The Messaging Service Sid " + mg + " is invalid."
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if mg != "" && !s.services[mg] {
		return Message{}, codeServiceNotFound, "The Messaging Service " + mg + " does not exist."
	}
	if code, msg := s.checkChannels(to, from, mg); code != 0 {
		return Message{}, code, msg
	}
	if content != "" {
		rendered, code, msg := s.renderContent(content, f.Get("ContentVariables"))
		if code != 0 {
			return Message{}, code, msg
		}
		body = rendered
	}
	switch {
	case body == "" && len(f["MediaUrl"]) == 0:
		return Message{}, codeBodyRequired, "Message body is required."
	case utf8.RuneCountInString(body) > maxBodyChars:
		return Message{}, codeBodyTooLong, "The concatenated message body exceeds the 1600 character limit."
	case to == from:
		return Message{}, codeToFromSame, "'To' and 'From' number cannot be the same: " + to
	case s.optedOut[to]:
		return Message{}, codeUnsubscribed, "Attempt to send to unsubscribed recipient"
	}

	now := s.now()
	m := &Message{
		SID:                 newSID("SM"),
		AccountSID:          s.opts.AccountSID,
		To:                  to,
		From:                from,
		MessagingServiceSID: mg,
		Body:                body,
		Status:              "queued",
		StatusCallback:      f.Get("StatusCallback"),
		DateCreated:         now,
		DateUpdated:         now,
		NumSegments:         bot.Segments(body),
		Held:                s.drawQueued(),
		ContentSID:          content,
	}
	if from == "" {
		// Twilio picks the sender from the service's pool later.
		m.Status = "accepted"
		m.NumSegments = 0
	}
	failure := s.failCode(to, content != "")
	s.messages = append(s.messages, m)
	s.bySID[m.SID] = m
	pair := [2]string{to, body}
	if s.sentPairs[pair] {
		s.duplicates++
	}
	s.sentPairs[pair] = true
	s.feeds[feedAccepted].publish(*m)
	switch {
	case s.closed || m.Held:
	case failure != 0:
		s.wg.Add(1)
		go s.fail(m.SID, failure)
	case s.opts.DeliverStatus:
		s.wg.Add(1)
		go s.deliver(m.SID)
	}
	return *m, 0, ""
}

// fetchMessage serves GET .../Messages/{Sid}.json.
func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request, sid string) {
	m, ok := s.Message(sid)
	if !ok {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.messageJSON(m))
}

// dateFilter is one of the DateSent filters of the Messages list.
type dateFilter struct {
	op string // "=", "<" (on or before), ">" (on or after)
	t  time.Time
	// day is set when the value was a date (YYYY-MM-DD) rather than a time.
	day bool
}

// match reports whether t passes the filter. Twilio stores times with
// second precision, so t is compared truncated to the second.
func (d dateFilter) match(t time.Time) bool {
	t = t.UTC().Truncate(time.Second)
	dayStart := time.Date(d.t.Year(), d.t.Month(), d.t.Day(), 0, 0, 0, 0, time.UTC)
	switch d.op {
	case "<":
		if d.day {
			return t.Before(dayStart.AddDate(0, 0, 1))
		}
		return !t.After(d.t)
	case ">":
		if d.day {
			return !t.Before(dayStart)
		}
		return !t.Before(d.t)
	default:
		return !t.Before(dayStart) && t.Before(dayStart.AddDate(0, 0, 1))
	}
}

// parseDateFilter parses a DateSent value: a date (YYYY-MM-DD, in GMT) or an
// RFC 3339 time (what twilio-go sends).
func parseDateFilter(op, v string) (dateFilter, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return dateFilter{op: op, t: t, day: true}, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return dateFilter{op: op, t: t.UTC()}, true
	}
	return dateFilter{}, false
}

// listFilterKeys are the Messages list filters, in the order the stand-in
// repeats them in page URIs.
var listFilterKeys = []string{"To", "From", "DateSent", "DateSent<", "DateSent>"}

// listMessages serves GET .../Messages.json: newest first, filtered by To,
// From and DateSent (=, <=, >=), paged with PageSize, Page and PageToken.
// A message not yet sent is matched on its creation time, unless it is
// Held: then no DateSent filter returns it.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var dates []dateFilter
	for _, k := range listFilterKeys[2:] {
		v := q.Get(k)
		if v == "" {
			continue
		}
		d, ok := parseDateFilter(strings.TrimPrefix(k, "DateSent"), v)
		if !ok {
			writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid "+k+": "+v)
			return
		}
		dates = append(dates, d)
	}
	pg, ok := parsePaging(q)
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid PageSize or Page")
		return
	}
	to, from := q.Get("To"), q.Get("From")

	s.mu.Lock()
	var matched []Message
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if to != "" && m.To != to || from != "" && m.From != from || m.Held && len(dates) > 0 {
			continue
		}
		when := m.DateSent
		if when.IsZero() {
			when = m.DateCreated
		}
		if !slices.ContainsFunc(dates, func(d dateFilter) bool { return !d.match(when) }) {
			matched = append(matched, *m)
		}
	}
	s.mu.Unlock()

	start := pg.start(func(sid string) int {
		return slices.IndexFunc(matched, func(m Message) bool { return m.SID == sid })
	})
	end := min(start+pg.size, len(matched))
	start = min(start, end)
	items := make([]messageJSON, 0, end-start)
	for _, m := range matched[start:end] {
		items = append(items, s.messageJSON(m))
	}
	var lastSID string
	if end > start {
		lastSID = matched[end-1].SID
	}
	base := apiPrefix + s.opts.AccountSID + "/Messages.json"
	page := pg.envelope(base, q, listFilterKeys, start, end, len(matched), lastSID)
	writeJSON(w, http.StatusOK, messageListJSON{pageJSON: page, Messages: items})
}

// messageJSON is Twilio's JSON representation of a Message.
type messageJSON struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// messageListJSON is one page of the Messages list.
type messageListJSON struct {
	pageJSON
	Messages []messageJSON `json:"messages"`
}

// messageJSON renders m like Twilio does.
func (s *Server) messageJSON(m Message) messageJSON {
	uri := apiPrefix + m.AccountSID + "/Messages/" + m.SID
	j := messageJSON{
		AccountSID:      m.AccountSID,
		APIVersion:      "2010-04-01",
		Body:            m.Body,
		DateCreated:     rfc2822(m.DateCreated),
		DateUpdated:     rfc2822(m.DateUpdated),
		Direction:       "outbound-api",
		NumMedia:        "0",
		NumSegments:     strconv.Itoa(m.NumSegments),
		PriceUnit:       "USD",
		SID:             m.SID,
		Status:          m.Status,
		SubresourceURIs: map[string]string{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
		To:              m.To,
		URI:             uri + ".json",
	}
	if !m.DateSent.IsZero() {
		d := rfc2822(m.DateSent)
		j.DateSent = &d
	}
	if m.ErrorCode != 0 {
		c := m.ErrorCode
		j.ErrorCode = &c
	}
	if m.From != "" {
		f := m.From
		j.From = &f
	}
	if m.MessagingServiceSID != "" {
		mg := m.MessagingServiceSID
		j.MessagingServiceSID = &mg
	}
	return j
}

// rfc2822 formats t the way Twilio's 2010-04-01 API does
// ("Mon, 02 Jan 2006 15:04:05 +0000").
func rfc2822(t time.Time) string {
	return t.UTC().Format(time.RFC1123Z)
}
