package twiliotest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// NumberConfig is the messaging configuration of one of the account's
// phone numbers (an IncomingPhoneNumber resource).
type NumberConfig struct {
	SID            string // "PN" + 32 hex, stable for a given account and number
	PhoneNumber    string
	FriendlyName   string
	SmsURL         string
	SmsMethod      string // "POST" unless set
	SmsFallbackURL string
	StatusCallback string
}

// number is an IncomingPhoneNumber resource.
type number struct {
	sid                  string
	phone                string
	friendlyName         string
	smsURL               string
	smsMethod            string
	smsFallbackURL       string
	smsFallbackMethod    string
	statusCallback       string
	statusCallbackMethod string
	voiceURL             string
	dateCreated          time.Time
	dateUpdated          time.Time
}

// numberSID derives the stable "PN..." SID of phone in account.
func numberSID(account, phone string) string {
	sum := sha256.Sum256([]byte(account + "|" + phone))
	return "PN" + hex.EncodeToString(sum[:16])
}

// Number returns the configuration of phone, one of Options.Numbers.
func (s *Server) Number(phone string) (NumberConfig, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByPhone(phone)
	if n == nil {
		return NumberConfig{}, false
	}
	return NumberConfig{
		SID:            n.sid,
		PhoneNumber:    n.phone,
		FriendlyName:   n.displayName(),
		SmsURL:         n.smsURL,
		SmsMethod:      n.smsMethod,
		SmsFallbackURL: n.smsFallbackURL,
		StatusCallback: n.statusCallback,
	}, true
}

// numberByPhone finds an owned number; s.mu must be held.
func (s *Server) numberByPhone(phone string) *number {
	for _, n := range s.numbers {
		if n.phone == phone {
			return n
		}
	}
	return nil
}

// numberBySID finds an owned number; s.mu must be held.
func (s *Server) numberBySID(sid string) *number {
	for _, n := range s.numbers {
		if n.sid == sid {
			return n
		}
	}
	return nil
}

// displayName is the friendly name, defaulting like Twilio's
// ("(555) 555-0100" for a North American number).
func (n *number) displayName() string {
	if n.friendlyName != "" {
		return n.friendlyName
	}
	if len(n.phone) == 12 && strings.HasPrefix(n.phone, "+1") {
		d := n.phone[2:]
		return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
	}
	return n.phone
}

// matchPhoneFilter reports whether phone matches Twilio's PhoneNumber
// filter: a partial number, where '*' stands for any digit.
func matchPhoneFilter(phone, filter string) bool {
	keep := func(r rune) rune {
		if r >= '0' && r <= '9' || r == '*' {
			return r
		}
		return -1
	}
	digits, pat := strings.Map(keep, phone), strings.Map(keep, filter)
	if pat == "" {
		return true
	}
	for i := 0; i+len(pat) <= len(digits); i++ {
		ok := true
		for j := 0; j < len(pat); j++ {
			if pat[j] != '*' && pat[j] != digits[i+j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// numberFilterKeys are the IncomingPhoneNumbers list filters.
var numberFilterKeys = []string{"PhoneNumber", "FriendlyName"}

// listNumbers serves GET .../IncomingPhoneNumbers.json.
func (s *Server) listNumbers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pg, ok := parsePaging(q)
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, "Invalid PageSize or Page")
		return
	}
	phone, name := q.Get("PhoneNumber"), q.Get("FriendlyName")

	s.mu.Lock()
	var matched []numberJSON
	for _, n := range s.numbers {
		if phone != "" && !matchPhoneFilter(n.phone, phone) || name != "" && n.displayName() != name {
			continue
		}
		matched = append(matched, s.numberJSON(n))
	}
	s.mu.Unlock()

	start := pg.start(func(sid string) int {
		for i, n := range matched {
			if n.SID == sid {
				return i
			}
		}
		return -1
	})
	end := min(start+pg.size, len(matched))
	start = min(start, end)
	var lastSID string
	if end > start {
		lastSID = matched[end-1].SID
	}
	base := apiPrefix + s.opts.AccountSID + "/IncomingPhoneNumbers.json"
	items := append([]numberJSON{}, matched[start:end]...)
	writeJSON(w, http.StatusOK, numberListJSON{
		pageJSON:             pg.envelope(base, q, numberFilterKeys, start, end, len(matched), lastSID),
		IncomingPhoneNumbers: items,
	})
}

// fetchNumber serves GET .../IncomingPhoneNumbers/{Sid}.json.
func (s *Server) fetchNumber(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	n := s.numberBySID(sid)
	var j numberJSON
	if n != nil {
		j = s.numberJSON(n)
	}
	s.mu.Unlock()
	if n == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// updateNumber serves POST .../IncomingPhoneNumbers/{Sid}.json. It keeps
// the messaging settings (SmsUrl, SmsMethod, SmsFallbackUrl,
// SmsFallbackMethod, StatusCallback, StatusCallbackMethod), FriendlyName
// and VoiceUrl; other parameters are accepted and ignored.
func (s *Server) updateNumber(w http.ResponseWriter, r *http.Request, sid string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidParameter, "Unable to parse the request body")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	n := s.numberBySID(sid)
	if n == nil {
		s.mu.Unlock()
		notFound(w, r)
		return
	}
	set := func(key string, dst *string, upper bool) {
		if vs, ok := f[key]; ok && len(vs) > 0 {
			*dst = vs[0]
			if upper {
				*dst = strings.ToUpper(*dst)
			}
		}
	}
	set("FriendlyName", &n.friendlyName, false)
	set("SmsUrl", &n.smsURL, false)
	set("SmsMethod", &n.smsMethod, true)
	set("SmsFallbackUrl", &n.smsFallbackURL, false)
	set("SmsFallbackMethod", &n.smsFallbackMethod, true)
	set("StatusCallback", &n.statusCallback, false)
	set("StatusCallbackMethod", &n.statusCallbackMethod, true)
	set("VoiceUrl", &n.voiceURL, false)
	n.dateUpdated = s.now().UTC()
	j := s.numberJSON(n)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, j)
}

