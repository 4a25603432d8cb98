package magiclink

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/smsbot/smsbot/bot"
)

//go:embed templates/*.html templates/lang/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the pages; each is parsed once per language.
var pageNames = []string{"code.html", "error.html", "weblink.html"}

// pages are the page templates of each language (bot.Languages), by
// language code: layout and page, the English strings, then the
// language's own on top, so that a string a language lacks is English.
type pages struct {
	t map[string]map[string]*template.Template
}

func newPages() (*pages, error) {
	p := &pages{t: map[string]map[string]*template.Template{}}
	for _, l := range bot.Languages {
		p.t[l.Code] = map[string]*template.Template{}
		for _, name := range pageNames {
			code := l.Code
			files := []string{"templates/layout.html", "templates/" + name, "templates/lang/en.html"}
			if code != bot.English.Code {
				files = append(files, "templates/lang/"+code+".html")
			}
			t, err := template.New(name).Funcs(template.FuncMap{"lang": func() string { return code }}).ParseFS(templateFS, files...)
			if err != nil {
				return nil, fmt.Errorf("magiclink: template %s (%s): %w", name, code, err)
			}
			p.t[code][name] = t
		}
	}
	return p, nil
}

type codePage struct {
	Name, Last4, Email, Code string
	SMSLink                  template.URL // sms:, or a wa.me link for WhatsApp
	App                      string       // what SMSLink opens: Messages or WhatsApp
	Minutes                  int
}

type errorPage struct {
	Name    string
	Message template.HTML // the error's safe message, translated and escaped
	// NewLink opens the messaging app with S to the bot, when the way out
	// is a new link.
	NewLink template.URL
}

// render writes the named page in the request's language (pageLang).
func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	l := pageLang(r)
	var buf bytes.Buffer
	if err := s.pages.t[l.Code][name].ExecuteTemplate(&buf, name, data); err != nil {
		s.logger().ErrorContext(r.Context(), "render page", "page", name, "lang", l.Code, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l.Code)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Static serves the pages' stylesheet under /static/.
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

// securityHeaders are the headers Headers sets, their values made once:
// Header.Set would make a new slice for each header of each request.
// Every answer shares them, so they must never be written in place; Set
// and Add do not (Set replaces a header's slice, and Add appends to it,
// which copies a full slice of one).
var securityHeaders = []struct {
	name  string // canonical
	value []string
}{
	{"Content-Security-Policy", []string{"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Frame-Options", []string{"DENY"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
}

var hsts = []string{"max-age=63072000; includeSubDomains"}

// Headers sets the security headers of every page: a strict CSP with no
// inline script or style, no referrer (a link token must never leak), no
// framing, no sniffing, and HSTS when the site is served over https.
func Headers(https bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for _, sh := range securityHeaders {
				h[sh.name] = sh.value
			}
			if https {
				h["Strict-Transport-Security"] = hsts
			}
			next.ServeHTTP(w, r)
		})
	}
}
