package bot_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// wrongCode returns a code that is not code.
func wrongCode(code string, k int) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+k)%1000000)
}

func (h *harness) wrongCodes(user string) int {
	h.t.Helper()
	var n int
	err := h.db.View(context.Background(), func(tx bot.Tx) error {
		var err error
		n, err = tx.CountWrongCodes(context.Background(), user, h.now.Add(-bot.CodeAttemptWindow))
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestEngine_HandleSMS_CodeCapPerAccount(t *testing.T) {
	h := newHarness(t)
	const carol, dave = "+15555550103", "+15555550104"

	// Five wrong codes from one phone end its login, as before.
	code := h.login(h.subscribeStart(alice), acctY)
	for k := 1; k <= 5; k++ {
		h.text(alice, wrongCode(code.Code, k))
	}
	// Four more from a second phone, then the tenth for the account ends
	// that login too, with the account's reply.
	code = h.login(h.subscribeStart(bob), acctY)
	for k := 1; k <= 4; k++ {
		if res := h.text(bob, wrongCode(code.Code, k)); !strings.Contains(res.Reply, "wrong code") {
			t.Fatalf("guess %d: %q", k, res.Reply)
		}
	}
	res := h.text(bob, wrongCode(code.Code, 5))
	if !strings.Contains(res.Reply, "too many wrong codes for this account") || res.State != bot.StateIdle {
		t.Fatalf("tenth wrong code: %+v", res)
	}
	// A third phone: even the right code is not checked now.
	code = h.login(h.subscribeStart(carol), acctY)
	res = h.text(carol, code.Code)
	if !strings.Contains(res.Reply, "too many wrong codes for this account") || res.State != bot.StateIdle || h.phone(carol).Bound() {
		t.Fatalf("right code over the cap: %+v", res)
	}
	if n := h.wrongCodes(acctY.ID); n != 10 {
		t.Fatalf("wrong codes counted %d, want 10", n)
	}
	// Another account is not affected.
	h.subscribe(dave, acctX)

	// A bound phone that re-links goes back to subscribed, not idle.
	h.advance(time.Hour)
	code = h.login(h.subscribeStart(dave), acctY)
	if res := h.text(dave, code.Code); res.State != bot.StateSubscribed || h.phone(dave).UserID != acctX.ID {
		t.Fatalf("re-link over the cap: %+v", res)
	}

	// A day later the account may try again.
	h.advance(bot.CodeAttemptWindow)
	h.subscribe(carol, acctY)
}

func TestEngine_HandleSMS_CodeCapPerAccount_Parallel(t *testing.T) {
	h := newHarness(t)
	const phones, guesses = 4, 4 // 16 wrong codes at once; none hits the per-login 5
	var numbers, codes []string
	for i := range phones {
		n := fmt.Sprintf("+1555555020%d", i)
		numbers = append(numbers, n)
		codes = append(codes, h.login(h.subscribeStart(n), acctY).Code)
	}
	var wg sync.WaitGroup
	replies := make(chan string, phones*guesses)
	for i := range phones {
		for k := 1; k <= guesses; k++ {
			wg.Go(func() {
				res, err := h.e.HandleSMS(context.Background(), bot.Inbound{
					MessageSID: fmt.Sprintf("SMcafe%026d%d%d", 0, i, k), From: numbers[i], Body: wrongCode(codes[i], k),
				})
				if err != nil {
					t.Error(err)
				}
				replies <- res.Reply
			})
		}
	}
	wg.Wait()
	close(replies)
	var wrong, capped int
	for r := range replies {
		switch {
		case strings.Contains(r, "tries left") || strings.Contains(r, "try left"):
			wrong++
		case strings.Contains(r, "for this account"):
			capped++
		}
	}
	if n := h.wrongCodes(acctY.ID); n != 10 || wrong != 9 || capped < 1 {
		t.Fatalf("counted %d wrong codes (want 10); replies: %d wrong, %d over the cap", n, wrong, capped)
	}
}
