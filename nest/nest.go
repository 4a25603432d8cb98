// Package nest controls Nest thermostats through Google's Smart Device
// Management (SDM) API: a REST client, the Google access tokens of a person
// (read from the identity provider, refreshed at Google's token endpoint)
// and the GT, ST and MODE commands as a bot.Plugin.
package nest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
)

var _ bot.Plugin = (*Plugin)(nil)

// Limits keep a person within SDM's per-user quotas (about 10 commands,
// 10 device reads and 5 device lists a minute) and say how long answers are
// reused.
type Limits struct {
	Commands, Gets, Lists int
	Window                time.Duration
	// Fresh is how long a device list or a device read is reused instead
	// of asking Google again. A command makes its device stale.
	Fresh time.Duration
	// Names is how long a device list is trusted to resolve names.
	Names time.Duration
}

// DefaultLimits returns SDM's documented per-user limits.
func DefaultLimits() Limits {
	return Limits{Commands: 10, Gets: 10, Lists: 5, Window: time.Minute, Fresh: 30 * time.Second, Names: 10 * time.Minute}
}

// Temperatures accepted by ST, in Celsius.
const (
	MinCelsius = 9.0
	MaxCelsius = 32.0
)

// Plugin is the thermostat command set: GT, ST and MODE.
type Plugin struct {
	Client  *Client
	Auth    *Auth
	Project string // the Device Access project id
	Limits  Limits
	Now     func() time.Time
	Logger  *slog.Logger

	mu    sync.Mutex
	users map[string]*user
}

// call kinds, each with its own limit.
const (
	callCommand = iota
	callGet
	callList
	callKinds
)

// user is what the plugin keeps per person. Its mu serializes the person's
// commands.
type user struct {
	mu      sync.Mutex
	devices []*cached
	listed  time.Time
	calls   [callKinds][]time.Time
}

// cached is a device as last read, and when.
type cached struct {
	d  Device
	at time.Time // zero: stale
}

// Help implements bot.Plugin.
func (p *Plugin) Help() string {
	return "GT = temps, ST den 20, MODE den heat/cool/off/eco"
}

