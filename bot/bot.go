// Package bot is the conversation core of smsbot: the per-phone state
// machine, command parsing, the replies, the one-time login links and codes,
// and the outbox worker that delivers side effects.
//
// It knows nothing about HTTP, SQL, Twilio or Auth0. It defines the small
// interfaces it needs (Store, Tx, Outbox, Sender, Accounts) and the adapters
// in store, webhooks and magiclink implement them.
package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Phone is the stored state of one phone number.
type Phone struct {
	Number    string // E.164
	State     string // one of the State* constants
	ExpiresAt time.Time

	// The binding to an account. It stays in force while the person
	// re-links (S from subscribed) until a new binding is confirmed.
	UserID  string
	Email   string
	BoundAt time.Time

	LinkHash []byte // the live link while awaiting_login

	// The pending code while awaiting_code.
	CodeMAC      []byte
	CodeUserID   string
	CodeEmail    string
	CodeLogin    string
	CodeAttempts int

	// The reply budget window.
	ReplyWindow time.Time
	ReplyCount  int

	CreatedAt time.Time
	UpdatedAt time.Time
	LastSeen  time.Time // the last inbound text; zero when unknown

	// VerifiedAt is when the binding was last proven by a code.
	VerifiedAt time.Time
	// A suspended binding stays, but runs no plugin command until the
	// phone links again (S and a code). Only a bound phone is suspended.
	SuspendedAt   time.Time
	SuspendReason SuspendCause // "" unless suspended

	// Language is the BCP 47 tag of the language the person reads
	// ("es-MX"), and LanguageSource where it came from (LanguageFrom*,
	// LanguageChosen); both "" until the first text. Lang says which of
	// Languages the bot speaks to the phone.
	Language       string
	LanguageSource string
	// Channel is the channel of the phone's last text: the outbox's texts
	// go out on it. "" counts as SMS.
	Channel Channel
	// WhatsAppSeen is when the phone last wrote on WhatsApp, which opens
	// WhatsApp's 24-hour window for free-form messages; zero when it never
	// did, or Twilio said the window is closed (63016).
	WhatsAppSeen time.Time
	// Proven are the channels a code for the binding was texted back on;
	// a plugin command runs only from one of them. Empty when unbound.
	Proven Channels
}

// Bound reports whether the phone is bound to an account.
func (p *Phone) Bound() bool { return p.UserID != "" }

// Suspended reports whether the phone's binding is suspended.
func (p *Phone) Suspended() bool { return p.SuspendReason != "" }

