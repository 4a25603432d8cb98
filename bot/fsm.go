package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/looplab/fsm"
)

// The states of a phone.
const (
	StateIdle          = "idle"
	StateAwaitingLogin = "awaiting_login"
	StateAwaitingCode  = "awaiting_code"
	StateSubscribed    = "subscribed"
	StateOptedOut      = "opted_out"
)

// States lists every state.
var States = []string{StateIdle, StateAwaitingLogin, StateAwaitingCode, StateSubscribed, StateOptedOut}

// The events of the state machine.
const (
	EvSubscribe   = "subscribe"   // S
	EvLogin       = "login"       // the person logged in through the link
	EvConfirm     = "confirm"     // the right code came back
	EvLink        = "link"        // LINK and the code of a web login
	EvAbandon     = "abandon"     // a waiting state ended (expiry, too many wrong codes) with no binding
	EvResume      = "resume"      // a waiting state ended while an older binding stays in force
	EvUnsubscribe = "unsubscribe" // U, or the binding moved to another phone
	EvStop        = "stop"        // STOP and its synonyms
	EvStartIdle   = "start"       // START with no binding
	EvStartBound  = "start_bound" // START with a binding
)

// events is the one table of the conversation's transitions.
var events = fsm.Events{
	{Name: EvSubscribe, Src: []string{StateIdle, StateAwaitingLogin, StateAwaitingCode, StateSubscribed}, Dst: StateAwaitingLogin},
	{Name: EvLogin, Src: []string{StateAwaitingLogin}, Dst: StateAwaitingCode},
	{Name: EvConfirm, Src: []string{StateAwaitingCode}, Dst: StateSubscribed},
	{Name: EvLink, Src: []string{StateIdle, StateAwaitingLogin, StateAwaitingCode, StateSubscribed}, Dst: StateSubscribed},
	{Name: EvAbandon, Src: []string{StateAwaitingLogin, StateAwaitingCode}, Dst: StateIdle},
	{Name: EvResume, Src: []string{StateAwaitingLogin, StateAwaitingCode}, Dst: StateSubscribed},
	{Name: EvUnsubscribe, Src: []string{StateSubscribed, StateAwaitingLogin, StateAwaitingCode}, Dst: StateIdle},
	{Name: EvStop, Src: []string{StateIdle, StateAwaitingLogin, StateAwaitingCode, StateSubscribed}, Dst: StateOptedOut},
	{Name: EvStartIdle, Src: []string{StateOptedOut}, Dst: StateIdle},
	{Name: EvStartBound, Src: []string{StateOptedOut}, Dst: StateSubscribed},
}

// newMachine builds the state machine for one phone from its stored state.
// It is rebuilt for every message, so it never drifts from the database.
func newMachine(state string) *fsm.FSM {
	return fsm.NewFSM(state, events, nil)
}

// fire moves p through event. An event that would keep the state is not an
// error; an event the state does not allow is.
func fire(ctx context.Context, p *Phone, event string) error {
	m := newMachine(p.State)
	err := m.Event(ctx, event)
	var noTransition fsm.NoTransitionError
	if err != nil && !errors.As(err, &noTransition) {
		return fmt.Errorf("event %s from %s: %w", event, p.State, err)
	}
	p.State = m.Current()
	return nil
}

// Mermaid returns the state machine as a Mermaid state diagram.
func Mermaid() (string, error) {
	return fsm.VisualizeWithType(newMachine(StateIdle), fsm.MERMAID)
}
