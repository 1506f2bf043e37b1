package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// HomeserverTree is homeserver.yaml as a generic YAML tree, for the settings
// Homeserver does not carry: the security audit and diagnose each cite a
// handful of keys by their dotted names. Secrets in it are only looked up by
// key, never listed.
type HomeserverTree struct {
	path string
	root map[string]any
}

// LoadHomeserverTree reads homeserver.yaml at path. The read error carries
// the path from the file system; a parse error names the file itself.
func LoadHomeserverTree(path string) (*HomeserverTree, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read homeserver.yaml: %w", err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse homeserver.yaml %s: %w", path, err)
	}
	return &HomeserverTree{path: path, root: root}, nil
}

// Path is the file read, as it was given.
func (t *HomeserverTree) Path() string {
	if t == nil {
		return ""
	}
	return t.path
}

// Dir is homeserver.yaml's directory, which Synapse resolves relative paths
// in it against.
func (t *HomeserverTree) Dir() string { return filepath.Dir(t.Path()) }

// Resolve puts a relative path written in homeserver.yaml under Dir, as
// Synapse reads it; an absolute path and "" stay as they are.
func (t *HomeserverTree) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(t.Dir(), p)
}

// Get follows a dotted key ("rc_login.address") through nested maps. A key
// written as null (or with nothing after the colon) counts as not set. A nil
// tree has no keys, so a caller holding one that failed to load reads
// defaults.
func (t *HomeserverTree) Get(key string) (any, bool) {
	if t == nil {
		return nil, false
	}
	var cur any = t.root
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// Text is a setting as text ("" when not set).
func (t *HomeserverTree) Text(key string) string {
	v, ok := t.Get(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// Bool reads a boolean setting (see BoolValue); ok is false when it is not
// set or not a boolean.
func (t *HomeserverTree) Bool(key string) (value, ok bool) {
	v, _ := t.Get(key)
	return BoolValue(v)
}

// Number reads a numeric setting (see NumberValue); ok is false when it is
// not set or not a number.
func (t *HomeserverTree) Number(key string) (float64, bool) {
	v, _ := t.Get(key)
	return NumberValue(v)
}

// Keys lists a map setting's keys, sorted; nil when it is not set or not a
// map.
func (t *HomeserverTree) Keys(key string) []string {
	v, _ := t.Get(key)
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BoolValue reads a value the way Synapse's strtobool does: a boolean, an
// integer (non-zero is true), or y, yes, t, true, on, 1 and n, no, f, false,
// off, 0 in any case. The strings matter because PyYAML reads an unquoted yes
// or off as a boolean where go.yaml.in/yaml/v3 keeps it a string. ok is false
// for anything else.
func BoolValue(v any) (value, ok bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case int:
		return b != 0, true
	case int64:
		return b != 0, true
	case uint64:
		return b != 0, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "y", "yes", "t", "true", "on", "1":
			return true, true
		case "n", "no", "f", "false", "off", "0":
			return false, true
		}
	}
	return false, false
}

// NumberValue reads a value as a number: an integer, a float, or either
// written as a string.
func NumberValue(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// SizeValue reads one of Synapse's sizes: an integer, or a string of one with
// a K, M, G or T suffix (powers of 1024).
func SizeValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case string:
		n = strings.TrimSpace(n)
		if n == "" {
			return 0, false
		}
		mult := int64(1)
		switch n[len(n)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			n = n[:len(n)-1]
		}
		i, err := strconv.ParseInt(n, 10, 64)
		return i * mult, err == nil
	}
	return 0, false
}
