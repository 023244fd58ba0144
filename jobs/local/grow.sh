#!/usr/bin/env bash
# grow.sh -- run `strata grow` on a workstation with mpirun: the same job as
# jobs/slurm/grow.sbatch and jobs/pbs/grow.pbs, without a batch system.
#
# Usage: jobs/local/grow.sh CONFIG.ini [RANKS] [-- extra strata grow options]
#   e.g. jobs/local/grow.sh jobs/configs/demo.ini 2 -- --set run.name=try2
#
# WHAT A SITE MUST CHANGE: usually nothing.  RANKS defaults to the number of
# cores (one MPI rank per core, one BLAS thread per rank); STRATA=/path/to/strata
# picks the binary (default: build/strata of this tree, else the one on PATH);
# for NFS home directories see HDF5_USE_FILE_LOCKING below.
#
# Ctrl-C, or SIGUSR1/SIGTERM to this script (or SIGUSR1 to mpirun), asks the
# ranks to stop: they write a clean checkpoint and the script exits 75.  Run it again with the same arguments to resume from the
# newest checkpoint (the result is bitwise the same as an uninterrupted run
# on the same rank count).
set -euo pipefail
config=${1:?usage: jobs/local/grow.sh CONFIG.ini [RANKS] [-- strata grow options]}
shift
ranks=$(nproc)
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  ranks=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
case $ranks in '' | *[!0-9]* | 0) echo "grow.sh: RANKS must be a positive number, not '$ranks'" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${STRATA:-}" ]; then
  if [ -x "$here/build/strata" ]; then STRATA=$here/build/strata; else STRATA=strata; fi
fi

export OPENBLAS_NUM_THREADS=1
# OPENBLAS_CORETYPE: the fastest OpenBLAS core on this node, measured by
# strata-blas-core (installed beside strata; a few seconds).  CPU flags do not
# tell which core is fastest, and OpenBLAS 0.3.21 misdetects some CPUs.  A
# core the user set is kept; assumes the job's nodes are alike.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  blas_core=$(dirname "$(command -v "$STRATA" || echo strata)")/strata-blas-core
  [ -x "$blas_core" ] || blas_core=strata-blas-core
  if core=$("$blas_core" --pick 2>/dev/null) && [ -n "$core" ]; then
    export OPENBLAS_CORETYPE="$core"
  fi
fi
# HDF5 locks the files it opens; on NFS without lock support that fails
# ("unable to lock file"): then uncomment the next line.
# export HDF5_USE_FILE_LOCKING=FALSE
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root without these
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

say() { echo "grow.sh: $(date +%H:%M:%S): $*" >&2; }
# run_dir: <run.dir>/<run.name> as strata resolves them (config + --set).
run_dir() {
  "$STRATA" config --config "$config" "$@" 2>/dev/null | awk '
    /^\[/ { s = $0; next }
    s == "[run]" && ($1 == "dir" || $1 == "name") && $2 == "=" { v = $0; sub(/^[^=]*= */, "", v); r[$1] = v }
    END { if (r["dir"] != "" && r["name"] != "") print r["dir"] "/" r["name"] }'
}
# checkpointed_since TIME ARGS...: LATEST was written at or after TIME.
checkpointed_since() {
  local t=$1 dir
  shift
  dir=$(run_dir "$@")
  [ -n "$dir" ] && [ -f "$dir/LATEST" ] && [ "$(stat -c %Y "$dir/LATEST")" -ge "$t" ]
}

oversub=()
[ "$ranks" -gt "$(nproc)" ] && oversub=(--oversubscribe)

# mpirun runs in the background so that this shell can turn SIGINT/SIGTERM
# into the SIGUSR1 that mpirun forwards to the ranks (mpirun itself ends the
# job on SIGTERM); a trap interrupts `wait`, so wait again for the exit code.
set +e
stop_sent=0 stop_time=''
# shellcheck disable=SC2317  # called from the traps below
forward() {
  stop_sent=$((stop_sent + 1))
  stop_time=${stop_time:-$(date +%s)}
  say "got SIG$1, asking the ranks to checkpoint and stop"
  [ -n "${pid:-}" ] && kill -USR1 "$pid" 2>/dev/null
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT
mpirun "${oversub[@]}" -np "$ranks" "$STRATA" grow --config "$config" "$@" &
pid=$!
while :; do
  before=$stop_sent
  wait "$pid"
  rc=$?
  [ $rc -gt 128 ] && [ "$stop_sent" -ne "$before" ] && continue
  break
done
# A Ctrl-C reaches mpirun too, which then exits 1 although the ranks wrote
# their checkpoint: a LATEST written after the stop request says they did.
if [ "$stop_sent" -gt 0 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 75 ] && checkpointed_since "$stop_time" "$@"; then
  rc=75
fi
[ "$rc" -eq 75 ] && say "stopped after a clean checkpoint (exit 75): run the same command again to resume"
exit "$rc"
