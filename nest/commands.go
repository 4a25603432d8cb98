package nest

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Temperatures accepted by ST, in Celsius.
const (
	MinCelsius = 9.0
	MaxCelsius = 32.0
)

// get answers GT and GT name.
func (s *session) get(ctx context.Context, name string) (string, error) {
	if name == "" {
		devs, err := s.list(ctx, s.lim.Fresh, true)
		if err != nil {
			return "", err
		}
		if len(devs) == 0 {
			return "", s.refuse(bot.ENOTFOUND, mNone)
		}
		lines := make([]string, len(devs))
		for i, c := range devs {
			lines[i] = Line(c.d)
		}
		return strings.Join(lines, "\n"), nil
	}
	c, err := s.find(ctx, name)
	if err != nil {
		return "", err
	}
	if c, err = s.read(ctx, c); err != nil {
		return "", err
	}
	return Line(c.d), nil
}

var tempRE = regexp.MustCompile(`^(\d{1,3}(?:[.,]\d+)?)(?:-(\d{1,3}(?:[.,]\d+)?))?([CF])?$`)

// setting is a parsed ST value.
type setting struct {
	lo, hi  float64
	isRange bool
	unit    Scale // 0: the thermostat's
}

func parseSetting(s string) (setting, bool) {
	s = strings.ToUpper(strings.ReplaceAll(s, "°", ""))
	m := tempRE.FindStringSubmatch(s)
	if m == nil {
		return setting{}, false
	}
	num := func(v string) float64 {
		f, _ := strconv.ParseFloat(strings.ReplaceAll(v, ",", "."), 64)
		return f
	}
	st := setting{lo: num(m[1])}
	if m[2] != "" {
		st.hi, st.isRange = num(m[2]), true
	}
	if m[3] != "" {
		st.unit = Scale(m[3][0])
	}
	return st, true
}

// online finds the named thermostat, reads it fresh enough, and refuses
// one that is offline.
func (s *session) online(ctx context.Context, name string) (*cached, Device, string, error) {
	c, err := s.find(ctx, name)
	if err != nil {
		return nil, Device{}, "", err
	}
	if c, err = s.read(ctx, c); err != nil {
		return nil, Device{}, "", err
	}
	d := c.d
	if t := d.Traits.Connectivity; t != nil && t.Status == "OFFLINE" {
		return nil, Device{}, "", s.refuse(bot.EINVALID, mOffline, Name(d))
	}
	return c, d, Name(d), nil
}

