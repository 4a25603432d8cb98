package bot

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Channel is how a phone reaches the bot. Twilio delivers SMS and WhatsApp
// messages to the same webhook; a WhatsApp address is "whatsapp:" and the
// E.164 number.
//
// The identity rule: a number is one phone, whatever the channel. It has
// one row, one state, one binding (so one account, and one
// app_metadata.phone, the bare E.164 number) and one audit trail. Each
// text is answered on the channel it came from, and texts the outbox
// sends later go out on the channel the phone used last. A binding is
// trusted only on the channels a code was texted back on (Phone.Proven):
// a WhatsApp account can live on after its SIM changed hands, so proving
// the number on SMS does not vouch for whoever writes from it on
// WhatsApp, nor the other way round.
type Channel string

// The channels.
const (
	ChannelSMS      Channel = "sms"
	ChannelWhatsApp Channel = "whatsapp"
)

// WhatsAppPrefix starts a WhatsApp address in Twilio's From and To.
const WhatsAppPrefix = "whatsapp:"

// Or returns c, or SMS when c is empty (rows and texts from before
// channels were told apart).
func (c Channel) Or() Channel {
	if c == "" {
		return ChannelSMS
	}
	return c
}

// Name is the channel as a person reads it.
func (c Channel) Name() string {
	if c.Or() == ChannelWhatsApp {
		return "WhatsApp"
	}
	return "SMS"
}

// Address is phone's address on channel c as Twilio writes it:
// "whatsapp:+15555550123" or "+15555550123".
func (c Channel) Address(phone string) string {
	if c.Or() == ChannelWhatsApp {
		return WhatsAppPrefix + phone
	}
	return phone
}

// SplitAddress reads one of Twilio's From or To addresses: the number and
// its channel. Anything that is not a WhatsApp address is SMS; the number
// is not checked.
func SplitAddress(addr string) (string, Channel) {
	if rest, ok := strings.CutPrefix(addr, WhatsAppPrefix); ok {
		return rest, ChannelWhatsApp
	}
	return addr, ChannelSMS
}

// Channels is a set of channels, written in a fixed order ("sms",
// "whatsapp", "sms,whatsapp"; "" for none), as it is stored.
type Channels string

// Has reports whether c is in the set.
func (s Channels) Has(c Channel) bool {
	for _, x := range strings.Split(string(s), ",") {
		if Channel(x) == c.Or() {
			return true
		}
	}
	return false
}

// With returns the set with c added.
func (s Channels) With(c Channel) Channels {
	if s.Has(c) {
		return s
	}
	var out []string
	for _, x := range []Channel{ChannelSMS, ChannelWhatsApp} {
		if x == c.Or() || s.Has(x) {
			out = append(out, string(x))
		}
	}
	return Channels(strings.Join(out, ","))
}

// ProvenOn reports whether p's binding was proven on channel ch. A
// binding that names no channel was made before channels were told apart,
// over SMS.
func (p *Phone) ProvenOn(ch Channel) bool {
	if p.Proven == "" {
		return p.Bound() && ch.Or() == ChannelSMS
	}
	return p.Proven.Has(ch)
}

// ValidChannels lists every value a Channels may be stored as.
var ValidChannels = []Channels{"", "sms", "whatsapp", "sms,whatsapp"}

// WhatsAppWindow is WhatsApp's customer service window: free-form messages
// may go to a person for this long after their last message; outside it
// only an approved template may.
const WhatsAppWindow = 24 * time.Hour

// WindowSlack is taken off the end of the window: a text the outbox sends
// a moment before the window closes may reach WhatsApp after it closed.
const WindowSlack = 5 * time.Minute

// WindowOpen reports whether a free-form WhatsApp message may go to p at
// now: p wrote on WhatsApp less than WhatsAppWindow (less WindowSlack)
// ago.
func (p *Phone) WindowOpen(now time.Time) bool {
	return !p.WhatsAppSeen.IsZero() && now.Before(p.WhatsAppSeen.Add(WhatsAppWindow-WindowSlack))
}

// WhatsAppVariables are, for each reply the outbox may have to send
// outside WhatsApp's window, the values of the placeholders {{1}}, {{2}},
// ... of the approved template that carries it there. A reply without an
// entry (a thermostat's late answer) is skipped outside the window.
var WhatsAppVariables = map[string]func(ReplyData) []string{
	ReplyCodePrompt:   func(d ReplyData) []string { return []string{d.Name} },
	ReplyReplaced:     func(d ReplyData) []string { return []string{d.Name, d.Email} },
	ReplyUnsubscribed: func(d ReplyData) []string { return []string{d.Name} },
}

// contentVariables is Twilio's ContentVariables for reply name: a JSON
// object of placeholder number to value; "" for a reply without a
// template.
func contentVariables(name string, d ReplyData) (string, error) {
	f, ok := WhatsAppVariables[name]
	if !ok {
		return "", nil
	}
	vars := map[string]string{}
	for i, v := range f(d) {
		vars[strconv.Itoa(i+1)] = v
	}
	b, err := json.Marshal(vars)
	return string(b), err
}

// MaxResends bounds the copies of one text the outbox makes after Twilio
// took it but could not deliver it (Worker.Undelivered), so that no error
// code can start a loop.
const MaxResends = 3
