package security

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// privateFile is a file holding a secret and how strict its mode must be.
type privateFile struct {
	label string
	path  string
	// groupOK: group may read it (homeserver.yaml and the signing key are
	// often root:synapse 0640); a token file must be its owner's alone.
	groupOK bool
}

func checkPermissions(ctx context.Context, d Deps, c *Check) {
	var files []privateFile
	for _, p := range d.TokenFiles {
		files = append(files, privateFile{label: "token file", path: p})
	}
	hs := hsFrom(ctx)
	if hs.err == nil {
		files = append(files, privateFile{label: "homeserver.yaml", path: hs.Path(), groupOK: true})
		key := hs.Resolve(hs.Text("signing_key_path"))
		if key == "" && hs.Text("server_name") != "" {
			key = filepath.Join(hs.Dir(), hs.Text("server_name")+".signing.key") // Synapse's default
		}
		if _, inline := hs.Get("signing_key"); !inline && key != "" {
			files = append(files, privateFile{label: "signing key", path: key, groupOK: true})
		}
		if p := hs.Resolve(hs.Text("registration_shared_secret_path")); p != "" {
			files = append(files, privateFile{label: "registration shared secret file", path: p, groupOK: true})
		}
		if p := hs.Resolve(hs.Text("macaroon_secret_key_path")); p != "" {
			files = append(files, privateFile{label: "macaroon secret key file", path: p, groupOK: true})
		}
	} else {
		c.worse(Warn)
		c.see("%v: homeserver.yaml and the signing key were not checked", hs.err)
	}
	if len(files) == 0 {
		c.worse(Warn)
		c.see("no token file or homeserver.yaml to check")
		return
	}
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			c.worse(Warn)
			c.see("%s %s: not found here (a path inside a container?)", f.label, f.path)
			continue
		}
		if err != nil {
			c.worse(Warn)
			c.see("%s %s: %v", f.label, f.path, err)
			continue
		}
		mode := fi.Mode().Perm()
		owner := ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = sprintf(", owner %d:%d", st.Uid, st.Gid)
		}
		bad := mode&0o007 != 0 || mode&0o020 != 0 // others at all, or group writing
		if !f.groupOK && mode&0o070 != 0 {
			bad = true
		}
		switch {
		case bad:
			c.worse(Fail)
			who := "others"
			if mode&0o007 == 0 {
				who = "its group"
			}
			c.see("%s %s: mode %04o%s: %s can read or change it", f.label, f.path, mode, owner, who)
		default:
			c.see("%s %s: mode %04o%s", f.label, f.path, mode, owner)
		}
	}
	if c.Status == Fail {
		c.Hint = "chmod 600 the token files; chmod 640 (owner root, group of the synapse user) or 600 homeserver.yaml and the signing key"
	}
}
