package security

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"synops/ops"
	"synops/ops/audit"
	"time"
)

// ManualItem is a checklist item a machine cannot check.
type ManualItem struct {
	ID    string
	Title string
	Why   string // what to look at
}

// ManualItems are seed 004's items no check on the box can answer.
var ManualItems = []ManualItem{
	{"manual.active_status", "All endpoints require ACTIVE user status",
		"an application rule (OpenMeet's user status): try a suspended account against the API"},
	{"manual.firewall", "Firewall rules restrict direct database access",
		"postgres.listen sees this box's sockets; the firewall in front of it (cloud security group, nftables) needs a look"},
	{"manual.restore_test", "A restore of a backup was tried by hand recently",
		"backup.verified reads the restore test synops records; a full restore on a spare machine proves the rest"},
}

// Ack is an operator's acknowledgement that they checked a manual item.
type Ack struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Note     string    `json:"note,omitempty"`
}

// Acks keeps the acknowledgements in a JSON file (0600) in the state directory.
type Acks struct {
	mu   sync.Mutex
	path string
}

// StateAcks are the acknowledgements kept in synops' state directory.
func StateAcks(stateDir string) *Acks { return OpenAcks(filepath.Join(stateDir, "security-acks.json")) }

// OpenAcks uses the file at path (created on the first acknowledgement).
func OpenAcks(path string) *Acks { return &Acks{path: path} }

// Path is where the acknowledgements are kept.
func (a *Acks) Path() string { return a.path }

// All is the last acknowledgement of each item.
func (a *Acks) All() (map[string]Ack, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.load()
}

func (a *Acks) load() (map[string]Ack, error) {
	data, err := os.ReadFile(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Ack{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acknowledgements: %w", err)
	}
	var f struct {
		Acks map[string]Ack `json:"acks"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("acknowledgements %s: %w", a.path, err)
	}
	if f.Acks == nil {
		f.Acks = map[string]Ack{}
	}
	return f.Acks, nil
}

// FindManual is the manual item with this ID (or its last part: "firewall").
func FindManual(id string) (ManualItem, error) {
	for _, m := range ManualItems {
		if m.ID == id || m.ID == "manual."+id {
			return m, nil
		}
	}
	ids := make([]string, len(ManualItems))
	for i, m := range ManualItems {
		ids[i] = m.ID
	}
	sort.Strings(ids)
	return ManualItem{}, fmt.Errorf("%q is not a manual item: one of %s", id, strings.Join(ids, ", "))
}

// Record acknowledges item now, replacing its previous acknowledgement.
// The file is written to a temporary name, synced and renamed.
func (a *Acks) Record(item string, ack Ack) error {
	m, err := FindManual(item)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	all, err := a.load()
	if err != nil {
		return err
	}
	all[m.ID] = ack
	data, err := json.MarshalIndent(struct {
		Acks map[string]Ack `json:"acks"`
	}{all}, "", "  ")
	if err != nil {
		return err
	}
	if err := ops.WriteFileAtomic(a.path, append(data, '\n')); err != nil {
		return fmt.Errorf("acknowledgements: %w", err)
	}
	return nil
}

// Acknowledge records that the operator writing to log checked the manual
// item (with a note): in acks, where every later audit shows it, and as a
// line of the audit log labelled like label (profile, server, environment).
func Acknowledge(acks *Acks, log *audit.Log, item, note string, label audit.Entry) (ManualItem, Ack, error) {
	m, err := FindManual(item)
	if err != nil {
		return m, Ack{}, err
	}
	ack := Ack{At: time.Now().UTC(), Operator: log.Operator(), Note: note}
	if err := acks.Record(m.ID, ack); err != nil {
		return m, ack, err
	}
	e := label
	e.Phase, e.Action, e.Target, e.Outcome, e.Detail = "end", "security.ack", m.ID, "ok", map[string]string{"note": note}
	return m, ack, log.Write(e)
}

// ackDue is how old an acknowledgement may be before the item is due again.
const ackDue = 90 * 24 * time.Hour

func manualChecks(d Deps) []Check {
	var acks map[string]Ack
	var aerr error
	if d.Acks != nil {
		acks, aerr = d.Acks.All()
	}
	out := make([]Check, 0, len(ManualItems))
	for _, m := range ManualItems {
		c := Check{ID: m.ID, Title: m.Title, Status: Manual}
		c.see("%s", m.Why)
		switch ack, ok := acks[m.ID]; {
		case aerr != nil:
			c.see("%v", aerr)
		case !ok:
			c.see("never acknowledged")
			c.Hint = "check it, then: synops audit ack " + m.ID
		default:
			a := ack
			c.Ack = &a
			age := d.now().Sub(ack.At)
			line := sprintf("acknowledged %s by %s (%s ago)", ack.At.Format("2006-01-02"), ack.Operator, days(age))
			if ack.Note != "" {
				line += ": " + ack.Note
			}
			c.see("%s", line)
			if age > ackDue {
				c.Hint = "due again (acknowledged more than 90 days ago): synops audit ack " + m.ID
			}
		}
		out = append(out, c)
	}
	return out
}
