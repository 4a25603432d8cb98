package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/smsbot/smsbot/bot"
)

// phoneMasker is the last line of defence for phone numbers in the logs:
// it masks (bot.MaskPhones) every E.164 number and its URL-encoded form in
// the message, the string attributes and the errors and Stringers logged,
// whatever the code that logged them forgot.
type phoneMasker struct{ slog.Handler }

func maskPhones(h slog.Handler) slog.Handler { return phoneMasker{h} }

func (h phoneMasker) Handle(ctx context.Context, r slog.Record) error {
	if clean(r) {
		return h.Handler.Handle(ctx, r)
	}
	return h.Handler.Handle(ctx, maskRecord(r))
}

// maskRecord is r with maskAttr applied to its message and every
// attribute: a new record.
func maskRecord(r slog.Record) slog.Record {
	out := slog.NewRecord(r.Time, r.Level, bot.MaskPhones(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return out
}

// clean reports whether maskRecord would change nothing in r, so that
// r can be handled as it is: most lines (a text's, once its phone is
// masked) carry no number, and building a new record for each costs more
// than the rest of logging it.
func clean(r slog.Record) bool {
	if bot.MaskPhones(r.Message) != r.Message {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = cleanAttr(a)
		return ok
	})
	return ok
}

// cleanAttr reports whether maskAttr leaves a as it is. Errors,
// Stringers and LogValuers always go through maskAttr: it logs their
// text, which may not be what the handler would make of them.
func cleanAttr(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		return bot.MaskPhones(s) == s
	case slog.KindGroup:
		for _, ga := range a.Value.Group() {
			if !cleanAttr(ga) {
				return false
			}
		}
	case slog.KindAny:
		switch a.Value.Any().(type) {
		case error, fmt.Stringer:
			return false
		}
	case slog.KindLogValuer:
		return false
	}
	return true
}

func (h phoneMasker) WithAttrs(attrs []slog.Attr) slog.Handler {
	if !slices.ContainsFunc(attrs, func(a slog.Attr) bool { return !cleanAttr(a) }) {
		return phoneMasker{h.Handler.WithAttrs(attrs)}
	}
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
