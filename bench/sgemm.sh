#!/bin/sh
# sgemm.sh -- sgemm peak (large squares) and the stage step's GEMM shapes,
# one thread, best of $BENCH_REPS repetitions.
set -eu
. "$(dirname "$0")/env.sh"
"$top_builddir/bench/bench_sgemm" "$BENCH_REPS"
