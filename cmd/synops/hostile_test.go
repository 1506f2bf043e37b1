package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"synops/ops/text"
	"synops/synapse/synapsetest"
)

// corpus is what any member with power in a room can store in its state:
// OSC 0 (title), OSC 8 (hyperlink), OSC 52 (clipboard), DCS, APC, CSI 2J,
// the 8-bit CSI, a bidi override, zero-width characters, a tab and a newline.
const corpus = "X\x1b]0;PWNED\x07\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;cHduZWQ=\x07" +
	"\x1bP$qm\x1b\\\x1b_apc\x1b\\\x1b[2J\u009b2J\u202edesrever\u202c\u200b\u2060zw\tT\nN"

// hostileRoom creates a room whose name, topic, join rule, history
// visibility and a member's display name carry the corpus (Synapse stores
// them as given), with a 10k-character tail on the topic.
func hostileRoom(t *testing.T) (roomID string) {
	t.Helper()
	ctx := roomsCtx(t)
	users, err := bed.Synapse.SeedUsers(ctx, fmt.Sprintf("mallory%d", time.Now().UnixNano()%1e9), 1)
	if err != nil {
		t.Fatal(err)
	}
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "Hostile " + corpus, Topic: corpus + strings.Repeat("长", 10000), Members: users})
	if err != nil {
		t.Fatal(err)
	}
	tok := bed.Synapse.AdminToken
	for _, st := range []struct {
		typ     string
		content map[string]any
	}{
		{"m.room.join_rules", map[string]any{"join_rule": "public" + corpus}},
		{"m.room.history_visibility", map[string]any{"history_visibility": "shared" + corpus}},
	} {
		if err := bed.Synapse.SendState(ctx, tok, id, st.typ, "", st.content); err != nil {
			t.Fatalf("set %s: %v", st.typ, err)
		}
	}
	if err := bed.Synapse.SetDisplayName(ctx, users[0], "Mallory "+corpus); err != nil {
		t.Fatal(err)
	}
	return id
}

// terminalSafe fails when out holds an escape, a C0 (but newline) or C1
// control, or a bidi or invisible character.
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		switch {
		case r == '\n':
		case r == utf8.RuneError:
			t.Errorf("%s: broken UTF-8 at byte %d", what, i)
			return
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			t.Errorf("%s: control %U at byte %d: %q", what, r, i, out[max(i-20, 0):min(i+20, len(out))])
			return
		case text.IsInvisible(r):
			t.Errorf("%s: invisible or bidi %U at byte %d", what, r, i)
			return
		}
	}
}

// Every CLI command that prints a room prints the hostile one cleaned; --json
// keeps the data but as \u escapes.
func TestHostileRoomCLI(t *testing.T) {
	id := hostileRoom(t)
	env, _ := roomsCLIEnv(t)
	runs := [][]string{
		{"rooms", "list"},
		{"rooms", "list", "--search", "Hostile"},
		{"rooms", "show", id},
		{"rooms", "delete", id},                                         // the plan, then no terminal to confirm on
		{"rooms", "block", id},                                          // likewise
		{"rooms", "purge-history", id, "--before", "1d"},                // likewise
		{"rooms", "purge", "--older-than", "1s", "--match", "^Hostile"}, // dry run
		{"rooms", "list", "--json"},
		{"rooms", "show", id, "--json"},
	}
	for _, args := range runs {
		out, errs, code := cli(t, env, args...)
		what := "synops " + strings.Join(args, " ")
		terminalSafe(t, what+" (stdout)", out)
		terminalSafe(t, what+" (stderr)", errs)
		if !strings.Contains(args[len(args)-1], "json") && args[1] != "purge-history" && args[1] != "block" && args[1] != "delete" && !strings.Contains(out, "Hostile X") {
			t.Errorf("%s (exit %d) does not show the room's cleaned name:\n%s%s", what, code, out, errs)
		}
		if strings.HasSuffix(what, "--json") {
			if !strings.Contains(out, `\u001b]0;PWNED`) || !strings.Contains(out, `\u202e`) {
				t.Errorf("%s: the JSON does not keep the name as escapes:\n%.600s", what, out)
			}
			if !json.Valid([]byte(out)) {
				t.Errorf("%s: not valid JSON", what)
			}
		}
	}
	// The report of a purge that deletes it.
	out, errs, code := cli(t, env, "rooms", "purge", "--older-than", "1s", "--match", "^Hostile", "--apply", "--yes",
		"--confirm="+bed.Synapse.ServerName, "--without-backup")
	terminalSafe(t, "purge report", out+errs)
	if code != 0 || !strings.Contains(out, "1 deleted") {
		t.Errorf("purge --apply: exit %d\n%s%s", code, out, errs)
	}
}

