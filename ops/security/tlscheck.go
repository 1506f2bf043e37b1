package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"synops/ops/config"
)

// roots are the CAs a check trusts: Deps.TLSRoots, or the system's, plus
// the PEM bundle in TLSCAFile.
func roots(d Deps) (*x509.CertPool, error) {
	pool := d.TLSRoots
	if pool == nil {
		var err error
		if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
	}
	if d.TLSCAFile != "" {
		pem, err := os.ReadFile(d.TLSCAFile)
		if err != nil {
			return pool, err
		}
		pool = pool.Clone()
		if !pool.AppendCertsFromPEM(pem) {
			return pool, errors.New(d.TLSCAFile + " holds no PEM certificate")
		}
	}
	return pool, nil
}

func tlsConfig(d Deps, serverName string) *tls.Config {
	pool, _ := roots(d)
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// checkTLS connects to the public base URL and judges the certificate it
// is served: dates first (an expired certificate says so, whoever signed
// it), then the chain and the name, then how soon it expires.
func checkTLS(ctx context.Context, d Deps, c *Check) {
	if d.PublicBaseURL == "" {
		c.worse(Warn)
		c.see("no public base URL: homeserver.yaml has no public_baseurl and the profile no security.public_baseurl")
		c.Hint = "set public_baseurl in homeserver.yaml or security.public_baseurl in the profile"
		return
	}
	u, err := url.Parse(d.PublicBaseURL)
	if err != nil || u.Host == "" {
		c.worse(Warn)
		c.see("public base URL %q is not a URL", d.PublicBaseURL)
		return
	}
	if u.Scheme != "https" {
		c.worse(Fail)
		c.see("the public base URL %s is not https: clients reach the server without TLS", u.Redacted())
		c.Hint = "serve the homeserver over https (a reverse proxy with a certificate) and set public_baseurl to it"
		return
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	addr := net.JoinHostPort(host, port)
	pool, rerr := roots(d)
	if rerr != nil {
		c.worse(Warn)
		c.see("extra CAs: %v", rerr)
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		// Verified below, by hand, so an expired certificate is reported as
		// expired rather than as whatever the handshake stumbles on first.
		Config: &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		c.worse(Fail)
		c.see("TLS connection to %s: %v", addr, err)
		c.Hint = "check that the reverse proxy serves TLS on " + addr
		return
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	if len(state.PeerCertificates) == 0 {
		c.worse(Fail)
		c.see("%s sent no certificate", addr)
		return
	}
	leaf := state.PeerCertificates[0]
	now := d.now()
	names := leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	c.see("%s serves a certificate for %s, issued by %s, valid %s to %s", addr, strings.Join(names, ", "),
		leaf.Issuer.CommonName, leaf.NotBefore.Format("2006-01-02"), leaf.NotAfter.Format("2006-01-02"))
	switch {
	case now.After(leaf.NotAfter):
		c.worse(Fail)
		c.see("it expired on %s, %s ago", leaf.NotAfter.Format("2006-01-02 15:04 MST"), days(now.Sub(leaf.NotAfter)))
		c.Hint = "renew the certificate (certbot renew, or the proxy's ACME) and reload the proxy"
		return
	case now.Before(leaf.NotBefore):
		c.worse(Fail)
		c.see("it is not valid before %s (is the clock right?)", leaf.NotBefore.Format("2006-01-02 15:04 MST"))
		return
	}
	inter := x509.NewCertPool()
	for _, ic := range state.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, Intermediates: inter, CurrentTime: now}); err != nil {
		c.worse(Fail)
		c.see("it does not verify for %s: %v", host, err)
		c.Hint = "serve a certificate for " + host + " from a CA clients trust (security.tls_ca_file adds a private CA)"
		return
	}
	c.see("the chain verifies for %s", host)
	warn := d.TLSWarnWithin
	if warn <= 0 {
		warn = config.DefaultTLSWarnWithin
	}
	left := leaf.NotAfter.Sub(now)
	if left < warn {
		c.worse(Warn)
		c.see("it expires in %s, within %s (security.tls_warn_within)", days(left), config.FormatDuration(warn))
		c.Hint = "renew the certificate now"
		return
	}
	c.see("it expires in %s", days(left))
}
