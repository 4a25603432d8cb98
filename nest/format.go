package nest

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Scale is how a thermostat shows temperatures.
type Scale byte

// The scales.
const (
	Celsius    Scale = 'C'
	Fahrenheit Scale = 'F'
)

// ScaleOf returns the thermostat's Settings.temperatureScale.
func ScaleOf(d Device) Scale {
	if d.Traits.Settings != nil && d.Traits.Settings.TemperatureScale == "FAHRENHEIT" {
		return Fahrenheit
	}
	return Celsius
}

// Num formats a Celsius temperature in the scale, without the unit:
// Celsius to the half degree, Fahrenheit to the degree.
func (sc Scale) Num(c float64) string {
	if sc == Fahrenheit {
		return strconv.FormatFloat(math.Round(c*9/5+32), 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(c*2)/2, 'f', -1, 64)
}

// Celsius converts a temperature in the scale to Celsius.
func (sc Scale) Celsius(v float64) float64 {
	if sc == Fahrenheit {
		return (v - 32) * 5 / 9
	}
	return v
}

// Line is one thermostat in as few characters as possible, such as
// "Den 20.5C 45% heat 21 heating" or "Den offline".
func Line(d Device) string {
	t := d.Traits
	name := Name(d)
	if t.Connectivity != nil && t.Connectivity.Status == "OFFLINE" {
		return name + " offline"
	}
	sc := ScaleOf(d)
	parts := []string{name}
	if t.Temperature != nil {
		parts = append(parts, sc.Num(t.Temperature.AmbientCelsius)+string(sc))
	}
	if t.Humidity != nil {
		parts = append(parts, strconv.FormatFloat(math.Round(t.Humidity.AmbientPercent), 'f', -1, 64)+"%")
	}
	parts = append(parts, modeText(d))
	if t.Hvac != nil && t.Hvac.Status != "" && t.Hvac.Status != "OFF" {
		parts = append(parts, strings.ToLower(t.Hvac.Status))
	}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " ")
}

// modeText is the mode and its setpoints: "heat 21", "heatcool 19-23",
// "eco 16-28", "off".
func modeText(d Device) string {
	t := d.Traits
	sc := ScaleOf(d)
	if t.Eco != nil && t.Eco.Mode == "MANUAL_ECO" {
		return "eco" + span(sc, t.Eco.HeatCelsius, t.Eco.CoolCelsius)
	}
	if t.Mode == nil {
		return ""
	}
	mode := strings.ToLower(t.Mode.Mode)
	var sp SetpointTrait
	if t.Setpoint != nil {
		sp = *t.Setpoint
	}
	switch t.Mode.Mode {
	case "HEAT":
		return mode + span(sc, sp.HeatCelsius, nil)
	case "COOL":
		return mode + span(sc, nil, sp.CoolCelsius)
	case "HEATCOOL":
		return mode + span(sc, sp.HeatCelsius, sp.CoolCelsius)
	}
	return mode
}

func span(sc Scale, lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return " " + sc.Num(*lo) + "-" + sc.Num(*hi)
	case lo != nil:
		return " " + sc.Num(*lo)
	case hi != nil:
		return " " + sc.Num(*hi)
	}
	return ""
}
