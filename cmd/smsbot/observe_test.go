package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/webhooks"
)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metricValue returns the value of the sample whose line starts with
// series, or -1.
func metricValue(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

func TestE2E_MetricsAndLogs(t *testing.T) {
	e := startE2E(t, nil)
	if status, body := get(t, e.base+"/readyz"); status != 200 || body != "ready\n" {
		t.Fatalf("readyz: %d %q", status, body)
	}
	const phone = "+15555550201"
	e.subscribe(phone, "metrics@example.com")
	e.waitFor("the Auth0 update", func() bool { return e.appPhone("metrics@example.com") == phone })
	f := e.form(phone, "H")
	if status, _ := e.post(f, "bad-signature"); status != 403 {
		t.Fatalf("bad signature: %d", status)
	}
	for range 2 { // links two and three of the hour
		e.text(phone, "S")
	}
	// The fourth link in an hour is refused.
	if r := e.text(phone, "S"); !strings.Contains(r, "too many") {
		t.Fatalf("link limit: %q", r)
	}
	e.twilio.OptOut("+15555550202")
	e.text("+15555550202", "S") // the link goes back as TwiML; nothing is sent by the outbox yet

	var body string
	e.waitFor("the code prompt and the Auth0 update in the metrics", func() bool {
		var status int
		status, body = get(t, e.base+"/metrics")
		return status == 200 &&
			metricValue(body, `smsbot_outbound_texts_total{error_code="0",result="sent"}`) == 1 &&
			metricValue(body, `smsbot_auth0_syncs_total{result="sent",status="0"}`) == 1
	})
	for series, want := range map[string]float64{
		`smsbot_inbound_messages_total{command="subscribe",state="awaiting_login"}`: 5,
		`smsbot_inbound_messages_total{command="code",state="subscribed"}`:          1,
		`smsbot_transitions_total{from="idle",to="awaiting_login"}`:                 2,
		`smsbot_transitions_total{from="awaiting_login",to="awaiting_code"}`:        1,
		`smsbot_transitions_total{from="awaiting_code",to="subscribed"}`:            1,
		`smsbot_replies_total{result="replied"}`:                                    6,
		`smsbot_webhook_signature_failures_total{hook="sms"}`:                       1,
		`smsbot_limits_hit_total{limit="links"}`:                                    1,
		`smsbot_outbound_texts_total{error_code="0",result="sent"}`:                 1,
		`smsbot_auth0_syncs_total{result="sent",status="0"}`:                        1,
		`smsbot_webhook_duration_seconds_count{hook="sms",outcome="ok"}`:            6,
		`smsbot_webhook_duration_seconds_count{hook="sms",outcome="rejected"}`:      1,
		`smsbot_outbox_stats_up`:                                                    1,
		`smsbot_outbox_depth`:                                                       0,
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, series := range []string{
		`smsbot_auth0_request_duration_seconds_count{endpoint="jwks"}`,
		`smsbot_auth0_request_duration_seconds_count{endpoint="token"}`,
		`smsbot_auth0_request_duration_seconds_count{endpoint="users"}`,
		`smsbot_login_events_total{`,
		`smsbot_outbox_oldest_age_seconds`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	if strings.Contains(body, "5555550201") || strings.Contains(body, "metrics@example.com") {
		t.Error("metrics carry a phone number or an email")
	}

	// A failed text is counted with its Twilio error code.
	if err := e.sendLater("+15555550202"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the opted-out text to fail", func() bool {
		_, body := get(t, e.base+"/metrics")
		return metricValue(body, `smsbot_outbound_texts_total{error_code="21610",result="failed"}`) == 1
	})

	// Logs: JSON in production, with the request id and the MessageSid,
	// the route pattern and never the link's token. A text is one line:
	// the access log's, with what became of the text on it.
	var sawText, sawRequest, sawLink bool
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		switch rec["msg"] {
		case "inbound sms":
			t.Errorf("a text logged on a line of its own besides the request's: %s", sc.Text())
		case "http request":
			sawRequest = true
			if rec["request_id"] == nil || rec["route"] == nil || rec["status"] == nil {
				t.Errorf("request log: %s", sc.Text())
			}
			if rec["route"] == webhooks.PathSMS && rec["message_sid"] == nil {
				t.Errorf("webhook request log without MessageSid: %s", sc.Text())
			}
			if rec["route"] == webhooks.PathSMS && rec["status"] == float64(200) {
				sawText = true
				if rec["phone"] == nil || rec["state"] == nil || rec["replied"] == nil || strings.Contains(fmt.Sprint(rec["phone"]), "5555550201") {
					t.Errorf("text log: %s", sc.Text())
				}
			}
			if rec["route"] == magiclink.PathLink {
				sawLink = true
			}
		}
		if strings.Contains(sc.Text(), "/l/") && !strings.Contains(sc.Text(), "/l/{token}") {
			t.Errorf("a log line carries a link: %s", sc.Text())
		}
	}
	if !sawText || !sawRequest || !sawLink {
		t.Errorf("logs lack text (%v), request (%v) or link (%v) lines", sawText, sawRequest, sawLink)
	}
}

// sendLater queues a text through the running program's database the way
// a plugin's late answer does: an outbox row.
func (e *e2e) sendLater(phone string) error {
	_, err := e.db.Exec(`INSERT INTO outbox (kind, phone, body, created_at, next_at) VALUES ('sms', ?, 'late answer', ?, ?)`,
		phone, time.Now().UnixMilli(), time.Now().UnixMilli())
	return err
}

// TestRun_ShutdownFinishesInFlight cancels the program's context (what
// SIGTERM does) while a webhook request is half sent: the request still
// gets its answer, and run returns, its worker stopped, within a bound.
func TestRun_ShutdownFinishesInFlight(t *testing.T) {
	s := startStoppable(t)
	conn, rest := s.halfRequest(t)
	s.stop()
	// Shutting down: new connections are refused.
	waitFor(t, "new connections to be refused", func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-s.done:
		t.Fatalf("run returned before the in-flight request finished: %v", err)
	default:
	}
	io.WriteString(conn, rest)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(reply), "/l/") {
		t.Fatalf("in-flight request: %d %s", res.StatusCode, reply)
	}
	if err := s.wait(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped log:\n%s", s.logs)
	}
}

