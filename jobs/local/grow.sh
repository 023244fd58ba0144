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
# Ctrl-C, `kill -USR1 <mpirun pid>` or `kill -TERM ...` reach mpirun, which
# forwards the signal to the ranks: they write a clean checkpoint and the
# script exits 75.  Run it again with the same arguments to resume from the
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
# OpenBLAS 0.3.21 misdetects some AVX-512 CPUs and uses slow generic kernels.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
# HDF5 locks the files it opens; on NFS without lock support that fails
# ("unable to lock file"): then uncomment the next line.
# export HDF5_USE_FILE_LOCKING=FALSE
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root without these
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

oversub=()
[ "$ranks" -gt "$(nproc)" ] && oversub=(--oversubscribe)
# mpirun forwards SIGUSR1/SIGTERM/SIGINT to the ranks, which checkpoint and exit 75.
exec mpirun "${oversub[@]}" -np "$ranks" "$STRATA" grow --config "$config" "$@"
