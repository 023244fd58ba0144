#!/bin/sh
# substrate-bench.sh -- wall time of the full-BMP glyph substrate
# (65,536 ids, 32 px cells, D = 256) on NP ranks (default 2).
# Run from the build directory after 'make strata bench/substrate-bench'.
#   sh bench/substrate-bench.sh [NP] [OUTDIR]
set -eu
np=${1:-2}
out=${2:-${TMPDIR:-/tmp}}
: "${OPENBLAS_NUM_THREADS:=1}"   # one BLAS thread per rank: ranks = cores
export OPENBLAS_NUM_THREADS
mpirun=${MPIRUN:-mpirun}
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -n), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# end to end (the command a user runs):"
start=$(date +%s.%N)
"$mpirun" -np "$np" ./strata substrate --bmp --output "$out/bmp-substrate.h5" \
    --set substrate.cell=32 --set substrate.dim=256 --log-level info
end=$(date +%s.%N)
echo "strata substrate --bmp on $np ranks: $(echo "$end - $start" | bc) s wall"
echo "# phases, 3 repeats:"
"$mpirun" -np "$np" ./bench/substrate-bench 32 256 3 "$out/bmp-bench.h5"
rm -f "$out/bmp-substrate.h5" "$out/bmp-bench.h5"
