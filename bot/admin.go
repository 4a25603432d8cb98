package bot

import (
	"context"
	"fmt"
)

// Unbind removes a phone's binding at an operator's request, the way U
// does: the audit table records it, the provider's copy is updated through
// the outbox, and a pending login ends. An opted-out phone stays opted
// out. With notify, the phone is told by text (unless it opted out). It
// returns the phone as it is afterwards; ENOTFOUND for a phone that never
// texted us, EINVALID for one that is not bound.
func (e *Engine) Unbind(ctx context.Context, number, reason string, notify bool) (*Phone, error) {
	var out *Phone
	err := e.update(ctx, func(t *turn) error {
		tx := t.tx
		p, err := tx.Phone(ctx, number)
		if err != nil {
			return err
		}
		if !p.Bound() {
			return Errorf(EINVALID, "%s is not bound to an account", MaskPhone(number))
		}
		before := p.State
		if err := e.unbind(ctx, t, p, reason); err != nil {
			return err
		}
		if p.State != StateOptedOut {
			if err := fire(ctx, p, EvUnsubscribe); err != nil {
				return err
			}
			clearPending(p)
			if notify {
				if err := e.enqueueText(ctx, t, p, ReplyUnsubscribed, ReplyData{}); err != nil {
					return err
				}
			}
		}
		p.UpdatedAt = t.now
		if err := tx.SavePhone(ctx, p); err != nil {
			return fmt.Errorf("save phone: %w", err)
		}
		t.moved(before, p)
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.logger().InfoContext(ctx, "phone unbound by operator", "phone", MaskPhone(number))
	return out, nil
}
