// Package e2e holds crm's end-to-end tests and nothing else: each API
// dialect's behaviour through real HTTP (every response checked against its
// OpenAPI document), cross-API visibility, faults, crashes, tenant
// isolation, idempotency, erasure, bursts and memory, on real Postgres and
// real NATS. crm runs in the test process, built by package stack, or as
// the crm binary in a child process where a test must kill it.
package e2e
