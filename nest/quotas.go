package nest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Limits keep a person within SDM's per-user quotas (about 10 commands,
// 10 device reads and 5 device lists a minute) and say how long answers are
// reused.
type Limits struct {
	// A person may make Commands (Gets, Lists) calls at once, then one
	// more each Window (a token bucket of that burst): never more than
	// that many in any Window, as Google's quota asks, however the calls
	// are spread.
	Commands, Gets, Lists int
	Window                time.Duration
	// Fresh is how long a device list or a device read is reused instead
	// of asking Google again. A command makes its device stale.
	Fresh time.Duration
	// Names is how long a device list is trusted to resolve names.
	Names time.Duration
}

// DefaultLimits returns SDM's documented per-user limits.
func DefaultLimits() Limits {
	return Limits{Commands: 10, Gets: 10, Lists: 5, Window: time.Minute, Fresh: 30 * time.Second, Names: 10 * time.Minute}
}

func (p *Plugin) limits() Limits {
	l, d := p.Limits, DefaultLimits()
	if l.Commands <= 0 {
		l.Commands = d.Commands
	}
	if l.Gets <= 0 {
		l.Gets = d.Gets
	}
	if l.Lists <= 0 {
		l.Lists = d.Lists
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.Fresh <= 0 {
		l.Fresh = d.Fresh
	}
	if l.Names <= 0 {
		l.Names = d.Names
	}
	return l
}

// call kinds, each with its own limit.
const (
	callCommand = iota
	callGet
	callList
)

// limiter is the Plugin's Limiter, or its buckets in memory.
func (p *Plugin) limiter() bot.Limiter {
	if p.Limiter != nil {
		return p.Limiter
	}
	return &p.buckets
}

// call runs fn with an access token, within the person's limit for kind,
// refreshing the token once when Google refuses it. The call counts from
// the moment it is allowed, before the token is read, so a person over
// the limit costs no token lookup.
func (s *session) call(ctx context.Context, kind int, fn func(token string) error) error {
	if err := s.allow(ctx, kind); err != nil {
		return err
	}
	if s.token == "" {
		t, err := s.p.Auth.Token(ctx, s.userID)
		if err != nil {
			return s.authError(err)
		}
		s.token = t
	}
	err := fn(s.token)
	if e := asAPIError(err); e != nil && e.HTTPStatus == 401 {
		t, rerr := s.p.Auth.Refresh(ctx, s.userID)
		if rerr != nil {
			return s.authError(rerr)
		}
		s.token = t
		err = fn(s.token)
	}
	if e := asAPIError(err); e != nil {
		switch {
		case e.HTTPStatus == 401 || e.HTTPStatus == 403:
			s.p.Auth.Forget(s.userID)
			return s.refuse(bot.EEXPIRED, mLinkExpired)
		case e.HTTPStatus == 429 || e.Status == "RESOURCE_EXHAUSTED":
			return s.refuse(bot.ELIMIT, mBusy)
		}
	}
	return err
}

func (s *session) authError(err error) error {
	switch {
	case errors.Is(err, ErrLinkExpired):
		return s.refuse(bot.EEXPIRED, mLinkExpired)
	case noGoogle(err):
		return s.refuse(bot.ENOTFOUND, mNoGoogle)
	}
	return err
}

// allow spends one call of kind from the person's limit: the bucket
// "sdm:<user>:<kind>" of the Plugin's Limiter. A limit that cannot be
// checked (the database is away) refuses the call: Google is never asked
// beyond it.
func (s *session) allow(ctx context.Context, kind int) error {
	max, what, name := s.lim.Commands, mQuotaChanges, "command"
	switch kind {
	case callGet:
		max, what, name = s.lim.Gets, mQuotaReads, "get"
	case callList:
		max, what, name = s.lim.Lists, mQuotaLists, "list"
	}
	r := bot.Rate{Every: s.lim.Window, Burst: max}
	wait, err := s.p.limiter().Take(ctx, "sdm:"+s.userID+":"+name, r, s.p.now())
	if err != nil {
		return fmt.Errorf("thermostat limit: %w", err)
	}
	if wait == 0 {
		return nil
	}
	return s.refuse(bot.ELIMIT, what, max, max1(int(math.Ceil(wait.Seconds()))))
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// apiError turns what Google answered into a safe answer. name is the
// thermostat concerned, if any.
func (s *session) apiError(ctx context.Context, err error, name string) error {
	e := asAPIError(err)
	if e == nil {
		return err
	}
	s.p.logger().WarnContext(ctx, "sdm error", "status", e.HTTPStatus, "rpc", e.Status)
	named := name != ""
	if !named {
		name = s.say(mTheThermo)
	}
	offline := strings.Contains(strings.ToLower(e.Message), "offline")
	switch {
	case offline || e.Status == "UNAVAILABLE" && named:
		s.stale()
		return s.refuse(bot.EINVALID, mOffline, name)
	case e.Status == "FAILED_PRECONDITION":
		s.stale()
		return s.refuse(bot.EINVALID, mWrongMode, name, strings.ToLower(name))
	case e.Status == "NOT_FOUND" || e.HTTPStatus == 404:
		s.u.devices = nil
		return s.refuse(bot.ENOTFOUND, mGone, name)
	case e.Status == "INVALID_ARGUMENT" || e.HTTPStatus == 400:
		s.stale()
		return s.refuse(bot.EINVALID, mRefused, name)
	}
	return s.refuse(bot.EINTERNAL, mFailed)
}
