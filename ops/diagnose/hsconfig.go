package diagnose

import (
	"fmt"

	"synops/ops/config"
)

// hsSettings is homeserver.yaml as a tree, for reading the handful of tuning
// keys the checks cite with the defaults Synapse uses. Secrets in the file
// are never read out of it.
type hsSettings struct {
	*config.HomeserverTree
}

func readHomeserverYAML(path string) (*hsSettings, error) {
	tree, err := config.LoadHomeserverTree(path)
	if err != nil {
		return nil, err
	}
	return &hsSettings{tree}, nil
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
	if v, ok := h.Get(key); ok {
		return setting{key: key, value: v, written: true}
	}
	return setting{key: key, value: def}
}

// boolean is a setting read as a boolean, or def when it is not set or not
// one.
func (h *hsSettings) boolean(key string, def bool) (bool, setting) {
	s := h.setting(key, def)
	if v, ok := h.Bool(key); ok {
		return v, s
	}
	return def, s
}

func (h *hsSettings) number(key string, def float64) (float64, setting) {
	s := h.setting(key, def)
	if f, ok := h.Number(key); ok {
		return f, s
	}
	return def, s
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
	if f, ok := h.Number(key + ".per_second"); ok {
		r.perSecond, r.written = f, true
	}
	if f, ok := h.Number(key + ".burst_count"); ok {
		r.burst, r.written = f, true
	}
	return r
}
