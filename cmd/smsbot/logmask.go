package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/smsbot/smsbot/bot"
)

// phoneMasker is the last line of defence for phone numbers in the logs:
// it masks (bot.MaskPhones) every E.164 number and its URL-encoded form in
// the message, the string attributes and the errors and Stringers logged,
// whatever the code that logged them forgot.
type phoneMasker struct{ slog.Handler }

func maskPhones(h slog.Handler) slog.Handler { return phoneMasker{h} }

func (h phoneMasker) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, bot.MaskPhones(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h phoneMasker) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return phoneMasker{h.Handler.WithAttrs(masked)}
}

func (h phoneMasker) WithGroup(name string) slog.Handler {
	return phoneMasker{h.Handler.WithGroup(name)}
}

// maskAttr masks the phone numbers in a's value.
func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, bot.MaskPhones(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]any, len(g))
		for i, ga := range g {
			masked[i] = maskAttr(ga)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, bot.MaskPhones(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, bot.MaskPhones(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
