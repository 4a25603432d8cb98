package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// BenchmarkServeSMS is the steady workload of make bench inside one
// process, without the network: signed texts H or an unknown command from
// 1,000 subscribed phones through the whole production handler (the
// middleware, the access log, the signature check, the engine, the group
// writer on SQLite with synchronous=FULL, the TwiML), 64 at a time. Besides
// ns/op (wall time, at the mercy of the disk and the neighbours) it reports
// the process's CPU time per text, which is what the changes to this path
// are measured by:
//
//	go test ./cmd/smsbot -run '^$' -bench ServeSMS -count 8 | benchstat -
func BenchmarkServeSMS(b *testing.B) {
	const phones = 1000
	h, public := benchApp(b, phones)
	// Every request up front: the signing is the load generator's work,
	// not the server's.
	reqs := make([]benchRequest, b.N)
	for i := range reqs {
		body := "H"
		if i%2 == 1 {
			body = "what is the temperature"
		}
		form := url.Values{
			"MessageSid": {fmt.Sprintf("SM%032x", i+1)},
			"AccountSid": {e2eSID}, "From": {fmt.Sprintf("+1555%07d", (i*7919)%phones)}, "To": {e2eNumber}, "Body": {body},
			"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
		}
		reqs[i] = benchRequest{body: form.Encode(), sig: webhooks.Signature(e2eToken, public+webhooks.PathSMS, form)}
	}
	var next atomic.Int64
	b.SetParallelism(32) // 64 at a time on 2 cores
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := reqs[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodPost, public+webhooks.PathSMS, strings.NewReader(r.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", r.sig)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<Response>") {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/text")
}

type benchRequest struct{ body, sig string }

// benchApp builds the production server on a SQLite database preloaded
// with n subscribed phones, against the Twilio and Auth0 stand-ins, its
// logs in JSON to a file as in production; it returns the handler and the
// public URL.
func benchApp(b *testing.B, n int) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	dbPath := filepath.Join(dir, "bench.db")
	db, err := store.Open(ctx, dbPath, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	err = db.BulkPhones(ctx, n, func(i int, p *bot.Phone) {
		*p = bot.Phone{Number: fmt.Sprintf("+1555%07d", i), State: bot.StateSubscribed,
			UserID: fmt.Sprintf("auth0|bench%07d", i), Email: fmt.Sprintf("u%07d@bench.example", i),
			BoundAt: now, CreatedAt: now, UpdatedAt: now}
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	tw := twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tw.Close() })
	const public = "http://127.0.0.1:8080"
	a0, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{public + "/auth/callback"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := a0.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a0.Close() })
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, append(tw.CertPEM(), a0.CertPEM()...), 0o600); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"SMSBOT_DB": dbPath, "SMSBOT_PUBLIC_URL": public, "SMSBOT_SECRET": e2eKey, "SMSBOT_CA_FILE": ca,
		"TWILIO_ACCOUNT_SID": e2eSID, "TWILIO_AUTH_TOKEN": e2eToken, "TWILIO_FROM_NUMBER": e2eNumber, "TWILIO_API_URL": tw.URL(),
		"AUTH0_DOMAIN": a0.Domain(), "AUTH0_CLIENT_ID": e2eClient, "AUTH0_CLIENT_SECRET": e2eSecret,
		"SMSBOT_REPLY_BUDGET": "1000000000", "SMSBOT_TEXTS_PER_MINUTE": "1000000000",
	}
	cfg, err := loadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(dir, "log.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logs.Close() })
	a, err := build(ctx, cfg, newLogger(cfg, logs), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	return a.routes(), public
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
