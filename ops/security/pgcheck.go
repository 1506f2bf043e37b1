package security

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"synops/ops/pg"
)

// checkPostgresListen reads listen_addresses from the server and, when it
// runs on this host, the sockets bound to its port. A wildcard or a
// non-loopback address fails; so does a public socket, which is what a
// container's published port looks like.
func checkPostgresListen(ctx context.Context, d Deps, c *Check) {
	if d.SynapseDB.IsZero() {
		c.worse(Warn)
		c.see("no Synapse database is configured: PostgreSQL was not checked")
		c.Hint = "point -c at homeserver.yaml or set synapse_db_dsn"
		return
	}
	cfg, err := pgx.ParseConfig(d.SynapseDB.Reveal())
	if err != nil {
		c.worse(Warn)
		c.see("the Synapse database's connection string does not parse")
		return
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		c.worse(Warn)
		c.see("cannot connect to %s to read listen_addresses: %v", pg.Describe(d.SynapseDB), scrubPassword(err.Error(), cfg.Password))
		return
	}
	defer conn.Close(context.Background())
	var listen, port string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		c.worse(Warn)
		c.see("SHOW listen_addresses: %v", err)
		return
	}
	_ = conn.QueryRow(ctx, "SHOW port").Scan(&port)
	c.see("%s: listen_addresses = '%s', port %s", pg.Describe(d.SynapseDB), listen, port)
	var public []string
	for _, a := range strings.Split(listen, ",") {
		if a = strings.TrimSpace(a); a != "" && wildcardOrPublic(a) {
			public = append(public, a)
		}
	}
	if len(public) > 0 {
		c.see("it listens on %s: every host that can route to it may try to log in", strings.Join(public, ", "))
	}
	// The setting fails the check unless this host's sockets show that it
	// applies inside a container's network only (the official image sets
	// '*'; what matters then is where the port is published).
	verdict := OK
	if len(public) > 0 {
		verdict = Fail
	}

	host := cfg.Host
	p := int(cfg.Port)
	if strings.HasPrefix(host, "/") {
		p, _ = strconv.Atoi(port) // a unix socket: the server's own port
	}
	if !localHost(host) {
		c.see("the server is on %s, another host: its sockets cannot be seen from here", host)
	} else {
		socks, err := listening("/proc", p)
		var pub []socket
		for _, s := range socks {
			if s.public() {
				pub = append(pub, s)
			}
		}
		switch {
		case err != nil:
			c.see("%v", err)
		case len(socks) == 0:
			c.see("no socket listens on port %d on this host", p)
		case len(pub) > 0:
			verdict = Fail
			c.see("bound on this host: %s", joinSockets(socks))
		default:
			c.see("bound on this host to loopback only: %s", joinSockets(socks))
			if verdict == Fail {
				verdict = Warn
				c.see("so the wide setting reaches no further than this host (a container's network): keep it that way")
			}
		}
	}
	c.worse(verdict)
	if c.Status >= Warn {
		c.Hint = "set listen_addresses = 'localhost' (or publish the container's port on 127.0.0.1 only) and restart PostgreSQL; keep port 5432 closed in the firewall"
	}
}

func scrubPassword(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "[redacted]")
}
