// Package requestlog is the HTTP layer of idempotency: each request made
// with an Idempotency-Key, claimed as a lease while it runs, then its first
// response, replayed to retries for TTL (api.Deps.Idempotent). Under it, the
// command's own key is claimed in the commit (eventstore). A stored response
// may quote a stream's personal data: Purge, registered as an
// eventstore.Eraser, deletes it inside the commit that redacts the stream.
package requestlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmcore/crm/crmerr"
	"github.com/crmcore/crm/eventstore"
)

// TTL is how long a stored response answers retries of its request: as long
// as the commit's idempotency key under it replays its result.
const TTL = eventstore.IdempotencyTTL

// DefaultRequestLease is how long a request may hold its idempotency key
// in progress before a retry of the same request may take it over.
const DefaultRequestLease = 30 * time.Second

// StoredResponse is the first response to an idempotent request.
type StoredResponse struct {
	Status int
	Header map[string]string // the response headers worth replaying
	Body   []byte
}

// Request outcomes of ClaimRequest, CompleteRequest and ReleaseRequest.
var (
	// ErrRequestInProgress: a request with the key is still running.
	ErrRequestInProgress = crmerr.New(crmerr.Busy, "a request with this idempotency key is in progress")
	// ErrRequestMismatch: the key was used with another request.
	ErrRequestMismatch = crmerr.New(crmerr.KeyReused, "idempotency key used with another request")
	// ErrClaimLost: the caller's claim is no longer its own (a retry took
	// it over after the lease, or a permanent delete purged it).
	ErrClaimLost = crmerr.New(crmerr.Conflict, "idempotency claim no longer held")
	// ErrRequestRedacted: a stream the response was made from has been
	// permanently deleted meanwhile, so the response is not stored.
	ErrRequestRedacted = crmerr.New(crmerr.Conflict, "idempotent response quotes a deleted stream")
)

// Log keeps the idempotent requests in Postgres (table http_idempotency,
// created by eventstore's migrations, crm's one schema history).
type Log struct {
	pool  *pgxpool.Pool
	store *eventstore.Store // whose command keys expire with the responses
}

// New returns a Log on store's pool. The store must have been made with
// Purge among its erasers, so that a permanent delete purges the responses.
func New(store *eventstore.Store) *Log { return &Log{pool: store.Pool(), store: store} }

// ClaimRequest claims an idempotency key for a request with fingerprint. It
// returns a claim token (stored nil) when the caller now owns the key and
// must run the request, then Complete or Release it with the token; the
// stored response when the same request already ran (within TTL);
// ErrRequestMismatch when the key was used with another request;
// ErrRequestInProgress while the first is still running. A claim still in
// progress after lease (its holder died) is taken over by the same request.
func (l *Log) ClaimRequest(ctx context.Context, tenantID uuid.UUID, key string, fingerprint []byte, lease time.Duration) (uuid.UUID, *StoredResponse, error) {
	token, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, nil, err
	}
	for range 3 {
		// An expired key is free again.
		if _, err := l.pool.Exec(ctx, `delete from http_idempotency where tenant_id=$1 and key=$2
			and created_at < now() - make_interval(secs => $3)`, tenantID, key, TTL.Seconds()); err != nil {
			return uuid.Nil, nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		tag, err := l.pool.Exec(ctx, `insert into http_idempotency (tenant_id, key, fingerprint, claim_token, claimed_at)
			values ($1, $2, $3, $4, now())
			on conflict (tenant_id, key) do update set claim_token = excluded.claim_token, claimed_at = now()
			where http_idempotency.status is null and http_idempotency.fingerprint = excluded.fingerprint
				and http_idempotency.claimed_at < now() - make_interval(secs => $5)`,
			tenantID, key, fingerprint, token, lease.Seconds())
		if err != nil {
			return uuid.Nil, nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return token, nil, nil
		}
		var fp []byte
		var status *int
		var res StoredResponse
		err = l.pool.QueryRow(ctx, `select fingerprint, status, header, body from http_idempotency
			where tenant_id=$1 and key=$2`, tenantID, key).Scan(&fp, &status, &res.Header, &res.Body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return uuid.Nil, nil, fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case string(fp) != string(fingerprint):
			return uuid.Nil, nil, ErrRequestMismatch
		case status == nil:
			return uuid.Nil, nil, ErrRequestInProgress
		}
		res.Status = *status
		return uuid.Nil, &res, nil
	}
	return uuid.Nil, nil, ErrRequestInProgress
}

