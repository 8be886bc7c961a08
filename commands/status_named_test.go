package commands_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
)

// TestStatusByNameIsCreatedOnceOnFirstUse: creates and updates naming a
// status the tenant lacks add it to the pipeline in their own commit, once
// however many race, and conversion finds the one made that way.
func TestStatusByNameIsCreatedOnceOnFirstUse(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	keys := make([]domain.Status, 8)
	errs := make([]error, len(keys))
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.h.CreateLead(f.ctx, f.c, commands.CreateLead{StatusName: "Negotiation",
				Profile: domain.LeadProfile{Name: "N", Emails: []string{fmt.Sprintf("n%d@example.com", i)}}})
			keys[i], errs[i] = res.Status, err
		}()
	}
	wg.Wait()
	statuses, err := f.h.PipelineStatuses(f.ctx, f.c.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	var named []domain.PipelineStatus
	for _, s := range statuses {
		if strings.EqualFold(s.Name, "negotiation") {
			named = append(named, s)
		}
	}
	if len(named) != 1 || len(statuses) != 7 {
		t.Fatalf("pipeline %+v", statuses)
	}
	for i, k := range keys {
		if errs[i] != nil || k != named[0].Key {
			t.Fatalf("create %d: %v, status %q, want %q", i, errs[i], k, named[0].Key)
		}
	}

	// An update by name: the status Converted made now is the one
	// conversion moves the lead to later.
	id := f.lead(t, "U", "u@example.com")
	res, err := f.h.UpdateLead(f.ctx, f.c, id, commands.UpdateLead{StatusName: commands.ConvertedStatus,
		Edit: func(p domain.LeadProfile) (domain.LeadProfile, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.ConvertLead(f.ctx, f.c, id); err != nil {
		t.Fatal(err)
	}
	if statuses, err = f.h.PipelineStatuses(f.ctx, f.c.TenantID); err != nil || len(statuses) != 8 ||
		statuses[7].Key != res.Status || statuses[7].Name != commands.ConvertedStatus {
		t.Fatalf("pipeline %+v (%v), the update's status %q", statuses, err, res.Status)
	}
	// A name the tenant has already is only looked up (case ignored).
	res, err = f.h.UpdateLead(f.ctx, f.c, id, commands.UpdateLead{StatusName: "won",
		Edit: func(p domain.LeadProfile) (domain.LeadProfile, error) { return p, nil }})
	if err != nil || res.Status != "Won" {
		t.Fatalf("update to won: %v, %q", err, res.Status)
	}
}
