-- +goose Up
-- The event store: the events table is the source of truth and the outbox.
-- Readers follow commit order with (transaction_id, position) and only read
-- transactions older than the oldest running one, so no event is ever skipped.
create table events (
    position       bigint generated always as identity primary key,
    transaction_id xid8        not null default pg_current_xact_id(),
    tenant_id      uuid        not null,
    stream_type    text        not null,
    stream_id      uuid        not null,
    stream_version int         not null,
    event_id       uuid        not null unique,
    event_type     text        not null,
    schema_version int         not null,
    data           jsonb       not null,
    metadata       jsonb       not null,
    recorded_at    timestamptz not null default now(),
    redacted_at    timestamptz,
    unique (stream_id, stream_version)
);

create index events_commit_order_idx on events (transaction_id, position);

-- One row per stream: the append's optimistic concurrency check updates it,
-- which also serializes concurrent writers of one stream.
create table streams (
    stream_id   uuid primary key,
    tenant_id   uuid not null,
    stream_type text not null,
    version     int  not null
);

-- Tenant-wide unique values (normalized email, phone...) owned by a stream.
create table reservations (
    tenant_id uuid not null,
    kind      text not null,
    value     text not null,
    stream_id uuid not null,
    primary key (tenant_id, kind, value)
);

create index reservations_stream_id_idx on reservations (stream_id);

-- The result of each commit made with an idempotency key.
create table idempotency (
    tenant_id  uuid        not null,
    key        text        not null,
    result     jsonb       not null,
    created_at timestamptz default now(),
    primary key (tenant_id, key)
);

-- Where each reader of the global log (relay, projectors) has got to.
create table checkpoints (
    name       text primary key,
    tx         bigint      not null,
    pos        bigint      not null,
    updated_at timestamptz not null default now()
);

-- Per-tenant sequences (the integer ids some API dialects show).
create table counters (
    tenant_id uuid   not null,
    name      text   not null,
    value     bigint not null,
    primary key (tenant_id, name)
);

create table tenants (
    id         uuid primary key,
    name       text        not null unique,
    created_at timestamptz not null default now()
);

-- API keys are stored as their SHA-256 hash only; prefix is kept for display.
create table api_keys (
    id         uuid primary key,
    tenant_id  uuid        not null references tenants,
    prefix     text        not null,
    hash       bytea       not null unique,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
