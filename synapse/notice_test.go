package synapse_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"synops/synapse"
	"synops/synapse/synapsetest"
)

// The reset notice: an m.notice in a room, found by its alias, sent once
// however often the request is repeated with the same transaction ID.
func TestSendNoticeToRoom(t *testing.T) {
	ctx := ctxT(t)
	c := bed.Synapse.Client()
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "Ops notices", Alias: "ops-notices"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.ResolveAlias(ctx, "#ops-notices:"+bed.Synapse.ServerName)
	if err != nil || id != room {
		t.Fatalf("resolve alias: %q %v, want %s", id, err, room)
	}
	if _, err := c.ResolveAlias(ctx, "#nowhere:"+bed.Synapse.ServerName); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("unknown alias: %v, want not found", err)
	}
	for range 2 {
		if _, err := c.SendNotice(ctx, room, "Matrix goes down at noon", "synops-reset-test-1"); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := bed.Synapse.Messages(ctx, room, "m.room.message")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		var body struct{ Msgtype, Body string }
		_ = json.Unmarshal(m.Content, &body)
		got = append(got, body.Msgtype+": "+body.Body)
	}
	if len(got) != 1 || got[0] != "m.notice: Matrix goes down at noon" {
		t.Errorf("messages %q, want one m.notice (the repeat has the same transaction ID)", got)
	}
	if _, err := c.SendNotice(ctx, room, "x", "bad id/../"); err == nil {
		t.Error("a transaction ID with a slash was sent")
	}
}

// This bed has no server_notices section: Synapse says so, and synops
// passes that on for the operator to see.
func TestServerNoticeNotConfigured(t *testing.T) {
	_, err := bed.Synapse.Client().SendServerNotice(ctxT(t), bed.Synapse.AdminUserID, "hello", "synops-test-1")
	if err == nil || !strings.Contains(err.Error(), "not enabled") {
		t.Errorf("got %v, want Synapse's 'Server notices are not enabled'", err)
	}
}

func TestFederationDestinations(t *testing.T) {
	d, err := bed.Synapse.Client().FederationDestinations(ctxT(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 0 || len(d.Names) != 0 {
		t.Errorf("a server that never federated: %+v, want no destinations", d)
	}
	if _, err := bed.Synapse.Client().WithToken(synapse.Secret{}).FederationDestinations(ctxT(t), 5); err == nil {
		t.Error("the destinations answered without a token")
	}
}
