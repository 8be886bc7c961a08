package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux crm runs on).
const clockTick = 10 * time.Millisecond

// cpuMeter reads the CPU time used so far by this process (crm's API,
// relay, projectors, the embedded NATS and the bench's own clients) and by
// the private Postgres cluster: the postmaster, its live children and the
// children it has reaped. CPU time, unlike wall time, hardly moves with the
// other load on a shared machine, so it says where a workload's cost goes.
type cpuMeter struct {
	pgData string // empty when Postgres is not ours to measure
}

// cpuSample is CPU time used up to one moment.
type cpuSample struct {
	self, pg time.Duration
	pgOK     bool
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	if f, err := procStat("self"); err == nil {
		s.self = f.utime + f.stime
	}
	if m.pgData == "" {
		return s
	}
	raw, err := os.ReadFile(filepath.Join(m.pgData, "postmaster.pid"))
	if err != nil {
		return s
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		return s
	}
	pm, err := procStat(strconv.Itoa(pid))
	if err != nil {
		return s
	}
	s.pg = pm.utime + pm.stime + pm.cutime + pm.cstime
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if f, err := procStat(e.Name()); err == nil && f.ppid == pid {
			s.pg += f.utime + f.stime
		}
	}
	s.pgOK = true
	return s
}

// sub is the CPU time used between from and s.
func (s cpuSample) sub(from cpuSample) cpuSample {
	return cpuSample{self: s.self - from.self, pg: s.pg - from.pg, pgOK: s.pgOK && from.pgOK}
}

// per describes the CPU time per operation of n operations.
func (s cpuSample) per(n int64) string {
	if n <= 0 {
		return "—"
	}
	out := fmt.Sprintf("%s in this process", msPer(s.self, n))
	if s.pgOK {
		out += fmt.Sprintf(" + %s in Postgres", msPer(s.pg, n))
	}
	return out
}

func msPer(d time.Duration, n int64) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/float64(n))
}

type procFields struct {
	ppid                         int
	utime, stime, cutime, cstime time.Duration
}

// procStat reads /proc/<pid>/stat.
func procStat(pid string) (procFields, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procFields{}, err
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procFields{}, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
	if len(f) < 15 {
		return procFields{}, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	num := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procFields{
		ppid:   int(num(4)),
		utime:  time.Duration(num(14)) * clockTick,
		stime:  time.Duration(num(15)) * clockTick,
		cutime: time.Duration(num(16)) * clockTick,
		cstime: time.Duration(num(17)) * clockTick,
	}, nil
}
