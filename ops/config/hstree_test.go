package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// treeYAML has the shapes the security audit and diagnose read: nested maps,
// nulls, lists, numbers and sizes written as strings, and the YAML 1.1
// booleans that go.yaml.in/yaml/v3 leaves as strings.
const treeYAML = `
server_name: example.org
signing_key_path: keys/example.org.signing.key
log_config: /etc/synapse/log.yaml
media_store_path:
rc_login:
  address: {per_second: "0.17", burst_count: 3}
caches:
  global_factor: 4.0
  per_cache_factors: {get_users_who_share_room_with_user: 2.0, _get_joined_profile: 1}
  expire_caches: off
instance_map:
  main: {host: localhost, port: 8034}
  synchrotron1: {host: localhost, port: 8035}
  federation_sender1: {host: localhost, port: 8036}
  media1: {host: localhost, port: 8037}
  pusher1: {host: localhost, port: 8038}
  appservice1: {host: localhost, port: 8039}
  background1: {host: localhost, port: 8040}
  event_persister1: {host: localhost, port: 8041}
event_cache_size: 200K
presence: {enabled: no}
enable_registration: yes
registration_requires_token: "On"
limit_usage_by_mau: 1
registrations_require_3pid: [email]
listeners:
  - port: 8008
`

func writeTree(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "homeserver.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadTree(t *testing.T) *HomeserverTree {
	t.Helper()
	tree, err := LoadHomeserverTree(writeTree(t, treeYAML))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestHomeserverTreeGet(t *testing.T) {
	tree := loadTree(t)
	for _, tc := range []struct {
		key  string
		want any
		ok   bool
	}{
		{"server_name", "example.org", true},
		{"rc_login.address.burst_count", 3, true},
		{"caches.global_factor", 4.0, true},
		{"rc_login.account", nil, false},              // a sibling not written
		{"server_name.part", nil, false},              // through a string
		{"listeners.port", nil, false},                // through a list
		{"media_store_path", nil, false},              // null is not set
		{"rc_login.address.per_second.x", nil, false}, // past a leaf
	} {
		got, ok := tree.Get(tc.key)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Get(%q) = %#v, %v; want %#v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if got, _ := tree.Get("registrations_require_3pid"); !reflect.DeepEqual(got, []any{"email"}) {
		t.Errorf("Get(registrations_require_3pid) = %#v, want the list", got)
	}

	if got := tree.Text("rc_login.address.burst_count"); got != "3" {
		t.Errorf("Text(burst_count) = %q, want 3", got)
	}
	if got := tree.Text("macaroon_secret_key_path"); got != "" {
		t.Errorf("Text of a key not set = %q, want empty", got)
	}

	// A tree that failed to load reads as one with nothing set.
	var none *HomeserverTree
	if v, ok := none.Get("server_name"); ok {
		t.Errorf("nil tree: Get = %v, true", v)
	}
	if none.Path() != "" || none.Text("server_name") != "" || none.Keys("caches") != nil {
		t.Error("nil tree has settings")
	}
	if _, ok := none.Bool("enable_registration"); ok {
		t.Error("nil tree: Bool ok")
	}
}

func TestHomeserverTreeBool(t *testing.T) {
	tree := loadTree(t)
	for key, want := range map[string]bool{
		"enable_registration":         true,  // yes, a string to yaml v3
		"registration_requires_token": true,  // "On"
		"presence.enabled":            false, // no
		"caches.expire_caches":        false, // off
		"limit_usage_by_mau":          true,  // 1
	} {
		if got, ok := tree.Bool(key); !ok || got != want {
			t.Errorf("Bool(%s) = %v, %v; want %v, true", key, got, ok, want)
		}
	}
	for _, key := range []string{"hs_disabled", "server_name", "caches", "media_store_path"} {
		if got, ok := tree.Bool(key); ok || got {
			t.Errorf("Bool(%s) = %v, %v; want false, false", key, got, ok)
		}
	}

	for v, want := range map[any]bool{
		true: true, false: false, 1: true, 0: false, -1: true, int64(2): true, uint64(0): false,
		"y": true, "YES": true, "t": true, "True": true, " on ": true, "1": true,
		"n": false, "No": false, "f": false, "FALSE": false, "off": false, "0": false,
	} {
		if got, ok := BoolValue(v); !ok || got != want {
			t.Errorf("BoolValue(%#v) = %v, %v; want %v, true", v, got, ok, want)
		}
	}
	for _, v := range []any{"", "maybe", "2", 1.0, nil, []any{true}, map[string]any{}} {
		if got, ok := BoolValue(v); ok || got {
			t.Errorf("BoolValue(%#v) = %v, %v; want false, false", v, got, ok)
		}
	}
}

func TestHomeserverTreeNumber(t *testing.T) {
	tree := loadTree(t)
	for key, want := range map[string]float64{
		"caches.global_factor":                         4,
		"rc_login.address.per_second":                  0.17, // a string
		"rc_login.address.burst_count":                 3,
		"caches.per_cache_factors._get_joined_profile": 1,
	} {
		if got, ok := tree.Number(key); !ok || got != want {
			t.Errorf("Number(%s) = %v, %v; want %v, true", key, got, ok, want)
		}
	}
	for _, key := range []string{"rc_message.per_second", "server_name", "caches"} {
		if got, ok := tree.Number(key); ok {
			t.Errorf("Number(%s) = %v, true; want not a number", key, got)
		}
	}

	for v, want := range map[any]float64{
		7: 7, int64(-3): -3, uint64(1 << 40): 1 << 40, 0.5: 0.5, "10000": 10000, " 2.5 ": 2.5, "1e3": 1000,
	} {
		if got, ok := NumberValue(v); !ok || got != want {
			t.Errorf("NumberValue(%#v) = %v, %v; want %v, true", v, got, ok, want)
		}
	}
	for _, v := range []any{"", "fast", "10K", true, nil, []any{1}} {
		if got, ok := NumberValue(v); ok {
			t.Errorf("NumberValue(%#v) = %v, true; want not a number", v, got)
		}
	}
}

func TestSizeValue(t *testing.T) {
	for v, want := range map[any]int64{
		"10K": 10 << 10, "2M": 2 << 20, "1G": 1 << 30, "3T": 3 << 40, " 200K ": 200 << 10, "7": 7,
		500: 500, int64(1 << 33): 1 << 33, 2048.0: 2048,
	} {
		if got, ok := SizeValue(v); !ok || got != want {
			t.Errorf("SizeValue(%#v) = %d, %v; want %d, true", v, got, ok, want)
		}
	}
	for _, v := range []any{"lots", "", "K", "10k", "1.5M", "10KB", true, nil} {
		if got, ok := SizeValue(v); ok {
			t.Errorf("SizeValue(%#v) = %d, true; want not a size", v, got)
		}
	}

	tree := loadTree(t)
	v, _ := tree.Get("event_cache_size")
	if got, ok := SizeValue(v); !ok || got != 200<<10 {
		t.Errorf("event_cache_size from the file = %d, %v; want %d", got, ok, 200<<10)
	}
}

func TestHomeserverTreeKeys(t *testing.T) {
	tree := loadTree(t)
	if got, want := tree.Keys("caches.per_cache_factors"), []string{"_get_joined_profile", "get_users_who_share_room_with_user"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys(per_cache_factors) = %v, want %v", got, want)
	}
	// Enough keys that map order is never sorted by chance.
	want := []string{"appservice1", "background1", "event_persister1", "federation_sender1", "main", "media1", "pusher1", "synchrotron1"}
	if got := tree.Keys("instance_map"); !reflect.DeepEqual(got, want) {
		t.Errorf("Keys(instance_map) = %v, want %v", got, want)
	}
	for _, key := range []string{"redis", "server_name", "listeners", "media_store_path"} {
		if got := tree.Keys(key); got != nil {
			t.Errorf("Keys(%s) = %v, want nil", key, got)
		}
	}
}

// TestHomeserverTreePaths: Synapse resolves a relative path in
// homeserver.yaml against the file's directory, not its own working one.
func TestHomeserverTreePaths(t *testing.T) {
	tree := loadTree(t)
	dir := filepath.Dir(tree.Path())
	if tree.Dir() != dir {
		t.Errorf("Dir() = %s, want %s", tree.Dir(), dir)
	}
	for in, want := range map[string]string{
		tree.Text("signing_key_path"): filepath.Join(dir, "keys", "example.org.signing.key"),
		tree.Text("log_config"):       "/etc/synapse/log.yaml",
		"":                            "",
	} {
		if got := tree.Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}

	// The path is kept as given: callers show it in their evidence.
	given := dir + "/./homeserver.yaml"
	again, err := LoadHomeserverTree(given)
	if err != nil {
		t.Fatal(err)
	}
	if again.Path() != given || again.Dir() != dir {
		t.Errorf("Path(), Dir() = %s, %s; want %s as given, %s", again.Path(), again.Dir(), given, dir)
	}
}

func TestLoadHomeserverTreeErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := LoadHomeserverTree(missing)
	if err == nil || !strings.HasPrefix(err.Error(), "read homeserver.yaml: ") || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want read homeserver.yaml: ... %s: no such file", err, missing)
	}

	for name, content := range map[string]string{
		"broken":    "server_name: [unclosed\n",
		"not a map": "- a\n- b\n",
	} {
		path := writeTree(t, content)
		_, err := LoadHomeserverTree(path)
		if err == nil || !strings.HasPrefix(err.Error(), "parse homeserver.yaml "+path+": ") {
			t.Errorf("%s: got %v, want parse homeserver.yaml %s: ...", name, err, path)
		}
	}

	// An empty file is Synapse's defaults throughout, not an error.
	tree, err := LoadHomeserverTree(writeTree(t, "# nothing set\n"))
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if v, ok := tree.Get("server_name"); ok {
		t.Errorf("empty file: Get = %v, true", v)
	}
	if tree.Keys("caches") != nil {
		t.Error("empty file has caches")
	}
}
