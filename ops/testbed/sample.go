package testbed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/synapse/synapsetest"
)

// Sample is what SeedSample created.
type Sample struct {
	Users []synapsetest.SeededUser
	Rooms []SampleRoom
}

// SampleRoom is a seeded room and, if any, the OpenMeet event that uses it.
type SampleRoom struct {
	ID        string
	Name      string
	EventSlug string    // "" when no event references the room
	EventEnd  time.Time // when that event ended (or will end)
}

// SeedSample fills the bed with data that looks like an OpenMeet deployment:
// people, chat rooms for events that ended long ago and recently, a space, an
// encrypted room, a room whose name carries terminal escape sequences (as a
// hostile user could set), and app-database rows pointing at the rooms.
func (b *Bed) SeedSample(ctx context.Context, now time.Time) (*Sample, error) {
	s := b.Synapse
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	users := make([]synapsetest.SeededUser, 0, len(names))
	for _, n := range names {
		r, err := s.Register(ctx, n, false)
		if err != nil {
			return nil, fmt.Errorf("seed user %s: %w", n, err)
		}
		users = append(users, synapsetest.SeededUser{UserID: r.UserID, Token: r.AccessToken})
	}
	type roomPlan struct {
		spec synapsetest.RoomSpec
		slug string
		end  time.Duration // relative to now; negative = ended
	}
	day := 24 * time.Hour
	plans := []roomPlan{
		{spec: synapsetest.RoomSpec{Name: "General", Topic: "Everything OpenMeet", Alias: "general", Public: true, Members: users, Messages: 12}},
		{spec: synapsetest.RoomSpec{Name: "Ops", Topic: "Deploys, incidents, backups", Alias: "ops", Members: users[:3], Messages: 5, Encrypted: true}},
		{spec: synapsetest.RoomSpec{Name: "OpenMeet Community", Space: true, Public: true, Members: users[:5]}},
		{spec: synapsetest.RoomSpec{Name: "Evil \x1b[2J\x1b]0;pwned\x07 room", Topic: "name and topic \x1b[31mcarry escapes\x1b[0m", Members: users[6:7]}},
		{spec: synapsetest.RoomSpec{Name: "Empty lobby"}},
	}
	events := []struct {
		name string
		end  time.Duration
	}{
		{"Go meetup (January)", -300 * day}, {"Rust night", -120 * day}, {"Board games", -95 * day},
		{"Hack weekend", -62 * day}, {"Photo walk", -45 * day}, {"Book club", -31 * day},
		{"Climbing", -12 * day}, {"Pub quiz", -3 * day}, {"Yoga in the park", 5 * day},
		{"Matrix workshop", 20 * day}, {"Summer picnic", 60 * day},
	}
	for i, e := range events {
		members := users[i%len(users) : i%len(users)+1]
		if i%3 == 0 {
			members = users[:4]
		}
		plans = append(plans, roomPlan{
			spec: synapsetest.RoomSpec{Name: "Event: " + e.name, Topic: "Chat for " + e.name, Members: members, Messages: 1 + i%4},
			slug: fmt.Sprintf("event-%02d", i+1), end: e.end,
		})
	}
	specs := make([]synapsetest.RoomSpec, len(plans))
	for i := range plans {
		specs[i] = plans[i].spec
	}
	ids, err := s.SeedRooms(ctx, specs)
	if err != nil {
		return nil, err
	}
	out := &Sample{Users: users}
	for i, p := range plans {
		r := SampleRoom{ID: ids[i], Name: p.spec.Name, EventSlug: p.slug}
		if p.slug != "" {
			r.EventEnd = now.Add(p.end)
		}
		out.Rooms = append(out.Rooms, r)
	}
	if err := b.seedApp(ctx, out.Rooms); err != nil {
		return nil, err
	}
	return out, nil
}

// seedApp writes an "events" row per event room and a "chatRooms" row for it.
func (b *Bed) seedApp(ctx context.Context, rooms []SampleRoom) error {
	conn, err := pgx.Connect(ctx, b.AppDB)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, r := range rooms {
			if r.EventSlug == "" {
				continue
			}
			var id int
			err := tx.QueryRow(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId")
				VALUES ($1,$2,$3,$4,$5) RETURNING "id"`,
				r.EventSlug, r.Name, r.EventEnd.Add(-3*time.Hour), r.EventEnd, r.ID).Scan(&id)
			if err != nil {
				return fmt.Errorf("seed event %s: %w", r.EventSlug, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO "chatRooms" ("name","matrixRoomId","eventId") VALUES ($1,$2,$3)`,
				r.Name, r.ID, id); err != nil {
				return fmt.Errorf("seed chat room for %s: %w", r.EventSlug, err)
			}
		}
		return nil
	})
}
