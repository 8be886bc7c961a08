-- +goose Up
-- A permanent delete rewrites the redacted events in place, and their old
-- versions, personal data and all, stay in the table's pages as dead
-- tuples until a VACUUM prunes them. The events table is otherwise
-- append-only, so every dead tuple in it is a redaction; with the default
-- thresholds (50 tuples plus a fifth of the table) autovacuum would leave
-- them there until a fifth of the history had been redacted. With these,
-- any dead tuple makes the table due at autovacuum's next round
-- (autovacuum_naptime, a minute by default). Released reservations hold
-- normalized emails and phones, and get the same.
alter table events set (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0,
    toast.autovacuum_vacuum_threshold = 0, toast.autovacuum_vacuum_scale_factor = 0);
alter table reservations set (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
