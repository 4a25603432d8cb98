package nest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// user is what the plugin keeps per person. Its mu serializes the person's
// commands.
type user struct {
	mu      sync.Mutex
	devices []*cached
	listed  time.Time
}

// cached is a device as last read, and when.
type cached struct {
	d  Device
	at time.Time // zero: stale
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
		return nil, s.apiError(ctx, err, "")
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
		return nil, s.apiError(ctx, err, Name(c.d))
	}
	c.d, c.at = *d, s.p.now()
	return c, nil
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
		return nil, s.refuse(bot.ENOTFOUND, mNone)
	}
	if name == "" {
		if len(devs) == 1 {
			return devs[0], nil
		}
		return nil, s.refuse(bot.EINVALID, mWhich, names(devs))
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
		return nil, s.refuse(bot.ENOTFOUND, mNoSuch, name, names(devs))
	}
	return nil, s.refuse(bot.EINVALID, mCouldBe, name, names(hits))
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
