package services

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"synops/ops/config"
	"synops/ops/text"
)

// Stats is Synapse's resource use as the service manager reports it. The Has
// fields say which figures the source gave.
type Stats struct {
	Source string // "docker compose stats" or "systemctl show"

	MemoryBytes      uint64
	HasMemory        bool
	MemoryLimitBytes uint64  // the container's limit (or the host's memory); 0 when unknown
	MemoryPercent    float64 // of MemoryLimitBytes, as docker reports it
	HasMemoryPercent bool

	CPUPercent    float64 // of one core, averaged over docker's sample
	HasCPUPercent bool
	CPUSeconds    float64 // cumulative CPU time (systemd)
	HasCPUSeconds bool

	State      string // systemd ActiveState ("active", "failed", …); "" for compose
	PID        int    // systemd MainPID; 0 when not running or unknown
	Containers int    // compose: how many containers the figures add up
}

// ErrNoStats is returned for service kinds that have no stats command.
var ErrNoStats = errors.New("no service manager configured (services.kind compose or systemd) to ask for Synapse's memory and CPU")

// ReadStats runs StatsCommand through r and parses its output.
func ReadStats(ctx context.Context, r Runner, s config.Services) (Stats, error) {
	argv, ok := StatsCommand(s)
	if !ok {
		return Stats{}, ErrNoStats
	}
	out, err := r.Run(ctx, argv)
	if err != nil {
		return Stats{}, fmt.Errorf("read Synapse's resource use: %w", err)
	}
	st, err := ParseStats(s.Kind, out)
	if err != nil {
		return Stats{}, fmt.Errorf("read Synapse's resource use from %s: %w", strings.Join(argv[:min(len(argv), 2)], " "), err)
	}
	return st, nil
}

// ParseStats reads the output of StatsCommand for kind.
func ParseStats(kind config.ServiceKind, out []byte) (Stats, error) {
	switch kind {
	case config.ServicesCompose:
		return parseComposeStats(out)
	case config.ServicesSystemd:
		return parseSystemdShow(out)
	}
	return Stats{}, ErrNoStats
}

// dockerStats is one line of `docker compose stats --format json`.
type dockerStats struct {
	Name     string `json:"Name"`
	CPUPerc  string `json:"CPUPerc"`
	MemUsage string `json:"MemUsage"`
	MemPerc  string `json:"MemPerc"`
}

func parseComposeStats(out []byte) (Stats, error) {
	st := Stats{Source: "docker compose stats"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var d dockerStats
		if err := json.Unmarshal(line, &d); err != nil {
			return st, fmt.Errorf("a line is not the JSON docker stats writes: %q", text.Truncate(text.Clean(string(line)), 80))
		}
		st.Containers++
		if cpu, ok := parsePercent(d.CPUPerc); ok {
			st.CPUPercent += cpu
			st.HasCPUPercent = true
		}
		used, limit, _ := strings.Cut(d.MemUsage, "/")
		if b, ok := parseDockerSize(used); ok {
			st.MemoryBytes += b
			st.HasMemory = true
		}
		if b, ok := parseDockerSize(limit); ok && b > st.MemoryLimitBytes {
			st.MemoryLimitBytes = b
		}
		if p, ok := parsePercent(d.MemPerc); ok {
			st.MemoryPercent += p
			st.HasMemoryPercent = true
		}
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	if st.Containers == 0 {
		return st, errors.New("docker compose stats listed no container: is the Synapse service running?")
	}
	return st, nil
}

func parsePercent(s string) (float64, bool) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if s == "" || s == "--" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// parseDockerSize reads docker's sizes: "46.3MiB", "7.667GiB", "512B", and the
// decimal forms "1.2MB", "3kB" it uses elsewhere.
func parseDockerSize(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{
		"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	}[strings.TrimSpace(s[i:])]
	if mult == 0 {
		return 0, false
	}
	return uint64(f * mult), true
}

// parseSystemdShow reads `systemctl show -p …` output: KEY=value lines. A
// unit without memory or CPU accounting says "[not set]" (or the maximum
// uint64) for those.
func parseSystemdShow(out []byte) (Stats, error) {
	st := Stats{Source: "systemctl show"}
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		seen++
		switch k {
		case "MemoryCurrent":
			if n, ok := systemdUint(v); ok {
				st.MemoryBytes, st.HasMemory = n, true
			}
		case "CPUUsageNSec":
			if n, ok := systemdUint(v); ok {
				st.CPUSeconds, st.HasCPUSeconds = float64(n)/1e9, true
			}
		case "ActiveState":
			st.State = text.Clean(v)
		case "MainPID":
			st.PID, _ = strconv.Atoi(v)
		}
	}
	if seen == 0 {
		return st, errors.New("systemctl show printed no properties")
	}
	return st, nil
}

func systemdUint(v string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil || n == ^uint64(0) {
		return 0, false
	}
	return n, true
}
