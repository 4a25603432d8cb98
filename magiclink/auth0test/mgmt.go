package auth0test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Faults makes the Management API (/api/v2/*) misbehave the way a busy
// tenant does. Each request draws once from a generator seeded with Seed:
// with probability Rate429 it is rate limited, else with probability Rate500
// it fails with 500, else with probability RateDrop its connection is
// dropped without a response, half the time before the request is applied
// and half the time after (Auth0 updates are idempotent PATCHes, so clients
// may retry either way). Down is an outage: every endpoint, not only the
// Management API, answers 503. The zero value injects no faults.
type Faults struct {
	Rate429, Rate500, RateDrop float64
	// Down makes every request fail with 503, as a tenant that is
	// unreachable.
	Down bool
	// Seed seeds the generator, so a run is reproducible.
	Seed int64
	// ResetAfter sets X-RateLimit-Reset on 429 responses to now+ResetAfter.
	// go-auth0 waits until then before retrying; zero retries at once.
	ResetAfter time.Duration
}

// fault is the outcome of one draw.
type fault int

const (
	faultNone fault = iota
	fault429
	fault500
	faultDropBefore
	faultDropAfter
)

// rateLimit is the X-RateLimit-Limit the stand-in reports.
const rateLimit = 50

// SetFaults replaces the fault configuration and reseeds its generator.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = mrand.New(mrand.NewPCG(uint64(f.Seed), uint64(f.Seed)^0x9e3779b97f4a7c15))
}

// MgmtRequests returns how many /api/v2 requests s has seen, including the
// ones it answered with a fault.
func (s *Server) MgmtRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mgmtSeen
}

// TokenRequests returns how many client_credentials token requests (the
// Management API tokens) s has seen, whether granted or not.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ccTokens
}

// nextFault counts a Management API request and draws its fault.
func (s *Server) nextFault() (fault, Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mgmtSeen++
	f := s.faults
	if f.Rate429 <= 0 && f.Rate500 <= 0 && f.RateDrop <= 0 {
		return faultNone, f
	}
	u := s.rng.Float64()
	switch {
	case u < f.Rate429:
		return fault429, f
	case u < f.Rate429+f.Rate500:
		return fault500, f
	case u < f.Rate429+f.Rate500+f.RateDrop:
		if s.rng.IntN(2) == 0 {
			return faultDropBefore, f
		}
		return faultDropAfter, f
	}
	return faultNone, f
}

// handleAPI serves /api/v2/*, injecting the configured faults.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	flt, f := s.nextFault()
	switch flt {
	case fault429:
		h := w.Header()
		h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(f.ResetAfter).Unix(), 10))
		mgmtError(w, http.StatusTooManyRequests, "", "Global limit has been reached")
	case fault500:
		mgmtError(w, http.StatusInternalServerError, "", "Internal error")
	case faultDropBefore:
		dropConnection(w)
	case faultDropAfter:
		s.api.ServeHTTP(&discardWriter{header: http.Header{}}, r)
		dropConnection(w)
	default:
		s.api.ServeHTTP(w, r)
	}
}

// dropConnection closes the client's connection without a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discardWriter is a ResponseWriter that throws the response away.
type discardWriter struct {
	header http.Header
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// mgmtError writes a Management API error body.
func mgmtError(w http.ResponseWriter, status int, errorCode, message string) {
	body := map[string]any{
		"statusCode": status,
		"error":      http.StatusText(status),
		"message":    message,
	}
	if errorCode != "" {
		body["errorCode"] = errorCode
	}
	writeJSON(w, status, body)
}

// requireScope checks the request's Management API token and that it has
// at least one of anyOf. It returns the token's scopes, or writes the error
// and returns false.
func (s *Server) requireScope(w http.ResponseWriter, r *http.Request, anyOf ...string) ([]string, bool) {
	claims, failure := s.verifyBearer(r, s.apiAudience(r))
	if failure != "" {
		mgmtError(w, http.StatusUnauthorized, "", failure)
		return nil, false
	}
	scope, _ := claims["scope"].(string)
	have := strings.Fields(scope)
	for _, want := range anyOf {
		if slices.Contains(have, want) {
			return have, true
		}
	}
	mgmtError(w, http.StatusForbidden, "insufficient_scope",
		"Insufficient scope, expected any of: "+strings.Join(anyOf, ","))
	return nil, false
}

// handleUserRead implements GET /api/v2/users/{id}.
func (s *Server) handleUserRead(w http.ResponseWriter, r *http.Request) {
	scopes, ok := s.requireScope(w, r, "read:users")
	if !ok {
		return
	}
	s.mu.Lock()
	rec, found := s.users[r.PathValue("id")]
	var body map[string]any
	if found {
		body = userJSON(rec, slices.Contains(scopes, "read:user_idp_tokens"))
	}
	s.mu.Unlock()
	if !found {
		mgmtError(w, http.StatusNotFound, "inexistent_user", "The user does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, filterFields(body, r.URL.Query()))
}

// isUpdatableUserField reports whether PATCH /api/v2/users/{id} accepts
// the property k. The stand-in applies app_metadata, user_metadata, email,
// name, nickname and blocked, and accepts and ignores the others.
func isUpdatableUserField(k string) bool {
	switch k {
	case "app_metadata", "user_metadata", "email", "name", "nickname", "blocked",
		"email_verified", "phone_number", "phone_verified", "given_name",
		"family_name", "picture", "verify_email", "verify_phone_number",
		"password", "connection", "client_id", "username":
		return true
	}
	return false
}

// handleUserUpdate implements PATCH /api/v2/users/{id}: metadata is merged
// at the top level, a key set to null is removed and an empty object
// removes all of it.
func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var patch map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		mgmtError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: 'Invalid JSON'.")
		return
	}
	if len(patch) == 0 {
		mgmtError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: 'Too few properties defined (0), minimum 1'.")
		return
	}
	metadataOnly := true
	for k := range patch {
		if !isUpdatableUserField(k) {
			mgmtError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: 'Additional properties not allowed: "+k+"'.")
			return
		}
		if k != "app_metadata" && k != "user_metadata" {
			metadataOnly = false
		}
	}
	anyOf := []string{"update:users"}
	if metadataOnly {
		anyOf = append(anyOf, "update:users_app_metadata")
	}
	if _, ok := s.requireScope(w, r, anyOf...); !ok {
		return
	}

	var (
		appMeta, userMeta       map[string]any
		email, name, nick       *string
		blocked                 *bool
		hasAppMeta, hasUserMeta bool
	)
	decode := func(key string, dst any) bool {
		raw, ok := patch[key]
		if !ok {
			return true
		}
		if err := json.Unmarshal(raw, dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			mgmtError(w, http.StatusBadRequest, "invalid_body", fmt.Sprintf("Payload validation error: 'Invalid type' on property %s.", key))
			return false
		}
		return true
	}
	_, hasAppMeta = patch["app_metadata"]
	_, hasUserMeta = patch["user_metadata"]
	if !decode("app_metadata", &appMeta) || !decode("user_metadata", &userMeta) ||
		!decode("email", &email) || !decode("name", &name) || !decode("nickname", &nick) ||
		!decode("blocked", &blocked) {
		return
	}
	if email != nil {
		e, ok := normalizeEmail(*email)
		if !ok {
			mgmtError(w, http.StatusBadRequest, "invalid_body", "Payload validation error: 'Object didn't pass validation for format email: "+*email+"' on property email.")
			return
		}
		email = &e
	}

	now := s.now()
	s.mu.Lock()
	rec, found := s.users[r.PathValue("id")]
	var body map[string]any
	if found {
		if hasAppMeta {
			rec.user.AppMetadata = mergeMetadata(rec.user.AppMetadata, appMeta)
		}
		if hasUserMeta {
			rec.userMetadata = mergeMetadata(rec.userMetadata, userMeta)
		}
		if email != nil {
			rec.user.Email = *email
		}
		if name != nil {
			rec.name = *name
		}
		if nick != nil {
			rec.nickname = *nick
		}
		if blocked != nil {
			rec.blocked = *blocked
		}
		rec.updated = now
		body = userJSON(rec, false)
	}
	s.mu.Unlock()
	if !found {
		mgmtError(w, http.StatusNotFound, "inexistent_user", "The user does not exist.")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// handleClientRead implements GET /api/v2/clients/{id}.
func (s *Server) handleClientRead(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireScope(w, r, "read:clients"); !ok {
		return
	}
	c, ok := s.clients[r.PathValue("id")]
	if !ok {
		mgmtError(w, http.StatusNotFound, "inexistent_client", "The client does not exist")
		return
	}
	callbacks := append([]string{}, c.callbacks...)
	body := map[string]any{
		"client_id":                  c.id,
		"name":                       c.name,
		"app_type":                   c.appType,
		"callbacks":                  callbacks,
		"allowed_logout_urls":        callbacks,
		"grant_types":                c.grantTypes,
		"is_first_party":             true,
		"oidc_conformant":            true,
		"token_endpoint_auth_method": "client_secret_post",
	}
	writeJSON(w, http.StatusOK, filterFields(body, r.URL.Query()))
}

// handleClientGrants implements GET /api/v2/client-grants, filtered by the
// client_id and audience parameters; include_totals=true wraps the list
// with paging totals as Auth0 does.
func (s *Server) handleClientGrants(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireScope(w, r, "read:client_grants"); !ok {
		return
	}
	q := r.URL.Query()
	audience := s.apiAudience(r)
	ids := make([]string, 0, len(s.clients))
	for id, c := range s.clients {
		if c.apiScopes != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	grants := []map[string]any{}
	for _, id := range ids {
		if cid := q.Get("client_id"); cid != "" && cid != id {
			continue
		}
		if aud := q.Get("audience"); aud != "" && aud != audience {
			continue
		}
		grants = append(grants, map[string]any{
			"id":        grantID(id),
			"client_id": id,
			"audience":  audience,
			"scope":     append([]string{}, s.clients[id].apiScopes...),
		})
	}
	page, _ := strconv.Atoi(q.Get("page"))
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 50
	}
	total := len(grants)
	start := min(max(page, 0)*perPage, total)
	grants = grants[start:min(start+perPage, total)]
	if q.Get("include_totals") == "true" {
		writeJSON(w, http.StatusOK, map[string]any{
			"client_grants": grants,
			"start":         start,
			"limit":         perPage,
			"total":         total,
		})
		return
	}
	writeJSON(w, http.StatusOK, grants)
}

// grantID derives a stable client grant id from a client id.
func grantID(clientID string) string {
	sum := sha256.Sum256([]byte("grant:" + clientID))
	return "cgr_" + hex.EncodeToString(sum[:8])
}

// filterFields applies the fields and include_fields query parameters.
func filterFields(body map[string]any, q url.Values) map[string]any {
	f := q.Get("fields")
	if f == "" {
		return body
	}
	var fields []string
	for _, name := range strings.Split(f, ",") {
		if name = strings.TrimSpace(name); name != "" {
			fields = append(fields, name)
		}
	}
	include := q.Get("include_fields") != "false"
	out := make(map[string]any, len(body))
	for k, v := range body {
		if slices.Contains(fields, k) == include {
			out[k] = v
		}
	}
	return out
}
