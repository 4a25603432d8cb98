package reqlog

import (
	"context"
	"log/slog"
	"testing"
)

func TestLine(t *testing.T) {
	if FromContext(context.Background()) != nil {
		t.Fatal("a line in a bare context")
	}
	l := new(Line)
	if FromContext(NewContext(context.Background(), l)) != l {
		t.Fatal("the line put in the context is not the one found")
	}
	if _, raised := l.Level(); raised {
		t.Error("a new line is raised")
	}
	for i := range 10 { // past the inline room
		l.Add(slog.Int("n", i))
	}
	if got := l.Attrs(); len(got) != 10 || got[9].Value.Int64() != 9 {
		t.Errorf("attrs %v", got)
	}
	l.Raise(slog.LevelError)
	l.Raise(slog.LevelWarn) // never lowers it
	if level, raised := l.Level(); !raised || level != slog.LevelError {
		t.Errorf("level %v, raised %v; want ERROR", level, raised)
	}
}
