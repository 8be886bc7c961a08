-- +goose Up
-- The first response to each POST made with an Idempotency-Key (Stripe's
-- rules): a retry with the same key and the same request gets it back for
-- 24 hours; the same key with another request is refused. A row without a
-- status is a request still running.
create table http_idempotency (
    tenant_id    uuid        not null,
    key          text        not null,
    fingerprint  bytea       not null,
    status       integer,
    header       jsonb,
    body         bytea,
    created_at   timestamptz not null default now(),
    primary key (tenant_id, key)
);
create index http_idempotency_created on http_idempotency (created_at);
