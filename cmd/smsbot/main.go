// Command smsbot is the SMS bot server: people text a Twilio number and a
// per-phone state machine answers, starting with binding the phone to an
// Auth0 account.
//
// Usage:
//
//	smsbot serve [--dev]        run the server (dev: no accounts needed)
//	smsbot doctor               check the configuration, Twilio and Auth0
//	smsbot twilio-webhook       point the Twilio number at this server
//	smsbot subscribers COMMAND  list, show, remove or export phones
//	smsbot outbox COMMAND       list or retry undelivered outbox jobs
//	smsbot backup PATH          copy the database while the server runs
//	smsbot migrate              apply database migrations and exit
//	smsbot migrate --from sqlite:PATH
//	                            move a SQLite deployment to PostgreSQL
//	smsbot version              print the version
//
// Exit codes: 0 ok, 1 the command failed, 2 bad usage or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and failed
	exitUsage  = 2 // bad command line or configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError marks errors in how the program was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "smsbot: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitFailed
}

const usage = `smsbot: an SMS-first bot server

Usage:
  smsbot serve [--dev] [flags]       run the server; --dev needs no accounts
  smsbot doctor                      check the configuration, Twilio and Auth0
  smsbot twilio-webhook [--dry-run]  point the Twilio number's webhooks here
  smsbot subscribers list|show PHONE|remove PHONE|export --format csv|json
                                     the phones, their accounts and states
  smsbot outbox list [--failed]      the texts and Auth0 updates not delivered
  smsbot outbox retry ID|--all-failed
                                     put failed outbox jobs back
  smsbot backup PATH                 copy the database, safe while serving
  smsbot migrate [--db FILE]         apply database migrations and exit
  smsbot migrate --from sqlite:PATH  copy a SQLite deployment into PostgreSQL
  smsbot version                     print the version

Run "smsbot COMMAND --help" for a command's flags, "smsbot serve --help"
for every setting (environment variables).
Exit codes: 0 ok, 1 failed, 2 bad usage or configuration.
`

// run is the whole program, with its environment passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	switch args[0] {
	case "serve":
		cfg, err := loadConfig(args[1:], getenv, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		if cfg == nil { // a bad flag or argument, not a missing setting
			return usageError{err}
		}
		if err != nil {
			return usageError{fmt.Errorf("configuration is incomplete:\n%w\n(see smsbot serve --help, or run smsbot serve --dev for dev mode)", err)}
		}
		return serve(ctx, cfg, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], getenv, stdout, stderr)
	case "twilio-webhook":
		return runTwilioWebhook(ctx, args[1:], getenv, stdout, stderr)
	case "subscribers":
		return runSubscribers(ctx, args[1:], getenv, stdout, stderr)
	case "outbox":
		return runOutbox(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "version":
		if len(args) > 1 {
			if args[1] == "-h" || args[1] == "--help" {
				fmt.Fprint(stderr, "Usage: smsbot version\n\nPrints the version and the commit it was built from.\n")
				return flag.ErrHelp
			}
			return usageError{fmt.Errorf("version: unexpected argument %q", args[1])}
		}
		fmt.Fprintln(stdout, "smsbot", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
}

// buildVersion is the version the Makefile stamps with
// -ldflags "-X main.buildVersion=...", from git describe.
var buildVersion string

// version is the stamped version, else the module's, with the commit when
// the build recorded one.
func version() string {
	v := buildVersion
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 && !strings.Contains(v, s.Value[:7]) {
			v += " " + s.Value[:12]
		}
	}
	return v
}
