package sdmtest

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// Device names and traits as the SDM API writes them.
func (s *Server) deviceJSON(project string, t *Thermostat) map[string]any {
	name := "enterprises/" + project + "/devices/" + t.ID
	traits := map[string]any{
		"sdm.devices.traits.Info":         map[string]any{"customName": t.CustomName},
		"sdm.devices.traits.Humidity":     map[string]any{"ambientHumidityPercent": t.Humidity},
		"sdm.devices.traits.Connectivity": map[string]any{"status": onOff(!t.Offline, "ONLINE", "OFFLINE")},
		"sdm.devices.traits.Fan":          map[string]any{},
		"sdm.devices.traits.ThermostatEco": map[string]any{
			"availableModes": []string{"OFF", "MANUAL_ECO"},
			"mode":           onOff(t.Eco, "MANUAL_ECO", "OFF"),
			"heatCelsius":    t.EcoHeat,
			"coolCelsius":    t.EcoCool,
		},
		"sdm.devices.traits.ThermostatHvac": map[string]any{"status": hvac(t)},
		"sdm.devices.traits.Settings":       map[string]any{"temperatureScale": t.Scale},
		"sdm.devices.traits.ThermostatMode": map[string]any{
			"availableModes": t.AvailableModes,
			"mode":           t.Mode,
		},
		"sdm.devices.traits.ThermostatTemperatureSetpoint": setpoints(t),
		"sdm.devices.traits.Temperature":                   map[string]any{"ambientTemperatureCelsius": t.Ambient},
	}
	return map[string]any{
		"name":     name,
		"type":     "sdm.devices.types.THERMOSTAT",
		"assignee": "enterprises/" + project + "/structures/home/rooms/" + t.ID,
		"traits":   traits,
		"parentRelations": []any{map[string]any{
			"parent":      "enterprises/" + project + "/structures/home/rooms/" + t.ID,
			"displayName": t.Room,
		}},
	}
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// setpoints are present only for the current mode, and absent in Eco or OFF.
func setpoints(t *Thermostat) map[string]any {
	m := map[string]any{}
	if t.Eco {
		return m
	}
	switch t.Mode {
	case "HEAT":
		m["heatCelsius"] = t.Heat
	case "COOL":
		m["coolCelsius"] = t.Cool
	case "HEATCOOL":
		m["heatCelsius"], m["coolCelsius"] = t.Heat, t.Cool
	}
	return m
}

// hvac derives what the equipment is doing from the setpoints.
func hvac(t *Thermostat) string {
	heat, cool := t.Heat, t.Cool
	if t.Eco {
		heat, cool = t.EcoHeat, t.EcoCool
	}
	heats := t.Mode == "HEAT" || t.Mode == "HEATCOOL"
	cools := t.Mode == "COOL" || t.Mode == "HEATCOOL"
	switch {
	case heats && t.Ambient < heat:
		return "HEATING"
	case cools && t.Ambient > cool:
		return "COOLING"
	}
	return "OFF"
}

// list serves GET enterprises/{project}/devices; s.mu is held.
func (s *Server) list(w http.ResponseWriter, project string, u *user) {
	devs := []any{}
	for _, t := range u.thermostats {
		devs = append(devs, s.deviceJSON(project, t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": devs})
}

func (u *user) thermostat(id string) *Thermostat {
	for _, t := range u.thermostats {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func notFound(w http.ResponseWriter, project, id string) {
	apiError(w, http.StatusNotFound, "NOT_FOUND", "Device enterprises/"+project+"/devices/"+id+" not found.")
}

// get serves GET enterprises/{project}/devices/{id}; s.mu is held.
func (s *Server) get(w http.ResponseWriter, project string, u *user, id string) {
	t := u.thermostat(id)
	if t == nil {
		notFound(w, project, id)
		return
	}
	writeJSON(w, http.StatusOK, s.deviceJSON(project, t))
}

// Limits of the simulated thermostats, Celsius.
const (
	minCelsius = 9.0
	maxCelsius = 32.0
)

// execute serves POST devices/{id}:executeCommand; s.mu is held.
func (s *Server) execute(w http.ResponseWriter, project string, u *user, id, cmd string, params map[string]any) {
	t := u.thermostat(id)
	if t == nil {
		notFound(w, project, id)
		return
	}
	if t.Offline {
		apiError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "Thermostat is offline.")
		return
	}
	notAllowed := func() {
		apiError(w, http.StatusBadRequest, "FAILED_PRECONDITION", "Command not allowed in current thermostat mode.")
	}
	invalid := func(msg string) { apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg) }
	temp := func(key string) (float64, bool) {
		v, ok := params[key].(float64)
		if !ok || v < minCelsius || v > maxCelsius {
			invalid("Invalid value for " + key + ".")
			return 0, false
		}
		return v, true
	}
	str := func(key string) string { v, _ := params[key].(string); return v }
	const prefix = "sdm.devices.commands."
	switch strings.TrimPrefix(cmd, prefix) {
	case "ThermostatTemperatureSetpoint.SetHeat":
		if t.Eco || t.Mode != "HEAT" {
			notAllowed()
			return
		}
		v, ok := temp("heatCelsius")
		if !ok {
			return
		}
		t.Heat = v
	case "ThermostatTemperatureSetpoint.SetCool":
		if t.Eco || t.Mode != "COOL" {
			notAllowed()
			return
		}
		v, ok := temp("coolCelsius")
		if !ok {
			return
		}
		t.Cool = v
	case "ThermostatTemperatureSetpoint.SetRange":
		if t.Eco || t.Mode != "HEATCOOL" {
			notAllowed()
			return
		}
		lo, ok := temp("heatCelsius")
		if !ok {
			return
		}
		hi, ok := temp("coolCelsius")
		if !ok {
			return
		}
		if lo >= hi {
			invalid("Cool value must be greater than heat value.")
			return
		}
		t.Heat, t.Cool = lo, hi
	case "ThermostatMode.SetMode":
		m := str("mode")
		if !slices.Contains(t.AvailableModes, m) {
			invalid("Invalid mode " + m + ".")
			return
		}
		t.Mode, t.Eco = m, false
	case "ThermostatEco.SetMode":
		switch str("mode") {
		case "MANUAL_ECO":
			if t.Mode == "OFF" {
				notAllowed()
				return
			}
			t.Eco = true
		case "OFF":
			t.Eco = false
		default:
			invalid("Invalid eco mode.")
			return
		}
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Command "+cmd+" not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleToken serves Google's token endpoint for the refresh_token grant.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.Token++ })
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "Bad form.")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if id != s.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "refresh_token" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[r.PostForm.Get("refresh_token")]
	if !ok || u.revoked {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": s.issue(u),
		"expires_in":   int(s.opts.TokenTTL.Seconds()),
		"scope":        "https://www.googleapis.com/auth/sdm.service",
		"token_type":   "Bearer",
	})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}
