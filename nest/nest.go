// Package nest controls Nest thermostats through Google's Smart Device
// Management (SDM) API: a REST client, the Google access tokens of a person
// (read from the identity provider, refreshed at Google's token endpoint)
// and the GT, ST and MODE commands as a bot.Plugin.
package nest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
)

var _ bot.Plugin = (*Plugin)(nil)

// Plugin is the thermostat command set: GT, ST and MODE.
type Plugin struct {
	Client  *Client
	Auth    *Auth
	Project string // the Device Access project id
	Limits  Limits
	// Limiter keeps the per-user limits; nil keeps them in this
	// process's memory. With several instances, the database's keeps a
	// person within Google's quotas whichever instance answers.
	Limiter bot.Limiter
	Now     func() time.Time
	Logger  *slog.Logger

	mu      sync.Mutex
	users   map[string]*user
	buckets bot.Buckets // the limits when Limiter is nil
}

// Help implements bot.Plugin: the help line in English (HelpIn gives the
// others).
func (p *Plugin) Help() string {
	return text(bot.English, mHelp)
}

func (p *Plugin) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Plugin) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Handle implements bot.Plugin: GT [room], ST room temp, MODE room mode.
func (p *Plugin) Handle(ctx context.Context, req bot.Request) (string, bool, error) {
	if len(req.Words) == 0 {
		return "", false, nil
	}
	verb := strings.ToUpper(req.Words[0])
	if verb != "GT" && verb != "ST" && verb != "MODE" {
		return "", false, nil
	}
	if req.UserID == "" {
		return "", true, bot.Errorf(bot.EINVALID, "%s", text(req.Lang, mLinkFirst))
	}
	u := p.user(req.UserID)
	u.mu.Lock()
	defer u.mu.Unlock()
	s := &session{p: p, u: u, userID: req.UserID, lim: p.limits(), lang: req.Lang}
	args := req.Words[1:]
	var reply string
	var err error
	switch verb {
	case "GT":
		reply, err = s.get(ctx, strings.Join(args, " "))
	case "ST":
		reply, err = s.set(ctx, args)
	case "MODE":
		reply, err = s.mode(ctx, args)
	}
	return reply, true, err
}

// session is one command of one person, under the person's lock.
type session struct {
	p      *Plugin
	u      *user
	userID string
	lim    Limits
	token  string
	lang   bot.Language // the answers' language
}

// say is the answer key in the person's language.
func (s *session) say(key string, args ...any) string { return text(s.lang, key, args...) }

// refuse is the answer key as a safe error with code.
func (s *session) refuse(code, key string, args ...any) error {
	return &bot.Error{Code: code, Message: s.say(key, args...)}
}
