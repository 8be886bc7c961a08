package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RequestTTL is how long a stored response answers retries of its request.
const RequestTTL = 24 * time.Hour

// StoredResponse is the first response to an idempotent request.
type StoredResponse struct {
	Status int
	Header map[string]string // the response headers worth replaying
	Body   []byte
}

// Request outcomes of ClaimRequest.
var (
	// ErrRequestInProgress: a request with the key is still running.
	ErrRequestInProgress = errors.New("a request with this idempotency key is in progress")
	// ErrRequestMismatch: the key was used with another request.
	ErrRequestMismatch = errors.New("idempotency key used with another request")
)

// ClaimRequest claims an idempotency key for a request with fingerprint. It
// returns (nil, nil) when the caller now owns the key and must run the
// request, then Complete or Release it; the stored response when the same
// request already ran (within RequestTTL); ErrRequestMismatch when the key
// was used with another request; ErrRequestInProgress while the first is
// still running.
func (s *Store) ClaimRequest(ctx context.Context, tenantID uuid.UUID, key string, fingerprint []byte) (*StoredResponse, error) {
	for range 3 {
		// An expired key is free again.
		if _, err := s.pool.Exec(ctx, `delete from http_idempotency where tenant_id=$1 and key=$2 and created_at < now() - $3::interval`,
			tenantID, key, RequestTTL.String()); err != nil {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		tag, err := s.pool.Exec(ctx, `insert into http_idempotency (tenant_id, key, fingerprint) values ($1, $2, $3)
			on conflict do nothing`, tenantID, key, fingerprint)
		if err != nil {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		var fp []byte
		var status *int
		var res StoredResponse
		err = s.pool.QueryRow(ctx, `select fingerprint, status, header, body from http_idempotency
			where tenant_id=$1 and key=$2`, tenantID, key).Scan(&fp, &status, &res.Header, &res.Body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case string(fp) != string(fingerprint):
			return nil, ErrRequestMismatch
		case status == nil:
			return nil, ErrRequestInProgress
		}
		res.Status = *status
		return &res, nil
	}
	return nil, ErrRequestInProgress
}

// CompleteRequest stores the response of a claimed request.
func (s *Store) CompleteRequest(ctx context.Context, tenantID uuid.UUID, key string, res StoredResponse) error {
	_, err := s.pool.Exec(ctx, `update http_idempotency set status=$3, header=$4, body=$5
		where tenant_id=$1 and key=$2`, tenantID, key, res.Status, res.Header, res.Body)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	return nil
}

// ReleaseRequest frees a claimed key whose request must be retryable (it
// failed on our side: a 5xx).
func (s *Store) ReleaseRequest(ctx context.Context, tenantID uuid.UUID, key string) error {
	_, err := s.pool.Exec(ctx, `delete from http_idempotency where tenant_id=$1 and key=$2 and status is null`, tenantID, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
