package magiclink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"golang.org/x/text/language"

	"github.com/smsbot/smsbot/bot"
)

// The keys of the web pages' own error messages (bot.Error.Key); bot's
// are bot.WebMessages.
const (
	msgLoginNotCompleted = "login_not_completed"
	msgLoginIncomplete   = "login_incomplete"
	msgLoginNoSession    = "login_no_session"
	msgLoginMismatch     = "login_mismatch"
	msgLoginTooLong      = "login_too_long"
	msgLoginUnverified   = "login_unverified"
	msgUnavailable       = "unavailable"
	msgInternal          = "internal"
	// The web-first path's (PathWebLink).
	msgWebOff             = "web_off"
	msgWebLoginTooLong    = "web_login_too_long"
	msgWebLoginUnverified = "web_login_unverified"
	msgWebUnavailable     = "web_unavailable"
	// msgStoreUnavailable translates any error bot.EUNAVAILABLE without
	// a key of its own: the database could not be reached in time.
	msgStoreUnavailable = "store_unavailable"
)

// webMessages are the English messages of the pages' own errors, by key.
// Each other language translates them, and bot.WebMessages, as msg_KEY in
// templates/lang/CODE.html; {{.Detail}} is the %s of a message that has
// one.
var webMessages = map[string]string{
	msgLoginNotCompleted:  "The login did not complete (%s). Open the link from your text to try again, or text S for a new one.",
	msgLoginIncomplete:    "This login response is incomplete. Open the link from your text again.",
	msgLoginNoSession:     "This login session is unknown, expired or already used in this browser. Open the link from your text again.",
	msgLoginMismatch:      "This login does not match the one started in this browser. Open the link from your text again.",
	msgLoginTooLong:       "This login took too long. Open the link from your text again, or text S for a new one.",
	msgLoginUnverified:    "The login could not be verified. Open the link from your text again, or text S for a new one.",
	msgUnavailable:        unavailableMessage,
	msgInternal:           bot.ErrorMessage(errors.New("")),
	msgWebOff:             "Linking a phone from the web is not set up here. Text S to our number to subscribe.",
	msgWebLoginTooLong:    "This login took too long. Open " + PathWebLink + " again to log in.",
	msgWebLoginUnverified: "The login could not be verified. Open " + PathWebLink + " again to log in.",
	msgWebUnavailable:     "Login is unavailable right now. Try again in a minute: open " + PathWebLink + " again.",
	msgStoreUnavailable:   "We could not handle that just now. Please try again in a minute.",
}

// pageErr is one of the pages' own errors: a *bot.Error with its key, and
// the detail that fills the %s of a message that has one.
type pageErr struct {
	err    *bot.Error
	detail string
}

func (e *pageErr) Error() string { return e.err.Error() }
func (e *pageErr) Unwrap() error { return e.err }

func pageError(code, key, detail string) error {
	msg := webMessages[key]
	if detail != "" {
		msg = fmt.Sprintf(msg, detail)
	}
	return &pageErr{err: &bot.Error{Code: code, Message: msg, Key: key}, detail: detail}
}

type langKey struct{}

// withLang makes l the language of the pages r gets.
func withLang(r *http.Request, l bot.Language) *http.Request {
	if l.Code == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), langKey{}, l))
}

// pageLang is the language of a page: the phone's when the page knows the
// phone (withLang), else the best of the browser's Accept-Language, else
// English.
func pageLang(r *http.Request) bot.Language {
	if l, ok := r.Context().Value(langKey{}).(bot.Language); ok {
		return l
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return bot.English
	}
	l, _ := bot.MatchLanguage(tags...)
	return l
}

// message is err's safe message in language l: the translation of its key
// when the language has one, else the English text, escaped.
func (s *Service) message(l bot.Language, err error) template.HTML {
	key, detail := msgInternal, ""
	var be *bot.Error
	if errors.As(err, &be) {
		key = be.Key
		if key == "" && be.Code == bot.EUNAVAILABLE {
			key = msgStoreUnavailable
		}
	}
	var pe *pageErr
	if errors.As(err, &pe) {
		detail = pe.detail
	}
	if key != "" && l.Code != bot.English.Code {
		if t := s.pages.t[l.Code]["error.html"].Lookup("msg_" + key); t != nil {
			var b bytes.Buffer
			if t.Execute(&b, struct{ Detail string }{detail}) == nil {
				return template.HTML(b.String())
			}
		}
	}
	return template.HTML(template.HTMLEscapeString(bot.ErrorMessage(err)))
}
