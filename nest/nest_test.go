package nest_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/nest/sdmtest"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func TestPlugin_Handle(t *testing.T) {
	heatcool := func(e *env) {
		e.update("den", func(th *sdmtest.Thermostat) { th.Mode, th.Heat, th.Cool = "HEATCOOL", 19, 24 })
	}
	tests := []struct {
		name  string
		setup func(*env)
		text  string
		want  string // the whole reply
		check func(*testing.T, *env)
		calls int // commands the stand-in must have received (-1: don't check)
	}{
		// GT: every thermostat, each scale in its own unit.
		{name: "GT", text: "GT", want: "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"},
		{name: "GTLowercase", text: "gt", want: "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"},
		{name: "GTRoom", text: "GT den", want: "Den 19.5C 45% heat 20 heating"},
		{name: "GTRoomUppercase", text: "GT BEDROOM", want: "Bedroom 75F 40% cool 72 cooling"},
		{name: "GTPrefix", text: "GT bed", want: "Bedroom 75F 40% cool 72 cooling"},
		{name: "GTCustomName", text: "GT hallway", want: "Den 19.5C 45% heat 20 heating"},
		{name: "GTUnknown", text: "GT kitchen", want: `No thermostat "kitchen". Yours: Den, Bedroom`},
		{name: "GTAmbiguous", setup: func(e *env) {
			e.sdm.AddUser(aliceRefresh, sdmtest.Thermostat{ID: "dining", Room: "Dining", Scale: "CELSIUS", Mode: "OFF", Ambient: 18})
		}, text: "GT d", want: `"d" could be Den, Dining. Send more of the name.`},
		{name: "GTExactBeatsPrefix", setup: func(e *env) {
			e.sdm.AddUser(aliceRefresh, sdmtest.Thermostat{ID: "den2", Room: "Den 2", Scale: "CELSIUS", Mode: "OFF", Ambient: 18})
		}, text: "GT den", want: "Den 19.5C 45% heat 20 heating"},
		{name: "GTOff", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Mode = "OFF" }) }, text: "GT den", want: "Den 19.5C 45% off"},
		{name: "GTEco", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Eco = true }) }, text: "GT den", want: "Den 19.5C 45% eco 16-28"},
		{name: "GTHeatCool", setup: heatcool, text: "GT den", want: "Den 19.5C 45% heatcool 19-24"},
		{name: "GTOffline", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Offline = true }) }, text: "GT", want: "Den offline\nBedroom 75F 40% cool 72 cooling"},
		{name: "GTNone", setup: func(e *env) { e.idp.set(alice, e.sdm.AddUser("1//empty"), "1//empty") }, text: "GT", want: "No thermostats visible. Allow access at Google's Partner Connections page, then send GT."},

		// ST in each scale, with and without a unit.
		{name: "STCelsius", text: "ST den 21", want: "Den: heat set to 21C", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Heat != 21 {
				t.Errorf("heat %v", th.Heat)
			}
		}},
		{name: "STHalfDegree", text: "st Den 19.5", want: "Den: heat set to 19.5C", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Heat != 19.5 {
				t.Errorf("heat %v", th.Heat)
			}
		}},
		{name: "STFahrenheitOnCelsius", text: "ST den 68F", want: "Den: heat set to 20C", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); !near(th.Heat, 20) {
				t.Errorf("heat %v", th.Heat)
			}
		}},
		{name: "STFahrenheit", text: "ST bedroom 70", want: "Bedroom: cool set to 70F", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("bedroom"); !near(th.Cool, 21.11) {
				t.Errorf("cool %v", th.Cool)
			}
		}},
		{name: "STCelsiusOnFahrenheit", text: "ST bedroom 21 c", want: "Bedroom: cool set to 70F", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("bedroom"); th.Cool != 21 {
				t.Errorf("cool %v", th.Cool)
			}
		}},
		{name: "STRange", setup: heatcool, text: "ST den 19-23", want: "Den: heatcool set to 19-23C", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Heat != 19 || th.Cool != 23 {
				t.Errorf("range %v-%v", th.Heat, th.Cool)
			}
		}},
		{name: "STRangeFahrenheit", setup: func(e *env) {
			e.update("bedroom", func(th *sdmtest.Thermostat) { th.Mode = "HEATCOOL" })
		}, text: "ST bedroom 66-74", want: "Bedroom: heatcool set to 66-74F", calls: 1},
		{name: "STSingleInHeatCool", setup: heatcool, text: "ST den 20", want: "Den is in heatcool mode: send a range, like ST den 19-23."},
		{name: "STRangeInHeat", text: "ST den 19-23", want: "Den is in heat mode: send one temperature, like ST den 20."},
		{name: "STRangeBackwards", setup: heatcool, text: "ST den 23-19", want: "Send the low end first, like ST den 19-23."},
		{name: "STTooHot", text: "ST den 33", want: "Pick 9-32C."},
		{name: "STTooCold", text: "ST den 8.5", want: "Pick 9-32C."},
		{name: "STTooHotF", text: "ST bedroom 90", want: "Pick 49-89F."},
		{name: "STTooColdF", text: "ST bedroom 48F", want: "Pick 49-89F."},
		{name: "STNineIsFine", text: "ST den 9", want: "Den: heat set to 9C", calls: 1},
		{name: "STOff", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Mode = "OFF" }) }, text: "ST den 20", want: "Den is off; send MODE den heat first."},
		{name: "STEco", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Eco = true }) }, text: "ST den 20", want: "Den is in Eco mode; send MODE den heat first."},
		{name: "STOffline", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Offline = true }) }, text: "ST den 20", want: "Den is offline."},
		{name: "STNoValue", text: "ST den", want: "Send ST room 20 (or 68F; 19-23 in heatcool)."},
		{name: "STNotANumber", text: "ST den warm", want: "Send ST room 20 (or 68F; 19-23 in heatcool)."},
		{name: "STNeedsName", text: "ST 20", want: "Which one? Den, Bedroom"},
		{name: "STOnlyOne", setup: func(e *env) { e.idp.set(alice, e.sdm.AddUser("1//one", den()), "1//one") }, text: "ST 22", want: "Den: heat set to 22C", calls: 1},

		// MODE, every mode.
		{name: "ModeCool", text: "MODE den cool", want: "Den: mode set to cool", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Mode != "COOL" {
				t.Errorf("mode %s", th.Mode)
			}
		}},
		{name: "ModeHeat", text: "mode bedroom HEAT", want: "Bedroom: mode set to heat", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("bedroom"); th.Mode != "HEAT" {
				t.Errorf("mode %s", th.Mode)
			}
		}},
		{name: "ModeHeatCool", text: "MODE den heatcool", want: "Den: mode set to heatcool", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Mode != "HEATCOOL" {
				t.Errorf("mode %s", th.Mode)
			}
		}},
		{name: "ModeOff", text: "MODE den off", want: "Den: mode set to off", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Mode != "OFF" {
				t.Errorf("mode %s", th.Mode)
			}
		}},
		{name: "ModeEco", text: "MODE den eco", want: "Den: mode set to eco", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); !th.Eco || th.Mode != "HEAT" {
				t.Errorf("eco %v mode %s", th.Eco, th.Mode)
			}
		}},
		{name: "ModeLeaveEco", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Eco = true }) }, text: "MODE den heat", want: "Den: mode set to heat", calls: 1, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Eco || th.Mode != "HEAT" {
				t.Errorf("eco %v mode %s", th.Eco, th.Mode)
			}
		}},
		{name: "ModeLeaveEcoToCool", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Eco = true }) }, text: "MODE den cool", want: "Den: mode set to cool", calls: 2, check: func(t *testing.T, e *env) {
			if th := e.thermostat("den"); th.Eco || th.Mode != "COOL" {
				t.Errorf("eco %v mode %s", th.Eco, th.Mode)
			}
		}},
		{name: "ModeSame", text: "MODE den heat", want: "Den is already in heat mode."},
		{name: "ModeUnavailable", setup: func(e *env) {
			e.update("den", func(th *sdmtest.Thermostat) { th.AvailableModes = []string{"HEAT", "OFF"} })
		}, text: "MODE den cool", want: "Den can't do cool (modes: heat, off)."},
		{name: "ModeUnknown", text: "MODE den fan", want: "Send MODE room heat, cool, heatcool, off or eco."},
		{name: "ModeEcoWhenOff", setup: func(e *env) { e.update("den", func(th *sdmtest.Thermostat) { th.Mode = "OFF" }) },
			text: "MODE den eco", want: "Den won't take that in its current mode; send GT den to check.", calls: 1},

		// What Google answers, in words.
		{name: "RateLimited", setup: func(e *env) { e.sdm.FailNext(429) }, text: "GT", want: "Google is limiting requests: try again in a minute."},
		{name: "Forbidden", setup: func(e *env) { e.sdm.FailNext(403) }, text: "GT", want: "The link to Google expired: send S to link again."},
		{name: "Revoked", setup: func(e *env) { e.sdm.Revoke(aliceRefresh) }, text: "GT", want: "The link to Google expired: send S to link again."},
		{name: "ServerError", setup: func(e *env) { e.sdm.FailNext(500) }, text: "GT", want: "Google's thermostat service failed; try again later."},
		{name: "NoGoogleIdentity", setup: func(e *env) { e.idp.tokens = map[string][2]string{} }, text: "GT", want: "This account has no Google link: send S and log in with Google."},
		{name: "ModeChangedElsewhere", setup: func(e *env) {
			e.send("GT") // the plugin now believes den heats
			e.update("den", func(th *sdmtest.Thermostat) { th.Mode = "COOL" })
		}, text: "ST den 21", want: "Den won't take that in its current mode; send GT den to check.", calls: 1},
		{name: "CommandOffline", setup: func(e *env) {
			e.send("GT")
			e.update("den", func(th *sdmtest.Thermostat) { th.Offline = true })
		}, text: "MODE den cool", want: "Den is offline.", calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			before := e.sdm.Requests().Command
			got := e.send(tt.text)
			if got != tt.want {
				t.Fatalf("%q:\n got %q\nwant %q", tt.text, got, tt.want)
			}
			if n := e.sdm.Requests().Command - before; n != tt.calls {
				t.Errorf("%d commands sent, want %d", n, tt.calls)
			}
			if bot.Segments(got) != 1 {
				t.Errorf("%q takes %d segments", got, bot.Segments(got))
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestPlugin_NotMine(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{"hello", "GTX", "STOPPED", "", "20"} {
		_, handled, err := e.plugin.Handle(context.Background(), bot.Request{UserID: alice, Text: text, Words: strings.Fields(text)})
		if handled || err != nil {
			t.Errorf("%q: handled %v, %v", text, handled, err)
		}
	}
	if n := e.sdm.Requests(); n != (sdmtest.Counts{}) {
		t.Errorf("requests %+v", n)
	}
}

func TestPlugin_Help(t *testing.T) {
	e := newEnv(t)
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	help, err := replies.Render(bot.ReplyHelpSub, bot.ReplyData{Name: "smsbot", Commands: e.plugin.Help()})
	if err != nil {
		t.Fatal(err)
	}
	if bot.Segments(help) != 1 || !strings.Contains(help, "MODE den") {
		t.Errorf("help %q: %d segments", help, bot.Segments(help))
	}
}

// A conversation stays consistent: what ST and MODE change is what GT
// shows, without waiting for any cache to expire.
func TestPlugin_Consistent(t *testing.T) {
	e := newEnv(t)
	steps := []struct{ text, want string }{
		{"GT", "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"},
		{"ST den 21", "Den: heat set to 21C"},
		{"MODE bedroom heat", "Bedroom: mode set to heat"},
		{"GT bedroom", "Bedroom 75F 40% heat 64"},
		{"ST bedroom 77", "Bedroom: heat set to 77F"},
		{"GT", "Den 19.5C 45% heat 21 heating\nBedroom 75F 40% heat 77 heating"},
		{"MODE den eco", "Den: mode set to eco"},
		{"GT den", "Den 19.5C 45% eco 16-28"},
	}
	for _, s := range steps {
		if got := e.send(s.text); got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.text, got, s.want)
		}
		e.clock.Advance(time.Second)
	}
}

