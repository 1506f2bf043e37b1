package security

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
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"synops/ops/testbed"
	"synops/synapse"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}

// run runs one check by ID with d, homeserver.yaml read as Run reads it.
func run(t *testing.T, id string, d Deps) Check {
	t.Helper()
	for _, cf := range checks {
		if cf.id != id {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := Check{ID: cf.id, Title: cf.title}
		cf.run(withHS(ctx, loadHS(d.HomeserverYAML)), d, &c)
		t.Logf("%s: %s\n  %s\n  hint: %s", c.ID, c.Status, strings.Join(c.Evidence, "\n  "), c.Hint)
		return c
	}
	t.Fatalf("no check %s", id)
	return Check{}
}

// bedDeps points the checks at the test bed.
func bedDeps() Deps {
	return Deps{
		Server: bed.Synapse.ServerName, HomeserverYAML: bed.Synapse.ConfigPath,
		Synapse: bed.Synapse.Client(synapse.WithRetries(0)), SynapseDB: synapse.NewSecret(bed.SynapseDB),
	}
}

func wantStatus(t *testing.T, c Check, want Status, evidence ...string) {
	t.Helper()
	if c.Status != want {
		t.Errorf("%s: status %s, want %s\n  %s", c.ID, c.Status, want, strings.Join(c.Evidence, "\n  "))
	}
	all := strings.Join(c.Evidence, "\n")
	for _, e := range evidence {
		if !strings.Contains(all, e) {
			t.Errorf("%s: the evidence does not say %q:\n  %s", c.ID, e, strings.Join(c.Evidence, "\n  "))
		}
	}
	if want != OK && want != Manual && c.Hint == "" {
		t.Errorf("%s: %s without a hint", c.ID, c.Status)
	}
}

// editHS rewrites a copy of the bed's homeserver.yaml (or the file itself
// when path is the bed's) with change applied to its top level.
func editHS(t *testing.T, src, dst string, change func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cert makes a certificate for 127.0.0.1 and localhost valid from
// notBefore to notAfter, signed by ca (self-signed when ca is nil), and
// returns it with its key.
func cert(t *testing.T, ca *tls.Certificate, isCA bool, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "synops test"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true, IsCA: isCA,
	}
	if isCA {
		tmpl.Subject.CommonName = "synops test CA"
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent = ca.Leaf
		signer = ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serveTLS serves c on a loopback port and returns its https URL.
func serveTLS(t *testing.T, c tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{c}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return "https://" + l.Addr().String()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newPool is a pool of these certificates only (not the system's).
func newPool(cs ...tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c.Leaf)
	}
	return p
}

func writePEM(t *testing.T, path string, c tls.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
}
