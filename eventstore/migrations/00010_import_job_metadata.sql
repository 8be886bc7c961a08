-- +goose Up
-- Who submitted an import job (eventstore.Metadata's actor, api and
-- api_key_id): the events of its rows carry it whichever process runs the
-- job, the one that took the upload or one that resumes it after a crash.
-- '{}' (the jobs from before): the running process's own.
alter table import_jobs add column metadata jsonb not null default '{}';
