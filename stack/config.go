// Package stack is the one place crm is wired: its configuration, read once
// from the environment, and the parts a running crm is made of (the
// Postgres pool, event store and LISTEN fan-out, the NATS connection, the
// relay, the projectors, the read-your-writes waiter and the HTTP API).
// cmd/crm, the benchmark and the end-to-end tests all build crm from here.
package stack

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/crmcore/crm/api"
	"github.com/crmcore/crm/requestlog"
	"github.com/crmcore/crm/wire"
)

// Defaults of the variables deploy/crm.env.example documents.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultRegion        = "IN"
	DefaultPhotoDir      = "./photos"
	DefaultMaxPhotoBytes = 5000000
	DefaultRateLimitKey  = "100:200"
	// DefaultRateLimitTenant is the per-tenant bucket: three keys' worth.
	DefaultRateLimitTenant = "300:600"
	// DefaultRateLimitIP lets a client IP have 20 missing or refused keys at
	// once and 2 a second after: a mistyped key is retried well within it, a
	// flood of guesses costs the key store 2 lookups a second.
	DefaultRateLimitIP = "2:20"
	// DefaultMetricsAddr is where serve and dev serve /metrics unless
	// CRM_METRICS_ADDR says otherwise: loopback, off the public API port.
	DefaultMetricsAddr = "127.0.0.1:9464"
)

// Config is everything crm reads from its environment. ConfigFromEnv reads
// it once; the benchmark and the tests change fields before Open.
type Config struct {
	DatabaseURL string // DATABASE_URL
	NATSURL     string // NATS_URL
	Addr        string // CRM_ADDR, default DefaultAddr
	Region      string // CRM_PHONE_REGION, default DefaultRegion
	// Stream is CRM_NATS_STREAM (default CRM_EVENTS), CRM_NATS_SUBJECTS
	// (default crm.events) and CRM_NATS_REPLICAS (1, or 3 for a cluster).
	Stream wire.StreamConfig
	// RelayBatch and ProjectorBatch are CRM_RELAY_BATCH_SIZE (default 1000)
	// and CRM_PROJECTOR_BATCH_SIZE (default 500): events per round trip.
	RelayBatch, ProjectorBatch int
	// RelayReaders is CRM_RELAY_READERS (default 1): batches of a backlog
	// the relay reads at once (relay.Config.Readers).
	RelayReaders int
	// PhotoDir holds uploaded lead photos (CRM_PHOTO_DIR; empty:
	// DefaultPhotoDir, and crm dev puts them in DATA/photos).
	PhotoDir string
	// MaxPhotoBytes caps an upload (CRM_MAX_PHOTO_BYTES, default 5 MB).
	MaxPhotoBytes int64
	// RateLimits bound each API key and tenant (CRM_RATE_LIMIT_KEY,
	// CRM_RATE_LIMIT_TENANT: LIMIT:BURST requests per second, or off) and
	// the refused keys of each client IP (CRM_RATE_LIMIT_IP).
	RateLimits api.RateLimits
	// IdempotencyLease is how long a request holds its Idempotency-Key in
	// progress before a retry may take it over (CRM_IDEMPOTENCY_LEASE,
	// default 30s).
	IdempotencyLease time.Duration
	// TrustedProxies may name the client in X-Forwarded-For
	// (CRM_TRUSTED_PROXIES: IPs and CIDRs, comma-separated; default none).
	TrustedProxies []string
	// MetricsAddr is CRM_METRICS_ADDR when MetricsAddrSet; see Metrics.
	MetricsAddr    string
	MetricsAddrSet bool
	// DevAPIKey is CRM_DEV_API_KEY, the default of crm dev's --api-key.
	DevAPIKey string
}

// ConfigFromEnv reads the environment once; a malformed value is an error
// naming its variable.
func ConfigFromEnv() (Config, error) {
	c := Config{
		DatabaseURL: os.Getenv("DATABASE_URL"),
		NATSURL:     os.Getenv("NATS_URL"),
		Addr:        envOr("CRM_ADDR", DefaultAddr),
		Region:      envOr("CRM_PHONE_REGION", DefaultRegion),
		Stream:      wire.DefaultStream,
		PhotoDir:    os.Getenv("CRM_PHOTO_DIR"),
		DevAPIKey:   os.Getenv("CRM_DEV_API_KEY"),
	}
	c.MetricsAddr, c.MetricsAddrSet = os.LookupEnv("CRM_METRICS_ADDR")
	if n := os.Getenv("CRM_NATS_REPLICAS"); n == "3" {
		c.Stream.Replicas = 3
	}
	c.Stream.Name = envOr("CRM_NATS_STREAM", c.Stream.Name)
	c.Stream.Subjects = envOr("CRM_NATS_SUBJECTS", c.Stream.Subjects)
	c.RelayBatch, _ = strconv.Atoi(os.Getenv("CRM_RELAY_BATCH_SIZE"))
	c.ProjectorBatch, _ = strconv.Atoi(os.Getenv("CRM_PROJECTOR_BATCH_SIZE"))
	c.RelayReaders, _ = strconv.Atoi(os.Getenv("CRM_RELAY_READERS"))

	maxPhoto, err := strconv.ParseInt(envOr("CRM_MAX_PHOTO_BYTES", strconv.Itoa(DefaultMaxPhotoBytes)), 10, 64)
	if err != nil || maxPhoto <= 0 {
		return Config{}, fmt.Errorf("CRM_MAX_PHOTO_BYTES: want a positive number of bytes")
	}
	c.MaxPhotoBytes = maxPhoto
	rates := []struct {
		name, def string
		to        *api.Rate
	}{
		{"CRM_RATE_LIMIT_KEY", DefaultRateLimitKey, &c.RateLimits.PerKey},
		{"CRM_RATE_LIMIT_TENANT", DefaultRateLimitTenant, &c.RateLimits.PerTenant},
		{"CRM_RATE_LIMIT_IP", DefaultRateLimitIP, &c.RateLimits.PerIP},
	}
	for _, r := range rates {
		if *r.to, err = api.ParseRate(envOr(r.name, r.def)); err != nil {
			return Config{}, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	lease, err := time.ParseDuration(envOr("CRM_IDEMPOTENCY_LEASE", requestlog.DefaultRequestLease.String()))
	if err != nil || lease <= 0 {
		return Config{}, fmt.Errorf("CRM_IDEMPOTENCY_LEASE: want a positive duration such as 30s")
	}
	c.IdempotencyLease = lease
	if c.TrustedProxies, err = api.ParseTrustedProxies(os.Getenv("CRM_TRUSTED_PROXIES")); err != nil {
		return Config{}, fmt.Errorf("CRM_TRUSTED_PROXIES: %w", err)
	}
	return c, nil
}

// Metrics is the address to serve /metrics on: CRM_METRICS_ADDR, def when
// it is unset; set and empty turns the metrics listener off.
func (c Config) Metrics(def string) string {
	if c.MetricsAddrSet {
		return c.MetricsAddr
	}
	return def
}

// Require says which of the named settings is missing.
func Require(name, value string) error {
	if value == "" {
		return fmt.Errorf("%s is not set", name)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
