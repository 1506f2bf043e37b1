// Package rooms is what synops does with rooms: list and inspect them, and
// plan and apply deletion, blocking, history purges and the retention purge
// of seed 000, clearing the application's references after Synapse confirms
// a deletion.
package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/text"
	"synops/synapse"
)

// Service holds what room operations need. Synapse and Guard are required.
type Service struct {
	Synapse     *synapse.Client
	SynapseDB   *pgxpool.Pool // optional: reads creation times in one query
	App         *AppRefs      // optional: the application database
	Guard       *ops.Guard
	Journal     *Journal
	Server      string
	Environment string
	Now         func() time.Time
	// MaxConcurrency caps the deletions a purge keeps in flight; within it
	// the purge finds its own pace (see pace.go). 0 means
	// DefaultMaxConcurrency.
	MaxConcurrency int
	// ServerRetention is the server's retention policy in words (from
	// homeserver.yaml), shown beside a room's own m.room.retention.
	ServerRetention string

	sizesMu sync.Mutex
	sizes   map[string]int64
	sizesAt time.Time
	// SyncDeleteMax: a purge deletes a room whose history Synapse's
	// database shows at most this long (about this many events) with the
	// synchronous v1 delete, which costs Synapse least; longer rooms, and
	// every room when the database is not configured, get a background
	// delete that no HTTP time limit can cut short. 0 means
	// DefaultSyncDeleteMax, negative never.
	SyncDeleteMax int
	// Poll is the longest wait between two status checks of a deletion or
	// history purge (default 500ms); the first checks come much sooner
	// (synapse.Poller).
	Poll time.Duration
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// DefaultSyncDeleteMax is Service.SyncDeleteMax's default: an OpenMeet
// event room is far shorter, and Synapse deletes a room this long in well
// under a second, far inside the client's 15s per request.
const DefaultSyncDeleteMax = 250

func (s *Service) syncDeleteMax() int {
	if s.SyncDeleteMax == 0 {
		return DefaultSyncDeleteMax
	}
	return s.SyncDeleteMax
}

func (s *Service) poll() time.Duration {
	if s.Poll <= 0 {
		return 500 * time.Millisecond
	}
	return s.Poll
}

// Impact is what the plan of a room operation shows.
type Impact struct {
	Room          *synapse.RoomDetails `json:"room"`
	CreatedAt     time.Time            `json:"created_at"`
	LocalMembers  []string             `json:"local_members"`
	RemoteMembers []string             `json:"remote_members"`
	SizeBytes     int64                `json:"size_bytes"` // -1: not among the largest rooms Synapse reports
	IsSpace       bool                 `json:"is_space"`
	Refs          []RefCount           `json:"refs,omitempty"`
	RefNames      []string             `json:"ref_names,omitempty"`
	Retention     json.RawMessage      `json:"retention,omitempty"` // the room's m.room.retention content
	ServerPolicy  string               `json:"server_retention,omitempty"`
	StateTypes    map[string]int       `json:"state_types,omitempty"` // state events by type
	Blocked       bool                 `json:"blocked"`
}

// Inspect gathers a room's impact: details, members split local/remote,
// creation time, size if known, block status, retention and app references.
func (s *Service) Inspect(ctx context.Context, roomID string) (*Impact, error) {
	d, err := s.Synapse.Room(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", roomID, explain(err))
	}
	im := &Impact{Room: d, SizeBytes: -1, IsSpace: d.RoomType == "m.space", ServerPolicy: s.ServerRetention}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	run(func() error {
		members, err := s.Synapse.RoomMembers(ctx, roomID)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		for _, m := range members {
			if strings.HasSuffix(m, ":"+s.Server) {
				im.LocalMembers = append(im.LocalMembers, m)
			} else {
				im.RemoteMembers = append(im.RemoteMembers, m)
			}
		}
		return nil
	})
	run(func() error {
		t, err := s.Synapse.RoomCreatedAt(ctx, roomID)
		im.CreatedAt = t
		return err
	})
	run(func() error {
		if n, ok := s.Sizes(ctx)[roomID]; ok {
			im.SizeBytes = n
		}
		return nil
	})
	run(func() error {
		b, _, err := s.Synapse.RoomBlocked(ctx, roomID)
		im.Blocked = b
		return err
	})
	run(func() error {
		st, err := s.Synapse.RoomState(ctx, roomID, "")
		if err != nil {
			return err
		}
		im.StateTypes = map[string]int{}
		for _, e := range st {
			im.StateTypes[e.Type]++
			if e.Type == "m.room.retention" {
				im.Retention = e.Content
			}
		}
		return nil
	})
	if s.App != nil {
		run(func() error {
			refs, err := s.App.Count(ctx, roomID)
			if err != nil {
				return err
			}
			names, err := s.App.Describe(ctx, roomID)
			im.Refs, im.RefNames = refs, names
			return err
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return im, fmt.Errorf("inspect room %s: %w", roomID, errors.Join(errs...))
	}
	return im, nil
}

// Lines is the impact as the confirm dialog and dry runs show it.
func (im *Impact) Lines(now time.Time) []string {
	d := im.Room
	name := d.Name
	if name == "" {
		name = "(no name)"
	}
	kind := "room"
	if im.IsSpace {
		kind = "space (its child rooms are not deleted)"
	}
	out := []string{fmt.Sprintf("%s %s, a %s", d.RoomID, text.Quote(name), kind)}
	if d.CanonicalAlias != "" {
		out = append(out, "alias "+d.CanonicalAlias)
	}
	if !im.CreatedAt.IsZero() {
		out = append(out, fmt.Sprintf("created %s (%s ago)", im.CreatedAt.UTC().Format("2006-01-02 15:04"), Age(now.Sub(im.CreatedAt))))
	}
	out = append(out, fmt.Sprintf("%d joined members: %d local, %d remote", len(im.LocalMembers)+len(im.RemoteMembers), len(im.LocalMembers), len(im.RemoteMembers)))
	size := fmt.Sprintf("%d state events", d.StateEvents)
	if im.SizeBytes >= 0 {
		size += fmt.Sprintf(", about %s in the database", text.Bytes(im.SizeBytes))
	}
	out = append(out, size)
	if len(im.Refs) > 0 {
		var parts []string
		for _, r := range im.Refs {
			parts = append(parts, fmt.Sprintf("%d %s", r.N, r.What))
		}
		line := "application references: " + strings.Join(parts, ", ")
		if len(im.RefNames) > 0 {
			line += " (" + strings.Join(im.RefNames, ", ") + ")"
		}
		out = append(out, line)
	}
	if d.Federatable && len(im.RemoteMembers) > 0 {
		out = append(out, "other servers keep their copy of this room's history")
	}
	return out
}

// explain adds what to do to the errors an operator meets most.
func explain(err error) error {
	switch {
	case errors.Is(err, synapse.ErrNotFound):
		return fmt.Errorf("%w (no such room on this server: check the ID with synops rooms list)", err)
	case errors.Is(err, synapse.ErrForbidden):
		return fmt.Errorf("%w (is the token an admin's? synops config check tells)", err)
	case errors.Is(err, synapse.ErrUnknownToken):
		return fmt.Errorf("%w (the admin token was rejected: synops config check tells more)", err)
	}
	return err
}

// Age is a short duration for tables: "3d", "5h", "12m".
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "future"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// CreatedTimes returns the creation time of each room: one query on Synapse's
// database when it is available, else one admin API call per room (several
// at a time). Rooms whose time cannot be read are left out.
func (s *Service) CreatedTimes(ctx context.Context, ids []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(ids))
	if s.SynapseDB != nil {
		rows, err := s.SynapseDB.Query(ctx,
			`SELECT room_id, origin_server_ts FROM events WHERE type = 'm.room.create' AND state_key = '' AND room_id = ANY($1)`, ids)
		if err == nil {
			defer rows.Close()
			for rows.Next() {
				var id string
				var ts int64
				if err := rows.Scan(&id, &ts); err != nil {
					return nil, err
				}
				out[id] = time.UnixMilli(ts)
			}
			if err := rows.Err(); err == nil {
				return out, nil
			}
		}
		clear(out) // fall back to the API
	}
	var mu sync.Mutex
	err := parallel(ctx, len(ids), 8, func(i int) error {
		t, err := s.Synapse.RoomCreatedAt(ctx, ids[i])
		var se *synapse.Error
		switch {
		case synapse.IsUnreachable(err), errors.As(err, &se) && se.Status >= 500 || errors.Is(err, synapse.ErrForbidden) || errors.Is(err, synapse.ErrUnknownToken):
			return err // asking again per room would not help
		case err != nil:
			return nil // a room that cannot be dated is never selected by age
		}
		mu.Lock()
		out[ids[i]] = t
		mu.Unlock()
		return nil
	})
	return out, err
}

// parallel runs fn(0..n-1), width at a time; the first error cancels the
// rest and is returned.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(width)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { return fn(i) })
	}
	return g.Wait()
}