// Link is a one-time login link. Only the SHA-256 of its token is stored.
type Link struct {
	Hash      []byte
	Phone     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Account is an authenticated account at the identity provider.
type Account struct {
	ID    string // the provider's user id (Auth0 "sub")
	Email string
	// Locale is the account's language as the provider knows it (the ID
	// token's locale claim, "es-MX"); "" when it does not say.
	Locale string
}

// Job kinds in the outbox.
const (
	JobSMS         = "sms"          // a text to a phone
	JobAccountSync = "account_sync" // make the provider's copy of a user's phone match ours
)

// Job is one side effect queued in the outbox, delivered after commit.
type Job struct {
	ID        int64
	Kind      string
	To        string // JobSMS: the phone
	Body      string // JobSMS: the text
	UserID    string // JobAccountSync: the user to sync
	CreatedAt time.Time
	// Due is when the job may first go; zero for CreatedAt.
	Due time.Time

	// Channel is where a text goes: SMS ("" too) or WhatsApp.
	Channel Channel
	// Template names the reply the text renders (ReplyCodePrompt, ...),
	// whose approved WhatsApp template can carry it outside WhatsApp's
	// window; "" for a text without one. Vars are that template's
	// ContentVariables (JSON).
	Template string
	Vars     string
	// Resends counts the earlier texts of this job's chain that Twilio
	// took but could not deliver (see Worker.Undelivered).
	Resends int
	// WindowOpen, set by the Worker on a WhatsApp text before it is
	// sent, says that the recipient wrote within WhatsApp's window: a
	// free-form message may go.
	WindowOpen bool

	Attempts  int       // deliveries tried before this one
	FirstTry  time.Time // when the first delivery was tried; zero before
	Ambiguous bool      // an earlier try may have reached the far end
	// Taken lists the provider ids of texts already delivered by other jobs
	// with the same recipient and body since FirstTry; a lookup for an
	// ambiguous job must not claim them. Filled by the Worker.
	Taken []string
}

// AuditEntry records one change of a binding.
type AuditEntry struct {
	At     time.Time
	Phone  string
	UserID string
	Action string // "bind", "unbind", "suspend" or "verify"
	Reason string
}

// Store is the persistence the conversation needs. Implementations must run
// each Update as one serializable transaction: concurrent updates touching
// the same phone must behave as if run one after the other.
type Store interface {
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil. It rolls back and returns fn's error otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is what a transaction offers. Lookups return ENOTFOUND errors when
// nothing matches.
type Tx interface {
	Phone(ctx context.Context, number string) (*Phone, error)
	PhoneByUser(ctx context.Context, userID string) (*Phone, error)
	SavePhone(ctx context.Context, p *Phone) error

	// Reply returns the sealed reply stored for an inbound MessageSid.
	Reply(ctx context.Context, messageSID string) ([]byte, error)
	SaveReply(ctx context.Context, messageSID, phone string, sealed []byte, at time.Time) error

	AddLink(ctx context.Context, l *Link) error
	Link(ctx context.Context, hash []byte) (*Link, error)
	UseLink(ctx context.Context, hash []byte, at time.Time) error
	// CountLinks counts the links made for phone at or after since.
	CountLinks(ctx context.Context, phone string, since time.Time) (int, error)

	// AddWrongCode records a wrong code meant for userID's account;
	// CountWrongCodes counts those made at or after since, from any phone.
	AddWrongCode(ctx context.Context, userID, phone string, at time.Time) error
	CountWrongCodes(ctx context.Context, userID string, since time.Time) (int, error)

	// AddLostDelivery records a delivery error that says phone's number is
	// gone; ref names the message, and one ref counts once.
	// CountLostDeliveries counts those recorded at or after since.
	AddLostDelivery(ctx context.Context, phone, ref string, code int, at time.Time) error
	CountLostDeliveries(ctx context.Context, phone string, since time.Time) (int, error)

	// WebCode loads a web login's code; WebCodeByMAC finds a code by its
	// HMAC. SaveWebCode inserts a login's code or replaces it (one code
	// per login).
	WebCode(ctx context.Context, login string) (*WebCode, error)
	WebCodeByMAC(ctx context.Context, mac []byte) (*WebCode, error)
	SaveWebCode(ctx context.Context, c *WebCode) error

	// AddLinkMiss records a wrong web code texted by phone;
	// CountLinkMisses counts those made at or after since.
	AddLinkMiss(ctx context.Context, phone string, at time.Time) error
	CountLinkMisses(ctx context.Context, phone string, since time.Time) (int, error)

	Enqueue(ctx context.Context, j *Job) error
	Audit(ctx context.Context, e *AuditEntry) error

	// Undelivered takes the delivered text job whose message Twilio
	// reported undelivered (sid is the message), once: it marks the job
	// and returns it. It returns ENOTFOUND when no job's text is sid, or
	// the job was taken before (a repeated status callback).
	Undelivered(ctx context.Context, sid string) (*Job, error)
}

// Error codes. Only an Error's Message ever reaches a person.
const (
	EINVALID  = "invalid"
	ENOTFOUND = "not_found"
	EEXPIRED  = "expired"
	EUSED     = "used"
	ELIMIT    = "limit"
	EINTERNAL = "internal"
	// EUNAVAILABLE: the store could not be reached or did not answer in
	// time. The work must not be acknowledged (a commit cut short may
	// still have landed, which asking again finds); asking again later
	// may succeed.
	EUNAVAILABLE = "unavailable"
)

// Error is an error with a code and a message that is safe to show.
type Error struct {
	Code    string
	Message string
	// Key names the message for translations (the web pages'); "" for a
	// message only ever shown in English.
	Key string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the safe message of err, or a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}
