-- +goose Up
-- A snapshot is an aggregate's state as of one version of its stream, so a
-- command folds the snapshot and the events after it instead of the whole
-- stream. One row per stream: the newest snapshot replaces the older one.
-- schema_version is the snapshot form's version: a reader ignores a
-- snapshot of another version and folds the stream from the start. A
-- snapshot holds personal data: redacting the stream deletes it.
create table snapshots (
    stream_id      uuid        primary key,
    tenant_id      uuid        not null,
    stream_type    text        not null,
    stream_version int         not null,
    schema_version int         not null,
    state          jsonb       not null,
    created_at     timestamptz not null default now()
);

-- The table schema version of each read model as deployed: a process whose
-- projection declares another version rebuilds it by replay before serving.
create table projection_versions (
    name       text        primary key,
    version    int         not null,
    updated_at timestamptz not null default now()
);
