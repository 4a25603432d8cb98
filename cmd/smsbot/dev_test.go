package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/webhooks"
)

// TestDevMode_Banner: the banner prints the fixed dev token, never a
// TWILIO_AUTH_TOKEN taken from the environment.
func TestDevMode_Banner(t *testing.T) {
	for _, tc := range []struct{ token, want, never string }{
		{devAuthToken, devAuthToken, ""},
		{"a-real-twilio-token-from-the-env", "not shown", "a-real-twilio-token-from-the-env"},
	} {
		var b strings.Builder
		(&devMode{}).banner(&b, &config{PublicURL: "http://localhost:8080", TwilioToken: tc.token})
		if !strings.Contains(b.String(), tc.want) || tc.never != "" && strings.Contains(b.String(), tc.never) {
			t.Errorf("token %q: banner\n%s", tc.token, b.String())
		}
	}
}

func TestLoadConfig_DevAddr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dev"}, nil, "127.0.0.1:8080"},
		{nil, map[string]string{"SMSBOT_PUBLIC_URL": "https://bot.example.com"}, ":8080"},
		{[]string{"--dev", "--addr", ":9000"}, nil, ":9000"},
		{[]string{"--dev"}, map[string]string{"SMSBOT_ADDR": "0.0.0.0:9000"}, "0.0.0.0:9000"},
		{[]string{"--dev"}, map[string]string{"SMSBOT_ADDR": "fd:3"}, "fd:3"},
	} {
		c, _ := loadConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if c == nil || c.Addr != tc.want {
			t.Errorf("%v %v: addr %+v, want %q", tc.args, tc.env, c, tc.want)
		}
	}
}

func TestLoadConfig_DevPublicURL(t *testing.T) {
	for url, ok := range map[string]bool{
		"":                                   true,
		"http://localhost:8080":              true,
		"http://127.0.0.1:9000":              true,
		"http://[::1]:9000":                  true,
		"https://bot.example.com":            false,
		"http://192.168.1.10:8080":           false,
		"http://localhost.evil.example:8080": false,
	} {
		_, err := loadConfig([]string{"--dev"}, func(k string) string {
			if k == "SMSBOT_PUBLIC_URL" {
				return url
			}
			return ""
		}, io.Discard)
		if (err == nil) != ok {
			t.Errorf("public URL %q: err %v, want ok=%v", url, err, ok)
		}
		if !ok && err != nil && !strings.Contains(err.Error(), "serve --dev runs on this machine only") {
			t.Errorf("public URL %q: unclear error %v", url, err)
		}
	}
}

func TestDevMode_ExposedWarning(t *testing.T) {
	if w := exposed(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}); w != "" {
		t.Errorf("loopback warned: %s", w)
	}
	if w := exposed(&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}); w != "" {
		t.Errorf("[::1] warned: %s", w)
	}
	for _, ip := range []net.IP{net.IPv4zero, net.IPv6unspecified, net.IPv4(192, 168, 1, 10)} {
		if w := exposed(&net.TCPAddr{IP: ip, Port: 8080}); !strings.Contains(w, "NOT ONLY ON LOOPBACK") {
			t.Errorf("%s: warning %q", ip, w)
		}
	}
}

// TestDevMode_LoopbackOnly: the Dev Phone, its API and the Auth0
// stand-in's login pages answer only to loopback Host names (DNS
// rebinding brings another site's name), and the API's writes only to
// same-origin requests.
func TestDevMode_LoopbackOnly(t *testing.T) {
	addr, listenSetting := listenFD(t)
	base := "http://" + addr
	_, port, _ := net.SplitHostPort(addr)
	env := map[string]string{"SMSBOT_ADDR": listenSetting, "SMSBOT_DB": filepath.Join(t.TempDir(), "dev.db"), "SMSBOT_PUBLIC_URL": base}
	runProgram(t, []string{"serve", "--dev"}, env, base, &syncBuffer{})

	do := func(method, path, host string, header map[string]string) int {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"from": "+15555550123", "body": "H"}`)
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, path := range []string{"/dev", "/dev/api/messages?phone=%2B15555550123", "/dev/auth0/authorize", "/healthz"} {
		if st := do(http.MethodGet, path, "rebound.evil.example:"+port, nil); st != http.StatusForbidden {
			t.Errorf("GET %s with a foreign Host: %d, want 403", path, st)
		}
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		if st := do(http.MethodGet, "/dev", host, nil); st != http.StatusOK {
			t.Errorf("GET /dev with Host %s: %d, want 200", host, st)
		}
	}
	// The webhook takes texts signed with the fixed dev token, which a
	// rebinding page could sign as well as we do.
	form := url.Values{"MessageSid": {"SM" + strings.Repeat("7", 32)}, "AccountSid": {devAccountSID}, "From": {"+15555550123"}, "To": {devBotNumber}, "Body": {"S"}}
	req, _ := http.NewRequest(http.MethodPost, base+webhooks.PathSMS, strings.NewReader(form.Encode()))
	req.Host = "rebound.evil.example:" + port
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", webhooks.Signature(devAuthToken, base+webhooks.PathSMS, form))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("signed webhook with a foreign Host: %d, want 403", res.StatusCode)
	}

	local := "localhost:" + port
	for _, tc := range []struct {
		name   string
		host   string
		header map[string]string
		want   int
	}{
		{"foreign Host", "rebound.evil.example:" + port, nil, http.StatusForbidden},
		{"cross-site fetch", local, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"foreign Origin", local, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"same-origin fetch", local, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + local}, http.StatusOK},
		{"no browser headers (curl)", local, nil, http.StatusOK},
	} {
		if st := do(http.MethodPost, "/dev/api/send", tc.host, tc.header); st != tc.want {
			t.Errorf("POST /dev/api/send, %s: %d, want %d", tc.name, st, tc.want)
		}
	}
}