// TestE2E_RequestIDOnEveryLine drives whole flows, in production (JSON
// logs) and in dev mode (text logs, with the thermostat commands), and
// checks every line logged for a request: a line of the parts that serve
// requests (components bot, webhooks, magiclink, nest) and every access-log
// line must carry a request id, and that id must be one whose access-log
// line comes at or after it, that is, the line was logged while its
// request ran.
func TestE2E_RequestIDOnEveryLine(t *testing.T) {
	t.Run("production", func(t *testing.T) {
		e := startE2E(t, nil)
		const phone = "+15555550231"
		e.subscribe(phone, "ids@example.com") // bot, webhooks and magiclink lines
		f := e.form(phone, "H")
		if status, _ := e.post(f, "bad-signature"); status != 403 {
			t.Fatalf("bad signature: %d", status)
		}
		for range 3 {
			e.text(phone, "S")
		} // the third is refused: "link limit"
		e.text(phone, "U")
		checkRequestIDs(t, e.logs.String(), parseJSONLine, []string{"phone bound", "link limit", "webhook signature check failed", "login confirmed, code shown"})
	})
	t.Run("dev", func(t *testing.T) {
		e := startDevE2E(t)
		const phone = "+15555556031"
		e.subscribeDev(phone, "ids-nest@example.com")
		if got := e.text(phone, "ST den 21"); got != "Den: heat set to 21C" {
			t.Fatalf("ST: %q", got)
		}
		checkRequestIDs(t, e.logs.String(), parseTextLine, []string{"phone bound", "thermostat command"})
	})
}

// requestComponents are the parts that log only while serving a request.
var requestComponents = map[string]bool{"bot": true, "webhooks": true, "magiclink": true, "nest": true}

// checkRequestIDs applies TestE2E_RequestIDOnEveryLine's rule to logs and
// checks that each of the messages in want was logged at least once.
func checkRequestIDs(t *testing.T, logs string, parse func(string) (map[string]string, error), want []string) {
	t.Helper()
	var recs []map[string]string
	answered := map[string]int{} // request id: index of its access-log line
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		rec, err := parse(line)
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "http request" && rec["request_id"] != "" {
			answered[rec["request_id"]] = len(recs)
		}
		recs = append(recs, rec)
	}
	seen := map[string]bool{}
	for i, rec := range recs {
		if !requestComponents[rec["component"]] && rec["msg"] != "http request" {
			continue
		}
		seen[rec["msg"]] = true
		id := rec["request_id"]
		end, ok := answered[id]
		switch {
		case id == "":
			t.Errorf("a request's line without request_id: %v", rec)
		case !ok || end < i:
			t.Errorf("a line with request id %q logged outside its request: %v", id, rec)
		}
	}
	for _, msg := range want {
		if !seen[msg] {
			t.Errorf("the flow logged no %q line", msg)
		}
	}
}

