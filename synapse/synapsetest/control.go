package synapsetest

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// controlScript drives a test Synapse the way a service manager drives the
// real one: start detaches it (its pid in homeserver.pid), stop signals it
// and waits until it is gone, status exits 0 while it runs and 3 when not.
const controlScript = `#!/bin/sh
# Drives the test Synapse in DIR as a service manager would (synapsetest).
DIR=%[1]s
PY=%[2]s
CFG=%[3]s
PID="$DIR/homeserver.pid"
alive() { [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
running() { [ -f "$PID" ] && alive "$(cat "$PID")"; }
case "$1" in
start)
  if running; then echo "synapse already runs (pid $(cat "$PID"))"; exit 0; fi
  cd "$DIR" || exit 1
  GIT_DIR=/nonexistent nohup "$PY" -m synapse.app.homeserver -c "$CFG" >>"$DIR/synapse.stderr" 2>&1 </dev/null &
  echo $! > "$PID"
  echo "synapse started (pid $!)"
  ;;
stop)
  if ! running; then echo "synapse is not running"; exit 0; fi
  p=$(cat "$PID")
  kill -TERM "$p"
  i=0
  while alive "$p"; do
    i=$((i+1))
    if [ "$i" -eq 200 ]; then kill -KILL "$p"; fi
    if [ "$i" -gt 400 ]; then echo "synapse (pid $p) does not stop" >&2; exit 1; fi
    sleep 0.1
  done
  echo "synapse stopped (pid $p)"
  ;;
status)
  if running; then echo "running (pid $(cat "$PID"))"; exit 0; fi
  echo "stopped"; exit 3
  ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2
  ;;
esac
`

// WriteControlScript writes a shell script at path that starts, stops and
// reports on this Synapse through its pid file, for code that drives
// Synapse with configured service commands (services.kind custom). A
// Synapse it starts is no longer this Server's child: Stop and Close do not
// reach it, so a test stops it with the script when done.
func (s *Server) WriteControlScript(path string) error {
	if s.python == "" {
		return errors.New("control script: this Synapse is run by something else (Prepare)")
	}
	for _, p := range []string{s.Dir, s.python, s.ConfigPath} {
		if strings.ContainsAny(p, "'\"$`\\ \n") {
			return fmt.Errorf("control script: path %q needs quoting", p)
		}
	}
	return os.WriteFile(path, []byte(fmt.Sprintf(controlScript, s.Dir, s.python, s.ConfigPath)), 0o755)
}
