package bot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits are the security and abuse parameters of the conversation.
type Limits struct {
	LinkTTL      time.Duration // how long a login link is valid
	CodeTTL      time.Duration // how long a confirmation code is valid
	CodeAttempts int           // wrong codes allowed, the last one ending the attempt
	LinksPerHour int           // links per phone per rolling hour
	LinksPerDay  int           // links per phone per rolling day
	ReplyBudget  int           // replies per phone per ReplyWindow; beyond it the bot is silent
	ReplyWindow  time.Duration
	// CodeAttemptsPerAccount bounds the wrong codes meant for one account
	// in CodeAttemptWindow, across all phones; 0 for no bound.
	CodeAttemptsPerAccount int
	// ReverifyAfter is how long a bound phone may stay silent before its
	// binding is suspended until it links again; 0 for never.
	ReverifyAfter time.Duration
	// LinkAttempts bounds the wrong web codes (LINK texts) one phone may
	// send in LinkAttemptWindow; beyond it the bot is silent.
	LinkAttempts int
	// WebCodesPerLogin bounds the codes one web login may get: the first
	// and the new ones the page asks for.
	WebCodesPerLogin int
}

// CodeAttemptWindow is the rolling window of Limits.CodeAttemptsPerAccount.
const CodeAttemptWindow = 24 * time.Hour

// DefaultLimits returns the limits of DESIGN.md.
func DefaultLimits() Limits {
	return Limits{
		LinkTTL:      15 * time.Minute,
		CodeTTL:      10 * time.Minute,
		CodeAttempts: 5,
		LinksPerHour: 3,
		LinksPerDay:  10,
		ReplyBudget:  20,
		ReplyWindow:  10 * time.Minute,

		CodeAttemptsPerAccount: 10,
		ReverifyAfter:          90 * 24 * time.Hour,

		LinkAttempts:     5,
		WebCodesPerLogin: 5,
	}
}

// Inbound is one text received from a phone.
type Inbound struct {
	MessageSID string
	From       string // E.164, without any channel prefix
	Body       string
	Channel    Channel // where it came from; "" is SMS
}

// Result is the outcome of one inbound text.
type Result struct {
	Reply     string // the text to answer with; "" for none
	State     string // the phone's state afterwards
	Duplicate bool   // the MessageSid was seen before; Reply is the first answer
	Muted     bool   // a reply was due but the reply budget was spent
	Kind      Kind   // what the text was read as (Parse), for the metrics
}

