package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/smsbot/smsbot/webhooks"
)

// pathReady is the readiness route; doctor fetches it through the public URL.
const pathReady = "/readyz"

// Headers of /readyz that doctor reads.
const (
	headerInstance = "X-Smsbot-Instance"         // the nonce of this start
	headerClientIP = "X-Smsbot-Client-IP-Header" // present or absent: did the request carry SMSBOT_CLIENT_IP_HEADER
)

// newFlags returns a flag set for a command whose --help prints help (the
// text after the usage line) and the flags.
func newFlags(name, usage, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\n%s\n", usage, strings.TrimSpace(help))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprintf(stderr, "\nExit codes: 0 ok, 1 failed, 2 bad usage or configuration.\n")
	}
	return fs
}

// parseFlags parses args; a bad flag is a usage error, --help is
// flag.ErrHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// envConfig reads the settings from the environment the way serve does,
// without serve's flags. err lists what is missing or malformed for
// production; cfg is filled in either way.
func envConfig(getenv func(string) string) (cfg *config, err error) {
	return loadConfig(nil, getenv, io.Discard)
}

// require returns a usage error naming the settings in want that are
// empty.
func require(want ...[2]string) error {
	var missing []string
	for _, w := range want {
		if w[1] == "" {
			missing = append(missing, w[0])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return usageError{fmt.Errorf("%s not set (see smsbot serve --help)", strings.Join(missing, ", "))}
}

// twilioAdmin is the Twilio account's configuration API, making its
// requests with hc.
func (c *config) twilioAdmin(hc *http.Client) (*webhooks.Admin, error) {
	return webhooks.NewAdmin(webhooks.ClientConfig{
		AccountSID: c.TwilioSID, AuthToken: c.TwilioToken, APIURL: c.TwilioAPIURL, HTTPClient: hc,
	})
}
