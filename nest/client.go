package nest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAPIURL is the base URL of Google's Smart Device Management API.
const DefaultAPIURL = "https://smartdevicemanagement.googleapis.com/v1"

// Trait and command names of the SDM API.
const (
	TraitInfo         = "sdm.devices.traits.Info"
	TraitTemperature  = "sdm.devices.traits.Temperature"
	TraitHumidity     = "sdm.devices.traits.Humidity"
	TraitMode         = "sdm.devices.traits.ThermostatMode"
	TraitHvac         = "sdm.devices.traits.ThermostatHvac"
	TraitSetpoint     = "sdm.devices.traits.ThermostatTemperatureSetpoint"
	TraitEco          = "sdm.devices.traits.ThermostatEco"
	TraitSettings     = "sdm.devices.traits.Settings"
	TraitConnectivity = "sdm.devices.traits.Connectivity"

	CmdSetHeat  = "sdm.devices.commands.ThermostatTemperatureSetpoint.SetHeat"
	CmdSetCool  = "sdm.devices.commands.ThermostatTemperatureSetpoint.SetCool"
	CmdSetRange = "sdm.devices.commands.ThermostatTemperatureSetpoint.SetRange"
	CmdSetMode  = "sdm.devices.commands.ThermostatMode.SetMode"
	CmdSetEco   = "sdm.devices.commands.ThermostatEco.SetMode"

	TypeThermostat = "sdm.devices.types.THERMOSTAT"
)

// Device is a device as the SDM API describes it.
type Device struct {
	Name            string           `json:"name"` // enterprises/{project}/devices/{id}
	Type            string           `json:"type"`
	Traits          Traits           `json:"traits"`
	ParentRelations []ParentRelation `json:"parentRelations,omitempty"`
}

// ParentRelation names the room (or structure) a device is in.
type ParentRelation struct {
	Parent      string `json:"parent"`
	DisplayName string `json:"displayName"`
}

// Traits are the thermostat traits smsbot reads. A trait the device does
// not report is nil.
type Traits struct {
	Info         *InfoTrait         `json:"sdm.devices.traits.Info,omitempty"`
	Temperature  *TemperatureTrait  `json:"sdm.devices.traits.Temperature,omitempty"`
	Humidity     *HumidityTrait     `json:"sdm.devices.traits.Humidity,omitempty"`
	Mode         *ModeTrait         `json:"sdm.devices.traits.ThermostatMode,omitempty"`
	Hvac         *HvacTrait         `json:"sdm.devices.traits.ThermostatHvac,omitempty"`
	Setpoint     *SetpointTrait     `json:"sdm.devices.traits.ThermostatTemperatureSetpoint,omitempty"`
	Eco          *EcoTrait          `json:"sdm.devices.traits.ThermostatEco,omitempty"`
	Settings     *SettingsTrait     `json:"sdm.devices.traits.Settings,omitempty"`
	Connectivity *ConnectivityTrait `json:"sdm.devices.traits.Connectivity,omitempty"`
}

// InfoTrait is sdm.devices.traits.Info.
type InfoTrait struct {
	CustomName string `json:"customName"`
}

// TemperatureTrait is sdm.devices.traits.Temperature.
type TemperatureTrait struct {
	AmbientCelsius float64 `json:"ambientTemperatureCelsius"`
}

// HumidityTrait is sdm.devices.traits.Humidity.
type HumidityTrait struct {
	AmbientPercent float64 `json:"ambientHumidityPercent"`
}

// ModeTrait is sdm.devices.traits.ThermostatMode: HEAT, COOL, HEATCOOL or
// OFF.
type ModeTrait struct {
	Mode           string   `json:"mode"`
	AvailableModes []string `json:"availableModes,omitempty"`
}

// HvacTrait is sdm.devices.traits.ThermostatHvac: OFF, HEATING or COOLING.
type HvacTrait struct {
	Status string `json:"status"`
}

// SetpointTrait is sdm.devices.traits.ThermostatTemperatureSetpoint. Only
// the setpoints of the current mode are present.
type SetpointTrait struct {
	HeatCelsius *float64 `json:"heatCelsius,omitempty"`
	CoolCelsius *float64 `json:"coolCelsius,omitempty"`
}

// EcoTrait is sdm.devices.traits.ThermostatEco: mode MANUAL_ECO or OFF.
type EcoTrait struct {
	AvailableModes []string `json:"availableModes,omitempty"`
	Mode           string   `json:"mode"`
	HeatCelsius    *float64 `json:"heatCelsius,omitempty"`
	CoolCelsius    *float64 `json:"coolCelsius,omitempty"`
}

// SettingsTrait is sdm.devices.traits.Settings: CELSIUS or FAHRENHEIT.
type SettingsTrait struct {
	TemperatureScale string `json:"temperatureScale"`
}

// ConnectivityTrait is sdm.devices.traits.Connectivity: ONLINE or OFFLINE.
type ConnectivityTrait struct {
	Status string `json:"status"`
}

// APIError is an error answer of the SDM API or of Google's token
// endpoint.
type APIError struct {
	HTTPStatus int
	Code       int    // error.code
	Status     string // error.status: NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ...
	Message    string // error.message
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sdm: %d %s: %s", e.HTTPStatus, e.Status, e.Message)
}

// Client calls the SDM REST API with a person's access token.
type Client struct {
	// BaseURL defaults to DefaultAPIURL.
	BaseURL string
	// HTTPClient defaults to a client with a 20 s timeout.
	HTTPClient *http.Client
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultAPIURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) http() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

var defaultHTTPClient = &http.Client{Timeout: 20 * time.Second}

// Devices lists the devices of the project the person granted access to.
func (c *Client) Devices(ctx context.Context, token, project string) ([]Device, error) {
	var out struct {
		Devices []Device `json:"devices"`
	}
	err := c.do(ctx, token, http.MethodGet, "/enterprises/"+url.PathEscape(project)+"/devices", nil, &out)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return out.Devices, nil
}

// Device reads one device by its full name.
func (c *Client) Device(ctx context.Context, token, name string) (*Device, error) {
	var d Device
	if err := c.do(ctx, token, http.MethodGet, "/"+name, nil, &d); err != nil {
		return nil, fmt.Errorf("get device: %w", err)
	}
	return &d, nil
}

// Execute runs a command on a device.
func (c *Client) Execute(ctx context.Context, token, name, command string, params map[string]any) error {
	body := map[string]any{"command": command, "params": params}
	if err := c.do(ctx, token, http.MethodPost, "/"+name+":executeCommand", body, nil); err != nil {
		return fmt.Errorf("execute %s: %w", command[strings.LastIndexByte(command, '.')+1:], err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base()+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return apiError(res.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// apiError reads Google's error shape {"error":{"code","message","status"}}.
func apiError(status int, body []byte) *APIError {
	e := &APIError{HTTPStatus: status, Code: status}
	var v struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && v.Error.Status != "" {
		e.Code, e.Status, e.Message = v.Error.Code, v.Error.Status, v.Error.Message
		return e
	}
	e.Status = http.StatusText(status)
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200]
	}
	return e
}

// asAPIError returns the *APIError in err's chain, or nil.
func asAPIError(err error) *APIError {
	var e *APIError
	if errors.As(err, &e) {
		return e
	}
	return nil
}
