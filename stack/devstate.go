package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// DevStateFile is the file crm dev leaves in its data folder for other
// commands (`crm keys --data DIR`, `crm replay --data DIR`) and the tests to
// find the database it runs on.
const DevStateFile = "dev.json"

// DevState is the content of DevStateFile.
type DevState struct {
	DatabaseURL string `json:"database_url"`
}

// WriteDevState records s in the data folder dir.
func WriteDevState(dir string, s DevState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, DevStateFile), append(b, '\n'), 0o600)
}

// ReadDevState reads what the crm dev running on the data folder dir left there.
func ReadDevState(dir string) (DevState, error) {
	b, err := os.ReadFile(filepath.Join(dir, DevStateFile))
	if err != nil {
		return DevState{}, fmt.Errorf("no crm dev data in %s (is crm dev running there?): %w", dir, err)
	}
	var s DevState
	if err := json.Unmarshal(b, &s); err != nil {
		return DevState{}, fmt.Errorf("%s: %w", DevStateFile, err)
	}
	return s, nil
}
