package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsbot/smsbot/bot"
)

const outboxHelp = `
Shows and retries the outbox's jobs in the database (SMSBOT_DB): the texts
and Auth0 updates that leave after a text is answered.

  list [--failed]             the jobs not delivered yet (pending and
                              failed, or only the failed ones): job, kind,
                              phone (masked), state, attempts, last error,
                              next try
  retry ID|--all-failed       puts failed jobs back: due now, attempts
                              reset; the running server's outbox delivers
                              them within seconds. Each retry is recorded
                              in the audit table.

A job fails once it used up SMSBOT_OUTBOX_ATTEMPTS tries or hit a permanent
error; smsbot_outbox_failed counts them. Fix the cause first (a Twilio or
Auth0 setting, an opted-out phone), then retry. A text whose try may have
reached Twilio keeps that mark: before sending it again the outbox asks
Twilio whether it went out, so a retry never sends it twice.
`

// runOutbox is `smsbot outbox`.
func runOutbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := "smsbot outbox list [--failed] | retry ID|--all-failed [flags]"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: %s\n%s\nExit codes: 0 ok, 1 failed, 2 bad usage or configuration.\n", usage, outboxHelp)
		if len(args) == 0 {
			return usageError{errors.New("outbox: no command given")}
		}
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	cfg, _ := envConfig(getenv)
	var fs *flag.FlagSet
	switch cmd {
	case "list":
		fs = newFlags("outbox list", "smsbot outbox list [--failed] [flags]", "Lists the outbox jobs not delivered yet.", stderr)
	case "retry":
		fs = newFlags("outbox retry", "smsbot outbox retry ID|--all-failed [flags]", "Puts failed outbox jobs back, due now; the audit table records it.", stderr)
	default:
		return usageError{fmt.Errorf("outbox: unknown command %q (want list or retry)", cmd)}
	}
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite database file (SMSBOT_DB)")
	var failed, all bool
	var reason string
	if cmd == "list" {
		fs.BoolVar(&failed, "failed", false, "only the failed jobs")
	} else {
		fs.BoolVar(&all, "all-failed", false, "retry every failed job")
		fs.StringVar(&reason, "reason", "retried by an operator", "why, for the audit table")
	}
	ids, err := parseOutboxArgs(fs, cmd, args)
	if err != nil {
		return err
	}
	if cmd == "retry" && all == (len(ids) > 0) {
		return usageError{errors.New("outbox retry: give one job ID or --all-failed")}
	}

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if cmd == "list" {
		return listOutbox(ctx, db, failed, stdout)
	}
	return retryOutbox(ctx, db, ids, reason, stdout)
}

// parseOutboxArgs parses the flags (before or after an ID) and the job ID
// of retry.
func parseOutboxArgs(fs *flag.FlagSet, cmd string, args []string) ([]int64, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	var ids []int64
	if cmd == "retry" && fs.NArg() > 0 {
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || id < 1 {
			return nil, usageError{fmt.Errorf("outbox retry: %q is not a job ID (the JOB column of smsbot outbox list)", fs.Arg(0))}
		}
		ids = append(ids, id)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return nil, err
		}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("outbox %s: unexpected argument %q", cmd, fs.Arg(0))}
	}
	return ids, nil
}

func listOutbox(ctx context.Context, db database, failedOnly bool, w io.Writer) error {
	jobs, err := db.OutboxJobs(ctx, failedOnly)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tPHONE\tSTATE\tATTEMPTS\tLAST ERROR\tNEXT TRY")
	failed := 0
	for _, j := range jobs {
		next := "-"
		if j.State == "failed" {
			failed++
		} else {
			next = when(j.NextAt)
		}
		state := j.State
		if j.Ambiguous {
			state += " (may have reached the far end)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Kind, orDash(bot.MaskPhone(j.Phone)), state, j.Attempts, orDash(oneLine(j.LastError)), next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d jobs, %d failed\n", len(jobs), failed)
	return nil
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func retryOutbox(ctx context.Context, db database, ids []int64, reason string, w io.Writer) error {
	done, err := db.RetryFailed(ctx, ids, time.Now(), reason)
	if code := bot.ErrorCode(err); code == bot.ENOTFOUND || code == bot.EINVALID {
		return errors.New(bot.ErrorMessage(err) + " (nothing changed)")
	} else if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(w, "no failed jobs")
		return nil
	}
	s := make([]string, len(done))
	for i, id := range done {
		s[i] = strconv.FormatInt(id, 10)
	}
	fmt.Fprintf(w, "%d job(s) put back, due now: %s\n", len(done), strings.Join(s, ", "))
	return nil
}
