package magiclink

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// The web-first path: a person logs in first (PathWebLink), with no phone
// known, and the page shows "Text LINK 4K7Q-9M2P to +1 555 123 4567", a
// button that opens Messages with that text, and a QR code of the same
// sms: URI for a person on a computer. The phone that texts the code is
// linked; the page, polling PathWebLinkStatus, shows it.
const (
	PathWebLink       = "/link"
	PathWebLinkNew    = "/link/new"    // POST: a new code for this login
	PathWebLinkStatus = "/link/status" // GET: what became of the code, as JSON
)

// webCookie holds the web login's session, sealed, for PathWebLink and
// below. One per browser: a newer web login replaces it.
const webCookie = "smsbot_web"

// defaultWebSessionTTL is how long the page of a web login works after
// the login.
const defaultWebSessionTTL = time.Hour

// webSession is what the page needs after the login: who logged in, the
// login transaction the code belongs to, and the code itself (the
// database keeps only its HMAC).
type webSession struct {
	Login   string    `json:"login"`
	User    string    `json:"user"`
	Email   string    `json:"email"`
	Code    string    `json:"code"`
	Expires time.Time `json:"exp"`
}

// tag names the session's login in the page's status requests without
// revealing its id.
func (ws webSession) tag() string {
	h := sha256.Sum256([]byte("web login\x00" + ws.Login))
	return hex.EncodeToString(h[:8])
}

// webPage is the data of weblink.html.
type webPage struct {
	Name, Email string
	Code        string // shown as 4K7Q-9M2P
	Text        string // the whole text to send: LINK 4K7Q-9M2P
	Number      string // the bot's number, spaced for reading
	SMSLink     template.URL
	QR          template.HTML
	Minutes     int
	State       string // bot.Web*
	Last4       string
	Left        int    // new codes this login may still ask for
	Poll        string // the status URL the page polls
	// Message is why the last request did not work, translated and
	// escaped.
	Message template.HTML
}

// webOffered reports whether the web-first path can work: it needs the
// number people text.
func (s *Service) webOffered(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.BotNumber != "" {
		return true
	}
	s.fail(w, r, pageError(bot.ENOTFOUND, msgWebOff, ""))
	return false
}

func (s *Service) webTTL() time.Duration {
	if s.WebSessionTTL > 0 {
		return s.WebSessionTTL
	}
	return defaultWebSessionTTL
}

// HandleWebLink serves GET /link. Without a session it starts an Auth0
// login exactly as a one-time link does (code and PKCE, state, nonce, a
// sealed cookie per login), with no phone known. With one, it shows the
// code to text and what became of it. ?again=1 starts a new login.
func (s *Service) HandleWebLink(w http.ResponseWriter, r *http.Request) {
	if !s.webOffered(w, r) {
		return
	}
	if r.URL.Query().Get("again") == "" {
		if ws, ok := s.webSession(r); ok {
			s.showWebLink(w, r, ws, nil)
			return
		}
	}
	s.startLogin(w, r, login{Web: true}, time.Time{}, "web_link_ok")
}

// webLoggedIn ends a web login at the callback: it makes the login's code,
// keeps it in the session cookie and sends the browser to the page, so
// that a reload shows the page, not the spent callback.
func (s *Service) webLoggedIn(w http.ResponseWriter, r *http.Request, loginID string, acct bot.Account) {
	info, err := s.logins.NewWebLogin(r.Context(), loginID, acct)
	if err != nil {
		s.count("web_callback_" + bot.ErrorCode(err))
		s.fail(w, r, err)
		return
	}
	ws := webSession{Login: loginID, User: acct.ID, Email: acct.Email, Code: info.Code, Expires: s.now().Add(s.webTTL())}
	if err := s.setWebSession(w, ws); err != nil {
		s.fail(w, r, err)
		return
	}
	s.count("web_callback_ok")
	s.logger().InfoContext(r.Context(), "web login confirmed, code shown")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, PathWebLink, http.StatusSeeOther)
}

// HandleWebLinkNew serves POST /link/new: a new code for the session's
// login, replacing the old one, within the login's allowance.
func (s *Service) HandleWebLinkNew(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.webSession(r)
	if !ok {
		http.Redirect(w, r, PathWebLink, http.StatusSeeOther)
		return
	}
	info, err := s.logins.NewWebLogin(r.Context(), ws.Login, bot.Account{ID: ws.User, Email: ws.Email})
	if err != nil {
		s.count("web_new_" + bot.ErrorCode(err))
		if status(err) == http.StatusInternalServerError {
			s.fail(w, r, err)
			return
		}
		s.showWebLink(w, r, ws, err)
		return
	}
	ws.Code = info.Code
	if err := s.setWebSession(w, ws); err != nil {
		s.fail(w, r, err)
		return
	}
	s.count("web_new_ok")
	http.Redirect(w, r, PathWebLink, http.StatusSeeOther)
}

