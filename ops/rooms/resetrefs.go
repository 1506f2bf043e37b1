package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops/config"
)

// ResetRefs is the whole-table variant of AppRefs: after a reset no Matrix
// room survives, so every reference the application database holds goes at
// once (seed 000, post-reset step 3) rather than room by room.
type ResetRefs struct {
	Pool *pgxpool.Pool
	// Clear runs in one transaction; Count returns rows of (what text, how
	// many bigint) that are all zero once Clear has run.
	Clear []string
	Count string
}

// NewResetRefs is the profile's app_refs.reset and app_refs.reset_count,
// or seed 000's two statements and their counts.
func NewResetRefs(pool *pgxpool.Pool, sql config.AppRefsSQL) *ResetRefs {
	r := &ResetRefs{Pool: pool, Clear: sql.Reset, Count: sql.ResetCount}
	if len(r.Clear) == 0 {
		r.Clear = config.DefaultResetSQL()
		if r.Count == "" {
			r.Count = config.DefaultResetCountSQL
		}
	}
	return r
}

// Counts says how many references there are of each kind; nil when no
// count query is configured.
func (r *ResetRefs) Counts(ctx context.Context) ([]RefCount, error) {
	if r.Count == "" {
		return nil, nil
	}
	rows, err := r.Pool.Query(ctx, r.Count)
	if err != nil {
		return nil, fmt.Errorf("count the application's Matrix references: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RefCount, error) {
		var c RefCount
		err := row.Scan(&c.What, &c.N)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count the application's Matrix references: %w", err)
	}
	return out, nil
}

// ClearAll runs every statement in one transaction: all of them apply or
// none does. It returns the rows each changed (TRUNCATE reports none).
func (r *ResetRefs) ClearAll(ctx context.Context) ([]int64, error) {
	if len(r.Clear) == 0 {
		return nil, errors.New("no statements configured to clear the application's Matrix references")
	}
	n := make([]int64, len(r.Clear))
	err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		for i, q := range r.Clear {
			tag, err := tx.Exec(ctx, q)
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			n[i] = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clear the application's Matrix references: %w", err)
	}
	return n, nil
}

// Total adds the counts up.
func Total(refs []RefCount) int64 { return total(refs) }
