-- +goose Up
-- Durable timers: "do this at that time", written in the same transaction
-- as the event that schedules it (eventstore.StreamAppend.Within), fired by
-- the one active scheduler (package timers) in due order. Firing appends
-- through the command path and marks the row fired in the same commit, so a
-- crash or a second scheduler never fires a timer twice; a commit that ends
-- what a timer was waiting for (feedback received, a customer deleted)
-- cancels it in that commit.
create table timers (
    id           uuid        primary key,
    tenant_id    uuid        not null,
    kind         text        not null,
    stream_id    uuid        not null,
    due_at       timestamptz not null,
    payload      jsonb       not null default '{}',
    state        text        not null default 'pending'
                 check (state in ('pending', 'fired', 'skipped', 'cancelled')),
    attempts     int         not null default 0,
    retry_at     timestamptz,
    last_error   text        not null default '',
    created_at   timestamptz not null default now(),
    fired_at     timestamptz,
    cancelled_at timestamptz
);
-- The scheduler's scan: pending timers by due time, every tenant.
create index timers_due on timers (due_at, id) where state = 'pending';
-- "Run due work now" for one tenant and kind.
create index timers_tenant_due on timers (tenant_id, kind, due_at, id) where state = 'pending';
-- Cancelling a stream's pending timers.
create index timers_stream on timers (tenant_id, stream_id) where state = 'pending';
-- Deleting timers done long ago (Scheduler.Run, after timers.Retention).
create index timers_done on timers ((coalesce(fired_at, cancelled_at))) where state <> 'pending';
