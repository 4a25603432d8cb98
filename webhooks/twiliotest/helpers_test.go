package twiliotest_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testToken   = "f00dfeedf00dfeedf00dfeedf00dfeed"
	testService = "MG0123456789abcdef0123456789abcdef"
	botNumber   = "+15555550100"
	otherNumber = "+15555550101"
	alice       = "+15555550123"
	bob         = "+15555550124"
)

// clock is a settable time source for the stand-in.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs a stand-in with the test account, after letting edit adjust
// the options, and closes it when the test ends.
func start(t *testing.T, edit func(*twiliotest.Options)) *twiliotest.Server {
	t.Helper()
	o := twiliotest.Options{
		AccountSID:           testAccount,
		AuthToken:            testToken,
		Numbers:              []string{botNumber, otherNumber},
		MessagingServiceSIDs: []string{testService},
	}
	if edit != nil {
		edit(&o)
	}
	s := twiliotest.New(o)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// rest returns the real twilio-go client pointed at s with the given
// credentials: a client.Client whose HTTPClient rewrites api.twilio.com
// to the stand-in and trusts its certificate.
func rest(t *testing.T, s *twiliotest.Server, account, token string) *twilio.RestClient {
	t.Helper()
	hc := s.Client()
	if hc == nil {
		t.Fatal("Client returned nil after Start")
	}
	c := &client.Client{Credentials: client.NewCredentials(account, token), HTTPClient: hc}
	c.SetAccountSid(account)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

// send creates a message from botNumber.
func send(rc *twilio.RestClient, to, body string) (*openapi.ApiV2010Message, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetFrom(botNumber)
	p.SetBody(body)
	return rc.Api.CreateMessage(p)
}

// restError returns err as a Twilio REST error, failing the test if it is
// not one.
func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *client.TwilioRestError", err, err)
	}
	return re
}

// str dereferences a nullable string field of a twilio-go model.
func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// receive waits for one value from ch, failing the test after a deadline.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting")
	}
	panic("unreachable")
}
