package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// binaries are the PostgreSQL programs the cluster runs.
type binaries struct {
	initdb string
	pgCtl  string
}

// binDirGlobs are where distributions install PostgreSQL versions side by
// side, usually off PATH.
var binDirGlobs = []string{
	"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
	"/usr/pgsql-*/bin",                   // RHEL, Fedora (PGDG)
	"/opt/homebrew/opt/postgresql@*/bin", // macOS Homebrew, Apple silicon
	"/usr/local/opt/postgresql@*/bin",    // macOS Homebrew, Intel
}

var versionInPath = regexp.MustCompile(`(\d+)(?:\.(\d+))?`)

// findBinaries finds initdb and pg_ctl: PATH first, then the distribution
// directories, newest version first. When the data directory already holds
// a cluster of major version want, binaries of that version are preferred,
// because a server refuses a data directory of another major version.
func findBinaries(ctx context.Context, want string) (binaries, error) {
	var candidates []binaries
	if pgCtl, err := exec.LookPath("pg_ctl"); err == nil {
		initdb := filepath.Join(filepath.Dir(pgCtl), "initdb")
		if !isExecutable(initdb) {
			initdb, _ = exec.LookPath("initdb")
		}
		if initdb != "" {
			candidates = append(candidates, binaries{initdb: initdb, pgCtl: pgCtl})
		}
	}
	var dirs []string
	for _, g := range binDirGlobs {
		m, _ := filepath.Glob(g) // the patterns are valid
		dirs = append(dirs, m...)
	}
	slices.SortStableFunc(dirs, func(a, b string) int { return compareVersions(pathVersion(b), pathVersion(a)) })
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), pgCtl: filepath.Join(d, "pg_ctl")}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) {
			candidates = append(candidates, b)
		}
	}
	if len(candidates) == 0 {
		return binaries{}, errors.New("PostgreSQL not found: put initdb and pg_ctl on PATH or install PostgreSQL under /usr/lib/postgresql/<version>/bin")
	}
	if want == "" {
		return candidates[0], nil
	}
	for _, b := range candidates {
		if v, err := majorVersion(ctx, b.pgCtl); err == nil && v == want {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("the data directory was made by PostgreSQL %s, and no pg_ctl of that version was found (found %s)", want, candidates[0].pgCtl)
}

// majorVersion asks pg_ctl its version: "pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)".
func majorVersion(ctx context.Context, pgCtl string) (string, error) {
	out, err := exec.CommandContext(ctx, pgCtl, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", pgCtl, err)
	}
	_, after, _ := strings.Cut(string(out), ")")
	m := versionInPath.FindStringSubmatch(after)
	if m == nil {
		return "", fmt.Errorf("%s --version: unexpected output %q", pgCtl, out)
	}
	major, _ := strconv.Atoi(m[1])
	if major < 10 {
		// Before 10 the major version had two parts, as PG_VERSION records it.
		return m[1] + "." + m[2], nil
	}
	return m[1], nil
}

// pathVersion extracts the version from a directory such as
// /usr/lib/postgresql/15/bin.
func pathVersion(dir string) []int {
	var v []int
	for _, el := range strings.Split(dir, string(filepath.Separator)) {
		m := versionInPath.FindStringSubmatch(el)
		if m == nil {
			continue
		}
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			v = append(v, n)
		}
		return v
	}
	return v
}

func compareVersions(a, b []int) int { return slices.Compare(a, b) }

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
