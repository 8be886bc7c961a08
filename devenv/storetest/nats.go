package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS returns the URL of the NATS server with JetStream.
func NATS(t testing.TB) string {
	t.Helper()
	if env.natsURL != "" {
		return env.natsURL
	}
	if u := os.Getenv(NATSURLEnv); u != "" {
		return u
	}
	t.Fatal("storetest: no NATS: call storetest.Main from TestMain, or set " + NATSURLEnv)
	return ""
}

// Prefix returns a short lowercase alphanumeric prefix, unique to this
// test, for naming its JetStream streams, consumers and subjects, so tests
// in concurrent binaries sharing one NATS never meet. Stream names are the
// prefix upper-cased followed by "_"; those streams are deleted when the
// test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	prefix := "t" + randomHex(4)
	url := NATS(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		deleteStreams(ctx, t, url, strings.ToUpper(prefix))
	})
	return prefix
}

func deleteStreams(ctx context.Context, t testing.TB, url, namePrefix string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("storetest: delete streams %s*: %v", namePrefix, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("storetest: delete streams %s*: %v", namePrefix, err)
		return
	}
	names := js.StreamNames(ctx)
	var doomed []string
	for name := range names.Name() {
		if strings.HasPrefix(name, namePrefix) {
			doomed = append(doomed, name)
		}
	}
	if err := names.Err(); err != nil {
		t.Errorf("storetest: list streams: %v", err)
	}
	for _, name := range doomed {
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Errorf("storetest: delete stream %s: %v", name, err)
		}
	}
}

// randomHex returns n random bytes in lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return hex.EncodeToString(b)
}

// JetStream connects to the NATS server at url for this test and returns its
// JetStream context; the connection closes when the test ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
