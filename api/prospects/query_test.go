package prospects

import (
	"encoding/json"
	"testing"

	"github.com/crmcore/crm/projections/leads"
)

// TestSortByEnums: the OpenAPI document's sortBy enums are the columns the
// read model sorts by, and a column of one view only is refused by the other.
func TestSortByEnums(t *testing.T) {
	var doc struct {
		Components struct {
			Parameters map[string]struct {
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for param, valid := range map[string]func(string) bool{"KanbanSortBy": leads.ValidKanbanSort, "ListSortBy": leads.ValidListSort} {
		enum := doc.Components.Parameters[param].Schema.Enum
		if len(enum) == 0 {
			t.Fatalf("%s has no enum", param)
		}
		for _, by := range enum {
			if !valid(by) {
				t.Errorf("%s lists %q, which the read model refuses", param, by)
			}
		}
	}
	if leads.ValidListSort("name") || leads.ValidKanbanSort("days_uc") || leads.ValidKanbanSort("nope") {
		t.Error("a column of another view is accepted")
	}
}
