package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"synops/ops/backup"
	"synops/ops/backup/backuptest"
)

// auditBox is a box whose every machine check can pass: homeserver.yaml
// with Synapse's default rate limits and a public URL served with a
// certificate of a private CA, a fresh admin's token file, a verified
// backup and an alert rule file.
type auditBox struct {
	env     map[string]string
	tokFile string
	rules   string
	cfg     string
}

func newAuditBox(t *testing.T) *auditBox {
	t.Helper()
	dir := t.TempDir()
	reg, err := bed.Synapse.Register(context.Background(), "audit_admin", true)
	if err != nil {
		t.Fatal(err)
	}
	b := &auditBox{tokFile: filepath.Join(dir, "token"), rules: filepath.Join(dir, "synapse.rules.yml"), cfg: filepath.Join(dir, "config.yaml")}
	writeFile(t, b.tokFile, reg.AccessToken.Reveal()+"\n")
	writeFile(t, b.rules, "groups:\n- name: synapse\n  rules:\n  - alert: SynapseDown\n    expr: up{job=\"synapse\"} == 0\n")

	public, caFile := serveCert(t, dir)
	data, err := os.ReadFile(bed.Synapse.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var hs map[string]any
	if err := yaml.Unmarshal(data, &hs); err != nil {
		t.Fatal(err)
	}
	for k := range hs {
		if strings.HasPrefix(k, "rc_") {
			delete(hs, k)
		}
	}
	hs["public_baseurl"] = public
	out, _ := yaml.Marshal(hs)
	hsPath := filepath.Join(dir, "homeserver.yaml")
	writeFile(t, hsPath, string(out))

	backups := filepath.Join(dir, "backups")
	if err := os.MkdirAll(backups, 0o700); err != nil {
		t.Fatal(err)
	}
	backuptest.Take(t, backup.NewCatalog(backups, backupKeyFile(filepath.Join(dir, "state", "synops"))), bed.SynapseDB, bed.Synapse.ServerName)

	writeFile(t, b.cfg, fmt.Sprintf(`profiles:
  box:
    homeserver_yaml: %s
    token: {file: %s}
    backup: {dir: %s}
    security:
      tls_ca_file: %s
      alert_rules: [%s]
`, hsPath, b.tokFile, backups, caFile, b.rules))
	b.env = map[string]string{"SYNOPS_CONFIG": b.cfg, "HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state")}
	return b
}

// serveCert serves https on loopback with a certificate of a private CA,
// and returns the URL and the CA's PEM file.
func serveCert(t *testing.T, dir string) (string, string) {
	t.Helper()
	now := time.Now()
	mk := func(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "audit test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, BasicConstraintsValid: true, IsCA: isCA}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key, der
	}
	ca, caKey, caDER := mk(nil, nil, true)
	_, leafKey, leafDER := mk(ca, caKey, false)
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "https://" + l.Addr().String(), caFile
}

// TestAuditCLI: `synops audit` exits 0 on a box where every machine check
// passes, 1 when one warns (no alert rules), 2 when one fails (a
// world-readable token file); --json carries every check with evidence;
// an acknowledged manual item shows its date; the log lists the ack.
func TestAuditCLI(t *testing.T) {
	b := newAuditBox(t)
	out, errs, code := cli(t, b.env, "audit")
	if code != 0 {
		t.Fatalf("audit on a good box: exit %d, want 0\n%s%s", code, out, errs)
	}
	for _, want := range []string{"ok      Matrix admin token rotated within the last 90 days", "ok      Rate limiting enabled on all endpoints",
		"ok      TLS/SSL certificates valid", "the chain verifies for 127.0.0.1", "manual  All endpoints require ACTIVE user status",
		"never acknowledged", "status: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}

	// A warning: the alert rules are gone.
	if err := os.Remove(b.rules); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(b.cfg)
	writeFile(t, b.cfg, strings.Replace(string(data), "      alert_rules: ["+b.rules+"]\n", "", 1))
	out, _, code = cli(t, b.env, "audit")
	if code != 1 || !strings.Contains(out, "WARN    Monitoring alerts configured") || !strings.Contains(out, "→ set security.alert_rules") {
		t.Errorf("audit without alert rules: exit %d, want 1\n%s", code, out)
	}

	// A failure: the token file is readable by everyone. synops then refuses
	// to read it, and the audit says both.
	if err := os.Chmod(b.tokFile, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = cli(t, b.env, "audit", "--json")
	if code != 2 {
		t.Errorf("audit with a world-readable token file: exit %d, want 2", code)
	}
	var rep struct {
		Status string
		Checks []struct {
			ID, Status string
			Evidence   []string
			Ack        *struct{ Operator, Note string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, out)
	}
	byID := map[string]int{}
	for i, c := range rep.Checks {
		byID[c.ID] = i
	}
	perm := rep.Checks[byID["files.permissions"]]
	if rep.Status != "fail" || perm.Status != "fail" || !strings.Contains(strings.Join(perm.Evidence, "\n"), b.tokFile+": mode 0644") {
		t.Errorf("JSON status %s, files.permissions %s %v", rep.Status, perm.Status, perm.Evidence)
	}
	if age := rep.Checks[byID["token.age"]]; age.Status != "warn" || !strings.Contains(strings.Join(age.Evidence, "\n"), "chmod 600 "+b.tokFile) {
		t.Errorf("token.age without a readable token: %s %v", age.Status, age.Evidence)
	}
	if len(rep.Checks) != 14 {
		t.Errorf("%d checks in the JSON, want 11 machine checks and 3 manual items", len(rep.Checks))
	}

	// Acknowledge a manual item.
	out, errs, code = cli(t, b.env, "audit", "ack", "firewall", "--note", "only 443 open in the security group")
	if code != 0 || !strings.Contains(out, "acknowledged manual.firewall") {
		t.Fatalf("audit ack: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code = cli(t, b.env, "audit", "ack", "nonsense"); code != 2 || !strings.Contains(errs, "manual.active_status") {
		t.Errorf("ack of an unknown item: exit %d %s", code, errs)
	}
	out, _, _ = cli(t, b.env, "audit", "--json")
	_ = json.Unmarshal([]byte(out), &rep)
	fw := rep.Checks[byID["manual.firewall"]]
	if fw.Status != "manual" || fw.Ack == nil || fw.Ack.Note != "only 443 open in the security group" ||
		!strings.Contains(strings.Join(fw.Evidence, "\n"), "acknowledged "+time.Now().Format("2006-01-02")) {
		t.Errorf("acknowledged item: %+v", fw)
	}
	out, _, code = cli(t, b.env, "audit", "log", "--since", "1h", "--action", "security")
	if code != 0 || !strings.Contains(out, "security.ack") || !strings.Contains(out, "manual.firewall") || !strings.Contains(out, "1 changes") {
		t.Errorf("audit log: exit %d\n%s", code, out)
	}
	if _, errs, code := cli(t, b.env, "audit", "log", "--since", "last tuesday"); code != 2 || !strings.Contains(errs, "neither an age") {
		t.Errorf("bad --since: exit %d %s", code, errs)
	}
}
