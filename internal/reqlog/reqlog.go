// Package reqlog lets a handler add what it knows to the access log's
// line for its request, so that a request is one log line, not one line
// from the access log and another from the handler.
package reqlog

import (
	"context"
	"log/slog"
)

// Line is the access log's line for one request while it is served: the
// attributes handlers add, and the level they raise it to. The access log
// makes one, puts it in the request's context (NewContext) and logs it
// once the request is answered. A Line belongs to the goroutine serving
// the request; it is not safe for concurrent use.
type Line struct {
	attrs  []slog.Attr
	level  slog.Level
	raised bool         // whether Raise was called
	buf    [8]slog.Attr // room for a webhook's attributes without a second allocation
}

type key struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Line) context.Context {
	return context.WithValue(ctx, key{}, l)
}

// FromContext returns the Line of the request ctx belongs to, or nil
// when no access log will log one (a test, another embedding): the
// caller then logs its own line.
func FromContext(ctx context.Context) *Line {
	l, _ := ctx.Value(key{}).(*Line)
	return l
}

// Add adds attrs to the line.
func (l *Line) Add(attrs ...slog.Attr) {
	if l.attrs == nil {
		l.attrs = l.buf[:0]
	}
	l.attrs = append(l.attrs, attrs...)
}

// Raise asks for the line to be logged at level at least: a handler
// that failed makes its request's line an error.
func (l *Line) Raise(level slog.Level) {
	if !l.raised || level > l.level {
		l.level, l.raised = level, true
	}
}

// Attrs are the attributes added so far.
func (l *Line) Attrs() []slog.Attr { return l.attrs }

// Level is the highest level Raise was given, and whether it was called.
func (l *Line) Level() (slog.Level, bool) { return l.level, l.raised }
