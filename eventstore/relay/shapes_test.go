package relay_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmcore/crm/devenv/storetest"
	"github.com/crmcore/crm/wire"
)

// BenchmarkPublishShapes prices, with no event store at all, what the
// relay's messages ask of the server beyond the baseline's: PublishAsync of
// 20000 messages of about the relay's size, 1000 in flight, on one subject
// with no headers (plain, the `crm bench` baseline), on a subject per
// message (the relay's per-stream subjects), plus a Nats-Msg-Id (the
// duplicate window, which the relay no longer asks for), plus
// Nats-Expected-Last-Sequence, and with every header the relay sets (relay).
func BenchmarkPublishShapes(b *testing.B) {
	e := newEnv(b)
	n, size := 20000, 1030
	payload := make([]byte, size-250)
	for i := range payload {
		payload[i] = 'a'
	}
	for _, shape := range []string{"plain", "subjects", "msgid", "expectseq", "relay"} {
		b.Run(shape, func(b *testing.B) {
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				cfg := e.streamConfig(shape + strconv.Itoa(i))
				nc, err := nats.Connect(storetest.NATS(b))
				if err != nil {
					b.Fatal(err)
				}
				js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1000))
				if _, err := wire.EnsureStream(b.Context(), js, cfg); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for k := range n {
					m := nats.NewMsg(cfg.Subjects + ".bench")
					m.Data = payload
					if shape != "plain" {
						m.Subject = cfg.Subjects + ".t." + uuid.NewString()
					}
					if shape == "msgid" {
						m.Header.Set(nats.MsgIdHdr, uuid.NewString())
					}
					if shape == "expectseq" || shape == "relay" {
						m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.Itoa(k))
					}
					if shape == "relay" {
						m.Header.Set(jetstream.ExpectedStreamHeader, cfg.Name)
						m.Header.Set(wire.HeaderPosition, "123456.789012")
						m.Header.Set(wire.HeaderPrevious, "123456.789011")
					}
					if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
				<-js.PublishAsyncComplete()
				total += time.Since(start)
				nc.Close()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "msgs/s")
		})
	}
}
