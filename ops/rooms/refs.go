package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RefSQL is how the application database refers to Matrix rooms. Every
// statement takes the room ID as $1.
type RefSQL struct {
	// Count returns rows of (what text, how many bigint).
	Count string
	// Describe returns one text column naming the referring records.
	Describe string
	// Clear runs in one transaction after Synapse confirmed the deletion.
	Clear []string
}

// DefaultRefSQL is OpenMeet's schema: "events"."matrixRoomId" is cleared and
// the room's "chatRooms" rows are removed (seed 000, post-reset steps).
func DefaultRefSQL() RefSQL {
	return RefSQL{
		Count: `SELECT 'events', count(*) FROM "events" WHERE "matrixRoomId" = $1
			UNION ALL SELECT 'chatRooms', count(*) FROM "chatRooms" WHERE "matrixRoomId" = $1`,
		Describe: `SELECT 'event ' || "slug" FROM "events" WHERE "matrixRoomId" = $1 ORDER BY "slug" LIMIT 20`,
		Clear: []string{
			`UPDATE "events" SET "matrixRoomId" = NULL WHERE "matrixRoomId" = $1`,
			`DELETE FROM "chatRooms" WHERE "matrixRoomId" = $1`,
		},
	}
}

// RefCount is how many records of one kind refer to a room.
type RefCount struct {
	What string `json:"what"`
	N    int64  `json:"n"`
}

// AppRefs reads and clears the application's references to rooms.
type AppRefs struct {
	Pool *pgxpool.Pool
	SQL  RefSQL
}

// Count says what refers to roomID.
func (a *AppRefs) Count(ctx context.Context, roomID string) ([]RefCount, error) {
	rows, err := a.Pool.Query(ctx, a.SQL.Count, roomID)
	if err != nil {
		return nil, fmt.Errorf("count app references to %s: %w", roomID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RefCount, error) {
		var c RefCount
		err := r.Scan(&c.What, &c.N)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count app references to %s: %w", roomID, err)
	}
	return out, nil
}

// Describe names the records that refer to roomID (at most 20).
func (a *AppRefs) Describe(ctx context.Context, roomID string) ([]string, error) {
	if a.SQL.Describe == "" {
		return nil, nil
	}
	rows, err := a.Pool.Query(ctx, a.SQL.Describe, roomID)
	if err != nil {
		return nil, fmt.Errorf("describe app references to %s: %w", roomID, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Clear removes every reference to roomID in one transaction and returns how
// many rows changed. Either all statements apply or none does.
func (a *AppRefs) Clear(ctx context.Context, roomID string) (int64, error) {
	if len(a.SQL.Clear) == 0 {
		return 0, errors.New("no statements configured to clear app references")
	}
	var n int64
	err := pgx.BeginFunc(ctx, a.Pool, func(tx pgx.Tx) error {
		for _, q := range a.SQL.Clear {
			tag, err := tx.Exec(ctx, q, roomID)
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("clear app references to %s: %w", roomID, err)
	}
	return n, nil
}

func total(refs []RefCount) int64 {
	var n int64
	for _, r := range refs {
		n += r.N
	}
	return n
}
