package imports_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/eventstore"
	"github.com/crmcore/crm/imports"
)

func TestAResumedJobKeepsItsSubmittersMetadata(t *testing.T) {
	ctx := context.Background()
	store := eventstore.New(storetest.MigratedPool(t), imports.Purge)
	caller := eventstore.Metadata{Actor: "key:k-1", APIKeyID: "k-1", API: "devcrm", RequestID: "req-1"}
	first := imports.New(store, imports.Options{Region: region, Batch: 100, Metadata: caller})
	// Another process, as a starting server resumes jobs: its own actor.
	other := imports.New(store, imports.Options{Region: region, Batch: 100,
		Metadata: eventstore.Metadata{Actor: "import", API: "devcrm"}})
	tenant := uuid.New()
	job, _, err := first.Submit(ctx, tenant, "m.csv", bytes.NewReader(leadsFile(1000, 0, "m")), true)
	if err != nil {
		t.Fatal(err)
	}
	// The submitter's process stops after a batch or two...
	stop, cancel := context.WithCancel(ctx)
	if _, err := first.Run(stop, tenant, job.ID, nil, func(imports.Job) { cancel() }); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	// ...and the other resumes the job from its stored file.
	done, err := other.Run(ctx, tenant, job.ID, nil, nil)
	if err != nil || done.State != imports.StateDone || done.RowsImported != 1000 {
		t.Fatalf("resumed: %+v %v", done, err)
	}
	assertLeads(t, store, tenant, 1000, false)
	rows, err := store.Pool().Query(ctx, `select metadata->>'actor', coalesce(metadata->>'api_key_id', ''), metadata->>'api',
			metadata->>'correlation_id', coalesce(metadata->>'request_id', ''), count(*)
		from events where tenant_id = $1 group by 1, 2, 3, 4, 5`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var resumed int
	for rows.Next() {
		var actor, key, api, corr, req string
		var n int
		if err := rows.Scan(&actor, &key, &api, &corr, &req, &n); err != nil {
			t.Fatal(err)
		}
		if actor != caller.Actor || key != caller.APIKeyID || api != caller.API || corr != job.ID.String() {
			t.Errorf("%d events by %q key %q api %q correlation %q; want the submitter's, correlated to job %s",
				n, actor, key, api, corr, job.ID)
		}
		// The request id is the running process's: the submitter's request
		// did not write the resumed rows.
		if req == "" {
			resumed += n
		} else if req != caller.RequestID {
			t.Errorf("%d events of request %q", n, req)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if resumed == 0 {
		t.Error("no event was written by the resuming importer")
	}
}
