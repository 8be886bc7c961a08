package leadsapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/uuid"
)

// ErrPhotoNotFound is returned for a photo name the tenant has not stored.
var ErrPhotoNotFound = errors.New("photo not found")

// PhotoStore keeps the tenants' uploaded lead photos. Names are checked
// with validPhotoName before they reach a store.
type PhotoStore interface {
	// Save stores data under name for the tenant.
	Save(ctx context.Context, tenantID uuid.UUID, name string, data []byte) error
	// Exists reports whether the tenant has a photo called name.
	Exists(ctx context.Context, tenantID uuid.UUID, name string) (bool, error)
	// Delete removes the tenant's photo; ErrPhotoNotFound if it has none by that name.
	Delete(ctx context.Context, tenantID uuid.UUID, name string) error
}

// DirPhotoStore keeps photos as files in a folder, one subfolder per
// tenant. Files are reached through os.Root, so no name can leave the
// tenant's folder even if a check upstream missed it.
type DirPhotoStore struct {
	Dir string
}

// tenantRoot opens the tenant's folder, creating it (and Dir) if create.
func (s DirPhotoStore) tenantRoot(tenantID uuid.UUID, create bool) (*os.Root, error) {
	if s.Dir == "" {
		return nil, errors.New("no photo folder configured")
	}
	if create {
		if err := os.MkdirAll(s.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("photo folder: %w", err)
		}
	}
	base, err := os.OpenRoot(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("photo folder: %w", err)
	}
	defer base.Close()
	if create {
		if err := base.Mkdir(tenantID.String(), 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("photo folder of tenant: %w", err)
		}
	}
	return base.OpenRoot(tenantID.String())
}

// Save implements PhotoStore: it writes a temporary file and renames it,
// so a photo is never seen half written.
func (s DirPhotoStore) Save(_ context.Context, tenantID uuid.UUID, name string, data []byte) error {
	root, err := s.tenantRoot(tenantID, true)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := "." + name + ".part"
	if err := root.WriteFile(tmp, data, 0o640); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("save photo: %w", err)
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("save photo: %w", err)
	}
	return nil
}

// Exists implements PhotoStore.
func (s DirPhotoStore) Exists(_ context.Context, tenantID uuid.UUID, name string) (bool, error) {
	root, err := s.tenantRoot(tenantID, false)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer root.Close()
	info, err := root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat photo: %w", err)
	}
	return info.Mode().IsRegular(), nil
}

// Delete implements PhotoStore.
func (s DirPhotoStore) Delete(_ context.Context, tenantID uuid.UUID, name string) error {
	root, err := s.tenantRoot(tenantID, false)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrPhotoNotFound
	}
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(name); errors.Is(err, fs.ErrNotExist) {
		return ErrPhotoNotFound
	} else if err != nil {
		return fmt.Errorf("delete photo: %w", err)
	}
	return nil
}

// maxPhotoName bounds a photo's file name.
const maxPhotoName = 255

// validPhotoName accepts a bare file name: letters, digits, '.', '_' and
// '-', not starting with a dot, no "..". That refuses slashes, backslashes,
// absolute paths, NUL and every other way out of the tenant's folder.
func validPhotoName(name string) bool {
	if name == "" || len(name) > maxPhotoName || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-'
		if !ok || ch == '.' && i+1 < len(name) && name[i+1] == '.' {
			return false
		}
	}
	return true
}
