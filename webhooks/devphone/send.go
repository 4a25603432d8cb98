package devphone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks"
)

// Limits of the send API and of the emulated Twilio.
const (
	maxBodyChars    = 1600             // Twilio's limit for one (concatenated) message
	maxRequestBytes = 64 << 10         // a JSON send request
	maxTwiMLBytes   = 64 << 10         // Twilio refuses larger TwiML (error 11750)
	webhookWait     = 15 * time.Second // how long Twilio waits for the webhook
)

// Twilio error codes the emulation records on entries
// (https://www.twilio.com/docs/api/errors/N).
const (
	codeRetrievalFailure  = 11200 // HTTP retrieval failure (error status, timeout)
	codeConnectionFailure = 11205 // HTTP connection failure
	codeResponseTooLarge  = 11750 // TwiML response body too large
	codeParseFailure      = 12100 // document parse failure
	codeBadContentType    = 12300 // invalid Content-Type
	codeUnsubscribed      = 21610 // recipient replied STOP
	codeBodyTooLong       = 21617 // body over 1600 characters
)

// sendRequest is the body of POST /api/send.
type sendRequest struct {
	From     string `json:"from"`
	Body     string `json:"body"`
	WhatsApp bool   `json:"whatsapp"` // write as a WhatsApp user
}

// Result is what came of one text to the bot, the answer to
// POST /api/send.
type Result struct {
	Message  Entry   `json:"message"`           // the text as sent, with any webhook failure
	Replies  []Entry `json:"replies"`           // Twilio's carrier reply, then the bot's TwiML replies
	OptedOut bool    `json:"opted_out"`         // whether the phone is now opted out
	Warning  string  `json:"warning,omitempty"` // e.g. TwiML verbs the emulation ignored
}

