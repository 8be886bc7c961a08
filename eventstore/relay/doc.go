// Package relay moves events from the Postgres event store (the outbox) into
// a NATS JetStream stream (its form: package wire), in commit order, exactly
// once in effect, and erases a deleted record's messages from it.
package relay
