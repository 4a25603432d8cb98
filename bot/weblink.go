package bot

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"strings"
	"time"
)

// The web-first path: a person logs in on the web first (no phone known
// yet), the page shows a code, and the person texts LINK and the code from
// the phone to link. As in the phone-first path, the code travels from
// page to phone, and the bot never texts a number typed on a page: it only
// answers the phone that texted the code.

// WebCodeAlphabet is the alphabet of web codes: digits and capital
// letters without the look-alikes 0, O, 1 and I. Its 32 symbols carry 5
// bits each.
const WebCodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// WebCodeLen is the length of a web code: 8 symbols, 40 bits from
// crypto/rand. It is shown as two groups of four ("4K7Q-9M2P").
const WebCodeLen = 8

// WebCodeBits is the entropy of a web code.
const WebCodeBits = 5 * WebCodeLen

// LinkAttemptWindow is the rolling window of Limits.LinkAttempts.
const LinkAttemptWindow = 10 * time.Minute

// NewWebCode returns a uniformly random web code read from r, in
// canonical form (8 symbols, no dash).
func NewWebCode(r io.Reader) (string, error) {
	var b [WebCodeBits / 8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("web code: %w", err)
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	out := make([]byte, WebCodeLen)
	for i := WebCodeLen - 1; i >= 0; i-- {
		out[i] = WebCodeAlphabet[v&31]
		v >>= 5
	}
	return string(out), nil
}

// ParseWebCode reads a web code in any case, ignoring spaces and dashes,
// and returns it in canonical form. Anything else, or a symbol outside
// WebCodeAlphabet, is not a code.
func ParseWebCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r < 128 && strings.IndexByte(WebCodeAlphabet, byte(r)) >= 0 && b.Len() < WebCodeLen:
			b.WriteRune(r)
		case r >= 'a' && r <= 'z' && strings.IndexByte(WebCodeAlphabet, byte(r-'a'+'A')) >= 0 && b.Len() < WebCodeLen:
			b.WriteRune(r - 'a' + 'A')
		default:
			return "", false
		}
	}
	if b.Len() != WebCodeLen {
		return "", false
	}
	return b.String(), true
}

