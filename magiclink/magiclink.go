// Package magiclink is the web half of subscribing: the one-time link a
// phone gets by text, the Auth0 login it leads to (authorization code with
// PKCE, state and nonce, the ID token verified by go-auth0), the page that
// shows the code to text back, and the Auth0 Management API updates of
// app_metadata.phone.
package magiclink

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auth0/go-auth0/authentication/oauth"
	"github.com/go-chi/chi/v5"
	"golang.org/x/oauth2"

	"github.com/smsbot/smsbot/bot"
)

// Logins is what the web flow needs from the conversation; *bot.Engine
// implements it.
type Logins interface {
	OpenLink(ctx context.Context, token string) (bot.LinkInfo, error)
	ConfirmLogin(ctx context.Context, linkHash []byte, loginID string, acct bot.Account) (bot.CodeInfo, error)
	// The web-first path: a code for a web login, and what became of it.
	NewWebLogin(ctx context.Context, loginID string, acct bot.Account) (bot.WebCodeInfo, error)
	WebLoginStatus(ctx context.Context, loginID, code string) (bot.WebStatus, error)
}

var _ Logins = (*bot.Engine)(nil)

// Paths served under the public URL: the one-time link (HandleLink) and
// Auth0's redirect back (HandleCallback).
const (
	PathLink     = bot.LinkPath + "{token}"
	PathCallback = "/auth/callback"
)

// Config configures the login.
type Config struct {
	PublicURL    string // https://bot.example.com; the callback is PublicURL + /auth/callback
	Domain       string // the Auth0 domain, such as example.us.auth0.com
	ClientID     string
	ClientSecret string
	Connection   string // optional: skip Auth0's chooser and use this connection
	// AuthorizeURL replaces https://<Domain>/authorize (dev mode serves its
	// stand-in's login page from the bot's own origin).
	AuthorizeURL string
	// BotNumber is the number people text, for the sms: links and the
	// web-first page (PathWebLink), which is not offered without it.
	BotNumber string
	Name      string // the program name on pages
	// HTTPClient is used for Auth0's Authentication API; nil means a
	// client with a 10 s timeout.
	HTTPClient *http.Client

	// WhatsAppNumber is the WhatsApp sender (E.164): a person who wrote on
	// WhatsApp gets a wa.me link on the code page instead; "" for none.
	WhatsAppNumber string
}

// Service serves the link, the login callback and the code page.
type Service struct {
	cfg    Config
	logins Logins
	keys   *bot.Keyring
	auth   *authClient
	oauth  *oauth2.Config
	pages  *pages
	secure bool // the public URL is https: cookies are Secure

	LoginTTL time.Duration // how long a login may take; default 15 min
	// WebSessionTTL is how long the web-first page works after its
	// login; default 1 hour.
	WebSessionTTL time.Duration
	// RetryAfter is how long after failing to reach Auth0 the login waits
	// before trying again; default 5 s. Meanwhile it shows "try again in a
	// minute".
	RetryAfter time.Duration
	Now        func() time.Time
	Rand       io.Reader
	Logger     *slog.Logger
	// Count, when set, is told of each outcome ("link_ok", "link_expired", ...).
	Count func(event string)
}

// New builds the service. It does not call Auth0: the Authentication API
// client (which fetches the signing keys) is built at the first login and
// lives as long as ctx.
func New(ctx context.Context, cfg Config, logins Logins, keys *bot.Keyring) (*Service, error) {
	if cfg.Domain == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("magiclink: Auth0 domain, client id and client secret are required")
	}
	authorize := cfg.AuthorizeURL
	if authorize == "" {
		authorize = "https://" + cfg.Domain + "/authorize"
	}
	pub := strings.TrimRight(cfg.PublicURL, "/")
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "smsbot"
	}
	return &Service{
		cfg:    cfg,
		logins: logins,
		keys:   keys,
		auth:   newAuthClient(ctx, cfg),
		oauth: &oauth2.Config{
			ClientID:    cfg.ClientID,
			Endpoint:    oauth2.Endpoint{AuthURL: authorize},
			RedirectURL: pub + "/auth/callback",
			Scopes:      []string{"openid", "email", "profile"},
		},
		pages:  p,
		secure: strings.HasPrefix(pub, "https://"),
	}, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) count(event string) {
	if s.Count != nil {
		s.Count(event)
	}
}

// login is the login transaction, sealed into a cookie between the link and
// the callback.
type login struct {
	ID       string    `json:"id"`
	LinkHash []byte    `json:"link"`          // the one-time link's; none for a web login
	Web      bool      `json:"web,omitempty"` // started at PathWebLink, no phone known
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Expires  time.Time `json:"exp"`
	Lang     string    `json:"lang,omitempty"` // the pages' language (the phone's)
}

// cookieName is per login, so that a link opened twice (two tabs, or a
// previewer) does not break the other login.
func cookieName(state string) string {
	h := sha256.Sum256([]byte(state))
	return "smsbot_login_" + hex.EncodeToString(h[:8])
}