// The console shows the hostile room cleaned: the table, the detail, the
// confirm dialog and the job strip, read from tmux with colours kept; the
// pane's title is not the room's.
func TestHostileRoomConsole(t *testing.T) {
	id := hostileRoom(t)
	bin := buildBinary(t)
	env, _ := roomsCLIEnv(t)
	tm := startTmux(t, 140, 40, []string{"SYNOPS_CONFIG=" + env["SYNOPS_CONFIG"], "HOME=" + env["HOME"],
		"XDG_STATE_HOME=" + env["XDG_STATE_HOME"], "TERM=xterm-256color"}, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "2 Rooms") })
	tm.keys("2")
	tm.waitFor("the rooms", 20*time.Second, func(s string) bool { return strings.Contains(s, "sorted by name") })
	tm.keys("/")
	tm.keys("-l", "hostile")
	tm.keys("Enter")
	tm.waitFor("the hostile room", 10*time.Second, func(s string) bool { return strings.Contains(s, "Hostile X") })
	tm.checkScreen("rooms table")
	tm.keys("Enter")
	tm.waitFor("the detail", 20*time.Second, func(s string) bool { return strings.Contains(s, "join rule public") })
	tm.checkScreen("room detail")
	tm.keys("b")
	tm.waitFor("the block dialog", 20*time.Second, func(s string) bool { return strings.Contains(s, "Block room") })
	tm.checkScreen("confirm dialog")
	tm.keys("-l", id)
	tm.keys("Enter")
	tm.waitFor("the job", 20*time.Second, func(s string) bool { return strings.Contains(s, "✔ Block room") })
	tm.checkScreen("job strip")
	blocked, _, err := bed.Synapse.Client().RoomBlocked(roomsCtx(t), id)
	if err != nil || !blocked {
		t.Errorf("the room is not blocked after the console's b: %v %v", blocked, err)
	}
	tm.keys("q")
}

// checkScreen captures the pane with its escape sequences and fails on any
// that is not a colour (SGR), on controls, bidi and invisible characters, and
// on a pane title the room set.
func (tm *tmux) checkScreen(what string) {
	tm.t.Helper()
	out, err := exec.Command("tmux", "capture-pane", "-e", "-p", "-t", tm.session).Output()
	if err != nil {
		tm.t.Fatal(err)
	}
	s := string(out)
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '[' {
			j++
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == ':') {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				s = s[:i] + s[j+1:]
				i--
				continue
			}
		}
		tm.t.Errorf("%s: an escape other than a colour: %q", what, s[i:min(i+16, len(s))])
		return
	}
	terminalSafe(tm.t, what, s)
	title, _ := exec.Command("tmux", "display-message", "-p", "-t", tm.session, "#{pane_title}").Output()
	if strings.Contains(string(title), "PWNED") || !strings.Contains(string(title), "synops") {
		tm.t.Errorf("%s: pane title %q", what, title)
	}
}

// Columns line up by display width: CJK and emoji names take two cells a
// character, in rooms list and in the purge dry run.
func TestRoomTablesAlignWideNames(t *testing.T) {
	ctx := roomsCtx(t)
	tag := fmt.Sprintf("wide%d", time.Now().UnixNano()%1e6)
	for _, name := range []string{"会议室 " + tag, "🎉 party " + tag, "plain " + tag, "Ｆｕｌｌ " + tag} {
		if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // older than the purge's cut-off of 1s
	env, _ := roomsCLIEnv(t)
	members := regexp.MustCompile(`\d+ \(\d+\)`)
	for _, c := range []struct {
		args   []string
		header string
		field  *regexp.Regexp
	}{
		{[]string{"rooms", "list", "--search", tag}, "MEMBERS (LOCAL)", members},
		{[]string{"rooms", "purge", "--older-than", "1s", "--match", tag}, "MEMBERS", regexp.MustCompile(`  \d+  `)},
	} {
		out, errs, code := cli(t, env, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", c.args, code, out, errs)
		}
		var at []int
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.Contains(l, c.header):
				at = append(at, text.Width(l[:strings.Index(l, c.header)]))
			case strings.HasPrefix(l, "!") && strings.Contains(l, tag):
				loc := c.field.FindStringIndex(l)
				if loc == nil {
					t.Fatalf("%v: no members field in %q", c.args, l)
				}
				start := loc[0]
				if strings.HasPrefix(l[start:], "  ") {
					start += 2
				}
				at = append(at, text.Width(l[:start]))
			}
		}
		if len(at) != 5 {
			t.Fatalf("%v: %d lines found, want the header and 4 rooms:\n%s", c.args, len(at), out)
		}
		for _, x := range at {
			if x != at[0] {
				t.Errorf("%v: the members column starts at cells %v, want one column:\n%s", c.args, at, out)
				break
			}
		}
	}
}
