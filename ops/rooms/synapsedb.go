package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"synops/synapse"
)

// Reads of Synapse's own database. Each answers what an admin API call
// answers, from the tables Synapse's handler reads, at a fraction of the
// cost: a purge asks them for every room, and every request to Synapse
// takes a share of the one core its main process runs on, which the
// deletions themselves need. Callers fall back to the API when no database
// is configured or a read fails (Synapse changed its schema, the database
// is away).

// shutdownAndPurgeAction is the task name of Synapse's room deletions.
const shutdownAndPurgeAction = "shutdown_and_purge_room"

// dbRunningDelete returns the ID of a scheduled or active delete task for
// roomID, or "", as runningDelete does through the scheduled tasks API.
func (s *Service) dbRunningDelete(ctx context.Context, roomID string) (string, error) {
	rows, err := s.SynapseDB.Query(ctx, `SELECT id FROM scheduled_tasks
		WHERE status IN ('scheduled', 'active') AND action = $1 AND resource_id = $2
		ORDER BY timestamp LIMIT 1`, shutdownAndPurgeAction, roomID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	id := ""
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
	}
	return id, rows.Err()
}

// newestEventSQL reads, for each room, the newest event of its timeline as
// the admin messages API with dir=b returns it first: not an outlier, not
// rejected, highest (topological_ordering, stream_ordering). The lateral
// subquery walks the index events_order_room (room_id,
// topological_ordering, stream_ordering) backwards and stops at the first
// row, so the cost grows with the number of rooms asked about, not with the
// number of events.
const newestEventSQL = `SELECT r.room_id, e.origin_server_ts
FROM unnest($1::text[]) AS r(room_id)
CROSS JOIN LATERAL (
	SELECT origin_server_ts FROM events
	WHERE events.room_id = r.room_id AND NOT outlier AND rejection_reason IS NULL
	ORDER BY topological_ordering DESC, stream_ordering DESC
	LIMIT 1
) AS e`

// dbNewestEvents returns the time of each room's newest event; a room
// without events is left out, as RoomLastEventAt gives it the zero time.
func (s *Service) dbNewestEvents(ctx context.Context, ids []string) (map[string]time.Time, error) {
	rows, err := s.SynapseDB.Query(ctx, newestEventSQL, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]time.Time, len(ids))
	for rows.Next() {
		var id string
		var ts *int64
		if err := rows.Scan(&id, &ts); err != nil {
			return nil, err
		}
		if ts != nil {
			out[id] = time.UnixMilli(*ts)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// NewestEvents returns the time of the newest event of each room: one query
// on Synapse's database when it is available, else one admin API call per
// room (several at a time). A room without events is absent; a room whose
// newest event could not be read through the API is in unread with the
// reason. err is an error every room would meet (Synapse down, the token
// refused, the run stopped).
func (s *Service) NewestEvents(ctx context.Context, ids []string) (newest map[string]time.Time, unread map[string]string, err error) {
	if s.SynapseDB != nil {
		if out, err := s.dbNewestEvents(ctx, ids); err == nil {
			return out, map[string]string{}, nil
		}
	}
	newest, unread = make(map[string]time.Time, len(ids)), map[string]string{}
	var mu sync.Mutex
	err = parallel(ctx, len(ids), 8, func(i int) error {
		last, err := s.Synapse.RoomLastEventAt(ctx, ids[i])
		switch {
		case err != nil && fatalRead(ctx, err):
			return fmt.Errorf("newest event of %s: %w", ids[i], explain(err))
		case err != nil:
			mu.Lock()
			unread[ids[i]] = err.Error()
			mu.Unlock()
		case !last.IsZero():
			mu.Lock()
			newest[ids[i]] = last
			mu.Unlock()
		}
		return nil
	})
	return newest, unread, err
}

// roomNow is what a purge reads of a room just before deleting it.
type roomNow struct {
	exists bool
	joined int       // joined members, as the room details report them
	newest time.Time // the newest event's; zero when unknown or none
	// depth is the topological ordering of the newest event: the length
	// of the room's history, which for a room of one server is its number
	// of events. 0 when unknown (read through the API).
	depth int64
}

// dbRoomNow reads roomNow in one query: the rooms row (as the details API
// decides "not found"), the joined members of room_stats_current (what the
// details API reports) and the newest event as newestEventSQL finds it.
func (s *Service) dbRoomNow(ctx context.Context, roomID string) (roomNow, error) {
	var f roomNow
	var ts, depth *int64
	err := s.SynapseDB.QueryRow(ctx, `SELECT
	EXISTS (SELECT 1 FROM rooms WHERE room_id = $1),
	COALESCE((SELECT joined_members FROM room_stats_current WHERE room_id = $1), 0),
	e.origin_server_ts, e.topological_ordering
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
	SELECT origin_server_ts, topological_ordering FROM events
	WHERE room_id = $1 AND NOT outlier AND rejection_reason IS NULL
	ORDER BY topological_ordering DESC, stream_ordering DESC
	LIMIT 1
) AS e ON true`, roomID).Scan(&f.exists, &f.joined, &ts, &depth)
	if err != nil {
		return roomNow{}, err
	}
	if ts != nil {
		f.newest = time.UnixMilli(*ts)
	}
	if depth != nil {
		f.depth = *depth
	}
	return f, nil
}

// readRoomNow reads roomNow from Synapse's database when it is available,
// else through the admin API (the newest event only when asked for).
func (s *Service) readRoomNow(ctx context.Context, roomID string, newest bool) (roomNow, error) {
	if s.SynapseDB != nil {
		if f, err := s.dbRoomNow(ctx, roomID); err == nil {
			return f, nil
		}
	}
	d, err := s.Synapse.Room(ctx, roomID)
	if errors.Is(err, synapse.ErrNotFound) {
		return roomNow{}, nil
	}
	if err != nil {
		return roomNow{}, err
	}
	f := roomNow{exists: true, joined: d.JoinedMembers}
	if newest {
		f.newest, err = s.Synapse.RoomLastEventAt(ctx, roomID)
	}
	return f, err
}
