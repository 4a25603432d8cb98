package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPUShare is where the machine's CPU went during one measured run: in
// smsbot's processes, in the PostgreSQL server processes that served
// them, in the bench process (the load, the stand-ins), and in everything
// else on the machine.
type CPUShare struct {
	Ops      int
	Wall     time.Duration
	Smsbot   time.Duration
	Database time.Duration // PostgreSQL backends of smsbot's connections
	Bench    time.Duration
	Machine  time.Duration // every core's busy time, from /proc/stat
}

// Other is the busy time of the machine outside the processes measured:
// other work on a shared machine, and PostgreSQL's own background
// processes.
func (c CPUShare) Other() time.Duration {
	return max(0, c.Machine-c.Smsbot-c.Database-c.Bench)
}

// PerOp is d spread over the run's operations.
func (c CPUShare) PerOp(d time.Duration) time.Duration {
	if c.Ops == 0 {
		return 0
	}
	return d / time.Duration(c.Ops)
}

// Cores is d over the wall time: how many cores it kept busy.
func (c CPUShare) Cores(d time.Duration) float64 {
	if c.Wall <= 0 {
		return 0
	}
	return d.Seconds() / c.Wall.Seconds()
}

// cpuSnapshot is the CPU time of some processes and of the machine.
type cpuSnapshot struct {
	at      time.Time
	smsbot  map[int]time.Duration
	db      map[int]time.Duration
	bench   time.Duration
	machine time.Duration
}

// cpuMeter reads the CPU time of a target's processes.
type cpuMeter struct {
	smsbot []int                                // smsbot's process ids
	db     func(context.Context) ([]int, error) // the PostgreSQL backends; nil for SQLite
}

func (m cpuMeter) snapshot(ctx context.Context) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now(), smsbot: map[int]time.Duration{}, db: map[int]time.Duration{}}
	var err error
	for _, pid := range m.smsbot {
		if s.smsbot[pid], err = procCPU(pid); err != nil {
			return s, err
		}
	}
	if m.db != nil {
		pids, err := m.db(ctx)
		if err != nil {
			return s, err
		}
		for _, pid := range pids {
			if t, err := procCPU(pid); err == nil { // a backend may just have ended
				s.db[pid] = t
			}
		}
	}
	if s.bench, err = procCPU(os.Getpid()); err != nil {
		return s, err
	}
	s.machine, err = machineBusy()
	return s, err
}

// since is the CPU used from a to s, over ops operations.
func (s cpuSnapshot) since(a cpuSnapshot, ops int) CPUShare {
	c := CPUShare{Ops: ops, Wall: s.at.Sub(a.at), Bench: s.bench - a.bench, Machine: s.machine - a.machine}
	for pid, t := range s.smsbot {
		c.Smsbot += t - a.smsbot[pid]
	}
	for pid, t := range s.db {
		c.Database += t - a.db[pid] // a backend that started meanwhile counts whole
	}
	return c
}

// measureCPU takes a snapshot after warmup and another d later, the
// measured part of a closed loop started now; the result comes on the
// channel without Ops, which the caller fills in.
func measureCPU(ctx context.Context, m cpuMeter, warmup, d time.Duration) <-chan cpuResult {
	ch := make(chan cpuResult, 1)
	go func() {
		var r cpuResult
		defer func() { ch <- r }()
		if r.err = sleepCtx(ctx, warmup); r.err != nil {
			return
		}
		a, err := m.snapshot(ctx)
		if r.err = err; err != nil {
			return
		}
		if r.err = sleepCtx(ctx, d); r.err != nil {
			return
		}
		b, err := m.snapshot(ctx)
		if r.err = err; err != nil {
			return
		}
		r.share = b.since(a, 0)
	}()
	return ch
}

type cpuResult struct {
	share CPUShare
	err   error
}

// procCPU is a process's user and system time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// utime and stime are fields 14 and 15; f[0] is field 3 (state).
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineBusy is the time every core spent not idle, from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal guest guest_nice:
	// busy is user to softirq but idle and iowait (steal is another
	// machine's, guest time is in user already).
	var ticks int64
	for i, s := range f[1:] {
		if i == 3 || i == 4 || i >= 7 {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
