package localpg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// fallbackUser is created to run the server when the machine has no
// "postgres" user.
const fallbackUser = "crm-postgres"

// account is the unprivileged user the server runs as when we are root,
// because PostgreSQL refuses to run as root.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// serverAccount returns the "postgres" user, or crm-postgres, creating it
// if neither exists.
func serverAccount(ctx context.Context) (*account, error) {
	for _, name := range []string{"postgres", fallbackUser} {
		u, err := user.Lookup(name)
		if err == nil {
			return newAccount(u)
		}
		if !errors.As(err, new(user.UnknownUserError)) {
			return nil, fmt.Errorf("look up user %s: %w", name, err)
		}
	}
	out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", fallbackUser).CombinedOutput()
	// Exit status 9 means another process created the user first.
	var exitErr *exec.ExitError
	if err != nil && !(errors.As(err, &exitErr) && exitErr.ExitCode() == 9) {
		return nil, fmt.Errorf("create user %s to run PostgreSQL, which refuses to run as root: %w: %s", fallbackUser, err, out)
	}
	u, err := user.Lookup(fallbackUser)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", fallbackUser, err)
	}
	return newAccount(u)
}

func newAccount(u *user.User) (*account, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	a := &account{name: u.Username, uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}}
	ids, err := u.GroupIds()
	if err != nil {
		// Supplementary groups only widen access; the primary group suffices.
		return a, nil
	}
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil && !slices.Contains(a.groups, uint32(g)) {
			a.groups = append(a.groups, uint32(g))
		}
	}
	return a, nil
}

// credential makes a child process run as the account.
func (a *account) credential() *syscall.Credential {
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

func (a *account) chown(path string) error {
	if err := os.Lchown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, a.name, err)
	}
	return nil
}

// chownTree gives every file under root to the account, like chown -R,
// skipping files it already owns. A missing root is not an error.
func (a *account) chownTree(root string) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
			return nil
		}
		return a.chown(path)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// checkTraversable makes sure the account can reach dir: every directory
// above it must let the account search it.
func (a *account) checkTraversable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		var bit fs.FileMode
		switch {
		case st.Uid == a.uid:
			bit = 0o100
		case slices.Contains(a.groups, st.Gid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("PostgreSQL runs as user %s, which cannot enter %s (mode %v, owner uid %d): run chmod o+x %s, or choose a data folder elsewhere",
				a.name, p, fi.Mode().Perm(), st.Uid, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
