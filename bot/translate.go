package bot

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
)

// Translations are the built-in reply templates of the languages other
// than English, by language code, keyed like DefaultReplies. A template a
// language lacks is sent in English (and NewLocalReplies warns about it).
var Translations = map[string]map[string]string{
	"es":    repliesES,
	"pt-BR": repliesPT,
	"fr":    repliesFR,
	"de":    repliesDE,
}

// Overrides are an operator's reply templates: language code ("en",
// "es", "pt-BR", ...; see FindLanguage), then template name.
type Overrides map[string]map[string]string

// Replies renders the bot's texts in each of Languages.
type Replies struct {
	sets map[string]*template.Template // by Language.Code

	// rendered keeps texts already rendered: most replies (help, the
	// answer to an unknown command) are the same text each time, and a
	// template costs a few microseconds to run. A text with a login link
	// is never kept (the link is a secret, and new each time); at most
	// maxRendered are.
	rendered     sync.Map // renderKey -> string
	renderedSize atomic.Int64
}

// maxRendered bounds Replies.rendered; the texts that vary (a masked
// email, tries left) have few values each.
const maxRendered = 4096

type renderKey struct {
	lang, name string
	data       ReplyData
}

// NewLocalReplies parses the templates of every language (the built-in
// ones, with the operator's overrides on top) and renders each with
// SampleReplyData. It fails on an unknown language or template name, a
// template that does not parse or run, or a text over MaxReplyChars.
// warnings lists texts longer than one SMS segment, and templates a
// language lacks (sent in English).
func NewLocalReplies(overrides Overrides) (r *Replies, warnings []string, err error) {
	names := make([]string, 0, len(DefaultReplies))
	for name := range DefaultReplies {
		names = append(names, name)
	}
	sort.Strings(names)
	byCode := map[string]map[string]string{}
	for key, o := range overrides {
		l, ok := overrideLanguage(key)
		if !ok {
			return nil, nil, fmt.Errorf("replies: unknown language %q (want one of %s)", key, languageCodes())
		}
		if _, dup := byCode[l.Code]; dup {
			return nil, nil, fmt.Errorf("replies: language %s given twice", l.Code)
		}
		for name := range o {
			if _, ok := DefaultReplies[name]; !ok {
				return nil, nil, fmt.Errorf("replies: %s: unknown template %q", l.Code, name)
			}
		}
		byCode[l.Code] = o
	}
	r = &Replies{sets: map[string]*template.Template{}}
	for _, l := range Languages {
		t := template.New(l.Code).Option("missingkey=error")
		for _, name := range names {
			text, ok := byCode[l.Code][name]
			if !ok {
				text, ok = builtIn(l, name)
			}
			if !ok {
				warnings = append(warnings, fmt.Sprintf("reply %s has no %s text (%s); the English one is sent", name, l.Name, l.Code))
				text = DefaultReplies[name]
			}
			if _, err := t.New(name).Parse(text); err != nil {
				return nil, nil, fmt.Errorf("replies: %s: %s: %w", l.Code, name, err)
			}
		}
		r.sets[l.Code] = t
	}
	for _, l := range Languages {
		for _, name := range names {
			s, err := r.RenderIn(l, name, SampleReplyData)
			if err != nil {
				return nil, nil, err
			}
			if n := len([]rune(s)); n > MaxReplyChars {
				return nil, nil, fmt.Errorf("replies: %s: %s: %d characters, over the limit of %d", l.Code, name, n, MaxReplyChars)
			}
			if seg := Segments(s); seg > 1 {
				warnings = append(warnings, fmt.Sprintf("reply %s is %d SMS segments (%s)", label(l, name), seg, Encoding(s)))
			}
		}
	}
	return r, warnings, nil
}

// overrideLanguage reads a language key of Overrides: a code ("pt-BR") or
// what LANG takes ("PT"), in any case.
func overrideLanguage(key string) (Language, bool) {
	for _, l := range Languages {
		if strings.EqualFold(key, l.Code) || strings.EqualFold(key, l.Word) {
			return l, true
		}
	}
	return Language{}, false
}

// builtIn returns the built-in template name in language l.
func builtIn(l Language, name string) (string, bool) {
	if l.Code == English.Code {
		return DefaultReplies[name], true
	}
	text, ok := Translations[l.Code][name]
	return text, ok
}

// label names a template in warnings: "link" for English, "es/link".
func label(l Language, name string) string {
	if l.Code == English.Code {
		return name
	}
	return l.Code + "/" + name
}

// RenderIn renders the named reply in language l (English for a language
// the bot does not speak).
func (r *Replies) RenderIn(l Language, name string, data ReplyData) (string, error) {
	t := r.sets[l.Code]
	if t == nil {
		t = r.sets[English.Code]
	}
	if data.Choices == "" {
		data.Choices = choices()
	}
	key := renderKey{l.Code, name, data}
	if data.URL == "" {
		if text, ok := r.rendered.Load(key); ok {
			return text.(string), nil
		}
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("reply %s: %w", label(l, name), err)
	}
	text := strings.TrimSpace(b.String())
	if data.URL == "" && r.renderedSize.Add(1) <= maxRendered {
		r.rendered.Store(key, text)
	}
	return text, nil
}

// choices is languageChoices, joined once.
var choices = sync.OnceValue(languageChoices)

// languageChoices is what LANG takes: "EN, ES, PT, FR, DE".
func languageChoices() string {
	w := make([]string, len(Languages))
	for i, l := range Languages {
		w[i] = l.Word
	}
	return strings.Join(w, ", ")
}

// languageCodes lists the language codes: "en, es, pt-BR, fr, de".
func languageCodes() string {
	c := make([]string, len(Languages))
	for i, l := range Languages {
		c[i] = l.Code
	}
	return strings.Join(c, ", ")
}
