package testbed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CloneRooms copies the room template n times straight into Synapse's
// database, for benchmarks that need more rooms than the client API can
// create in their time (about 5 rooms a second here: 10,000 rooms would
// take half an hour). Clone i is named name(i) and its history is the
// template's shifted back by age(i) and i+1 milliseconds (so that no two
// clones, nor a clone and the template, hash alike): its creation time and
// newest event move with it.
//
// A clone is what Synapse's readers of rooms see: the rows of rooms,
// room_stats_state and room_stats_current (the admin room list), events
// and event_json (the messages API, the events by ID), state_events and
// current_state_events (the state API). Every event is re-hashed for its
// new room, so its event ID is the reference hash Synapse checks when it
// loads the event, and for room version 12 the room ID is the create
// event's hash. The template's own events are hashed first and must come
// out as their real IDs, which checks the hashing against Synapse. The
// clones are not rooms Synapse could go on with: no state groups, DAG edges,
// memberships or signatures that verify. Read them; do not send to them or
// delete them through Synapse. remove takes them out of the database.
//
// Only room versions with hash event IDs and the v11 redaction rules
// (11, 12) are supported; the template may hold only the event types
// redact knows.
func (b *Bed) CloneRooms(ctx context.Context, template string, n int, name func(i int) string, age func(i int) time.Duration) (ids []string, remove func(context.Context) error, err error) {
	conn, err := pgx.Connect(ctx, b.SynapseDB)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, `SELECT room_version FROM rooms WHERE room_id = $1`, template).Scan(&version); err != nil {
		return nil, nil, fmt.Errorf("clone %s: %w", template, err)
	}
	if version != "11" && version != "12" {
		return nil, nil, fmt.Errorf("clone %s: room version %s: only 11 and 12 are supported", template, version)
	}
	v12 := version == "12"
	evs, err := templateEvents(ctx, conn, template)
	if err != nil {
		return nil, nil, err
	}
	// The hashing must reproduce the template's own event IDs.
	for _, e := range evs {
		if got := eventID(e.body); got != e.id {
			return nil, nil, fmt.Errorf("clone %s: event %s (%s) hashes to %s: the redaction rules here do not match Synapse's", template, e.id, e.body["type"], got)
		}
	}
	var streams []int64
	rows, err := conn.Query(ctx, `SELECT nextval('events_stream_seq') FROM generate_series(1, $1::int)`, n*len(evs))
	if err != nil {
		return nil, nil, err
	}
	if streams, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, nil, err
	}

	var evRows, roomRows [][]any
	for i := range n {
		shift := age(i).Milliseconds() + int64(i) + 1
		newID := map[string]string{}
		room := ""
		for k, e := range evs {
			body := cloneJSON(e.body)
			ts := jsonInt(body["origin_server_ts"]) - shift
			body["origin_server_ts"] = json.Number(fmt.Sprint(ts))
			if u, ok := body["unsigned"].(map[string]any); ok {
				if _, ok := u["age_ts"]; ok {
					u["age_ts"] = json.Number(fmt.Sprint(ts))
				}
			}
			for _, key := range []string{"prev_events", "auth_events"} {
				if list, ok := body[key].([]any); ok {
					for j, id := range list {
						if s, ok := id.(string); ok && newID[s] != "" {
							list[j] = newID[s]
						}
					}
				}
			}
			isCreate := body["type"] == "m.room.create" && body["state_key"] == ""
			if !(v12 && isCreate) {
				if room == "" {
					return nil, nil, fmt.Errorf("clone %s: the first event is not m.room.create", template)
				}
				body["room_id"] = room
			}
			body["hashes"] = map[string]any{"sha256": contentHash(body)}
			id := eventID(body)
			if isCreate && room == "" {
				room = "!" + strings.TrimPrefix(id, "$")
				if !v12 {
					return nil, nil, errors.New("clone: room version 11 keeps the room ID in the create event; only version 12 is done here")
				}
			}
			newID[e.id] = id
			data, err := canonicalJSON(body)
			if err != nil {
				return nil, nil, err
			}
			evRows = append(evRows, []any{e.id, id, room, streams[i*len(evs)+k], ts, string(data)})
		}
		ids = append(ids, room)
		roomRows = append(roomRows, []any{room, name(i)})
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE clone_events (old_event_id text, event_id text, room_id text, stream_ordering bigint, ts bigint, json text) ON COMMIT DROP;
		CREATE TEMP TABLE clone_rooms (room_id text, name text) ON COMMIT DROP`); err != nil {
		return nil, nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"clone_events"}, []string{"old_event_id", "event_id", "room_id", "stream_ordering", "ts", "json"}, pgx.CopyFromRows(evRows)); err != nil {
		return nil, nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"clone_rooms"}, []string{"room_id", "name"}, pgx.CopyFromRows(roomRows)); err != nil {
		return nil, nil, err
	}
	for _, c := range []struct {
		table, from string
		set         map[string]string
	}{
		{"events", "events t JOIN clone_events c ON t.event_id = c.old_event_id",
			map[string]string{"event_id": "c.event_id", "room_id": "c.room_id", "stream_ordering": "c.stream_ordering", "origin_server_ts": "c.ts", "received_ts": "c.ts"}},
		{"event_json", "event_json t JOIN clone_events c ON t.event_id = c.old_event_id",
			map[string]string{"event_id": "c.event_id", "room_id": "c.room_id", "json": "c.json"}},
		{"state_events", "state_events t JOIN clone_events c ON t.event_id = c.old_event_id",
			map[string]string{"event_id": "c.event_id", "room_id": "c.room_id"}},
		{"current_state_events", "current_state_events t JOIN clone_events c ON t.event_id = c.old_event_id",
			map[string]string{"event_id": "c.event_id", "room_id": "c.room_id", "event_stream_ordering": "c.stream_ordering"}},
		{"rooms", "rooms t CROSS JOIN clone_rooms c WHERE t.room_id = $1",
			map[string]string{"room_id": "c.room_id"}},
		{"room_stats_state", "room_stats_state t CROSS JOIN clone_rooms c WHERE t.room_id = $1",
			map[string]string{"room_id": "c.room_id", "name": "c.name"}},
		{"room_stats_current", "room_stats_current t CROSS JOIN clone_rooms c WHERE t.room_id = $1",
			map[string]string{"room_id": "c.room_id"}},
	} {
		if err := copyRows(ctx, tx, c.table, c.from, c.set, template); err != nil {
			return nil, nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, err
	}
	remove = func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, b.SynapseDB)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		// current_state_events first: it refers to events' stream orderings.
		for _, t := range []string{"current_state_events", "state_events", "event_json", "events", "room_stats_state", "room_stats_current", "rooms"} {
			if _, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{t}.Sanitize()+` WHERE room_id = ANY($1)`, ids); err != nil {
				return fmt.Errorf("remove clones from %s: %w", t, err)
			}
		}
		return nil
	}
	return ids, remove, nil
}

type templateEvent struct {
	id   string
	body map[string]any
}

func templateEvents(ctx context.Context, conn *pgx.Conn, room string) ([]templateEvent, error) {
	rows, err := conn.Query(ctx, `SELECT e.event_id, j.json FROM events e JOIN event_json j USING (event_id)
		WHERE e.room_id = $1 AND NOT e.outlier ORDER BY e.stream_ordering`, room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []templateEvent
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, err
		}
		body, err := decodeJSON([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", id, err)
		}
		out = append(out, templateEvent{id: id, body: body})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("clone %s: the room has no events", room)
	}
	return out, nil
}

// copyRows inserts into table a copy of the rows from selects, with the
// columns in set taken from the expressions given.
func copyRows(ctx context.Context, tx pgx.Tx, table, from string, set map[string]string, template string) error {
	rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, table)
	if err != nil {
		return err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "t." + pgx.Identifier{c}.Sanitize()
		if e, ok := set[c]; ok {
			exprs[i] = e
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", pgx.Identifier{table}.Sanitize(),
		strings.Join(quoted, ", "), strings.Join(exprs, ", "), from)
	var args []any
	if strings.Contains(from, "$1") {
		args = append(args, template)
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("clone rows of %s: %w", table, err)
	}
	return nil
}

func decodeJSON(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	return v, dec.Decode(&v)
}

func cloneJSON(v map[string]any) map[string]any {
	data, _ := json.Marshal(v)
	out, _ := decodeJSON(data)
	return out
}

func jsonInt(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

// canonicalJSON is Matrix's canonical JSON for the ASCII content of a
// bench's rooms: keys sorted, no spaces, no HTML escaping.
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// contentHash is hashes.sha256 of an event: the hash of the event without
// unsigned, signatures and hashes.
func contentHash(ev map[string]any) string {
	c := map[string]any{}
	for k, v := range ev {
		if !slices.Contains([]string{"unsigned", "signatures", "hashes", "age_ts", "outlier", "destinations"}, k) {
			c[k] = v
		}
	}
	data, _ := canonicalJSON(c)
	sum := sha256.Sum256(data)
	return base64.RawStdEncoding.EncodeToString(sum[:])
}

// eventID is the event's reference hash as an ID: the hash of the redacted
// event without signatures and unsigned, URL-safe base64.
func eventID(ev map[string]any) string {
	data, _ := canonicalJSON(redact(ev))
	sum := sha256.Sum256(data)
	return "$" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// redact applies the redaction rules of room versions 11 and 12 to the
// event types a bench room holds, and drops signatures and unsigned.
func redact(ev map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"event_id", "type", "room_id", "sender", "state_key", "hashes", "depth", "prev_events", "auth_events", "origin_server_ts"} {
		if v, ok := ev[k]; ok {
			out[k] = v
		}
	}
	content, _ := ev["content"].(map[string]any)
	keep := map[string][]string{
		"m.room.member":             {"membership", "join_authorised_via_users_server"},
		"m.room.join_rules":         {"join_rule", "allow"},
		"m.room.power_levels":       {"ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default"},
		"m.room.history_visibility": {"history_visibility"},
		"m.room.redaction":          {"redacts"},
	}
	kept := map[string]any{}
	typ, _ := ev["type"].(string)
	if typ == "m.room.create" {
		kept = content
	} else {
		for _, k := range keep[typ] {
			if v, ok := content[k]; ok {
				kept[k] = v
			}
		}
	}
	out["content"] = kept
	return out
}
