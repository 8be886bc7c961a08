-- +goose Up
-- CSV imports as durable jobs. A job is keyed by the SHA-256 of its file per
-- tenant and kind, so the same file uploaded twice finds the first job and
-- imports nothing again. A job's rows are cut into batches of batch_size
-- data rows (batch k holds rows k*batch_size+1 to (k+1)*batch_size); each
-- batch is imported in one transaction that also inserts its row in
-- import_batches, so a job killed mid-way resumes with the batches that
-- have no row, and a batch can never be imported twice (its key is taken).
-- The job's progress is the sum of its batches.
create table import_jobs (
    id              uuid        primary key,
    tenant_id       uuid        not null,
    kind            text        not null,
    sha256          bytea       not null,
    file_name       text        not null default '',
    size            bigint      not null,
    rows_total      bigint      not null,
    batch_size      int         not null,
    state           text        not null,
    ignored_columns text[]      not null default '{}',
    header          text[]      not null,
    error           text        not null default '',
    stored          boolean     not null default false,
    created_at      timestamptz not null default now(),
    started_at      timestamptz,
    updated_at      timestamptz not null default now(),
    finished_at     timestamptz,
    unique (tenant_id, kind, sha256)
);

create index import_jobs_unfinished on import_jobs (created_at) where state in ('queued', 'running');

create table import_batches (
    job_id     uuid        not null,
    batch      int         not null,
    rows       int         not null,
    imported   int         not null,
    failed     int         not null,
    created_at timestamptz not null default now(),
    primary key (job_id, batch)
);

-- The rows a job did not import, with why: the error CSV is rendered from
-- them. One row of the file may have several (one per field). lead_id is
-- the lead a duplicate row repeats: the row quotes that lead's email or
-- phone, so a permanent delete of the lead deletes the row too.
create table import_errors (
    job_id  uuid   not null,
    row     bigint not null,
    line    bigint not null,
    field   text   not null,
    message text   not null,
    record  text[] not null default '{}',
    seq     int    not null,
    lead_id uuid,
    primary key (job_id, row, seq)
);

create index import_errors_lead on import_errors (lead_id) where lead_id is not null;

-- The file of a job that runs in the background, in chunks, so any
-- process can resume it after a crash; deleted once the job has ended.
create table import_files (
    job_id uuid  not null,
    seq    int   not null,
    data   bytea not null,
    primary key (job_id, seq)
);
