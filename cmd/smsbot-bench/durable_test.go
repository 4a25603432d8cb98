package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/webhooks"
)

// TestDurable checks the minimal durable bot on SQLite and on PostgreSQL
// does what the bench says it does: a text with a wrong or no signature
// is refused and not stored; a signed one is answered 200 with the fixed
// TwiML and is in the table; a MessageSid sent twice is one row; texts
// sent at once are all stored.
func TestDurable(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "durable.db")
			if db == "postgres" {
				dsn = postgrestest.SchemaURL(t)
			}
			st, err := openDurable(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			texts := make(chan *durableText)
			stop := make(chan struct{})
			wrote := make(chan struct{})
			go func() {
				durableWriter(st, texts, stop)
				close(wrote)
			}()
			defer func() {
				close(stop)
				<-wrote
			}()
			srv := httptest.NewUnstartedServer(nil)
			srv.Start()
			defer srv.Close()
			h, err := durableHandler(srv.URL, benchToken, texts, stop)
			if err != nil {
				t.Fatal(err)
			}
			srv.Config.Handler = h

			post := func(sid, sig string) (int, string) {
				t.Helper()
				form := url.Values{"MessageSid": {sid}, "From": {"+15550000001"}, "To": {benchNumber}, "Body": {"H"}}
				if sig == "sign" {
					sig = webhooks.Signature(benchToken, srv.URL+"/webhooks/twilio/sms", form)
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/twilio/sms", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if sig != "" {
					req.Header.Set("X-Twilio-Signature", sig)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(b)
			}
			count := func() int64 {
				t.Helper()
				n, err := st.count(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return n
			}

			if code, _ := post("SM00000000000000000000000000000001", ""); code != http.StatusForbidden {
				t.Errorf("no signature: status %d, want 403", code)
			}
			if code, _ := post("SM00000000000000000000000000000001", "bm90IGEgc2lnbmF0dXJl"); code != http.StatusForbidden {
				t.Errorf("wrong signature: status %d, want 403", code)
			}
			if n := count(); n != 0 {
				t.Fatalf("%d rows after refused texts", n)
			}
			for range 2 {
				code, body := post("SM00000000000000000000000000000001", "sign")
				if code != http.StatusOK || !strings.Contains(body, "<Response><Message>smsbot: you&apos;re subscribed.") {
					t.Fatalf("signed text: %d %q", code, body)
				}
			}
			if n := count(); n != 1 {
				t.Fatalf("one MessageSid sent twice: %d rows", n)
			}
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					if code, body := post(fmt.Sprintf("SM1%031x", i), "sign"); code != http.StatusOK {
						t.Errorf("text %d: %d %q", i, code, body)
					}
				})
			}
			wg.Wait()
			if n := count(); n != 41 {
				t.Fatalf("%d rows after 41 MessageSids", n)
			}
		})
	}
}