// FormatWebCode shows a canonical web code as two groups of four.
func FormatWebCode(code string) string {
	if len(code) != WebCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// WebCode is the code of one web login. Only its HMAC is stored; one login
// has one live code, which a new one replaces.
type WebCode struct {
	Login     string // the login transaction's id
	MAC       []byte // HMAC-SHA256 of the canonical code under the server key
	UserID    string
	Email     string
	Issued    int // codes made for this login so far, this one included
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // when a phone linked with it; zero before
	Phone     string    // the phone that linked with it
	// Locale is the account's locale at the login (Account.Locale): the
	// phone that links takes it as its language, as after a one-time
	// link's login (Engine.AccountLocale).
	Locale string
}

// WebCodeInfo is what the web page shows after a login or a new code.
type WebCodeInfo struct {
	Code      string // canonical; FormatWebCode shows it
	Email     string
	ExpiresAt time.Time
	Left      int // new codes this login may still ask for
}

// The states of a web login's code, as its page shows them.
const (
	WebWaiting  = "waiting"  // live, not used yet
	WebLinked   = "linked"   // a phone linked with it
	WebExpired  = "expired"  // its time is up
	WebReplaced = "replaced" // a newer code of the login replaced it
)

// WebStatus is the state of a web login's code.
type WebStatus struct {
	State     string // one of the Web* states
	Last4     string // WebLinked: the last four digits of the phone
	ExpiresAt time.Time
	Left      int // new codes this login may still ask for
}

// webMAC is the stored form of a web code. It depends on the code alone,
// so that a text can find its login.
func (e *Engine) webMAC(code string) []byte {
	return e.Keys.MAC("webcode", code)
}

// NewWebLogin makes a code for the web login loginID of acct: the first
// after the login, or a new one replacing the login's code. A login gets at
// most Limits.WebCodesPerLogin codes (ELIMIT beyond), and none once a
// phone has linked with its code (EUSED).
func (e *Engine) NewWebLogin(ctx context.Context, loginID string, acct Account) (WebCodeInfo, error) {
	if acct.ID == "" || loginID == "" {
		return WebCodeInfo{}, webError(EINVALID, MsgWebNoAccount)
	}
	var info WebCodeInfo
	var refused error
	err := e.update(ctx, func(t *turn) error {
		refused = nil
		c, err := t.tx.WebCode(ctx, loginID)
		switch ErrorCode(err) {
		case "":
			if c.UserID != acct.ID {
				return webError(EINVALID, MsgWebOtherLogin)
			}
			if !c.UsedAt.IsZero() {
				return webError(EUSED, MsgWebUsed)
			}
			if c.Issued >= e.webCodesPerLogin() {
				// Committed (it wrote nothing) so that the hook hears of it.
				t.limitHit(LimitWebCodes)
				refused = webError(ELIMIT, MsgWebLastCode)
				return nil
			}
		case ENOTFOUND:
			c = &WebCode{Login: loginID, UserID: acct.ID, Locale: acct.Locale}
		default:
			return fmt.Errorf("load web code: %w", err)
		}
		var code string
		var mac []byte
		for range 3 { // a clash with a stored code is a 2^-40 event; try again
			if code, err = NewWebCode(e.rand()); err != nil {
				return err
			}
			mac = e.webMAC(code)
			_, err := t.tx.WebCodeByMAC(ctx, mac)
			if ErrorCode(err) == ENOTFOUND {
				break
			} else if err != nil {
				return fmt.Errorf("look up web code: %w", err)
			}
			mac = nil
		}
		if mac == nil {
			return fmt.Errorf("web code: three clashes in a row")
		}
		c.MAC, c.Email = mac, acct.Email
		c.Issued++
		c.CreatedAt, c.ExpiresAt = t.now, t.now.Add(e.Limits.CodeTTL)
		if err := t.tx.SaveWebCode(ctx, c); err != nil {
			return fmt.Errorf("save web code: %w", err)
		}
		info = WebCodeInfo{Code: code, Email: acct.Email, ExpiresAt: c.ExpiresAt, Left: e.webCodesPerLogin() - c.Issued}
		return nil
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return WebCodeInfo{}, err
	}
	return info, nil
}

func (e *Engine) webCodesPerLogin() int {
	if e.Limits.WebCodesPerLogin > 0 {
		return e.Limits.WebCodesPerLogin
	}
	return DefaultLimits().WebCodesPerLogin
}

// WebLoginStatus tells the page of web login loginID, which shows code,
// what became of it. It changes nothing.
func (e *Engine) WebLoginStatus(ctx context.Context, loginID, code string) (WebStatus, error) {
	var st WebStatus
	err := e.Store.View(ctx, func(tx Tx) error {
		c, err := tx.WebCode(ctx, loginID)
		if ErrorCode(err) == ENOTFOUND {
			return webError(ENOTFOUND, MsgWebUnknown)
		} else if err != nil {
			return fmt.Errorf("load web code: %w", err)
		}
		st = WebStatus{ExpiresAt: c.ExpiresAt, Left: max(e.webCodesPerLogin()-c.Issued, 0)}
		switch {
		case !hmac.Equal(c.MAC, e.webMAC(code)):
			st.State = WebReplaced
		case !c.UsedAt.IsZero():
			st.State, st.Last4 = WebLinked, LastFour(c.Phone)
		case !e.now().Before(c.ExpiresAt):
			st.State = WebExpired
		default:
			st.State = WebWaiting
		}
		return nil
	})
	return st, err
}

// linkByCode answers LINK and a web code from phone p on channel ch: the
// right code binds p to the account that logged in on the page, by the same
// rules as the phone-first path, and proves the binding on ch as a
// confirmed code does. A phone gets Limits.LinkAttempts wrong codes in
// LinkAttemptWindow; beyond them no code is checked, not even the right
// one, and the bot is silent.
func (e *Engine) linkByCode(ctx context.Context, t *turn, p *Phone, cmd Command, ch Channel) (string, error) {
	if cmd.Code == "" && strings.EqualFold(strings.TrimSpace(cmd.Text), LinkWord) {
		return e.render(p.Lang(), ReplyLinkHint, ReplyData{})
	}
	misses, err := t.tx.CountLinkMisses(ctx, p.Number, t.now.Add(-LinkAttemptWindow))
	if err != nil {
		return "", fmt.Errorf("count wrong link codes: %w", err)
	}
	allowed := e.Limits.LinkAttempts
	if allowed <= 0 {
		allowed = DefaultLimits().LinkAttempts
	}
	if misses >= allowed {
		t.limitHit(LimitLinkAttempts)
		e.logger().InfoContext(ctx, "link code limit: silent", "phone", MaskPhone(p.Number))
		return "", nil
	}
	var c *WebCode
	if cmd.Code != "" {
		c, err = t.tx.WebCodeByMAC(ctx, e.webMAC(cmd.Code))
		switch ErrorCode(err) {
		case "":
		case ENOTFOUND:
			c = nil
		default:
			return "", fmt.Errorf("look up web code: %w", err)
		}
	}
	switch {
	case c == nil:
		if err := t.tx.AddLinkMiss(ctx, p.Number, t.now); err != nil {
			return "", fmt.Errorf("add wrong link code: %w", err)
		}
		left := allowed - misses - 1
		if left > 0 {
			return e.render(p.Lang(), ReplyLinkWrong, ReplyData{Left: left})
		}
		t.limitHit(LimitLinkAttempts)
		return e.render(p.Lang(), ReplyLinkLocked, ReplyData{Minutes: int(LinkAttemptWindow / time.Minute)})
	case !c.UsedAt.IsZero():
		return e.render(p.Lang(), ReplyLinkUsed, ReplyData{})
	case !t.now.Before(c.ExpiresAt):
		return e.render(p.Lang(), ReplyLinkExpired, ReplyData{})
	}
	e.accountLocale(p, c.Locale)
	reply, err := e.bind(ctx, t, p, Account{ID: c.UserID, Email: c.Email, Locale: c.Locale}, ch, EvLink, "web code confirmed")
	if err != nil {
		return "", err
	}
	c.UsedAt, c.Phone = t.now, p.Number
	if err := t.tx.SaveWebCode(ctx, c); err != nil {
		return "", fmt.Errorf("use web code: %w", err)
	}
	return reply, nil
}