// List returns every room on the server, paging through them all.
func (s *Service) List(ctx context.Context) ([]synapse.Room, error) {
	rs, err := s.Synapse.AllRooms(ctx, synapse.ListRoomsOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", explain(err))
	}
	return rs, nil
}

// Sizes returns the estimated database size of the largest rooms (Synapse
// reports the top ten only); an error or an SQLite server gives none. The
// answer is slow to compute, so it is kept for a minute.
func (s *Service) Sizes(ctx context.Context) map[string]int64 {
	s.sizesMu.Lock()
	defer s.sizesMu.Unlock()
	if s.sizes != nil && s.now().Sub(s.sizesAt) < time.Minute {
		return s.sizes
	}
	out := map[string]int64{}
	if rs, err := s.Synapse.LargestRooms(ctx); err == nil {
		for _, r := range rs {
			out[r.RoomID] = r.EstimatedSize
		}
	}
	s.sizes, s.sizesAt = out, s.now()
	return out
}

// Interrupted lists the deletions earlier runs left unfinished.
func (s *Service) Interrupted() []Entry {
	if s.Journal == nil {
		return nil
	}
	return s.Journal.Unfinished()
}

// CanReadAges reports whether creation times come cheaply (one query on
// Synapse's database) rather than one request per room.
func (s *Service) CanReadAges() bool { return s.SynapseDB != nil }