// set answers ST [name] value.
func (s *session) set(ctx context.Context, args []string) (string, error) {
	// "ST den 20 C": the unit as its own word.
	if n := len(args); n >= 2 && (strings.EqualFold(args[n-1], "C") || strings.EqualFold(args[n-1], "F")) {
		args = append(args[:n-2:n-2], args[n-2]+args[n-1])
	}
	if len(args) == 0 {
		return "", s.refuse(bot.EINVALID, mSetUsage)
	}
	st, ok := parseSetting(args[len(args)-1])
	if !ok {
		return "", s.refuse(bot.EINVALID, mSetUsage)
	}
	c, d, name, err := s.online(ctx, strings.Join(args[:len(args)-1], " "))
	if err != nil {
		return "", err
	}
	low := strings.ToLower(name)
	mode := ""
	if d.Traits.Mode != nil {
		mode = d.Traits.Mode.Mode
	}
	switch {
	case d.Traits.Eco != nil && d.Traits.Eco.Mode == "MANUAL_ECO":
		return "", s.refuse(bot.EINVALID, mEcoFirst, name, low)
	case mode == "OFF" || mode == "":
		return "", s.refuse(bot.EINVALID, mOffFirst, name, low)
	case mode == "HEATCOOL" && !st.isRange:
		return "", s.refuse(bot.EINVALID, mWantRange, name, low)
	case mode != "HEATCOOL" && st.isRange:
		return "", s.refuse(bot.EINVALID, mWantOne, name, strings.ToLower(mode), low)
	}
	sc := ScaleOf(d)
	unit := st.unit
	if unit == 0 {
		unit = sc
	}
	lo, hi := unit.Celsius(st.lo), unit.Celsius(st.hi)
	vals := []float64{lo}
	if st.isRange {
		vals = append(vals, hi)
	}
	for _, v := range vals {
		if v < MinCelsius-0.01 || v > MaxCelsius+0.01 {
			if unit == Fahrenheit {
				return "", s.refuse(bot.EINVALID, mPickF)
			}
			return "", s.refuse(bot.EINVALID, mPickC)
		}
	}
	if st.isRange && lo >= hi {
		return "", s.refuse(bot.EINVALID, mLowFirst, low)
	}
	lo, hi = round2(lo), round2(hi)
	cmd, params, shown := CmdSetHeat, map[string]any{"heatCelsius": lo}, sc.Num(lo)
	switch mode {
	case "COOL":
		cmd, params = CmdSetCool, map[string]any{"coolCelsius": lo}
	case "HEATCOOL":
		cmd, params = CmdSetRange, map[string]any{"heatCelsius": lo, "coolCelsius": hi}
		shown += "-" + sc.Num(hi)
	}
	if err := s.execute(ctx, c, cmd, params); err != nil {
		return "", err
	}
	return s.say(mSetDone, name, strings.ToLower(mode), shown+string(sc)), nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// execute runs a command on a thermostat and makes its state stale.
func (s *session) execute(ctx context.Context, c *cached, cmd string, params map[string]any) error {
	err := s.call(ctx, callCommand, func(tok string) error {
		return s.p.Client.Execute(ctx, tok, c.d.Name, cmd, params)
	})
	c.at = time.Time{}
	if err != nil {
		return s.apiError(ctx, err, Name(c.d))
	}
	s.p.logger().InfoContext(ctx, "thermostat command", "command", cmd[strings.LastIndexByte(cmd, '.')+1:])
	return nil
}

// modes maps what a person writes to SDM's modes; "ECO" is the Eco trait.
var modes = map[string]string{
	"heat": "HEAT", "cool": "COOL", "heatcool": "HEATCOOL", "heat-cool": "HEATCOOL", "auto": "HEATCOOL",
	"off": "OFF", "eco": "ECO",
}

// mode answers MODE [name] mode.
func (s *session) mode(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 {
		return "", s.refuse(bot.EINVALID, mModeUsage)
	}
	want, ok := modes[strings.ToLower(args[len(args)-1])]
	if !ok {
		return "", s.refuse(bot.EINVALID, mModeUsage)
	}
	c, d, name, err := s.online(ctx, strings.Join(args[:len(args)-1], " "))
	if err != nil {
		return "", err
	}
	eco := d.Traits.Eco != nil && d.Traits.Eco.Mode == "MANUAL_ECO"
	cur := ""
	if d.Traits.Mode != nil {
		cur = d.Traits.Mode.Mode
	}
	word := strings.ToLower(want)
	if want == "ECO" {
		if d.Traits.Eco == nil {
			return "", s.refuse(bot.EINVALID, mNoEco, name)
		}
		if eco {
			return s.say(mAlreadyEco, name), nil
		}
		if err := s.execute(ctx, c, CmdSetEco, map[string]any{"mode": "MANUAL_ECO"}); err != nil {
			return "", err
		}
		return s.say(mModeSet, name, "eco"), nil
	}
	if d.Traits.Mode == nil || !slices.Contains(d.Traits.Mode.AvailableModes, want) {
		var avail []string
		if d.Traits.Mode != nil {
			for _, m := range d.Traits.Mode.AvailableModes {
				avail = append(avail, strings.ToLower(m))
			}
		}
		return "", s.refuse(bot.EINVALID, mCantDo, name, word, strings.Join(avail, ", "))
	}
	if !eco && cur == want {
		return s.say(mAlready, name, word), nil
	}
	if eco {
		if err := s.execute(ctx, c, CmdSetEco, map[string]any{"mode": "OFF"}); err != nil {
			return "", err
		}
	}
	if cur != want {
		if err := s.execute(ctx, c, CmdSetMode, map[string]any{"mode": want}); err != nil {
			return "", err
		}
	}
	return s.say(mModeSet, name, word), nil
}
