package bot

// Limit names a limit that refused something.
type Limit string

// The limits the engine enforces.
const (
	LimitLinks        Limit = "links"                 // links per phone per hour or day
	LimitCodeAttempts Limit = "code_attempts"         // wrong codes in one attempt
	LimitReplyBudget  Limit = "reply_budget"          // replies per phone per window
	LimitAccountCodes Limit = "account_code_attempts" // wrong codes for one account across phones
	LimitLinkAttempts Limit = "link_attempts"         // wrong web codes (LINK) from one phone
	LimitWebCodes     Limit = "web_codes"             // codes one web login asked for
)

// Hooks tell an observer (metrics) what the engine did. Each is optional
// and is called after the transaction that did it committed, once.
type Hooks struct {
	// Transition reports a phone's change of state in one turn.
	Transition func(from, to string)
	// LimitHit reports a limit that refused a link, a code or a reply.
	LimitHit func(Limit)
	// PluginSlow reports a plugin that did not answer within
	// PluginTimeout; its answer goes out later as a text.
	PluginSlow func()
	// Suspended reports a binding suspended until the phone links again.
	Suspended func(SuspendCause)
}

// Outcome is what became of one outbox delivery.
type Outcome string

// The outcomes of a delivery, as Worker.Observe reports them.
const (
	OutcomeSent     Outcome = "sent"     // the far end took it
	OutcomeRetry    Outcome = "retry"    // failed for now; tried again later
	OutcomeFailed   Outcome = "failed"   // given up for good
	OutcomeSkipped  Outcome = "skipped"  // not sent: the recipient opted out or is unknown
	OutcomeDeferred Outcome = "deferred" // waits for the global text budget
)

// transition is one change of state made in a turn.
type transition struct{ from, to string }

// moved records that a phone went from before to its current state in
// this turn, if it changed; Engine.update reports it after the commit.
func (t *turn) moved(before string, p *Phone) {
	if before != p.State {
		t.transitions = append(t.transitions, transition{before, p.State})
	}
}

// limitHit records a limit that refused something in this turn.
func (t *turn) limitHit(l Limit) { t.limits = append(t.limits, l) }

// report tells the hooks what a committed turn did.
func (e *Engine) report(t *turn) {
	if h := e.Hooks.Transition; h != nil {
		for _, tr := range t.transitions {
			h(tr.from, tr.to)
		}
	}
	if h := e.Hooks.LimitHit; h != nil {
		for _, l := range t.limits {
			h(l)
		}
	}
	if h := e.Hooks.Suspended; h != nil {
		for _, c := range t.suspensions {
			h(c)
		}
	}
}

// WhatsAppForm is how a WhatsApp text went out.
type WhatsAppForm string

// The forms of a WhatsApp text, as Worker.ObserveWhatsApp reports them.
const (
	FormFreeForm WhatsAppForm = "freeform" // inside the 24-hour window: the text itself
	FormTemplate WhatsAppForm = "template" // outside it: the approved template, or nothing
)
