// Package localnats runs an embedded NATS server with JetStream, for
// `crm dev` and for integration tests, so neither needs a NATS install.
package localnats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/crmcore/crm/dirlock"
)

// readyTimeout bounds how long Start waits for the server to accept
// clients; JetStream first recovers its streams from Dir.
const readyTimeout = 10 * time.Second

// Options configures Start.
type Options struct {
	// Dir is the JetStream store; streams in it survive restarts.
	Dir string
	// Host is the address to listen on; empty means 127.0.0.1, so a dev
	// server is never reachable from the network.
	Host string
	// Port is the client port; 0 picks a free one, so the server never
	// collides with a NATS already running on 4222.
	Port int
}

// Server is a running embedded NATS server.
type Server struct {
	ns   *server.Server
	lock *dirlock.Lock
}

// lockFileName is the lock file in Dir that the owning process holds.
const lockFileName = "localnats.lock"

// Start starts the server and waits until it accepts clients. The store is
// the process's until Shutdown: while another live process serves from Dir,
// Start fails at once with a *dirlock.HeldError naming it, rather than run a
// second server on the same JetStream files.
func Start(o Options) (s *Server, err error) {
	if o.Dir == "" {
		return nil, errors.New("localnats: Options.Dir is empty")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("localnats: resolve %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localnats: create %s: %w", dir, err)
	}
	lock, err := dirlock.Acquire(filepath.Join(dir, lockFileName), dirlock.Holder{PID: os.Getpid()})
	if err != nil {
		return nil, fmt.Errorf("localnats: %s is in use by another process: %w", dir, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, lock.Release())
		}
	}()
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		// nats-server reads 0 as its default port 4222, and -1 as "any free port".
		port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "crm-localnats",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		// The embedding process owns its signals and its log.
		NoSigs: true,
		NoLog:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("localnats: configure server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("localnats: server on %s:%d not ready within %s", host, o.Port, readyTimeout)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("localnats: JetStream did not start with store %s", dir)
	}
	return &Server{ns: ns, lock: lock}, nil
}

// URL returns the client URL, e.g. nats://127.0.0.1:41234.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Shutdown stops the server and returns once it has stopped and flushed
// the JetStream store, so a new server may open the same Dir.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	// Releasing only empties and closes the lock file; nothing to report.
	_ = s.lock.Release()
}
