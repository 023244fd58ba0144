#!/bin/sh
# bf16.sh -- the speed targets of train.precision and the engine against
# PyTorch, every ratio measured in this run (issue 14):
#  1. bf16 stage step / fp32 stage step at V = 65,536, d = 256 (target >= 1.8)
#  2. fp32 stage step (d = 256, V = 5000) as a share of the same-run sgemm
#     peak (target >= 85 %), with its ceiling: the step's own GEMM shapes
#     run alone (bench_sgemm), flop-weighted, as a share of the peak
#  3. C engine / PyTorch 1.13 on identical work, fp32 (target >= 1.5) and
#     bf16 against PyTorch's bf16 autocast on CPU (target >= 1.5)
#  4. growth step at depth 4 (activation cache: one block + head) / PyTorch
#     training the top block of a 4-block model (target >= 3), with its
#     ceiling: the same ratio if the C step ran at the sgemm peak
# Programs alternate for $BENCH_ROUNDS rounds (default 2) and each keeps its
# best round, so a burst of load from other jobs favours no side.  Ratios are
# printed per wall-clock second and per CPU second of the process (the
# steadier one on a shared machine).  The OpenBLAS core: bench/env.sh (the
# user's, or the fastest measured by strata-blas-core).
set -eu
. "$(dirname "$0")/env.sh"
: "${PYTHON3:=/usr/bin/python3}"
: "${BENCH_ROUNDS:=2}"
: "${BENCH_STEPS:=2}"
: "${BENCH_REPS:=2}"
BS=$top_builddir/bench/bench_stage
echo "# $(lscpu | grep 'Model name' | sed 's/  */ /g'); $(uptime | sed 's/.*load/load/')"
have_torch=1
"$PYTHON3" -c 'import torch' 2>/dev/null || { have_torch=0; echo "# PyTorch not importable by $PYTHON3: sections 3 and 4 skipped"; }