// Engine runs the conversation.
type Engine struct {
	Store     Store
	Keys      *Keyring
	Replies   *Replies
	Plugins   []Plugin // commands for subscribed phones, tried in order
	Name      string   // the program name in replies
	PublicURL string   // the base of login links, without a trailing slash
	// WebLinkURL is the page of the web-first path (log in, then text the
	// code it shows), named in help texts; "" when it is not offered.
	WebLinkURL string
	Limits     Limits

	// AnswerKeywords makes the bot answer STOP, START and HELP itself;
	// by default the carrier (Twilio) answers them and the bot is silent.
	// The keywords of other languages are always answered (Twilio does
	// not know them).
	AnswerKeywords bool
	// AccountLocale makes the account's locale, at the login, the phone's
	// language when the person never chose one with LANG.
	AccountLocale bool

	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// Notify is called after a commit that queued outbox jobs.
	Notify func()
	// PluginTimeout bounds how long a text waits for a plugin's answer
	// (default 8 s, inside Twilio's 15 s); PluginGrace is how much longer a
	// slow plugin may run before its late answer is dropped (default 50 s).
	PluginTimeout time.Duration
	PluginGrace   time.Duration
	// Reassigned, when set, is asked before each plugin command whether
	// the carrier reassigned the number since the binding was proven.
	Reassigned Reassigned
	// Hooks report what the engine did, for metrics.
	Hooks Hooks
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) rand() io.Reader {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Reader
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// turn is the work of one transaction.
type turn struct {
	tx          Tx
	now         time.Time
	queued      bool
	transitions []transition
	limits      []Limit
	suspensions []SuspendCause
}

func (t *turn) enqueue(ctx context.Context, j *Job) error {
	j.CreatedAt = t.now
	t.queued = true
	return t.tx.Enqueue(ctx, j)
}

// update runs fn as one turn in one transaction and, once it has
// committed, wakes the outbox if the turn queued jobs and reports the
// turn to the hooks. fn may run more than once when the store retries the
// transaction; each run gets a fresh turn, and only the committed one is
// reported.
func (e *Engine) update(ctx context.Context, fn func(t *turn) error) error {
	var t *turn
	err := e.Store.Update(ctx, func(tx Tx) error {
		t = &turn{tx: tx, now: e.now()}
		return fn(t)
	})
	if err != nil {
		return err
	}
	if t.queued && e.Notify != nil {
		e.Notify()
	}
	e.report(t)
	return nil
}

// HandleSMS answers one inbound text in one transaction: it reads the
// phone, runs the state machine, saves the phone, records the MessageSid
// with its reply and queues side effects. A MessageSid seen before gets the
// first reply again and changes nothing.
//
// A subscribed phone's command for a plugin is the one exception: the
// plugin may call a far end, so it runs between two transactions, never
// holding the database, and no longer than PluginTimeout; a slower answer
// goes out later as a text through the outbox.
func (e *Engine) HandleSMS(ctx context.Context, in Inbound) (Result, error) {
	if in.MessageSID == "" {
		return Result{}, Errorf(EINVALID, "missing MessageSid")
	}
	if !ValidPhone(in.From) {
		return Result{}, Errorf(EINVALID, "From is not an E.164 phone number")
	}
	cmd := Parse(in.Body)
	var res Result
	var plugin *Request
	var verified time.Time // when the plugin's caller last proved the binding
	err := e.update(ctx, func(t *turn) error {
		tx := t.tx
		res, plugin = Result{}, nil
		dup, ok, err := e.stored(ctx, tx, in)
		if err != nil || ok {
			res = dup
			return err
		}
		p, err := tx.Phone(ctx, in.From)
		switch ErrorCode(err) {
		case "":
		case ENOTFOUND:
			p = &Phone{Number: in.From, State: StateIdle, CreatedAt: t.now}
		default:
			return fmt.Errorf("load phone: %w", err)
		}
		if p.Language == "" {
			p.Language, p.LanguageSource = CountryLanguage(p.Number), LanguageFromCountry
		}
		before := p.State
		expired, err := e.expire(ctx, p, t.now)
		if err != nil {
			return err
		}
		if err := e.checkSilence(ctx, t, p); err != nil {
			return err
		}
		p.LastSeen = t.now // saved with the phone below, in this transaction
		p.Channel = in.Channel.Or()
		if p.Channel == ChannelWhatsApp {
			p.WhatsAppSeen = t.now
		}
		reply, err := e.converse(ctx, t, p, cmd, expired, p.Channel)
		if err != nil {
			return err
		}
		t.moved(before, p)
		if p.State == StateSubscribed && reply == "" && cmd.Kind == KindOther && len(e.Plugins) > 0 {
			// Saved now; the reply is recorded after the plugin answered.
			plugin = &Request{Phone: p.Number, UserID: p.UserID, Text: cmd.Text, Words: strings.Fields(cmd.Text), Lang: p.Lang()}
			verified = p.VerifiedAt
			p.UpdatedAt = t.now
			res.State = p.State
			return tx.SavePhone(ctx, p)
		}
		res, err = e.record(ctx, t, p, in, reply)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if plugin == nil {
		res.Kind = cmd.Kind
		return res, nil
	}
	gone := e.reassigned(ctx, *plugin, verified)
	var reply string
	if !gone {
		reply = e.runPlugins(ctx, *plugin)
	}
	err = e.update(ctx, func(t *turn) error {
		dup, ok, err := e.stored(ctx, t.tx, in)
		if err != nil || ok {
			res = dup
			return err
		}
		p, err := t.tx.Phone(ctx, in.From)
		if err != nil {
			return fmt.Errorf("load phone: %w", err)
		}
		text := reply
		if gone {
			if text, err = e.suspendReassigned(ctx, t, p, plugin.UserID); err != nil {
				return err
			}
		}
		res, err = e.record(ctx, t, p, in, text)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	res.Kind = cmd.Kind
	return res, nil
}

// stored returns the first answer to a MessageSid seen before.
func (e *Engine) stored(ctx context.Context, tx Tx, in Inbound) (Result, bool, error) {
	sealed, err := tx.Reply(ctx, in.MessageSID)
	switch ErrorCode(err) {
	case "":
	case ENOTFOUND:
		return Result{}, false, nil
	default:
		return Result{}, false, fmt.Errorf("look up message: %w", err)
	}
	reply, err := e.Keys.Open("reply", sealed)
	if err != nil {
		return Result{}, false, fmt.Errorf("open stored reply: %w", err)
	}
	res := Result{Reply: string(reply), Duplicate: true}
	if p, err := tx.Phone(ctx, in.From); err == nil {
		res.State = p.State
	}
	return res, true, nil
}

// record spends the reply budget, saves the phone and records the
// MessageSid with its (sealed) reply.
func (e *Engine) record(ctx context.Context, t *turn, p *Phone, in Inbound, reply string) (Result, error) {
	var res Result
	if reply != "" && !e.spend(p, t.now) {
		reply, res.Muted = "", true
		t.limitHit(LimitReplyBudget)
	}
	p.UpdatedAt = t.now
	if err := t.tx.SavePhone(ctx, p); err != nil {
		return res, fmt.Errorf("save phone: %w", err)
	}
	sealed, err := e.Keys.Seal(e.rand(), "reply", []byte(reply))
	if err != nil {
		return res, err
	}
	if err := t.tx.SaveReply(ctx, in.MessageSID, in.From, sealed, t.now); err != nil {
		return res, fmt.Errorf("save reply: %w", err)
	}
	res.Reply, res.State = reply, p.State
	return res, nil
}

// spend takes one reply from the phone's budget and reports whether there
// was one left.
func (e *Engine) spend(p *Phone, now time.Time) bool {
	if e.Limits.ReplyBudget <= 0 {
		return true
	}
	// Texts that waited for one another (a lock on the phone, another
	// instance) can be handled with times a little out of order; only a
	// clock set back by more than a window starts a new one.
	if now.Sub(p.ReplyWindow) >= e.Limits.ReplyWindow || p.ReplyWindow.Sub(now) >= e.Limits.ReplyWindow {
		p.ReplyWindow, p.ReplyCount = now, 0
	}
	if p.ReplyCount >= e.Limits.ReplyBudget {
		return false
	}
	p.ReplyCount++
	return true
}

// expire ends a waiting state whose time is up, so that it never swallows
// the next message. It returns the state that expired, or "".
func (e *Engine) expire(ctx context.Context, p *Phone, now time.Time) (string, error) {
	if p.State != StateAwaitingLogin && p.State != StateAwaitingCode {
		return "", nil
	}
	if now.Before(p.ExpiresAt) {
		return "", nil
	}
	was := p.State
	if err := e.endAttempt(ctx, p); err != nil {
		return "", err
	}
	return was, nil
}

// endAttempt leaves a waiting state: back to subscribed when an older
// binding is in force, to idle otherwise.
func (e *Engine) endAttempt(ctx context.Context, p *Phone) error {
	ev := EvAbandon
	if p.Bound() {
		ev = EvResume
	}
	if err := fire(ctx, p, ev); err != nil {
		return err
	}
	clearPending(p)
	return nil
}

func clearPending(p *Phone) {
	p.LinkHash = nil
	p.CodeMAC, p.CodeUserID, p.CodeEmail, p.CodeLogin, p.CodeAttempts = nil, "", "", "", 0
	p.ExpiresAt = time.Time{}
}

// render renders the named reply in language l.
func (e *Engine) render(l Language, name string, d ReplyData) (string, error) {
	d.Name = e.name()
	d.WebURL = e.WebLinkURL
	return e.Replies.RenderIn(l, name, d)
}

func (e *Engine) name() string {
	if e.Name == "" {
		return "smsbot"
	}
	return e.Name
}

// converse runs one command, which came on channel ch, against the phone
// and returns the reply.
func (e *Engine) converse(ctx context.Context, t *turn, p *Phone, cmd Command, expired string, ch Channel) (string, error) {
	if p.State == StateOptedOut {
		if cmd.Kind != KindStart {
			return "", nil // nothing is sent until START
		}
		ev := EvStartIdle
		if p.Bound() {
			ev = EvStartBound
		}
		if err := fire(ctx, p, ev); err != nil {
			return "", err
		}
		return e.keywordReply(p, cmd, ReplyStarted, ch)
	}

	switch cmd.Kind {
	case KindStop:
		if err := fire(ctx, p, EvStop); err != nil {
			return "", err
		}
		clearPending(p)
		return e.keywordReply(p, cmd, ReplyStopped, ch)
	case KindStart:
		return e.keywordReply(p, cmd, ReplyStarted, ch)
	case KindCarrierHelp:
		if cmd.Keyword == "" && !e.answersKeywords(ch) {
			return "", nil
		}
		return e.help(KeywordLanguage(cmd.Keyword, p.Lang()), p)
	case KindHelp:
		return e.help(p.Lang(), p)
	case KindLanguage:
		return e.language(p, cmd.Arg)
	case KindSubscribe:
		return e.subscribe(ctx, t, p)
	case KindUnsubscribe:
		if !p.Bound() {
			return e.render(p.Lang(), ReplyNotSubscribed, ReplyData{})
		}
		if err := e.unbind(ctx, t, p, "unsubscribed by text"); err != nil {
			return "", err
		}
		if err := fire(ctx, p, EvUnsubscribe); err != nil {
			return "", err
		}
		clearPending(p)
		return e.render(p.Lang(), ReplyUnsubscribed, ReplyData{})
	case KindLink:
		// A subscribed phone's bare text is a command, except on a
		// channel its binding is not proven on, where no command runs
		// and a web code is how to prove it.
		if !cmd.Bare || p.State != StateSubscribed || !p.ProvenOn(ch) {
			return e.linkByCode(ctx, t, p, cmd, ch)
		}
		cmd.Kind = KindOther
	}

	switch p.State {
	case StateAwaitingCode:
		if cmd.Kind == KindCode {
			return e.checkCode(ctx, t, p, cmd.Code, ch)
		}
		return e.render(p.Lang(), ReplyCodeHint, ReplyData{})
	case StateAwaitingLogin:
		return e.render(p.Lang(), ReplyLoginHint, ReplyData{})
	case StateSubscribed:
		if cmd.Kind == KindCode && expired == StateAwaitingCode {
			return e.render(p.Lang(), ReplyCodeExpired, ReplyData{})
		}
		if p.Suspended() || !p.ProvenOn(ch) {
			// A channel the binding was not proven on runs nothing until
			// a code comes back on it.
			return e.render(p.Lang(), ReplyReverify, ReplyData{})
		}
		if len(e.Plugins) > 0 && cmd.Kind == KindOther {
			return "", nil // HandleSMS runs the plugins outside the transaction
		}
		return e.render(p.Lang(), ReplyUnknown, ReplyData{})
	default:
		if cmd.Kind == KindCode && expired == StateAwaitingCode {
			return e.render(p.Lang(), ReplyCodeExpired, ReplyData{})
		}
		return e.render(p.Lang(), ReplyHint, ReplyData{})
	}
}

// keywordReply answers a STOP or START word. Twilio's own (English)
// words are answered only when the bot is set to, or on WhatsApp, as on
// SMS the carrier has answered already by default; the words of other
// languages always are, in that language, as Twilio does not know them.
func (e *Engine) keywordReply(p *Phone, cmd Command, name string, ch Channel) (string, error) {
	if cmd.Keyword != "" {
		return e.render(KeywordLanguage(cmd.Keyword, p.Lang()), name, ReplyData{})
	}
	if !e.answersKeywords(ch) {
		return "", nil
	}
	return e.render(p.Lang(), name, ReplyData{})
}

// answersKeywords reports whether the bot answers STOP, START and HELP
// that came on ch itself: always on WhatsApp, where Twilio's keyword
// handling does not apply.
func (e *Engine) answersKeywords(ch Channel) bool {
	return e.AnswerKeywords || ch == ChannelWhatsApp
}

// help answers H (and the HELP words) in language l.
func (e *Engine) help(l Language, p *Phone) (string, error) {
	switch p.State {
	case StateAwaitingLogin:
		return e.render(l, ReplyHelpLogin, ReplyData{})
	case StateAwaitingCode:
		return e.render(l, ReplyHelpCode, ReplyData{})
	case StateSubscribed:
		var cmds []string
		for _, pl := range e.Plugins {
			h := pl.Help()
			if lh, ok := pl.(LocalHelp); ok {
				h = lh.HelpIn(l)
			}
			if h != "" {
				cmds = append(cmds, h)
			}
		}
		return e.render(l, ReplyHelpSub, ReplyData{Commands: strings.Join(cmds, ", ")})
	default:
		return e.render(l, ReplyHelpIdle, ReplyData{})
	}
}

// language answers LANG: alone, or with a language the bot does not
// speak, it lists the choices; with one it speaks, it makes that the
// phone's language and says so in it.
func (e *Engine) language(p *Phone, arg string) (string, error) {
	l, ok := FindLanguage(arg)
	if !ok {
		return e.render(p.Lang(), ReplyLanguages, ReplyData{})
	}
	p.Language, p.LanguageSource = l.Code, LanguageChosen
	return e.render(l, ReplyLanguageSet, ReplyData{})
}

// subscribe makes a new one-time link, within the per-phone limits.
func (e *Engine) subscribe(ctx context.Context, t *turn, p *Phone) (string, error) {
	hour, err := t.tx.CountLinks(ctx, p.Number, t.now.Add(-time.Hour))
	if err != nil {
		return "", fmt.Errorf("count links: %w", err)
	}
	day, err := t.tx.CountLinks(ctx, p.Number, t.now.Add(-24*time.Hour))
	if err != nil {
		return "", fmt.Errorf("count links: %w", err)
	}
	if hour >= e.Limits.LinksPerHour || day >= e.Limits.LinksPerDay {
		t.limitHit(LimitLinks)
		e.logger().InfoContext(ctx, "link limit", "phone", MaskPhone(p.Number), "hour", hour, "day", day)
		return e.render(p.Lang(), ReplyLinkLimit, ReplyData{})
	}
	token, hash, err := NewToken(e.rand())
	if err != nil {
		return "", err
	}
	l := &Link{Hash: hash, Phone: p.Number, CreatedAt: t.now, ExpiresAt: t.now.Add(e.Limits.LinkTTL)}
	if err := t.tx.AddLink(ctx, l); err != nil {
		return "", fmt.Errorf("add link: %w", err)
	}
	if err := fire(ctx, p, EvSubscribe); err != nil {
		return "", err
	}
	clearPending(p)
	p.LinkHash, p.ExpiresAt = hash, l.ExpiresAt
	return e.render(p.Lang(), ReplyLink, ReplyData{
		URL:     strings.TrimRight(e.PublicURL, "/") + LinkPath + token,
		Minutes: int(e.Limits.LinkTTL / time.Minute),
	})
}

// checkCode compares a code in constant time and confirms or counts it.
// Wrong codes are counted per login and per account; an account that has
// had Limits.CodeAttemptsPerAccount wrong codes in CodeAttemptWindow gets
// no code checked, not even the right one, and the login ends.
func (e *Engine) checkCode(ctx context.Context, t *turn, p *Phone, code string, ch Channel) (string, error) {
	wrong, err := t.tx.CountWrongCodes(ctx, p.CodeUserID, t.now.Add(-CodeAttemptWindow))
	if err != nil {
		return "", fmt.Errorf("count wrong codes: %w", err)
	}
	capped := e.Limits.CodeAttemptsPerAccount > 0
	if capped && wrong >= e.Limits.CodeAttemptsPerAccount {
		return e.accountLocked(ctx, t, p)
	}
	want := e.Keys.MAC("code", p.Number, p.CodeUserID, p.CodeLogin, code)
	if hmac.Equal(want, p.CodeMAC) {
		return e.confirm(ctx, t, p, ch)
	}
	if err := t.tx.AddWrongCode(ctx, p.CodeUserID, p.Number, t.now); err != nil {
		return "", fmt.Errorf("add wrong code: %w", err)
	}
	if capped && wrong+1 >= e.Limits.CodeAttemptsPerAccount {
		return e.accountLocked(ctx, t, p)
	}
	p.CodeAttempts++
	left := e.Limits.CodeAttempts - p.CodeAttempts
	if left > 0 {
		return e.render(p.Lang(), ReplyWrongCode, ReplyData{Left: left})
	}
	t.limitHit(LimitCodeAttempts)
	if err := e.endAttempt(ctx, p); err != nil {
		return "", err
	}
	return e.render(p.Lang(), ReplyLocked, ReplyData{})
}

// accountLocked ends a login whose account has had too many wrong codes.
func (e *Engine) accountLocked(ctx context.Context, t *turn, p *Phone) (string, error) {
	t.limitHit(LimitAccountCodes)
	e.logger().InfoContext(ctx, "account code limit", "phone", MaskPhone(p.Number))
	if err := e.endAttempt(ctx, p); err != nil {
		return "", err
	}
	return e.render(p.Lang(), ReplyCodeLimit, ReplyData{})
}

// confirm binds the phone to the account that logged in through its link;
// the code came back on ch.
func (e *Engine) confirm(ctx context.Context, t *turn, p *Phone, ch Channel) (string, error) {
	return e.bind(ctx, t, p, Account{ID: p.CodeUserID, Email: p.CodeEmail}, ch, EvConfirm, "code confirmed")
}

// bind binds p to acct through event (EvConfirm, EvLink) and returns the
// reply. The proof (a code, a web code) came on ch, which the binding is
// now proven on. One phone per account and one account per phone: the
// account's earlier phone is unbound and told, the phone's earlier account
// loses it. Every change is audited with reason, and Auth0 updated through
// the outbox.
func (e *Engine) bind(ctx context.Context, t *turn, p *Phone, acct Account, ch Channel, event, reason string) (string, error) {
	q, err := t.tx.PhoneByUser(ctx, acct.ID)
	switch ErrorCode(err) {
	case "":
		if q.Number != p.Number {
			if err := e.unbind(ctx, t, q, "account linked another phone"); err != nil {
				return "", err
			}
			if q.State == StateSubscribed {
				if err := fire(ctx, q, EvUnsubscribe); err != nil {
					return "", err
				}
				t.moved(StateSubscribed, q)
			}
			q.UpdatedAt = t.now
			if err := t.tx.SavePhone(ctx, q); err != nil {
				return "", fmt.Errorf("save replaced phone: %w", err)
			}
			if q.State != StateOptedOut {
				if err := e.enqueueText(ctx, t, q, ReplyReplaced, ReplyData{Email: MaskEmail(acct.Email)}); err != nil {
					return "", err
				}
			}
		}
	case ENOTFOUND:
	default:
		return "", fmt.Errorf("look up account's phone: %w", err)
	}
	if p.Bound() && p.UserID != acct.ID {
		if err := e.unbind(ctx, t, p, "phone linked to another account"); err != nil {
			return "", err
		}
	}
	// The audit says which channel proved it; SMS, the first channel,
	// keeps its old wording.
	on := ""
	if ch == ChannelWhatsApp {
		on = " on " + ch.Name()
	}
	switch {
	case p.UserID != acct.ID:
		p.UserID, p.Email, p.BoundAt = acct.ID, acct.Email, t.now
		p.Proven = Channels("").With(ch)
		if err := t.tx.Audit(ctx, &AuditEntry{At: t.now, Phone: p.Number, UserID: acct.ID, Action: "bind", Reason: reason + on}); err != nil {
			return "", fmt.Errorf("audit: %w", err)
		}
	case p.Suspended():
		// The suspension asked whether the number is still this
		// person's: only the channel that answered is proven again.
		p.Email = acct.Email
		p.Proven = Channels("").With(ch)
		unsuspend(p)
		if err := t.tx.Audit(ctx, &AuditEntry{At: t.now, Phone: p.Number, UserID: acct.ID, Action: "verify", Reason: reason + on + "; suspension lifted"}); err != nil {
			return "", fmt.Errorf("audit: %w", err)
		}
	case !p.ProvenOn(ch):
		p.Email = acct.Email
		p.Proven = p.Proven.With(ch)
		if err := t.tx.Audit(ctx, &AuditEntry{At: t.now, Phone: p.Number, UserID: acct.ID, Action: "verify", Reason: reason + " on " + ch.Name() + "; the binding now holds there too"}); err != nil {
			return "", fmt.Errorf("audit: %w", err)
		}
	default:
		p.Email = acct.Email
		p.Proven = p.Proven.With(ch) // names SMS on a binding from before channels
	}
	p.VerifiedAt = t.now
	if err := fire(ctx, p, event); err != nil {
		return "", err
	}
	clearPending(p)
	if err := t.enqueue(ctx, &Job{Kind: JobAccountSync, UserID: acct.ID}); err != nil {
		return "", err
	}
	e.logger().InfoContext(ctx, "phone bound", "phone", MaskPhone(p.Number))
	return e.render(p.Lang(), ReplySubscribed, ReplyData{Email: MaskEmail(acct.Email)})
}

// unbind removes p's binding, records it and queues the provider update.
func (e *Engine) unbind(ctx context.Context, t *turn, p *Phone, reason string) error {
	user := p.UserID
	p.UserID, p.Email, p.BoundAt, p.VerifiedAt, p.Proven = "", "", time.Time{}, time.Time{}, ""
	unsuspend(p)
	if err := t.tx.Audit(ctx, &AuditEntry{At: t.now, Phone: p.Number, UserID: user, Action: "unbind", Reason: reason}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return t.enqueue(ctx, &Job{Kind: JobAccountSync, UserID: user})
}

// enqueueText queues reply name, rendered with d, as a text to p on the
// channel p used last, with what a WhatsApp template needs to carry it
// outside WhatsApp's window.
func (e *Engine) enqueueText(ctx context.Context, t *turn, p *Phone, name string, d ReplyData) error {
	d.Name = e.name()
	body, err := e.render(p.Lang(), name, d)
	if err != nil {
		return err
	}
	vars, err := contentVariables(name, d)
	if err != nil {
		return fmt.Errorf("content variables: %w", err)
	}
	return t.enqueue(ctx, &Job{Kind: JobSMS, To: p.Number, Body: body, Channel: p.Channel.Or(), Template: name, Vars: vars})
}

// MaskEmail keeps the first letter of the local part and the domain:
// you@example.com becomes y***@example.com.
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "your account"
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n] + "***" + s[at:]
}
