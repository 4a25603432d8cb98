package bot_test

import (
	"slices"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// TestConversation_CoversEveryEvent: the conversation table names every
// event of the state machine, and only events it has, so the README's
// table generated from it cannot leave a transition out.
func TestConversation_CoversEveryEvent(t *testing.T) {
	named := map[string]bool{}
	for _, s := range bot.Conversation {
		for _, ev := range s.Events {
			if _, _, ok := bot.EventStates(ev); !ok {
				t.Errorf("step %q names the unknown event %q", s.Does, ev)
			}
			named[ev] = true
		}
		if from, to := s.Columns(); from == "" || to == "" || s.Bot == "" {
			t.Errorf("step %q lacks a column: from %q to %q bot %q", s.Does, from, to, s.Bot)
		}
	}
	for _, ev := range bot.EventNames() {
		if !named[ev] {
			t.Errorf("no step of the conversation table fires %q", ev)
		}
	}
	src, dst, _ := bot.EventStates(bot.EvLink)
	if dst != bot.StateSubscribed || !slices.Equal(src, []string{bot.StateIdle, bot.StateAwaitingLogin, bot.StateAwaitingCode, bot.StateSubscribed}) {
		t.Errorf("link: %v -> %s", src, dst)
	}
}
