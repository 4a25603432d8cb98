package devphone

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// watcherBuffer is how many events a watcher may fall behind before it is
// dropped (its stream ends and the browser reconnects).
const watcherBuffer = 256

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies and browsers keep it open.
const keepAlive = 20 * time.Second

// event is one Server-Sent Event.
type event struct {
	name string
	id   string
	data any
}

// state is the "state" event: what the page shows besides the messages.
type state struct {
	Phone     string `json:"phone"`
	BotNumber string `json:"bot_number"`
	OptedOut  bool   `json:"opted_out"`
}

// watch subscribes to phone's new local entries; the function ends the
// subscription.
func (p *Phone) watch(phone string) (<-chan event, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan event, watcherBuffer)
	p.next++
	id := p.next
	if p.subs[phone] == nil {
		p.subs[phone] = make(map[int]chan event)
	}
	p.subs[phone][id] = ch
	return ch, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.dropLocked(phone, id)
	}
}

// dropLocked ends a subscription; p.mu must be held.
func (p *Phone) dropLocked(phone string, id int) {
	if ch, ok := p.subs[phone][id]; ok {
		delete(p.subs[phone], id)
		close(ch)
		if len(p.subs[phone]) == 0 {
			delete(p.subs, phone)
		}
	}
}

// publishLocked hands ev to phone's watchers without blocking, dropping
// any that is full; p.mu must be held.
func (p *Phone) publishLocked(phone string, ev event) {
	for id, ch := range p.subs[phone] {
		select {
		case ch <- ev:
		default:
			p.dropLocked(phone, id)
		}
	}
	if e, ok := ev.data.(Entry); ok && e.Source == SourceTwilio {
		// A carrier keyword may have changed the opt-out state.
		st := event{name: "state", data: state{Phone: phone, BotNumber: p.opts.BotNumber, OptedOut: p.optedOut(phone)}}
		for id, ch := range p.subs[phone] {
			select {
			case ch <- st:
			default:
				p.dropLocked(phone, id)
			}
		}
	}
}

// phoneParam reads and checks the phone query parameter.
func phoneParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	phone := r.URL.Query().Get("phone")
	if !bot.ValidPhone(phone) {
		writeError(w, http.StatusBadRequest, "phone must be a phone number in E.164 form, such as +15555550123")
		return "", false
	}
	return phone, true
}

// messagesResponse is the answer to GET /api/messages.
type messagesResponse struct {
	Phone     string  `json:"phone"`
	BotNumber string  `json:"bot_number"`
	OptedOut  bool    `json:"opted_out"`
	Messages  []Entry `json:"messages"`
}

// serveMessages answers phone's conversation as JSON.
func (p *Phone) serveMessages(w http.ResponseWriter, r *http.Request) {
	phone, ok := phoneParam(w, r)
	if !ok {
		return
	}
	msgs := p.Conversation(phone)
	if msgs == nil {
		msgs = []Entry{}
	}
	writeJSON(w, http.StatusOK, messagesResponse{
		Phone: phone, BotNumber: p.opts.BotNumber, OptedOut: p.optedOut(phone), Messages: msgs,
	})
}

// serveEvents streams phone's conversation as Server-Sent Events: a
// "state" event, an "entry" event for each message so far, then one for
// each new message or status change (an entry with a known id replaces
// the earlier one), and "state" again when the opt-out state changes.
// A stream that falls behind is ended; the browser reconnects and gets
// the whole conversation again.
func (p *Phone) serveEvents(w http.ResponseWriter, r *http.Request) {
	phone, ok := phoneParam(w, r)
	if !ok {
		return
	}
	// Subscribe before taking the snapshot so that nothing falls between.
	local, stopLocal := p.watch(phone)
	defer stopLocal()
	var accepted, statuses <-chan twiliotest.Message
	if t := p.opts.Twilio; t != nil {
		var stopA, stopS func()
		accepted, stopA = t.Subscribe()
		defer stopA()
		statuses, stopS = t.SubscribeStatus()
		defer stopS()
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	send := func(ev event) bool {
		b, err := json.Marshal(ev.data)
		if err != nil {
			return false
		}
		if ev.id != "" {
			_, err = fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", ev.name, ev.id, b)
		} else {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, b)
		}
		return err == nil && rc.Flush() == nil
	}
	fromTwilio := func(m twiliotest.Message, ok bool) bool {
		if !ok {
			return false // dropped or closed: end, the browser reconnects
		}
		if to, _ := bot.SplitAddress(m.To); to != phone {
			return true
		}
		// The two feeds are read in no particular order: always show the
		// message as it is now, so that a late "queued" cannot follow
		// "delivered".
		if cur, ok := p.opts.Twilio.Message(m.SID); ok {
			m = cur
		}
		e := restEntry(m)
		return send(event{name: "entry", id: e.ID, data: e})
	}

	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if !send(event{name: "state", data: state{Phone: phone, BotNumber: p.opts.BotNumber, OptedOut: p.optedOut(phone)}}) {
		return
	}
	for _, e := range p.Conversation(phone) {
		if !send(event{name: "entry", id: e.ID, data: e}) {
			return
		}
	}

	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var alive bool
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-local:
			alive = ok && send(ev)
		case m, ok := <-accepted:
			alive = fromTwilio(m, ok)
		case m, ok := <-statuses:
			alive = fromTwilio(m, ok)
		case <-tick.C:
			_, err := fmt.Fprint(w, ": keep-alive\n\n")
			alive = err == nil && rc.Flush() == nil
		}
		if !alive {
			return
		}
	}
}
