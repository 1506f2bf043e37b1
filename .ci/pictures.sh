#!/usr/bin/env bash
# Pictures of the console for the README, made from the real console on the
# make demo sandbox: tmux capture with colours -> HTML (aha) -> PNG (headless
# Chromium). Run by `make pictures`, which starts the sandbox around it:
#   synops-sandbox run -- .ci/pictures.sh OUTDIR
# so SYNOPS_CONFIG points at the sandbox here.
set -euo pipefail
out=${1:?usage: pictures.sh OUTDIR}
bin=${SYNOPS_BIN:-bin/synops}
session=synops-pictures-$$
cols=120 rows=34
work=$(mktemp -d)
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

# The console keeps its state (audit log, journal) away from the operator's.
export XDG_STATE_HOME=$work/state
tmux new-session -d -s "$session" -x $cols -y $rows \
  "env SYNOPS_CONFIG=$SYNOPS_CONFIG XDG_STATE_HOME=$XDG_STATE_HOME TERM=xterm-256color COLORTERM=truecolor $bin; sleep 60"

# wait_for TEXT: poll the screen until TEXT shows (30 s at most).
wait_for() {
  for _ in $(seq 300); do
    if tmux capture-pane -p -t "$session" | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "pictures: waited 30s for '$1'; screen:" >&2
  tmux capture-pane -p -t "$session" >&2
  return 1
}

# shoot NAME: the screen as a PNG.
shoot() {
  tmux capture-pane -e -p -t "$session" > "$work/$1.ans"
  aha --black --title "synops" < "$work/$1.ans" |
    sed 's|<pre>|<pre style="font-family: DejaVu Sans Mono, monospace; font-size: 14px; line-height: 1.2; margin: 8px;">|' > "$work/$1.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars --window-size=1030,600 \
    --screenshot="$out/$1.png" "file://$work/$1.html" 2>/dev/null
  echo "pictures: $out/$1.png"
}

mkdir -p "$out"
wait_for "Synapse: /health"
wait_for "PostgreSQL: connections"
sleep 6 # a few refreshes, so the sparklines have something to draw
shoot health

tmux send-keys -t "$session" 2
wait_for "sorted by name"
tmux send-keys -t "$session" /
tmux send-keys -t "$session" -l "event"
tmux send-keys -t "$session" Enter
wait_for " of "
tmux send-keys -t "$session" D
wait_for "Type the target"
tmux send-keys -t "$session" -l '!'
sleep 0.5
shoot rooms-delete
tmux send-keys -t "$session" Escape
sleep 0.5 # Esc and a key read together are Alt+key

tmux send-keys -t "$session" 5
wait_for "Before the reset"
wait_for "Final check"
sleep 1
shoot reset
tmux send-keys -t "$session" q
