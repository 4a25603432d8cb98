package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
)

// The web-first page polls its status every 2 s (30 a minute); a client
// address gets twice that, for a second tab, with room for a burst.
const (
	webPollPerMinute = 60
	webPollBurst     = 30
)

// webNumber is the number people text, which the web-first page shows:
// SMSBOT_TEXT_NUMBER, else TWILIO_FROM_NUMBER. It is "" with a Messaging
// Service and no SMSBOT_TEXT_NUMBER: then /link is not offered.
func (c *config) webNumber() string {
	if c.TextNumber != "" {
		return c.TextNumber
	}
	return c.TwilioFrom
}

// setupWebLink wires the web-first path: help texts name the page when it
// is offered, and the page's status polls get a per-address limit of their
// own. It warns when the idle help of a language no longer fits one SMS
// segment with the real public URL.
func (a *app) setupWebLink(replies *bot.Replies) {
	if a.cfg.webNumber() != "" {
		a.engine.WebLinkURL = a.cfg.PublicURL + magiclink.PathWebLink
	} else {
		a.log.Warn("the web-first page /link is off: set SMSBOT_TEXT_NUMBER to the number people text (one of the Messaging Service's numbers)")
	}
	// The status polls' limit stays in this process's memory on both
	// backends: a poll only reads, sends nothing and binds nothing, so N
	// instances allowing N times the polls costs N cheap reads, not safety.
	a.webPoll = magiclink.NewIPLimiter(webPollPerMinute, webPollBurst)
	a.webPoll.Header = a.cfg.ClientIPHeader
	a.webPoll.Hit = a.metrics.webLimitHit
	for _, l := range bot.Languages {
		help, err := replies.RenderIn(l, bot.ReplyHelpIdle, bot.ReplyData{Name: a.cfg.Name, WebURL: a.engine.WebLinkURL})
		if err == nil && bot.Segments(help) > 1 {
			a.log.Warn("the idle help reply takes more than one SMS segment with this public URL; a shorter SMSBOT_NAME, host or help_idle template fits one", "lang", l.Code, "segments", bot.Segments(help))
		}
	}
}

// mountWebLink serves the web-first page: /link and its new code within
// the per-address web limit, the new code also refusing cross-site posts,
// and the status polls within their own limit.
func (a *app) mountWebLink(r chi.Router) {
	cop := http.NewCrossOriginProtection()
	r.With(a.webLimit.Middleware).Get(magiclink.PathWebLink, a.links.HandleWebLink)
	r.With(a.webLimit.Middleware).Post(magiclink.PathWebLinkNew, cop.Handler(http.HandlerFunc(a.links.HandleWebLinkNew)).ServeHTTP)
	r.With(a.webPoll.Middleware).Get(magiclink.PathWebLinkStatus, a.links.HandleWebLinkStatus)
}