// HandleWebLinkStatus serves GET /link/status?for=TAG to the page's
// script: {"state": "waiting"|"linked"|"expired"|"replaced", "last4": ...}.
// A page whose login is no longer the browser's session is "replaced".
func (s *Service) HandleWebLinkStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	ws, ok := s.webSession(r)
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"state": bot.WebExpired})
		return
	}
	if r.URL.Query().Get("for") != ws.tag() {
		json.NewEncoder(w).Encode(map[string]string{"state": bot.WebReplaced})
		return
	}
	st, err := s.logins.WebLoginStatus(r.Context(), ws.Login, ws.Code)
	if err != nil {
		code := status(err)
		if code == http.StatusInternalServerError {
			s.logger().ErrorContext(r.Context(), "web link status", "err", err)
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"state": bot.WebExpired})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"state": st.State, "last4": st.Last4})
}

// showWebLink renders the page of session ws in the browser's language,
// with why the last request did not work when failed is not nil.
func (s *Service) showWebLink(w http.ResponseWriter, r *http.Request, ws webSession, failed error) {
	st, err := s.logins.WebLoginStatus(r.Context(), ws.Login, ws.Code)
	if bot.ErrorCode(err) == bot.ENOTFOUND {
		// The login is gone (pruned): log in again.
		s.startLogin(w, r, login{Web: true}, time.Time{}, "web_link_ok")
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	l := pageLang(r)
	text := bot.LinkWord + " " + bot.FormatWebCode(ws.Code)
	sms := smsURI(s.cfg.BotNumber, text)
	number := displayNumber(s.cfg.BotNumber)
	var label bytes.Buffer
	if err := s.pages.t[l.Code]["weblink.html"].ExecuteTemplate(&label, "weblink_qr_label", webPage{Text: text, Number: number}); err != nil {
		s.fail(w, r, err)
		return
	}
	qr, err := qrSVG(sms, html.UnescapeString(label.String()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var message template.HTML
	if failed != nil {
		message = s.message(l, failed)
	}
	s.render(w, r, http.StatusOK, "weblink.html", webPage{
		Name:    s.cfg.Name,
		Email:   ws.Email,
		Code:    bot.FormatWebCode(ws.Code),
		Text:    text,
		Number:  number,
		SMSLink: template.URL(sms),
		QR:      qr,
		Minutes: max(int(st.ExpiresAt.Sub(s.now()).Round(time.Minute)/time.Minute), 0),
		State:   st.State,
		Last4:   st.Last4,
		Left:    st.Left,
		Poll:    PathWebLinkStatus + "?for=" + ws.tag(),
		Message: message,
	})
}

// webSession reads the browser's web login session; ok is false when it
// has none, or one that is altered or expired.
func (s *Service) webSession(r *http.Request) (webSession, bool) {
	var ws webSession
	c, err := r.Cookie(webCookie)
	if err != nil {
		return ws, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ws, false
	}
	plain, err := s.keys.Open("web session", sealed)
	if err != nil || json.Unmarshal(plain, &ws) != nil {
		return ws, false
	}
	if ws.Login == "" || ws.User == "" || !s.now().Before(ws.Expires) {
		return ws, false
	}
	if _, ok := bot.ParseWebCode(ws.Code); !ok {
		return ws, false
	}
	return ws, true
}

// setWebSession seals ws into the session cookie: HttpOnly, SameSite=Lax
// (a cross-site POST carries none), Secure over https, for PathWebLink and
// below only.
func (s *Service) setWebSession(w http.ResponseWriter, ws webSession) error {
	plain, err := json.Marshal(ws)
	if err != nil {
		return err
	}
	sealed, err := s.keys.Seal(s.rand(), "web session", plain)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     webCookie,
		Value:    base64.RawURLEncoding.EncodeToString(sealed),
		Path:     PathWebLink,
		Expires:  ws.Expires,
		MaxAge:   int(ws.Expires.Sub(s.now()) / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// smsURI opens the messaging app with body filled in, addressed to number.
// "?&body=" is read by both forms: iOS's (sms:NUMBER&body=) and
// Android's (sms:NUMBER?body=). Spaces are %20: some apps keep a "+".
func smsURI(number, body string) string {
	return "sms:" + number + "?&body=" + strings.ReplaceAll(url.QueryEscape(body), "+", "%20")
}

// displayNumber spaces an E.164 number for reading: +1 555 123 4567 for
// North American numbers, the number as it is otherwise.
func displayNumber(n string) string {
	if len(n) == 12 && strings.HasPrefix(n, "+1") {
		return n[:2] + " " + n[2:5] + " " + n[5:8] + " " + n[8:]
	}
	return n
}
