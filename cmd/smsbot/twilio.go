package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/smsbot/smsbot/webhooks"
)

const twilioWebhookHelp = `
Points the Twilio number TWILIO_FROM_NUMBER at this server through the
Twilio REST API: its SMS URL becomes SMSBOT_PUBLIC_URL/webhooks/twilio/sms
(method POST). It changes nothing else on the number: its status callback
is about voice calls, and delivery statuses come with each text smsbot
sends. It is what "twilio phone-numbers:update --sms-url" does, without the
Twilio CLI. With only TWILIO_MESSAGING_SERVICE_SID set, it sets the
Messaging Service's incoming request URL and status callback instead.

Needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SMSBOT_PUBLIC_URL and
TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID. Run smsbot doctor
afterwards to check.
`

// runTwilioWebhook is `smsbot twilio-webhook`.
func runTwilioWebhook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("twilio-webhook", "smsbot twilio-webhook [flags]", twilioWebhookHelp, stderr)
	dryRun := fs.Bool("dry-run", false, "show what would change, change nothing")
	publicURL := fs.String("public-url", getenv("SMSBOT_PUBLIC_URL"), "public base URL (SMSBOT_PUBLIC_URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("twilio-webhook: unexpected argument %q", fs.Arg(0))}
	}
	cfg, _ := envConfig(getenv)
	cfg.PublicURL = strings.TrimRight(*publicURL, "/")
	sender := cfg.TwilioFrom
	if sender == "" {
		sender = cfg.TwilioService
	}
	if err := require(
		[2]string{"TWILIO_ACCOUNT_SID", cfg.TwilioSID},
		[2]string{"TWILIO_AUTH_TOKEN", cfg.TwilioToken},
		[2]string{"SMSBOT_PUBLIC_URL", cfg.PublicURL},
		[2]string{"TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", sender},
	); err != nil {
		return err
	}
	if err := checkPublicURL(cfg.PublicURL); err != nil {
		return usageError{err}
	}
	hc, err := cfg.httpClient()
	if err != nil {
		return usageError{err}
	}
	tw, err := cfg.twilioAdmin(hc)
	if err != nil {
		return usageError{err}
	}
	smsURL, statusURL := cfg.PublicURL+webhooks.PathSMS, cfg.PublicURL+webhooks.PathStatus

	if cfg.TwilioFrom == "" {
		svc, err := tw.MessagingService(cfg.TwilioService)
		if err != nil {
			return fmt.Errorf("messaging service %s: %w", cfg.TwilioService, err)
		}
		fmt.Fprintf(stdout, "Messaging Service %s (%s)\n", cfg.TwilioService, svc.FriendlyName)
		changed := show(stdout, "incoming URL", svc.InboundURL, smsURL)
		changed = show(stdout, "incoming method", svc.InboundMethod, http.MethodPost) || changed
		changed = show(stdout, "status callback", svc.StatusCallback, statusURL) || changed
		if !changed || *dryRun {
			return done(stdout, changed, *dryRun)
		}
		if err := tw.SetServiceHooks(cfg.TwilioService, smsURL, statusURL); err != nil {
			return fmt.Errorf("update messaging service %s: %w", cfg.TwilioService, err)
		}
		return done(stdout, true, false)
	}

	n, err := tw.Number(cfg.TwilioFrom)
	if err != nil {
		return fmt.Errorf("find %s: %w", cfg.TwilioFrom, err)
	}
	if n == nil {
		return fmt.Errorf("%s is not a number of account %s (check TWILIO_FROM_NUMBER)", cfg.TwilioFrom, cfg.TwilioSID)
	}
	fmt.Fprintf(stdout, "%s (%s)\n", cfg.TwilioFrom, n.SID)
	changed := show(stdout, "SMS URL", n.SMSURL, smsURL)
	changed = show(stdout, "SMS method", n.SMSMethod, http.MethodPost) || changed
	if !changed || *dryRun {
		return done(stdout, changed, *dryRun)
	}
	if err := tw.SetNumberSMS(n.SID, smsURL); err != nil {
		return fmt.Errorf("update %s: %w", cfg.TwilioFrom, err)
	}
	return done(stdout, true, false)
}

// show prints one setting and reports whether it changes.
func show(w io.Writer, name, was, want string) bool {
	if was == want {
		fmt.Fprintf(w, "  %-16s %s (unchanged)\n", name, want)
		return false
	}
	if was == "" {
		was = "none"
	}
	fmt.Fprintf(w, "  %-16s %s (was %s)\n", name, want, was)
	return true
}

func done(w io.Writer, changed, dryRun bool) error {
	switch {
	case !changed:
		fmt.Fprintln(w, "Nothing to change.")
	case dryRun:
		fmt.Fprintln(w, "Dry run: nothing changed.")
	default:
		fmt.Fprintln(w, "Updated.")
	}
	return nil
}
