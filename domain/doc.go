// Package domain holds crm's aggregates, events and value objects. It is pure:
// no I/O, no clock (times come in through commands), no imports of our own
// packages. Commands decide (state + command -> events); Apply evolves state
// from events, and is what loading a stream from the event store runs.
package domain
