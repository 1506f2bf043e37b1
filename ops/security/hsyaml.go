package security

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// hsConfig is homeserver.yaml as a tree, read once per audit. Secrets in
// it are never shown: the checks read settings, and the registration
// secret only to look for it in logs.
type hsConfig struct {
	path string
	root map[string]any
	err  error // why it could not be read; nil root then
}

func loadHS(path string) *hsConfig {
	h := &hsConfig{path: path}
	if path == "" {
		h.err = fmt.Errorf("no homeserver.yaml configured (-c, or homeserver_yaml in the profile)")
		return h
	}
	data, err := os.ReadFile(path)
	if err != nil {
		h.err = fmt.Errorf("read homeserver.yaml: %w", err)
		return h
	}
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		h.err = fmt.Errorf("parse homeserver.yaml %s: %w", path, err)
		return h
	}
	if root == nil {
		root = map[string]any{}
	}
	h.root = root
	return h
}

type hsKey struct{}

func withHS(ctx context.Context, h *hsConfig) context.Context {
	return context.WithValue(ctx, hsKey{}, h)
}

func hsFrom(ctx context.Context) *hsConfig {
	h, _ := ctx.Value(hsKey{}).(*hsConfig)
	if h == nil {
		h = &hsConfig{err: fmt.Errorf("homeserver.yaml not read")}
	}
	return h
}

// get follows a dotted key ("rc_login.address").
func (h *hsConfig) get(key string) (any, bool) {
	if h.root == nil {
		return nil, false
	}
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

// boolean reads a setting the way Synapse's strtobool does.
func (h *hsConfig) boolean(key string) (bool, bool) {
	v, ok := h.get(key)
	if !ok {
		return false, false
	}
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "y", "yes", "t", "true", "on", "1":
			return true, true
		}
		return false, true
	case int:
		return b != 0, true
	}
	return false, true
}

func (h *hsConfig) str(key string) string {
	v, ok := h.get(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

func number(v any) (float64, bool) {
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

// dir is homeserver.yaml's directory, for relative paths in it.
func (h *hsConfig) dir() string { return filepath.Dir(h.path) }

func (h *hsConfig) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(h.dir(), p)
}

// listener is one entry of listeners.
type listener struct {
	index     int
	port      int
	typ       string
	binds     []string // as configured, or Synapse's default ['::', '0.0.0.0']
	defaulted bool
	resources []string
	xff       bool
}

func (l listener) serves(name string) bool {
	for _, r := range l.resources {
		if r == name {
			return true
		}
	}
	return false
}

func (h *hsConfig) listeners() []listener {
	v, ok := h.get("listeners")
	if !ok {
		return nil
	}
	list, _ := v.([]any)
	var out []listener
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		l := listener{index: i + 1, typ: fmt.Sprint(m["type"])}
		if p, ok := number(m["port"]); ok {
			l.port = int(p)
		}
		if bs, ok := m["bind_addresses"].([]any); ok {
			for _, b := range bs {
				l.binds = append(l.binds, fmt.Sprint(b))
			}
		}
		if b, ok := m["bind_address"].(string); ok && b != "" {
			l.binds = append(l.binds, b)
		}
		if len(l.binds) == 0 && l.port > 0 {
			l.binds, l.defaulted = []string{"::", "0.0.0.0"}, true
		}
		if rs, ok := m["resources"].([]any); ok {
			for _, r := range rs {
				rm, _ := r.(map[string]any)
				names, _ := rm["names"].([]any)
				for _, n := range names {
					l.resources = append(l.resources, fmt.Sprint(n))
				}
			}
		}
		l.xff, _ = m["x_forwarded"].(bool)
		out = append(out, l)
	}
	return out
}
