package diagnose

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// hsSettings is homeserver.yaml as a tree, for reading the handful of tuning
// keys the checks cite. Secrets in the file are never read out of it.
type hsSettings struct {
	path string
	root map[string]any
}

func readHomeserverYAML(path string) (*hsSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read homeserver.yaml: %w", err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse homeserver.yaml %s: %w", path, err)
	}
	if root == nil {
		root = map[string]any{}
	}
	return &hsSettings{path: path, root: root}, nil
}

// get follows a dotted key ("caches.global_factor").
func (h *hsSettings) get(key string) (any, bool) {
	var cur any = h.root
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

// setting is a value as written, or the default Synapse uses.
type setting struct {
	key     string
	value   any
	written bool
}

func (s setting) String() string {
	v := fmt.Sprint(s.value)
	if !s.written {
		v += " (default)"
	}
	return s.key + " " + v
}

func (h *hsSettings) setting(key string, def any) setting {
	if v, ok := h.get(key); ok {
		return setting{key: key, value: v, written: true}
	}
	return setting{key: key, value: def}
}

func (h *hsSettings) boolean(key string, def bool) (bool, setting) {
	s := h.setting(key, def)
	switch v := s.value.(type) {
	case bool:
		return v, s
	case string: // YAML 1.1 leftovers a Python loader still accepts
		switch strings.ToLower(v) {
		case "true", "yes", "on":
			return true, s
		case "false", "no", "off":
			return false, s
		}
	}
	return def, s
}

func (h *hsSettings) number(key string, def float64) (float64, setting) {
	s := h.setting(key, def)
	if f, ok := toFloat(s.value); ok {
		return f, s
	}
	return def, s
}

func toFloat(v any) (float64, bool) {
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

// parseSize reads Synapse's sizes: an integer, or a string with a K, M, G or
// T suffix (powers of 1024).
func parseSize(v any) (int64, bool) {
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

// mapKeys lists a map value's keys, sorted.
func (h *hsSettings) mapKeys(key string) []string {
	v, ok := h.get(key)
	if !ok {
		return nil
	}
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

// rateLimit is one rc_* setting: per_second and burst_count.
type rateLimit struct {
	key               string
	perSecond, burst  float64
	written           bool
	defPerSec, defBur float64
}

func (r rateLimit) String() string {
	s := fmt.Sprintf("%s %g/s burst %g", r.key, r.perSecond, r.burst)
	if !r.written {
		s += " (default)"
	}
	return s
}

func (h *hsSettings) rateLimit(key string, perSecond, burst float64) rateLimit {
	r := rateLimit{key: key, perSecond: perSecond, burst: burst, defPerSec: perSecond, defBur: burst}
	if v, ok := h.get(key + ".per_second"); ok {
		if f, ok := toFloat(v); ok {
			r.perSecond, r.written = f, true
		}
	}
	if v, ok := h.get(key + ".burst_count"); ok {
		if f, ok := toFloat(v); ok {
			r.burst, r.written = f, true
		}
	}
	return r
}
