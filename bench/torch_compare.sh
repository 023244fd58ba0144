#!/bin/sh
# torch_compare.sh -- tokens/s of the C engine's stage step against PyTorch
# training the identical one-block model (bench/torch_bench.py), same
# thread count and OPENBLAS_CORETYPE.  The two programs alternate for
# $BENCH_ROUNDS rounds (default 2) and each side's best round counts, so a
# burst of load from other jobs does not favour one side.  Prints the ratio
# (target >= 1.5); skips with a message when PyTorch is absent.
set -eu
. "$(dirname "$0")/env.sh"
: "${PYTHON3:=/usr/bin/python3}"
: "${BENCH_ROUNDS:=2}"
if ! "$PYTHON3" -c 'import torch' 2>/dev/null; then
    echo "# SKIP: PyTorch not importable by $PYTHON3 (apt-get install python3-torch)"
    exit 0
fi
c_best=0 t_best=0 c_cpu=0 t_cpu=0
# best_of OUTPUT KEY PREVIOUS: the larger of PREVIOUS and OUTPUT's "RESULT KEY" value
best_of() {
    echo "$1" | awk -v k="$2" -v b="$3" '$1 == "RESULT" && $2 == k {if ($3 > b) b = $3} END {print b}'
}
round=1
while [ "$round" -le "$BENCH_ROUNDS" ]; do
    echo "# round $round of $BENCH_ROUNDS ($(uptime | sed 's/.*load/load/'))"
    c_out=$("$top_builddir/bench/bench_stage" "${BENCH_STEPS:-5}" "$BENCH_REPS")
    echo "$c_out"
    t_out=$("$PYTHON3" "$top_srcdir/bench/torch_bench.py" "${BENCH_STEPS:-5}" "$BENCH_REPS")
    echo "$t_out"
    c_best=$(best_of "$c_out" tokens_per_s "$c_best")
    t_best=$(best_of "$t_out" tokens_per_s "$t_best")
    c_cpu=$(best_of "$c_out" tokens_per_cpu_s "$c_cpu")
    t_cpu=$(best_of "$t_out" tokens_per_cpu_s "$t_cpu")
    round=$((round + 1))
done
awk -v c="$c_best" -v t="$t_best" -v cc="$c_cpu" -v tc="$t_cpu" -v n="$BENCH_ROUNDS" 'BEGIN {
    printf "C engine %.0f tokens/s, PyTorch %.0f tokens/s (best of %d rounds each): ratio %.2fx (target >= 1.5x)\n", c, t, n, c / t
    printf "per CPU second: C engine %.0f tokens/s, PyTorch %.0f tokens/s: ratio %.2fx\n", cc, tc, cc / tc }'
