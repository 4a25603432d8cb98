package bot

import (
	"context"
	"crypto/hmac"
	"fmt"
	"time"
)

// LinkInfo describes a live login link.
type LinkInfo struct {
	Hash      []byte
	Phone     string
	ExpiresAt time.Time
}

// CodeInfo is what the code page shows after a login.
type CodeInfo struct {
	Code      string
	Phone     string
	Email     string
	ExpiresAt time.Time
	Channel   Channel // where the phone wrote last: where the code goes back from
}

// OpenLink checks a link that a browser opened. It changes nothing: link
// previewers open links too, so only the login consumes it.
func (e *Engine) OpenLink(ctx context.Context, token string) (LinkInfo, error) {
	hash, err := HashToken(token)
	if err != nil {
		return LinkInfo{}, err
	}
	var info LinkInfo
	err = e.Store.View(ctx, func(tx Tx) error {
		l, p, err := e.liveLink(ctx, tx, hash, e.now())
		if err != nil {
			return err
		}
		info = LinkInfo{Hash: hash, Phone: p.Number, ExpiresAt: l.ExpiresAt}
		return nil
	})
	return info, err
}

// liveLink loads a link and its phone and checks the link can still be
// used.
func (e *Engine) liveLink(ctx context.Context, tx Tx, hash []byte, now time.Time) (*Link, *Phone, error) {
	l, err := tx.Link(ctx, hash)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, Errorf(ENOTFOUND, "This link is not valid. Text S for a new one.")
	} else if err != nil {
		return nil, nil, fmt.Errorf("load link: %w", err)
	}
	if !l.UsedAt.IsZero() {
		return nil, nil, Errorf(EUSED, "This link was already used. Text S for a new one.")
	}
	if !now.Before(l.ExpiresAt) {
		return nil, nil, Errorf(EEXPIRED, "This link has expired. Text S for a new one.")
	}
	p, err := tx.Phone(ctx, l.Phone)
	if err != nil {
		return nil, nil, fmt.Errorf("load phone: %w", err)
	}
	if p.State != StateAwaitingLogin || !hmac.Equal(p.LinkHash, hash) {
		return nil, nil, Errorf(EEXPIRED, "This link is no longer valid: a newer one was sent, or the phone moved on. Text S for a new one.")
	}
	return l, p, nil
}

// ConfirmLogin consumes the link after the person logged in as acct, makes
// the code for the page and texts the phone to reply with it. loginID names
// the login transaction; the code is bound to it, the phone and the account.
func (e *Engine) ConfirmLogin(ctx context.Context, hash []byte, loginID string, acct Account) (CodeInfo, error) {
	if acct.ID == "" || loginID == "" {
		return CodeInfo{}, Errorf(EINVALID, "The login did not say who you are. Please try again.")
	}
	var info CodeInfo
	err := e.update(ctx, func(t *turn) error {
		tx := t.tx
		l, p, err := e.liveLink(ctx, tx, hash, t.now)
		if err != nil {
			return err
		}
		if err := tx.UseLink(ctx, l.Hash, t.now); err != nil {
			return fmt.Errorf("use link: %w", err)
		}
		code, err := NewCode(e.rand())
		if err != nil {
			return err
		}
		before := p.State
		if err := fire(ctx, p, EvLogin); err != nil {
			return err
		}
		t.moved(before, p)
		clearPending(p)
		p.CodeMAC = e.Keys.MAC("code", p.Number, acct.ID, loginID, code)
		p.CodeUserID, p.CodeEmail, p.CodeLogin = acct.ID, acct.Email, loginID
		p.ExpiresAt = t.now.Add(e.Limits.CodeTTL)
		p.UpdatedAt = t.now
		if err := e.enqueueText(ctx, t, p, ReplyCodePrompt, ReplyData{}); err != nil {
			return err
		}
		if err := tx.SavePhone(ctx, p); err != nil {
			return fmt.Errorf("save phone: %w", err)
		}
		info = CodeInfo{Code: code, Phone: p.Number, Email: acct.Email, ExpiresAt: p.ExpiresAt, Channel: p.Channel.Or()}
		return nil
	})
	if err != nil {
		return CodeInfo{}, err
	}
	return info, nil
}
