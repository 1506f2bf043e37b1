package security

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// socket is a TCP socket listening on this host, as /proc/net/tcp{,6}
// shows it: a server in a container appears through the proxy that
// publishes its port.
type socket struct {
	addr net.IP
	port int
}

func (s socket) String() string { return net.JoinHostPort(s.addr.String(), strconv.Itoa(s.port)) }

// public is true for a wildcard or any address other than loopback.
func (s socket) public() bool { return !s.addr.IsLoopback() }

// listening reads the listening TCP sockets on port (procRoot is "/proc"
// outside tests).
func listening(procRoot string, port int) ([]socket, error) {
	var out []socket
	read := 0
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(procRoot + "/net/" + name)
		if err != nil {
			continue // no IPv6 on this host
		}
		read++
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			s, err := parseProcAddr(fields[1])
			if err != nil || s.port != port {
				continue
			}
			out = append(out, s)
		}
		f.Close()
	}
	if read == 0 {
		return nil, fmt.Errorf("cannot read %s/net/tcp: the sockets on this host are not visible", procRoot)
	}
	return out, nil
}

// parseProcAddr reads "0100007F:1538": the address as 32-bit words in the
// host's byte order (little-endian here), the port big-endian.
func parseProcAddr(s string) (socket, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return socket{}, fmt.Errorf("bad address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return socket{}, err
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return socket{}, fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	if v4 := ip.To4(); v4 != nil && len(raw) == 16 && !ip.IsUnspecified() {
		ip = v4 // ::ffff:127.0.0.1
	}
	return socket{addr: ip, port: int(port)}, nil
}

// localHost reports whether host (a name or an address) is this machine:
// loopback, or one of its interfaces' addresses.
func localHost(host string) bool {
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return true // no host, or a unix socket directory
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	addrs, _ := net.InterfaceAddrs()
	for _, ip := range ips {
		if ip.IsLoopback() {
			return true
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// wildcardOrPublic reports whether a configured bind address reaches
// beyond this machine.
func wildcardOrPublic(addr string) bool {
	a := strings.Trim(strings.TrimSpace(addr), "[]")
	switch a {
	case "*", "", "0.0.0.0", "::":
		return true
	case "localhost":
		return false
	}
	ip := net.ParseIP(a)
	if ip == nil {
		return true // a host name: assume it resolves to an interface others reach
	}
	return !ip.IsLoopback()
}