// numberJSON is Twilio's JSON representation of an IncomingPhoneNumber.
type numberJSON struct {
	AccountSID           string          `json:"account_sid"`
	APIVersion           string          `json:"api_version"`
	Beta                 bool            `json:"beta"`
	Capabilities         map[string]bool `json:"capabilities"`
	DateCreated          string          `json:"date_created"`
	DateUpdated          string          `json:"date_updated"`
	FriendlyName         string          `json:"friendly_name"`
	Origin               string          `json:"origin"`
	PhoneNumber          string          `json:"phone_number"`
	SID                  string          `json:"sid"`
	SmsApplicationSID    string          `json:"sms_application_sid"`
	SmsFallbackMethod    string          `json:"sms_fallback_method"`
	SmsFallbackURL       string          `json:"sms_fallback_url"`
	SmsMethod            string          `json:"sms_method"`
	SmsURL               string          `json:"sms_url"`
	Status               string          `json:"status"`
	StatusCallback       string          `json:"status_callback"`
	StatusCallbackMethod string          `json:"status_callback_method"`
	URI                  string          `json:"uri"`
	VoiceMethod          string          `json:"voice_method"`
	VoiceURL             string          `json:"voice_url"`
}

// numberListJSON is one page of the IncomingPhoneNumbers list.
type numberListJSON struct {
	pageJSON
	IncomingPhoneNumbers []numberJSON `json:"incoming_phone_numbers"`
}

// numberJSON renders n like Twilio does; s.mu must be held.
func (s *Server) numberJSON(n *number) numberJSON {
	orPost := func(m string) string {
		if m == "" {
			return http.MethodPost
		}
		return m
	}
	return numberJSON{
		AccountSID:           s.opts.AccountSID,
		APIVersion:           "2010-04-01",
		Capabilities:         map[string]bool{"voice": true, "sms": true, "mms": true, "fax": false},
		DateCreated:          rfc2822(n.dateCreated),
		DateUpdated:          rfc2822(n.dateUpdated),
		FriendlyName:         n.displayName(),
		Origin:               "twilio",
		PhoneNumber:          n.phone,
		SID:                  n.sid,
		SmsFallbackMethod:    orPost(n.smsFallbackMethod),
		SmsFallbackURL:       n.smsFallbackURL,
		SmsMethod:            orPost(n.smsMethod),
		SmsURL:               n.smsURL,
		Status:               "in-use",
		StatusCallback:       n.statusCallback,
		StatusCallbackMethod: orPost(n.statusCallbackMethod),
		URI:                  apiPrefix + s.opts.AccountSID + "/IncomingPhoneNumbers/" + n.sid + ".json",
		VoiceMethod:          http.MethodPost,
		VoiceURL:             n.voiceURL,
	}
}

// SetStatusCallback sets the (voice call) status callback of phone, one of
// Options.Numbers, as an operator does in the console. It reports whether
// the number exists.
func (s *Server) SetStatusCallback(phone, url string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberByPhone(phone)
	if n == nil {
		return false
	}
	n.statusCallback = url
	return true
}
