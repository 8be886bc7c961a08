-- +goose Up
-- An HTTP idempotency claim is a lease: claim_token names the request that
-- holds it and claimed_at when it took it. A claim still in progress after
-- the lease (a process killed mid-request) may be taken over by a retry of
-- the same request; completing or releasing a claim needs its token.
alter table http_idempotency add column claim_token uuid;
alter table http_idempotency add column claimed_at timestamptz not null default now();
-- The streams a stored response was made from (loaded or written by its
-- commands): a permanent delete of one of them purges the response, which
-- may quote the stream's personal data.
alter table http_idempotency add column stream_ids uuid[];
create index http_idempotency_streams on http_idempotency using gin (stream_ids);
-- The same for the commands' own keys: the streams a keyed commit wrote.
alter table idempotency add column stream_ids uuid[];
create index idempotency_streams on idempotency using gin (stream_ids);
-- Expired keys are swept (Store.ExpireRequests) by their age.
create index idempotency_created on idempotency (created_at);