func (s *Service) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand(), b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HandleLink serves GET /l/{token}: it checks the link without using it up
// (link previewers open links too), starts a login transaction in a cookie
// and sends the browser to Auth0.
func (s *Service) HandleLink(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	info, err := s.logins.OpenLink(r.Context(), token)
	r = withLang(r, info.Lang)
	if err != nil {
		s.count("link_" + bot.ErrorCode(err))
		s.fail(w, r, err)
		return
	}
	s.startLogin(w, r, login{LinkHash: info.Hash}, info.ExpiresAt, "link_ok")
}

// startLogin starts the login transaction lg (a link's or a web login's),
// ending by expires at the latest: it seals lg with fresh state, nonce and
// PKCE verifier into a cookie of its own and sends the browser to Auth0.
// okEvent is counted when it does.
func (s *Service) startLogin(w http.ResponseWriter, r *http.Request, lg login, expires time.Time, okEvent string) {
	// Sending the browser to an Auth0 that is down helps nobody.
	if _, err := s.auth0(); err != nil {
		s.unavailable(w, r, retryKey(lg, msgUnavailable, msgWebUnavailable), err)
		return
	}
	lg.Lang = pageLang(r).Code
	var err error
	for _, f := range []*string{&lg.ID, &lg.State, &lg.Nonce} {
		if *f, err = s.random(24); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	lg.Verifier = oauth2.GenerateVerifier()
	ttl := s.LoginTTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	lg.Expires = s.now().Add(ttl)
	if !expires.IsZero() && expires.Before(lg.Expires) {
		lg.Expires = expires
	}
	plain, err := json.Marshal(lg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sealed, err := s.keys.Seal(s.rand(), "login", plain)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName(lg.State),
		Value:    base64.RawURLEncoding.EncodeToString(sealed),
		Path:     "/auth/callback",
		Expires:  lg.Expires,
		MaxAge:   int(lg.Expires.Sub(s.now()) / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(lg.Verifier),
		oauth2.SetAuthURLParam("nonce", lg.Nonce),
	}
	if s.cfg.Connection != "" {
		opts = append(opts, oauth2.SetAuthURLParam("connection", s.cfg.Connection))
	}
	// Auth0's login page in the page's language, when the tenant has it.
	opts = append(opts, oauth2.SetAuthURLParam("ui_locales", lg.Lang))
	s.count(okEvent)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.oauth.AuthCodeURL(lg.State, opts...), http.StatusFound)
}

// HandleCallback serves GET /auth/callback, Auth0's redirect back: it
// matches the login transaction, exchanges the code (PKCE), lets go-auth0
// verify the ID token and nonce, consumes the link and shows the code.
func (s *Service) HandleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if e := q.Get("error"); e != "" {
		s.count("callback_denied")
		s.logger().InfoContext(r.Context(), "login failed at auth0", "error", oauthErrorReason(e))
		s.fail(w, r, pageError(bot.EINVALID, msgLoginNotCompleted, safeWord(e)))
		return
	}
	if state == "" || q.Get("code") == "" {
		s.count("callback_invalid")
		s.fail(w, r, pageError(bot.EINVALID, msgLoginIncomplete, ""))
		return
	}
	c, err := r.Cookie(cookieName(state))
	if err != nil {
		s.count("callback_no_session")
		s.fail(w, r, pageError(bot.EEXPIRED, msgLoginNoSession, ""))
		return
	}
	auth, err := s.auth0()
	if err != nil {
		// The cookie stays: reloading the page tries again.
		s.unavailable(w, r, msgUnavailable, err)
		return
	}
	// The cookie has done its job once Auth0 has answered or the login is
	// void; while Auth0 cannot be reached it stays, so a reload tries again.
	forget := func() {
		http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: "/auth/callback", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	}
	lg, err := s.openLogin(c.Value)
	if err == nil && lg.Lang != "" {
		r = withLang(r, bot.LanguageOf(lg.Lang))
	}
	if err != nil || subtle.ConstantTimeCompare([]byte(lg.State), []byte(state)) != 1 {
		forget()
		s.count("callback_bad_state")
		s.fail(w, r, pageError(bot.EINVALID, msgLoginMismatch, ""))
		return
	}
	if !s.now().Before(lg.Expires) {
		forget()
		s.count("callback_expired")
		s.fail(w, r, pageError(bot.EEXPIRED, retryKey(lg, msgLoginTooLong, msgWebLoginTooLong), ""))
		return
	}
	tokens, err := auth.OAuth.LoginWithAuthCodeWithPKCE(r.Context(), oauth.LoginWithAuthCodeWithPKCERequest{
		Code:         q.Get("code"),
		CodeVerifier: lg.Verifier,
		RedirectURI:  s.oauth.RedirectURL,
	}, oauth.IDTokenValidationOptions{Nonce: lg.Nonce})
	s.auth.saw(!unreachable(err))
	if unreachable(err) {
		s.unavailable(w, r, retryKey(lg, msgUnavailable, msgWebUnavailable), err)
		return
	}
	forget()
	if err != nil {
		s.count("callback_exchange_failed")
		s.logger().WarnContext(r.Context(), "auth0 code exchange or id token check failed", "reason", exchangeReason(err))
		s.fail(w, r, pageError(bot.EINVALID, retryKey(lg, msgLoginUnverified, msgWebLoginUnverified), ""))
		return
	}
	acct, err := accountFromIDToken(tokens.IDToken)
	if err != nil {
		s.count("callback_exchange_failed")
		s.fail(w, r, err)
		return
	}
	if lg.Web {
		s.webLoggedIn(w, r, lg.ID, acct)
		return
	}
	info, err := s.logins.ConfirmLogin(r.Context(), lg.LinkHash, lg.ID, acct)
	if err != nil {
		s.count("callback_" + bot.ErrorCode(err))
		s.fail(w, r, err)
		return
	}
	s.count("callback_ok")
	s.logger().InfoContext(r.Context(), "login confirmed, code shown", "phone", bot.MaskPhone(info.Phone))
	r = withLang(r, info.Lang)
	page := codePage{
		Name:    s.cfg.Name,
		Last4:   bot.LastFour(info.Phone),
		Email:   info.Email,
		Code:    info.Code,
		SMSLink: template.URL(smsLink(s.cfg.BotNumber, info.Code)),
		App:     "Messages",
		Minutes: int(info.ExpiresAt.Sub(s.now()).Round(time.Minute) / time.Minute),
	}
	if info.Channel == bot.ChannelWhatsApp && s.cfg.WhatsAppNumber != "" {
		page.SMSLink, page.App = template.URL(whatsAppLink(s.cfg.WhatsAppNumber, info.Code)), "WhatsApp"
	}
	s.render(w, r, http.StatusOK, "code.html", page)
}

