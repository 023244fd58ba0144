#!/usr/bin/env bash
# slurm-start.sh -- start a private single-node Slurm (munged, slurmctld,
# slurmd) for tests, without touching the system's Slurm or munge.
#
# Usage: tools/slurm-start.sh DIR [CPUS]
#
# Everything lives in DIR (which must exist and be empty or new): slurm.conf,
# a munge key, sockets, state, spool, logs, and one NAME.pid per daemon that
# tools/slurm-stop.sh DIR reads.  Clients use it with `export SLURM_CONF=DIR/slurm.conf`
# (DIR/env says so).  Needs root (SlurmUser=root) and the Debian packages
# slurm-wlm slurmctld slurmd munge.  The node is `hostname -s` with CPUS CPUs
# (default 2); ports are two free ones picked at random, so several private
# clusters may run side by side.  Exits 0 once `sinfo` shows the node idle,
# 1 (after stopping what it started) if that does not happen within 30 s.
set -euo pipefail
dir=${1:?usage: tools/slurm-start.sh DIR [CPUS]}
cpus=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
node=$(hostname -s)

for prog in munged slurmctld slurmd sinfo setpriv; do
  command -v "$prog" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$prog" >/dev/null 2>&1 || { echo "slurm-start: $prog not found" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm-start: needs root (SlurmUser=root)" >&2; exit 1; }

fail() {
  echo "slurm-start: $*" >&2
  for f in slurmctld slurmd munged; do
    [ -f "$dir/$f.log" ] && sed "s/^/slurm-start: $f: /" "$dir/$f.log" | tail -5 >&2
  done
  bash "$here/slurm-stop.sh" "$dir" >&2 || true
  exit 1
}

# Two free TCP ports in 20000..59999 (slurmctld, slurmd).
port_busy() { # port_busy PORT: listening on this machine?
  local hex
  hex=$(printf ':%04X ' "$1")
  grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
ctld_port=
for _ in $(seq 50); do
  p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  if ! port_busy "$p" && ! port_busy $((p + 1)); then ctld_port=$p; break; fi
done
[ -n "$ctld_port" ] || fail "no free port pair found"
slurmd_port=$((ctld_port + 1))

# munged runs as user munge: its directory must belong to munge and the path
# to it must be traversable.
chmod 755 "$dir"
mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
key=$dir/munge/munge.key
if [ -r /etc/munge/munge.key ]; then
  cp /etc/munge/munge.key "$key"
elif command -v mungekey >/dev/null 2>&1; then
  mungekey --create --keyfile="$key" --bits=1024 >/dev/null
else
  dd if=/dev/urandom of="$key" bs=128 count=1 status=none
fi
chown -R munge:munge "$dir/munge"
setpriv --reuid=munge --regid=munge --init-groups test -x "$dir/munge" ||
  fail "user munge cannot reach $dir (make its parent directories world-executable)"
chmod 700 "$dir/munge"
chmod 600 "$key"
mkdir -p /run/munge   # munged wants it even with its own socket path

start() { # start NAME CMD...: run CMD in the background, record its PID
  local name=$1
  shift
  "$@" </dev/null >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# --force: the temp dir's ancestors (/tmp is world-writable, sticky) would
# otherwise fail munged's path security check.
start munged setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --force --socket="$dir/munge/munge.socket" --key-file="$key" \
  --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
  --log-file="$dir/munge/munged.log"
for _ in $(seq 100); do
  [ -S "$dir/munge/munge.socket" ] && break
  kill -0 "$(cat "$dir/munged.pid")" 2>/dev/null || break
  sleep 0.1
done
[ -S "$dir/munge/munge.socket" ] || fail "munged did not create its socket"

cat >"$dir/slurm.conf" <<EOF
# Private single-node Slurm written by tools/slurm-start.sh for tests.
ClusterName=stratatest
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=10
JobRequeue=1
NodeName=$node CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
export SLURM_CONF=$dir/slurm.conf

# -D: stay in the foreground (the PID we record is the daemon's); -c: no old state.
start slurmctld slurmctld -D -c -f "$SLURM_CONF"
start slurmd slurmd -D -f "$SLURM_CONF"

for _ in $(seq 300); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  case $state in idle*) break ;; esac
  kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null || fail "slurmctld exited"
  kill -0 "$(cat "$dir/slurmd.pid")" 2>/dev/null || fail "slurmd exited"
  sleep 0.1
done
case ${state:-} in idle*) ;; *) fail "node $node not idle after 30 s (state '${state:-}')" ;; esac
echo "slurm-start: node $node idle, SLURM_CONF=$SLURM_CONF"
