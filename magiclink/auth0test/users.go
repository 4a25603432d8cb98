package auth0test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"time"
)

// defaultConnection is the name of Auth0's default database connection,
// used for the users that log in through the stand-in's login page.
const defaultConnection = "Username-Password-Authentication"

// User is a user profile as the stand-in stores it.
type User struct {
	ID          string         // "provider|id", for example UserID(email)
	Email       string         // lowercase
	AppMetadata map[string]any // JSON values: nil, bool, float64, string, []any, map[string]any
	Identities  []Identity
	LoginsCount int
	// Locale is the profile's locale ("es-MX"), in the ID token's and
	// userinfo's locale claim when set, as social connections fill it.
	Locale string
}

// Identity is one identity provider account linked to a User.
type Identity struct {
	Provider     string // "auth0", "google-oauth2", ...
	Connection   string // "Username-Password-Authentication", "google-oauth2", ...
	UserID       string // the id at the provider, without the "provider|" prefix
	AccessToken  string // the provider's tokens; only returned with read:user_idp_tokens
	RefreshToken string
	ExpiresIn    int // seconds
}

// record is a stored user with the attributes the API reports but User
// does not expose.
type record struct {
	user         User
	userMetadata map[string]any
	name         string
	nickname     string
	blocked      bool
	created      time.Time
	updated      time.Time
	lastLogin    time.Time
}

// UserID returns the user id the stand-in gives the person with the given
// email: "auth0|" and the first 24 hex characters of the SHA-256 of the
// trimmed, lowercased email. It is deterministic so that tests and dev mode
// can predict it.
func UserID(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "auth0|" + hex.EncodeToString(sum[:])[:24]
}

// User returns a deep copy of the user with the given id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return copyUser(rec.user), true
}

// PutUser creates the user u.ID, or replaces everything User holds about it
// (its creation time and user_metadata are kept). An empty ID defaults to
// UserID(u.Email); a user without identities gets one derived from its id.
// AppMetadata is stored as JSON would round-trip it, so integers come back
// as float64 as they would from Auth0. A user with neither id nor email is
// ignored.
func (s *Server) PutUser(u User) {
	if u.ID == "" {
		if u.Email == "" {
			return
		}
		u.ID = UserID(u.Email)
	}
	u = copyUser(u)
	u.AppMetadata = normalizeJSON(u.AppMetadata)
	if len(u.Identities) == 0 {
		u.Identities = []Identity{defaultIdentity(u.ID)}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.users[u.ID]
	if !ok {
		rec = &record{created: now, name: u.Email, nickname: nickname(u.Email)}
		s.users[u.ID] = rec
	}
	rec.user = u
	rec.updated = now
}

// login records a login through the login page by the person with the given
// (normalized) email, creating the user on first login, and returns its id.
func (s *Server) login(email string) string {
	id := UserID(email)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.users[id]
	if !ok {
		rec = &record{
			user: User{
				ID:         id,
				Email:      email,
				Identities: []Identity{defaultIdentity(id)},
			},
			name:     email,
			nickname: nickname(email),
			created:  now,
		}
		if s.onNewUser != nil {
			s.onNewUser(&rec.user)
			rec.user = copyUser(rec.user)
			rec.user.ID = id
		}
		s.users[id] = rec
	}
	rec.user.LoginsCount++
	rec.lastLogin = now
	rec.updated = now
	return id
}

// defaultIdentity derives an identity from a "provider|id" user id.
func defaultIdentity(userID string) Identity {
	provider, sub, ok := strings.Cut(userID, "|")
	if !ok {
		provider, sub = "auth0", userID
	}
	conn := provider
	if provider == "auth0" {
		conn = defaultConnection
	}
	return Identity{Provider: provider, Connection: conn, UserID: sub}
}

// nickname is what Auth0 derives from an email: its local part.
func nickname(email string) string {
	local, _, _ := strings.Cut(email, "@")
	return local
}

// userJSON renders rec as the Management API does. IdP tokens are only
// included when withTokens is set (the read:user_idp_tokens scope).
func userJSON(rec *record, withTokens bool) map[string]any {
	u := rec.user
	ids := make([]any, 0, len(u.Identities))
	for _, id := range u.Identities {
		m := map[string]any{
			"provider":   id.Provider,
			"connection": id.Connection,
			"user_id":    id.UserID,
			"isSocial":   id.Provider != "auth0" && id.Provider != "email" && id.Provider != "sms",
		}
		if withTokens {
			if id.AccessToken != "" {
				m["access_token"] = id.AccessToken
			}
			if id.RefreshToken != "" {
				m["refresh_token"] = id.RefreshToken
			}
			if id.ExpiresIn != 0 {
				m["expires_in"] = id.ExpiresIn
			}
		}
		ids = append(ids, m)
	}
	out := map[string]any{
		"user_id":        u.ID,
		"email":          u.Email,
		"email_verified": true,
		"name":           rec.name,
		"nickname":       rec.nickname,
		"identities":     ids,
		"logins_count":   u.LoginsCount,
		"created_at":     apiTime(rec.created),
		"updated_at":     apiTime(rec.updated),
	}
	if !rec.lastLogin.IsZero() {
		out["last_login"] = apiTime(rec.lastLogin)
	}
	if rec.blocked {
		out["blocked"] = true
	}
	if len(u.AppMetadata) > 0 {
		out["app_metadata"] = copyJSON(u.AppMetadata)
	}
	if len(rec.userMetadata) > 0 {
		out["user_metadata"] = copyJSON(rec.userMetadata)
	}
	return out
}

// apiTime formats t as the Management API does.
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// copyUser returns a deep copy of u.
func copyUser(u User) User {
	u.AppMetadata = copyJSON(u.AppMetadata)
	u.Identities = append([]Identity(nil), u.Identities...)
	return u
}

// copyJSON deep-copies a map of JSON values. Other value types are copied
// shallowly.
func copyJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyJSON(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	default:
		return v
	}
}

// normalizeJSON returns m as it would come back from a JSON round trip,
// or a deep copy of m if it cannot be encoded.
func normalizeJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return copyJSON(m)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return copyJSON(m)
	}
	return out
}

// mergeMetadata applies a metadata PATCH as Auth0 does: top-level keys are
// merged, a key set to null is removed, and an empty object removes all
// metadata.
func mergeMetadata(old, patch map[string]any) map[string]any {
	if len(patch) == 0 {
		return nil
	}
	out := maps.Clone(old)
	if out == nil {
		out = make(map[string]any, len(patch))
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