// whatsAppLink opens a WhatsApp chat with number, the code filled in.
func whatsAppLink(number, code string) string {
	return "https://wa.me/" + strings.TrimPrefix(number, "+") + "?text=" + url.QueryEscape(code)
}

// retryKey is the message key of a failed login that says how to start
// lg's kind of login again: link for a one-time link's, web for a web
// login's.
func retryKey(lg login, link, web string) string {
	if lg.Web {
		return web
	}
	return link
}

func (s *Service) openLogin(v string) (login, error) {
	var lg login
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return lg, err
	}
	plain, err := s.keys.Open("login", sealed)
	if err != nil {
		return lg, err
	}
	return lg, json.Unmarshal(plain, &lg)
}

// accountFromIDToken reads sub, email and locale from an ID token that
// go-auth0 has already verified.
func accountFromIDToken(idToken string) (bot.Account, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return bot.Account{}, errors.New("id token: not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return bot.Account{}, fmt.Errorf("id token: %w", err)
	}
	var claims struct {
		Sub    string `json:"sub"`
		Email  string `json:"email"`
		Locale string `json:"locale"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return bot.Account{}, fmt.Errorf("id token: %w", err)
	}
	if claims.Sub == "" {
		return bot.Account{}, errors.New("id token: no sub")
	}
	return bot.Account{ID: claims.Sub, Email: claims.Email, Locale: claims.Locale}, nil
}

// smsLink opens the messaging app with the code filled in. "?&body=" is
// read by both iOS and Android.
func smsLink(number, code string) string {
	return "sms:" + number + "?&body=" + url.QueryEscape(code)
}

// safeWord keeps an OAuth error code printable and short.
func safeWord(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "error"
	}
	return b.String()
}

// status maps an error code to an HTTP status.
func status(err error) int {
	switch bot.ErrorCode(err) {
	case bot.EINVALID:
		return http.StatusBadRequest
	case bot.ENOTFOUND:
		return http.StatusNotFound
	case bot.EEXPIRED, bot.EUSED:
		return http.StatusGone
	case bot.ELIMIT:
		return http.StatusTooManyRequests
	case bot.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// fail shows an error page with the error's safe message.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	switch code {
	case http.StatusInternalServerError:
		s.logger().ErrorContext(r.Context(), "web request failed", "route", chi.RouteContext(r.Context()).RoutePattern(), "err", err)
	case http.StatusServiceUnavailable:
		s.logger().WarnContext(r.Context(), "web request failed: database unavailable", "route", chi.RouteContext(r.Context()).RoutePattern(), "err", err)
		w.Header().Set("Retry-After", "5")
	}
	page := errorPage{Name: s.cfg.Name, Message: s.message(pageLang(r), err)}
	if s.cfg.BotNumber != "" && strings.Contains(bot.ErrorMessage(err), "Text S") {
		page.NewLink = template.URL(smsLink(s.cfg.BotNumber, "S"))
	}
	s.render(w, r, code, "error.html", page)
}
