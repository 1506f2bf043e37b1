package security

import (
	"context"
	"fmt"

	"synops/ops/config"
)

// hsConfig is homeserver.yaml as a tree, read once per audit, or why it
// could not be read (a nil tree then, which has no settings). Secrets in it
// are never shown: the checks read settings, and the registration secret
// only to look for it in logs.
type hsConfig struct {
	*config.HomeserverTree
	err error
}

func loadHS(path string) *hsConfig {
	if path == "" {
		return &hsConfig{err: fmt.Errorf("no homeserver.yaml configured (-c, or homeserver_yaml in the profile)")}
	}
	tree, err := config.LoadHomeserverTree(path)
	return &hsConfig{HomeserverTree: tree, err: err}
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
	v, ok := h.Get("listeners")
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
		if p, ok := config.NumberValue(m["port"]); ok {
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
