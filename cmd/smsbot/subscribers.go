package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsbot/smsbot/bot"
)

const subscribersUsage = `smsbot subscribers list|show PHONE|remove PHONE|export [flags]`

const subscribersHelp = `
Shows and manages the phones in the database (SMSBOT_DB): which Auth0
account each one is bound to, its state and since when.

  list            every phone that texted the bot, one line each
  show PHONE      one phone: binding, state, times and its audit trail
  remove PHONE    unbind the phone, here and in Auth0 (app_metadata.phone),
                  as if it had texted U: the audit table records it and the
                  server's outbox makes the Auth0 update
  export          every phone as CSV or JSON (--format)

PHONE is in E.164 form, such as +15551234567. Email addresses are masked
(y***@example.com) unless --unmask is given; link hashes and codes are
never shown.
`

// runSubscribers is `smsbot subscribers`.
func runSubscribers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: %s\n%s\nRun \"smsbot subscribers COMMAND --help\" for its flags.\nExit codes: 0 ok, 1 failed, 2 bad usage or configuration.\n", subscribersUsage, subscribersHelp)
		if len(args) == 0 {
			return usageError{errors.New("subscribers: no command given")}
		}
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	cfg, _ := envConfig(getenv)

	var usage, help string
	switch cmd {
	case "list":
		usage, help = "smsbot subscribers list [flags]", "Lists every phone that texted the bot: state, account, email, since when."
	case "show":
		usage, help = "smsbot subscribers show PHONE [flags]", "Shows one phone: its binding, state, times and audit trail."
	case "remove":
		usage, help = "smsbot subscribers remove PHONE [flags]", "Unbinds the phone here and in Auth0 (as U does). The phone goes back to idle."
	case "export":
		usage, help = "smsbot subscribers export --format csv|json [flags]", "Writes every phone as CSV or JSON to standard output."
	default:
		return usageError{fmt.Errorf("subscribers: unknown command %q (want list, show, remove or export)", cmd)}
	}
	fs := newFlags("subscribers "+cmd, usage, help, stderr)
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite database file (SMSBOT_DB)")
	var state, format, reason string
	var unmask, notify bool
	if cmd == "list" || cmd == "export" {
		fs.StringVar(&state, "state", "", "only phones in this state ("+strings.Join(bot.States, ", ")+")")
	}
	if cmd != "remove" {
		fs.BoolVar(&unmask, "unmask", false, "show email addresses in full")
	}
	if cmd == "export" {
		fs.StringVar(&format, "format", "csv", "csv or json")
	}
	if cmd == "remove" {
		fs.StringVar(&reason, "reason", "removed by an operator", "why, for the audit table")
		fs.BoolVar(&notify, "notify", false, "text the phone that it was unsubscribed")
	}
	// Flags may come before or after PHONE.
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var phone string
	if cmd == "show" || cmd == "remove" {
		if fs.NArg() == 0 {
			return usageError{fmt.Errorf("subscribers %s: PHONE is missing", cmd)}
		}
		phone = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return err
		}
		if !bot.ValidPhone(phone) {
			return usageError{fmt.Errorf("subscribers %s: %q is not an E.164 phone number such as +15551234567", cmd, phone)}
		}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("subscribers %s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	if state != "" && !validState(state) {
		return usageError{fmt.Errorf("subscribers %s: unknown state %q (want one of %s)", cmd, state, strings.Join(bot.States, ", "))}
	}
	if cmd == "export" && format != "csv" && format != "json" {
		return usageError{fmt.Errorf("subscribers export: --format must be csv or json, not %q", format)}
	}

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	email := func(s string) string {
		if unmask || s == "" {
			return s
		}
		return bot.MaskEmail(s)
	}
	switch cmd {
	case "list":
		return listPhones(ctx, db, state, email, stdout)
	case "show":
		return showPhone(ctx, db, phone, email, stdout)
	case "export":
		return exportPhones(ctx, db, state, format, email, stdout)
	default:
		return removePhone(ctx, cfg, db, phone, reason, notify, stdout)
	}
}

func validState(s string) bool {
	for _, st := range bot.States {
		if s == st {
			return true
		}
	}
	return false
}