// ParseBefore reads an absolute date or time ("2026-01-31",
// "2026-01-31T12:00:00Z") or an age ("30d": that long before now), read by
// config.ParseDuration like every other age. A time before 1970 is refused:
// Matrix timestamps count from then, so nothing is older.
func ParseBefore(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("give a date (2026-01-31) or an age (30d)")
	}
	var t time.Time
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			t = v
			break
		}
	}
	if t.IsZero() {
		d, err := config.ParseDuration(s)
		var re *config.RangeError
		switch {
		case errors.As(err, &re):
			return time.Time{}, err
		case err != nil:
			return time.Time{}, fmt.Errorf("%q is neither a date (2026-01-31, 2026-01-31T12:00:00Z) nor an age (30d, 12h)", s)
		}
		t = now.Add(-d)
	}
	if t.Before(time.Unix(0, 0)) {
		return time.Time{}, fmt.Errorf("%q is before 1970-01-01, older than any Matrix event: give a later date or a shorter age", s)
	}
	return t, nil
}

// StateSummary is the room's state by type: "m.room.member ×5, m.room.name ×1".
func (im *Impact) StateSummary() string {
	keys := make([]string, 0, len(im.StateTypes))
	for k := range im.StateTypes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", text.Clean(k), im.StateTypes[k])
	}
	return strings.Join(parts, ", ")
}
