package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Plugin is a set of commands for subscribed phones (a thermostat, ...).
// The conversation core knows nothing of what a plugin controls.
type Plugin interface {
	// Help returns a short line for the help reply, such as
	// "GT = temperatures".
	Help() string
	// Handle answers a subscribed phone's text. It reports handled=false
	// when the text is not one of its commands. An *Error's message is
	// texted to the person; any other error gets a generic answer.
	Handle(ctx context.Context, req Request) (reply string, handled bool, err error)
}

// LocalHelp is a Plugin whose help line comes in the bot's languages;
// the help reply asks HelpIn instead of Help.
type LocalHelp interface {
	HelpIn(l Language) string
}

// Request is a subscribed phone's text for a plugin.
type Request struct {
	Phone  string
	UserID string
	Text   string   // trimmed
	Words  []string // Text split on white space
	// Lang is the language the bot speaks to the phone, one of
	// Languages: the plugin answers in it when it can.
	Lang Language
}

// runPlugins asks each plugin in turn, within PluginTimeout. A plugin that
// is slower keeps going in the background and its answer is texted later.
func (e *Engine) runPlugins(ctx context.Context, req Request) string {
	timeout := e.pluginTimeout()
	type answer struct {
		reply string
		err   error
	}
	done := make(chan answer, 1)
	// The plugin outlives the webhook when it is slow: its context does not
	// end with the request, but has a bound of its own.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+e.pluginGrace())
	go func() {
		defer cancel()
		reply, err := e.command(pctx, req)
		done <- answer{reply, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		return e.pluginReply(ctx, req, a.reply, a.err)
	case <-timer.C:
	}
	if e.Hooks.PluginSlow != nil {
		e.Hooks.PluginSlow()
	}
	go func() {
		// The request is answered by now; its values (the request id)
		// stay with the late answer, its end does not.
		lctx := context.WithoutCancel(ctx)
		a := <-done
		if text := e.pluginReply(lctx, req, a.reply, a.err); text != "" {
			if err := e.SendLater(lctx, req.Phone, text); err != nil {
				e.logger().ErrorContext(lctx, "queue late answer", "phone", MaskPhone(req.Phone), "err", err)
			}
		}
	}()
	reply, err := e.render(req.Lang, ReplyWorking, ReplyData{})
	if err != nil {
		return ""
	}
	return reply
}

func (e *Engine) pluginTimeout() time.Duration {
	if e.PluginTimeout > 0 {
		return e.PluginTimeout
	}
	return 8 * time.Second
}

func (e *Engine) pluginGrace() time.Duration {
	if e.PluginGrace > 0 {
		return e.PluginGrace
	}
	return 50 * time.Second
}

func (e *Engine) pluginReply(ctx context.Context, req Request, reply string, err error) string {
	if err == nil {
		return reply
	}
	e.logger().ErrorContext(ctx, "command failed", "phone", MaskPhone(req.Phone), "err", err)
	var safe *Error
	if errors.As(err, &safe) {
		return safe.Message
	}
	text, rerr := e.render(req.Lang, ReplyFailed, ReplyData{})
	if rerr != nil {
		return ErrorMessage(err)
	}
	return text
}

// SendLater queues a text to a phone that texted us, through the outbox,
// on the channel it used last. It has no WhatsApp template: outside
// WhatsApp's window it is skipped.
func (e *Engine) SendLater(ctx context.Context, phone, body string) error {
	return e.update(ctx, func(t *turn) error {
		p, err := t.tx.Phone(ctx, phone)
		if err != nil {
			return fmt.Errorf("send later: %w", err) // only phones that texted us
		}
		return t.enqueue(ctx, &Job{Kind: JobSMS, To: phone, Body: body, Channel: p.Channel.Or()})
	})
}

// command hands a subscribed phone's text to the plugins.
func (e *Engine) command(ctx context.Context, req Request) (string, error) {
	for _, pl := range e.Plugins {
		reply, ok, err := pl.Handle(ctx, req)
		if err != nil || ok {
			return reply, err
		}
	}
	return e.render(req.Lang, ReplyUnknown, ReplyData{})
}