// inputError is a send request the Dev Phone refuses; its text is safe to
// show.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// serveSend texts the bot: it emulates Twilio receiving an SMS from the
// simulated phone and calling the bot's webhook.
func (p *Phone) serveSend(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send JSON (Content-Type: application/json)")
		return
	}
	var req sendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusBadRequest, "the request is too large")
			return
		}
		writeError(w, http.StatusBadRequest, "the request is not valid JSON")
		return
	}
	// Twilio does not stop when the phone goes away.
	ch := bot.ChannelSMS
	if req.WhatsApp {
		ch = bot.ChannelWhatsApp
	}
	res, err := p.TextOn(context.WithoutCancel(r.Context()), ch, req.From, req.Body)
	if err != nil {
		var bad *inputError
		if errors.As(err, &bad) {
			writeError(w, http.StatusBadRequest, bad.msg)
			return
		}
		writeError(w, http.StatusInternalServerError, "the text could not be sent")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// checkText says why phone may not text body to the bot, if it may not.
func (p *Phone) checkText(phone, body string) error {
	switch {
	case !bot.ValidPhone(phone):
		return &inputError{"from must be a phone number in E.164 form, such as +15555550123"}
	case phone == p.opts.BotNumber:
		return &inputError{"from is the bot's own number"}
	case strings.TrimSpace(body) == "":
		return &inputError{"the message is empty"}
	case utf8.RuneCountInString(body) > maxBodyChars:
		return &inputError{fmt.Sprintf("the message is longer than %d characters", maxBodyChars)}
	}
	return nil
}

// Text sends body from phone to the bot the way Twilio would deliver it:
// carrier keywords first, then the signed webhook, then the TwiML replies.
// It fails, sending nothing, when phone is not an E.164 number (or is the
// bot's) or body is empty or longer than 1600 characters; that error's
// text is safe to show. A failing webhook is not an error of Text: it is
// recorded on the message (Result.Message.Error), as Twilio's debugger
// would record it.
func (p *Phone) Text(ctx context.Context, phone, body string) (Result, error) {
	return p.TextOn(ctx, bot.ChannelSMS, phone, body)
}

// TextOn is Text on a channel: on WhatsApp the message comes from
// "whatsapp:"+phone to the bot's WhatsApp number, and Twilio's keyword
// handling (an SMS feature) does not apply.
func (p *Phone) TextOn(ctx context.Context, ch bot.Channel, phone, body string) (Result, error) {
	if err := p.checkText(phone, body); err != nil {
		return Result{}, err
	}
	ch = ch.Or()
	in := Entry{
		ID:        newSID("SM"),
		Phone:     phone,
		Direction: "in",
		Source:    SourcePhone,
		Body:      body,
		Time:      p.now(),
		Status:    "received",
		Channel:   string(ch),
	}
	p.record(in)
	p.log.Info("dev phone: text to the bot", "from", mask(phone), "sid", in.ID, "channel", ch)
	if t := p.opts.Twilio; t != nil {
		t.Inbound(ch.Address(phone)) // Twilio saw it: WhatsApp's window opens
	}

	res := Result{Replies: []Entry{}}
	if ch == bot.ChannelSMS {
		if e, ok := p.carrierReply(phone, body); ok {
			p.record(e)
			res.Replies = append(res.Replies, e)
		}
	}

	replies, ignored, werr := p.callWebhook(ctx, in)
	if werr != nil {
		in.ErrorCode, in.Error = werr.code, werr.msg
		p.update(in)
		p.log.Warn("dev phone: webhook failed", "from", mask(phone), "sid", in.ID, "code", werr.code, "err", werr.msg)
	}
	for _, rp := range replies {
		e := p.replyEntry(ch, phone, rp)
		p.record(e)
		res.Replies = append(res.Replies, e)
	}
	if len(ignored) > 0 {
		res.Warning = "the Dev Phone ignores these TwiML verbs: " + strings.Join(ignored, ", ")
	}
	res.Message = in
	res.OptedOut = p.optedOut(phone)
	return res, nil
}

// replyEntry records what Twilio would do with a TwiML <Message>: it
// goes back on the channel the message came from.
func (p *Phone) replyEntry(ch bot.Channel, phone string, rp reply) Entry {
	to := phone
	if n, c := bot.SplitAddress(rp.to); rp.to != "" && bot.ValidPhone(n) {
		to, ch = n, c
	}
	e := Entry{
		ID:        newSID("SM"),
		Phone:     to,
		Direction: "out",
		Source:    SourceReply,
		Body:      rp.body,
		Time:      p.now(),
		Status:    "delivered",
		Channel:   string(ch),
	}
	switch {
	case ch == bot.ChannelSMS && p.optedOut(to):
		e.Status, e.ErrorCode, e.Error = "failed", codeUnsubscribed, "Attempt to send to unsubscribed recipient"
	case utf8.RuneCountInString(rp.body) > maxBodyChars:
		e.Status, e.ErrorCode, e.Error = "failed", codeBodyTooLong, "The message body exceeds the 1600 character limit"
	}
	return e
}

// webhookError is a failure of the webhook call, as Twilio's debugger
// would report it.
type webhookError struct {
	code int
	msg  string
}

// webhookForm builds the parameters Twilio posts for an inbound SMS, or
// WhatsApp message.
func (p *Phone) webhookForm(in Entry) url.Values {
	if in.Channel == string(bot.ChannelWhatsApp) {
		return url.Values{
			"MessageSid":       {in.ID},
			"SmsSid":           {in.ID},
			"SmsMessageSid":    {in.ID},
			"AccountSid":       {p.opts.AccountSID},
			"From":             {bot.ChannelWhatsApp.Address(in.Phone)},
			"To":               {bot.ChannelWhatsApp.Address(p.whatsAppNumber())},
			"Body":             {in.Body},
			"NumMedia":         {"0"},
			"NumSegments":      {"1"},
			"SmsStatus":        {"received"},
			"ApiVersion":       {"2010-04-01"},
			"MessageType":      {"text"},
			"ProfileName":      {"Dev Phone " + bot.LastFour(in.Phone)},
			"WaId":             {strings.TrimPrefix(in.Phone, "+")},
			"ReferralNumMedia": {"0"},
		}
	}
	f := url.Values{
		"MessageSid":    {in.ID},
		"SmsSid":        {in.ID},
		"SmsMessageSid": {in.ID},
		"AccountSid":    {p.opts.AccountSID},
		"From":          {in.Phone},
		"To":            {p.opts.BotNumber},
		"Body":          {in.Body},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(bot.Segments(in.Body))},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
	for _, side := range []struct{ prefix, phone string }{{"From", in.Phone}, {"To", p.opts.BotNumber}} {
		f.Set(side.prefix+"Country", country(side.phone))
		f.Set(side.prefix+"State", "")
		f.Set(side.prefix+"City", "")
		f.Set(side.prefix+"Zip", "")
	}
	return f
}

// callWebhook posts the signed webhook for in and parses the TwiML answer.
// It returns the replies, the names of verbs it ignored, and the failure
// Twilio would have logged.
func (p *Phone) callWebhook(ctx context.Context, in Entry) ([]reply, []string, *webhookError) {
	form := p.webhookForm(in)
	ctx, cancel := context.WithTimeout(ctx, webhookWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.WebhookURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, &webhookError{codeConnectionFailure, "bad webhook URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("I-Twilio-Idempotency-Token", newSID(""))
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(p.opts.AuthToken, p.opts.SignURL, form))

	resp, err := p.client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, nil, &webhookError{codeConnectionFailure, "HTTP connection failure: " + err.Error()}
		}
		return nil, nil, &webhookError{codeRetrievalFailure, "HTTP retrieval failure: " + err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTwiMLBytes+1))
	if err != nil {
		return nil, nil, &webhookError{codeRetrievalFailure, "HTTP retrieval failure: " + err.Error()}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, &webhookError{codeRetrievalFailure,
			fmt.Sprintf("HTTP retrieval failure: the webhook answered %s", resp.Status)}
	}
	if len(raw) > maxTwiMLBytes {
		return nil, nil, &webhookError{codeResponseTooLarge, "the TwiML response is larger than 64 kB"}
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, nil, nil // nothing to send
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil ||
		(mt != "text/xml" && mt != "application/xml") {
		return nil, nil, &webhookError{codeBadContentType,
			fmt.Sprintf("invalid Content-Type %q: answer TwiML as text/xml", resp.Header.Get("Content-Type"))}
	}
	replies, ignored, err := parseTwiML(raw)
	if err != nil {
		return nil, nil, &webhookError{codeParseFailure, "document parse failure: " + err.Error()}
	}
	return replies, ignored, nil
}

// country is the ISO country of phone, as far as the Dev Phone knows.
func country(phone string) string {
	if strings.HasPrefix(phone, "+1") {
		return "US"
	}
	return ""
}

// mask hides all but the last four digits of phone, for logs.
func mask(phone string) string {
	if len(phone) <= 6 {
		return "***"
	}
	return phone[:2] + strings.Repeat("*", len(phone)-6) + phone[len(phone)-4:]
}

// newSID returns prefix followed by 32 random hex digits.
func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return prefix + hex.EncodeToString(b[:])
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
