#!/usr/bin/env bash
# Starts a dsgd cluster by hand on this machine: `dsgd coordinator` plus N `dsgd worker`
# processes, exactly as they would be started on separate hosts (only the endpoint changes).
# Usage: deploy/local.sh N [coordinator flags...]   e.g. deploy/local.sh 3 --mode async --epochs 10
# Builds first, every time (SwiftPM's incremental build is quick and never leaves a stale binary);
# DSGD_BUILD_CONFIG=debug uses a debug build instead of the release one.
# Stops every process it started on exit or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: deploy/local.sh N [coordinator flags...]}; shift
config=${DSGD_BUILD_CONFIG:-release}
scripts/install-deps
swift build -c "$config" --product dsgd 1>&2
dsgd="$(swift build -c "$config" --show-bin-path)/dsgd"
[ -x "$dsgd" ] || { echo "deploy/local.sh: no dsgd binary at $dsgd after the build" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

mkfifo "$tmp/out"
"$dsgd" coordinator --bind tcp://127.0.0.1:0 --workers "$n" "$@" > "$tmp/out" &
coordinator=$!
pids+=("$coordinator")
exec 3< "$tmp/out"
endpoint=""
while IFS= read -r line <&3; do
  echo "$line"
  case "$line" in *"listening on "*) endpoint=${line##*listening on }; break ;; esac
done
[ -n "$endpoint" ] || { echo "deploy/local.sh: the coordinator did not start" >&2; exit 1; }
for ((k = 0; k < n; k++)); do
  "$dsgd" worker --connect "$endpoint" --id "$k" &
  pids+=("$!")
done
cat <&3 &
status=0
wait "$coordinator" || status=$?
exit "$status"
