package bot_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// textAll sends every inbound at once and fails on any error.
func textAll(t *testing.T, h *harness, ins []bot.Inbound) []bot.Result {
	t.Helper()
	out := make([]bot.Result, len(ins))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, in := range ins {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := h.e.HandleSMS(context.Background(), in)
			if err != nil {
				t.Error(err)
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out
}

func TestEngine_HandleSMS_OnePhoneAtOnce(t *testing.T) {
	h := newHarness(t)
	h.e.Now = nil // real time: the transactions interleave for real
	h.e.Limits.ReplyBudget = 1000
	var ins []bot.Inbound
	for i := 0; i < 100; i++ {
		body := "ping"
		if i%2 == 0 {
			body = "S"
		}
		ins = append(ins, bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", i), From: alice, Body: body})
	}
	results := textAll(t, h, ins)
	links := 0
	for _, r := range results {
		if linkRE.MatchString(r.Reply) {
			links++
		}
	}
	// In any serial order exactly LinksPerHour of the 50 S get a link.
	if links != h.e.Limits.LinksPerHour {
		t.Fatalf("%d links handed out, want %d", links, h.e.Limits.LinksPerHour)
	}
	p := h.phone(alice)
	if p.ReplyCount != 100 || p.State != bot.StateAwaitingLogin {
		t.Fatalf("after 100 texts: %d replies counted, state %s: an update was lost", p.ReplyCount, p.State)
	}
	var n int
	h.db.View(context.Background(), func(tx bot.Tx) error {
		n, _ = tx.CountLinks(context.Background(), alice, time.Time{})
		l, err := tx.Link(context.Background(), p.LinkHash)
		if err != nil || l.Phone != alice {
			t.Errorf("the phone's link is not among its links: %v", err)
		}
		return nil
	})
	if n != links {
		t.Fatalf("%d links stored, %d handed out", n, links)
	}
}

func TestEngine_HandleSMS_ManyPhonesAtOnce(t *testing.T) {
	h := newHarness(t)
	h.e.Now = nil
	var ins []bot.Inbound
	for i := 0; i < 1000; i++ {
		ins = append(ins, bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", i), From: fmt.Sprintf("+1555590%04d", i), Body: "S"})
	}
	results := textAll(t, h, ins)
	for i, r := range results {
		m := linkRE.FindStringSubmatch(r.Reply)
		if m == nil {
			t.Fatalf("%s got no link: %q", ins[i].From, r.Reply)
		}
		info, err := h.e.OpenLink(context.Background(), m[1])
		if err != nil || info.Phone != ins[i].From {
			t.Fatalf("%s's link: %+v %v", ins[i].From, info, err)
		}
	}
}
