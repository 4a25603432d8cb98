package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDoctor_PublicPath_TwoInstances: two instances on one PostgreSQL
// database behind a round-robin balancer. Each doctor run reaches one of
// them through the public URL, and the public path check passes whichever
// answered, as long as it uses the database; a nonce the database does not
// know still fails.
func TestDoctor_PublicPath_TwoInstances(t *testing.T) {
	p := startPostgresE2E(t)
	second := p.second()

	var mu sync.Mutex
	next := 0
	hits := map[string]int{}
	backends := []string{p.base, second}
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		mu.Lock()
		b := backends[next%len(backends)]
		next++
		hits[b]++
		mu.Unlock()
		u, _ := url.Parse(b)
		r.SetURL(u)
	}})
	t.Cleanup(lb.Close)

	env := with(p.env, "SMSBOT_PUBLIC_URL", lb.URL)
	for i := range 4 {
		f := doctorJSON(t, env)["public path"]
		if f.Status != checkOK || !strings.Contains(f.Detail, "2 instance(s) seen") {
			t.Errorf("doctor run %d through the balancer: %+v", i, f)
		}
	}
	mu.Lock()
	if hits[p.base] != 2 || hits[second] != 2 {
		t.Errorf("the balancer's picks: %v, want each instance twice", hits)
	}
	mu.Unlock()

	// A server that answers as smsbot with a nonce no instance on the
	// database recorded: another deployment.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerInstance, "not-on-this-database")
	}))
	t.Cleanup(other.Close)
	if f := doctorJSON(t, with(p.env, "SMSBOT_PUBLIC_URL", other.URL))["public path"]; f.Status != checkFail || !strings.Contains(f.Detail, "another smsbot") {
		t.Errorf("a stranger's nonce: %+v", f)
	}

	// An instance that stopped takes its row with it.
	if err := p.db.Heartbeat(context.Background(), "stopped", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := p.db.StopInstance(context.Background(), "stopped"); err != nil {
		t.Fatal(err)
	}
	if got, err := p.db.Instances(context.Background(), time.Time{}); err != nil || len(got) != 2 {
		t.Errorf("instances recorded: %q %v, want the two running", got, err)
	}
}