W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bf16.XXXXXX")
trap 'rm -rf "$W"' EXIT
# keep NAME COMMAND...: run, echo, append the output to $W/NAME
keep() {
    name=$1
    shift
    "$@" >"$W/cur" 2>&1 || { cat "$W/cur"; echo "# FAILED: $*"; exit 1; }
    grep -v '^RESULT' "$W/cur" | sed "s/^/[$name] /"
    cat "$W/cur" >>"$W/$name"
}
# best NAME KEY: the largest "RESULT KEY value" over the rounds of NAME
best() { awk -v k="$2" '$1 == "RESULT" && $2 == k { if ($3 > b) b = $3 } END { print b + 0 }' "$W/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
# rounds A B KEY: the ratio A / B of "RESULT KEY" round by round (the runs of
# one round follow each other within a minute), then their median: on a
# machine whose speed drifts between rounds, best-of-each can pair a fast
# round of one program with a slow round of the other
rounds() {
    awk -v k="$3" '$1 == "RESULT" && $2 == k { print $3 }' "$W/$1" >"$W/ra"
    awk -v k="$3" '$1 == "RESULT" && $2 == k { print $3 }' "$W/$2" >"$W/rb"
    paste "$W/ra" "$W/rb" | awk '$2 > 0 { r[++n] = $1 / $2; printf "%s%.2f", (n > 1 ? " " : ""), r[n] }
        END { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
              if (n) printf "; median %.2f", (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2 }'
}

bf16_ok=1
reason=$(BENCH_SKIP_PEAK=1 "$BS" 1 1 16 2 16 8 2 50 bfloat16 2>&1 >/dev/null) || { bf16_ok=0; echo "# bfloat16 unavailable: $reason"; }
V=${BENCH_BIG_V:-65536}
round=1
while [ "$round" -le "$BENCH_ROUNDS" ]; do
    echo "# round $round of $BENCH_ROUNDS ($(uptime | sed 's/.*load/load/'))"
    BENCH_SKIP_PEAK=1 keep big32 "$BS" "$BENCH_STEPS" "$BENCH_REPS" 256 4 1024 256 8 "$V" float32
    [ $bf16_ok = 1 ] && BENCH_SKIP_PEAK=1 keep big16 "$BS" "$BENCH_STEPS" "$BENCH_REPS" 256 4 1024 256 8 "$V" bfloat16
    keep c32 "$BS" 5 "$BENCH_REPS" 256 4 1024 256 8 5000 float32
    keep sg "$top_builddir/bench/bench_sgemm" "$BENCH_REPS"
    [ $bf16_ok = 1 ] && BENCH_SKIP_PEAK=1 keep c16 "$BS" 5 "$BENCH_REPS" 256 4 1024 256 8 5000 bfloat16
    if [ $have_torch = 1 ]; then
        keep t32 "$PYTHON3" "$top_srcdir/bench/torch_bench.py" 3 "$BENCH_REPS"
        TORCH_BENCH_BF16=1 keep t16 "$PYTHON3" "$top_srcdir/bench/torch_bench.py" 3 "$BENCH_REPS"
        TORCH_BENCH_DEPTH=4 keep t32d4 "$PYTHON3" "$top_srcdir/bench/torch_bench.py" 3 "$BENCH_REPS"
    fi
    round=$((round + 1))
done

echo "# summary (best round of each; wall clock, then per CPU second)"
echo "# $(lscpu | grep 'Model name' | sed 's/  */ /g'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}; at the end $(uptime | sed 's/.*load/load/') on $(getconf _NPROCESSORS_ONLN) CPUs"
if [ $bf16_ok = 1 ]; then
    echo "1. bf16 / fp32 stage step, V=$V d=256: $(ratio "$(best big16 tokens_per_s)" "$(best big32 tokens_per_s)")x wall, $(ratio "$(best big16 tokens_per_cpu_s)" "$(best big32 tokens_per_cpu_s)")x per CPU second (target >= 1.8x)"
fi
echo "2. fp32 stage step d=256 V=5000, share of the same-run sgemm peak: $(best c32 mfu_wall) % wall, $(best c32 mfu_cpu) % per CPU second (target >= 85 %)"
echo "   per round (CPU seconds, %): $(awk '$1 == "RESULT" && $2 == "mfu_cpu" { printf "%s%.1f", (n++ ? " " : ""), $3 }' "$W/c32")"
# The ceiling of 2: with every non-GEMM pass free the step would still run
# its GEMMs at their own rates, which OpenBLAS sets per shape.
shapes=$(best sg shapes_share)
echo "   ceiling of 2 (the step's GEMM shapes alone, flop-weighted, share of the peak): ${shapes} %$(awk -v c="$shapes" 'BEGIN { if (c < 85) print ": the 85 % target is out of reach with this BLAS here" }')"
if [ $have_torch = 1 ]; then
    echo "3. C / PyTorch fp32 (V=5000): $(ratio "$(best c32 tokens_per_s)" "$(best t32 tokens_per_s)")x wall, $(ratio "$(best c32 tokens_per_cpu_s)" "$(best t32 tokens_per_cpu_s)")x per CPU second (target >= 1.5x)"
    echo "   per round (CPU seconds): $(rounds c32 t32 tokens_per_cpu_s)"
    [ $bf16_ok = 1 ] && echo "   C bf16 / PyTorch bf16 autocast (V=5000): $(ratio "$(best c16 tokens_per_s)" "$(best t16 tokens_per_s)")x wall, $(ratio "$(best c16 tokens_per_cpu_s)" "$(best t16 tokens_per_cpu_s)")x per CPU second (target >= 1.5x)"
    echo "4. growth step at depth 4 (cache) / PyTorch top-block training of a 4-block model, fp32: $(ratio "$(best c32 tokens_per_s)" "$(best t32d4 tokens_per_s)")x wall, $(ratio "$(best c32 tokens_per_cpu_s)" "$(best t32d4 tokens_per_cpu_s)")x per CPU second (target >= 3x)"
    echo "   per round (CPU seconds): $(rounds c32 t32d4 tokens_per_cpu_s)"
    # The ceiling of 4: the C step with every counted FLOP at the same-run
    # sgemm peak (no norms, softmax, AdamW, ...).  Below 3x the target cannot
    # be met by the engine on this machine, only by a slower PyTorch.
    ceil_cpu=$(ratio "$(best c32 peak_tokens_per_cpu_s)" "$(best t32d4 tokens_per_cpu_s)")
    echo "   ceiling of 4 (C at 100 % of the sgemm peak / PyTorch): $(ratio "$(best c32 peak_tokens_per_s)" "$(best t32d4 tokens_per_s)")x wall, ${ceil_cpu}x per CPU second$(awk -v c="$ceil_cpu" 'BEGIN { if (c < 3) print ": the 3x target is out of reach here" }')"
fi
