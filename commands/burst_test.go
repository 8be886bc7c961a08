package commands_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/crmcore/crm/commands"
	"github.com/crmcore/crm/domain"
	"github.com/crmcore/crm/eventstore"
)

// TestBurstAcrossProcesses sends 64 creates with one phone at once through
// two handlers on two stores (as two crm processes would): each process's
// creates take turns, the two processes race, and the losers retry with
// backoff. All succeed: one creates the lead, the rest merge into it.
func TestBurstAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	handlers := []*commands.Handler{f.h, commands.New(eventstore.New(f.store.Pool()), "IN")}
	const n = 64
	results := make([]commands.LeadResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = handlers[i%2].CreateLead(f.ctx, f.c, commands.CreateLead{Profile: domain.LeadProfile{
				Name: fmt.Sprintf("Caller %d", i), Phones: []string{"+918040001000"},
				Emails: []string{fmt.Sprintf("caller%d@example.com", i)},
			}})
		})
	}
	close(start)
	wg.Wait()
	created, leads := 0, map[string]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
			continue
		}
		if !results[i].Merged {
			created++
		}
		leads[results[i].LeadID.String()] = true
	}
	if len(leads) != 1 {
		t.Errorf("the creates landed on %d leads, want 1", len(leads))
	}
	if created != 1 {
		t.Errorf("%d creates made a lead, want 1", created)
	}
}
