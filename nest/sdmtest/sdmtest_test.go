package sdmtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/nest/sdmtest"
)

func TestServer_Wire(t *testing.T) {
	s, err := sdmtest.New(sdmtest.Options{Project: "p", ClientID: "cid", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	access := s.AddUser("1//r", sdmtest.Thermostat{ID: "t1", Room: "Den", Mode: "HEAT", Heat: 20})
	other := s.AddUser("1//o", sdmtest.Thermostat{ID: "t2", Room: "Office", Mode: "OFF"})
	c := s.Client()
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if method == http.MethodPost && strings.HasPrefix(path, "/token") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	status := func(v map[string]any) string {
		e, _ := v["error"].(map[string]any)
		return e["status"].(string)
	}
	tests := []struct {
		name, method, path, token, body string
		code                            int
		rpc                             string // error.status, or the token error
	}{
		{"List", "GET", "/v1/enterprises/p/devices", access, "", 200, ""},
		{"NoToken", "GET", "/v1/enterprises/p/devices", "", "", 401, "UNAUTHENTICATED"},
		{"OtherProject", "GET", "/v1/enterprises/x/devices", access, "", 404, "NOT_FOUND"},
		{"Get", "GET", "/v1/enterprises/p/devices/t1", access, "", 200, ""},
		{"OthersDevice", "GET", "/v1/enterprises/p/devices/t1", other, "", 404, "NOT_FOUND"},
		{"SetHeat", "POST", "/v1/enterprises/p/devices/t1:executeCommand", access, `{"command":"sdm.devices.commands.ThermostatTemperatureSetpoint.SetHeat","params":{"heatCelsius":22}}`, 200, ""},
		{"SetCoolInHeat", "POST", "/v1/enterprises/p/devices/t1:executeCommand", access, `{"command":"sdm.devices.commands.ThermostatTemperatureSetpoint.SetCool","params":{"coolCelsius":22}}`, 400, "FAILED_PRECONDITION"},
		{"OutOfRange", "POST", "/v1/enterprises/p/devices/t1:executeCommand", access, `{"command":"sdm.devices.commands.ThermostatTemperatureSetpoint.SetHeat","params":{"heatCelsius":40}}`, 400, "INVALID_ARGUMENT"},
		{"BadJSON", "POST", "/v1/enterprises/p/devices/t1:executeCommand", access, `{`, 400, "INVALID_ARGUMENT"},
		{"EcoWhenOff", "POST", "/v1/enterprises/p/devices/t2:executeCommand", other, `{"command":"sdm.devices.commands.ThermostatEco.SetMode","params":{"mode":"MANUAL_ECO"}}`, 400, "FAILED_PRECONDITION"},
		{"Refresh", "POST", "/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1//r"}, "client_id": {"cid"}, "client_secret": {"sec"}}.Encode(), 200, ""},
		{"RefreshWrongClient", "POST", "/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1//r"}, "client_id": {"cid"}, "client_secret": {"no"}}.Encode(), 401, "invalid_client"},
		{"RefreshUnknown", "POST", "/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"1//x"}, "client_id": {"cid"}, "client_secret": {"sec"}}.Encode(), 400, "invalid_grant"},
		{"WrongGrant", "POST", "/token", "", url.Values{"grant_type": {"password"}, "client_id": {"cid"}, "client_secret": {"sec"}}.Encode(), 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, v := do(tt.method, tt.path, tt.token, tt.body)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %v", code, tt.code, v)
			}
			switch {
			case tt.rpc == "":
			case strings.HasPrefix(tt.path, "/token"):
				if v["error"] != tt.rpc {
					t.Fatalf("error %v, want %s", v["error"], tt.rpc)
				}
			default:
				if status(v) != tt.rpc {
					t.Fatalf("error %v, want %s", v, tt.rpc)
				}
			}
		})
	}
	if th := s.Thermostats("1//r"); th[0].Heat != 22 {
		t.Errorf("SetHeat did not persist: %+v", th[0])
	}
	s.FailNext(429)
	if code, v := do("GET", "/v1/enterprises/p/devices", access, ""); code != 429 || status(v) != "RESOURCE_EXHAUSTED" {
		t.Errorf("injected 429: %d %v", code, v)
	}
	if code, _ := do("GET", "/v1/enterprises/p/devices", access, ""); code != 200 {
		t.Errorf("after the fault: %d", code)
	}
}
