package twiliotest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Twilio error codes the stand-in returns
// (https://www.twilio.com/docs/api/errors/N).
const (
	codeInvalidParameter = 20001 // a parameter the stand-in cannot read
	codeAuthenticate     = 20003 // wrong or missing credentials (HTTP 401)
	codeMethodNotAllowed = 20004 // HTTP 405
	codeNotFound         = 20404 // HTTP 404
	codeTooManyRequests  = 20429 // HTTP 429
	codeInvalidTo        = 21211 // invalid 'To' phone number
	codeToFromSame       = 21266 // 'To' and 'From' cannot be the same
	codeBodyRequired     = 21602 // message body is required
	codeFromRequired     = 21603 // a 'From' or 'MessagingServiceSid' is required
	codeToRequired       = 21604 // 'To' phone number is required
	codeFromNotOwned     = 21606 // 'From' is not a message-capable number of this account
	codeUnsubscribed     = 21610 // the recipient replied STOP
	codeBodyTooLong      = 21617 // body exceeds the 1600 character limit
	codeServiceNotFound  = 21701 // the Messaging Service does not exist
	codeServiceInvalid   = 21705 // the MessagingServiceSid does not look like MG + 32 hex
)

const (
	maxBodyChars            = 1600 // Twilio's limit for one (concatenated) message
	errorMoreInfoURLPrefix  = "https://www.twilio.com/docs/errors/"
	contentTypeJSON         = "application/json; charset=utf-8"
	contentTypeFormEncoded  = "application/x-www-form-urlencoded"
	twilioCallbackUserAgent = "TwilioProxy/1.1"
)

// restError is Twilio's JSON error body, the shape twilio-go decodes into
// *client.TwilioRestError.
type restError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// writeError answers with Twilio's JSON error body.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, restError{
		Code:     code,
		Message:  msg,
		MoreInfo: errorMoreInfoURLPrefix + strconv.Itoa(code),
		Status:   status,
	})
}

// notFound answers 404 with Twilio's wording.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, codeNotFound,
		"The requested resource "+r.URL.Path+" was not found")
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