func parseJSONLine(line string) (map[string]string, error) {
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rec))
	for k, v := range rec {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

// textAttr is one key=value of slog's text format; quoted values are Go
// strings.
var textAttr = regexp.MustCompile(`([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)`)

func parseTextLine(line string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range textAttr.FindAllStringSubmatch(line, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			var err error
			if v, err = strconv.Unquote(v); err != nil {
				return nil, fmt.Errorf("attr %s: %w", m[1], err)
			}
		}
		out[m[1]] = v
	}
	if out["msg"] == "" {
		return nil, fmt.Errorf("no msg")
	}
	return out, nil
}

// textConversation answers every text with reply, or fails with err.
type textConversation struct {
	reply string
	err   error
}

func (c textConversation) HandleSMS(ctx context.Context, in bot.Inbound) (bot.Result, error) {
	return bot.Result{Reply: c.reply, State: bot.StateSubscribed}, c.err
}

func (c textConversation) NumberLost(ctx context.Context, phone, ref string, code int) error {
	return nil
}

// TestAccessLog_OneLinePerText sends a text through the production
// middleware and logger to the SMS webhook: it makes exactly one log
// line, the access log's, carrying the request (route, status, time
// taken, request id) and the text (MessageSid, masked phone, channel,
// state, replied), the number masked everywhere in it; a text that fails
// is one line too, at error level with the error.
func TestAccessLog_OneLinePerText(t *testing.T) {
	const (
		token  = "testtoken0000000000000000000000000"
		public = "https://bot.example.com"
		phone  = "+15555550177"
		sid    = "SM0123456789abcdef0123456789abcdef"
	)
	for _, tc := range []struct {
		name   string
		conv   textConversation
		status int
		level  string
	}{
		{"Answered", textConversation{reply: "hi"}, 200, "INFO"},
		{"Failed", textConversation{err: errors.New("the writer lost the file for " + phone)}, 500, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			a := &app{log: newLogger(&config{}, &logs)}
			hooks := &webhooks.Server{Conversation: tc.conv, PublicURL: public, AuthToken: token,
				Logger: a.log.With("component", "webhooks")}
			r := chi.NewRouter()
			r.Use(middleware.RequestID)
			r.Use(a.accessLog)
			r.Post(webhooks.PathSMS, hooks.HandleSMS)

			form := url.Values{"MessageSid": {sid}, "From": {phone}, "To": {"+15005550006"}, "Body": {"H"}}
			req := httptest.NewRequest(http.MethodPost, public+webhooks.PathSMS, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", webhooks.Signature(token, public+webhooks.PathSMS, form))
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}

			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.String())
			}
			if strings.Contains(lines[0], "5555550177") {
				t.Errorf("the line carries the phone number: %s", lines[0])
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]any{
				"msg": "http request", "level": tc.level, "route": webhooks.PathSMS, "status": float64(tc.status),
				"message_sid": sid, "phone": bot.MaskPhone(phone), "channel": "sms",
			} {
				if rec[k] != want {
					t.Errorf("%s = %v, want %v: %s", k, rec[k], want, lines[0])
				}
			}
			for _, k := range []string{"took", "request_id"} {
				if rec[k] == nil {
					t.Errorf("no %s: %s", k, lines[0])
				}
			}
			if tc.conv.err != nil {
				if err, _ := rec["err"].(string); !strings.Contains(err, "lost the file") {
					t.Errorf("err = %v: %s", rec["err"], lines[0])
				}
				return
			}
			for k, want := range map[string]any{"state": bot.StateSubscribed, "replied": true, "duplicate": false, "muted": false} {
				if rec[k] != want {
					t.Errorf("%s = %v, want %v: %s", k, rec[k], want, lines[0])
				}
			}
		})
	}
}
