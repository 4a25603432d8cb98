package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// go test ./cmd/smsbot -run TestREADME -update-readme (make readme)
// rewrites the README's generated sections.
var updateReadme = flag.Bool("update-readme", false, "rewrite the generated sections of README.md")

const readmePath = "../../README.md"

// readmeSections are the README's generated parts: each sits between
// <!-- NAME:begin --> and <!-- NAME:end -->.
func readmeSections(t *testing.T) map[string]string {
	t.Helper()
	diagram, err := bot.Mermaid()
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	table.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range settings {
		def := ""
		if d := s.doc(); d != "" {
			def = "`" + d + "`"
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", s.Env, def, strings.ReplaceAll(s.Help, "|", `\|`))
	}
	var names strings.Builder
	names.WriteString("| template | sent when | default |\n|---|---|---|\n")
	for _, name := range templateNames() {
		fmt.Fprintf(&names, "| `%s` | %s | %s |\n", name, templateUse[name], "`"+strings.ReplaceAll(bot.DefaultReplies[name], "|", `\|`)+"`")
	}
	var conv strings.Builder
	conv.WriteString("| the person sends / does | from | to | the bot |\n|---|---|---|---|\n")
	for _, s := range bot.Conversation {
		from, to := s.Columns()
		fmt.Fprintf(&conv, "| %s | %s | %s | %s |\n", s.Does, from, to, s.Bot)
	}
	return map[string]string{
		"conversation":       conv.String(),
		"state-machine":      "```mermaid\n" + strings.TrimRight(diagram, "\n") + "\n```\n",
		"settings":           table.String(),
		"templates":          names.String(),
		"translations":       translationTables(t),
		"keywords":           keywordTable(),
		"countries":          countryTable(),
		"whatsapp-templates": whatsAppTemplateTable(t),
	}
}

// translationTables are the built-in templates of each language but
// English, one folded table each.
func translationTables(t *testing.T) string {
	var b strings.Builder
	for _, l := range bot.Languages[1:] {
		fmt.Fprintf(&b, "<details><summary>%s (<code>%s</code>)</summary>\n\n| template | text |\n|---|---|\n", l.Name, l.Code)
		for _, name := range templateNames() {
			text, ok := bot.Translations[l.Code][name]
			if !ok {
				t.Errorf("reply template %q has no %s text", name, l.Code)
				text = "(none: the English text is sent)"
			}
			fmt.Fprintf(&b, "| `%s` | `%s` |\n", name, strings.ReplaceAll(text, "|", `\|`))
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// keywordTable says which words Twilio handles and which smsbot does.
func keywordTable() string {
	stop, start, help := bot.TwilioKeywords()
	words := func(w []string) string {
		if len(w) == 0 {
			return ""
		}
		return "`" + strings.Join(w, "`, `") + "`"
	}
	var b strings.Builder
	b.WriteString("| language | opt out | opt back in | help | handled by |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| English | %s | %s | %s | Twilio (smsbot records them, and answers only with `SMSBOT_ANSWER_KEYWORDS=true`) |\n", words(stop), words(start), words(help))
	for _, l := range bot.Languages[1:] {
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %s | %s | smsbot, which answers them in `%s` |\n", l.Name, l.Code, words(l.Stop), words(l.Start), words(l.Help), l.Code)
	}
	return b.String()
}

// countryTable lists the calling codes that pick each language.
func countryTable() string {
	byLang := map[string][]string{}
	for code, tag := range bot.CountryLanguages() {
		l := bot.LanguageOf(tag)
		c := "+" + code
		if len(code) == 4 && code[0] == '1' {
			c = "+1 " + code[1:]
		}
		byLang[l.Code] = append(byLang[l.Code], c+" "+tag)
	}
	var b strings.Builder
	b.WriteString("| language | calling codes (and the tag stored) |\n|---|---|\n")
	for _, l := range bot.Languages {
		codes := byLang[l.Code]
		sort.Slice(codes, func(i, j int) bool { return codes[i] < codes[j] })
		if l.Code == bot.English.Code {
			codes = append(codes, "and every code not listed")
		}
		fmt.Fprintf(&b, "| %s (`%s`) | %s |\n", l.Name, l.Code, strings.Join(codes, ", "))
	}
	return b.String()
}

// templateUse says when each reply is sent; a reply without an entry
// fails TestREADME.
var templateUse = map[string]string{
	bot.ReplyLink:          "`S`: the one-time link (`.URL`, `.Minutes`)",
	bot.ReplyLinkLimit:     "`S` beyond the links allowed per hour or day",
	bot.ReplyCodePrompt:    "after the login, by the outbox: reply with the code",
	bot.ReplySubscribed:    "the right code, or the right web code (`.Email`, masked)",
	bot.ReplyWrongCode:     "a wrong code (`.Left` tries left)",
	bot.ReplyLocked:        "the last wrong code",
	bot.ReplyCodeExpired:   "a code after its 10 minutes",
	bot.ReplyCodeHint:      "anything else while a code is awaited",
	bot.ReplyLoginHint:     "anything else while the login is awaited",
	bot.ReplyHint:          "anything else from a phone that is not subscribed",
	bot.ReplyUnknown:       "an unknown command from a subscribed phone",
	bot.ReplyUnsubscribed:  "`U`, or `smsbot subscribers remove --notify`",
	bot.ReplyNotSubscribed: "`U` from a phone that is not subscribed",
	bot.ReplyReplaced:      "to the earlier phone, when an account links another one (`.Email`)",
	bot.ReplyHelpIdle:      "`H` (and HELP when answering keywords, or on WhatsApp) when idle",
	bot.ReplyHelpLogin:     "`H` while the login is awaited",
	bot.ReplyHelpCode:      "`H` while a code is awaited",
	bot.ReplyHelpSub:       "`H` when subscribed (`.Commands`: the plugins' commands)",
	bot.ReplyReverify:      "a command from a phone whose binding is suspended (silent too long, or its number looks reassigned), or from a channel the binding was not proven on (see *WhatsApp*)",
	bot.ReplyCodeLimit:     "a code while the account is over its wrong codes for the day",
	bot.ReplyStopped:       "STOP and its synonyms: on WhatsApp always, on SMS only with `SMSBOT_ANSWER_KEYWORDS=true`",
	bot.ReplyStarted:       "START and its synonyms: on WhatsApp always, on SMS only with `SMSBOT_ANSWER_KEYWORDS=true`",
	bot.ReplyWorking:       "a command whose answer takes longer than 8 s (it follows by text)",
	bot.ReplyLanguages:     "`LANG` alone, or with a language the bot does not speak (`.Choices`)",
	bot.ReplyLanguageSet:   "`LANG ES` and the like: in the new language",
	bot.ReplyFailed:        "a command that failed on our side",
	bot.ReplyLinkHint:      "`LINK` without a code (`.WebURL`: the web-first page)",
	bot.ReplyLinkWrong:     "a wrong web code (`.Left` tries left)",
	bot.ReplyLinkLocked:    "the last wrong web code a phone may send in 10 minutes (`.Minutes`); then silence",
	bot.ReplyLinkExpired:   "a web code after its 10 minutes",
	bot.ReplyLinkUsed:      "a web code a phone has already linked with",
}

func templateNames() []string {
	names := make([]string, 0, len(bot.DefaultReplies))
	for name := range bot.DefaultReplies {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestREADME fails when the README's state diagram, settings table or
// template list differ from the code (bot.Mermaid, the settings list,
// bot.DefaultReplies). make readme refreshes them.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for name := range bot.DefaultReplies {
		if templateUse[name] == "" {
			t.Errorf("reply template %q is not described in templateUse", name)
		}
	}
	for name, want := range readmeSections(t) {
		begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Errorf("README.md lacks the %s section (%s ... %s)", name, strings.TrimSpace(begin), end)
			continue
		}
		got := readme[i+len(begin) : j]
		if got == want {
			continue
		}
		if *updateReadme {
			readme = readme[:i+len(begin)] + want + readme[j:]
			continue
		}
		t.Errorf("README.md's %s section is stale: run make readme\n--- README\n%s--- code\n%s", name, got, want)
	}
	if *updateReadme {
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
