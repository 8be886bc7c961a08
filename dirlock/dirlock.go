// Package dirlock takes an exclusive lock on a folder for the life of a
// process: an OS file lock (flock) on a file in it, with a record of who
// holds it. A second process that would start servers on the same folder
// is refused at once and told who holds it; the kernel drops the lock when
// its holder exits, however it exits, so a killed holder leaves nothing
// stale behind.
package dirlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Holder is what the holding process records in the lock file.
type Holder struct {
	// PID is the holding process.
	PID int `json:"pid"`
	// Addr is where the holder serves, once it knows ("" until then).
	Addr string `json:"addr,omitempty"`
}

// HeldError reports that another process holds the lock.
type HeldError struct {
	// Path is the lock file.
	Path string
	// Holder is the holder's record; PID is 0 when it could not be read
	// (the holder had not written it yet).
	Holder Holder
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.Holder.PID > 0 {
		who = "pid " + strconv.Itoa(e.Holder.PID)
	}
	if e.Holder.Addr != "" {
		who += ", serving on " + e.Holder.Addr
	}
	return fmt.Sprintf("%s is locked by %s", e.Path, who)
}

// Lock is a held lock; Release gives it up.
type Lock struct {
	e    *entry
	once sync.Once
}

// entry is one lock file this process holds, shared by every Lock on it:
// the lock keeps other processes out, and parts of one process (a test
// that restarts a cluster it owns) may take it again.
type entry struct {
	path string
	f    *os.File
	refs int
}

var (
	mu   sync.Mutex
	held = map[string]*entry{}
)

// recordSize is the fixed length of the record: rewritten in place at
// offset 0 and never truncated while held, so a reader sees a whole record.
const recordSize = 256

// Acquire takes the lock on the file at path (created if missing) without
// waiting. When another process holds it, it returns a *HeldError naming
// the holder. Within this process the lock is shared: a second Acquire
// succeeds and keeps the first holder's record.
func Acquire(path string, h Holder) (*Lock, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("dirlock: resolve %s: %w", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if e := held[abs]; e != nil {
		e.refs++
		return &Lock{e: e}, nil
	}
	// os.OpenFile sets O_CLOEXEC: servers started by the holder (pg_ctl)
	// do not inherit the lock and outlive it.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dirlock: open %s: %w", abs, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Path: abs, Holder: readHolder(abs)}
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", abs, err)
	}
	e := &entry{path: abs, f: f, refs: 1}
	if err := e.write(h); err != nil {
		f.Close()
		return nil, err
	}
	held[abs] = e
	return &Lock{e: e}, nil
}

// Update rewrites the holder's record (once it knows its address).
func (l *Lock) Update(h Holder) error {
	mu.Lock()
	defer mu.Unlock()
	return l.e.write(h)
}

// Release gives the lock up once every Acquire of this process on the
// file has released it; later calls do nothing.
func (l *Lock) Release() error {
	var err error
	l.once.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		if l.e.refs--; l.e.refs > 0 {
			return
		}
		delete(held, l.e.path)
		// Emptied, not removed: a process that opened the file meanwhile
		// must lock the same inode as the next one will.
		err = errors.Join(l.e.f.Truncate(0), l.e.f.Close())
	})
	return err
}

func (e *entry) write(h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("dirlock: %w", err)
	}
	if len(b) >= recordSize {
		return fmt.Errorf("dirlock: holder record of %d bytes is too long", len(b))
	}
	rec := bytes.Repeat([]byte{' '}, recordSize)
	copy(rec, b)
	rec[recordSize-1] = '\n'
	if _, err := e.f.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("dirlock: write %s: %w", e.path, err)
	}
	return nil
}

// readHolder reads the record of the process holding path. A holder writes
// it right after taking the lock, so an empty file is retried briefly.
func readHolder(path string) Holder {
	for range 50 {
		b, err := os.ReadFile(path)
		if err != nil {
			return Holder{}
		}
		var h Holder
		if json.Unmarshal(bytes.TrimSpace(b), &h) == nil && h.PID > 0 {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Holder{}
}
