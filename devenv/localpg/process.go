package localpg

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// holder is what the pid in a postmaster.pid is now.
type holder int

const (
	// holderGone: no such process; the postmaster cleans up after it.
	holderGone holder = iota
	// holderPostmaster: a live server process working in the data directory.
	holderPostmaster
	// holderImpostor: the pid exists but is not our server: a zombie that
	// nobody reaped (init in many containers reaps late or never) or a pid
	// reused by another program. The postmaster only asks kill(pid, 0), so
	// it refuses to start, and pg_ctl stop would signal the wrong process.
	holderImpostor
)

// lockHolder tells what pid, read from dataDir's postmaster.pid, is now.
func lockHolder(pid int, dataDir string) holder {
	if pid <= 0 {
		return holderGone
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return holderGone
	}
	proc := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(proc + "/stat")
	if err != nil {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			// No /proc (macOS): kill(pid, 0) is all we can know.
			return holderPostmaster
		}
		// It exited between the two calls.
		return holderGone
	}
	// Format: pid (comm) state ...; comm may itself contain parentheses.
	s := string(b)
	if end := strings.LastIndexByte(s, ')'); end >= 0 && end+2 < len(s) && (s[end+2] == 'Z' || s[end+2] == 'X') {
		return holderImpostor
	}
	// Server processes work in their data directory. A process we may not
	// inspect belongs to another user, so it is not our server either.
	if !worksIn(proc, dataDir) {
		return holderImpostor
	}
	return holderPostmaster
}

// worksIn reports whether the process at /proc path proc has dataDir as its
// working directory.
func worksIn(proc, dataDir string) bool {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return false
	}
	cwd, err := os.Readlink(proc + "/cwd")
	return err == nil && cwd == want
}

// dataDirInUse reports whether a live process works in dataDir. Every
// server process changes into its data directory, so this finds the
// backends of a killed postmaster that have not exited yet. Without /proc
// it answers true, the safe answer.
func dataDirInUse(dataDir string) bool {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		// Zombies and processes that exited meanwhile have no cwd.
		if worksIn(filepath.Join("/proc", p.Name()), dataDir) {
			return true
		}
	}
	return false
}