func (p *Plugin) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Plugin) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Plugin) limits() Limits {
	l, d := p.Limits, DefaultLimits()
	if l.Commands <= 0 {
		l.Commands = d.Commands
	}
	if l.Gets <= 0 {
		l.Gets = d.Gets
	}
	if l.Lists <= 0 {
		l.Lists = d.Lists
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.Fresh <= 0 {
		l.Fresh = d.Fresh
	}
	if l.Names <= 0 {
		l.Names = d.Names
	}
	return l
}

func (p *Plugin) user(id string) *user {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == nil {
		p.users = make(map[string]*user)
	}
	u, ok := p.users[id]
	if !ok {
		u = &user{}
		p.users[id] = u
	}
	return u
}

// Handle implements bot.Plugin: GT [room], ST room temp, MODE room mode.
func (p *Plugin) Handle(ctx context.Context, req bot.Request) (string, bool, error) {
	if len(req.Words) == 0 {
		return "", false, nil
	}
	verb := strings.ToUpper(req.Words[0])
	if verb != "GT" && verb != "ST" && verb != "MODE" {
		return "", false, nil
	}
	if req.UserID == "" {
		return "", true, bot.Errorf(bot.EINVALID, "Send S to link this phone first.")
	}
	u := p.user(req.UserID)
	u.mu.Lock()
	defer u.mu.Unlock()
	s := &session{p: p, u: u, userID: req.UserID, lim: p.limits()}
	args := req.Words[1:]
	var reply string
	var err error
	switch verb {
	case "GT":
		reply, err = s.get(ctx, strings.Join(args, " "))
	case "ST":
		reply, err = s.set(ctx, args)
	case "MODE":
		reply, err = s.mode(ctx, args)
	}
	return reply, true, err
}

// session is one command of one person, under the person's lock.
type session struct {
	p      *Plugin
	u      *user
	userID string
	lim    Limits
	token  string
}

// Safe answers.
var (
	msgLinkExpired = "The link to Google expired: send S to link again."
	msgNoGoogle    = "This account has no Google link: send S and log in with Google."
	msgBusy        = "Google is limiting requests: try again in a minute."
	msgFailed      = "Google's thermostat service failed; try again later."
	msgNone        = "No thermostats visible. Allow access at Google's Partner Connections page, then send GT."
	msgSetUsage    = "Send ST room 20 (or 68F; 19-23 in heatcool)."
	msgModeUsage   = "Send MODE room heat, cool, heatcool, off or eco."
)

// call runs fn with an access token, within the person's limit for kind,
// refreshing the token once when Google refuses it.
func (s *session) call(ctx context.Context, kind int, fn func(token string) error) error {
	if err := s.allow(kind); err != nil {
		return err
	}
	if s.token == "" {
		t, err := s.p.Auth.Token(ctx, s.userID)
		if err != nil {
			return s.authError(err)
		}
		s.token = t
	}
	s.u.calls[kind] = append(s.u.calls[kind], s.p.now())
	err := fn(s.token)
	if e := asAPIError(err); e != nil && e.HTTPStatus == 401 {
		t, rerr := s.p.Auth.Refresh(ctx, s.userID)
		if rerr != nil {
			return s.authError(rerr)
		}
		s.token = t
		err = fn(s.token)
	}
	if e := asAPIError(err); e != nil {
		switch {
		case e.HTTPStatus == 401 || e.HTTPStatus == 403:
			s.p.Auth.Forget(s.userID)
			return &bot.Error{Code: bot.EEXPIRED, Message: msgLinkExpired}
		case e.HTTPStatus == 429 || e.Status == "RESOURCE_EXHAUSTED":
			return &bot.Error{Code: bot.ELIMIT, Message: msgBusy}
		}
	}
	return err
}

func (s *session) authError(err error) error {
	switch {
	case errors.Is(err, ErrLinkExpired):
		return &bot.Error{Code: bot.EEXPIRED, Message: msgLinkExpired}
	case noGoogle(err):
		return &bot.Error{Code: bot.ENOTFOUND, Message: msgNoGoogle}
	}
	return err
}

// allow checks the person's sliding-window limit for kind.
func (s *session) allow(kind int) error {
	now := s.p.now()
	calls := s.u.calls[kind]
	i := 0
	for i < len(calls) && !now.Before(calls[i].Add(s.lim.Window)) {
		i++
	}
	calls = calls[i:]
	s.u.calls[kind] = calls
	max, what := s.lim.Commands, "changes"
	switch kind {
	case callGet:
		max, what = s.lim.Gets, "reads"
	case callList:
		max, what = s.lim.Lists, "lists"
	}
	if len(calls) < max {
		return nil
	}
	wait := int(math.Ceil(calls[0].Add(s.lim.Window).Sub(now).Seconds()))
	return bot.Errorf(bot.ELIMIT, "Google allows %d thermostat %s a minute: try again in %ds.", max, what, max1(wait))
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// list returns the person's thermostats, listing them at Google unless the
// last list is younger than maxAge and, when fresh is set, nothing in it
// went stale.
func (s *session) list(ctx context.Context, maxAge time.Duration, fresh bool) ([]*cached, error) {
	now := s.p.now()
	if s.u.devices != nil && now.Sub(s.u.listed) < maxAge {
		ok := true
		if fresh {
			for _, c := range s.u.devices {
				ok = ok && !c.at.IsZero() && now.Sub(c.at) < s.lim.Fresh
			}
		}
		if ok {
			return s.u.devices, nil
		}
	}
	var devs []Device
	err := s.call(ctx, callList, func(tok string) error {
		var err error
		devs, err = s.p.Client.Devices(ctx, tok, s.p.Project)
		return err
	})
	if err != nil {
		return nil, s.apiError(err, "")
	}
	at := s.p.now()
	out := []*cached{}
	for _, d := range devs {
		if d.Type == TypeThermostat || d.Traits.Mode != nil {
			out = append(out, &cached{d: d, at: at})
		}
	}
	s.u.devices, s.u.listed = out, at
	return out, nil
}

// read returns c's state, reading it again when it is stale.
func (s *session) read(ctx context.Context, c *cached) (*cached, error) {
	if !c.at.IsZero() && s.p.now().Sub(c.at) < s.lim.Fresh {
		return c, nil
	}
	var d *Device
	err := s.call(ctx, callGet, func(tok string) error {
		var err error
		d, err = s.p.Client.Device(ctx, tok, c.d.Name)
		return err
	})
	if err != nil {
		return nil, s.apiError(err, Name(c.d))
	}
	c.d, c.at = *d, s.p.now()
	return c, nil
}

// apiError turns what Google answered into a safe answer. name is the
// thermostat concerned, if any.
func (s *session) apiError(err error, name string) error {
	e := asAPIError(err)
	if e == nil {
		return err
	}
	s.p.logger().Warn("sdm error", "status", e.HTTPStatus, "rpc", e.Status)
	if name == "" {
		name = "The thermostat"
	}
	offline := strings.Contains(strings.ToLower(e.Message), "offline")
	switch {
	case offline || e.Status == "UNAVAILABLE" && name != "The thermostat":
		s.stale()
		return bot.Errorf(bot.EINVALID, "%s is offline.", name)
	case e.Status == "FAILED_PRECONDITION":
		s.stale()
		return bot.Errorf(bot.EINVALID, "%s won't take that in its current mode; send GT %s to check.", name, strings.ToLower(name))
	case e.Status == "NOT_FOUND" || e.HTTPStatus == 404:
		s.u.devices = nil
		return bot.Errorf(bot.ENOTFOUND, "%s is no longer in your Google account.", name)
	case e.Status == "INVALID_ARGUMENT" || e.HTTPStatus == 400:
		s.stale()
		return bot.Errorf(bot.EINVALID, "%s refused that setting.", name)
	}
	return &bot.Error{Code: bot.EINTERNAL, Message: msgFailed}
}

// stale makes every cached device state stale (the names stay).
func (s *session) stale() {
	for _, c := range s.u.devices {
		c.at = time.Time{}
	}
}

// find resolves a name to one thermostat: a whole name first, else an
// unambiguous prefix, case-insensitive; "" means the only one.
func (s *session) find(ctx context.Context, name string) (*cached, error) {
	devs, err := s.list(ctx, s.lim.Names, false)
	if err != nil {
		return nil, err
	}
	if len(devs) == 0 {
		return nil, bot.Errorf(bot.ENOTFOUND, "%s", msgNone)
	}
	if name == "" {
		if len(devs) == 1 {
			return devs[0], nil
		}
		return nil, bot.Errorf(bot.EINVALID, "Which one? %s", names(devs))
	}
	want := fold(name)
	var hits []*cached
	for _, c := range devs {
		for _, n := range aliases(c.d) {
			if fold(n) == want {
				return c, nil
			}
		}
	}
	for _, c := range devs {
		for _, n := range aliases(c.d) {
			if strings.HasPrefix(fold(n), want) {
				hits = append(hits, c)
				break
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return nil, bot.Errorf(bot.ENOTFOUND, "No thermostat %q. Yours: %s", name, names(devs))
	}
	return nil, bot.Errorf(bot.EINVALID, "%q could be %s. Send more of the name.", name, names(hits))
}

func fold(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func names(devs []*cached) string {
	var out []string
	for _, c := range devs {
		out = append(out, Name(c.d))
	}
	return strings.Join(out, ", ")
}

// Name is the name a person uses for a thermostat: its room, else its
// custom name, else its id.
func Name(d Device) string {
	for _, r := range d.ParentRelations {
		if r.DisplayName != "" {
			return r.DisplayName
		}
	}
	if d.Traits.Info != nil && d.Traits.Info.CustomName != "" {
		return d.Traits.Info.CustomName
	}
	return d.Name[strings.LastIndexByte(d.Name, '/')+1:]
}

// aliases are the names a thermostat answers to.
func aliases(d Device) []string {
	out := []string{Name(d)}
	for _, r := range d.ParentRelations {
		out = append(out, r.DisplayName)
	}
	if d.Traits.Info != nil {
		out = append(out, d.Traits.Info.CustomName)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// get answers GT and GT name.
func (s *session) get(ctx context.Context, name string) (string, error) {
	if name == "" {
		devs, err := s.list(ctx, s.lim.Fresh, true)
		if err != nil {
			return "", err
		}
		if len(devs) == 0 {
			return "", bot.Errorf(bot.ENOTFOUND, "%s", msgNone)
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
		return nil, Device{}, "", bot.Errorf(bot.EINVALID, "%s is offline.", Name(d))
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
		return "", bot.Errorf(bot.EINVALID, "%s", msgSetUsage)
	}
	st, ok := parseSetting(args[len(args)-1])
	if !ok {
		return "", bot.Errorf(bot.EINVALID, "%s", msgSetUsage)
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
		return "", bot.Errorf(bot.EINVALID, "%s is in Eco mode; send MODE %s heat first.", name, low)
	case mode == "OFF" || mode == "":
		return "", bot.Errorf(bot.EINVALID, "%s is off; send MODE %s heat first.", name, low)
	case mode == "HEATCOOL" && !st.isRange:
		return "", bot.Errorf(bot.EINVALID, "%s is in heatcool mode: send a range, like ST %s 19-23.", name, low)
	case mode != "HEATCOOL" && st.isRange:
		return "", bot.Errorf(bot.EINVALID, "%s is in %s mode: send one temperature, like ST %s 20.", name, strings.ToLower(mode), low)
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
				return "", bot.Errorf(bot.EINVALID, "Pick 49-89F.")
			}
			return "", bot.Errorf(bot.EINVALID, "Pick 9-32C.")
		}
	}
	if st.isRange && lo >= hi {
		return "", bot.Errorf(bot.EINVALID, "Send the low end first, like ST %s 19-23.", low)
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
	return fmt.Sprintf("%s: %s set to %s%c", name, strings.ToLower(mode), shown, sc), nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// execute runs a command on a thermostat and makes its state stale.
func (s *session) execute(ctx context.Context, c *cached, cmd string, params map[string]any) error {
	err := s.call(ctx, callCommand, func(tok string) error {
		return s.p.Client.Execute(ctx, tok, c.d.Name, cmd, params)
	})
	c.at = time.Time{}
	if err != nil {
		return s.apiError(err, Name(c.d))
	}
	s.p.logger().Info("thermostat command", "command", cmd[strings.LastIndexByte(cmd, '.')+1:])
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
		return "", bot.Errorf(bot.EINVALID, "%s", msgModeUsage)
	}
	want, ok := modes[strings.ToLower(args[len(args)-1])]
	if !ok {
		return "", bot.Errorf(bot.EINVALID, "%s", msgModeUsage)
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
			return "", bot.Errorf(bot.EINVALID, "%s has no Eco mode.", name)
		}
		if eco {
			return fmt.Sprintf("%s is already in eco mode.", name), nil
		}
		if err := s.execute(ctx, c, CmdSetEco, map[string]any{"mode": "MANUAL_ECO"}); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: mode set to eco", name), nil
	}
	if d.Traits.Mode == nil || !slices.Contains(d.Traits.Mode.AvailableModes, want) {
		var avail []string
		if d.Traits.Mode != nil {
			for _, m := range d.Traits.Mode.AvailableModes {
				avail = append(avail, strings.ToLower(m))
			}
		}
		return "", bot.Errorf(bot.EINVALID, "%s can't do %s (modes: %s).", name, word, strings.Join(avail, ", "))
	}
	if !eco && cur == want {
		return fmt.Sprintf("%s is already in %s mode.", name, word), nil
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
	return fmt.Sprintf("%s: mode set to %s", name, word), nil
}
