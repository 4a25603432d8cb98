package webhooks

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v1"
)

// Admin reads and sets the Twilio account's configuration for the
// operator commands (doctor, twilio-webhook): the account, its numbers and
// Messaging Services. It answers with plain structs; errors from Twilio
// are *APIError.
type Admin struct {
	rc     *twilio.RestClient
	sid    string
	apiURL string // where requests go: Twilio itself, or ClientConfig.APIURL
}

// NewAdmin builds the client. It does not call Twilio.
func NewAdmin(c ClientConfig) (*Admin, error) {
	rc, err := NewRestClient(c)
	if err != nil {
		return nil, err
	}
	api := c.APIURL
	if api == "" {
		api = "https://api.twilio.com"
	}
	return &Admin{rc: rc, sid: c.AccountSID, apiURL: api}, nil
}

// APIError is an error answer from Twilio's REST API.
type APIError struct {
	Code    int // Twilio's error code, such as 20003 (authentication) or 20404 (not found)
	Status  int // the HTTP status
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("Twilio error %d: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// ErrorCode returns the Twilio error code of err, or 0 when Twilio did not
// answer with one.
func ErrorCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// err turns a twilio-go error into an *APIError, or names the host
// actually called when Twilio did not answer (twilio-go's own errors name
// api.twilio.com whatever the transport dialled).
func (a *Admin) err(err error) error {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		return &APIError{Code: te.Code, Status: te.Status, Message: te.Message}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", a.apiURL, ue.Err)
	}
	return err
}

// Account is the state of the Twilio account.
type Account struct {
	SID    string
	Status string // active, suspended or closed
}

// Account fetches the account the credentials belong to.
func (a *Admin) Account() (Account, error) {
	acct, err := a.rc.Api.FetchAccount(a.sid)
	if err != nil {
		return Account{}, a.err(err)
	}
	return Account{SID: a.sid, Status: deref(acct.Status)}, nil
}

// Number is the messaging configuration of one of the account's phone
// numbers. Only the SMS settings: the number's StatusCallback is about
// voice calls, and delivery statuses come with each message's own
// StatusCallback.
type Number struct {
	SID         string
	PhoneNumber string
	SMSURL      string
	SMSMethod   string // as Twilio reports it, upper case
}

// Number returns the account's number phone (E.164), or nil when the
// account has no such number.
func (a *Admin) Number(phone string) (*Number, error) {
	list, err := a.rc.Api.ListIncomingPhoneNumber((&openapi.ListIncomingPhoneNumberParams{}).SetPhoneNumber(phone).SetLimit(20))
	if err != nil {
		return nil, a.err(err)
	}
	for _, n := range list {
		if deref(n.PhoneNumber) == phone {
			return &Number{SID: deref(n.Sid), PhoneNumber: phone, SMSURL: deref(n.SmsUrl), SMSMethod: strings.ToUpper(deref(n.SmsMethod))}, nil
		}
	}
	return nil, nil
}

// SetNumberSMS points the number's incoming texts at smsURL (POST). It
// changes no other setting of the number.
func (a *Admin) SetNumberSMS(sid, smsURL string) error {
	p := (&openapi.UpdateIncomingPhoneNumberParams{}).SetSmsUrl(smsURL).SetSmsMethod(http.MethodPost)
	if _, err := a.rc.Api.UpdateIncomingPhoneNumber(sid, p); err != nil {
		return a.err(err)
	}
	return nil
}

// MessagingService is the webhook configuration of a Messaging Service.
type MessagingService struct {
	SID, FriendlyName string
	InboundURL        string
	InboundMethod     string // upper case
	StatusCallback    string
	// UseNumberWebhooks: each number's own SMS URL applies, not
	// InboundURL.
	UseNumberWebhooks bool
}

// MessagingService fetches the Messaging Service sid.
func (a *Admin) MessagingService(sid string) (MessagingService, error) {
	svc, err := a.rc.MessagingV1.FetchService(sid)
	if err != nil {
		return MessagingService{}, a.err(err)
	}
	return MessagingService{
		SID: sid, FriendlyName: deref(svc.FriendlyName),
		InboundURL: deref(svc.InboundRequestUrl), InboundMethod: strings.ToUpper(deref(svc.InboundMethod)),
		StatusCallback: deref(svc.StatusCallback), UseNumberWebhooks: deref(svc.UseInboundWebhookOnNumber),
	}, nil
}

// SetServiceHooks points the service's incoming texts at inboundURL (POST)
// and its delivery statuses at statusURL.
func (a *Admin) SetServiceHooks(sid, inboundURL, statusURL string) error {
	p := (&messaging.UpdateServiceParams{}).SetInboundRequestUrl(inboundURL).SetInboundMethod(http.MethodPost).SetStatusCallback(statusURL)
	if _, err := a.rc.MessagingV1.UpdateService(sid, p); err != nil {
		return a.err(err)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