// TestPlugin_Languages: the answers, errors and help come in the
// request's language; the GT line and the mode words stay as they are.
func TestPlugin_Languages(t *testing.T) {
	e := newEnv(t)
	say := func(code, body string) string {
		t.Helper()
		l, _ := bot.FindLanguage(code)
		reply, handled, err := e.plugin.Handle(context.Background(), bot.Request{Phone: "+5215512345678", UserID: alice, Text: body, Words: strings.Fields(body), Lang: l})
		if !handled {
			t.Fatalf("%q not handled", body)
		}
		var be *bot.Error
		if err != nil && !errors.As(err, &be) {
			t.Fatalf("%q: %v", body, err)
		} else if err != nil {
			reply = be.Message
		}
		return reply
	}
	for _, tt := range []struct{ code, body, want string }{
		{"es", "ST den 21", "Den: heat a 21C"},
		{"es", "GT kitchen", `No hay termostato "kitchen". Los tuyos: Den, Bedroom`},
		{"pt-BR", "MODE bedroom heat", "Bedroom: modo heat"},
		{"fr", "ST den 40", "Choisissez entre 9 et 32C."},
		{"de", "MODE den", "Senden Sie MODE Raum heat, cool, heatcool, off oder eco."},
		{"de", "GT den", "Den 19.5C 45% heat 21 heating"},
		{"en", "ST den 22", "Den: heat set to 22C"},
	} {
		if got := say(tt.code, tt.body); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.code, tt.body, got, tt.want)
		}
	}
	es, _ := bot.FindLanguage("es")
	if got := e.plugin.HelpIn(es); got != "GT = estado, ST sala 20, MODE sala heat/cool/off/eco" {
		t.Errorf("help in es: %q", got)
	}
	var _ bot.LocalHelp = e.plugin
}
