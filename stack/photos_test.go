package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/api/leadsapi"
)

// TestPhotoFilesRemoveRefusesAMissingFolder: a projector that cannot see the
// photo folder fails (and retries) rather than skip a file it must remove;
// a file already gone is no error.
func TestPhotoFilesRemoveRefusesAMissingFolder(t *testing.T) {
	tenant := uuid.New()
	dir := t.TempDir()
	if err := (photoFiles{leadsapi.DirPhotoStore{Dir: filepath.Join(dir, "absent")}}).Remove(t.Context(), tenant, "a.png"); err == nil {
		t.Fatal("Remove in a folder that does not exist succeeded")
	}
	files := photoFiles{leadsapi.DirPhotoStore{Dir: dir}}
	if err := files.Remove(t.Context(), tenant, "a.png"); err != nil {
		t.Fatalf("Remove of a file already gone: %v", err)
	}
	if err := files.store.Save(t.Context(), tenant, "b.png", []byte("png")); err != nil {
		t.Fatal(err)
	}
	if err := files.Remove(t.Context(), tenant, "b.png"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tenant.String(), "b.png")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("b.png is still there: %v", err)
	}
}