// when formats a time for people: UTC, to the second; "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listPhones(ctx context.Context, db database, state string, email func(string) string, w io.Writer) error {
	phones, err := db.Phones(ctx, state)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHONE\tSTATE\tACCOUNT\tEMAIL\tBOUND\tUPDATED")
	bound := 0
	for _, p := range phones {
		if p.Bound() {
			bound++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Number, p.State, orDash(p.UserID), orDash(email(p.Email)), when(p.BoundAt), when(p.UpdatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d phones, %d bound to an account\n", len(phones), bound)
	return nil
}

func showPhone(ctx context.Context, db database, phone string, email func(string) string, w io.Writer) error {
	var p *bot.Phone
	err := db.View(ctx, func(tx bot.Tx) error {
		var err error
		p, err = tx.Phone(ctx, phone)
		return err
	})
	if bot.ErrorCode(err) == bot.ENOTFOUND {
		return fmt.Errorf("%s never texted the bot", phone)
	} else if err != nil {
		return err
	}
	last, err := db.LastText(ctx, phone)
	if err != nil {
		return err
	}
	audit, err := db.AuditLog(ctx, phone)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "phone\t%s\n", p.Number)
	fmt.Fprintf(tw, "state\t%s\n", p.State)
	if !p.ExpiresAt.IsZero() {
		fmt.Fprintf(tw, "state expires\t%s\n", when(p.ExpiresAt))
	}
	fmt.Fprintf(tw, "account\t%s\n", orDash(p.UserID))
	fmt.Fprintf(tw, "email\t%s\n", orDash(email(p.Email)))
	fmt.Fprintf(tw, "bound since\t%s\n", when(p.BoundAt))
	if p.Bound() {
		fmt.Fprintf(tw, "proven on\t%s\n", orDash(strings.ReplaceAll(string(p.Proven), ",", ", ")))
	}
	fmt.Fprintf(tw, "channel\t%s%s\n", p.Channel.Or(), whatsAppWindow(p))
	if p.Suspended() {
		fmt.Fprintf(tw, "suspended\t%s (%s): commands wait until the phone links again\n", when(p.SuspendedAt), p.SuspendReason)
	}
	fmt.Fprintf(tw, "language\t%s\n", languageLine(p))
	if p.State == bot.StateAwaitingCode {
		fmt.Fprintf(tw, "logging in as\t%s (%s), %d wrong codes so far\n", p.CodeUserID, email(p.CodeEmail), p.CodeAttempts)
	}
	fmt.Fprintf(tw, "first text\t%s\n", when(p.CreatedAt))
	fmt.Fprintf(tw, "last text\t%s\n", when(last))
	fmt.Fprintf(tw, "updated\t%s\n", when(p.UpdatedAt))
	if err := tw.Flush(); err != nil {
		return err
	}
	sent, err := db.SentTexts(ctx, phone, 10)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntexts sent (last %d):\n", len(sent))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range sent {
		status := orDash(s.Status)
		if s.ErrorCode != 0 {
			status += fmt.Sprintf(" (error %d)", s.ErrorCode)
		}
		if s.Job != "done" {
			status = s.Job + ": " + orDash(s.LastError)
		} else if strings.HasPrefix(s.SID, "skipped") {
			status = s.SID // never sent, and why
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", when(s.At), status, s.Body)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\naudit (%d):\n", len(audit))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range audit {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", when(a.At), a.Action, a.UserID, a.Reason)
	}
	return tw.Flush()
}

// languageLine says which language the bot speaks to p and why: "es-MX
// from the country code (texts in es)".
func languageLine(p *bot.Phone) string {
	l := p.Lang()
	if p.Language == "" {
		return fmt.Sprintf("%s (none stored yet: the country code's, %s)", l.Code, bot.CountryLanguage(p.Number))
	}
	from := map[string]string{
		bot.LanguageFromCountry: "from the country code",
		bot.LanguageChosen:      "chosen with LANG",
		bot.LanguageFromAccount: "from the account's locale",
	}[p.LanguageSource]
	if from == "" {
		from = p.LanguageSource
	}
	if p.Language == l.Code {
		return fmt.Sprintf("%s, %s", p.Language, from)
	}
	return fmt.Sprintf("%s, %s (texts in %s)", p.Language, from, l.Code)
}

// exported is one phone in an export.
type exported struct {
	Phone     string `json:"phone"`
	State     string `json:"state"`
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	BoundAt   string `json:"bound_at"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func exportPhones(ctx context.Context, db database, state, format string, email func(string) string, w io.Writer) error {
	phones, err := db.Phones(ctx, state)
	if err != nil {
		return err
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	rows := make([]exported, 0, len(phones))
	for _, p := range phones {
		rows = append(rows, exported{
			Phone: p.Number, State: p.State, UserID: p.UserID, Email: email(p.Email),
			BoundAt: stamp(p.BoundAt), CreatedAt: stamp(p.CreatedAt), UpdatedAt: stamp(p.UpdatedAt),
		})
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"phone", "state", "user_id", "email", "bound_at", "created_at", "updated_at"})
	for _, r := range rows {
		cw.Write([]string{r.Phone, r.State, r.UserID, r.Email, r.BoundAt, r.CreatedAt, r.UpdatedAt})
	}
	cw.Flush()
	return cw.Error()
}

// removePhone unbinds through the engine, as U does: the audit table
// records it and the outbox job (run by the server) removes
// app_metadata.phone in Auth0, once.
func removePhone(ctx context.Context, cfg *config, db database, phone, reason string, notify bool, w io.Writer) error {
	overrides, err := loadTemplates(cfg.Templates)
	if err != nil {
		return usageError{err}
	}
	replies, _, err := bot.NewLocalReplies(overrides)
	if err != nil {
		return usageError{err}
	}
	engine := &bot.Engine{Store: db, Replies: replies, Name: cfg.Name, PublicURL: cfg.PublicURL, Limits: cfg.Limits}
	var userID string
	err = db.View(ctx, func(tx bot.Tx) error {
		p, err := tx.Phone(ctx, phone)
		if err == nil {
			userID = p.UserID
		}
		return err
	})
	if bot.ErrorCode(err) == bot.ENOTFOUND {
		return fmt.Errorf("%s never texted the bot", phone)
	} else if err != nil {
		return err
	}
	p, err := engine.Unbind(ctx, phone, reason, notify)
	if bot.ErrorCode(err) == bot.EINVALID {
		return fmt.Errorf("%s is not bound to an account", phone)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s unbound from %s here; state %s.\n", phone, userID, p.State)
	if notify && p.State != bot.StateOptedOut {
		fmt.Fprintln(w, "The text telling the phone is queued; the server's outbox sends it.")
	}
	fmt.Fprintf(w, "The server's outbox removes app_metadata.phone of %s in Auth0.\n", userID)
	return nil
}
