package twiliotest

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults injects failures into POST .../Messages.json, each attempt
// drawing one kind (or none) with the given probabilities, in this order.
// Rates add up to at most 1; whatever exceeds 1 never fires. RateQueued is
// drawn apart, for each message accepted. The draws are deterministic: the
// same Seed and the same sequence of requests give the same faults.
type Faults struct {
	Rate429        float64 // answer 429 with Twilio error 20429 (JSON body)
	Rate500        float64 // answer 500 with a plain, non-JSON body
	RateHang       float64 // hold the request for Hang, then drop the connection
	RateDropBefore float64 // drop the connection without accepting the message
	RateDropAfter  float64 // accept and store the message, then drop the connection
	// RateLateAnswer accepts and stores the message, so that the Messages
	// list shows it at once, and answers only after a delay drawn up to
	// Hang: before or after the client gives up, which it then learns by
	// a dropped connection. With Hang 0 it never answers.
	RateLateAnswer float64
	// RateQueued keeps an accepted message queued: its date_sent stays
	// null, it never moves on (even with DeliverStatus), and no DateSent
	// filter of the Messages list returns it. Twilio documents those
	// filters on the sent date only, which such a message does not have.
	RateQueued float64
	Seed       int64
	// Hang is how long a hanging request is held (a late answer: at most);
	// 0 means until the client gives up or the Server closes.
	Hang time.Duration
}

// faultKind is the outcome of one draw.
type faultKind int

const (
	faultNone faultKind = iota
	fault429
	fault500
	faultHang
	faultDropBefore
	faultDropAfter
	faultLateAnswer
)

// newFaultRand returns a deterministic source of fault draws for seed.
func newFaultRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// SetFaults replaces the fault configuration and restarts the draws from
// f.Seed. The zero Faults turns injection off.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = newFaultRand(f.Seed)
}

// drawFault picks the fault for one create request.
func (s *Server) drawFault() (faultKind, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	if f.Rate429+f.Rate500+f.RateHang+f.RateDropBefore+f.RateDropAfter+f.RateLateAnswer <= 0 {
		return faultNone, 0
	}
	u := s.rng.Float64()
	for _, c := range []struct {
		rate float64
		kind faultKind
	}{
		{f.Rate429, fault429},
		{f.Rate500, fault500},
		{f.RateHang, faultHang},
		{f.RateDropBefore, faultDropBefore},
		{f.RateDropAfter, faultDropAfter},
		{f.RateLateAnswer, faultLateAnswer},
	} {
		if u < c.rate {
			if c.kind == faultLateAnswer && f.Hang > 0 {
				return c.kind, 1 + time.Duration(s.rng.Int64N(int64(f.Hang)))
			}
			return c.kind, f.Hang
		}
		u -= c.rate
	}
	return faultNone, 0
}

// drawQueued decides whether a message being accepted stays queued. The
// caller holds s.mu.
func (s *Server) drawQueued() bool {
	return s.faults.RateQueued > 0 && s.rng.Float64() < s.faults.RateQueued
}

// hang holds a request for d (0: forever) or until the client goes away or
// the Server closes.
func (s *Server) hang(r *http.Request, d time.Duration) {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
}

// dropConnection closes the client's connection without an HTTP response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	// HTTP/2 or a recorder: abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}