// CompleteRequest stores the response of the request holding claim token,
// with the streams it was made from (see Purge). It returns
// ErrClaimLost when token no longer holds the key, and ErrRequestRedacted
// (releasing the key) when one of streams was permanently deleted after
// the request read it: the response may quote what the delete erased.
func (l *Log) CompleteRequest(ctx context.Context, tenantID uuid.UUID, key string, token uuid.UUID, res StoredResponse, streams []uuid.UUID) error {
	if len(streams) == 0 {
		tag, err := l.pool.Exec(ctx, completeSQL, tenantID, key, token, res.Status, res.Header, res.Body, nil)
		if err != nil {
			return fmt.Errorf("store idempotent response: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrClaimLost
		}
		return nil
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// A share lock on the streams' rows orders this with a delete of one of
	// them: a delete committing first is seen here; one committing after
	// waits for this transaction and then purges the row.
	_, err = tx.Exec(ctx, `select `+eventstore.NoEvents)
	var redacted bool
	if err == nil {
		redacted, err = eventstore.ShareStreams(ctx, tx, tenantID, streams)
	}
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	var tag pgconn.CommandTag
	if redacted {
		tag, err = tx.Exec(ctx, `delete from http_idempotency
			where tenant_id = $1 and key = $2 and claim_token = $3 and status is null`, tenantID, key, token)
	} else {
		tag, err = tx.Exec(ctx, completeSQL, tenantID, key, token, res.Status, res.Header, res.Body, streams)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	switch {
	case err != nil:
		return fmt.Errorf("store idempotent response: %w", err)
	case tag.RowsAffected() == 0:
		return ErrClaimLost
	case redacted:
		return ErrRequestRedacted
	}
	return nil
}

// completeSQL stores a claimed request's response, if the claim is the caller's.
const completeSQL = `update http_idempotency set status = $4, header = $5, body = $6, stream_ids = $7
	where tenant_id = $1 and key = $2 and claim_token = $3 and status is null`

// ReleaseRequest frees the key claimed with token, whose request must be
// retryable (it failed on our side: a 5xx). ErrClaimLost: token no longer
// holds it.
func (l *Log) ReleaseRequest(ctx context.Context, tenantID uuid.UUID, key string, token uuid.UUID) error {
	tag, err := l.pool.Exec(ctx, `delete from http_idempotency
		where tenant_id=$1 and key=$2 and claim_token=$3 and status is null`, tenantID, key, token)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

// Purge is the eventstore.Eraser of stored responses: inside the
// transaction of a commit that redacts streams, it deletes every stored
// response of the tenant made from one of them (it may quote their personal
// data). A later request with a purged key is a new request.
func Purge(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, streams []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `delete from http_idempotency where tenant_id = $1 and stream_ids && $2::uuid[]`,
		tenant, streams); err != nil {
		return fmt.Errorf("purge stored responses of %v: %w", streams, err)
	}
	return nil
}

var _ eventstore.Eraser = Purge

// ExpireRequests deletes the stored responses older than TTL, and the
// store's command idempotency keys past it (eventstore.ExpireIdempotencyKeys):
// a stored response may quote personal data, which must not outlive the 24
// hours it serves retries for. It returns how many rows went.
func (l *Log) ExpireRequests(ctx context.Context) (int64, error) {
	var n int64
	b := &pgx.Batch{}
	b.Queue("begin")
	b.Queue(`select ` + eventstore.NoEvents)
	b.Queue(`delete from http_idempotency where created_at < now() - make_interval(secs => $1)`, TTL.Seconds()).
		Exec(func(tag pgconn.CommandTag) error { n = tag.RowsAffected(); return nil })
	b.Queue("commit")
	if err := l.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("expire stored responses: %w", err)
	}
	keys, err := l.store.ExpireIdempotencyKeys(ctx)
	return n + keys, err
}

// KeepRequestsExpiring runs ExpireRequests every interval until ctx ends;
// a failed round is logged and tried again at the next.
func (l *Log) KeepRequestsExpiring(ctx context.Context, interval time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n, err := l.ExpireRequests(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("expiring idempotency keys", "err", err)
		} else if n > 0 {
			logger.Debug("expired idempotency keys", "rows", n)
		}
	}
}
