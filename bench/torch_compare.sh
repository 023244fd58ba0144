#!/bin/sh
# torch_compare.sh -- tokens/s of the C engine's stage step against PyTorch
# training the identical one-block model (bench/torch_bench.py), same
# thread count and OPENBLAS_CORETYPE, run one after the other.  Prints the
# ratio (target >= 1.5); skips with a message when PyTorch is absent.
set -eu
. "$(dirname "$0")/env.sh"
: "${PYTHON3:=/usr/bin/python3}"
if ! "$PYTHON3" -c 'import torch' 2>/dev/null; then
    echo "# SKIP: PyTorch not importable by $PYTHON3 (apt-get install python3-torch)"
    exit 0
fi
c_out=$("$top_builddir/bench/bench_stage" "${BENCH_STEPS:-5}" "$BENCH_REPS")
echo "$c_out"
t_out=$("$PYTHON3" "$top_srcdir/bench/torch_bench.py" "${BENCH_STEPS:-5}" "$BENCH_REPS")
echo "$t_out"
c_tps=$(echo "$c_out" | awk '/^RESULT tokens_per_s/ {print $3}')
t_tps=$(echo "$t_out" | awk '/^RESULT tokens_per_s/ {print $3}')
awk -v c="$c_tps" -v t="$t_tps" 'BEGIN {
    printf "C engine %.0f tokens/s, PyTorch %.0f tokens/s: ratio %.2fx (target >= 1.5x)\n", c, t, c / t }'
