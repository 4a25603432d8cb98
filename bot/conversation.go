package bot

import (
	"slices"
	"strings"
)

// Step is one row of the conversation table: what the person sends or
// does, the events it fires, and what the bot does. The README's table is
// generated from Conversation: a step's from and to columns come from the
// events table, unless it says them itself (a step that keeps the state,
// or ends in one of several ways).
type Step struct {
	Does     string
	Events   []string // the events it may fire; none when the state stays
	From, To string   // "": from the events
	Bot      string
}

// Conversation is the conversation, one step a row; every event of the
// state machine is in a step (TestConversation_CoversEveryEvent).
var Conversation = []Step{
	{Does: "`S`", Events: []string{EvSubscribe}, Bot: "replies with a one-time link (15 min)"},
	{Does: "opens the link, logs in", Events: []string{EvLogin}, Bot: "shows a 6-digit code on the page, texts \"reply with the code\""},
	{Does: "the right code", Events: []string{EvConfirm}, Bot: "binds the phone, sets `app_metadata.phone` in Auth0"},
	{Does: "a wrong code", Events: []string{EvAbandon, EvResume}, From: StateAwaitingCode,
		To:  "same (5th for the login, or 10th in 24 h for the account: idle, or subscribed while an older binding is in force)",
		Bot: "says how many tries are left"},
	{Does: "`LINK` and the code of a web login (`/link`); the bare code too, from a phone that is not subscribed or on a channel its binding is not proven on", Events: []string{EvLink},
		Bot: "binds the phone to the account that logged in on the page, by the same rules as the right code, and proves the binding on the channel the code came on; the page shows \"linked\""},
	{Does: "a wrong, expired or used `LINK` code", From: "any but opted_out", To: "same",
		Bot: "says so and how many tries are left; after the 5th wrong one in 10 minutes, silence for that phone"},
	{Does: "`H`", From: "any but opted_out", To: "same", Bot: "help for the state; when idle it names the web-first page"},
	{Does: "`U`", Events: []string{EvUnsubscribe}, Bot: "unbinds here and in Auth0 (a phone that is not bound: \"not subscribed\")"},
	{Does: "`STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`", Events: []string{EvStop}, Bot: "silent on SMS (Twilio answers); answered on WhatsApp"},
	{Does: "`START`, `YES`, `UNSTOP`", Events: []string{EvStartIdle, EvStartBound}, Bot: "silent on SMS (Twilio answers); answered on WhatsApp"},
	{Does: "`PARAR`, `SAIR`, `ARRÊT`, `STOPP`, ... (see *Languages*)", Events: []string{EvStop},
		Bot: "confirms once, in that language, on SMS and WhatsApp (Twilio does not know these words)"},
	{Does: "`COMENZAR`, `INICIAR`, `DÉMARRER`, `STARTEN`, ...", Events: []string{EvStartIdle, EvStartBound}, Bot: "confirms, in that language"},
	{Does: "`AYUDA`, `AJUDA`, `AIDE`, `HILFE`", From: "any but opted_out", To: "same", Bot: "help for the state, in that language"},
	{Does: "`LANG`, `LANG ES`", From: "any but opted_out", To: "same", Bot: "lists the languages, or changes the phone's and answers in the new one"},
	{Does: "any text after a waiting state expired (link 15 min, code 10 min)", Events: []string{EvAbandon, EvResume},
		Bot: "handled as from idle (or subscribed, when an older binding is in force)"},
	{Does: "anything else", From: "subscribed / other", To: "same", Bot: "the command plugins / \"send S to subscribe\""},
	{Does: "anything else", From: "subscribed, binding suspended or not proven on this channel", To: "same", Bot: "\"send S to link it again\"; no plugin sees it"},
}

// EventStates returns the states event leaves from, in the order of
// States, and the state it leads to; ok is false for an unknown event.
func EventStates(event string) (src []string, dst string, ok bool) {
	for _, ev := range events {
		if ev.Name != event {
			continue
		}
		for _, s := range States {
			if slices.Contains(ev.Src, s) {
				src = append(src, s)
			}
		}
		return src, ev.Dst, true
	}
	return nil, "", false
}

// EventNames lists the state machine's events.
func EventNames() []string {
	names := make([]string, len(events))
	for i, ev := range events {
		names[i] = ev.Name
	}
	return names
}

// Columns returns the step's from and to columns: its own, or the states
// its events leave from and lead to.
func (s Step) Columns() (from, to string) {
	from, to = s.From, s.To
	var srcs, dsts []string
	for _, ev := range s.Events {
		src, dst, _ := EventStates(ev)
		for _, x := range src {
			if !slices.Contains(srcs, x) {
				srcs = append(srcs, x)
			}
		}
		if !slices.Contains(dsts, dst) {
			dsts = append(dsts, dst)
		}
	}
	if from == "" {
		from = strings.Join(srcs, ", ")
	}
	if to == "" {
		to = strings.Join(dsts, " or ")
	}
	return from, to
}
