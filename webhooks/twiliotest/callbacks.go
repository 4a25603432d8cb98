package twiliotest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
)

// deliver moves message sid through "sent" and "delivered", posting each
// status to its StatusCallback. It stops when the Server closes.
func (s *Server) deliver(sid string) {
	defer s.wg.Done()
	for _, status := range []string{"sent", "delivered"} {
		if s.ctx.Err() != nil {
			return
		}
		m, ok := s.advance(sid, status)
		if !ok {
			return
		}
		if m.StatusCallback != "" {
			s.postStatus(s.ctx, m)
		}
	}
}

// advance sets the status of message sid and publishes the change.
func (s *Server) advance(sid, status string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok || s.closed {
		return Message{}, false
	}
	now := s.now()
	if status == "sent" {
		m.DateSent = now
		if m.From == "" {
			m.From = s.poolSender(m.To) // the service's sender pool
		}
		m.NumSegments = bot.Segments(m.Body)
	}
	m.Status = status
	m.DateUpdated = now
	s.feeds[feedStatus].publish(*m)
	return *m, true
}

// postStatus sends one status callback for m, signed with the auth token,
// as Twilio does: once, without retries, waiting at most the callback
// client's timeout. The answer is read and discarded.
func (s *Server) postStatus(ctx context.Context, m Message) {
	form := url.Values{
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {m.Status},
		"SmsStatus":     {m.Status},
		"AccountSid":    {m.AccountSID},
		"From":          {m.From},
		"To":            {m.To},
		"ApiVersion":    {"2010-04-01"},
	}
	if m.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if m.ErrorCode != 0 {
		form.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	if _, ch := bot.SplitAddress(m.To); ch == bot.ChannelWhatsApp {
		form.Set("ChannelPrefix", "whatsapp")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.StatusCallback, strings.NewReader(form.Encode()))
	if err != nil {
		return // an unusable URL: Twilio would log error 11200 and carry on
	}
	req.Header.Set("Content-Type", contentTypeFormEncoded)
	req.Header.Set("User-Agent", twilioCallbackUserAgent)
	req.Header.Set("I-Twilio-Idempotency-Token", newSID(""))
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(s.opts.AuthToken, m.StatusCallback, form))
	resp, err := s.callback.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
