package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleValue returns a value the setting's parser accepts and that differs
// from its default.
func sampleValue(t *testing.T, s setting) string {
	t.Helper()
	for _, v := range []string{"3h7m", "7", "true", "false", "https://x7.example.com", "+15550000007", "replaced=HX77777777777777777777777777777777"} {
		if v != s.Default && s.set(&config{}, v) == nil {
			return v
		}
	}
	t.Fatalf("%s: no sample value parses", s.Env)
	return ""
}

// TestLoadConfig_EveryRow proves that loadConfig reads every row of the
// settings table: each variable, set alone, changes the config, and a
// malformed number or duration is refused with the variable's name.
func TestLoadConfig_EveryRow(t *testing.T) {
	base, err := loadConfig([]string{"--dev"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.Env] || (s.Flag != "" && seen["--"+s.Flag]) {
			t.Errorf("%s is in the table twice", s.Env)
		}
		seen[s.Env], seen["--"+s.Flag] = true, true
		if s.Help == "" || s.set == nil {
			t.Errorf("%s lacks help or a parser", s.Env)
			continue
		}
		v := sampleValue(t, s)
		c, err := loadConfig([]string{"--dev"}, func(k string) string {
			if k == s.Env {
				return v
			}
			return ""
		}, io.Discard)
		if err != nil {
			t.Errorf("%s=%s: %v", s.Env, v, err)
			continue
		}
		if reflect.DeepEqual(c, base) {
			t.Errorf("%s=%s changed nothing in the config", s.Env, v)
		}
	}
	if base.HTTPTimeout != 10*time.Second || base.Limits.LinksPerHour != 3 || base.DB != "smsbot.db" || base.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults not applied: %+v", base)
	}
	for _, bad := range [][2]string{{"SMSBOT_OUTBOX_WORKERS", "0"}, {"SMSBOT_RETENTION", "forever"}, {"SMSBOT_ANSWER_KEYWORDS", "maybe"}} {
		_, err := loadConfig([]string{"--dev"}, func(k string) string {
			if k == bad[0] {
				return bad[1]
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: err %v, want one naming the variable", bad[0], bad[1], err)
		}
	}
}

// TestLoadConfig_FlagsOverrideEnv: serve's flags come from the same rows
// and win over the environment.
func TestLoadConfig_FlagsOverrideEnv(t *testing.T) {
	env := map[string]string{"SMSBOT_DB": "env.db", "SMSBOT_ADDR": "127.0.0.1:1", "AUTH0_CLIENT_ID": "login"}
	c, err := loadConfig([]string{"--dev", "--db", "flag.db"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "flag.db" || c.Addr != "127.0.0.1:1" {
		t.Errorf("db %q addr %q, want flag.db and the environment's address", c.DB, c.Addr)
	}
	if c.Auth0MgmtID != "login" {
		t.Errorf("AUTH0_MGMT_CLIENT_ID defaults to %q, want AUTH0_CLIENT_ID's", c.Auth0MgmtID)
	}
	var help strings.Builder
	if _, err := loadConfig([]string{"--help"}, func(string) string { return "" }, &help); err == nil {
		t.Fatal("--help: no error")
	}
	for _, s := range settings {
		if !strings.Contains(help.String(), s.Env) || (s.Flag != "" && !strings.Contains(help.String(), "-"+s.Flag)) {
			t.Errorf("serve --help lacks %s", s.Env)
		}
	}
}
