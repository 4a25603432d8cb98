package bot

import (
	"context"
	"fmt"
	"time"
)

// SuspendCause says why a binding was suspended.
type SuspendCause string

// The causes of a suspension.
const (
	CauseSilent     SuspendCause = "silent"     // no text for longer than Limits.ReverifyAfter
	CauseLost       SuspendCause = "lost"       // delivery errors say the number is gone
	CauseReassigned SuspendCause = "reassigned" // the carrier lookup says so
)

// Reassigned asks a carrier database, such as the FCC's Reassigned Numbers
// Database, whether phone was disconnected or given to someone else since
// a time. Errors are logged and the command runs: the lookup narrows the
// window, the other rules do not depend on it.
type Reassigned interface {
	Reassigned(ctx context.Context, phone string, since time.Time) (bool, error)
}

// LostWindow is how far back delivery errors count towards a suspension.
const LostWindow = 30 * 24 * time.Hour

// lostCodes are Twilio's errors that say a number is gone or changed
// hands, each with how many distinct messages failing with one of them
// within LostWindow suspend the binding: a single "not a mobile number"
// (21614), or two of "unknown destination" (30005), "landline or
// unreachable carrier" (30006) and "invalid To number" (21211).
var lostCodes = map[int]int{21614: 1, 21211: 2, 30005: 2, 30006: 2}

// suspend marks p's binding suspended and audits it; the caller saves p.
func suspend(ctx context.Context, tx Tx, p *Phone, cause SuspendCause, why string, now time.Time) error {
	p.SuspendedAt, p.SuspendReason = now, cause
	p.UpdatedAt = now
	if err := tx.Audit(ctx, &AuditEntry{At: now, Phone: p.Number, UserID: p.UserID, Action: "suspend", Reason: why}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// unsuspend lifts a suspension; the caller saves p.
func unsuspend(p *Phone) {
	p.SuspendedAt, p.SuspendReason = time.Time{}, ""
}

// checkSilence suspends a bound phone whose text comes after more than
// Limits.ReverifyAfter of silence. It must run before p.LastSeen moves.
func (e *Engine) checkSilence(ctx context.Context, t *turn, p *Phone) error {
	if !p.Bound() || p.Suspended() || p.LastSeen.IsZero() || e.Limits.ReverifyAfter <= 0 {
		return nil
	}
	silent := t.now.Sub(p.LastSeen)
	if silent <= e.Limits.ReverifyAfter {
		return nil
	}
	return e.suspend(ctx, t, p, CauseSilent, fmt.Sprintf("silent for %d days", int(silent/(24*time.Hour))))
}

func (e *Engine) suspend(ctx context.Context, t *turn, p *Phone, cause SuspendCause, why string) error {
	if err := suspend(ctx, t.tx, p, cause, why, t.now); err != nil {
		return err
	}
	t.suspensions = append(t.suspensions, cause)
	e.logger().InfoContext(ctx, "binding suspended", "phone", MaskPhone(p.Number), "cause", cause)
	return nil
}

// reassigned asks the carrier lookup, when there is one, whether req's
// number changed hands since the binding was proven. It fails open.
func (e *Engine) reassigned(ctx context.Context, req Request, since time.Time) bool {
	if e.Reassigned == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, e.pluginTimeout())
	defer cancel()
	gone, err := e.Reassigned.Reassigned(ctx, req.Phone, since)
	if err != nil {
		e.logger().WarnContext(ctx, "carrier lookup failed; the command runs", "phone", MaskPhone(req.Phone), "err", err)
		return false
	}
	return gone
}

// suspendReassigned suspends p's binding after the carrier lookup said the
// number changed hands, unless the binding changed meanwhile, and returns
// the reply.
func (e *Engine) suspendReassigned(ctx context.Context, t *turn, p *Phone, userID string) (string, error) {
	if p.UserID == userID && !p.Suspended() {
		if err := e.suspend(ctx, t, p, CauseReassigned, "carrier lookup: number reassigned"); err != nil {
			return "", err
		}
	}
	return e.render(p.Lang(), ReplyReverify, ReplyData{})
}

// NumberLost records a delivery error for a text to phone (ref names the
// message) and suspends the phone's binding when the errors say the number
// is gone (see lostCodes). Other codes, unknown phones and phones that are
// not bound are ignored; the same ref counts once.
func (e *Engine) NumberLost(ctx context.Context, phone, ref string, code int) error {
	if _, ok := lostCodes[code]; !ok {
		return nil
	}
	var suspended bool
	err := e.update(ctx, func(t *turn) error {
		var err error
		suspended, err = recordLost(ctx, t.tx, phone, ref, code, t.now)
		if suspended {
			t.suspensions = append(t.suspensions, CauseLost)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("number lost: %w", err)
	}
	if suspended {
		e.logger().InfoContext(ctx, "binding suspended", "phone", MaskPhone(phone), "cause", CauseLost, "code", code)
	}
	return nil
}

// lost is NumberLost for a text the outbox could not deliver. Its
// failures are logged: the job fails either way.
func (w *Worker) lost(ctx context.Context, j *Job, code int) {
	if _, ok := lostCodes[code]; !ok || j.Kind != JobSMS || j.Channel.Or() != ChannelSMS {
		return // WhatsApp's errors say nothing of the SIM
	}
	var suspended bool
	err := w.Store.Update(ctx, func(tx Tx) error {
		var err error
		suspended, err = recordLost(ctx, tx, j.To, fmt.Sprintf("job:%d", j.ID), code, w.now())
		return err
	})
	switch {
	case err != nil:
		w.logger().ErrorContext(ctx, "record lost number", "phone", MaskPhone(j.To), "code", code, "err", err)
	case suspended:
		w.logger().InfoContext(ctx, "binding suspended", "phone", MaskPhone(j.To), "cause", CauseLost, "code", code)
	}
}

// recordLost records one lost delivery and suspends the binding once
// enough distinct messages failed since the binding was last proven, within
// LostWindow. It reports whether it suspended.
func recordLost(ctx context.Context, tx Tx, phone, ref string, code int, now time.Time) (bool, error) {
	p, err := tx.Phone(ctx, phone)
	switch ErrorCode(err) {
	case "":
	case ENOTFOUND:
		return false, nil
	default:
		return false, fmt.Errorf("load phone: %w", err)
	}
	if !p.Bound() || p.Suspended() {
		return false, nil
	}
	if err := tx.AddLostDelivery(ctx, phone, ref, code, now); err != nil {
		return false, fmt.Errorf("add lost delivery: %w", err)
	}
	since := now.Add(-LostWindow)
	if p.VerifiedAt.After(since) {
		since = p.VerifiedAt
	}
	n, err := tx.CountLostDeliveries(ctx, phone, since)
	if err != nil {
		return false, fmt.Errorf("count lost deliveries: %w", err)
	}
	if n < lostCodes[code] {
		return false, nil
	}
	if err := suspend(ctx, tx, p, CauseLost, fmt.Sprintf("Twilio error %d; %d undelivered texts in 30 days", code, n), now); err != nil {
		return false, err
	}
	if err := tx.SavePhone(ctx, p); err != nil {
		return false, fmt.Errorf("save phone: %w", err)
	}
	return true, nil
}
