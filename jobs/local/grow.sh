#!/usr/bin/env bash
# grow.sh -- run `strata grow` on a workstation with mpirun.
#
# Usage: jobs/local/grow.sh CONFIG.ini [RANKS] [-- extra strata options]
#
# What a site may change: RANKS (default: the number of cores), the strata
# binary (STRATA=/path/to/strata, default build/strata or the one on PATH).
# One MPI rank per core, one BLAS thread per rank.  Exit code 75 means the
# run was stopped by a signal after a clean checkpoint: run the script again
# to resume.
set -euo pipefail
config=${1:?usage: jobs/local/grow.sh CONFIG.ini [RANKS] [-- strata options]}
ranks=${2:-$(nproc)}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift

here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${STRATA:-}" ]; then
  if [ -x "$here/build/strata" ]; then STRATA=$here/build/strata; else STRATA=strata; fi
fi

export OPENBLAS_NUM_THREADS=1
# OpenBLAS 0.3.21 misdetects some AVX-512 CPUs and uses slow generic kernels.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi

oversub=()
[ "$ranks" -gt "$(nproc)" ] && oversub=(--oversubscribe)
# mpirun forwards SIGUSR1/SIGTERM to the ranks, which checkpoint and exit 75.
exec mpirun "${oversub[@]}" -np "$ranks" "$STRATA" grow --config "$config" "$@"
