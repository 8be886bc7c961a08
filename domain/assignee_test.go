package domain

import "testing"

// TestAssigneeIsAnEmailOrAUUID: an assignee is stored as a lower-cased
// email (Cratio, the Leads API) or a canonical UUID (the /dev/crm API);
// anything else is refused naming assigned_to.
func TestAssigneeIsAnEmailOrAUUID(t *testing.T) {
	for in, want := range map[string]string{
		" Sales@Example.com ":                  "sales@example.com",
		"0190A5A0-0000-7000-8000-00000000000F": "0190a5a0-0000-7000-8000-00000000000f",
		"0190a5a0-0000-7000-8000-000000000001": "0190a5a0-0000-7000-8000-000000000001",
	} {
		p, err := NormalizeProfile(LeadProfile{Name: "A", AssignedTo: in}, "IN")
		if err != nil || p.AssignedTo != want {
			t.Errorf("assigned_to %q: %q, %v; want %q", in, p.AssignedTo, err, want)
		}
	}
	for _, in := range []string{"bob", "0190a5a0000070008000000000000001", "{0190a5a0-0000-7000-8000-000000000001}", "Ann <ann@x.com>"} {
		_, err := NormalizeProfile(LeadProfile{Name: "A", AssignedTo: in}, "IN")
		refused, ok := err.(*NormalizeError)
		if !ok || refused.Entries[0].Field != "assigned_to" {
			t.Errorf("assigned_to %q: %v, want a refusal naming assigned_to", in, err)
		}
	}
}
