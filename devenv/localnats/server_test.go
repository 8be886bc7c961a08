package localnats_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/localnats"
	"github.com/crmcore/crm/devenv/storetest"
)

func start(t *testing.T, dir string) *localnats.Server {
	t.Helper()
	s, err := localnats.Start(localnats.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRestartKeepsStreams(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	js := storetest.JetStream(t, s.URL())
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(t.Context(), "events.lead", []byte("lead created"))
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()

	s = start(t, dir)
	t.Cleanup(s.Shutdown)
	stream, err := storetest.JetStream(t, s.URL()).Stream(t.Context(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetMsg(t.Context(), ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "lead created" || msg.Subject != "events.lead" {
		t.Fatalf("message %d after restart = %s %q, want events.lead %q", ack.Sequence, msg.Subject, msg.Data, "lead created")
	}
}

func TestStartPicksFreePort(t *testing.T) {
	a, b := start(t, t.TempDir()), start(t, t.TempDir())
	t.Cleanup(a.Shutdown)
	t.Cleanup(b.Shutdown)
	if a.URL() == b.URL() || a.URL() == "nats://127.0.0.1:4222" {
		t.Fatalf("servers listen on %s and %s, want two free ports", a.URL(), b.URL())
	}
}
