package bot

import (
	"context"
	"crypto/hmac"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// LinkInfo describes a live login link.
type LinkInfo struct {
	Hash      []byte
	Phone     string
	ExpiresAt time.Time
	// Lang is the phone's language; OpenLink sets it on an error too, when
	// the link was found. Zero (Tag und) when the phone is not known.
	Lang Language
}

// CodeInfo is what the code page shows after a login.
type CodeInfo struct {
	Code      string
	Phone     string
	Email     string
	ExpiresAt time.Time
	Lang      Language // the phone's language
	Channel   Channel  // where the phone wrote last: where the code goes back from
}

// The web errors' message keys (Error.Key), for pages in other languages.
const (
	MsgLinkInvalid    = "link_invalid"
	MsgLinkUsed       = "link_used"
	MsgLinkExpired    = "link_expired"
	MsgLinkSuperseded = "link_superseded"
	MsgLoginNoAccount = "login_no_account"
	// The web-first path's.
	MsgWebNoAccount  = "web_no_account"
	MsgWebOtherLogin = "web_other_login"
	MsgWebUsed       = "web_used"
	MsgWebLastCode   = "web_last_code"
	MsgWebUnknown    = "web_unknown"
)

// WebMessages are the English messages of the errors OpenLink,
// ConfirmLogin, NewWebLogin and WebLoginStatus return, by key; the web
// pages translate them.
var WebMessages = map[string]string{
	MsgLinkInvalid:    "This link is not valid. Text S for a new one.",
	MsgLinkUsed:       "This link was already used. Text S for a new one.",
	MsgLinkExpired:    "This link has expired. Text S for a new one.",
	MsgLinkSuperseded: "This link is no longer valid: a newer one was sent, or the phone moved on. Text S for a new one.",
	MsgLoginNoAccount: "The login did not say who you are. Please try again.",
	MsgWebNoAccount:   "The login did not say who you are. Please log in again.",
	MsgWebOtherLogin:  "This page belongs to another login. Please log in again.",
	MsgWebUsed:        "A phone is already linked with this page's code. Log in again to link another.",
	MsgWebLastCode:    "That was the last new code for this login. Log in again for more.",
	MsgWebUnknown:     "This login is unknown. Please log in again.",
}

func webError(code, key string) *Error {
	return &Error{Code: code, Message: WebMessages[key], Key: key}
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
		if p != nil {
			info.Lang = p.Lang()
		}
		if err != nil {
			return err
		}
		info.Hash, info.Phone, info.ExpiresAt = hash, p.Number, l.ExpiresAt
		return nil
	})
	return info, err
}

// liveLink loads a link and its phone and checks the link can still be
// used. It returns the phone with the error when the link was found.
func (e *Engine) liveLink(ctx context.Context, tx Tx, hash []byte, now time.Time) (*Link, *Phone, error) {
	l, err := tx.Link(ctx, hash)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, webError(ENOTFOUND, MsgLinkInvalid)
	} else if err != nil {
		return nil, nil, fmt.Errorf("load link: %w", err)
	}
	p, err := tx.Phone(ctx, l.Phone)
	switch ErrorCode(err) {
	case "":
	case ENOTFOUND:
		p = nil
	default:
		return nil, nil, fmt.Errorf("load phone: %w", err)
	}
	if !l.UsedAt.IsZero() {
		return nil, p, webError(EUSED, MsgLinkUsed)
	}
	if !now.Before(l.ExpiresAt) {
		return nil, p, webError(EEXPIRED, MsgLinkExpired)
	}
	if p == nil || p.State != StateAwaitingLogin || !hmac.Equal(p.LinkHash, hash) {
		return nil, p, webError(EEXPIRED, MsgLinkSuperseded)
	}
	return l, p, nil
}

// ConfirmLogin consumes the link after the person logged in as acct, makes
// the code for the page and texts the phone to reply with it. loginID names
// the login transaction; the code is bound to it, the phone and the account.
func (e *Engine) ConfirmLogin(ctx context.Context, hash []byte, loginID string, acct Account) (CodeInfo, error) {
	if acct.ID == "" || loginID == "" {
		return CodeInfo{}, webError(EINVALID, MsgLoginNoAccount)
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
		e.accountLocale(p, acct.Locale)
		if err := e.enqueueText(ctx, t, p, ReplyCodePrompt, ReplyData{}); err != nil {
			return err
		}
		if err := tx.SavePhone(ctx, p); err != nil {
			return fmt.Errorf("save phone: %w", err)
		}
		info = CodeInfo{Code: code, Phone: p.Number, Email: acct.Email, ExpiresAt: p.ExpiresAt, Lang: p.Lang(), Channel: p.Channel.Or()}
		return nil
	})
	if err != nil {
		return CodeInfo{}, err
	}
	return info, nil
}

// accountLocale makes the account's locale (the ID token's locale claim)
// the phone's language, when the bot speaks it, AccountLocale is on and
// the person never chose one with LANG.
func (e *Engine) accountLocale(p *Phone, locale string) {
	if !e.AccountLocale || locale == "" || p.LanguageSource == LanguageChosen {
		return
	}
	tag, err := language.Parse(strings.ReplaceAll(locale, "_", "-"))
	if err != nil {
		return
	}
	if _, ok := MatchLanguage(tag); ok {
		p.Language, p.LanguageSource = tag.String(), LanguageFromAccount
	}
}
