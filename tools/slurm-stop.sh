#!/usr/bin/env bash
# slurm-stop.sh -- stop the private Slurm that tools/slurm-start.sh DIR started.
#
# Usage: tools/slurm-stop.sh DIR
#
# Ends only the daemons whose PIDs slurm-start.sh recorded in DIR/*.pid
# (slurmd first, so no job is left running, then slurmctld, then munged):
# SIGTERM, then SIGKILL after 10 s.  Does not remove DIR.
set -uo pipefail
dir=${1:?usage: tools/slurm-stop.sh DIR}

stop() { # stop NAME: end the daemon recorded in DIR/NAME.pid
  local f=$dir/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  case $pid in '' | *[!0-9]*) rm -f "$f"; return 0 ;; esac
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Job processes that slurmd started belong to slurmstepd, which outlives
# slurmd: cancel the jobs while the controller is still up.
if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && command -v scancel >/dev/null 2>&1; then
  SLURM_CONF=$dir/slurm.conf timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 50); do
    [ -z "$(SLURM_CONF=$dir/slurm.conf timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
    sleep 0.2
  done
fi
stop slurmd
stop slurmctld
stop munged
